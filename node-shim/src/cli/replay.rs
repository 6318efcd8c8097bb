//! `soru replay`: run a kernel on octez-debugger JSON inputs, level by level.
//!
//! With `--json` it prints one JSON object per level,
//! `{"level", "outbox", "debug", "state_hash", "ticks", "status"}`, then one last line
//! `{"durable": {"/path": "<hex>", ...}}` with every durable value except the read-only ones and
//! the kernel itself. Scripted kernel tests depend on this contract.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use serde::Serialize;
use soru_core::commitment::StateHash;
use soru_core::encoding::address::SmartRollupAddress;
use soru_core::inputs;
use soru_core::pvm::{LevelReport, Pvm, PvmConfig, Status};
use soru_core::state::KERNEL_KEY;

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
}

/// Durable paths left out of the final dump: the PVM's read-only area and the kernel itself.
const HIDDEN_PREFIXES: [&str; 2] = ["/readonly", KERNEL_KEY];

/// One JSON line per level.
#[derive(Serialize)]
struct LevelLine {
    level: u32,
    outbox: Vec<String>,
    debug: Vec<String>,
    state_hash: String,
    ticks: u128,
    status: String,
}

impl From<&LevelReport> for LevelLine {
    fn from(report: &LevelReport) -> Self {
        LevelLine {
            level: report.level,
            outbox: report.outbox.iter().map(hex::encode).collect(),
            debug: report
                .debug
                .iter()
                .map(|d| String::from_utf8_lossy(d).into_owned())
                .collect(),
            state_hash: StateHash(report.state_hash).to_b58check(),
            ticks: report.ticks,
            status: report.status.to_string(),
        }
    }
}

/// The last JSON line.
#[derive(Serialize)]
struct DurableLine {
    durable: BTreeMap<String, String>,
}

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
    let mut pvm =
        Pvm::new(&kernel, config).map_err(|e| format!("kernel {}: {e}", args.kernel.display()))?;
    let mut preimages = PreimageDir::new(args.preimage_dir.as_deref());

    for messages in &levels {
        let report = pvm
            .run_level(messages, &mut preimages)
            .map_err(|e| format!("level {}: {e}", pvm_level_hint(&pvm)))?;
        if !super::print_line(&level_text(args.json, &report))? {
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

    let mut durable = BTreeMap::new();
    for entry in pvm.durable_values() {
        let (path, value) = entry.map_err(|e| format!("reading durable storage: {e}"))?;
        if !is_hidden(&path) {
            durable.insert(path, hex::encode(value));
        }
    }
    super::print_line(&durable_text(args.json, durable))?;
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

/// The output for one level: its JSON line, or a few lines of text.
fn level_text(json: bool, report: &LevelReport) -> String {
    let line = LevelLine::from(report);
    if json {
        return serde_json::to_string(&line).unwrap_or_default();
    }
    let mut text = format!(
        "level {}: {}, {} ticks, state {}",
        line.level, line.status, line.ticks, line.state_hash
    );
    for debug in &line.debug {
        text.push_str(&format!("\n  debug: {debug}"));
    }
    for (index, message) in line.outbox.iter().enumerate() {
        text.push_str(&format!("\n  outbox[{index}]: {message}"));
    }
    text
}

/// The output for the durable storage: the last JSON line, or a listing.
fn durable_text(json: bool, durable: BTreeMap<String, String>) -> String {
    if json {
        return serde_json::to_string(&DurableLine { durable }).unwrap_or_default();
    }
    let mut text = String::from("durable storage:");
    for (path, value) in &durable {
        text.push_str(&format!("\n  {path} = {value}"));
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
