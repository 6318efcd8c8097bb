//! # soru-verifier
//!
//! Everything a light client needs to check a Tezos smart rollup without trusting a node:
//! outbox (withdrawal) proofs and commitments. This crate is a thin, stable facade over
//! [`soru_core`]; the wasm-bindgen layer and the WASI CLI build on it.
#![no_std]

pub use soru_core::commitment;
pub use soru_core::output_proof;
