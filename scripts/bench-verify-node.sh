#!/usr/bin/env bash
# One-value proof verification, native vs wasm32 under Node, on the same proof in the same run.
#
# Builds tests/bench/verify-wasm natively and for wasm32-unknown-unknown, writes the proof of
# one 32-byte durable value in a tree of SORU_TREE_BENCH_KEYS accounts (default 100000), then
# verifies it in 5 rounds of SORU_VERIFY_ITERATIONS (default 2000, after a warm-up) on both
# sides and prints a table (best round and median; the best is what a shared machine distorts
# least) with the ratio node/native of the best rounds and the proof size.
#
#   scripts/bench-verify-node.sh
#   SORU_TREE_BENCH_KEYS=1000000 SORU_VERIFY_ITERATIONS=5000 scripts/bench-verify-node.sh
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
crate=$root/tests/bench/verify-wasm
keys=${SORU_TREE_BENCH_KEYS:-100000}
iterations=${SORU_VERIFY_ITERATIONS:-2000}
export CARGO_TARGET_DIR=$root/target/verify-wasm

command -v node >/dev/null || { echo "bench-verify-node: node is not installed" >&2; exit 1; }
cargo build --quiet --release --manifest-path "$crate/Cargo.toml" --bin verify-native
cargo build --quiet --release --manifest-path "$crate/Cargo.toml" --lib --target wasm32-unknown-unknown

native=$CARGO_TARGET_DIR/release/verify-native
wasm=$CARGO_TARGET_DIR/wasm32-unknown-unknown/release/soru_verify_wasm_bench.wasm
input=$CARGO_TARGET_DIR/verify-input-$keys.bin

field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p"; }

proof_bytes=$("$native" produce "$input" "$keys" | field proof_bytes)
native_out=$("$native" bench "$input" "$iterations")
node_out=$(node "$crate/verify.mjs" "$wasm" "$input" "$iterations")
native_us=$(field us_per_verify <<<"$native_out")
node_us=$(field us_per_verify <<<"$node_out")
native_median=$(field median <<<"$native_out")
node_median=$(field median <<<"$node_out")

echo "one-value proof verification: $keys keys, proof $proof_bytes bytes, best of 5 rounds of $iterations"
printf '| %-26s | %10s | %10s |\n' "runtime" "us/verify" "median"
printf '|%s|%s|%s|\n' "----------------------------" "------------" "------------"
printf '| %-26s | %10s | %10s |\n' "native ($(uname -m))" "$native_us" "$native_median"
printf '| %-26s | %10s | %10s |\n' "wasm32 in node $(node --version)" "$node_us" "$node_median"
awk -v n="$node_us" -v r="$native_us" -v b="$proof_bytes" \
  'BEGIN { printf "ratio node/native: %.2fx; proof size: %d bytes\n", n / r, b }'
