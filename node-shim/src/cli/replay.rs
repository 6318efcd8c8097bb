//! `soru replay`: run a kernel on octez-debugger JSON inputs, level by level.
//!
//! With `--json` it prints one JSON object per level,
//! `{"level", "outbox", "debug", "state_hash", "ticks", "status", "fuel", "kernel_runs",
//! "flags", "failures"}` (plus `"stuck_reason"` when the PVM is stuck), then one last line
//! `{"durable": {"/path": "<hex>", ...}}` with every durable value except the read-only ones and
//! the kernel itself (values over 64 KiB are cut to their first 64 KiB and listed with their
//! full length in `"truncated": {"/path": length}`). Scripted kernel tests depend on this
//! contract.
//!
//! `--hash-at-tick T` (repeatable) prints `{"tick":T,"state_hash":"srs1..."}` (or
//! `{"tick":T,"error":"..."}` for a tick inside a `kernel_run` or never reached) as its own line
//! before the line of the level that contains tick T. These are octez's state hashes at
//! snapshot, collect and padding ticks; `--ticks-per-snapshot`, `--outbox-validity-period` and
//! `--pvm-version` set the origination parameters the hashes depend on.
//!
//! `flags` lists the PVM flags set in durable storage (`stuck`, `upgrade_error`,
//! `too_many_reboot`); `failures` has one `{"run", "reason", "function", "fuel", "stuck"}` per
//! `kernel_run` of the level that trapped or got the PVM stuck (`function`: the host function
//! executing or last called, or `kernel_run`), plus, for a trap, `"stack"`: the kernel
//! functions open at the trap, outermost (`kernel_run`) first, the last one trapped. wasmi does
//! not say where a trap happened, so a level with a trap is run again instrumented from a fork
//! of the PVM taken before it (`soru_core::debugger::level_trap_stacks`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use serde::Serialize;
use soru_core::abi::PvmVersion;
use soru_core::commitment::StateHash;
use soru_core::debugger::level_trap_stacks;
use soru_core::durable::Key;
use soru_core::encoding::address::SmartRollupAddress;
use soru_core::inputs;
use soru_core::pvm::{LevelReport, Pvm, PvmConfig, Status};
use soru_core::state::KERNEL_KEY;
use soru_core::witness::{self, WitnessLevel};

use crate::kernel;
use crate::preimages::PreimageDir;

/// Arguments of `soru replay`.
#[derive(Debug, Args)]
pub(super) struct ReplayArgs {
    /// The kernel: `.wasm`, `.wat`/`.wast` or `.hex` (hex text of the wasm binary).
    #[arg(long, value_name = "PATH")]
    kernel: PathBuf,
    /// The inbox: the octez wasm debugger's JSON inputs (a list of levels, each a list of
    /// messages).
    #[arg(long, value_name = "PATH")]
    inputs: PathBuf,
    /// The rollup's address (`sr1...`), revealed to the kernel and the default destination of
    /// transfers. Defaults to the zero address, like the octez debugger.
    #[arg(long, value_name = "sr1...")]
    rollup: Option<String>,
    /// Directory of preimages named by their 33-byte reveal hash in hex (octez's layout).
    #[arg(long, value_name = "DIR")]
    preimage_dir: Option<PathBuf>,
    /// Print JSON Lines (one object per level, then the durable storage) instead of text.
    #[arg(long)]
    json: bool,
    /// Ticks between two snapshots (the rollup's origination parameter; protocol default
    /// 50,000,000,000,000). Each `kernel_run` also gets this much fuel.
    #[arg(long, value_name = "N", value_parser = parse_positive_u128)]
    ticks_per_snapshot: Option<u128>,
    /// Levels an outbox is kept (the rollup's origination parameter; protocol default 241,920).
    #[arg(long, value_name = "L")]
    outbox_validity_period: Option<u32>,
    /// PVM version at origination: `2.0.0-r4`, `2.0.0-r5` (default) or `2.0.0-r6`.
    #[arg(long, short = 'p', value_name = "VERSION", value_parser = parse_pvm_version)]
    pvm_version: Option<PvmVersion>,
    /// Also print the state hash at tick T (repeatable), before the line of its level.
    #[arg(long = "hash-at-tick", value_name = "T")]
    hash_at_tick: Vec<u128>,
    /// Also write a replay witness of the levels from `--witness-from` to the last one: the
    /// part of the state they read and their inputs, which `soru-verify replay --witness`
    /// re-runs without the rest of the state (format: `soru_core::witness`).
    #[arg(long, value_name = "FILE")]
    witness_out: Option<PathBuf>,
    /// The first level the witness covers (default: the last level of the inputs).
    #[arg(long, value_name = "LEVEL", requires = "witness_out")]
    witness_from: Option<u32>,
}

/// The PVM versions `--pvm-version` accepts.
const CLI_VERSIONS: [PvmVersion; 3] = [PvmVersion::V4, PvmVersion::V5, PvmVersion::V6];

pub(super) fn parse_pvm_version(text: &str) -> Result<PvmVersion, String> {
    CLI_VERSIONS
        .into_iter()
        .find(|v| v.as_str() == text)
        .ok_or_else(|| {
            let known: Vec<&str> = CLI_VERSIONS.iter().map(|v| v.as_str()).collect();
            format!(
                "unknown PVM version {text:?}; expected one of {}",
                known.join(", ")
            )
        })
}

pub(super) fn parse_positive_u128(text: &str) -> Result<u128, String> {
    match text.parse::<u128>() {
        Ok(0) => Err("must be at least 1".to_owned()),
        Ok(n) => Ok(n),
        Err(e) => Err(format!("{text:?} is not a tick count: {e}")),
    }
}

/// Durable paths left out of the final dump: the PVM's read-only area and the kernel itself.
const HIDDEN_PREFIXES: [&str; 2] = ["/readonly", KERNEL_KEY];

/// One JSON line per level.
#[derive(Serialize)]
struct LevelLine {
    level: u32,
    outbox: Vec<String>,
    debug: Vec<String>,
    /// Debug bytes past the per-level cap (`soru_core::abi::MAX_DEBUG_BYTES_PER_LEVEL`).
    #[serde(skip_serializing_if = "is_zero")]
    debug_dropped: u64,
    state_hash: String,
    ticks: u128,
    status: String,
    fuel: u64,
    kernel_runs: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    stuck_reason: Option<String>,
    flags: Vec<&'static str>,
    failures: Vec<FailureLine>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A `kernel_run` that trapped or got the PVM stuck.
#[derive(Serialize)]
struct FailureLine {
    run: u32,
    reason: String,
    function: String,
    fuel: u64,
    stuck: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    stack: Vec<String>,
}

impl From<&LevelReport> for LevelLine {
    fn from(report: &LevelReport) -> Self {
        LevelLine {
            level: report.level,
            outbox: report
                .outbox
                .iter()
                .map(|m| crate::hex_text::encode(m))
                .collect(),
            debug: report
                .debug
                .iter()
                .map(|d| String::from_utf8_lossy(d).into_owned())
                .collect(),
            debug_dropped: report.debug_dropped,
            state_hash: StateHash(report.state_hash).to_b58check(),
            ticks: report.ticks,
            status: report.status.to_string(),
            fuel: report.fuel,
            kernel_runs: report.kernel_runs,
            stuck_reason: report.stuck_reason.as_ref().map(ToString::to_string),
            flags: [
                (report.flags.stuck, "stuck"),
                (report.flags.upgrade_error, "upgrade_error"),
                (report.flags.too_many_reboot, "too_many_reboot"),
            ]
            .into_iter()
            .filter_map(|(set, name)| set.then_some(name))
            .collect(),
            failures: report
                .failures
                .iter()
                .map(|f| FailureLine {
                    run: f.run,
                    reason: f.reason.clone(),
                    function: f.function.clone(),
                    fuel: f.fuel,
                    stuck: f.stuck,
                    stack: Vec::new(),
                })
                .collect(),
        }
    }
}

/// The last JSON line.
#[derive(Serialize)]
struct DurableLine {
    durable: BTreeMap<String, String>,
    /// Full lengths of the values shown cut to their first [`DUMP_VALUE_LIMIT`] bytes.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    truncated: BTreeMap<String, u64>,
}

/// Bytes of each durable value the final dump shows (a kernel can create a 2 GiB value with
/// one `store_create`; printing it would take 4 GB of hex).
const DUMP_VALUE_LIMIT: u64 = 64 * 1024;

/// Runs `soru replay`; errors go to stderr with exit code 1.
pub(super) fn run(args: &ReplayArgs) -> ExitCode {
    match replay(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("soru replay: {message}");
            ExitCode::FAILURE
        }
    }
}

fn replay(args: &ReplayArgs) -> Result<(), String> {
    let kernel = kernel::load(&args.kernel).map_err(|e| e.to_string())?;
    let mut config = PvmConfig::default();
    if let Some(n) = args.ticks_per_snapshot {
        config.ticks_per_snapshot = n;
    }
    if let Some(l) = args.outbox_validity_period {
        config.outbox_validity_period = l;
    }
    if let Some(v) = args.pvm_version {
        config.version = v;
    }
    let mut pending_ticks = args.hash_at_tick.clone();
    pending_ticks.sort_unstable();
    pending_ticks.dedup();
    let mut defaults = inputs::Defaults::default();
    if let Some(rollup) = &args.rollup {
        let address = SmartRollupAddress::from_b58check(rollup)
            .map_err(|e| format!("--rollup {rollup:?} is not a valid sr1 address: {e}"))?;
        config.rollup_address = address.0;
        defaults.destination = address;
    }
    let inputs_text = std::fs::read_to_string(&args.inputs)
        .map_err(|e| format!("cannot read inputs {}: {e}", args.inputs.display()))?;
    let levels: Vec<Vec<Vec<u8>>> = inputs::parse_with(&inputs_text, &defaults)
        .map_err(|e| format!("inputs {}: {e}", args.inputs.display()))?
        .iter()
        .map(|level| level.iter().map(inputs::Input::to_bytes).collect())
        .collect();
    let mut preimages = PreimageDir::open(args.preimage_dir.as_deref())?;
    let mut pvm = Pvm::new(&kernel, config.clone())
        .map_err(|e| format!("kernel {}: {e}", args.kernel.display()))?;
    let last_level = config.first_level + levels.len().saturating_sub(1) as u32;
    let witness_from = args.witness_from.unwrap_or(last_level);
    if args.witness_out.is_some() && !(config.first_level..=last_level).contains(&witness_from) {
        return Err(format!(
            "--witness-from {witness_from}: the inputs have levels {}..={last_level}",
            config.first_level
        ));
    }
    let mut witness: Option<(soru_core::tree::Tree, Vec<WitnessLevel>)> = None;

    for messages in &levels {
        if args.witness_out.is_some() && pvm.next_level() == witness_from {
            let pre = pvm
                .state_tree()
                .map_err(|e| format!("witness pre-state: {e}"))?;
            witness = Some((pre, Vec::new()));
        }
        if let Some((_, ls)) = &mut witness {
            ls.push(WitnessLevel {
                level: pvm.next_level(),
                timestamp: 0,
                predecessor: [0; 32],
                messages: messages.clone(),
            });
        }
        let start = pvm.fork().ok();
        let report = pvm
            .run_level(messages, &mut preimages)
            .map_err(|e| format!("level {}: {e}", pvm_level_hint(&pvm)))?;
        let mut line = LevelLine::from(&report);
        if let Some(start) = start.filter(|_| report.failures.iter().any(|f| !f.stuck)) {
            // A located trap, or (should the rerun fail) the failure as the PVM reported it.
            if let Ok(stacks) = level_trap_stacks(&start, messages, &mut preimages) {
                for f in &mut line.failures {
                    if let Some(stack) = stacks.get(&f.run) {
                        f.stack = stack.clone();
                    }
                }
            }
        }
        let reached = pending_ticks.partition_point(|&t| t <= pvm.ticks());
        for tick in pending_ticks.drain(..reached) {
            let hash = pvm.state_hash_at(tick).map(|h| StateHash(h).to_b58check());
            if !super::print_line(&tick_text(args.json, tick, hash.map_err(|e| e.to_string())))? {
                return Ok(());
            }
        }
        if !super::print_line(&level_text(args.json, &line))? {
            return Ok(());
        }
        if report.status == Status::WaitingForReveal {
            let why = preimages.take_error().map_or_else(
                || "the kernel requested data this command cannot reveal".to_owned(),
                |e| e.to_string(),
            );
            return Err(format!("level {}: {why}", report.level));
        }
    }

    for tick in pending_ticks {
        let error = format!(
            "tick {tick} was not reached: the inputs end at tick {}",
            pvm.ticks()
        );
        if !super::print_line(&tick_text(args.json, tick, Err(error)))? {
            return Ok(());
        }
    }

    let mut durable = BTreeMap::new();
    let mut truncated = BTreeMap::new();
    for entry in pvm.durable().value_prefixes(DUMP_VALUE_LIMIT) {
        let (path, value) = entry.map_err(|e| format!("reading durable storage: {e}"))?;
        if is_hidden(&path) {
            continue;
        }
        if value.len() as u64 == DUMP_VALUE_LIMIT {
            let full = Key::from_path(&path)
                .and_then(|k| pvm.durable().value_length(&k))
                .map_err(|e| format!("reading durable storage: {e}"))?
                .unwrap_or(0);
            if full > DUMP_VALUE_LIMIT {
                truncated.insert(path.clone(), full);
            }
        }
        durable.insert(path, hex::encode(value));
    }
    super::print_line(&durable_text(args.json, durable, truncated))?;
    if let (Some(path), Some((pre, levels))) = (&args.witness_out, witness) {
        write_witness(path, &pre, &config, levels, &mut preimages, &pvm)?;
    }
    Ok(())
}

/// Produces the witness of `levels` from `pre` (recording what they read), checks it ends where
/// the replay did, and writes it to `path`.
fn write_witness(
    path: &std::path::Path,
    pre: &soru_core::tree::Tree,
    config: &PvmConfig,
    levels: Vec<WitnessLevel>,
    preimages: &mut PreimageDir,
    pvm: &Pvm,
) -> Result<(), String> {
    let (first, last) = (levels[0].level, levels[levels.len() - 1].level);
    let (w, run) = witness::produce(pre, config, levels, preimages)
        .map_err(|e| format!("witness of levels {first}..={last}: {e}"))?;
    let end = pvm.state_hash().map_err(|e| e.to_string())?;
    if run.state_hash != end {
        return Err(format!(
            "witness of levels {first}..={last}: it ends in {} but the replay in {}",
            StateHash(run.state_hash),
            StateHash(end)
        ));
    }
    let bytes = witness::encode(&w).map_err(|e| format!("witness: {e}"))?;
    std::fs::write(path, &bytes)
        .map_err(|e| format!("cannot write witness {}: {e}", path.display()))?;
    eprintln!(
        "soru replay: witness of levels {first}..={last} ({} bytes, from state {} to {}) written to {}",
        bytes.len(),
        StateHash(run.pre_state_hash),
        StateHash(run.state_hash),
        path.display()
    );
    Ok(())
}

/// The level the PVM was working on, for error messages.
fn pvm_level_hint(pvm: &Pvm) -> String {
    pvm.report()
        .map_or_else(|_| "?".to_owned(), |r| r.level.to_string())
}

fn is_hidden(path: &str) -> bool {
    HIDDEN_PREFIXES.iter().any(|prefix| {
        path == *prefix
            || path
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with('/'))
    })
}

/// The `--hash-at-tick` line for `tick`: its state hash or why there is none.
fn tick_text(json: bool, tick: u128, hash: Result<String, String>) -> String {
    /// One `--hash-at-tick` JSON line (ticks can exceed `u64`, so no `serde_json::Value`).
    #[derive(Serialize)]
    struct TickLine {
        tick: u128,
        #[serde(skip_serializing_if = "Option::is_none")]
        state_hash: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    }
    match (json, hash) {
        (true, hash) => {
            let (state_hash, error) = match hash {
                Ok(h) => (Some(h), None),
                Err(e) => (None, Some(e)),
            };
            serde_json::to_string(&TickLine {
                tick,
                state_hash,
                error,
            })
            .unwrap_or_default()
        }
        (false, Ok(hash)) => format!("tick {tick}: state {hash}"),
        (false, Err(error)) => format!("tick {tick}: {error}"),
    }
}

/// The output for one level: its JSON line, or a few lines of text.
fn level_text(json: bool, line: &LevelLine) -> String {
    if json {
        return serde_json::to_string(line).unwrap_or_default();
    }
    let mut text = format!(
        "level {}: {}, {} ticks, {} fuel in {} kernel_run(s), state {}",
        line.level, line.status, line.ticks, line.fuel, line.kernel_runs, line.state_hash
    );
    if let Some(reason) = &line.stuck_reason {
        text.push_str(&format!("\n  stuck: {reason}"));
    }
    if !line.flags.is_empty() {
        text.push_str(&format!("\n  flags: {}", line.flags.join(", ")));
    }
    for f in &line.failures {
        let place = match f.stack.last() {
            Some(function) => format!("`{function}` ({})", f.stack.join(" > ")),
            None => f.function.clone(),
        };
        text.push_str(&format!(
            "\n  kernel_run {} failed in {place} after {} fuel: {}{}",
            f.run,
            f.fuel,
            f.reason,
            if f.stuck { " (stuck for good)" } else { "" }
        ));
    }
    for debug in &line.debug {
        text.push_str(&format!("\n  debug: {debug}"));
    }
    if line.debug_dropped > 0 {
        text.push_str(&format!(
            "\n  debug: {} more bytes dropped (per-level cap)",
            line.debug_dropped
        ));
    }
    for (index, message) in line.outbox.iter().enumerate() {
        text.push_str(&format!("\n  outbox[{index}]: {message}"));
    }
    text
}

/// The output for the durable storage: the last JSON line, or a listing.
fn durable_text(
    json: bool,
    durable: BTreeMap<String, String>,
    truncated: BTreeMap<String, u64>,
) -> String {
    if json {
        return serde_json::to_string(&DurableLine { durable, truncated }).unwrap_or_default();
    }
    let mut text = String::from("durable storage:");
    for (path, value) in &durable {
        text.push_str(&format!("\n  {path} = {value}"));
        if let Some(full) = truncated.get(path) {
            text.push_str(&format!(
                "... ({full} bytes, first {DUMP_VALUE_LIMIT} shown)"
            ));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::is_hidden;

    #[test]
    fn hides_readonly_and_the_kernel_only() {
        assert!(is_hidden("/readonly"));
        assert!(is_hidden("/readonly/kernel/env/reboot_counter"));
        assert!(is_hidden("/kernel/boot.wasm"));
        assert!(!is_hidden("/kernel/boot.wasm2"));
        assert!(!is_hidden("/readonlyish"));
        assert!(!is_hidden("/kernel/env/reboot"));
        assert!(!is_hidden("/counter"));
    }
}
