#!/usr/bin/env bash
# `make run`: the whole stack on embedded defaults, as real processes on loopback:
#   1. `soru sandbox run` (the L1, one block per second) in target/run/l1,
#   2. the example echo kernel (node-shim/examples/echo.wat) originated as a rollup, and a first
#      batch of messages, with Taquito (tests/js),
#   3. an operator `soru-node run` following that rollup in target/run/node (it publishes and
#      cements commitments with the sandbox's second bootstrap key),
#   4. the web UI (dist/, built by scripts/build-web.sh) on a static server,
# then prints the URLs and waits; Ctrl-C stops everything. State is kept between runs in
# target/run; `SORU_RUN_FRESH=1 make run` starts from scratch.
#
# Ports (override with the environment): SORU_L1_PORT=18731, SORU_NODE_PORT=8932,
# SORU_WEB_PORT=8080.
set -euo pipefail
cd "$(dirname "$0")/.."
L1_PORT="${SORU_L1_PORT:-18731}"
NODE_PORT="${SORU_NODE_PORT:-8932}"
WEB_PORT="${SORU_WEB_PORT:-8080}"
RUN=target/run
BIN=target/debug
say() { printf 'make run: %s\n' "$*" >&2; }

say "building soru and soru-node"
cargo build --quiet -p soru-node --bins
if [ ! -f dist/index.html ] || [ -n "${SORU_RUN_REBUILD_WEB:-}" ]; then
  say "building the web UI into dist/ (once; SORU_RUN_REBUILD_WEB=1 rebuilds it)"
  bash scripts/build-web.sh
fi
[ -n "${SORU_RUN_FRESH:-}" ] && rm -rf "$RUN"
mkdir -p "$RUN"

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

# Starts "$@" with stdout in $RUN/$name.out, waits for its "RPC listening on" line and sets
# URL to the address it printed (not a subshell: the process must be in `pids`).
start() {
  local name=$1; shift
  "$@" >"$RUN/$name.out" 2>"$RUN/$name.log" &
  pids+=($!)
  for _ in $(seq 1 300); do
    if grep -q '^RPC listening on ' "$RUN/$name.out" 2>/dev/null; then
      URL=$(sed -n 's/^RPC listening on //p' "$RUN/$name.out" | head -n1)
      return 0
    fi
    if ! kill -0 "${pids[-1]}" 2>/dev/null; then
      say "$name exited; its log ($RUN/$name.log):"; cat "$RUN/$name.log" >&2; exit 1
    fi
    sleep 0.1
  done
  say "$name did not start listening within 30 s (log: $RUN/$name.log)"; exit 1
}

[ -f "$RUN/l1/wallet.json" ] || "$BIN/soru" sandbox init --data-dir "$RUN/l1" >/dev/null
start l1 "$BIN/soru" sandbox run --data-dir "$RUN/l1" --rpc-addr "127.0.0.1:$L1_PORT" --block-time 1
L1_URL=$URL

if [ ! -f "$RUN/rollup.json" ]; then
  say "originating the echo kernel with Taquito"
  KERNEL_HEX=$("$BIN/soru" kernel hex node-shim/examples/echo.wat)
  node tests/js/node/rollup.mjs "$L1_URL" "$RUN/l1" originate "$KERNEL_HEX" >"$RUN/rollup.json"
fi
ROLLUP=$(sed -n 's/.*"rollup":"\([^"]*\)".*/\1/p' "$RUN/rollup.json")
OPERATOR=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[1]["address"])' "$RUN/l1/wallet.json")
[ -f "$RUN/node/config.json" ] ||
  "$BIN/soru-node" init operator config for "$ROLLUP" with operators "$OPERATOR" --data-dir "$RUN/node" \
    --endpoint "$L1_URL" --rpc-addr "127.0.0.1:$NODE_PORT" >/dev/null
start node "$BIN/soru-node" run --data-dir "$RUN/node" --wallet "$RUN/l1/wallet.json"
NODE_URL=$URL
node tests/js/node/rollup.mjs "$L1_URL" "$RUN/l1" send 68656c6c6f 776f726c64 >"$RUN/messages.json"

python3 -m http.server --bind 127.0.0.1 --directory dist "$WEB_PORT" >"$RUN/web.log" 2>&1 &
pids+=($!)

cat <<TXT

  L1 sandbox (octez RPC)   $L1_URL            e.g. $L1_URL/chains/main/blocks/head/header
  rollup                   $ROLLUP (echo kernel)
  rollup node (operator)   $NODE_URL             e.g. $NODE_URL/global/block/head/state_hash
  web UI                   http://127.0.0.1:$WEB_PORT/
  wallet (Taquito keys)    $RUN/l1/wallet.json
  logs                     $RUN/*.log

  Send more messages:  node tests/js/node/rollup.mjs $L1_URL $RUN/l1 send <hex>...
  Ctrl-C stops everything.
TXT
wait
