//! Untrusted output proofs: verification never panics, and whatever it accepts is consistent
//! (the proof's state hash is the one it was checked against).
#![no_main]

use libfuzzer_sys::fuzz_target;
use soru_core::output_proof::verify_output_proof;

fuzz_target!(|data: &[u8]| {
    // Check against the state hash the proof claims (bytes 3..35), so the fuzzer can reach
    // the tree and output-buffer checks.
    let claimed: [u8; 32] = data.get(3..35).and_then(|s| s.try_into().ok()).unwrap_or([0; 32]);
    if let Ok(out) = verify_output_proof(data, &claimed, None) {
        assert_eq!(out.state_hash, claimed);
        assert!(data.ends_with(&out.message));
    }
});
