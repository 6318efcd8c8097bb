#!/usr/bin/env bash
# `make bench`, verifier rows: output proof verification natively vs wasm32 in Node (the npm
# package) vs WASI (node:wasi); replay of 100 echo levels natively vs the npm package in Node;
# the package's sizes. One run, one table, ratios against the native baseline.
#
# Environment: SORU_VERIFY_ITERATIONS (default 2000), SORU_REPLAY_LEVELS (default 100).
set -euo pipefail

cd "$(dirname "$0")/.."
CARGO="${CARGO:-cargo}"
TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
n=${SORU_VERIFY_ITERATIONS:-2000}
levels=${SORU_REPLAY_LEVELS:-100}
vector=../shared/vectors/tezos-output-proofs/05_taquito_mock_fixed_and_corrupted.txt
srs1=srs11iwwp7NxF7sgADntfpt4hPUoFYEMRJbDm7dpjUHnsEzRbXxg1X
[ -f "$vector" ] || { echo "bench-verifier: $vector not found" >&2; exit 1; }

"$CARGO" build --quiet --release -p soru-verify --example bench
"$CARGO" build --quiet --release -p soru-verify --example bench --target wasm32-wasip1
"$CARGO" build --quiet -p soru-tests # the SDK echo kernel
[ -f pkg/dist/soru_verifier_bg.wasm ] || bash scripts/build-pkg.sh >/dev/null
kernel=$TARGET_DIR/sdk-kernels/kernels/echo.wasm
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sed -n 's/^output_proof_hex=//p' "$vector" >"$work/proof.hex"

field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p"; }
native=$("$TARGET_DIR/release/examples/bench" verify "$work/proof.hex" "$srs1" "$n" | field us_per_verify)
node_us=$(node scripts/bench-verifier.mjs verify "$work/proof.hex" "$srs1" "$n" | field us_per_verify)
wasi=$(node --no-warnings scripts/bench-verifier.mjs wasi "$TARGET_DIR/wasm32-wasip1/release/examples/bench.wasm" \
  "$work/proof.hex" "$srs1" "$n" | field us_per_verify)
r_native=$("$TARGET_DIR/release/examples/bench" replay "$kernel" "$levels" 3 | field ms_per_replay)
r_node=$(node scripts/bench-verifier.mjs replay "$kernel" "$levels" 3 | field ms_per_replay)
witness_line=$("$TARGET_DIR/release/examples/bench" witness "$kernel" "$levels" 3)
w_produce=$(field ms_per_produce <<<"$witness_line")
w_replay=$(field ms_per_witness_replay <<<"$witness_line")
w_bytes=$(field witness_bytes <<<"$witness_line")

rule() { printf '|%s|%s|%s|\n' "------------------------------------------" "--------------" "----------"; }
row() { printf '| %-40s | %12s | %8s |\n' "$@"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }
echo "output proof verification (vector 05, $(wc -c <"$work/proof.hex") hex chars), best of 5 rounds of $n:"
row "runtime" "us/verify" "ratio"
rule
row "native ($(uname -m))" "$native" "1.00x"
row "npm package in node $(node --version)" "$node_us" "$(ratio "$node_us" "$native")"
row "wasm32-wasip1 in node:wasi" "$wasi" "$(ratio "$wasi" "$native")"
echo
echo "replay of $levels echo levels (SDK echo kernel, one message per level), best of 5 rounds of 3:"
row "runtime" "ms/replay" "ratio"
rule
row "native ($(uname -m))" "$r_native" "1.00x"
row "npm package in node $(node --version)" "$r_node" "$(ratio "$r_node" "$r_native")"
echo
echo "checking the last of those $levels levels: full replay from origination vs the stateless replay of"
echo "its witness ($w_bytes bytes), native, best of 5 rounds of 3:"
row "work" "ms" "ratio"
rule
row "full replay of $levels levels" "$r_native" "1.00x"
row "witness replay of the last level" "$w_replay" "$(ratio "$w_replay" "$r_native")"
row "producing that witness (full state)" "$w_produce" "$(ratio "$w_produce" "$r_native")"
echo
gz() { cat "$@" | gzip -9 | wc -c; }
entry=$(gz pkg/dist/soru_verifier_bg.wasm pkg/dist/soru_verifier.js pkg/api.js pkg/web.js)
replay_entry=$(gz pkg/dist/soru_replay_bg.wasm pkg/dist/soru_replay.js pkg/replay-api.js pkg/replay-web.js)
total=$( (cd pkg && npm pack --dry-run --json 2>/dev/null) | node -e '
  let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => console.log(JSON.parse(s)[0].size));')
echo "npm package sizes (gzip -9; budgets: proof entry 40 KB, whole package 300 KB; Helios 1.2 MB):"
row "part" "bytes" "budget"
rule
row "proof/commitment entry (wasm + JS)" "$entry" "40960"
row "replay entry (wasm + JS, lazily loaded)" "$replay_entry" "-"
row "npm pack tarball (whole package)" "$total" "307200"
