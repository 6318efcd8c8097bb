// Browser entry of the replay module: loads its WebAssembly (the PVM, wasmi) next to this file.
import init from './dist/soru_replay.js';

await init({ module_or_path: new URL('./dist/soru_replay_bg.wasm', import.meta.url) });

export { replay, replayWitness, checkWitnessInbox } from './replay-api.js';
