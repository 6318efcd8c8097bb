//! The reveal channel: data the kernel asks for by hash that is not in the inbox.
//!
//! A kernel calls `reveal_preimage`, `reveal_metadata` or the generic `reveal`; the PVM turns
//! the call into a [`RevealRequest`] and asks the embedder's [`Reveal`] implementation. If the
//! answer is not available yet (a browser fetching a page asynchronously), the implementation
//! returns `None`: the PVM *suspends* inside the host call and reports
//! [`crate::pvm::Status::WaitingForReveal`]; once the bytes arrive the embedder calls
//! [`crate::pvm::Pvm::resume_reveal`] and execution continues exactly where it stopped.
//!
//! Payloads follow octez's reveal encoding (`Sc_rollup_reveal_hash` / `Wasm_pvm_state.reveal`):
//! `reveal_preimage(hash)` requests the payload `0x00 ‖ hash`, `reveal_metadata` requests `0x01`,
//! and the generic `reveal` passes the kernel's payload through unchanged. Metadata requests
//! are answered by the PVM itself from its configuration.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use crate::digest::blake2b_256;

/// Size of a reveal hash: a tag byte (`0` = BLAKE2b-256) followed by the 32-byte digest.
pub const PREIMAGE_HASH_SIZE: usize = 33;
/// Tag of a BLAKE2b-256 reveal hash.
pub const BLAKE2B_HASH_TAG: u8 = 0;

/// What the kernel asked to be revealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevealRequest {
    /// A preimage by hash (normally the 33-byte form, but the kernel may pass any bytes).
    Preimage(Vec<u8>),
    /// The rollup metadata: 20-byte rollup address and big-endian `i32` origination level.
    Metadata,
    /// Any other generic `reveal` payload (e.g. DAL pages or parameters), passed through
    /// unchanged.
    Raw(Vec<u8>),
}

impl RevealRequest {
    /// Classifies a raw reveal payload (octez `Wasm_pvm_state.Compatibility.of_current_opt`):
    /// tag `0` + hash is a preimage request, the single byte `1` a metadata request.
    pub fn from_payload(payload: &[u8]) -> RevealRequest {
        match payload {
            [0, hash @ ..] => RevealRequest::Preimage(hash.to_vec()),
            [1] => RevealRequest::Metadata,
            other => RevealRequest::Raw(other.to_vec()),
        }
    }

    /// The raw payload octez stores in its `Reveal_required` state.
    pub fn payload(&self) -> Vec<u8> {
        match self {
            RevealRequest::Preimage(hash) => {
                let mut p = Vec::with_capacity(hash.len() + 1);
                p.push(0);
                p.extend_from_slice(hash);
                p
            }
            RevealRequest::Metadata => alloc::vec![1],
            RevealRequest::Raw(p) => p.clone(),
        }
    }
}

/// The embedder's side of the reveal channel.
pub trait Reveal {
    /// The bytes for `request`, or `None` if they are not available (yet): the PVM then
    /// suspends until [`crate::pvm::Pvm::resume_reveal`] supplies them.
    fn reveal(&mut self, request: &RevealRequest) -> Option<Vec<u8>>;
}

/// A reveal channel that never has anything: every preimage request suspends the PVM.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoReveal;

impl Reveal for NoReveal {
    fn reveal(&mut self, _request: &RevealRequest) -> Option<Vec<u8>> {
        None
    }
}

/// BLAKE2b-256 reveal hash (33 bytes, tag 0) of `data`.
pub fn preimage_hash(data: &[u8]) -> [u8; PREIMAGE_HASH_SIZE] {
    let digest = blake2b_256(data);
    let mut out = [0u8; PREIMAGE_HASH_SIZE];
    out[0] = BLAKE2B_HASH_TAG;
    out[1..].copy_from_slice(&digest);
    out
}

/// An in-memory preimage store keyed by 33-byte hash.
#[derive(Debug, Default, Clone)]
pub struct PreimageMap {
    preimages: BTreeMap<Vec<u8>, Vec<u8>>,
}

impl PreimageMap {
    /// An empty store.
    pub fn new() -> PreimageMap {
        PreimageMap::default()
    }

    /// Adds `data` under its BLAKE2b-256 reveal hash and returns that hash.
    pub fn insert(&mut self, data: Vec<u8>) -> [u8; PREIMAGE_HASH_SIZE] {
        let hash = preimage_hash(&data);
        self.preimages.insert(hash.to_vec(), data);
        hash
    }

    /// Number of stored preimages.
    pub fn len(&self) -> usize {
        self.preimages.len()
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.preimages.is_empty()
    }
}

impl Reveal for PreimageMap {
    fn reveal(&mut self, request: &RevealRequest) -> Option<Vec<u8>> {
        match request {
            RevealRequest::Preimage(hash) => self.preimages.get(hash).cloned(),
            _ => None,
        }
    }
}
