// The proof/commitment API over the wasm-bindgen module (shared by web.js and node.js, which
// load the WebAssembly first). Types: index.d.ts.
import * as w from './dist/soru_verifier.js';

function rethrow(what, f) {
  try {
    return f();
  } catch (e) {
    throw new Error(`${what}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function bytesOf(value, what) {
  if (value instanceof Uint8Array) return value;
  if (typeof value === 'string') return rethrow(what, () => w.decode_hex(value));
  throw new TypeError(`${what}: expected a Uint8Array or a hex string, got ${typeof value}`);
}

/** Hex text (whitespace anywhere, optional 0x) to bytes. */
export function hexToBytes(hex) {
  return bytesOf(hex, 'hex');
}

function tickets(list) {
  return list.map((t) => ({
    transaction: t.transaction,
    ticketer: t.ticketer,
    contents: t.contents,
    amount: BigInt(t.amount),
    typed: t.typed,
  }));
}

/** Verifies an octez output proof against a state hash (srs1... or 64 hex digits). */
export function verifyOutboxProof(proof, stateHash) {
  if (typeof stateHash !== 'string') {
    throw new TypeError(`stateHash: expected a string (srs1... or hex), got ${typeof stateHash}`);
  }
  const bytes = bytesOf(proof, 'proof');
  const j = JSON.parse(w.verify_outbox_proof(bytes, stateHash));
  const result = {
    outboxLevel: j.outbox_level,
    messageIndex: Number(j.message_index),
    message: w.decode_hex(j.message_hex),
    decoded: j.message,
    tickets: tickets(j.tickets),
    stateHash: j.state_hash,
    layout: j.layout,
  };
  if (j.decode_error !== undefined) result.decodeError = j.decode_error;
  return result;
}

/** Decodes outbox message bytes into octez's JSON form, with the tickets it carries. */
export function decodeOutboxMessage(message) {
  const j = JSON.parse(w.decode_outbox_message(bytesOf(message, 'message')));
  return { decoded: j.message, tickets: tickets(j.tickets) };
}

const I64_MAX = (1n << 63n) - 1n;

function commitmentBytes(c, what) {
  if (c instanceof Uint8Array) return c;
  if (c === null || typeof c !== 'object') {
    throw new TypeError(`${what}: expected a commitment object or its 76 bytes`);
  }
  let ticks;
  try {
    ticks = BigInt(c.number_of_ticks);
  } catch {
    throw new Error(`${what}: number_of_ticks must be a bigint or a decimal string`);
  }
  if (ticks < 0n || ticks > I64_MAX) {
    throw new Error(`${what}: number_of_ticks ${ticks} is outside 0..2^63-1`);
  }
  if (typeof c.inbox_level !== 'number') {
    throw new TypeError(`${what}: inbox_level must be a number`);
  }
  return rethrow(what, () =>
    w.commitment_bytes(String(c.compressed_state), c.inbox_level, String(c.predecessor), ticks),
  );
}

/** The src1... hash of a commitment (object in octez's JSON form, or its 76-byte encoding). */
export function commitmentHash(commitment) {
  const bytes = commitmentBytes(commitment, 'commitment');
  return rethrow('commitment', () => w.commitment_hash(bytes));
}

/** The 76-byte binary encoding of a commitment. */
export function encodeCommitment(commitment) {
  const bytes = commitmentBytes(commitment, 'commitment');
  rethrow('commitment', () => w.commitment_hash(bytes));
  return bytes;
}

/** Checks that commitments chain (predecessor hashes, levels commitmentPeriod apart). */
export function checkCommitmentChain(commitments, commitmentPeriod) {
  if (!Array.isArray(commitments)) throw new TypeError('commitments: expected an array');
  const all = commitments.map((c, i) => commitmentBytes(c, `commitment ${i}`));
  const joined = new Uint8Array(all.reduce((n, b) => n + b.length, 0));
  let at = 0;
  for (const b of all) {
    joined.set(b, at);
    at += b.length;
  }
  const j = JSON.parse(w.check_commitment_chain(joined, commitmentPeriod | 0));
  return j.valid
    ? { valid: true, hashes: j.hashes, ticks: BigInt(j.ticks) }
    : { valid: false, index: j.index, error: j.error };
}

/**
 * Fetches an outbox proof from an octez (or Soru) rollup node:
 * GET <nodeUrl>/global/block/<block>/helpers/proofs/outbox/<level>/messages?index=<i>.
 */
export async function fetchOutboxProof(nodeUrl, outboxLevel, messageIndex, options = {}) {
  const block = options.block ?? 'head';
  const doFetch = options.fetch ?? ((u, init) => globalThis.fetch(u, init));
  const base = String(nodeUrl).replace(/\/+$/, '');
  const url = `${base}/global/block/${block}/helpers/proofs/outbox/${outboxLevel}/messages?index=${messageIndex}`;
  const response = await doFetch(url, { signal: options.signal });
  const text = await response.text();
  if (!response.ok) {
    throw new Error(`GET ${url}: HTTP ${response.status}: ${text.slice(0, 200)}`);
  }
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`GET ${url}: the response is not JSON: ${text.slice(0, 200)}`);
  }
  if (body === null || typeof body !== 'object' || typeof body.commitment !== 'string') {
    throw new Error(`GET ${url}: the response has no "commitment" string`);
  }
  if (typeof body.proof !== 'string') {
    throw new Error(`GET ${url}: the response has no "proof" hex string`);
  }
  return { commitment: body.commitment, proof: bytesOf(body.proof, `GET ${url}: proof`) };
}
