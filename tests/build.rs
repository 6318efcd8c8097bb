//! Builds the SDK test kernels (`tests/kernels`, crate `soru-test-kernels`) for
//! `wasm32-unknown-unknown`, one module per `kernel-*` feature, and optimises them with
//! `wasm-opt` when it is installed.
//!
//! The nested `cargo build` uses its own target directory (`target/sdk-kernels`), so it never
//! waits on the lock of the outer build, and a scrubbed environment, so flags meant for the
//! outer build (`RUSTFLAGS`, `CARGO_ENCODED_RUSTFLAGS`, clippy's `RUSTC_WORKSPACE_WRAPPER`, the
//! outer profile and target) do not leak into the kernels. Results are cached by cargo; the
//! directory holding the finished modules reaches the crate as `SORU_TEST_KERNELS_DIR`.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The kernels, by the suffix of their `kernel-*` feature; the module is `<name>.wasm`.
const KERNELS: [&str; 6] = ["echo", "durable", "counter", "outbox", "reveal", "compute"];
/// The wasm features Soru's PVM (like octez) accepts beyond the MVP: `wasm-opt` lowers anything
/// else rustc's defaults turn on (reference-types, multivalue) or fails loudly.
const WASM_OPT_FEATURES: [&str; 4] = [
    "--enable-bulk-memory",
    "--enable-nontrapping-float-to-int",
    "--enable-sign-ext",
    "--enable-mutable-globals",
];
/// Environment variables of the outer build that must not reach the nested one.
const LEAKY_VARS: [&str; 10] = [
    "RUSTFLAGS",
    "RUSTDOCFLAGS",
    "RUSTC_WRAPPER",
    "RUSTC_WORKSPACE_WRAPPER",
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET",
    "TARGET",
    "HOST",
    "OUT_DIR",
    "PROFILE",
];

fn main() {
    if let Err(message) = build() {
        // A panic in a build script prints its message verbatim and fails the build.
        panic!("\n\nsoru-tests build.rs: cannot build the SDK test kernels:\n{message}\n\n");
    }
}

fn build() -> Result<(), String> {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").map_err(|e| e.to_string())?);
    let workspace = manifest_dir
        .parent()
        .ok_or("tests/ has no parent directory")?
        .to_path_buf();
    let kernels_crate = manifest_dir.join("kernels");
    for watched in [
        kernels_crate.join("src"),
        kernels_crate.join("Cargo.toml"),
        workspace.join("Cargo.toml"),
        workspace.join("Cargo.lock"),
    ] {
        println!("cargo:rerun-if-changed={}", watched.display());
    }
    println!("cargo:rerun-if-env-changed=SORU_WASM_OPT");

    let target_dir = workspace.join("target").join("sdk-kernels");
    let out_dir = target_dir.join("kernels");
    fs::create_dir_all(&out_dir)
        .map_err(|e| format!("cannot create {}: {e}", out_dir.display()))?;
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let wasm_opt = find_wasm_opt();
    if wasm_opt.is_none() {
        println!(
            "cargo:warning=wasm-opt not found: SDK test kernels are not optimised \
             (install binaryen or set SORU_WASM_OPT)"
        );
    }

    for kernel in KERNELS {
        let mut command = Command::new(&cargo);
        command
            .current_dir(&workspace)
            .args(["build", "--release", "--locked", "--quiet"])
            .args([
                "--target",
                "wasm32-unknown-unknown",
                "-p",
                "soru-test-kernels",
            ])
            .args(["--features", &format!("kernel-{kernel}")])
            .arg("--manifest-path")
            .arg(workspace.join("Cargo.toml"))
            // Small modules without debug info; the profile is otherwise the workspace's.
            .args(["--config", "profile.release.debug=false"])
            .args(["--config", "profile.release.strip=\"debuginfo\""]);
        scrub_env(&mut command);
        command.env("CARGO_TARGET_DIR", &target_dir);
        let status = command
            .status()
            .map_err(|e| format!("cannot run `{cargo}` for kernel `{kernel}`: {e}"))?;
        if !status.success() {
            return Err(format!(
                "`cargo build --release --target wasm32-unknown-unknown -p soru-test-kernels \
                 --features kernel-{kernel}` failed ({status}); its errors are printed above.\n\
                 Is the target installed? `rustup target add wasm32-unknown-unknown`"
            ));
        }
        let built = target_dir
            .join("wasm32-unknown-unknown")
            .join("release")
            .join("soru_test_kernels.wasm");
        let dest = out_dir.join(format!("{kernel}.wasm"));
        match &wasm_opt {
            Some(wasm_opt) => optimise(wasm_opt, &built, &dest)?,
            None => {
                fs::copy(&built, &dest).map_err(|e| {
                    format!("cannot copy {} to {}: {e}", built.display(), dest.display())
                })?;
            }
        }
    }
    println!(
        "cargo:rustc-env=SORU_TEST_KERNELS_DIR={}",
        out_dir.display()
    );
    Ok(())
}

/// Removes every variable cargo sets for build scripts or the outer build, keeping the user's
/// cargo configuration (home, registries, network, jobserver).
fn scrub_env(command: &mut Command) {
    for (key, _) in env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        let keep = matches!(key, "CARGO_HOME" | "CARGO_MAKEFLAGS")
            || key.starts_with("CARGO_NET_")
            || key.starts_with("CARGO_HTTP_")
            || key.starts_with("CARGO_REGISTRIES_")
            || key.starts_with("CARGO_REGISTRY_");
        let leaky = key.starts_with("CARGO_")
            || key.starts_with("DEP_")
            || LEAKY_VARS.contains(&key)
            || matches!(key, "OPT_LEVEL" | "DEBUG" | "NUM_JOBS" | "RUSTC_LINKER");
        if leaky && !keep {
            command.env_remove(key);
        }
    }
}

/// `wasm-opt` from `SORU_WASM_OPT`, else from `PATH`.
fn find_wasm_opt() -> Option<PathBuf> {
    if let Some(path) = env::var_os("SORU_WASM_OPT") {
        return Some(PathBuf::from(path));
    }
    env::split_paths(&env::var_os("PATH")?)
        .map(|dir| dir.join("wasm-opt"))
        .find(|candidate| candidate.is_file())
}

fn optimise(wasm_opt: &Path, input: &Path, output: &Path) -> Result<(), String> {
    let result = Command::new(wasm_opt)
        .arg("-O2")
        .args(WASM_OPT_FEATURES)
        .arg("--strip-debug")
        // Drop rustc's target_features section so no engine reads reference-types/multivalue
        // into it: the code itself was just validated without them.
        .arg("--strip-target-features")
        .arg(input)
        .arg("-o")
        .arg(output)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", wasm_opt.display()))?;
    if !result.status.success() {
        return Err(format!(
            "`{} -O2 {} {}` failed ({}):\n{}",
            wasm_opt.display(),
            WASM_OPT_FEATURES.join(" "),
            input.display(),
            result.status,
            String::from_utf8_lossy(&result.stderr)
        ));
    }
    Ok(())
}
