//! # soru-verifier
//!
//! Everything a light client needs to check a Tezos smart rollup without trusting a node, as a
//! small and stable facade over [`soru_core`]. It is `no_std` (with `alloc`), so it runs in a web
//! page, a WASI runtime or a zkVM as well as natively; the planned wasm-bindgen layer (npm
//! package) and WASI CLI build on it.
//!
//! | check | items |
//! |---|---|
//! | a commitment's 76-byte encoding and its `src1` hash | [`Commitment`], [`CommitmentHash`], [`StateHash`] |
//! | that commitments form a chain | [`check_chain`], [`ChainError`] |
//!
//! Malformed input is always an error value naming what is wrong, never a panic.
//!
//! ## Example
//!
//! ```
//! use soru_verifier::{check_chain, ChainError, Commitment, StateHash};
//!
//! // A rollup originated at level 100 with a commitment period of 20 levels.
//! let genesis = Commitment::genesis(100, StateHash([7; 32]));
//! let next = Commitment {
//!     compressed_state: StateHash([8; 32]),
//!     inbox_level: 120,
//!     predecessor: genesis.hash(),
//!     number_of_ticks: 11_000_000_000,
//! };
//! check_chain(&[genesis, next], 20)?;
//!
//! // The 76 bytes an L1 operation carries decode to the same commitment and hash.
//! let decoded = Commitment::decode(&next.encode())?;
//! assert_eq!(decoded.hash(), next.hash());
//! assert!(decoded.hash().to_b58check().starts_with("src1"));
//!
//! // A commitment that does not name its predecessor's hash breaks the chain.
//! let forged = Commitment { predecessor: next.hash(), ..next };
//! assert!(matches!(
//!     check_chain(&[genesis, forged], 20),
//!     Err(ChainError::PredecessorMismatch { index: 1, .. })
//! ));
//! # Ok::<(), Box<dyn core::error::Error>>(())
//! ```
#![no_std]

pub use soru_core::commitment::{
    check_chain, ChainError, Commitment, CommitmentHash, StateHash, COMMITMENT_SIZE,
};
