//! # soru-bench-baseline
//!
//! The wasmtime baseline of Soru's PVM benchmarks, and the table printer of `make bench`.
//!
//! It runs the same SDK test kernels as `core/benches/pvm.rs` (built by `tests/build.rs` into
//! `target/sdk-kernels/kernels/`) under wasmtime with a minimal `smart_rollup_core` host (just
//! the functions those kernels import: `read_input`, `write_output`, `write_debug`), then reads
//! the criterion results of the Soru benches from `target/criterion` and prints one table:
//! benchmark, Soru (wasmi) figure, baseline (wasmtime) figure, ratio.
//!
//! ```text
//! soru-bench-baseline --kernels target/sdk-kernels/kernels --criterion target/criterion \
//!     [--since <unix seconds>] [--seconds <per baseline measurement>] [--notes <dir>]
//! ```
//!
//! `--notes` names the directory where the Soru benches leave figures criterion does not keep
//! (`SORU_BENCH_NOTES`): how many levels the echo bench accumulated, and the durable-keys run
//! of `core/benches/durable_keys.rs` (its kernel, time and heap bytes), which this tool runs
//! again under wasmtime with a plain `BTreeMap` as durable storage.
//!
//! ```text
//! ```
//!
//! The workloads must stay in sync with `core/benches/pvm.rs`: [`COMPUTE_ROUNDS`] rounds of the
//! compute kernel in one `kernel_run`, and one level of [`ECHO_MESSAGES`] external messages of
//! [`ECHO_PAYLOAD`] bytes for the echo kernel. Both sides include instantiating the module for
//! each `kernel_run` (the PVM starts every run from a fresh instance) but not compiling it.
//!
//! This crate is excluded from the workspace so that `cargo clippy --workspace` never compiles
//! wasmtime.

use std::collections::{BTreeMap, VecDeque};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context, Result};
use wasmtime::{Caller, Config, Engine, Extern, Linker, Module, Store};

/// Rounds of the compute kernel's hash loop per `kernel_run` (as in `core/benches/pvm.rs`).
const COMPUTE_ROUNDS: u32 = 200;
/// External messages per echo level (the PVM's outbox takes at most 100 per level).
const ECHO_MESSAGES: usize = 100;
/// Bytes per echo message body.
const ECHO_PAYLOAD: usize = 32;
/// The criterion group of the Soru PVM benches.
const PVM_GROUP: &str = "pvm";
/// Criterion ids of the Soru benches the baseline mirrors.
const COMPUTE_ID: &str = "compute_kernel_run";
const ECHO_ID: &str = "echo_level";
const ECHO_FRESH_ID: &str = "echo_level_fresh";

/// Counts live heap bytes, so the baseline's memory per durable key is measured exactly as
/// `core/benches/durable_keys.rs` measures Soru's (both use this file).
#[path = "counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::LIVE;

/// Host state of the minimal `smart_rollup_core` host.
#[derive(Default)]
struct HostState {
    /// Durable storage as a plain ordered map (the `store_write` of the durable-keys workload).
    store: BTreeMap<Vec<u8>, Vec<u8>>,
    /// Inputs still to be read this level: full inbox messages (tag byte included).
    inbox: VecDeque<Vec<u8>>,
    /// Outbox messages written this level.
    outbox: Vec<Vec<u8>>,
    /// Bytes written to the debug log.
    debug_bytes: usize,
}

fn memory(caller: &mut Caller<'_, HostState>) -> wasmtime::Result<wasmtime::Memory> {
    match caller.get_export("memory") {
        Some(Extern::Memory(memory)) => Ok(memory),
        _ => Err(wasmtime::Error::msg("the kernel exports no memory")),
    }
}

/// wasmtime 48 has its own error type; this crate reports with `anyhow`.
fn wt<T>(result: wasmtime::Result<T>) -> Result<T> {
    result.map_err(|e| anyhow!("{e:?}"))
}

/// The host functions the benchmark kernels import, with the PVM's semantics for the cases the
/// workloads reach (4096-byte limits, error code -3 for out-of-bounds memory).
fn linker(engine: &Engine) -> Result<Linker<HostState>> {
    let mut linker = Linker::new(engine);
    wt(linker.func_wrap(
        "smart_rollup_core",
        "read_input",
        |mut caller: Caller<'_, HostState>,
         info: u32,
         dst: u32,
         max: u32|
         -> wasmtime::Result<i32> {
            let Some(message) = caller.data_mut().inbox.pop_front() else {
                return Ok(0);
            };
            let memory = memory(&mut caller)?;
            let n = message.len().min(max as usize).min(4096);
            let mut meta = [0u8; 8];
            meta[..4].copy_from_slice(&1u32.to_le_bytes());
            if memory.write(&mut caller, info as usize, &meta).is_err()
                || memory
                    .write(&mut caller, dst as usize, &message[..n])
                    .is_err()
            {
                return Ok(-3);
            }
            Ok(n as i32)
        },
    ))?;
    wt(linker.func_wrap(
        "smart_rollup_core",
        "write_output",
        |mut caller: Caller<'_, HostState>, src: u32, len: u32| -> wasmtime::Result<i32> {
            if len > 4096 {
                return Ok(-2);
            }
            let memory = memory(&mut caller)?;
            let mut bytes = vec![0u8; len as usize];
            if memory.read(&caller, src as usize, &mut bytes).is_err() {
                return Ok(-3);
            }
            caller.data_mut().outbox.push(bytes);
            Ok(0)
        },
    ))?;
    wt(linker.func_wrap(
        "smart_rollup_core",
        "store_write",
        |mut caller: Caller<'_, HostState>,
         key: u32,
         key_len: u32,
         offset: u32,
         src: u32,
         len: u32|
         -> wasmtime::Result<i32> {
            let memory = memory(&mut caller)?;
            let mut k = vec![0u8; key_len as usize];
            let mut bytes = vec![0u8; len as usize];
            if memory.read(&caller, key as usize, &mut k).is_err()
                || memory.read(&caller, src as usize, &mut bytes).is_err()
            {
                return Ok(-6);
            }
            let value = caller.data_mut().store.entry(k).or_default();
            let offset = offset as usize;
            if offset > value.len() {
                return Ok(-4);
            }
            let end = offset + bytes.len();
            if end > value.len() {
                value.resize(end, 0);
            }
            value[offset..end].copy_from_slice(&bytes);
            Ok(0)
        },
    ))?;
    wt(linker.func_wrap(
        "smart_rollup_core",
        "write_debug",
        |mut caller: Caller<'_, HostState>, _src: u32, len: u32| {
            caller.data_mut().debug_bytes += len as usize;
        },
    ))?;
    Ok(linker)
}

/// One compiled kernel under wasmtime.
struct Baseline {
    engine: Engine,
    module: Module,
    linker: Linker<HostState>,
}

impl Baseline {
    fn load(path: &Path) -> Result<Baseline> {
        let bytes = fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        Baseline::from_bytes(&bytes, path)
    }

    fn from_bytes(bytes: &[u8], path: &Path) -> Result<Baseline> {
        let mut config = Config::new();
        config.cranelift_opt_level(wasmtime::OptLevel::Speed);
        let engine = wt(Engine::new(&config))?;
        let module = wt(Module::new(&engine, bytes))
            .with_context(|| format!("wasmtime rejects {}", path.display()))?;
        let linker = linker(&engine)?;
        Ok(Baseline {
            engine,
            module,
            linker,
        })
    }

    /// One `kernel_run` on a fresh instance; returns the host state (store, outbox) after it.
    fn kernel_run_state(&self, inbox: &[Vec<u8>]) -> Result<HostState> {
        let state = HostState {
            inbox: inbox.iter().cloned().collect(),
            ..HostState::default()
        };
        let mut store = Store::new(&self.engine, state);
        let instance = wt(self.linker.instantiate(&mut store, &self.module))?;
        let run = wt(instance.get_typed_func::<(), ()>(&mut store, "kernel_run"))?;
        wt(run.call(&mut store, ()))?;
        Ok(store.into_data())
    }

    /// One `kernel_run` on a fresh instance with `inbox`; returns the outbox.
    fn kernel_run(&self, inbox: &[Vec<u8>]) -> Result<Vec<Vec<u8>>> {
        Ok(self.kernel_run_state(inbox)?.outbox)
    }
}

/// Mean duration of `f` over as many runs as fit in `budget` (at least 3, after one warm-up).
fn measure(budget: Duration, mut f: impl FnMut() -> Result<()>) -> Result<Duration> {
    f()?;
    let start = Instant::now();
    let mut runs = 0u32;
    while runs < 3 || start.elapsed() < budget {
        f()?;
        runs += 1;
    }
    Ok(start.elapsed() / runs)
}

/// The external inbox message (`0x01 ++ body`) of the compute workload.
fn compute_inbox() -> Vec<Vec<u8>> {
    let mut message = vec![0x01];
    message.extend_from_slice(&COMPUTE_ROUNDS.to_be_bytes());
    vec![message]
}

/// The external inbox messages of the echo workload.
fn echo_inbox() -> Vec<Vec<u8>> {
    (0..ECHO_MESSAGES)
        .map(|i| {
            let mut message = vec![0x01];
            message.extend((0..ECHO_PAYLOAD).map(|j| (i * 7 + j) as u8));
            message
        })
        .collect()
}

/// A criterion result: mean time per iteration and the declared throughput, if any.
struct CriterionResult {
    id: String,
    mean: Duration,
    elements: Option<u64>,
}

fn read_criterion(dir: &Path, since: u64) -> Result<Vec<CriterionResult>> {
    let mut results = Vec::new();
    if !dir.is_dir() {
        return Ok(results);
    }
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        for entry in fs::read_dir(&current)? {
            let path = entry?.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n == "new") {
                    if let Some(result) = read_one(&path, since)? {
                        results.push(result);
                    }
                } else if path.file_name().is_none_or(|n| n != "report") {
                    stack.push(path);
                }
            }
        }
    }
    results.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(results)
}

/// Reads `<bench>/new/{estimates,benchmark}.json` if written after `since`.
fn read_one(new_dir: &Path, since: u64) -> Result<Option<CriterionResult>> {
    let estimates_path = new_dir.join("estimates.json");
    let benchmark_path = new_dir.join("benchmark.json");
    let (Ok(estimates), Ok(benchmark)) = (
        fs::read_to_string(&estimates_path),
        fs::read_to_string(&benchmark_path),
    ) else {
        return Ok(None);
    };
    let modified = fs::metadata(&estimates_path)?
        .modified()?
        .duration_since(UNIX_EPOCH)?
        .as_secs();
    if modified < since {
        return Ok(None);
    }
    let estimates: serde_json::Value = serde_json::from_str(&estimates)
        .with_context(|| format!("malformed {}", estimates_path.display()))?;
    let benchmark: serde_json::Value = serde_json::from_str(&benchmark)
        .with_context(|| format!("malformed {}", benchmark_path.display()))?;
    let mean_ns = estimates["mean"]["point_estimate"]
        .as_f64()
        .ok_or_else(|| anyhow!("{} has no mean", estimates_path.display()))?;
    let id = benchmark["full_id"]
        .as_str()
        .ok_or_else(|| anyhow!("{} has no full_id", benchmark_path.display()))?
        .to_owned();
    let elements = benchmark["throughput"]["Elements"].as_u64();
    Ok(Some(CriterionResult {
        id,
        mean: Duration::from_nanos(mean_ns as u64),
        elements,
    }))
}

/// A figure a Soru bench left in the notes directory, if any.
fn read_note(notes: Option<&Path>, name: &str) -> Option<String> {
    fs::read_to_string(notes?.join(name))
        .ok()
        .map(|s| s.trim().to_owned())
}

/// The durable-keys rows: Soru's figures from the notes, the same kernel under wasmtime with a
/// `BTreeMap` store measured now.
fn durable_rows(notes: Option<&Path>, budget: Duration) -> Result<()> {
    let (Some(n), Some(seconds), Some(kept), Some(dir)) = (
        read_note(notes, "durable_keys_n"),
        read_note(notes, "durable_keys_seconds"),
        read_note(notes, "durable_keys_kept_bytes"),
        notes,
    ) else {
        println!(
            "| new durable keys in one kernel_run | (durable_keys bench did not run) | - | - |"
        );
        return Ok(());
    };
    let n: f64 = n.parse().context("durable_keys_n")?;
    let seconds: f64 = seconds.parse().context("durable_keys_seconds")?;
    let kept: f64 = kept.parse().context("durable_keys_kept_bytes")?;
    let path = dir.join("durable_keys.wasm");
    let bytes = fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let kernel = Baseline::from_bytes(&bytes, &path)?;
    let before = LIVE.load(Ordering::Relaxed);
    let state = kernel.kernel_run_state(&[])?;
    let base_kept = LIVE.load(Ordering::Relaxed).saturating_sub(before) as f64;
    if state.store.len() as f64 != n {
        bail!(
            "the durable-keys kernel wrote {} keys under wasmtime, expected {n}",
            state.store.len()
        );
    }
    drop(state);
    // One run takes long at 10^6 keys: measure at least once, within the budget otherwise.
    let base = measure(budget.min(Duration::from_secs(1)), || {
        kernel.kernel_run_state(&[]).map(drop)
    })?;
    let us = seconds * 1e6 / n;
    let base_us = base.as_secs_f64() * 1e6 / n;
    println!(
        "| {n:.0} new durable keys in one kernel_run: time per key | {us:.2} µs | {base_us:.2} µs | {:.2} |",
        us / base_us
    );
    println!(
        "| {n:.0} new durable keys: heap kept per key | {:.0} bytes | {:.0} bytes | {:.2} |",
        kept / n,
        base_kept / n,
        kept / base_kept
    );
    Ok(())
}

fn fmt_duration(d: Duration) -> String {
    let ns = d.as_nanos() as f64;
    if ns >= 1e9 {
        format!("{:.2} s", ns / 1e9)
    } else if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

fn per_second(count: f64, d: Duration) -> f64 {
    count / d.as_secs_f64()
}

struct Args {
    kernels: PathBuf,
    notes: Option<PathBuf>,
    criterion: PathBuf,
    since: u64,
    budget: Duration,
}

fn parse_args() -> Result<Args> {
    let mut args = Args {
        kernels: PathBuf::from("target/sdk-kernels/kernels"),
        notes: None,
        criterion: PathBuf::from("target/criterion"),
        since: 0,
        budget: Duration::from_secs(3),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| anyhow!("{flag} needs a value"));
        match flag.as_str() {
            "--kernels" => args.kernels = value()?.into(),
            "--notes" => args.notes = Some(value()?.into()),
            "--criterion" => args.criterion = value()?.into(),
            "--since" => args.since = value()?.parse().context("--since wants unix seconds")?,
            "--seconds" => {
                args.budget =
                    Duration::from_secs_f64(value()?.parse().context("--seconds wants a number")?)
            }
            other => bail!("unknown argument {other:?} (see the crate docs)"),
        }
    }
    Ok(args)
}

fn main() -> Result<()> {
    let args = parse_args()?;
    let started = SystemTime::now();

    let compute = Baseline::load(&args.kernels.join("compute.wasm"))?;
    let compute_inbox = compute_inbox();
    let outbox = compute.kernel_run(&compute_inbox)?;
    if outbox.len() != 1 || outbox[0].len() != 32 {
        bail!("the compute kernel under wasmtime wrote {outbox:?}, expected one 32-byte digest");
    }
    let wasmtime_compute = measure(args.budget, || compute.kernel_run(&compute_inbox).map(drop))?;

    let echo = Baseline::load(&args.kernels.join("echo.wasm"))?;
    let echo_inbox = echo_inbox();
    let outbox = echo.kernel_run(&echo_inbox)?;
    let expected: Vec<Vec<u8>> = echo_inbox.iter().map(|m| m[1..].to_vec()).collect();
    if outbox != expected {
        bail!("the echo kernel under wasmtime did not echo its inbox");
    }
    let wasmtime_echo = measure(args.budget, || echo.kernel_run(&echo_inbox).map(drop))?;

    let results = read_criterion(&args.criterion, args.since)?;
    let find = |id: &str| results.iter().find(|r| r.id == format!("{PVM_GROUP}/{id}"));

    println!();
    println!("| benchmark | soru (wasmi) | baseline (wasmtime) | ratio soru/baseline (time) |");
    println!("|---|---|---|---|");
    match find(COMPUTE_ID) {
        Some(soru) => {
            let fuel = soru
                .elements
                .map(|f| format!(", {:.1} Mfuel/s", per_second(f as f64, soru.mean) / 1e6))
                .unwrap_or_default();
            println!(
                "| compute kernel_run ({COMPUTE_ROUNDS} rounds) | {}{fuel} | {} | {:.2} |",
                fmt_duration(soru.mean),
                fmt_duration(wasmtime_compute),
                soru.mean.as_secs_f64() / wasmtime_compute.as_secs_f64()
            );
        }
        None => println!(
            "| compute kernel_run ({COMPUTE_ROUNDS} rounds) | (no criterion result) | {} | - |",
            fmt_duration(wasmtime_compute)
        ),
    }
    let echo_row = |soru: Option<&CriterionResult>, what: &str| {
        match soru {
        Some(soru) => format!(
            "| echo level ({ECHO_MESSAGES} x {ECHO_PAYLOAD} B inputs; {what}) | {:.0} inputs/s ({}) | \
             {:.0} inputs/s ({}) | {:.2} |",
            per_second(ECHO_MESSAGES as f64, soru.mean),
            fmt_duration(soru.mean),
            per_second(ECHO_MESSAGES as f64, wasmtime_echo),
            fmt_duration(wasmtime_echo),
            soru.mean.as_secs_f64() / wasmtime_echo.as_secs_f64()
        ),
        None => format!(
            "| echo level ({ECHO_MESSAGES} x {ECHO_PAYLOAD} B inputs; {what}) | (no criterion result) | \
             {:.0} inputs/s | - |",
            per_second(ECHO_MESSAGES as f64, wasmtime_echo)
        ),
    }
    };
    let notes = args.notes.as_deref();
    let levels = read_note(notes, "echo_level_levels");
    println!(
        "{}",
        echo_row(
            find(ECHO_ID),
            &match &levels {
                Some(n) => format!("state accumulated over {n} levels"),
                None => "levels accumulated: not recorded".to_owned(),
            }
        )
    );
    println!(
        "{}",
        echo_row(find(ECHO_FRESH_ID), "second level of a fresh PVM")
    );
    durable_rows(notes, args.budget)?;
    for other in results.iter().filter(|r| {
        ![COMPUTE_ID, ECHO_ID, ECHO_FRESH_ID]
            .iter()
            .any(|id| r.id == format!("{PVM_GROUP}/{id}"))
    }) {
        let throughput = other
            .elements
            .map(|n| format!(" ({:.0} elements/s)", per_second(n as f64, other.mean)))
            .unwrap_or_default();
        println!(
            "| {} | {}{throughput} | - | - |",
            other.id,
            fmt_duration(other.mean)
        );
    }
    println!();
    println!(
        "Ratios > 1 mean Soru takes longer. Soru figures come from criterion (means); wasmtime \
         figures are means over {:.1} s each, measured in this run ({:.0} s).",
        args.budget.as_secs_f64(),
        started.elapsed().unwrap_or_default().as_secs_f64()
    );
    Ok(())
}
