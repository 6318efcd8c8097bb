// Browser (and bundler) entry: loads the proof verifier's WebAssembly next to this file.
import init from './dist/soru_verifier.js';

await init({ module_or_path: new URL('./dist/soru_verifier_bg.wasm', import.meta.url) });

export * from './api.js';

/** Replays levels with the PVM; loads the replay module (wasmi) on first use. */
export async function replay(kernel, inputs, options) {
  const m = await import('./replay-web.js');
  return m.replay(kernel, inputs, options);
}

/** Replays a replay witness with the PVM; loads the replay module (wasmi) on first use. */
export async function replayWitness(witness, options) {
  const m = await import('./replay-web.js');
  return m.replayWitness(witness, options);
}

/** Checks a replay witness's inbox against the L1's; loads the replay module (wasmi) on first use. */
export async function checkWitnessInbox(witness, l1, options) {
  const m = await import('./replay-web.js');
  return m.checkWitnessInbox(witness, l1, options);
}
