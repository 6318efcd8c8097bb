// The replay API over the second wasm-bindgen module (with the PVM on wasmi), shared by
// replay-web.js and replay-node.js. Types: replay.d.ts.
import * as w from './dist/soru_replay.js';

function encodeLevels(levels) {
  if (!Array.isArray(levels)) {
    throw new TypeError('inputs: expected the inputs JSON text or an array of levels');
  }
  let size = 0;
  levels.forEach((level, i) => {
    if (!Array.isArray(level)) throw new TypeError(`inputs: level ${i} is not an array`);
    level.forEach((m, j) => {
      if (!(m instanceof Uint8Array)) {
        throw new TypeError(`inputs: level ${i} message ${j} is not a Uint8Array`);
      }
      size += 4 + m.length;
    });
    size += 4;
  });
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let at = 0;
  for (const level of levels) {
    view.setUint32(at, level.length);
    at += 4;
    for (const m of level) {
      view.setUint32(at, m.length);
      out.set(m, at + 4);
      at += 4 + m.length;
    }
  }
  return out;
}

function hexBytes(hex) {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(2 * i, 2), 16);
  return out;
}

/** Replays a kernel from origination on an inbox; see replay.d.ts. */
export function replay(kernel, inputs, options = {}) {
  if (!(kernel instanceof Uint8Array)) throw new TypeError('kernel: expected the .wasm bytes');
  const levels = typeof inputs === 'string' ? w.encode_inputs_json(inputs) : encodeLevels(inputs);
  const j = JSON.parse(
    w.replay(kernel, levels, options.firstLevel ?? 0, options.rollupAddress ?? ''),
  );
  const result = runResult(j);
  if (options.expectedStateHash !== undefined) {
    result.matches = result.stateHash === options.expectedStateHash;
  }
  return result;
}

function runResult(j) {
  return {
    stateHash: j.state_hash,
    ticks: BigInt(j.ticks),
    levels: j.levels.map((l) => ({
      level: l.level,
      stateHash: l.state_hash,
      ticks: BigInt(l.ticks),
      outbox: l.outbox.map(hexBytes),
      status: l.status,
    })),
  };
}

/** Replays a replay witness on the part of the state it carries; see replay.d.ts. */
export function replayWitness(witness, options = {}) {
  if (!(witness instanceof Uint8Array)) throw new TypeError('witness: expected the witness bytes');
  const j = JSON.parse(w.replay_witness(witness));
  const result = { preStateHash: j.pre_state_hash, preTicks: BigInt(j.pre_ticks), ...runResult(j) };
  result.levels.forEach((l, i) => {
    l.inboxWitness = j.levels[i].inbox_witness;
  });
  if (options.expectedPreStateHash !== undefined || options.expectedStateHash !== undefined) {
    result.matches =
      (options.expectedPreStateHash ?? result.preStateHash) === result.preStateHash &&
      (options.expectedStateHash ?? result.stateHash) === result.stateHash;
  }
  return result;
}

/**
 * Checks a replay witness's inbox against the L1's shared inbox after each witnessed level;
 * see replay.d.ts. `l1` is an L1 node URL (its inboxes are fetched) or the `all/inbox` answers.
 */
export async function checkWitnessInbox(witness, l1, options = {}) {
  if (!(witness instanceof Uint8Array)) throw new TypeError('witness: expected the witness bytes');
  let inboxes = l1;
  if (typeof l1 === 'string') {
    const get = options.fetch ?? globalThis.fetch;
    const base = l1.replace(/\/+$/, '');
    inboxes = [];
    for (const level of w.witness_levels(witness)) {
      const url = `${base}/chains/main/blocks/${level}/context/smart_rollups/all/inbox`;
      let response;
      try {
        response = await get(url);
      } catch (e) {
        throw new Error(`GET ${url}: ${e.message}`);
      }
      if (!response.ok) throw new Error(`GET ${url}: HTTP ${response.status}`);
      inboxes.push(await response.json());
    }
  } else if (!Array.isArray(l1)) {
    throw new TypeError('l1: expected an L1 node URL or an array of all/inbox answers');
  }
  return JSON.parse(w.check_witness_inbox(witness, JSON.stringify(inboxes))).map((l) => ({
    level: l.level,
    inboxWitness: l.inbox_witness,
  }));
}
