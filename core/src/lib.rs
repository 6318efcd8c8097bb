//! # soru-core
//!
//! The portable heart of Soru: a `no_std` + `alloc` implementation of the Tezos WASM PVM
//! (`smart_rollup_core` host ABI, 2.0.0-r5 semantics), the Irmin-compatible Merkle tree that
//! holds its state, octez-compatible proofs, commitments and every Tezos byte encoding the
//! rollup touches.
//!
//! | module | concept |
//! |---|---|
//! | [`abi`] | ABI facts: limits, error codes, the host-function table, PVM versions (a leaf) |
//! | [`tree`] | persistent Merkle tree, octez `Context_binary` hashing, proofs and their codec |
//! | [`durable`] | durable storage semantics (paths, 512-byte chunked values) on top of [`tree`] |
//! | [`encoding`] | Tezos binary encodings: inbox/outbox messages, Micheline, base58check |
//! | [`state`] | the state layout: where octez keeps each part of the PVM state in the tree |
//! | [`host`] | the `smart_rollup_core` host functions acting on that state |
//! | [`pvm`] | the level state machine: inputs, `kernel_run`, reboots, stuck state, upgrades |
//! | [`reveal`] | the reveal channel the embedder implements (preimages, metadata) |
//! | [`commitment`] | the 76-byte commitment, its hash and chain checks |
//! | [`inbox`] | the Merkleized shared inbox (skip lists of message and level hashes, `srib1` inbox hash) |
//! | [`output_proof`] | verifying octez output (withdrawal) proofs against a state hash |
//! | [`inputs`] | the octez wasm debugger's JSON inputs format |
//! | [`witness`] | replay witnesses: re-running levels on the part of the state they read |
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `std` | yes | `std` conveniences |
//! | `pvm` | yes | [`host`], [`pvm`], [`witness`] and [`debugger`]: running and profiling kernels on wasmi (pulls wasmi, wasmparser and wasm-encoder) |
//! | `json` | yes | [`inputs`] and the JSON parsers (pulls serde_json) |
//! | `keys` | no | Ed25519 signing and signature checks in [`encoding::keys`] (pulls ed25519-dalek) |
//!
//! Without `pvm` and `json` the crate is what a light client needs: trees, proofs, output
//! proofs, commitments and every encoding (`cargo build -p soru-core --no-default-features`).
#![no_std]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod abi;
pub mod commitment;
#[cfg(feature = "debugger")]
pub mod debugger;
pub mod digest;
pub mod durable;
pub mod encoding;
#[cfg(feature = "pvm")]
pub mod host;
pub mod inbox;
#[cfg(feature = "json")]
pub mod inputs;
pub mod installer_config;
pub mod output_proof;
#[cfg(feature = "pvm")]
pub mod pvm;
pub mod reveal;
pub mod state;
pub mod tree;
#[cfg(feature = "pvm")]
pub mod witness;
