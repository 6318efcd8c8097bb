#!/usr/bin/env bash
# Install everything `make test` needs, idempotently.
#
# Quiet when everything is already present; when something is missing it says what it installs,
# and when an install fails it says exactly which step failed and how to do it by hand.
# Safe to run any number of times (`make test` runs it first).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
export PATH="$CARGO_BIN:$PATH"

say() { printf 'setup: %s\n' "$*" >&2; }
fail() {
    printf 'setup: FAILED: %s\n' "$1" >&2
    shift
    for line in "$@"; do printf 'setup:   %s\n' "$line" >&2; done
    exit 1
}

# --- Rust toolchain: targets and components ---------------------------------------------------
command -v rustup >/dev/null 2>&1 ||
    fail "rustup not found on PATH" "install Rust with rustup (https://rustup.rs), then re-run scripts/setup.sh"

installed_targets="$(rustup target list --installed)"
for target in wasm32-unknown-unknown wasm32-wasip1; do
    if ! grep -qx "$target" <<<"$installed_targets"; then
        say "adding Rust target $target"
        rustup target add "$target" ||
            fail "rustup target add $target" "the no_std and WASI builds in 'make test' need this target"
    fi
done

installed_components="$(rustup component list --installed)"
for component in rustfmt clippy; do
    if ! grep -q "^$component" <<<"$installed_components"; then
        say "adding Rust component $component"
        rustup component add "$component" ||
            fail "rustup component add $component" "'make test' runs cargo fmt --check and cargo clippy"
    fi
done

# --- wasm-bindgen-cli at exactly the workspace's wasm-bindgen version ------------------------------
# The CLI must match the `wasm-bindgen` crate byte for byte, so the version is read from the root
# Cargo.toml's [workspace.dependencies] (e.g. `wasm-bindgen = "=0.2.130"`).
wb_version="$(grep -m1 '^wasm-bindgen[[:space:]]*=' "$ROOT/Cargo.toml" | grep -o '[0-9][0-9]*\.[0-9][0-9]*\.[0-9][0-9]*' | head -n1 || true)"
[ -n "$wb_version" ] ||
    fail "could not read the wasm-bindgen version from $ROOT/Cargo.toml" \
        "expected a line like 'wasm-bindgen = \"=0.2.130\"' under [workspace.dependencies]"
have_wb=""
if command -v wasm-bindgen >/dev/null 2>&1; then
    have_wb="$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')"
fi
if [ "$have_wb" != "$wb_version" ]; then
    if [ -n "$have_wb" ]; then
        say "wasm-bindgen-cli is $have_wb, the workspace pins $wb_version: reinstalling"
    else
        say "installing wasm-bindgen-cli $wb_version (a few minutes, once)"
    fi
    # Not --locked: the CLI's own lock file pins crates that no longer build with current Rust.
    cargo install wasm-bindgen-cli --version "$wb_version" --force ||
        fail "cargo install wasm-bindgen-cli --version $wb_version" \
            "the wasm-bindgen CLI must equal the wasm-bindgen crate version pinned in Cargo.toml"
fi

# --- Debian packages: binaryen (wasm-opt), chromium (headless browser tests), tmux (REPL tests) -----
apt_install() { # apt_install COMMAND PACKAGE WHY
    command -v "$1" >/dev/null 2>&1 && return 0
    command -v apt-get >/dev/null 2>&1 ||
        fail "$1 is missing and apt-get is not available" "install the $2 package with your system's package manager ($3)"
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    say "installing Debian package $2 ($3)"
    # Only refresh the package lists when apt does not know the package yet.
    if ! apt-cache show "$2" >/dev/null 2>&1; then
        $sudo apt-get update -qq || fail "apt-get update" "needed to find the $2 package"
    fi
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$2" >/dev/null ||
        fail "apt-get install $2" "$3"
}
apt_install wasm-opt binaryen "provides wasm-opt, used to shrink the wasm packages"
apt_install chromium chromium "headless Chromium for the browser tests (driven by playwright-core)"
apt_install tmux tmux "a real terminal for the soru debug REPL tests (node-shim/tests/cli_debug.rs)"

# --- npm packages for the JavaScript tests, from tests/js/package-lock.json ------------------------
# Reinstalled only when the lockfile changed since the last install.
command -v npm >/dev/null 2>&1 || fail "npm not found" "install Node.js 20 and npm; the JavaScript tests need them"
js_dir="$ROOT/tests/js"
if ! cmp -s "$js_dir/package-lock.json" "$js_dir/node_modules/.package-lock.json.installed" 2>/dev/null; then
    say "installing npm packages of tests/js (npm ci)"
    (cd "$js_dir" && npm ci --no-audit --no-fund --loglevel=error) ||
        fail "npm ci in tests/js" "the Taquito and headless-browser tests need these packages"
    cp "$js_dir/package-lock.json" "$js_dir/node_modules/.package-lock.json.installed"
fi

# --- pytezos for the Python client tests, from tests/py/requirements.txt (pinned) ----------------------
# A virtual environment in target/pyenv (cargo's cache directory), rebuilt when the pins change.
py_env="$ROOT/target/pyenv"
py_req="$ROOT/tests/py/requirements.txt"
if ! cmp -s "$py_req" "$py_env/.requirements.installed" 2>/dev/null; then
    command -v python3 >/dev/null 2>&1 || fail "python3 not found" "the pytezos tests need Python 3.10 to 3.13"
    say "installing pytezos into target/pyenv (pip, from tests/py/requirements.txt)"
    rm -rf "$py_env"
    python3 -m venv "$py_env" || fail "python3 -m venv $py_env" "Debian: apt-get install python3-venv"
    "$py_env/bin/pip" install --quiet --disable-pip-version-check -r "$py_req" ||
        fail "pip install -r tests/py/requirements.txt" "the pytezos tests need these packages"
    cp "$py_req" "$py_env/.requirements.installed"
fi

# --- Optional tools (installed on demand by the targets that use them) -----------------------------
# cargo-fuzz: only `make fuzz` uses it (with a nightly toolchain); that target says how to get it.
