//! Compute kernel: a pure integer hash loop, the workload of Soru's engine benchmarks.
//!
//! Each external message body is a `u32` (big-endian) number of rounds; each round mixes every
//! word of a [`WORDS`]-word buffer with rotations, multiplications and data-dependent loads
//! (no floats, no host calls). The final 32-byte digest of each message goes to the outbox.
//!
//! The kernel imports only `read_input`, `write_output` and `write_debug` (for panic messages),
//! so a minimal host (the wasmtime baseline in `tests/bench`) can run it too.

use tezos_smart_rollup::prelude::Runtime;

use crate::wire::external_body;

/// Number of `u32` words in the mixed buffer (16 KiB).
pub const WORDS: usize = 4096;

/// Runs `rounds` rounds of the hash loop and returns its digest.
pub fn digest(rounds: u32) -> [u8; 32] {
    let mut buffer = [0u32; WORDS];
    let mut seed: u32 = 0x9e37_79b9;
    for word in buffer.iter_mut() {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        *word = seed;
    }
    let mut state = [0x6a09_e667u32, 0xbb67_ae85, 0x3c6e_f372, 0xa54f_f53a];
    for round in 0..rounds {
        for i in 0..WORDS {
            let j = (state[(i + round as usize) & 3] as usize) & (WORDS - 1);
            let mixed = buffer[i]
                .wrapping_add(buffer[j].rotate_left(7))
                .wrapping_mul(0x0100_0193)
                ^ state[i & 3];
            state[i & 3] = state[i & 3].rotate_left(11).wrapping_add(mixed);
            buffer[i] = mixed;
        }
    }
    let mut out = [0u8; 32];
    for (k, chunk) in out.chunks_exact_mut(4).enumerate() {
        let word = state[k & 3] ^ buffer[k * 511 % WORDS];
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    out
}

/// Hashes once per external message (see the module docs).
pub fn run<Host: Runtime>(host: &mut Host) {
    while let Ok(Some(message)) = host.read_input() {
        let Some(body) = external_body(message.as_ref()) else {
            continue;
        };
        let Ok(rounds) = <[u8; 4]>::try_from(body) else {
            continue;
        };
        if let Err(error) = host.write_output(&digest(u32::from_be_bytes(rounds))) {
            host.write_debug(&alloc::format!("compute: write_output failed: {error}\n"));
        }
    }
}
