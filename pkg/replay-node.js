// Node entry of the replay module: loads its WebAssembly (the PVM, wasmi) from the package.
import { readFileSync } from 'node:fs';
import { initSync } from './dist/soru_replay.js';

initSync({ module: readFileSync(new URL('./dist/soru_replay_bg.wasm', import.meta.url)) });

export { replay, replayWitness, checkWitnessInbox } from './replay-api.js';
