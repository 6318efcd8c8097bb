//! Hostile kernels: none may crash the process, hang past its fuel, exhaust the host's memory
//! or get an answer that depends on the machine. Kernels are in `tests/kernels/hostile/`.

use soru_core::abi::{HOST_CALL_FUEL, MAX_DEBUG_BYTES_PER_LEVEL};
use soru_core::pvm::{Pvm, PvmConfig, Status, StuckReason};
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

fn with_fuel(fuel: u64) -> PvmConfig {
    PvmConfig {
        fuel_per_kernel_run: fuel,
        ..PvmConfig::default()
    }
}

/// A kernel calling `write_output` forever on a full outbox ends within its fuel: each call
/// costs octez's ticks for it (`host_call_fuel`), at least [`HOST_CALL_FUEL`] besides the call
/// instruction, so the run stops after a bounded number of calls.
#[test]
fn host_calls_use_up_the_fuel_of_a_run() {
    let fuel = 2_000_000;
    let mut pvm = Pvm::new(&kernel("output_forever"), with_fuel(fuel)).unwrap();
    let report = pvm.run_level(&[], &mut NoReveal).unwrap();
    assert_eq!(report.status, Status::Stuck);
    assert_eq!(report.stuck_reason, Some(StuckReason::TooManyTicks));
    assert_eq!(report.outbox.len(), 100);
    assert!(
        report.fuel <= fuel && report.fuel + 8 > fuel,
        "{}",
        report.fuel
    );
    let [failure] = &report.failures[..] else {
        panic!("{:?}", report.failures)
    };
    assert_eq!(failure.function, "write_output");
    assert!(failure.stuck);
}

/// Debug output is kept up to a per-level cap; the rest is counted, not buffered.
#[test]
fn debug_output_is_capped_per_level() {
    let mut pvm = Pvm::new(&kernel("debug_forever"), with_fuel(50_000_000)).unwrap();
    let report = pvm.run_level(&[], &mut NoReveal).unwrap();
    assert_eq!(report.stuck_reason, Some(StuckReason::TooManyTicks));
    let kept: usize = report.debug.iter().map(|d| d.len()).sum();
    assert!(kept <= MAX_DEBUG_BYTES_PER_LEVEL, "{kept}");
    assert!(kept > MAX_DEBUG_BYTES_PER_LEVEL / 2, "{kept}");
    assert!(report.debug_dropped > 0);
}

/// A trap is not silent: the level says which run failed, why, in which function, with how
/// much fuel, and the stuck flag is visible.
#[test]
fn a_trap_is_reported_with_its_reason_function_and_fuel() {
    let mut pvm = Pvm::new(&kernel("trap_after_call"), PvmConfig::default()).unwrap();
    let report = pvm.run_level(&[], &mut NoReveal).unwrap();
    assert_eq!(report.status, Status::WaitingForInput);
    assert!(report.flags.stuck);
    let [failure] = &report.failures[..] else {
        panic!("{:?}", report.failures)
    };
    assert_eq!(failure.run, 0);
    assert!(failure.reason.contains("unreachable"), "{}", failure.reason);
    assert_eq!(failure.function, "read_input");
    assert!(failure.fuel >= HOST_CALL_FUEL);
    assert_eq!(failure.fuel, report.fuel);
    assert!(!failure.stuck);
}
