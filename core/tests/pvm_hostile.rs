//! Hostile kernels: none may crash the process, hang past its fuel, exhaust the host's memory
//! or get an answer that depends on the machine. Kernels are in `tests/kernels/hostile/`.

use soru_core::pvm::{Pvm, PvmConfig, Status};
use soru_core::reveal::NoReveal;

fn kernel(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/kernels/hostile/{name}.wat",
        env!("CARGO_MANIFEST_DIR")
    );
    wat::parse_file(path).expect("test kernel parses")
}

fn run_one_level(name: &str) -> soru_core::pvm::LevelReport {
    let mut pvm = Pvm::new(&kernel(name), PvmConfig::default()).unwrap();
    let report = pvm.run_level(&[], &mut NoReveal).unwrap();
    assert_eq!(report.status, Status::WaitingForInput, "{name}");
    report
}

fn words(outbox: &[Vec<u8>]) -> Vec<i32> {
    outbox
        .iter()
        .map(|m| i32::from_le_bytes(m[..4].try_into().unwrap()))
        .collect()
}

/// These loops used to abort the process ("has overflowed its stack"): wasmi's tail-call
/// dispatch leaked one native frame per `memory.grow`, `table.grow` and multi-value
/// `br_table`. The test threads' 2 MiB stacks held about 12,000 of them.
#[test]
fn a_million_failing_memory_grows_run_in_constant_native_stack() {
    run_one_level("grow_fail_loop");
}

#[test]
fn a_million_failing_table_grows_run_in_constant_native_stack() {
    run_one_level("table_grow_fail_loop");
}

#[test]
fn a_million_multi_value_br_tables_run_in_constant_native_stack() {
    run_one_level("br_table_span_loop");
}

#[test]
fn growing_one_page_at_a_time_stops_at_the_declared_maximum() {
    let report = run_one_level("grow_one_page_forever");
    assert_eq!(words(&report.outbox[..]), [64]);
}

#[test]
fn memory_and_table_ceilings_are_the_same_on_every_machine() {
    let report = run_one_level("ceilings");
    assert_eq!(words(&report.outbox), [-1, 1, -1, 1, -1]);
}
