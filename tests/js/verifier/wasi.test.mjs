// The WASI CLI (make wasi: target/wasm32-wasip1/release/soru-verify.wasm) under node:wasi:
// every real output proof, the corrupted one, exit codes 0 / 1 / 2.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WASI } from 'node:wasi';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exampleWitness, loadVectors, repoRoot } from './vectors.mjs';

const wasmPath = repoRoot + 'target/wasm32-wasip1/release/soru-verify.wasm';
const module = await WebAssembly.compile(readFileSync(wasmPath));
const vectors = loadVectors();
const work = mkdtempSync(join(tmpdir(), 'soru-wasi-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

async function run(...args) {
  const outPath = join(work, 'stdout');
  const errPath = join(work, 'stderr');
  const stdout = openSync(outPath, 'w');
  const stderr = openSync(errPath, 'w');
  const wasi = new WASI({
    version: 'preview1',
    args: ['soru-verify', ...args],
    env: {},
    preopens: { '/work': work },
    stdout,
    stderr,
    returnOnExit: true,
  });
  const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
  const code = wasi.start(instance);
  closeSync(stdout);
  closeSync(stderr);
  return { code, stdout: readFileSync(outPath, 'utf8'), stderr: readFileSync(errPath, 'utf8') };
}

test('outbox-proof: valid proofs exit 0 with the decoded message', async () => {
  for (const v of vectors) {
    writeFileSync(join(work, 'proof.hex'), v.proof + '\n');
    for (const proofArg of ['/work/proof.hex', v.proof]) {
      const r = await run('outbox-proof', '--proof', proofArg, '--state-hash', v.srs1);
      assert.equal(r.code, 0, `${v.name}: ${r.stderr}`);
      const j = JSON.parse(r.stdout);
      assert.equal(j.valid, true);
      assert.equal(j.outbox_level, v.outboxLevel);
      assert.equal(j.message_index, String(v.messageIndex));
      assert.equal(j.message_hex, v.message);
      assert.equal(j.message.kind, 'untyped');
    }
  }
});

test('outbox-proof: the corrupted proof exits 1, unreadable input exits 2', async () => {
  for (const v of vectors.filter((x) => x.corrupted)) {
    const r = await run('outbox-proof', '--proof', v.corrupted, '--state-hash', v.srs1);
    assert.equal(r.code, 1);
    const j = JSON.parse(r.stdout);
    assert.equal(j.valid, false);
    assert.match(j.error, /^root hash mismatch/);
  }
  let r = await run('outbox-proof', '--proof', '/work/missing.hex', '--state-hash', 'srs1x');
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--proof: "\/work\/missing.hex" is neither a readable file/);
  r = await run('outbox-proof', '--proof', '00', '--state-hash', 'abcd');
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--state-hash: a state hash is srs1... or 64 hex digits, got 2 bytes/);
  r = await run('outbox-proof', '--proof', '00');
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--state-hash is required/);
  r = await run('frobnicate');
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown subcommand "frobnicate"/);
});

test('replay --witness: exit 0 when it reproduces the hashes, 1 when not, 2 when unreadable', async () => {
  const { bytes, levels } = exampleWitness(work);
  writeFileSync(join(work, 'w.bin'), bytes);
  const last = levels.at(-1);
  const before = levels.at(-2);
  let r = await run('replay', '--witness', '/work/w.bin', '--pre-state-hash', before.state_hash,
    '--state-hash', last.state_hash);
  assert.equal(r.code, 0, r.stderr);
  let j = JSON.parse(r.stdout);
  assert.equal(j.valid, true);
  assert.equal(j.pre_state_hash, before.state_hash);
  assert.equal(j.state_hash, last.state_hash);
  assert.equal(j.ticks, String(last.ticks));
  r = await run('replay', '--witness', '/work/w.bin', '--state-hash', before.state_hash);
  assert.equal(r.code, 1);
  j = JSON.parse(r.stdout);
  assert.equal(j.valid, false);
  assert.match(j.error, /^the replay ends in state srs1\w+ but the expected state hash is srs1/);
  writeFileSync(join(work, 'short.bin'), bytes.slice(0, 30));
  r = await run('replay', '--witness', '/work/short.bin');
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--witness: malformed witness: at byte \d+/);
  // --l1-inboxes: each level's messages against the L1's inbox after it (first-cell answers
  // holding the witnesses the replay printed; node-shim/tests/node.rs uses real sandbox ones).
  const inbox = (level, hash) => ({
    level,
    old_levels_messages: { index: '0', content: { hash, level }, back_pointers: [] },
  });
  const run0 = JSON.parse((await run('replay', '--witness', '/work/w.bin')).stdout);
  const honest = run0.levels.map((l) => inbox(l.level, l.inbox_witness));
  writeFileSync(join(work, 'inboxes.json'), JSON.stringify(honest));
  r = await run('replay', '--witness', '/work/w.bin', '--l1-inboxes', '/work/inboxes.json');
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const lvl = run0.levels[0].level;
  writeFileSync(join(work, 'other.json'), JSON.stringify([inbox(lvl, 'srib2' + run0.levels[0].inbox_witness.slice(5).split('').reverse().join(''))]));
  r = await run('replay', '--witness', '/work/w.bin', '--l1-inboxes', '/work/other.json');
  assert.equal(r.code, 2, r.stdout);
  assert.match(r.stderr, /--l1-inboxes \/work\/other.json: item 0: inbox JSON, field old_levels_messages.content.hash/);
  writeFileSync(join(work, 'none.json'), '[]');
  r = await run('replay', '--witness', '/work/w.bin', '--l1-inboxes', '/work/none.json');
  assert.equal(r.code, 1);
  assert.match(JSON.parse(r.stdout).error, new RegExp(`^the witness's inbox is not the L1's: level ${lvl}: no L1 inbox after this level was given$`));
});
