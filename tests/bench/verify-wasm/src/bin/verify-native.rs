//! The native half of `scripts/bench-verify-node.sh`.
//!
//! `verify-native produce <file> <keys>` writes the verification input (root, key, one-value
//! proof) for a durable-shaped tree of `<keys>` accounts and prints `proof_bytes=<n>`.
//! `verify-native bench <file> <iterations>` verifies it, after a warm-up, in 5 rounds of
//! `<iterations>` and prints the best round's `us_per_verify=<t>` and the median, exactly as
//! `verify.mjs` does for the wasm build.

use std::process::ExitCode;
use std::time::Instant;

use soru_verify_wasm_bench::{produce_input, verify_input_n};

/// Timed rounds; the best is reported (the machine may be shared), with the median.
const ROUNDS: usize = 5;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize| args.get(i).map(String::as_str);
    let num = |i: usize| arg(i).and_then(|s| s.parse::<usize>().ok());
    match (arg(1), arg(2), num(3)) {
        (Some("produce"), Some(file), Some(keys)) => {
            let (input, proof_bytes) = produce_input(keys);
            if let Err(e) = std::fs::write(file, &input) {
                eprintln!("verify-native: cannot write {file}: {e}");
                return ExitCode::FAILURE;
            }
            println!("keys={keys} proof_bytes={proof_bytes}");
            ExitCode::SUCCESS
        }
        (Some("bench"), Some(file), Some(iters)) => {
            let input = match std::fs::read(file) {
                Ok(b) => b,
                Err(e) => {
                    eprintln!("verify-native: cannot read {file}: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let iters = u32::try_from(iters).unwrap_or(u32::MAX);
            let warm = verify_input_n(&input, (iters / 10).max(10));
            if warm != 0 {
                eprintln!("verify-native: verification failed with code {warm}");
                return ExitCode::FAILURE;
            }
            let mut rounds = Vec::with_capacity(ROUNDS);
            for _ in 0..ROUNDS {
                let start = Instant::now();
                let status = verify_input_n(&input, iters);
                let elapsed = start.elapsed();
                if status != 0 {
                    eprintln!("verify-native: verification failed with code {status}");
                    return ExitCode::FAILURE;
                }
                rounds.push(elapsed.as_secs_f64() * 1e6 / f64::from(iters));
            }
            rounds.sort_by(f64::total_cmp);
            println!(
                "us_per_verify={:.2} median={:.2} rounds={ROUNDS} iterations={iters}",
                rounds[0],
                rounds[ROUNDS / 2]
            );
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("usage: verify-native produce <file> <keys> | bench <file> <iterations>");
            ExitCode::FAILURE
        }
    }
}
