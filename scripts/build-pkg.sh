#!/usr/bin/env bash
# `make pkg`: builds the npm package in pkg/ (pkg/dist holds the generated WebAssembly and glue).
#
#   1. soru-verifier-wasm for wasm32-unknown-unknown (profile `pkg`: opt-level z, LTO) twice:
#      without features (the proof/commitment entry: no wasmi, wasmparser or serde_json) and with
#      `replay` (the second, lazily loaded entry with the PVM);
#   2. wasm-bindgen --target web for each (one ES-module glue serves browsers and Node: node.js
#      passes the bytes to initSync, web.js lets init fetch them);
#   (wasm-opt -Oz first, when installed; the glue's JSDoc, copied from the Rust doc comments, and
#   its indentation are dropped: pkg/index.d.ts and replay.d.ts are the package's types).
# Then `cd pkg && npm pack` makes the tarball.
set -euo pipefail

cd "$(dirname "$0")/.."
CARGO="${CARGO:-cargo}"
TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
OUT=pkg/dist
WASM="$TARGET_DIR/wasm32-unknown-unknown/pkg/soru_verifier_wasm.wasm"

command -v wasm-bindgen >/dev/null || {
  echo "make pkg: wasm-bindgen is not installed (scripts/setup.sh installs it)" >&2
  exit 1
}
mkdir -p "$OUT"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

build() { # name, extra wasm-opt passes, cargo feature args...
  local name=$1 passes=$2
  shift 2
  "$CARGO" build --quiet -p soru-verifier-wasm --target wasm32-unknown-unknown --profile pkg "$@"
  # wasm-opt runs before wasm-bindgen: older wasm-opt releases (Debian's binaryen 108) corrupt
  # the externref table wasm-bindgen adds.
  if command -v wasm-opt >/dev/null; then
    # --converge repeats -Oz while it still shrinks the module. --low-memory-unused lets it fold
    # constant offsets into loads and stores: Rust's wasm32 code never forms an address by
    # wrapping around 0 into the first 1024 bytes (the far end of its 1 MiB stack).
    # shellcheck disable=SC2086 # $passes is a list of flags
    wasm-opt -Oz $passes --converge --low-memory-unused --strip-debug --strip-producers --enable-bulk-memory \
      --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals \
      --enable-reference-types --enable-multivalue "$WASM" -o "$work/$name.wasm"
  else
    cp "$WASM" "$work/$name.wasm"
  fi
  wasm-bindgen --target web --no-typescript --out-dir "$work/out" "$work/$name.wasm"
  cp "$work/out/${name}_bg.wasm" "$OUT/${name}_bg.wasm"
  # Indentation and blank lines go too (179 bytes of the proof entry's gzipped glue): each line
  # of the glue is whole tokens, no template literal spans lines (the build stops if one would).
  perl -0pe 's{^ */\*\*\n.*?\*/\n}{}gms' "$work/out/$name.js" |
    perl -ne 'die "make pkg: a template literal spans lines of the glue\n" if tr/`// % 2; s/^\s+//; print' \
      >"$OUT/$name.js"
}

# The proof entry's code is also flattened and its control flow rebuilt (--rereloop) before
# -Oz runs again, twice: 227 bytes less gzipped there than plain -Oz (one round: 138; three:
# 129; measured 2026-12-07); the replay entry, 13 times larger, keeps plain -Oz.
build soru_verifier "--flatten --rereloop -Oz --flatten --rereloop -Oz -Oz"
build soru_replay "" --features replay

for f in "$OUT"/*; do
  printf '%-32s %8d bytes, %7d gzipped\n' "$f" "$(wc -c <"$f")" "$(gzip -9 -c "$f" | wc -c)"
done
