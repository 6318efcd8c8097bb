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
//! | that commitments form a chain | [`check_chain`], [`check_commitment_chain`], [`ChainError`] |
//! | an outbox proof, with the message decoded (octez JSON) and its tickets | [`verify_outbox_proof`], [`OutboxProof`], [`decode_outbox_message`], [`Ticket`] |
//! | text inputs (hex, `srs1...`) | [`input`] |
//! | replaying levels with the PVM (feature `replay`) | `replay` |
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

extern crate alloc;

pub mod input;
#[cfg(feature = "replay")]
pub mod replay;
mod tickets;

use alloc::string::ToString;
use alloc::vec::Vec;

pub use soru_core::commitment::{
    check_chain, ChainError, Commitment, CommitmentHash, StateHash, COMMITMENT_SIZE,
};
pub use soru_core::encoding::binary::{DecodeError, Zarith};
pub use soru_core::encoding::json::Json;
pub use soru_core::encoding::outbox::OutboxMessage;
pub use soru_core::output_proof::{verify_output_proof, Layout, OutputProofError, VerifiedOutput};
pub use tickets::{tickets, Ticket};

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

/// What an outbox proof is checked against: a state hash, or the commitment that carries it.
pub trait Anchor {
    /// The state hash the proof's `before` must equal.
    fn state_hash(&self) -> StateHash;
}

impl Anchor for StateHash {
    fn state_hash(&self) -> StateHash {
        *self
    }
}

impl Anchor for Commitment {
    fn state_hash(&self) -> StateHash {
        self.compressed_state
    }
}

/// A verified outbox proof: where the message sits, its bytes and what they say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxProof {
    /// Level of the outbox holding the message.
    pub outbox_level: u32,
    /// Index of the message in that outbox.
    pub message_index: u64,
    /// The message bytes (`Sc_rollup_outbox_message_repr`).
    pub message: Vec<u8>,
    /// The decoded message. The PVM stores whatever a kernel writes, so a proven message may
    /// not decode (the L1 would refuse to execute it); that is not a proof failure.
    pub decoded: Result<OutboxMessage, DecodeError>,
    /// The state hash the proof was checked against.
    pub state_hash: StateHash,
    /// The envelope the proof was read with.
    pub layout: Layout,
}

impl OutboxProof {
    /// The tickets the message's transactions carry (see [`tickets`]).
    pub fn tickets(&self) -> Vec<Ticket> {
        self.decoded.as_ref().map(tickets).unwrap_or_default()
    }

    /// The JSON form. `message_index` (a decimal string, as `Data_encoding` writes `n`) and
    /// `message` (`{"kind": "untyped" | "typed" | "whitelist_update" | ..}`, `entrypoint`
    /// omitted when `default`) are exactly an element of the octez rollup node's
    /// `/global/block/<id>/outbox/<level>/messages`; next to them `outbox_level`,
    /// `message_hex`, `tickets`, `state_hash` (`srs1...`), `layout` and, for a message that
    /// does not decode, `message: null` with `decode_error`.
    pub fn to_json(&self) -> Json {
        let mut fields = alloc::vec![
            ("outbox_level", Json::Int(i64::from(self.outbox_level))),
            (
                "message_index",
                Json::String(self.message_index.to_string())
            ),
            ("message_hex", Json::String(hex::encode(&self.message))),
            (
                "tickets",
                Json::Array(self.tickets().iter().map(Ticket::to_json).collect()),
            ),
            ("state_hash", Json::String(self.state_hash.to_b58check())),
            (
                "layout",
                Json::from(match self.layout {
                    Layout::Obj2 => "obj2",
                    Layout::Obj3 => "obj3",
                }),
            ),
        ];
        match &self.decoded {
            Ok(m) => fields.push(("message", m.to_json())),
            Err(e) => {
                fields.push(("message", Json::Null));
                fields.push(("decode_error", Json::String(e.to_string())));
            }
        }
        Json::object(fields)
    }
}

/// Verifies an octez output proof against `anchor` (a [`StateHash`] or a [`Commitment`]) and
/// decodes the proven message. Both envelopes ([`Layout::Obj2`], then [`Layout::Obj3`]) are
/// tried.
pub fn verify_outbox_proof(
    proof: &[u8],
    anchor: &impl Anchor,
) -> Result<OutboxProof, OutputProofError> {
    let state_hash = anchor.state_hash();
    let v = verify_output_proof(proof, &state_hash.0, None)?;
    Ok(OutboxProof {
        decoded: decode_outbox_message(&v.message),
        outbox_level: v.outbox_level,
        message_index: v.message_index,
        message: v.message,
        state_hash,
        layout: v.layout,
    })
}

/// Decodes outbox message bytes (`Sc_rollup_outbox_message_repr`); errors name the byte.
pub fn decode_outbox_message(bytes: &[u8]) -> Result<OutboxMessage, DecodeError> {
    OutboxMessage::decode(bytes)
}

/// A chain of commitments that checked out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainSummary {
    /// The hash of each commitment, in order.
    pub hashes: Vec<CommitmentHash>,
    /// Ticks of every commitment after the first (the work the chain claims).
    pub ticks: u128,
}

/// Checks that `commitments` form a chain with `commitment_period` levels between links (see
/// [`check_chain`]); on failure the error names the first link that breaks and why.
pub fn check_commitment_chain(
    commitments: &[Commitment],
    commitment_period: i32,
) -> Result<ChainSummary, ChainError> {
    check_chain(commitments, commitment_period)?;
    Ok(ChainSummary {
        hashes: commitments.iter().map(Commitment::hash).collect(),
        ticks: commitments
            .iter()
            .skip(1)
            .map(|c| c.number_of_ticks as u128)
            .sum(),
    })
}
