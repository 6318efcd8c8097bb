//! Echo kernel: copies every input it can observe identically on every host to the outbox.
//!
//! - external message `0x01 body`: `body` is written to the outbox as-is;
//! - internal transfer `0x00 0x00 ...`: the whole raw message is written to the outbox wrapped as
//!   `b"transfer:" ++ message`, so a test sees exactly the bytes the host encoded;
//! - other internal messages (level framing) are only counted in the debug log, because their
//!   presence and contents differ between `MockHost` and the PVM.
//!
//! Each run writes one debug line per echoed message. Messages longer than the outbox limit are
//! reported in the debug log and skipped (the host's answer is the test's business).

use crate::wire::{external_body, INTERNAL_TAG, INTERNAL_TRANSFER_TAG};
use alloc::format;
use alloc::vec::Vec;
use tezos_smart_rollup::prelude::Runtime;

/// Prefix of an echoed internal transfer.
pub const TRANSFER_PREFIX: &[u8] = b"transfer:";

/// Reads every input of the level and echoes it (see the module docs).
pub fn run<Host: Runtime>(host: &mut Host) {
    let mut framing = 0u32;
    loop {
        let message = match host.read_input() {
            Ok(Some(message)) => message,
            Ok(None) => break,
            Err(error) => {
                host.write_debug(&format!("echo: read_input failed: {error}\n"));
                break;
            }
        };
        let bytes = message.as_ref();
        let output: Vec<u8> = if let Some(body) = external_body(bytes) {
            body.to_vec()
        } else if bytes.len() >= 2 && bytes[0] == INTERNAL_TAG && bytes[1] == INTERNAL_TRANSFER_TAG
        {
            [TRANSFER_PREFIX, bytes].concat()
        } else {
            framing += 1;
            continue;
        };
        match host.write_output(&output) {
            Ok(()) => host.write_debug(&format!("echo: {} bytes\n", output.len())),
            Err(error) => host.write_debug(&format!("echo: write_output failed: {error}\n")),
        }
    }
    if framing > 0 {
        host.write_debug("echo: skipped level framing messages\n");
    }
}
