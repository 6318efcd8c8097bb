// The real octez output proofs in ../shared/vectors/tezos-output-proofs/ (beside the repository),
// read at run time. Absent: the tests skip with a message, or fail when CI=true.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
export const vectorsDir = fileURLToPath(
  new URL('../../../../shared/vectors/tezos-output-proofs/', import.meta.url),
);

/** Every vector: { name, proof, corrupted?, srs1, outboxLevel, messageIndex, message }. */
export function loadVectors() {
  if (!existsSync(vectorsDir)) {
    if (process.env.CI === 'true') throw new Error(`vectors missing at ${vectorsDir} (CI=true)`);
    console.log(`skipping: output proof vectors not found at ${vectorsDir}`);
    return [];
  }
  const files = readdirSync(vectorsDir).filter((f) => f.endsWith('.txt')).sort();
  if (files.length === 0) throw new Error(`no vectors in ${vectorsDir}`);
  return files.map((name) => {
    const text = readFileSync(vectorsDir + name, 'utf8');
    const field = (prefix) =>
      text.split('\n').find((l) => l.startsWith(prefix))?.slice(prefix.length).trim();
    const comment = (re) => {
      const m = text.match(re);
      if (!m) throw new Error(`${name}: no ${re}`);
      return m[1];
    };
    return {
      name,
      proof: field('output_proof_hex='),
      corrupted: field('corrupted_output_proof_hex='),
      srs1: comment(/# expected srs1[^\n]*?(srs1\w+)/),
      outboxLevel: Number(comment(/outbox_level=(\d+)/)),
      messageIndex: Number(comment(/message_index=(\d+)/)),
      message: comment(/# expected message \([^)]*\): ([0-9a-f]+)/),
      commitment: text.match(/cemented_commitment: (src1\w+)/)?.[1],
    };
  });
}

/** The fenced code block after `<!-- example:NAME -->` in pkg/README.md. */
export function readmeExample(name) {
  const readme = readFileSync(repoRoot + 'pkg/README.md', 'utf8');
  const at = readme.indexOf(`<!-- example:${name} -->`);
  if (at < 0) throw new Error(`pkg/README.md has no example:${name}`);
  const m = readme.slice(at).match(/```\w*\n([\s\S]*?)```/);
  return m[1];
}

/**
 * A replay witness of the example echo kernel's levels from `from` (default: the last), made by
 * `target/debug/soru replay --witness-out` (built by `cargo test`): { bytes, levels }, `levels`
 * being the replay's JSON level lines (state hash and ticks of every level).
 */
export function exampleWitness(dir, from) {
  const out = join(dir, `echo-${from ?? 'last'}.witness`);
  const args = [
    'replay',
    '--kernel', repoRoot + 'node-shim/examples/echo.wat',
    '--inputs', repoRoot + 'node-shim/examples/inputs.json',
    '--json',
    '--witness-out', out,
  ];
  if (from !== undefined) args.push('--witness-from', String(from));
  const stdout = execFileSync(repoRoot + 'target/debug/soru', args, { encoding: 'utf8' });
  const levels = stdout
    .split('\n')
    .filter((l) => l.startsWith('{"level"'))
    .map((l) => JSON.parse(l));
  return { bytes: new Uint8Array(readFileSync(out)), levels };
}
