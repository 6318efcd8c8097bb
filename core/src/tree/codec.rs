//! The compact binary codec of octez tree proofs: `Merkle_proof_encoding.V2.Tree2`
//! (`tree_proof_encoding`, octez `src/lib_context/merkle_proof_encoding/`).
//!
//! Every tag is one byte of `Data_encoding.Compact` unions, fields of a tag are joined low bits
//! first. The decoder accepts exactly the canonical encodings octez writes (smallest integer
//! and length widths, known tags only), so `encode(decode(b)) == b` for every accepted `b`.
//! Untrusted input never panics, recursion depth is bounded and no allocation is sized by a
//! length field before the bytes are known to be there.

use alloc::boxed::Box;
use alloc::vec::Vec;

use crate::encoding::binary;

use super::proof::{Extender, InodeProof, InodeTree, KindedHash, Proof, ProofTree, Segment};
use super::Hash;

/// Deepest nesting of proof trees and inode trees the decoder accepts. Real proofs nest a few
/// dozen levels (path steps plus inode levels); this bounds recursion on hostile input.
pub const MAX_NESTING: usize = 512;

/// The only proof version Soru reads and writes: a tree proof (bit 0 clear: not a stream)
/// for a binary tree (bit 1 set).
pub const TREE2_VERSION: u16 = 2;

/// A proof decoding error, with the byte offset where the problem was found.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid tree proof at byte {offset}: {reason}")]
pub struct DecodeError {
    /// Offset (from the start of the proof bytes) of the offending byte.
    pub offset: usize,
    /// What is wrong there.
    pub reason: DecodeReason,
}

/// What a [`DecodeError`] found.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeReason {
    /// The input ended in the middle of a field.
    #[error("unexpected end of input while reading {0}")]
    Truncated(&'static str),
    /// A tag byte that names no case of the encoding (or a non-canonical form of one).
    #[error("unknown {what} tag 0x{tag:02x}")]
    UnknownTag {
        /// Which union was being read.
        what: &'static str,
        /// The byte found.
        tag: u8,
    },
    /// The proof version is not 2 (tree proof of a binary tree).
    #[error("unsupported proof version {0} (expected 2: binary tree proof)")]
    Version(u16),
    /// An integer or length written in a wider form than needed (octez rejects these too).
    #[error("non-minimal encoding of {0}")]
    NonMinimal(&'static str),
    /// A length field that does not fit the platform or the remaining input.
    #[error("{what} length {len} exceeds the {remaining} remaining bytes")]
    LengthTooLarge {
        /// The field.
        what: &'static str,
        /// The length read.
        len: u64,
        /// Bytes left in the input.
        remaining: usize,
    },
    /// A list of 3 or more node entries: octez never writes them for binary trees.
    #[error("node with 3 or more entries (long list form) is not supported in binary tree proofs")]
    LongList,
    /// An inode with neither child, or an empty extender segment.
    #[error("ill-formed {0}")]
    IllFormed(&'static str),
    /// A negative inode length.
    #[error("negative inode length {0}")]
    NegativeLength(i64),
    /// The proof nests deeper than [`MAX_NESTING`].
    #[error("proof nests deeper than {MAX_NESTING} levels")]
    TooDeep,
    /// Bytes left after the proof (only reported by [`decode`], not [`decode_prefix`]).
    #[error("{0} trailing bytes after the proof")]
    Trailing(usize),
}

/// The proof decoder: `Data_encoding`'s byte cursor plus the Tree2 grammar, reporting failures
/// in the proof codec's own vocabulary.
struct Reader<'a> {
    r: binary::Reader<'a>,
}

type R<T> = Result<T, DecodeError>;

impl<'a> Reader<'a> {
    fn err(&self, offset: usize, reason: DecodeReason) -> DecodeError {
        DecodeError { offset, reason }
    }
    /// The position of the next byte.
    fn pos(&self) -> usize {
        self.r.position()
    }
    /// A primitive read that names `what` it was reading when the input ends.
    fn read<T>(
        &mut self,
        what: &'static str,
        f: impl FnOnce(&mut binary::Reader<'a>) -> Result<T, binary::DecodeError>,
    ) -> R<T> {
        f(&mut self.r).map_err(|e| DecodeError {
            offset: e.offset,
            reason: DecodeReason::Truncated(what),
        })
    }
    fn take(&mut self, n: usize, what: &'static str) -> R<&'a [u8]> {
        self.read(what, |r| r.bytes(n))
    }
    fn u8(&mut self, what: &'static str) -> R<u8> {
        self.read(what, binary::Reader::u8)
    }
    fn u16(&mut self, what: &'static str) -> R<u16> {
        self.read(what, binary::Reader::u16)
    }
    fn u32(&mut self, what: &'static str) -> R<u32> {
        self.read(what, binary::Reader::u32)
    }
    fn hash(&mut self, what: &'static str) -> R<Hash> {
        self.read(what, binary::Reader::array)
    }
    /// Bytes of a known length, checked against the remaining input before allocating.
    fn sized(&mut self, len: u64, what: &'static str) -> R<Vec<u8>> {
        let remaining = self.r.remaining();
        match usize::try_from(len) {
            Ok(n) if n <= remaining => Ok(self.take(n, what)?.to_vec()),
            _ => Err(self.err(
                self.pos(),
                DecodeReason::LengthTooLarge {
                    what,
                    len,
                    remaining,
                },
            )),
        }
    }

    /// Compact `int64` inode length: `ll` picks u8, u16, u32 or i64; the smallest must be used.
    fn length(&mut self, ll: u8) -> R<u64> {
        let at = self.pos();
        let (v, min) = match ll & 3 {
            0 => (u64::from(self.u8("inode length")?), 0),
            1 => (u64::from(self.u16("inode length")?), 0x100),
            2 => (u64::from(self.u32("inode length")?), 0x1_0000),
            _ => {
                let v = self.read("inode length", binary::Reader::i64)?;
                if v < 0 {
                    return Err(self.err(at, DecodeReason::NegativeLength(v)));
                }
                (v as u64, 0x1_0000_0000)
            }
        };
        if v < min {
            return Err(self.err(at, DecodeReason::NonMinimal("inode length")));
        }
        Ok(v)
    }

    fn step(&mut self) -> R<Vec<u8>> {
        let len = self.u8("step length")?;
        self.sized(u64::from(len), "step")
    }

    fn segment(&mut self) -> R<Segment> {
        let at = self.pos();
        let len = self.u8("segment length")?;
        let bytes = self.take(usize::from(len), "segment")?;
        Segment::from_bytes(bytes)
            .ok_or_else(|| self.err(at, DecodeReason::IllFormed("extender segment")))
    }

    fn nest(&self, depth: usize) -> R<usize> {
        if depth >= MAX_NESTING {
            Err(self.err(self.pos(), DecodeReason::TooDeep))
        } else {
            Ok(depth + 1)
        }
    }

    fn entries(&mut self, n: u8, depth: usize) -> R<Vec<(Vec<u8>, ProofTree)>> {
        let mut out = Vec::new();
        for _ in 0..n {
            let step = self.step()?;
            let tree = self.tree(depth)?;
            out.push((step, tree));
        }
        Ok(out)
    }

    fn tree(&mut self, depth: usize) -> R<ProofTree> {
        let depth = self.nest(depth)?;
        let at = self.pos();
        let tag = self.u8("tree tag")?;
        let unknown = |r: &Self| r.err(at, DecodeReason::UnknownTag { what: "tree", tag });
        Ok(match tag {
            0x00..=0x03 => ProofTree::Inode(self.inode_body(tag, depth)?),
            0x80..=0x82 => ProofTree::Node(self.entries(tag & 3, depth)?),
            0x83 => return Err(self.err(at, DecodeReason::LongList)),
            0xc0 => {
                let len = self.u8("value length")?;
                ProofTree::Value(self.sized(u64::from(len), "value")?)
            }
            0xc1 => {
                let len = self.u16("value length")?;
                if len < 0x100 {
                    return Err(self.err(at + 1, DecodeReason::NonMinimal("value length")));
                }
                ProofTree::Value(self.sized(u64::from(len), "value")?)
            }
            0xc3 => {
                let len = self.u32("value length")?;
                if len < 0x1_0000 {
                    return Err(self.err(at + 1, DecodeReason::NonMinimal("value length")));
                }
                if len > binary::MAX_UINT30 {
                    return Err(
                        self.err(at + 1, DecodeReason::IllFormed("value length above 2^30-1"))
                    );
                }
                ProofTree::Value(self.sized(u64::from(len), "value")?)
            }
            0xc8 => ProofTree::BlindedValue(self.hash("blinded value hash")?),
            0xd0 => ProofTree::BlindedNode(self.hash("blinded node hash")?),
            0xd8..=0xdb => ProofTree::Extender(self.extender_body(tag, depth)?),
            _ => return Err(unknown(self)),
        })
    }

    fn inode_body(&mut self, tag: u8, depth: usize) -> R<InodeProof> {
        let at = self.pos();
        let length = self.length(tag)?;
        let left = self.inode_slot(depth)?.map(Box::new);
        let right = self.inode_slot(depth)?.map(Box::new);
        if left.is_none() && right.is_none() {
            return Err(self.err(at, DecodeReason::IllFormed("inode without children")));
        }
        Ok(InodeProof {
            length,
            children: [left, right],
        })
    }

    fn extender_body(&mut self, tag: u8, depth: usize) -> R<Extender> {
        let length = self.length(tag)?;
        let segment = self.segment()?;
        let at = self.pos();
        let proof = self.inode_slot(depth)?;
        let proof = proof
            .ok_or_else(|| self.err(at, DecodeReason::IllFormed("extender without a proof")))?;
        Ok(Extender {
            length,
            segment,
            proof: Box::new(proof),
        })
    }

    /// An inode-tree position: `None` for an empty slot (`E0`).
    fn inode_slot(&mut self, depth: usize) -> R<Option<InodeTree>> {
        let depth = self.nest(depth)?;
        let at = self.pos();
        let tag = self.u8("inode tree tag")?;
        Ok(Some(match tag {
            0x00..=0x03 => InodeTree::Tree(self.inode_body(tag, depth)?),
            0x80..=0x82 => InodeTree::Values(self.entries(tag & 3, depth)?),
            0x83 => return Err(self.err(at, DecodeReason::LongList)),
            0xc0 => InodeTree::Blinded(self.hash("blinded inode hash")?),
            0xd0..=0xd3 => InodeTree::Extender(self.extender_body(tag, depth)?),
            0xe0 => return Ok(None),
            _ => {
                return Err(self.err(
                    at,
                    DecodeReason::UnknownTag {
                        what: "inode tree",
                        tag,
                    },
                ))
            }
        }))
    }

    fn kinded(&mut self, bit: u8, what: &'static str) -> R<KindedHash> {
        let h = self.hash(what)?;
        Ok(if bit == 0 {
            KindedHash::Value(h)
        } else {
            KindedHash::Node(h)
        })
    }
}

/// Decodes a tree proof that may be followed by other data (as in an output proof); returns
/// the proof and the number of bytes it used.
pub fn decode_prefix(bytes: &[u8]) -> Result<(Proof, usize), DecodeError> {
    let mut r = Reader {
        r: binary::Reader::new(bytes),
    };
    let tag = r.u8("proof tag")?;
    if tag > 3 {
        return Err(r.err(0, DecodeReason::UnknownTag { what: "proof", tag }));
    }
    let version = r.u16("version")?;
    if version != TREE2_VERSION {
        return Err(r.err(1, DecodeReason::Version(version)));
    }
    let before = r.kinded(tag & 1, "before hash")?;
    let after = r.kinded((tag >> 1) & 1, "after hash")?;
    let state = r.tree(0)?;
    Ok((
        Proof {
            version,
            before,
            after,
            state,
        },
        r.pos(),
    ))
}

/// Decodes a whole tree proof; trailing bytes are an error.
pub fn decode(bytes: &[u8]) -> Result<Proof, DecodeError> {
    let (proof, used) = decode_prefix(bytes)?;
    if used != bytes.len() {
        return Err(DecodeError {
            offset: used,
            reason: DecodeReason::Trailing(bytes.len() - used),
        });
    }
    Ok(proof)
}

/// Encodes a proof in `Merkle_proof_encoding.V2.Tree2` form.
///
/// Fails only on proofs no decoder could read back: a step longer than 255 bytes, a value of
/// 2^30 bytes or more, a node of more than two entries, an inode without children.
pub fn encode(proof: &Proof) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::new();
    let bit = |k: &KindedHash| u8::from(matches!(k, KindedHash::Node(_)));
    out.push(bit(&proof.before) | (bit(&proof.after) << 1));
    binary::put_u16(&mut out, proof.version);
    out.extend_from_slice(proof.before.hash());
    out.extend_from_slice(proof.after.hash());
    write_tree(&mut out, &proof.state)?;
    Ok(out)
}

/// A proof that cannot be written in the Tree2 encoding.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// Steps are written with a one-byte length.
    #[error("step of {0} bytes (at most 255)")]
    StepTooLong(usize),
    /// Values are written with at most a 30-bit length.
    #[error("value of {0} bytes (at most 2^30-1)")]
    ValueTooLong(usize),
    /// Binary tree proofs list at most two entries per node.
    #[error("node or bucket of {0} entries (at most 2)")]
    TooManyEntries(usize),
    /// Inodes have at least one child and extenders a non-empty segment.
    #[error("ill-formed {0}")]
    IllFormed(&'static str),
}

fn write_length(out: &mut Vec<u8>, base: u8, length: u64) {
    if length <= 0xff {
        out.push(base);
        out.push(length as u8);
    } else if length <= 0xffff {
        out.push(base | 1);
        binary::put_u16(out, length as u16);
    } else if length <= 0xffff_ffff {
        out.push(base | 2);
        binary::put_u32(out, length as u32);
    } else {
        out.push(base | 3);
        binary::put_i64(out, length as i64);
    }
}

fn write_entries(
    out: &mut Vec<u8>,
    base: u8,
    entries: &[(Vec<u8>, ProofTree)],
) -> Result<(), EncodeError> {
    if entries.len() > 2 {
        return Err(EncodeError::TooManyEntries(entries.len()));
    }
    out.push(base | entries.len() as u8);
    for (step, tree) in entries {
        let len = u8::try_from(step.len()).map_err(|_| EncodeError::StepTooLong(step.len()))?;
        out.push(len);
        out.extend_from_slice(step);
        write_tree(out, tree)?;
    }
    Ok(())
}

fn write_tree(out: &mut Vec<u8>, t: &ProofTree) -> Result<(), EncodeError> {
    match t {
        ProofTree::Value(v) => {
            let n = v.len();
            if n < 0x100 {
                out.extend_from_slice(&[0xc0, n as u8]);
            } else if n < 0x1_0000 {
                out.push(0xc1);
                binary::put_u16(out, n as u16);
            } else if n <= binary::MAX_UINT30 as usize {
                out.push(0xc3);
                binary::put_u30(out, n);
            } else {
                return Err(EncodeError::ValueTooLong(n));
            }
            out.extend_from_slice(v);
        }
        ProofTree::BlindedValue(h) => {
            out.push(0xc8);
            out.extend_from_slice(h);
        }
        ProofTree::BlindedNode(h) => {
            out.push(0xd0);
            out.extend_from_slice(h);
        }
        ProofTree::Node(entries) => write_entries(out, 0x80, entries)?,
        ProofTree::Inode(i) => write_inode(out, 0x00, i)?,
        ProofTree::Extender(e) => write_extender(out, 0xd8, e)?,
    }
    Ok(())
}

fn write_inode(out: &mut Vec<u8>, base: u8, i: &InodeProof) -> Result<(), EncodeError> {
    if i.children.iter().all(Option::is_none) {
        return Err(EncodeError::IllFormed("inode without children"));
    }
    write_length(out, base, i.length);
    for child in &i.children {
        match child {
            None => out.push(0xe0),
            Some(c) => write_inode_tree(out, c)?,
        }
    }
    Ok(())
}

fn write_extender(out: &mut Vec<u8>, base: u8, e: &Extender) -> Result<(), EncodeError> {
    write_length(out, base, e.length);
    let seg = e
        .segment
        .to_bytes()
        .ok_or(EncodeError::IllFormed("extender segment"))?;
    out.push(seg.len() as u8);
    out.extend_from_slice(&seg);
    write_inode_tree(out, &e.proof)
}

fn write_inode_tree(out: &mut Vec<u8>, t: &InodeTree) -> Result<(), EncodeError> {
    match t {
        InodeTree::Blinded(h) => {
            out.push(0xc0);
            out.extend_from_slice(h);
            Ok(())
        }
        InodeTree::Values(entries) => write_entries(out, 0x80, entries),
        InodeTree::Tree(i) => write_inode(out, 0x00, i),
        InodeTree::Extender(e) => write_extender(out, 0xd0, e),
    }
}
