//! PVM benchmarks on kernels built with the official Tezos kernel SDK (`tests/kernels`):
//!
//! - `pvm/compute_kernel_run`: one level whose single `kernel_run` runs [`COMPUTE_ROUNDS`]
//!   rounds of the compute kernel's integer hash loop; throughput is wasmi fuel per second.
//! - `pvm/echo_level`: one level of [`ECHO_MESSAGES`] external messages of [`ECHO_PAYLOAD`]
//!   bytes through the echo kernel (inputs, `kernel_run`, outbox, state hash); throughput is
//!   inputs per second. Levels follow each other on one PVM, as on a rollup node, so the state
//!   accumulates one outbox per level (octez keeps them for the validity period); the bench
//!   prints how many levels the state holds at the end and records it for the table.
//! - `pvm/echo_level_fresh`: the same level on a PVM that has run a single level before, so
//!   the two rows together show what the accumulated state costs.
//!
//! The kernels' wasm modules come from `tests/build.rs` (`cargo build -p soru-tests` builds
//! them into `target/sdk-kernels/kernels/`; `SORU_KERNELS_DIR` overrides the directory).
//! `make bench` (`scripts/bench.sh`) runs these benches next to the wasmtime baseline
//! (`tests/bench`), which uses the same workloads, and prints one table.

// criterion's macros generate undocumented items.
#![allow(missing_docs)]

use std::path::PathBuf;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use soru_core::pvm::{Pvm, PvmConfig, Status};
use soru_core::reveal::NoReveal;

/// Rounds of the compute kernel's hash loop (as in `tests/bench`).
const COMPUTE_ROUNDS: u32 = 200;
/// External messages per echo level (the outbox takes at most 100 per level).
const ECHO_MESSAGES: usize = 100;
/// Bytes per echo message body.
const ECHO_PAYLOAD: usize = 32;

fn kernel(name: &str) -> Vec<u8> {
    let dir = std::env::var_os("SORU_KERNELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/sdk-kernels/kernels")
        });
    let path = dir.join(format!("{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read the SDK test kernel {}: {e}\n\
             build the kernels first with `cargo build -p soru-tests` (or run `make bench`), \
             or point SORU_KERNELS_DIR at them",
            path.display()
        )
    })
}

fn originate(wasm: &[u8]) -> Pvm {
    Pvm::new(wasm, PvmConfig::default()).expect("the PVM accepts the SDK test kernel")
}

fn compute(c: &mut Criterion) {
    let wasm = kernel("compute");
    let mut message = vec![0x01];
    message.extend_from_slice(&COMPUTE_ROUNDS.to_be_bytes());
    let inbox = vec![message];

    // One checked run tells the fuel the workload burns.
    let report = originate(&wasm)
        .run_level(&inbox, &mut NoReveal)
        .expect("the compute level runs");
    assert_eq!(report.status, Status::WaitingForInput, "{report:?}");
    assert_eq!(report.outbox.len(), 1, "one digest per message");

    let mut group = c.benchmark_group("pvm");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(6));
    group.throughput(Throughput::Elements(report.fuel));
    group.bench_function("compute_kernel_run", |b| {
        b.iter_batched(
            || originate(&wasm),
            |mut pvm| pvm.run_level(&inbox, &mut NoReveal).expect("level runs"),
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

fn echo(c: &mut Criterion) {
    let wasm = kernel("echo");
    let inbox: Vec<Vec<u8>> = (0..ECHO_MESSAGES)
        .map(|i| {
            let mut message = vec![0x01];
            message.extend((0..ECHO_PAYLOAD).map(|j| (i * 7 + j) as u8));
            message
        })
        .collect();
    let mut pvm = originate(&wasm);
    let report = pvm
        .run_level(&inbox, &mut NoReveal)
        .expect("the echo level runs");
    assert_eq!(report.outbox.len(), ECHO_MESSAGES, "every input is echoed");

    let mut group = c.benchmark_group("pvm");
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(6));
    group.throughput(Throughput::Elements(ECHO_MESSAGES as u64));
    // Levels follow each other on one PVM, as on a rollup node.
    group.bench_function("echo_level", |b| {
        b.iter(|| pvm.run_level(&inbox, &mut NoReveal).expect("level runs"))
    });
    group.bench_function("echo_level_fresh", |b| {
        b.iter_batched(
            || {
                let mut fresh = originate(&wasm);
                fresh.run_level(&inbox, &mut NoReveal).expect("level runs");
                fresh
            },
            |mut fresh| fresh.run_level(&inbox, &mut NoReveal).expect("level runs"),
            BatchSize::PerIteration,
        )
    });
    group.finish();
    let levels = pvm.report().expect("report").level + 1;
    println!(
        "pvm/echo_level: the benchmarked PVM ran {levels} levels; its state holds {} outboxes \
         (validity period {})",
        levels.min(pvm.config().outbox_validity_period),
        pvm.config().outbox_validity_period
    );
    note("echo_level_levels", &levels.to_string());
}

/// Records `value` under `name` for the table of `make bench` (`SORU_BENCH_NOTES` names the
/// directory; without it nothing is written).
fn note(name: &str, value: &str) {
    if let Some(dir) = std::env::var_os("SORU_BENCH_NOTES") {
        let dir = PathBuf::from(dir);
        std::fs::create_dir_all(&dir).expect("create SORU_BENCH_NOTES");
        std::fs::write(dir.join(name), value).expect("write a bench note");
    }
}

criterion_group!(benches, compute, echo);
criterion_main!(benches);
