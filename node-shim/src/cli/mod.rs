//! The `soru` command line: one file per subcommand.

use std::io::{self, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod debug;
mod proof;
mod replay;
#[cfg(not(target_family = "wasm"))]
mod sandbox;

/// Soru: run, test and verify Tezos smart rollups.
#[derive(Debug, Parser)]
#[command(name = "soru", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Replay a kernel on debugger-format inputs, one JSON line per level.
    Replay(replay::ReplayArgs),
    /// Debug a kernel: the octez wasm debugger's REPL (or a script with --commands).
    Debug(debug::DebugArgs),
    /// Work with proofs.
    #[command(subcommand)]
    Proof(proof::ProofCommand),
    /// An embedded Tezos L1 for smart rollups that Taquito and other octez clients drive.
    #[cfg(not(target_family = "wasm"))]
    #[command(subcommand)]
    Sandbox(sandbox::SandboxCommand),
}

/// Parses the command line, runs the subcommand and returns the process exit code.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Replay(args) => replay::run(&args),
        Command::Proof(command) => proof::run(&command),
        Command::Debug(args) => debug::run(&args),
        #[cfg(not(target_family = "wasm"))]
        Command::Sandbox(command) => sandbox::run(&command),
    }
}

/// Writes `text` and a newline to stdout. Returns `Ok(false)` when the reader has gone away
/// (`soru replay ... | head`): the command then stops quietly, as Unix tools do, instead of
/// panicking like `println!`. Any other write failure is an error.
pub(crate) fn print_line(text: &str) -> Result<bool, String> {
    let mut out = io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(format!("cannot write to stdout: {e}")),
    }
}
