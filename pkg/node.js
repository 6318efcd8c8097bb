// Node entry: loads the proof verifier's WebAssembly from the package folder.
import { readFileSync } from 'node:fs';
import { initSync } from './dist/soru_verifier.js';

initSync({ module: readFileSync(new URL('./dist/soru_verifier_bg.wasm', import.meta.url)) });

export * from './api.js';

/** Replays levels with the PVM; loads the replay module (wasmi) on first use. */
export async function replay(kernel, inputs, options) {
  const m = await import('./replay-node.js');
  return m.replay(kernel, inputs, options);
}

/** Replays a replay witness with the PVM; loads the replay module (wasmi) on first use. */
export async function replayWitness(witness, options) {
  const m = await import('./replay-node.js');
  return m.replayWitness(witness, options);
}

/** Checks a replay witness's inbox against the L1's; loads the replay module (wasmi) on first use. */
export async function checkWitnessInbox(witness, l1, options) {
  const m = await import('./replay-node.js');
  return m.checkWitnessInbox(witness, l1, options);
}
