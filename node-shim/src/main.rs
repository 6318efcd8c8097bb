//! `soru`: the command-line face of Soru.
//!
//! `soru replay` runs a kernel on debugger-format inputs and prints one JSON line per level;
//! `soru proof verify-outbox` checks an octez output (withdrawal) proof against a state hash.

use std::process::ExitCode;

fn main() -> ExitCode {
    soru_node::cli::run()
}
