#!/usr/bin/env bash
# soru-web budgets (part of `make bench`): builds dist/ (`make web`), then in headless Chromium
# measures the gzipped size of the app's wasm + JS (budget 1 MB), load to interactive, the time to
# verify the real octez output proof in the page, and the worker's replay of a compute kernel
# against the native `soru replay` on the same kernel and inputs (goal: at most 3x).
set -euo pipefail
cd "$(dirname "$0")/.."
CARGO="${CARGO:-cargo}"
WORK="${CARGO_TARGET_DIR:-target}/bench-web"
mkdir -p "$WORK"

bash scripts/build-web.sh >/dev/null
"$CARGO" build --quiet --release -p soru-node --bin soru

# A kernel that spends its kernel_run in a loop of integer arithmetic (about 60 million wasm
# instructions per level), three levels.
cat > "$WORK/compute.wat" <<'WAT'
(module
  (memory (export "memory") 1)
  (func (export "kernel_run") (local $i i32) (local $acc i32)
    (local.set $i (i32.const 10000000))
    (loop $l
      (local.set $acc (i32.add (i32.mul (local.get $acc) (i32.const 31)) (local.get $i)))
      (local.set $i (i32.sub (local.get $i) (i32.const 1)))
      (br_if $l (local.get $i)))
    (i32.store (i32.const 0) (local.get $acc))))
WAT
echo '[[], [], []]' > "$WORK/inputs.json"

# Best of 3 runs on each side (the worker's in tests/js/web/bench.mjs).
native_ms=
for _ in 1 2 3; do
  start=$(date +%s%N)
  target/release/soru replay --kernel "$WORK/compute.wat" --inputs "$WORK/inputs.json" --json >/dev/null
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  if [ -z "$native_ms" ] || [ "$ms" -lt "$native_ms" ]; then native_ms=$ms; fi
done

json=$(node tests/js/web/bench.mjs "$WORK/compute.wat" "$WORK/inputs.json")
node -e '
const r = JSON.parse(process.argv[1]); const native = Number(process.argv[2]);
const kb = (b) => (b / 1024).toFixed(0) + " KiB";
const total = r.wasm_gz + r.js_gz;
console.log("| soru-web budget | measured | budget | ratio |");
console.log("|---|---|---|---|");
console.log(`| gzipped wasm + JS | ${kb(total)} (wasm ${kb(r.wasm_gz)}, JS/HTML/CSS ${kb(r.js_gz)}) | 1024 KiB | ${(total / 1048576).toFixed(2)} |`);
console.log(`| load to interactive (local server) | ${r.load_to_interactive_ms.toFixed(0)} ms | - | - |`);
if (r.verify_ms !== undefined) console.log(`| verify the Hello world output proof in the page | ${r.verify_ms.toFixed(1)} ms | - | - |`);
console.log(`| replay 3 levels of a compute kernel, best of 3: worker vs native soru replay | ${r.worker_replay_ms} ms vs ${native} ms | 3x | ${(r.worker_replay_ms / native).toFixed(2)}x |`);
' "$json" "$native_ms"
