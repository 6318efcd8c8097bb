//! Untrusted tree proofs: decoding never panics, an accepted proof re-encodes to the same
//! bytes, and rebuilding / hashing / verifying its tree never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use soru_core::tree::{codec, proof};

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = codec::decode(data) {
        assert_eq!(codec::encode(&p).as_deref(), Ok(data));
        if let Ok(t) = p.state.to_tree() {
            let _ = t.hash();
            let _ = t.list(&[], 0, None);
        }
        let _ = proof::verify(&p, |t| t.list(&[], 0, Some(3)));
    }
});
