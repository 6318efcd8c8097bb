//! # soru-verifier-wasm
//!
//! The `wasm-bindgen` layer of [`soru_verifier`] that `make pkg` compiles into the npm package
//! (`pkg/dist`). Results cross the boundary as JSON text (printed by soru-core's dependency-free
//! [`soru_verifier::Json`], so this build has no JSON library) and bytes; the hand-written
//! JavaScript in `pkg/` turns them into typed objects (`bigint` for 64-bit counts). Every error
//! is a `JsError` whose message says what is wrong and where.
//!
//! Built without features this is the proof/commitment entry point; with `replay` it is the
//! second, lazily loaded entry point that runs kernels (see `pkg/README.md`) and exports only
//! the replay functions: the package's JavaScript calls the proof ones in the first entry, so
//! the replay module does not carry a second copy of them.
//!
//! On `wasm32` the crate is `no_std`: the standard library's allocator and panic machinery are
//! most of what a proof check does not need. [`heap`] is the allocator; a panic (a bug: every
//! input error is a `JsError`) traps with `unreachable`, which JavaScript sees as a
//! `WebAssembly.RuntimeError`.

#![cfg_attr(target_arch = "wasm32", no_std)]

use alloc::string::{String, ToString};
use alloc::vec::Vec;
#[cfg(not(feature = "replay"))]
use soru_verifier::input::{decode_hex as decode_hex_text, parse_commitment, parse_state_hash};
use soru_verifier::Json;
#[cfg(not(feature = "replay"))]
use soru_verifier::{Commitment, Zarith, COMMITMENT_SIZE};
use wasm_bindgen::prelude::*;

extern crate alloc;

pub mod heap;

#[cfg(target_arch = "wasm32")]
#[global_allocator]
static HEAP: heap::WasmHeap = heap::WasmHeap::new();

#[cfg(target_arch = "wasm32")]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}

/// One non-generic constructor for every error (a `JsError` per error type is code for each).
fn js_error(e: &dyn core::fmt::Display) -> JsError {
    JsError::new(&e.to_string())
}

/// Hex text (whitespace anywhere, optional `0x`) to bytes.
#[cfg(not(feature = "replay"))]
#[wasm_bindgen]
pub fn decode_hex(text: &str) -> Result<Vec<u8>, JsError> {
    decode_hex_text(text).map_err(|e| js_error(&e))
}

/// Verifies an output proof against a state hash (`srs1...` or hex) and returns the
/// [`soru_verifier::OutboxProof::to_json`] text.
#[cfg(not(feature = "replay"))]
#[wasm_bindgen]
pub fn verify_outbox_proof(proof: &[u8], state_hash: &str) -> Result<String, JsError> {
    let state =
        parse_state_hash(state_hash).map_err(|e| js_error(&format_args!("state hash: {e}")))?;
    let out = soru_verifier::verify_outbox_proof(proof, &state)
        .map_err(|e| js_error(&format_args!("invalid output proof: {e}")))?;
    Ok(out.to_json().to_string())
}

/// Decodes outbox message bytes into the octez JSON form.
#[cfg(not(feature = "replay"))]
#[wasm_bindgen]
pub fn decode_outbox_message(message: &[u8]) -> Result<String, JsError> {
    let m = soru_verifier::decode_outbox_message(message)
        .map_err(|e| js_error(&format_args!("invalid outbox message: {e}")))?;
    let tickets = soru_verifier::tickets(&m);
    Ok(Json::object([
        ("message", m.to_json()),
        (
            "tickets",
            Json::Array(tickets.iter().map(soru_verifier::Ticket::to_json).collect()),
        ),
    ])
    .to_string())
}

/// The 76-byte encoding of a commitment given by its fields.
#[cfg(not(feature = "replay"))]
#[wasm_bindgen]
pub fn commitment_bytes(
    compressed_state: &str,
    inbox_level: f64,
    predecessor: &str,
    number_of_ticks: i64,
) -> Result<Vec<u8>, JsError> {
    let level = if inbox_level == (inbox_level as i64) as f64 && inbox_level.abs() < 1e15 {
        inbox_level as i64
    } else {
        -1
    };
    let c = parse_commitment(compressed_state, level, predecessor, number_of_ticks)
        .map_err(|e| js_error(&e))?;
    Ok(c.encode().to_vec())
}

/// The `src1...` hash of a 76-byte commitment.
#[cfg(not(feature = "replay"))]
#[wasm_bindgen]
pub fn commitment_hash(bytes: &[u8]) -> Result<String, JsError> {
    let c = Commitment::decode(bytes).map_err(|e| js_error(&format_args!("commitment: {e}")))?;
    Ok(c.hash().to_b58check())
}

/// Checks a chain of commitments given as their concatenated 76-byte encodings. Returns
/// `{"valid": true, "hashes": [..], "ticks": ".."}` or `{"valid": false, "index": i, "error": ".."}`.
#[cfg(not(feature = "replay"))]
#[wasm_bindgen]
pub fn check_commitment_chain(encoded: &[u8], commitment_period: i32) -> Result<String, JsError> {
    if encoded.len() % COMMITMENT_SIZE != 0 {
        return Err(js_error(&format_args!(
            "commitments: {} bytes is not a multiple of {COMMITMENT_SIZE}",
            encoded.len()
        )));
    }
    let mut commitments = Vec::new();
    for (i, b) in encoded.chunks(COMMITMENT_SIZE).enumerate() {
        commitments.push(
            Commitment::decode(b).map_err(|e| js_error(&format_args!("commitment {i}: {e}")))?,
        );
    }
    let json = match soru_verifier::check_commitment_chain(&commitments, commitment_period) {
        Ok(s) => Json::object([
            ("valid", Json::Bool(true)),
            (
                "hashes",
                Json::Array(
                    s.hashes
                        .iter()
                        .map(|h| Json::from(h.to_b58check()))
                        .collect(),
                ),
            ),
            (
                "ticks",
                // soru-core's big-number formatter: `u128`'s own is 1.3 KB of WebAssembly.
                Json::String(
                    Zarith::from_sign_magnitude(false, &s.ticks.to_be_bytes()).to_string(),
                ),
            ),
        ]),
        Err(e) => {
            let index = match &e {
                soru_verifier::ChainError::PredecessorMismatch { index, .. }
                | soru_verifier::ChainError::LevelMismatch { index, .. } => {
                    Json::Int(*index as i64)
                }
                soru_verifier::ChainError::InvalidPeriod(_) => Json::Null,
            };
            Json::object([
                ("valid", Json::Bool(false)),
                ("index", index),
                ("error", Json::String(e.to_string())),
            ])
        }
    };
    Ok(json.to_string())
}

/// Replays `kernel` from origination (second entry point, feature `replay`). `levels` holds the
/// inbox: for each level a big-endian `u32` message count, then each message as a big-endian
/// `u32` length and its bytes. `rollup_address` is `sr1...` (empty: the zero address). Returns
/// the [`soru_verifier::replay::Replay::to_json`] text.
#[cfg(feature = "replay")]
#[wasm_bindgen]
pub fn replay(
    kernel: &[u8],
    levels: &[u8],
    first_level: u32,
    rollup_address: &str,
) -> Result<String, JsError> {
    use soru_core::encoding::address::SmartRollupAddress;
    let mut config = soru_verifier::replay::ReplayConfig {
        first_level,
        origination_level: first_level.saturating_sub(1),
        ..Default::default()
    };
    if !rollup_address.is_empty() {
        config.rollup_address = SmartRollupAddress::from_b58check(rollup_address)
            .map_err(|e| js_error(&format_args!("rollup address: {e}")))?
            .0;
    }
    let levels = read_levels(levels)?;
    let r = soru_verifier::replay::replay(kernel, &levels, &config).map_err(|e| js_error(&e))?;
    Ok(r.to_json().to_string())
}

/// Replays a replay witness (second entry point, feature `replay`): the bytes of
/// `soru_core::witness::encode`. Returns the [`soru_verifier::replay::witness_run_json`] text;
/// a malformed witness, a node it leaves out or a bad preimage is an error naming it.
#[cfg(feature = "replay")]
#[wasm_bindgen]
pub fn replay_witness(witness: &[u8]) -> Result<String, JsError> {
    let run = soru_verifier::replay::replay_witness(witness).map_err(|e| js_error(&e))?;
    Ok(soru_verifier::replay::witness_run_json(&run).to_string())
}

/// The inbox levels a replay witness covers, in order (second entry point, feature `replay`):
/// the levels whose L1 inboxes [`check_witness_inbox`] needs.
#[cfg(feature = "replay")]
#[wasm_bindgen]
pub fn witness_levels(witness: &[u8]) -> Result<Vec<u32>, JsError> {
    let w = soru_core::witness::decode(witness).map_err(|e| js_error(&e))?;
    Ok(w.levels.iter().map(|l| l.level).collect())
}

/// Checks a replay witness's inbox against the L1 (second entry point, feature `replay`):
/// `inboxes` is a JSON array of the L1's `context/smart_rollups/all/inbox` answers after each
/// witnessed level. Returns `[{"level", "inbox_witness": "srib2..."}]`; an error names the
/// level whose messages are not the L1's, or the malformed inbox.
#[cfg(feature = "replay")]
#[wasm_bindgen]
pub fn check_witness_inbox(witness: &[u8], inboxes: &str) -> Result<String, JsError> {
    let value: serde_json::Value =
        serde_json::from_str(inboxes).map_err(|e| js_error(&format_args!("L1 inboxes: {e}")))?;
    let items = value
        .as_array()
        .ok_or_else(|| js_error(&"L1 inboxes: expected a JSON array"))?;
    let inboxes = items
        .iter()
        .enumerate()
        .map(|(i, v)| {
            soru_core::inbox::Inbox::from_json(v)
                .map_err(|e| js_error(&format_args!("L1 inbox {i}: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let witness = soru_core::witness::decode(witness).map_err(|e| js_error(&e))?;
    let checked =
        soru_verifier::replay::check_witness_inbox(&witness, &inboxes).map_err(|e| js_error(&e))?;
    let levels = checked.iter().map(|(level, hash)| {
        Json::object([
            ("level", Json::Int(i64::from(*level))),
            ("inbox_witness", Json::String(hash.to_b58check())),
        ])
    });
    Ok(Json::Array(levels.collect()).to_string())
}

/// Parses the octez wasm debugger's inputs JSON into the level encoding [`replay`] takes.
#[cfg(feature = "replay")]
#[wasm_bindgen]
pub fn encode_inputs_json(json: &str) -> Result<Vec<u8>, JsError> {
    let levels =
        soru_core::inputs::parse(json).map_err(|e| js_error(&format_args!("inputs: {e}")))?;
    let mut out = Vec::new();
    for level in levels {
        out.extend_from_slice(&(level.len() as u32).to_be_bytes());
        for input in level {
            let bytes = input.to_bytes();
            out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
            out.extend_from_slice(&bytes);
        }
    }
    Ok(out)
}

#[cfg(feature = "replay")]
fn read_levels(mut bytes: &[u8]) -> Result<Vec<Vec<Vec<u8>>>, JsError> {
    let total = bytes.len();
    let u32_at = |bytes: &mut &[u8]| -> Result<usize, JsError> {
        let (head, rest) = bytes.split_first_chunk::<4>().ok_or_else(|| {
            js_error(&format_args!(
                "levels: truncated at byte {}",
                total - bytes.len()
            ))
        })?;
        *bytes = rest;
        Ok(u32::from_be_bytes(*head) as usize)
    };
    let mut levels = Vec::new();
    while !bytes.is_empty() {
        let count = u32_at(&mut bytes)?;
        let mut level = Vec::new();
        for _ in 0..count {
            let len = u32_at(&mut bytes)?;
            if len > bytes.len() {
                return Err(js_error(&format_args!(
                    "levels: message of {len} bytes at byte {} overruns the input",
                    total - bytes.len()
                )));
            }
            let (m, rest) = bytes.split_at(len);
            level.push(m.to_vec());
            bytes = rest;
        }
        levels.push(level);
    }
    Ok(levels)
}
