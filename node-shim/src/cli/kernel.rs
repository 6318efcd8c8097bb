//! `soru kernel hex FILE`: a kernel file (`.wasm`, `.wat`/`.wast` or `.hex`) as the hex string
//! an origination takes (`octez-client originate smart rollup ... with kernel <hex>`, Taquito's
//! `smartRollupOriginate({kernel})`), after the PVM's validation.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use soru_core::abi::PvmVersion;

/// `soru kernel` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum KernelCommand {
    /// Print the kernel's WebAssembly bytes in hex (checked as the PVM checks a kernel).
    Hex {
        /// The kernel: .wasm, .wat/.wast or .hex.
        file: PathBuf,
    },
}

/// Runs a `soru kernel` subcommand.
pub(crate) fn run(command: &KernelCommand) -> ExitCode {
    match command {
        KernelCommand::Hex { file } => {
            let bytes = match crate::kernel::load(file) {
                Ok(b) => b,
                Err(e) => {
                    eprintln!("soru kernel hex: {e}");
                    return ExitCode::from(2);
                }
            };
            if let Err(e) = soru_core::pvm::kernel::validate(&bytes, PvmVersion::V5) {
                eprintln!(
                    "soru kernel hex: {}: not a valid kernel: {e}",
                    file.display()
                );
                return ExitCode::from(2);
            }
            match super::print_line(&hex::encode(bytes)) {
                Ok(_) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("soru kernel hex: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
