# Soru: the two commands a newcomer needs are `make run` and `make test`.
#
# Everything builds into target/ (cargo's cache), so repeated runs only rebuild what changed.

CARGO        ?= cargo
SORU_DEBUG   := target/debug/soru
EXAMPLE_DIR  := node-shim/examples
# `make fuzz`: seconds per fuzz target (override: make fuzz FUZZ_SECONDS=300).
FUZZ_SECONDS ?= 20

.PHONY: run replay test setup bench fuzz clean pkg wasi web

## run: the whole stack on embedded defaults: sandbox L1, the example echo kernel as a rollup,
## an observer rollup node and the web UI, as real processes; prints the URLs (scripts/run.sh).
run: setup
	bash scripts/run.sh

## replay: replay the example echo kernel on its example inputs (JSON Lines).
replay:
	$(CARGO) build --quiet -p soru-node --bin soru
	$(SORU_DEBUG) replay --kernel $(EXAMPLE_DIR)/echo.wat --inputs $(EXAMPLE_DIR)/inputs.json --json

## setup: install the toolchain pieces `make test` needs (idempotent, quiet when all is there).
setup:
	@bash scripts/setup.sh

## test: everything CI checks: format, lints, all tests, docs, no_std and WASI builds.
test: setup
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) test --workspace
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --workspace --no-deps
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc -p soru-core --no-deps
	$(CARGO) build -p soru-core --no-default-features --target wasm32-unknown-unknown
	$(CARGO) build -p soru-core --no-default-features --features pvm,json --target wasm32-unknown-unknown
	$(CARGO) build -p soru-verifier --target wasm32-unknown-unknown
	$(CARGO) build -p soru-node --target wasm32-wasip1
	bash scripts/build-web.sh
	node tests/js/web/web.test.mjs
	$(MAKE) --no-print-directory pkg wasi
	node --test tests/js/verifier/

## web: build the browser app (web-ui/, crate soru-web) into dist/; serve it with any static
## server, e.g. `python3 -m http.server -d dist 8080`.
web:
	bash scripts/build-web.sh

## pkg: the npm package in pkg/ (WebAssembly and glue in pkg/dist); `cd pkg && npm pack` packs it.
pkg:
	bash scripts/build-pkg.sh

## wasi: the light-client CLI for any WASI runtime: target/wasm32-wasip1/release/soru-verify.wasm.
wasi:
	$(CARGO) build --quiet --release -p soru-verify --target wasm32-wasip1

## bench: the benchmark table (scripts/bench.sh is maintained with the benches).
bench:
	@test -f scripts/bench.sh || { echo "make bench: scripts/bench.sh does not exist yet" >&2; exit 1; }
	bash scripts/bench.sh

## fuzz: run every fuzz target in core/fuzz for FUZZ_SECONDS each (needs cargo-fuzz and nightly).
fuzz:
	@test -d core/fuzz || { echo "make fuzz: core/fuzz does not exist yet" >&2; exit 1; }
	@command -v cargo-fuzz >/dev/null 2>&1 || { \
	  echo "make fuzz: cargo-fuzz is not installed; install it with: cargo install cargo-fuzz" >&2; exit 1; }
	@rustup toolchain list | grep -q '^nightly' || { \
	  echo "make fuzz: cargo fuzz needs a nightly toolchain; install it with: rustup toolchain install nightly" >&2; exit 1; }
	@cd core && for t in $$(cargo +nightly fuzz list); do \
	  echo "== fuzz $$t ($(FUZZ_SECONDS)s)"; \
	  cargo +nightly fuzz run "$$t" -- -max_total_time=$(FUZZ_SECONDS) || exit 1; \
	done

## clean: remove build outputs.
clean:
	$(CARGO) clean
	rm -rf core/fuzz/target pkg/dist dist
