// `make bench`, verifier rows: the npm package (pkg/) in Node and the bench example under
// node:wasi, on the same inputs as the native run (scripts/bench-verifier.sh prints the table).
//
//   node scripts/bench-verifier.mjs verify PROOF_HEX_FILE SRS1 N
//   node scripts/bench-verifier.mjs wasi BENCH.wasm PROOF_HEX_FILE SRS1 N
//   node scripts/bench-verifier.mjs replay KERNEL.wasm LEVELS N
import { readFileSync } from 'node:fs';
import { dirname, basename } from 'node:path';
import { WASI } from 'node:wasi';

const root = new URL('../', import.meta.url);
const [mode, ...args] = process.argv.slice(2);

function bestOf5(round) {
  let best = Infinity;
  for (let i = 0; i < 5; i++) {
    const t = process.hrtime.bigint();
    round();
    best = Math.min(best, Number(process.hrtime.bigint() - t) / 1e9);
  }
  return best;
}

if (mode === 'verify') {
  const soru = await import(new URL('pkg/node.js', root));
  const [file, srs1, n] = args;
  const proof = soru.hexToBytes(readFileSync(file, 'utf8'));
  soru.verifyOutboxProof(proof, srs1);
  const best = bestOf5(() => {
    for (let i = 0; i < Number(n); i++) soru.verifyOutboxProof(proof, srs1);
  });
  console.log(`us_per_verify=${((best * 1e6) / Number(n)).toFixed(2)}`);
} else if (mode === 'wasi') {
  const [wasm, file, srs1, n] = args;
  const wasi = new WASI({
    version: 'preview1',
    args: ['bench', 'verify', `/d/${basename(file)}`, srs1, n],
    preopens: { '/d': dirname(file) },
    returnOnExit: true,
  });
  const instance = await WebAssembly.instantiate(await WebAssembly.compile(readFileSync(wasm)), wasi.getImportObject());
  process.exitCode = wasi.start(instance);
} else if (mode === 'replay') {
  const soru = await import(new URL('pkg/node.js', root));
  const [kernelFile, levels, n] = args;
  const kernel = new Uint8Array(readFileSync(kernelFile));
  const inbox = Array.from({ length: Number(levels) }, (_, i) => [new TextEncoder().encode(`\x01message ${i}`)]);
  await soru.replay(kernel, inbox);
  const { replay } = await import(new URL('pkg/replay-node.js', root));
  const best = bestOf5(() => {
    for (let i = 0; i < Number(n); i++) replay(kernel, inbox);
  });
  console.log(`ms_per_replay=${((best * 1e3) / Number(n)).toFixed(2)}`);
} else {
  console.error('usage: bench-verifier.mjs verify|wasi|replay ...');
  process.exit(2);
}
