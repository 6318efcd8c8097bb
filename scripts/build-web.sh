#!/usr/bin/env bash
# `make web`: builds soru-web (web-ui/) into dist/ without Trunk:
#   cargo (wasm32-unknown-unknown, profile `web`) -> wasm-opt -Oz -> wasm-bindgen --target web,
# then copies index.html, the stylesheet, the worker script and, when ../shared/vectors exists,
# the real octez output-proof vectors the Verify page offers as examples.
#
# Environment: SORU_WEB_PROFILE (cargo profile, default `web`; `dev` for a fast unoptimised
# build, which also skips wasm-opt), DIST (output folder, default dist), CARGO.
set -euo pipefail
cd "$(dirname "$0")/.."
CARGO="${CARGO:-cargo}"
PROFILE="${SORU_WEB_PROFILE:-web}"
DIST="${DIST:-dist}"
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
case "$PROFILE" in dev) OUT=debug ;; *) OUT="$PROFILE" ;; esac

"$CARGO" build --quiet --target wasm32-unknown-unknown -p soru-web --profile "$PROFILE"
WASM="$TARGET_DIR/wasm32-unknown-unknown/$OUT/soru_web.wasm"
# wasm-opt runs before wasm-bindgen: Debian's binaryen (108) breaks the externref table that
# wasm-bindgen adds for reference types ("WebAssembly.Table.set(): Argument 1 is invalid").
# In this order, some closures handed to JS (leptos's `request_animation_frame`) make
# wasm-bindgen fail with "failed to find `0` in function table": the app avoids them.
if [ "$PROFILE" != dev ]; then
  mkdir -p "$TARGET_DIR/web-opt"
  wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-mutable-globals --enable-reference-types --enable-multivalue \
    "$WASM" -o "$TARGET_DIR/web-opt/soru_web.wasm"
  WASM="$TARGET_DIR/web-opt/soru_web.wasm"
fi
rm -rf "$DIST"
mkdir -p "$DIST/examples"
wasm-bindgen --target web --no-typescript --out-dir "$DIST" "$WASM"
install -m 644 index.html web-ui/style.css web-ui/worker.js "$DIST/"
VECTORS=../shared/vectors/tezos-output-proofs
if [ -d "$VECTORS" ]; then
  install -m 644 "$VECTORS"/*.txt "$DIST/examples/"
else
  echo "make web: $VECTORS not found; the Verify page's example buttons will report it" >&2
fi
wasm_gz=$(gzip -9c "$DIST/soru_web_bg.wasm" | wc -c)
js_gz=$(cat "$DIST/soru_web.js" "$DIST/worker.js" | gzip -9c | wc -c)
echo "make web: $DIST/ ready (gzipped: wasm $wasm_gz bytes, JS $js_gz bytes)"
