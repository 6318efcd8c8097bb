//! Reveal kernel: `reveal_metadata` once per level, and `reveal_preimage` on request.
//!
//! - external message `b'm'`: writes the 20-byte raw rollup address from `reveal_metadata` to
//!   the outbox (`b'm' ++ address`), and stores the origination level (`u32` big-endian) at
//!   [`ORIGINATION_LEVEL`];
//! - external message `b'p' ++ hash (33 bytes)`: reveals the preimage of `hash` (reveal-hash
//!   version 0: `0x00 ++ BLAKE2b-256(preimage)`), writes `b'p' ++ preimage` to the outbox
//!   (long preimages as [`crate::durable::describe_value`] shows them) and stores the preimage
//!   at `/preimages/<hex of the hash's first 8 bytes>`.
//!
//! A failed reveal is reported as `b'e' ++ i32 error code` (big-endian) in the outbox.

use alloc::vec::Vec;
use tezos_smart_rollup::host::RuntimeError;
use tezos_smart_rollup::prelude::Runtime;
use tezos_smart_rollup::storage::path::{OwnedPath, RefPath};

use crate::wire::external_body;

/// Where the origination level from `reveal_metadata` is stored.
pub const ORIGINATION_LEVEL: RefPath<'static> = RefPath::assert_from(b"/reveal/origination_level");
/// Size of a reveal hash (tag byte + BLAKE2b-256).
pub const HASH_SIZE: usize = 33;
/// The largest preimage the reveal channel hands out.
pub const MAX_PREIMAGE: usize = 4096;

/// The durable path where the preimage of `hash` is stored.
pub fn preimage_path(hash: &[u8; HASH_SIZE]) -> Vec<u8> {
    let mut path = b"/preimages/".to_vec();
    for byte in &hash[..8] {
        path.extend_from_slice(alloc::format!("{byte:02x}").as_bytes());
    }
    path
}

fn report_error(error: RuntimeError) -> Vec<u8> {
    let code: i32 = match error {
        RuntimeError::HostErr(e) => e as i32,
        _ => i32::MIN,
    };
    let mut out = alloc::vec![b'e'];
    out.extend_from_slice(&code.to_be_bytes());
    out
}

/// Answers every reveal request of the level (see the module docs).
pub fn run<Host: Runtime>(host: &mut Host) {
    while let Ok(Some(message)) = host.read_input() {
        let Some(body) = external_body(message.as_ref()) else {
            continue;
        };
        let output = match body {
            [b'm'] => {
                let metadata = host.reveal_metadata();
                let level = metadata.origination_level.to_be_bytes();
                if let Err(error) = host.store_write_all(&ORIGINATION_LEVEL, &level) {
                    host.write_debug(&alloc::format!("reveal: store failed: {error}\n"));
                }
                [&b"m"[..], &metadata.raw_rollup_address].concat()
            }
            [b'p', hash @ ..] if hash.len() == HASH_SIZE => {
                let mut fixed = [0u8; HASH_SIZE];
                fixed.copy_from_slice(hash);
                let mut buffer = alloc::vec![0u8; MAX_PREIMAGE];
                match host.reveal_preimage(&fixed, &mut buffer) {
                    Ok(size) => {
                        buffer.truncate(size);
                        let path = OwnedPath::try_from(preimage_path(&fixed))
                            .expect("hex steps make a valid path");
                        if let Err(error) = host.store_write_all(&path, &buffer) {
                            host.write_debug(&alloc::format!("reveal: store failed: {error}\n"));
                        }
                        [&b"p"[..], &crate::durable::describe_value(&buffer)].concat()
                    }
                    Err(error) => report_error(error),
                }
            }
            _ => {
                host.write_debug("reveal: unknown request\n");
                continue;
            }
        };
        if let Err(error) = host.write_output(&output) {
            host.write_debug(&alloc::format!("reveal: write_output failed: {error}\n"));
        }
    }
}
