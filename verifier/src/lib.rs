//! # soru-verifier
//!
//! Everything a light client needs to check a Tezos smart rollup without trusting a node, as a
//! small and stable facade over [`soru_core`]. It is `no_std` (with `alloc`), so it runs in a web
//! page, a WASI runtime or a zkVM as well as natively; the planned wasm-bindgen layer (npm
//! package) and WASI CLI build on it.
//!
//! | check | items |
//! |---|---|
//! | an octez output (withdrawal) proof against a state hash | [`verify_output_proof`], [`Layout`], [`VerifiedOutput`], [`OutputProofError`] |
//! | the same against a commitment | [`verify_output_against_commitment`] |
//! | a commitment's 76-byte encoding and its `src1` hash | [`Commitment`], [`CommitmentHash`], [`StateHash`] |
//! | that commitments form a chain | [`check_chain`], [`ChainError`] |
//!
//! Output proofs are octez's (`Merkle_proof_encoding.V2.Tree2` tree proof followed by the
//! output), so real withdrawals from Tezos rollups such as Etherlink verify; the repository's
//! tests check the public proofs in `../shared/vectors/tezos-output-proofs/`. Malformed input is
//! always an error value naming what is wrong, never a panic.
//!
//! ## Example
//!
//! A rollup node proves that message 0 of the outbox of level 7 is in its state; the light
//! client checks the proof against the state hash of a cemented commitment.
//!
//! ```
//! use soru_core::output_proof::produce_output_proof;
//! use soru_core::state::output_buffer::{self, OutputBufferInfo};
//! use soru_core::tree::Tree;
//! use soru_verifier::{
//!     check_chain, verify_output_against_commitment, verify_output_proof, Commitment, Layout,
//!     StateHash,
//! };
//!
//! // Node side: a PVM state whose outbox at level 7 holds one message, and its proof.
//! let mut state = Tree::empty();
//! state.set_value(&soru_core::state::TAG, soru_core::state::TAG_SOME)?;
//! output_buffer::write_info(&mut state, &OutputBufferInfo {
//!     last_level: None,
//!     validity_period: soru_core::abi::OUTBOX_VALIDITY_PERIOD as i32,
//!     message_limit: soru_core::abi::OUTBOX_MESSAGE_LIMIT as u64,
//! })?;
//! output_buffer::start_level(&mut state, 7)?;
//! output_buffer::push_message(&mut state, b"withdraw 10 tez")?;
//! let proof = produce_output_proof(&state, 7, 0, Layout::Obj2)?;
//!
//! // Client side: only the proof bytes and the commitment are needed.
//! let genesis = Commitment::genesis(0, StateHash([0; 32]));
//! let cemented = Commitment {
//!     compressed_state: StateHash(state.hash()),
//!     inbox_level: 20,
//!     predecessor: genesis.hash(),
//!     number_of_ticks: 42,
//! };
//! check_chain(&[genesis, cemented], 20)?;
//! let output = verify_output_against_commitment(&proof, &cemented, None)?;
//! assert_eq!((output.outbox_level, output.message_index), (7, 0));
//! assert_eq!(output.message, b"withdraw 10 tez");
//!
//! // Any other state hash, or a damaged proof, is rejected with a reason.
//! assert!(verify_output_proof(&proof, &[0; 32], None).is_err());
//! let mut damaged = proof.clone();
//! let last = damaged.len() - 1;
//! damaged[last] ^= 1;
//! assert!(verify_output_proof(&damaged, &state.hash(), None).is_err());
//! # Ok::<(), Box<dyn core::error::Error>>(())
//! ```
#![no_std]

pub use soru_core::commitment::{
    check_chain, ChainError, Commitment, CommitmentHash, StateHash, COMMITMENT_SIZE,
};
pub use soru_core::output_proof::{verify_output_proof, Layout, OutputProofError, VerifiedOutput};

/// Verifies an output proof against a commitment's `compressed_state`, which is what the L1
/// does before executing an outbox message of a cemented commitment. With `layout: None`,
/// [`Layout::Obj2`] (protocols 018 and later) is tried, then [`Layout::Obj3`] (016-017).
///
/// The caller is responsible for knowing that `commitment` is cemented (e.g. from an L1 node it
/// trusts, or by checking a chain of commitments with [`check_chain`]).
pub fn verify_output_against_commitment(
    proof: &[u8],
    commitment: &Commitment,
    layout: Option<Layout>,
) -> Result<VerifiedOutput, OutputProofError> {
    verify_output_proof(proof, &commitment.compressed_state.0, layout)
}
