#!/usr/bin/env bash
# `make bench`: Soru's benchmarks next to their baselines, measured in one run, as one table.
#
#   1. builds the SDK test kernels (tests/build.rs, via `cargo build -p soru-tests`);
#   2. runs the criterion benches of soru-core: `pvm` (wasmi, on the SDK kernels; the echo level
#      on one PVM whose state accumulates levels, and on a fresh one) and `tree` (scaled down
#      with SORU_TREE_BENCH_KEYS, default here 100000 keys), and `durable_keys` (one kernel_run
#      writing SORU_DURABLE_BENCH_KEYS new durable keys, default 1000000: time and heap per key);
#   3. runs the wasmtime baseline (tests/bench, outside the workspace) on the same kernels and
#      workloads (the durable-keys kernel on a plain BTreeMap store), and prints the table:
#      benchmark | soru (wasmi) | baseline (wasmtime) | ratio. Figures criterion does not keep
#      (levels accumulated, the durable-keys run) pass through $TARGET_DIR/soru-bench-notes.
#   4. verifies one proof natively and as wasm32 in Node (scripts/bench-verify-node.sh);
#   5. measures the web app's budgets in headless Chromium (scripts/bench-web.sh);
#   6. the light client (scripts/bench-verifier.sh) and the rollup node against a real sandbox
#      (`cargo bench -p soru-node --bench node`: catching up SORU_NODE_BENCH_LEVELS levels of 100
#      messages, default 1000, against `soru replay` of the same messages; RPC requests/s; store
#      size per level; peak RSS), and the sandbox L1 alone (`cargo bench -p soru-node --bench
#      sandbox`: add_messages operations applied per second, RPC requests/s for
#      /chains/main/blocks/head, memory).
#
# Environment: SORU_TREE_BENCH_KEYS (tree size), SORU_DURABLE_BENCH_KEYS (keys written in one
# run), SORU_BASELINE_SECONDS (time per wasmtime measurement, default 3), CARGO (cargo binary).
set -euo pipefail

cd "$(dirname "$0")/.."
CARGO="${CARGO:-cargo}"
ROOT="$(pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
KERNELS_DIR="$ROOT/target/sdk-kernels/kernels"
SINCE="$(date +%s)"
NOTES="$TARGET_DIR/soru-bench-notes"
rm -rf "$NOTES"
mkdir -p "$NOTES"
export SORU_BENCH_NOTES="$NOTES"
echo "== machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at $(date -u '+%Y-%m-%d %H:%M UTC')"

echo "== building the SDK test kernels (tests/kernels -> $KERNELS_DIR)"
"$CARGO" build --quiet -p soru-tests

echo "== soru-core pvm benches (criterion)"
SORU_KERNELS_DIR="$KERNELS_DIR" "$CARGO" bench -p soru-core --bench pvm

if [ -f core/benches/tree.rs ]; then
  echo "== soru-core tree benches (criterion, SORU_TREE_BENCH_KEYS=${SORU_TREE_BENCH_KEYS:-100000})"
  SORU_TREE_BENCH_KEYS="${SORU_TREE_BENCH_KEYS:-100000}" "$CARGO" bench -p soru-core --bench tree
fi

echo "== soru-core durable_keys bench (SORU_DURABLE_BENCH_KEYS=${SORU_DURABLE_BENCH_KEYS:-1000000})"
SORU_DURABLE_BENCH_KEYS="${SORU_DURABLE_BENCH_KEYS:-1000000}" "$CARGO" bench -p soru-core --bench durable_keys

echo "== wasmtime baseline (tests/bench) and the table"
CARGO_TARGET_DIR="$TARGET_DIR/bench-baseline" "$CARGO" run --quiet --release \
  --manifest-path tests/bench/Cargo.toml -- \
  --kernels "$KERNELS_DIR" \
  --criterion "$TARGET_DIR/criterion" \
  --since "$SINCE" \
  --notes "$NOTES" \
  --seconds "${SORU_BASELINE_SECONDS:-3}"

echo "== machine load average after the run: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "== one-value proof verification, native vs wasm32 in Node (scripts/bench-verify-node.sh)"
SORU_TREE_BENCH_KEYS="${SORU_TREE_BENCH_KEYS:-100000}" bash scripts/bench-verify-node.sh

echo
echo "== runs that exhaust their fuel through host calls vs the same fuel in plain wasm (core/benches/hostile.rs)"
"$CARGO" bench --quiet -p soru-core --bench hostile

echo
echo "== soru-web budgets in headless Chromium (scripts/bench-web.sh)"
bash scripts/bench-web.sh

echo
echo "== the light client: proofs natively vs npm package vs WASI, replay, package sizes (scripts/bench-verifier.sh)"
bash scripts/bench-verifier.sh

echo
echo "== the sandbox L1 (cargo bench -p soru-node --bench sandbox)"
"$CARGO" bench -p soru-node --bench sandbox

echo
echo "== the rollup node against a real sandbox (cargo bench -p soru-node --bench node, ${SORU_NODE_BENCH_LEVELS:-1000} levels)"
SORU_NODE_BENCH_LEVELS="${SORU_NODE_BENCH_LEVELS:-1000}" "$CARGO" bench -p soru-node --bench node
