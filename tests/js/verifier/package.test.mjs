// The built npm package (make pkg) in Node: every real output proof, the corrupted one,
// decoding, commitments, chains, the fetch helper, replay, and the README's Node example.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exampleWitness, loadVectors, readmeExample, repoRoot } from './vectors.mjs';

const soru = await import(repoRoot + 'pkg/node.js');
const vectors = loadVectors();

test('every vector verifies and decodes', () => {
  for (const v of vectors) {
    const r = soru.verifyOutboxProof(v.proof, v.srs1);
    assert.equal(r.outboxLevel, v.outboxLevel, v.name);
    assert.equal(r.messageIndex, v.messageIndex, v.name);
    assert.equal(Buffer.from(r.message).toString('hex'), v.message, v.name);
    assert.equal(r.decoded.kind, 'untyped', v.name);
    assert.equal(r.stateHash, v.srs1);
    assert.equal(r.layout, 'obj3');
    assert.ok(r.decoded.transactions[0].destination.startsWith('KT1'), v.name);
    // Bytes work as well as hex.
    const again = soru.verifyOutboxProof(soru.hexToBytes(v.proof), v.srs1);
    assert.deepEqual(again, r);
    if (v.name.includes('withdrawal')) {
      assert.equal(r.tickets.length, 1, v.name);
      assert.equal(typeof r.tickets[0].amount, 'bigint');
      assert.ok(r.tickets[0].ticketer.startsWith('KT1'));
      assert.equal(r.decoded.transactions[0].entrypoint, 'withdraw');
    }
    // The decoded message is the same as decodeOutboxMessage's.
    assert.deepEqual(soru.decodeOutboxMessage(r.message).decoded, r.decoded);
  }
});

test('the corrupted vector and damaged proofs throw a clear Error', () => {
  const withCorrupted = vectors.filter((v) => v.corrupted);
  if (vectors.length) assert.ok(withCorrupted.length > 0, 'a corrupted vector exists');
  for (const v of withCorrupted) {
    assert.throws(() => soru.verifyOutboxProof(v.corrupted, v.srs1), (e) => {
      assert.ok(e instanceof Error);
      assert.match(e.message, /^invalid output proof: root hash mismatch/);
      return true;
    });
  }
  for (const v of vectors) {
    const other = 'srs11iwwp7NxF7sgADntfpt4hPUoFYEMRJbDm7dpjUHnsEzRbXxg1X';
    if (v.srs1 !== other) {
      assert.throws(() => soru.verifyOutboxProof(v.proof, other), /is for state/);
    }
    assert.throws(() => soru.verifyOutboxProof(v.proof.slice(0, 200), v.srs1), /invalid output proof/);
  }
  assert.throws(() => soru.verifyOutboxProof('zz', 'srs1x'), /^Error: proof: invalid hex character 'z' at character 0$/);
  assert.throws(() => soru.verifyOutboxProof('00', 'srs1nope'), /state hash: "srs1nope" is not a valid srs1/);
  assert.throws(() => soru.verifyOutboxProof(42, 'srs1'), TypeError);
});

test('decodeOutboxMessage names the bad byte', () => {
  assert.throws(() => soru.decodeOutboxMessage('0000000009'), /invalid outbox message: at byte 1/);
  const signal = soru.decodeOutboxMessage('0200');
  assert.deepEqual(signal, { decoded: { kind: 'whitelist_update' }, tickets: [] });
});

test('commitments: hash, encoding and chains', () => {
  const genesis = {
    compressed_state: 'srs11iwwp7NxF7sgADntfpt4hPUoFYEMRJbDm7dpjUHnsEzRbXxg1X',
    inbox_level: 100,
    predecessor: 'src12UJzB8mg7yU6nWPzicH7ofJbFjyJEbHvwtZdfRXi8DQHNp1LY8',
    number_of_ticks: 0n,
  };
  const bytes = soru.encodeCommitment(genesis);
  assert.equal(bytes.length, 76);
  const h0 = soru.commitmentHash(genesis);
  assert.match(h0, /^src1/);
  assert.equal(soru.commitmentHash(bytes), h0);
  const c1 = { ...genesis, inbox_level: 120, predecessor: h0, number_of_ticks: '11000000000' };
  const c2 = { ...c1, inbox_level: 140, predecessor: soru.commitmentHash(c1), number_of_ticks: 5n };
  const ok = soru.checkCommitmentChain([genesis, c1, c2], 20);
  assert.deepEqual(ok, { valid: true, hashes: [h0, soru.commitmentHash(c1), soru.commitmentHash(c2)], ticks: 11000000005n });
  const broken = soru.checkCommitmentChain([genesis, c1, { ...c2, predecessor: h0 }], 20);
  assert.equal(broken.valid, false);
  assert.equal(broken.index, 2);
  assert.match(broken.error, /^commitment 2: predecessor is src1/);
  const late = soru.checkCommitmentChain([genesis, { ...c1, inbox_level: 121 }], 20);
  assert.match(late.error, /inbox level is 121, expected 120/);
  assert.throws(() => soru.commitmentHash({ ...genesis, number_of_ticks: -1n }), /number_of_ticks -1 is outside/);
  assert.throws(() => soru.commitmentHash({ ...genesis, predecessor: 'src1x' }), /commitment: commitment field predecessor/);
  assert.throws(() => soru.checkCommitmentChain([genesis, { ...c1, inbox_level: -5 }], 20), /commitment 1: commitment field inbox_level/);
});

test('fetchOutboxProof reads the rollup node route and reports HTTP errors', async () => {
  const v = vectors[0];
  if (!v) return;
  const server = createServer((req, res) => {
    if (req.url === `/global/block/head/helpers/proofs/outbox/${v.outboxLevel}/messages?index=0`) {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ commitment: v.commitment, proof: v.proof }));
    } else {
      res.statusCode = 404;
      res.end('no such outbox message');
    }
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${server.address().port}/`;
  try {
    const got = await soru.fetchOutboxProof(url, v.outboxLevel, 0);
    assert.equal(got.commitment, v.commitment);
    assert.equal(soru.verifyOutboxProof(got.proof, v.srs1).outboxLevel, v.outboxLevel);
    await assert.rejects(soru.fetchOutboxProof(url, 1, 0), /HTTP 404: no such outbox message/);
  } finally {
    server.close();
  }
});

test('replay runs a kernel from origination (lazily loaded entry)', async () => {
  // The Tezos kernel SDK's echo kernel (tests/kernels, built by `cargo build -p soru-tests`).
  const echo = readFileSync(repoRoot + 'target/sdk-kernels/kernels/echo.wasm');
  const inputs = readFileSync(repoRoot + 'node-shim/examples/inputs.json', 'utf8');
  const r = await soru.replay(new Uint8Array(echo), inputs);
  assert.ok(r.levels.length > 0);
  assert.match(r.stateHash, /^srs1/);
  assert.equal(typeof r.ticks, 'bigint');
  assert.equal(r.stateHash, r.levels.at(-1).stateHash);
  const direct = await import(repoRoot + 'pkg/replay-node.js');
  const again = direct.replay(new Uint8Array(echo), inputs, { expectedStateHash: r.stateHash });
  assert.equal(again.matches, true);
  assert.throws(() => direct.replay(new Uint8Array([0, 1, 2]), []), /kernel: invalid kernel/);
});

test('replayWitness re-runs levels from a witness and rejects damaged ones', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'soru-witness-'));
  try {
    const { bytes, levels } = exampleWitness(dir, 1);
    const r = await soru.replayWitness(bytes);
    assert.deepEqual(
      r.levels.map((l) => [l.level, l.stateHash, l.ticks]),
      levels.slice(1).map((l) => [l.level, l.state_hash, BigInt(l.ticks)]),
    );
    assert.equal(r.preStateHash, levels[0].state_hash);
    assert.equal(r.preTicks, BigInt(levels[0].ticks));
    assert.equal(r.stateHash, levels.at(-1).state_hash);
    const checked = await soru.replayWitness(bytes, {
      expectedPreStateHash: levels[0].state_hash,
      expectedStateHash: r.stateHash,
    });
    assert.equal(checked.matches, true);
    const wrong = await soru.replayWitness(bytes, { expectedStateHash: levels[0].state_hash });
    assert.equal(wrong.matches, false);
    await assert.rejects(soru.replayWitness(bytes.slice(0, 40)), /malformed witness/);
    await assert.rejects(soru.replayWitness(new Uint8Array([1, 2, 3])), /soruwit/);
    await assert.rejects(soru.replayWitness('nope'), /witness: expected the witness bytes/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('checkWitnessInbox ties a witness to the L1 inbox, from answers or an L1 URL', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'soru-witness-inbox-'));
  const { bytes } = exampleWitness(dir, 1);
  rmSync(dir, { recursive: true, force: true });
  const run = await soru.replayWitness(bytes);
  // The L1's all/inbox after each level holds the level's witness (a first-cell history here;
  // the sandbox's real answers are checked against node witnesses in node-shim/tests/node.rs).
  const inbox = (level, hash) => ({
    level,
    old_levels_messages: { index: '0', content: { hash, level }, back_pointers: [] },
  });
  const honest = run.levels.map((l) => inbox(l.level, l.inboxWitness));
  assert.match(run.levels[0].inboxWitness, /^srib2/);
  const checked = await soru.checkWitnessInbox(bytes, honest);
  assert.deepEqual(checked, run.levels.map((l) => ({ level: l.level, inboxWitness: l.inboxWitness })));
  // Another level's witness in one answer: that level is named.
  const forged = honest.map((x, i) => (i === 1 ? inbox(x.level, run.levels[0].inboxWitness) : x));
  await assert.rejects(
    soru.checkWitnessInbox(bytes, forged),
    new RegExp(`^Error: level ${run.levels[1].level}: the witness's messages hash to ${run.levels[1].inboxWitness}, the L1's inbox after level ${run.levels[1].level} holds ${run.levels[0].inboxWitness}$`),
  );
  await assert.rejects(soru.checkWitnessInbox(bytes, honest.slice(1)), /level \d+: no L1 inbox after this level was given/);
  await assert.rejects(soru.checkWitnessInbox(bytes, [{ level: 1 }]), /L1 inbox 0: inbox JSON, field old_levels_messages/);
  // From an L1 node URL: one GET per level, HTTP errors name the URL.
  const seen = [];
  const server = createServer((req, res) => {
    seen.push(req.url);
    const m = req.url.match(/^\/chains\/main\/blocks\/(\d+)\/context\/smart_rollups\/all\/inbox$/);
    const found = m && honest.find((x) => x.level === Number(m[1]));
    if (!found || (req.headers['x-fail'] ?? '') !== '') {
      res.writeHead(404).end('{}');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(found));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${server.address().port}`;
  try {
    assert.deepEqual(await soru.checkWitnessInbox(bytes, url + '/'), checked);
    assert.deepEqual(seen, run.levels.map((l) => `/chains/main/blocks/${l.level}/context/smart_rollups/all/inbox`));
    const failing = (u) => fetch(u, { headers: { 'x-fail': '1' } });
    await assert.rejects(
      soru.checkWitnessInbox(bytes, url, { fetch: failing }),
      new RegExp(`^Error: GET ${url}/chains/main/blocks/${run.levels[0].level}/context/smart_rollups/all/inbox: HTTP 404$`),
    );
  } finally {
    server.close();
  }
});

test('the package packs, installs and runs the README Node example', () => {
  const v = vectors.find((x) => x.srs1 === 'srs11iwwp7NxF7sgADntfpt4hPUoFYEMRJbDm7dpjUHnsEzRbXxg1X');
  if (!v) return;
  const dir = mkdtempSync(join(tmpdir(), 'soru-pkg-'));
  try {
    const npm = (...args) => execFileSync('npm', args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    npm('pack', '--silent', '--pack-destination', dir, repoRoot + 'pkg');
    const tgz = readdirSync(dir).find((f) => f.endsWith('.tgz'));
    writeFileSync(join(dir, 'package.json'), '{"type":"module","private":true}');
    npm('install', '--offline', '--no-audit', '--no-fund', '--silent', './' + tgz);
    writeFileSync(join(dir, 'proof.hex'), v.proof);
    writeFileSync(join(dir, 'example.mjs'), readmeExample('node'));
    const out = execFileSync(process.execPath, ['example.mjs'], { cwd: dir, encoding: 'utf8' });
    assert.match(out, /^2138 0 \{"kind":"untyped","transactions":\[\{"destination":"KT1RstTQHYxjwHpN8jHaqBPgtxJdMSC4cc3w","parameters":\{"string":"Hello world"\}\}\]\} 0\n$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
