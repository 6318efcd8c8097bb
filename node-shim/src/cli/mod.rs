//! The `soru` command line: one file per subcommand.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod replay;

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
}

/// Parses the command line, runs the subcommand and returns the process exit code.
pub(crate) fn run() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Replay(args) => replay::run(&args),
    }
}
