//! Writing many new durable keys in one `kernel_run`: wall time and heap bytes per key.
//!
//! A WAT kernel writes `SORU_DURABLE_BENCH_KEYS` (default 1,000,000) keys
//! `/accounts/<8 hex digits>`, each with an 8-byte value, by one `store_write` each, in a
//! single `kernel_run`; the level then ends with the state hash of the whole tree. The bench
//! reports the time per key and the heap the PVM keeps per key (measured by a counting global
//! allocator, so it is exact and does not depend on the machine's load), plus the peak.
//!
//! `SORU_DURABLE_BENCH_KEYS=100000 cargo bench -p soru-core --bench durable_keys`. With
//! `SORU_BENCH_NOTES=DIR` (as `make bench` sets it) the figures and the kernel are also written
//! to `DIR`, where the wasmtime baseline (`tests/bench`) runs the same kernel on a plain map.

#![allow(missing_docs)]

use std::sync::atomic::Ordering;
use std::time::Instant;

use soru_core::pvm::{Pvm, PvmConfig, Status};
use soru_core::reveal::NoReveal;

// The counting allocator, shared with the wasmtime baseline so both count alike.
#[path = "../../tests/bench/src/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::{LIVE, PEAK};

/// The kernel: `n` times, write the 8-byte little-endian counter at `/accounts/<hex counter>`.
fn kernel(n: u32) -> Vec<u8> {
    wat::parse_str(format!(
        r#"(module
  (import "smart_rollup_core" "store_write"
    (func $store_write (param i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "/accounts/00000000")
  (func (export "kernel_run") (local $i i32) (local $d i32) (local $nib i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (i32.const {n})))
        ;; the 8 hex digits of $i at bytes 10..18
        (local.set $d (i32.const 0))
        (loop $digit
          (local.set $nib (i32.and
            (i32.shr_u (local.get $i) (i32.sub (i32.const 28) (i32.shl (local.get $d) (i32.const 2))))
            (i32.const 15)))
          (i32.store8 (i32.add (i32.const 10) (local.get $d))
            (i32.add (local.get $nib)
              (select (i32.const 87) (i32.const 48) (i32.gt_u (local.get $nib) (i32.const 9)))))
          (local.set $d (i32.add (local.get $d) (i32.const 1)))
          (br_if $digit (i32.lt_u (local.get $d) (i32.const 8))))
        (i64.store (i32.const 64) (i64.extend_i32_u (local.get $i)))
        (if (call $store_write (i32.const 0) (i32.const 18) (i32.const 0) (i32.const 64) (i32.const 8))
          (then unreachable))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))))"#
    ))
    .expect("the bench kernel is valid WAT")
}

/// Records `value` under `name` for the table of `make bench` (`SORU_BENCH_NOTES` names the
/// directory; without it nothing is written).
fn note(name: &str, value: &str) {
    note_bytes(name, value.as_bytes());
}

fn note_bytes(name: &str, value: &[u8]) {
    if let Some(dir) = std::env::var_os("SORU_BENCH_NOTES") {
        let dir = std::path::PathBuf::from(dir);
        std::fs::create_dir_all(&dir).expect("create SORU_BENCH_NOTES");
        std::fs::write(dir.join(name), value).expect("write a bench note");
    }
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing: run small then.
    let testing = !std::env::args().any(|a| a == "--bench");
    let n: u32 = std::env::var("SORU_DURABLE_BENCH_KEYS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if testing { 1000 } else { 1_000_000 });
    let wasm = kernel(n);
    let mut pvm = Pvm::new(&wasm, PvmConfig::default()).expect("the bench kernel is valid");
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let start = Instant::now();
    let report = pvm.run_level(&[], &mut NoReveal).expect("the level runs");
    let elapsed = start.elapsed();
    assert_eq!(report.status, Status::WaitingForInput, "{report:?}");
    let kept = LIVE.load(Ordering::Relaxed).saturating_sub(before);
    let peak = PEAK.load(Ordering::Relaxed).saturating_sub(before);
    let key = |i: u32| format!("/accounts/{i:08x}");
    for i in [0, n / 2, n - 1] {
        let k = soru_core::durable::Key::from_path(&key(i)).unwrap();
        assert_eq!(
            pvm.durable().read_all(&k).unwrap(),
            Some(u64::from(i).to_le_bytes().to_vec())
        );
    }
    note("durable_keys_n", &n.to_string());
    note("durable_keys_seconds", &elapsed.as_secs_f64().to_string());
    note("durable_keys_kept_bytes", &kept.to_string());
    note("durable_keys_peak_bytes", &peak.to_string());
    note_bytes("durable_keys.wasm", &wasm);
    println!(
        "durable_keys: {n} new keys in one kernel_run: {:.2} s, {:.2} µs/key, {:.0} bytes/key kept \
         ({:.0} peak), fuel {}",
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e6 / f64::from(n),
        kept as f64 / f64::from(n),
        peak as f64 / f64::from(n),
        report.fuel
    );
}
