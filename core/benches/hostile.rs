//! Wall time of kernel runs that exhaust their fuel through host calls, against a run that
//! exhausts the same fuel in plain wasm (the baseline, measured in the same process). Host
//! calls cost octez's ticks (`soru_core::abi::host_call_fuel`), never more, so the ratio says
//! how much slower than plain wasm a unit of fuel can be: the wall-time bound of a run is its
//! fuel times the slowest row's time per unit. `make bench` prints the table
//! (scripts/bench.sh).
//!
//! Environment: SORU_HOSTILE_FUEL (fuel per run, default 200000000).

use std::time::Instant;

use soru_core::pvm::{Pvm, PvmConfig, Status};
use soru_core::reveal::NoReveal;

/// Each kernel loops forever; only its fuel ends the run.
const KERNELS: [(&str, &str); 4] = [
    (
        "compute loop (baseline)",
        r#"(module (memory (export "memory") 1)
  (func (export "kernel_run") (local $i i32)
    (loop $l (local.set $i (i32.add (local.get $i) (i32.const 1))) (br $l))))"#,
    ),
    (
        "write_output on a full outbox",
        r#"(module
  (import "smart_rollup_core" "write_output" (func $f (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "kernel_run") (loop $l (drop (call $f (i32.const 0) (i32.const 4096))) (br $l))))"#,
    ),
    (
        "store_write 2048 bytes",
        r#"(module
  (import "smart_rollup_core" "store_write" (func $f (param i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "/k")
  (func (export "kernel_run")
    (loop $l (drop (call $f (i32.const 0) (i32.const 2) (i32.const 0) (i32.const 64) (i32.const 2048))) (br $l))))"#,
    ),
    (
        "write_debug 4096 bytes",
        r#"(module
  (import "smart_rollup_core" "write_debug" (func $f (param i32 i32)))
  (memory (export "memory") 1)
  (func (export "kernel_run") (loop $l (call $f (i32.const 0) (i32.const 4096)) (br $l))))"#,
    ),
];

fn run(wat: &str, fuel: u64) -> f64 {
    let kernel = wat::parse_str(wat).expect("bench kernel parses");
    let config = PvmConfig {
        fuel_per_kernel_run: fuel,
        ..PvmConfig::default()
    };
    let mut pvm = Pvm::new(&kernel, config).expect("valid kernel");
    let start = Instant::now();
    let report = pvm.run_level(&[], &mut NoReveal).expect("level runs");
    let seconds = start.elapsed().as_secs_f64();
    assert_eq!(report.status, Status::Stuck, "the run must end by fuel");
    // All of it but what could not pay for the next instruction or call.
    assert!(
        report.fuel <= fuel && report.fuel + 16 > fuel,
        "{}",
        report.fuel
    );
    seconds
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is expected.
    let fuel: u64 = std::env::var("SORU_HOSTILE_FUEL")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000_000);
    let baseline = run(KERNELS[0].1, fuel);
    println!("fuel exhausted through host calls ({fuel} fuel per run; baseline: the compute loop)");
    println!();
    println!("| run | wall time | per unit of fuel | baseline (compute loop) | ratio |");
    println!("|---|---|---|---|---|");
    for (name, wat) in KERNELS.iter().skip(1) {
        let t = run(wat, fuel);
        println!(
            "| {name} | {:.1} ms | {:.3} µs | {:.1} ms | {:.2}x |",
            t * 1e3,
            t * 1e6 / fuel as f64,
            baseline * 1e3,
            t / baseline
        );
    }
}
