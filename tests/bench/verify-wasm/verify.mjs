// The Node half of scripts/bench-verify-node.sh (Node 20, ESM, no dependencies).
//
//   node verify.mjs <verify.wasm> <input file> <iterations>
//
// Loads the wasm32 build of this crate, copies the input written by `verify-native produce`
// into its memory, verifies it a tenth of <iterations> times (at least 10) to warm up, then
// 5 rounds of <iterations> (one wasm call each) and prints the best round's `us_per_verify=<t>`
// and the median, like the native side.
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";

const [wasmPath, inputPath, itersArg] = process.argv.slice(2);
if (!wasmPath || !inputPath || !itersArg) {
  console.error("usage: node verify.mjs <verify.wasm> <input file> <iterations>");
  process.exit(2);
}
const iterations = Number.parseInt(itersArg, 10);
if (!Number.isInteger(iterations) || iterations <= 0) {
  console.error(`verify.mjs: iterations must be a positive integer, got ${itersArg}`);
  process.exit(2);
}

const { instance } = await WebAssembly.instantiate(readFileSync(wasmPath), {});
const { memory, alloc, dealloc, verify_n } = instance.exports;
const input = readFileSync(inputPath);
const ptr = alloc(input.length);
new Uint8Array(memory.buffer, ptr, input.length).set(input);

const warm = verify_n(ptr, input.length, Math.max(10, Math.floor(iterations / 10)));
if (warm !== 0) {
  console.error(`verify.mjs: verification failed with code ${warm}`);
  process.exit(1);
}
// Timed rounds; the best is reported (the machine may be shared), with the median.
const ROUNDS = 5;
const rounds = [];
for (let i = 0; i < ROUNDS; i++) {
  const start = performance.now();
  const status = verify_n(ptr, input.length, iterations);
  const elapsed = performance.now() - start;
  if (status !== 0) {
    console.error(`verify.mjs: verification failed with code ${status}`);
    process.exit(1);
  }
  rounds.push((elapsed * 1000) / iterations);
}
dealloc(ptr, input.length);
rounds.sort((a, b) => a - b);
console.log(
  `us_per_verify=${rounds[0].toFixed(2)} median=${rounds[ROUNDS >> 1].toFixed(2)} ` +
    `rounds=${ROUNDS} iterations=${iterations}`,
);
