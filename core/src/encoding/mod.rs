//! Tezos byte layouts. Every encoding the rollup reads or writes lives here and nowhere else.
//!
//! | module | layout |
//! |---|---|
//! | [`binary`] | `Data_encoding` primitives: big-endian integers, zarith `n`/`z`, `uint30`-prefixed bytes |
//! | [`hex_text`] | hex as people paste it (whitespace, `0x`), with the position of a bad digit |
//! | [`quote`] | characters and strings quoted in error messages (`{:?}`'s form for ASCII) |
//! | [`base58`] | base58check with Tezos prefixes (`tz1..tz5`, `KT1`, `sr1`, `src1`, `srs1`, `B`, ...) |
//! | [`address`] | public key hashes, contract hashes, contracts, smart rollup addresses |
//! | [`json`] | a small JSON value that prints the octez JSON forms without a JSON library |
//! | [`micheline`] | Micheline expressions: binary encoding (Michelson primitives) and octez JSON form |
//! | [`michelson`] | a parser from Michelson data text to Micheline expressions |
//! | [`inbox`] | inbox messages exactly as the L1 writes them into the PVM's inbox (+ octez JSON form) |
//! | [`outbox`] | outbox messages exactly as `Sc_rollup_outbox_message_repr` (+ octez JSON form) |
//! | [`keys`] | public keys, signatures, `0x03`-watermarked signing and checking (feature `keys`) |
//! | [`operation`] | manager operations of protocol 025 (reveal, transaction, origination, smart rollups) |
//!
//! ```
//! use soru_core::encoding::base58;
//! use soru_core::encoding::binary::{put_dynamic_bytes, Reader};
//!
//! // The all-zero smart rollup address the octez wasm debugger uses by default.
//! let sr1 = base58::decode(&base58::SR1, "sr163Lv22CdE8QagCwf48PWDTquk6isQwv57").unwrap();
//! assert_eq!(sr1, [0u8; 20]);
//!
//! // A `uint30`-prefixed byte string, then reading it back.
//! let mut out = Vec::new();
//! put_dynamic_bytes(&mut out, b"hello");
//! assert_eq!(out, b"\x00\x00\x00\x05hello");
//! let mut r = Reader::new(&out);
//! assert_eq!(r.dynamic_bytes().unwrap(), b"hello");
//! r.finish().unwrap();
//! ```

pub mod address;
pub mod base58;
pub mod binary;
pub mod hex_text;
pub mod inbox;
pub mod json;
pub mod keys;
pub mod micheline;
pub mod michelson;
pub mod operation;
pub mod outbox;
pub mod quote;
pub mod refutation;
