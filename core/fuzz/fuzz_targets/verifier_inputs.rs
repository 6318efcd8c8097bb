//! Untrusted light-client inputs through soru-verifier: outbox proofs (with the message decoded,
//! rendered as JSON and searched for tickets), outbox message bytes, commitment chains and text
//! inputs never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use soru_verifier::input::{decode_hex, parse_state_hash};
use soru_verifier::{
    check_commitment_chain, decode_outbox_message, tickets, verify_outbox_proof, Commitment,
    StateHash, COMMITMENT_SIZE,
};

fuzz_target!(|data: &[u8]| {
    let claimed: [u8; 32] = data.get(3..35).and_then(|s| s.try_into().ok()).unwrap_or([0; 32]);
    if let Ok(out) = verify_outbox_proof(data, &StateHash(claimed)) {
        let _ = out.to_json().to_string();
        let _ = out.tickets();
    }
    if let Ok(m) = decode_outbox_message(data) {
        let _ = m.to_json().to_string();
        let _ = tickets(&m);
    }
    let chain: Vec<Commitment> = data
        .chunks_exact(COMMITMENT_SIZE)
        .filter_map(|c| Commitment::decode(c).ok())
        .collect();
    let _ = check_commitment_chain(&chain, i32::from(data.first().copied().unwrap_or(1)));
    if let Ok(text) = core::str::from_utf8(data) {
        let _ = decode_hex(text);
        let _ = parse_state_hash(text);
    }
});
