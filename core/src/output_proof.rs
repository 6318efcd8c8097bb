//! Verifying octez output (withdrawal) proofs against a state hash.
//!
//! An output proof (`sc_rollup_wasm.ml`, `output_proof_encoding`) is a tree proof
//! (`Merkle_proof_encoding.V2.Tree2`) of the PVM state followed by the output it proves:
//! `int32 outbox_level | n message_index | message` (the message runs to the end). Protocols
//! 016-017 (layout [`Layout::Obj3`]) put the 32-byte proof start state between them.
//!
//! Verification: decode, check the proof's `before` equals the expected state hash (the
//! cemented commitment's `compressed_state`), recompute the proof tree's root hash, read the
//! message from the output buffer exactly as octez does (see [`crate::state::output_buffer`]) and
//! compare it with the claimed one, then check the proof's `after` equals the unchanged root.
//! The proof tree is hashed and read as it is ([`crate::tree::proof::ProofTree::view`]), not
//! rebuilt into a [`Tree`].
//!
//! ```
//! use soru_core::output_proof::{verify_output_proof, OutputProofError};
//! let err = verify_output_proof(&[0x03, 0x00], &[0; 32], None).unwrap_err();
//! assert!(matches!(err, OutputProofError::Decode(_)));
//! ```

use alloc::vec::Vec;

use crate::encoding::binary::{self, DecodeError as BinaryDecodeError, DecodeErrorKind, Reader};
use crate::state::output_buffer::{self, OutputBufferError};
use crate::tree::codec::{self, DecodeError, DecodeReason, EncodeError};
use crate::tree::proof::{self, KindedHash, ProofError};
use crate::tree::{Hash, Tree, TreeError};

/// How the output proof's fields are laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// `proof | output` (protocols 018 and later).
    Obj2,
    /// `proof | state(32) | output` (protocols 016-017).
    Obj3,
}

/// What a valid output proof proves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedOutput {
    /// Level of the outbox holding the message.
    pub outbox_level: u32,
    /// Index of the message in that outbox.
    pub message_index: u64,
    /// The message bytes (`Sc_rollup_outbox_message_repr` encoding).
    pub message: Vec<u8>,
    /// The state hash the proof was checked against.
    pub state_hash: Hash,
    /// The layout the proof was read with.
    pub layout: Layout,
}

/// Why an output proof was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OutputProofError {
    /// The tree proof does not decode.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The output part after the tree proof does not decode (offsets count from the start of
    /// the whole output proof).
    #[error("invalid output after the tree proof: {0}")]
    Output(#[from] BinaryDecodeError),
    /// The proof's `before` is not the expected state hash.
    #[error("proof is for state {} but the expected state hash is {}", hex::encode(.proof), hex::encode(.expected))]
    StateMismatch {
        /// The proof's `before` hash.
        proof: Hash,
        /// The hash the caller expects (the commitment's compressed state).
        expected: Hash,
    },
    /// The proof's tree does not hash to its `before` hash.
    #[error("root hash mismatch: the proof tree hashes to {} but the proof claims {}", hex::encode(.computed), hex::encode(.claimed))]
    RootHashMismatch {
        /// Recomputed root hash.
        computed: Hash,
        /// Claimed `before` hash.
        claimed: Hash,
    },
    /// The proof's `after` is not its `before` (reading an output changes nothing).
    #[error("proof after hash {} differs from its before hash {}", hex::encode(.after), hex::encode(.before))]
    AfterMismatch {
        /// Claimed `before`.
        before: Hash,
        /// Claimed `after`.
        after: Hash,
    },
    /// The proof was read as obj2 but is evidently obj3: the 32 bytes after its tree proof are
    /// its own `before` hash, which obj2 would have read as the outbox level and index.
    #[error("the proof is in the obj3 layout (protocols 016-017: its 32 bytes after the tree proof are its state hash), not obj2; read it with layout obj3 or let both be tried")]
    Obj3ReadAsObj2,
    /// The obj3 state field differs from the proof's `before`.
    #[error("output proof state field {} differs from the proof's before hash {} (an obj2 proof read as obj3 gives this too)", hex::encode(.field), hex::encode(.before))]
    StateFieldMismatch {
        /// The 32-byte state field.
        field: Hash,
        /// The proof's `before`.
        before: Hash,
    },
    /// A proof whose root is a value, not a PVM state directory.
    #[error("the proof's root is not a directory")]
    RootNotDirectory,
    /// The proof tree breaks irmin's shape rules.
    #[error(transparent)]
    Proof(ProofError),
    /// Reading the message from the output buffer failed (blinded path, level outside the
    /// validity window, index out of range, malformed field...).
    #[error(transparent)]
    OutputBuffer(#[from] OutputBufferError),
    /// The message stored in the state differs from the one the proof claims.
    #[error("message mismatch: the state holds {stored_len} bytes ({}...) but the proof claims {claimed_len} bytes", hex::encode(.stored_prefix))]
    MessageMismatch {
        /// Length of the stored message.
        stored_len: usize,
        /// First bytes of the stored message.
        stored_prefix: Vec<u8>,
        /// Length of the claimed message.
        claimed_len: usize,
    },
}

/// Verifies an octez output proof against `expected_state_hash` (the cemented commitment's
/// `compressed_state`). With `layout: None` it tries [`Layout::Obj2`] then [`Layout::Obj3`].
pub fn verify_output_proof(
    proof: &[u8],
    expected_state_hash: &Hash,
    layout: Option<Layout>,
) -> Result<VerifiedOutput, OutputProofError> {
    match layout {
        Some(Layout::Obj2) => verify_with(proof, expected_state_hash, Layout::Obj2).map_err(|e| {
            if looks_obj3(proof) {
                OutputProofError::Obj3ReadAsObj2
            } else {
                e
            }
        }),
        Some(l) => verify_with(proof, expected_state_hash, l),
        None => match verify_with(proof, expected_state_hash, Layout::Obj2) {
            Ok(v) => Ok(v),
            Err(e2) => match verify_with(proof, expected_state_hash, Layout::Obj3) {
                Ok(v) => Ok(v),
                // Report the obj3 failure when the proof evidently is obj3 (its state field
                // equals `before`), the obj2 one otherwise.
                Err(e3) if looks_obj3(proof) => Err(e3),
                Err(_) => Err(e2),
            },
        },
    }
}

fn looks_obj3(proof: &[u8]) -> bool {
    match codec::decode_prefix(proof) {
        Ok((p, used)) => proof.get(used..used + 32) == Some(&p.before.hash()[..]),
        Err(_) => false,
    }
}

/// Reads `[state(32)] | int32 outbox_level | n message_index | message` after the tree proof.
fn read_output<'a>(
    r: &mut Reader<'a>,
    layout: Layout,
    before: &Hash,
) -> Result<(u32, u64, &'a [u8]), OutputProofError> {
    if layout == Layout::Obj3 {
        let field: Hash = r.array()?;
        if field != *before {
            return Err(OutputProofError::StateFieldMismatch {
                field,
                before: *before,
            });
        }
    }
    let at = r.position();
    let outbox_level = u32::try_from(r.i32()?).map_err(|_| {
        r.error_at(
            at,
            DecodeErrorKind::Invalid {
                what: "outbox level",
                reason: "negative",
            },
        )
    })?;
    let message_index = r.n_u64()?;
    Ok((outbox_level, message_index, r.rest()))
}

fn verify_with(
    bytes: &[u8],
    expected: &Hash,
    layout: Layout,
) -> Result<VerifiedOutput, OutputProofError> {
    let (proof, used) = codec::decode_prefix(bytes)?;
    let before = *proof.before.hash();
    let mut r = Reader::new(bytes);
    r.bytes(used)?;
    let (outbox_level, message_index, message) = read_output(&mut r, layout, &before)?;

    if before != *expected {
        return Err(OutputProofError::StateMismatch {
            proof: before,
            expected: *expected,
        });
    }
    if proof.after != proof.before {
        return Err(OutputProofError::AfterMismatch {
            before,
            after: *proof.after.hash(),
        });
    }
    if !matches!(proof.before, KindedHash::Node(_)) {
        return Err(OutputProofError::RootNotDirectory);
    }
    // The proof tree is checked, hashed and read as it is, not rebuilt into a `Tree`: the
    // same checks, hash, reads and errors without the tree machinery (4 KB of the npm
    // package's gzipped proof entry).
    let (computed, mut tree) = proof.state.view().map_err(OutputProofError::Proof)?;
    if computed != before {
        return Err(OutputProofError::RootHashMismatch {
            computed,
            claimed: before,
        });
    }
    let stored = output_buffer::read_message(&mut tree, outbox_level, message_index)?;
    if stored != message {
        return Err(OutputProofError::MessageMismatch {
            stored_len: stored.len(),
            stored_prefix: stored[..stored.len().min(16)].to_vec(),
            claimed_len: message.len(),
        });
    }
    Ok(VerifiedOutput {
        outbox_level,
        message_index,
        message: message.to_vec(),
        state_hash: before,
        layout,
    })
}

/// Produces the output proof of message `message_index` of the outbox at `outbox_level` in
/// `state`, in `layout` (what the octez rollup node serves at
/// `/global/block/<id>/helpers/proofs/outbox/<level>/messages`). Its tree proof reveals what
/// octez's verifier reads: `/tag` and the output buffer path; the rest is blinded.
pub fn produce_output_proof(
    state: &Tree,
    outbox_level: u32,
    message_index: u64,
    layout: Layout,
) -> Result<Vec<u8>, ProduceOutputProofError> {
    let (proof, message) = proof::produce(state, |rec| {
        match output_buffer::read_message(rec, outbox_level, message_index) {
            Ok(m) => Ok(Ok(m)),
            Err(OutputBufferError::Tree(t)) => Err(t),
            Err(other) => Ok(Err(other)),
        }
    })
    .map_err(ProduceOutputProofError::Tree)?;
    let message = message.map_err(ProduceOutputProofError::OutputBuffer)?;
    let mut out = codec::encode(&proof).map_err(ProduceOutputProofError::Encode)?;
    if layout == Layout::Obj3 {
        out.extend_from_slice(proof.before.hash());
    }
    let level = i32::try_from(outbox_level)
        .map_err(|_| ProduceOutputProofError::LevelTooLarge(outbox_level))?;
    binary::put_i32(&mut out, level);
    binary::put_n_u64(&mut out, message_index);
    out.extend_from_slice(&message);
    Ok(out)
}

/// Why an output proof could not be produced.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProduceOutputProofError {
    /// The state tree refused a read.
    #[error(transparent)]
    Tree(TreeError),
    /// The output buffer has no such message (or is malformed).
    #[error(transparent)]
    OutputBuffer(OutputBufferError),
    /// The proof cannot be encoded (a step or value too long for the format).
    #[error(transparent)]
    Encode(EncodeError),
    /// Outbox levels are int32 in the output encoding.
    #[error("outbox level {0} does not fit an int32")]
    LevelTooLarge(u32),
}

/// Re-exported so callers can match decode failures without importing the codec.
pub type ProofDecodeReason = DecodeReason;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::binary::DecodeError as BinaryDecodeError;
    use crate::state::output_buffer::OutputBufferInfo;
    use crate::state::{TAG, TAG_SOME};
    use alloc::string::ToString;

    fn state() -> Tree {
        let mut t = Tree::empty();
        t.set_value(&TAG, TAG_SOME).unwrap();
        let info = OutputBufferInfo {
            last_level: None,
            validity_period: 10,
            message_limit: 200,
        };
        output_buffer::write_info(&mut t, &info).unwrap();
        output_buffer::start_level(&mut t, 3).unwrap();
        for m in 0..130u32 {
            output_buffer::push_message(&mut t, &m.to_be_bytes()).unwrap();
        }
        t
    }

    /// The proof tree read through `ProofTree::view` gives what the partial [`Tree`] of
    /// `ProofTree::to_tree` gives: the same shape errors, root hash, message and read errors,
    /// for a real proof and every one-byte change and truncation of it.
    #[test]
    fn view_reads_as_the_rebuilt_tree() {
        fn both(bytes: &[u8], level: u32, index: u64) -> Option<[alloc::string::String; 2]> {
            let (p, _) = codec::decode_prefix(bytes).ok()?;
            let via_tree = p.state.to_tree().map(|mut t| {
                let h = t.hash();
                (h, output_buffer::read_message(&mut t, level, index))
            });
            let via_view = p
                .state
                .view()
                .map(|(h, mut v)| (h, output_buffer::read_message(&mut v, level, index)));
            Some([
                alloc::format!("{via_tree:?}"),
                alloc::format!("{via_view:?}"),
            ])
        }
        let t = state();
        let mut decoded = 0;
        for (level, index) in [(3, 0), (3, 129), (3, 77)] {
            let bytes = produce_output_proof(&t, level, index, Layout::Obj2).unwrap();
            for probe in [(level, index), (level, index + 1), (2, 0), (3, 130)] {
                let [a, b] = both(&bytes, probe.0, probe.1).unwrap();
                assert_eq!(a, b);
            }
            for at in 0..bytes.len() {
                for flip in [0x01, 0x02, 0x10, 0x80, 0xff] {
                    let mut m = bytes.clone();
                    m[at] ^= flip;
                    if let Some([a, b]) = both(&m, level, index) {
                        assert_eq!(a, b, "byte {at} ^ {flip:#x}");
                        decoded += 1;
                    }
                }
                if let Some([a, b]) = both(&bytes[..at], level, index) {
                    assert_eq!(a, b, "first {at} bytes");
                }
            }
        }
        assert!(decoded > 1000, "{decoded} changed proofs decoded");
    }

    #[test]
    fn output_part_errors_name_the_byte() {
        let t = state();
        let bytes = produce_output_proof(&t, 3, 129, Layout::Obj2).unwrap();
        let hash = t.hash();
        let ok = verify_output_proof(&bytes, &hash, Some(Layout::Obj2)).unwrap();
        assert_eq!((ok.outbox_level, ok.message_index), (3, 129));
        assert_eq!(ok.message, 129u32.to_be_bytes());
        // Index 129 is the 2-byte natural 0x81 0x01 after the 4-byte level.
        let used = bytes.len() - 4 - 2 - 4;
        assert_eq!(bytes[used + 4..used + 6], [0x81, 0x01]);

        let err = verify_output_proof(&bytes[..used + 2], &hash, Some(Layout::Obj2));
        assert!(matches!(
            err,
            Err(OutputProofError::Output(BinaryDecodeError { offset, .. })) if offset == used
        ));

        let mut negative = bytes.clone();
        negative[used] = 0xff;
        let err = verify_output_proof(&negative, &hash, Some(Layout::Obj2)).unwrap_err();
        assert_eq!(
            err.to_string(),
            alloc::format!(
                "invalid output after the tree proof: at byte {used}: invalid outbox level: negative"
            )
        );

        // A natural with a trailing zero group is not canonical.
        let mut padded = bytes[..used + 4].to_vec();
        padded.extend_from_slice(&[0x81, 0x81, 0x00]);
        let err = verify_output_proof(&padded, &hash, Some(Layout::Obj2));
        assert!(matches!(
            err,
            Err(OutputProofError::Output(BinaryDecodeError { offset, .. })) if offset == used + 6
        ));
    }
}
