//! `soru proof ...`: checking proofs produced by octez or Soru rollup nodes.

use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use serde::Serialize;
use soru_core::commitment::StateHash;
use soru_core::output_proof::{verify_output_proof, Layout};

use crate::hex_text;

/// Exit code for a proof that was read but does not verify.
const EXIT_INVALID: u8 = 1;
/// Exit code for input that could not be read at all (missing file, a directory, bad hex, an
/// empty proof, bad state hash).
const EXIT_UNREADABLE: u8 = 2;

/// The `proof` subcommands.
#[derive(Debug, Subcommand)]
pub(super) enum ProofCommand {
    /// Verify an output (withdrawal) proof against a cemented state hash.
    ///
    /// Prints {"valid": true, "outbox_level", "message_index", "message"} and exits 0, or
    /// {"valid": false, "error"} and exits 1; unreadable input exits 2.
    VerifyOutbox(VerifyOutboxArgs),
}

/// Arguments of `soru proof verify-outbox`.
#[derive(Debug, Args)]
pub(super) struct VerifyOutboxArgs {
    /// The proof: a file (hex text or raw bytes) or the hex itself.
    #[arg(long, value_name = "FILE|HEX")]
    proof: String,
    /// The state hash the proof must match: `srs1...` or 64 hex digits.
    #[arg(long, value_name = "HASH")]
    state_hash: String,
    /// The proof envelope; by default obj2 is tried, then obj3.
    #[arg(long, value_enum)]
    layout: Option<LayoutArg>,
}

/// The output proof envelopes octez has used.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum LayoutArg {
    /// Protocols 018 and later: proof, output.
    Obj2,
    /// Protocols 016 and 017: proof, state hash, output.
    Obj3,
}

impl From<LayoutArg> for Layout {
    fn from(layout: LayoutArg) -> Self {
        match layout {
            LayoutArg::Obj2 => Layout::Obj2,
            LayoutArg::Obj3 => Layout::Obj3,
        }
    }
}

/// The line printed for a valid proof.
#[derive(Serialize)]
struct Valid {
    valid: bool,
    outbox_level: u64,
    message_index: u64,
    message: String,
}

/// The line printed for an invalid proof.
#[derive(Serialize)]
struct Invalid {
    valid: bool,
    error: String,
}

/// Runs a `proof` subcommand.
pub(super) fn run(command: &ProofCommand) -> ExitCode {
    match command {
        ProofCommand::VerifyOutbox(args) => verify_outbox(args),
    }
}

fn verify_outbox(args: &VerifyOutboxArgs) -> ExitCode {
    let proof = match hex_text::read_bytes_arg(&args.proof) {
        Ok(bytes) => bytes,
        Err(e) => return unreadable(&format!("--proof: {e}")),
    };
    if proof.is_empty() {
        return unreadable(&format!(
            "--proof {}: the proof is empty",
            hex_text::shorten(&args.proof)
        ));
    }
    let state_hash = match parse_state_hash(&args.state_hash) {
        Ok(hash) => hash,
        Err(e) => return unreadable(&format!("--state-hash: {e}")),
    };
    match verify_output_proof(&proof, &state_hash, args.layout.map(Layout::from)) {
        Ok(output) => {
            print_json(&Valid {
                valid: true,
                outbox_level: u64::from(output.outbox_level),
                message_index: output.message_index,
                message: hex::encode(&output.message),
            });
            ExitCode::SUCCESS
        }
        Err(e) => {
            print_json(&Invalid {
                valid: false,
                error: e.to_string(),
            });
            ExitCode::from(EXIT_INVALID)
        }
    }
}

/// Parses `srs1...` (base58check) or 64 hex digits into the 32-byte state hash.
fn parse_state_hash(text: &str) -> Result<[u8; 32], String> {
    let text = text.trim();
    if text.starts_with("srs1") {
        return StateHash::from_b58check(text)
            .map(|hash| hash.0)
            .map_err(|e| format!("{text:?} is not a valid srs1 state hash: {e}"));
    }
    let bytes = hex_text::decode(text)
        .map_err(|e| format!("{text:?} is neither an srs1... state hash nor 64 hex digits: {e}"))?;
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| {
        format!(
            "{text:?} is {} bytes of hex, a state hash is 32 bytes (64 hex digits) or srs1...",
            bytes.len()
        )
    })
}

fn print_json<T: Serialize>(value: &T) {
    // Serializing these plain structs cannot fail. The exit code carries the verdict, so a
    // reader that went away or a failing stdout changes nothing but the lost line.
    if let Err(e) = super::print_line(&serde_json::to_string(value).unwrap_or_default()) {
        eprintln!("soru proof verify-outbox: {e}");
    }
}

fn unreadable(message: &str) -> ExitCode {
    eprintln!("soru proof verify-outbox: {message}");
    ExitCode::from(EXIT_UNREADABLE)
}
