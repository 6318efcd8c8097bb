//! Untrusted replay witnesses: decoding never panics, an accepted witness re-encodes to bytes
//! that decode to it again, and replaying it never panics (runs with a small tick budget only, so each input
//! ends quickly).
#![no_main]

use libfuzzer_sys::fuzz_target;
use soru_core::witness;

fuzz_target!(|data: &[u8]| {
    if let Ok(w) = witness::decode(data) {
        if let Ok(bytes) = witness::encode(&w) {
            assert_eq!(witness::decode(&bytes).as_ref(), Ok(&w));
        }
        if w.config.ticks_per_snapshot <= 10_000_000 {
            let _ = witness::replay(&w);
        }
    }
});
