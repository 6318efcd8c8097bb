//! The Merkleized shared inbox of smart rollups, as the Tezos protocol keeps it
//! (`Sc_rollup_inbox_repr`, `Sc_rollup_inbox_merkelized_payload_hashes_repr`, `Skip_list`).
//!
//! Every L1 level adds one *level* to the inbox shared by all rollups: `Start_of_level`,
//! `Info_per_level`, the level's messages and `End_of_level` (serialized as in
//! [`crate::encoding::inbox`]). Two skip lists (basis 4) commit to it:
//!
//! - **payload hashes** of one level: cell `i` holds the [`MessageHash`] (BLAKE2b-256 of the
//!   serialized message, `srib3`) of the level's `i`-th message and back pointers to earlier
//!   cells; a cell's hash (`srib2`, [`MerkelizedPayloadsHash`]) is BLAKE2b-256 of its content
//!   followed by its back pointers. The hash of the last cell (the one holding `End_of_level`)
//!   is the level's witness.
//! - **level history**: cell `k` holds a [`LevelProof`] (`{hash, level}`: a level's witness and
//!   its number) and back pointers; its hash (`srib1`, [`InboxHash`]) is BLAKE2b-256 of the
//!   witness, the level *as decimal ASCII*, and the back pointers.
//!
//! The inbox ([`Inbox`]) is `{level, old_levels_messages}` where `old_levels_messages` is the
//! history cell of the last finished level, and the inbox hash is that cell's hash. This is what
//! an octez node answers at `/chains/main/blocks/<id>/context/smart_rollups/all/inbox` and what a
//! rollup node compares with the inbox it rebuilds before publishing a commitment.
//!
//! A skip-list cell with index `n` has one back pointer per power `b^i <= n` (`b` = 4); pointer
//! `i` designates cell `n - (n mod b^i) - 1`. [`Cell::next`] builds a cell from its predecessor.
//!
//! ```
//! use soru_core::inbox::{level_payloads, Inbox};
//! use soru_core::encoding::inbox::BlockHash;
//! let genesis = Inbox::genesis(0, &level_payloads(0, &BlockHash([0; 32]), Some("u025_025"), &[])).unwrap();
//! let next = genesis.next_level(&level_payloads(0, &BlockHash([1; 32]), None, &[b"\x01hello".to_vec()])).unwrap();
//! assert_eq!(next.level, 1);
//! assert_eq!(next.old_levels_messages.index, 1);
//! assert_eq!(Inbox::decode(&next.encode()).unwrap(), next);
//! assert!(next.hash().to_b58check().starts_with("srib1"));
//! ```

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::digest::Blake2b;
use thiserror::Error;

use crate::encoding::base58;
use crate::encoding::binary::{
    put_dynamic, put_dynamic_bytes, put_i32, put_n_u64, DecodeError, DecodeErrorKind, Reader,
};
use crate::encoding::inbox::{BlockHash, InboxMessage, InternalInboxMessage};

/// The skip lists' basis (`Skip_list_parameters.basis` in both octez modules).
pub const SKIP_LIST_BASIS: u64 = 4;

/// At most this many messages (index of the level's last cell before adding one) per level
/// (`Constants_repr.sc_rollup_max_number_of_messages_per_level`).
pub const MAX_MESSAGES_PER_LEVEL: u64 = 1_000_000;

/// The `Protocol_migration` payload of protocol 025 (`Constants_repr.version_value`), which the
/// protocol adds to the inbox at its activation level and at the next level.
pub const PROTOCOL_025_VERSION: &str = "u025_025";

macro_rules! hash32 {
    ($(#[$doc:meta])* $ty:ident, $prefix:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub struct $ty(pub [u8; 32]);

        base58::base58_newtype!($ty, $prefix);
    };
}

hash32!(
    /// The hash of an inbox (`srib1...`, `Smart_rollup_inbox_hash`): the hash of a level
    /// history cell.
    InboxHash,
    base58::SRIB1
);
hash32!(
    /// The hash of a payload-hashes cell (`srib2...`,
    /// `Smart_rollup_merkelized_payload_hashes_hash`); the last cell's is a level's witness.
    MerkelizedPayloadsHash,
    base58::SRIB2
);
hash32!(
    /// The hash of one serialized inbox message (`srib3...`,
    /// `Sc_rollup_inbox_message_repr.Hash`).
    MessageHash,
    base58::SRIB3
);

fn blake2b(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Blake2b::<32>::new();
    for p in parts {
        h.update(p);
    }
    h.finalize()
}

/// [`MessageHash`] of a serialized message (`hash_serialized_message`).
pub fn message_hash(payload: &[u8]) -> MessageHash {
    MessageHash(blake2b(&[payload]))
}

/// Why an inbox could not be built, decoded or checked.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum InboxError {
    /// A level needs at least `Start_of_level` and `End_of_level`.
    #[error(
        "a level's payloads must hold at least Start_of_level and End_of_level, got {0} message(s)"
    )]
    TooFewMessages(usize),
    /// More messages than [`MAX_MESSAGES_PER_LEVEL`] (`smart_rollup_inbox_level_reached_message_limit`).
    #[error("inbox level reached the limit of {MAX_MESSAGES_PER_LEVEL} messages")]
    TooManyMessages,
    /// The inbox level would overflow an int32.
    #[error("inbox level {0} has no successor")]
    LevelOverflow(i32),
    /// Level `level` was to be added to an inbox that is not the one after level `level - 1`.
    #[error("the inbox before it has level {previous}, expected {}", i64::from(*level) - 1)]
    NotConsecutive {
        /// The level being added.
        level: u32,
        /// The level of the inbox it was to be added to.
        previous: i32,
    },
    /// A skip-list cell does not have the back pointers its index requires.
    #[error("{list} cell {index} has {found} back pointer(s), its index requires {expected}")]
    MalformedCell {
        /// Which skip list (`"level history"` or `"payload hashes"`).
        list: &'static str,
        /// The cell's index.
        index: u64,
        /// Back pointers present.
        found: usize,
        /// Back pointers required.
        expected: usize,
    },
    /// A proof's chain of hashes is broken (names the first broken link).
    #[error("inbox proof: {0}")]
    Proof(String),
}

/// A cell of a skip list: `index`, `content` and the hashes of earlier cells.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cell<C, P> {
    /// Position in the list (0 for the first cell).
    pub index: u64,
    /// What the cell holds.
    pub content: C,
    /// `back_pointers[i]` is the hash of cell `index - (index mod 4^i) - 1`.
    pub back_pointers: Vec<P>,
}

/// Number of back pointers a cell with this index has: one per power `4^i <= index`.
pub fn back_pointer_count(index: u64) -> usize {
    let mut count = 0;
    let mut power: u64 = 1;
    while index >= power {
        count += 1;
        match power.checked_mul(SKIP_LIST_BASIS) {
            Some(p) => power = p,
            None => break,
        }
    }
    count
}

impl<C, P: Copy> Cell<C, P> {
    /// The first cell of a list.
    pub fn genesis(content: C) -> Self {
        Cell {
            index: 0,
            content,
            back_pointers: Vec::new(),
        }
    }

    /// The cell after `prev` (whose hash is `prev_ptr`): pointer `i` is `prev_ptr` when
    /// `4^i` divides the new index, else `prev`'s pointer `i` (`Skip_list.next`).
    pub fn next(
        prev: &Self,
        prev_ptr: P,
        content: C,
        list: &'static str,
    ) -> Result<Self, InboxError> {
        let malformed = || InboxError::MalformedCell {
            list,
            index: prev.index,
            found: prev.back_pointers.len(),
            expected: back_pointer_count(prev.index),
        };
        if prev.back_pointers.len() != back_pointer_count(prev.index) {
            return Err(malformed());
        }
        let index = prev.index.checked_add(1).ok_or_else(malformed)?;
        let mut back_pointers = Vec::with_capacity(back_pointer_count(index));
        let mut power: u64 = 1;
        let mut i = 0;
        while index >= power {
            let ptr = if index % power == 0 {
                prev_ptr
            } else {
                *prev.back_pointers.get(i).ok_or_else(malformed)?
            };
            back_pointers.push(ptr);
            i += 1;
            match power.checked_mul(SKIP_LIST_BASIS) {
                Some(p) => power = p,
                None => break,
            }
        }
        Ok(Cell {
            index,
            content,
            back_pointers,
        })
    }
}

/// A cell of a level's payload-hashes list.
pub type PayloadsCell = Cell<MessageHash, MerkelizedPayloadsHash>;

impl Cell<MessageHash, MerkelizedPayloadsHash> {
    /// `srib2` hash: BLAKE2b-256 of the message hash then each back pointer.
    pub fn hash(&self) -> MerkelizedPayloadsHash {
        let mut parts: Vec<&[u8]> = Vec::with_capacity(1 + self.back_pointers.len());
        parts.push(&self.content.0);
        parts.extend(self.back_pointers.iter().map(|p| &p.0[..]));
        MerkelizedPayloadsHash(blake2b(&parts))
    }

    /// Binary form: index (zarith), message hash (32 bytes), back pointers (uint30-prefixed).
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        put_n_u64(out, self.index);
        out.extend_from_slice(&self.content.0);
        put_pointers(out, &self.back_pointers, |p| &p.0);
    }

    /// Reads the binary form.
    pub fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let index = r.n_u64()?;
        let content = MessageHash(r.array()?);
        let back_pointers = read_pointers(r)?
            .into_iter()
            .map(MerkelizedPayloadsHash)
            .collect();
        Ok(Cell {
            index,
            content,
            back_pointers,
        })
    }
}

/// The payload-hashes list of one level being built: its last cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LevelWitness {
    /// The cell of the last message added.
    pub head: PayloadsCell,
}

impl LevelWitness {
    /// A level's list holding its first message (`Start_of_level`).
    pub fn new(first: &[u8]) -> Self {
        LevelWitness {
            head: Cell::genesis(message_hash(first)),
        }
    }

    /// Adds a message the protocol adds itself (no limit: `Info_per_level`, `End_of_level`).
    pub fn add_protocol_message(&mut self, payload: &[u8]) {
        let prev = self.head.hash();
        // A witness built here always has well-formed cells.
        if let Ok(next) = Cell::next(&self.head, prev, message_hash(payload), "payload hashes") {
            self.head = next;
        }
    }

    /// Adds a message subject to the per-level limit (`add_message`).
    pub fn add_message(&mut self, payload: &[u8]) -> Result<(), InboxError> {
        if self.head.index > MAX_MESSAGES_PER_LEVEL {
            return Err(InboxError::TooManyMessages);
        }
        self.add_protocol_message(payload);
        Ok(())
    }

    /// The witness: the hash of the last cell.
    pub fn hash(&self) -> MerkelizedPayloadsHash {
        self.head.hash()
    }

    /// The witness of a whole level: the first message starts it, the second (`Info_per_level`)
    /// and the last (`End_of_level`) are protocol messages, the others are limited.
    pub fn of_level(payloads: &[Vec<u8>]) -> Result<Self, InboxError> {
        let n = payloads.len();
        if n < 2 {
            return Err(InboxError::TooFewMessages(n));
        }
        let mut w = LevelWitness::new(&payloads[0]);
        for (i, p) in payloads.iter().enumerate().skip(1) {
            if i == 1 || i == n - 1 {
                w.add_protocol_message(p);
            } else {
                w.add_message(p)?;
            }
        }
        Ok(w)
    }
}

/// The content of a level history cell: a level's witness and the level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LevelProof {
    /// The witness of the level's payload hashes.
    pub hash: MerkelizedPayloadsHash,
    /// The level.
    pub level: i32,
}

/// A cell of the level history (octez's `history_proof`).
pub type HistoryProof = Cell<LevelProof, InboxHash>;

impl Cell<LevelProof, InboxHash> {
    /// `srib1` hash (`hash_history_proof`): BLAKE2b-256 of the witness, the level in decimal
    /// ASCII, then each back pointer.
    pub fn hash(&self) -> InboxHash {
        let level = self.content.level.to_string();
        let mut parts: Vec<&[u8]> = Vec::with_capacity(2 + self.back_pointers.len());
        parts.push(&self.content.hash.0);
        parts.push(level.as_bytes());
        parts.extend(self.back_pointers.iter().map(|p| &p.0[..]));
        InboxHash(blake2b(&parts))
    }

    /// Binary form: index (zarith), witness (32), level (int32), back pointers (uint30-prefixed).
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        put_n_u64(out, self.index);
        out.extend_from_slice(&self.content.hash.0);
        put_i32(out, self.content.level);
        put_pointers(out, &self.back_pointers, |p| &p.0);
    }

    /// Reads the binary form.
    pub fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let index = r.n_u64()?;
        let hash = MerkelizedPayloadsHash(r.array()?);
        let level = read_level(r)?;
        let back_pointers = read_pointers(r)?.into_iter().map(InboxHash).collect();
        Ok(Cell {
            index,
            content: LevelProof { hash, level },
            back_pointers,
        })
    }
}

fn put_pointers<P>(out: &mut Vec<u8>, ptrs: &[P], bytes: impl Fn(&P) -> &[u8; 32]) {
    put_dynamic(out, |o| {
        for p in ptrs {
            o.extend_from_slice(bytes(p));
        }
    });
}

fn read_pointers(r: &mut Reader<'_>) -> Result<Vec<[u8; 32]>, DecodeError> {
    r.dynamic(|r| {
        let mut v = Vec::with_capacity(r.remaining() / 32);
        while !r.is_empty() {
            v.push(r.array()?);
        }
        Ok(v)
    })
}

fn read_level(r: &mut Reader<'_>) -> Result<i32, DecodeError> {
    let at = r.position();
    let level = r.i32()?;
    if level < 0 {
        return Err(r.error_at(
            at,
            DecodeErrorKind::Invalid {
                what: "raw level",
                reason: "negative level",
            },
        ));
    }
    Ok(level)
}

/// The serialized messages of one level, in inbox order: `Start_of_level`,
/// `Info_per_level{predecessor_timestamp, predecessor}`, `Protocol_migration` when given (the
/// first level of a protocol), `messages` (already serialized) and `End_of_level`.
pub fn level_payloads(
    predecessor_timestamp: i64,
    predecessor: &BlockHash,
    protocol_migration: Option<&str>,
    messages: &[Vec<u8>],
) -> Vec<Vec<u8>> {
    let mut out = Vec::with_capacity(messages.len() + 4);
    out.push(InboxMessage::Internal(InternalInboxMessage::StartOfLevel).encode());
    out.push(
        InboxMessage::Internal(InternalInboxMessage::InfoPerLevel {
            predecessor_timestamp,
            predecessor: *predecessor,
        })
        .encode(),
    );
    if let Some(p) = protocol_migration {
        out.push(
            InboxMessage::Internal(InternalInboxMessage::ProtocolMigration(p.into())).encode(),
        );
    }
    out.extend(messages.iter().cloned());
    out.push(InboxMessage::Internal(InternalInboxMessage::EndOfLevel).encode());
    out
}

/// The shared inbox after a level (`Sc_rollup_inbox_repr.V1.t`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Inbox {
    /// The last finished level.
    pub level: i32,
    /// The history cell of that level.
    pub old_levels_messages: HistoryProof,
}

impl Inbox {
    /// The inbox a protocol creates at its activation `level` (`Sc_rollup_inbox_repr.genesis`):
    /// one level whose messages are `payloads` (see [`level_payloads`]).
    pub fn genesis(level: i32, payloads: &[Vec<u8>]) -> Result<Inbox, InboxError> {
        let n = payloads.len();
        if n < 2 {
            return Err(InboxError::TooFewMessages(n));
        }
        let mut w = LevelWitness::new(&payloads[0]);
        for p in &payloads[1..] {
            w.add_protocol_message(p);
        }
        Ok(Inbox {
            level,
            old_levels_messages: Cell::genesis(LevelProof {
                hash: w.hash(),
                level,
            }),
        })
    }

    /// The inbox after the next level, whose messages are `payloads` (`add_all_messages` then
    /// `finalize_inbox_level`): the level's witness is archived as a new history cell.
    pub fn next_level(&self, payloads: &[Vec<u8>]) -> Result<Inbox, InboxError> {
        let witness = LevelWitness::of_level(payloads)?;
        let level = self
            .level
            .checked_add(1)
            .ok_or(InboxError::LevelOverflow(self.level))?;
        let prev = &self.old_levels_messages;
        let cell = Cell::next(
            prev,
            prev.hash(),
            LevelProof {
                hash: witness.hash(),
                level,
            },
            "level history",
        )?;
        Ok(Inbox {
            level,
            old_levels_messages: cell,
        })
    }

    /// The inbox after level `level`, whose messages are `payloads`, when this inbox is the one
    /// after level `level - 1` ([`Inbox::next_level`] with that check).
    pub fn after_level(&self, level: u32, payloads: &[Vec<u8>]) -> Result<Inbox, InboxError> {
        if i64::from(self.level) + 1 != i64::from(level) {
            return Err(InboxError::NotConsecutive {
                level,
                previous: self.level,
            });
        }
        self.next_level(payloads)
    }

    /// The inbox hash (`srib1`): the hash of `old_levels_messages`.
    pub fn hash(&self) -> InboxHash {
        self.old_levels_messages.hash()
    }

    /// Binary form as the RPC returns it (`Sc_rollup_inbox_repr.encoding`): level (int32) then
    /// the history cell.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        put_i32(&mut out, self.level);
        self.old_levels_messages.encode_into(&mut out);
        out
    }

    /// Decodes exactly the binary form.
    pub fn decode(bytes: &[u8]) -> Result<Inbox, DecodeError> {
        let mut r = Reader::new(bytes);
        let level = read_level(&mut r)?;
        let old_levels_messages = HistoryProof::read(&mut r)?;
        r.finish()?;
        Ok(Inbox {
            level,
            old_levels_messages,
        })
    }

    /// The storage form (`versioned_encoding`): tag 0 (`V1`) then [`Inbox::encode`].
    pub fn encode_versioned(&self) -> Vec<u8> {
        let mut out = alloc::vec![0u8];
        out.extend(self.encode());
        out
    }
}

/// An inbox inclusion proof as a refutation carries it (`Sc_rollup_inbox_repr.proof`, the
/// `serialized_proof` of an `inbox_proof` input proof).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxProof {
    /// History cells from the snapshot back to the level of the proven message.
    pub inclusion_proof: Vec<HistoryProof>,
    /// Payload cells from that level's last cell back to the proven message.
    pub message_proof: Vec<PayloadsCell>,
    /// The proven message (absent when the proof shows the level has no such message).
    pub payload: Option<Vec<u8>>,
}

impl InboxProof {
    /// Binary form (the inverse of [`InboxProof::decode`]).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        put_dynamic(&mut out, |o| {
            for c in &self.inclusion_proof {
                c.encode_into(o);
            }
        });
        put_dynamic(&mut out, |o| {
            for c in &self.message_proof {
                c.encode_into(o);
            }
        });
        match &self.payload {
            Some(p) => {
                out.push(0xff);
                put_dynamic_bytes(&mut out, p);
            }
            None => out.push(0),
        }
        out
    }

    /// Decodes the binary form (lists uint30-prefixed, payload an optional uint30-prefixed
    /// string).
    pub fn decode(bytes: &[u8]) -> Result<InboxProof, DecodeError> {
        let mut r = Reader::new(bytes);
        let inclusion_proof = r.dynamic(|r| {
            let mut v = Vec::new();
            while !r.is_empty() {
                v.push(HistoryProof::read(r)?);
            }
            Ok(v)
        })?;
        let message_proof = r.dynamic(|r| {
            let mut v = Vec::new();
            while !r.is_empty() {
                v.push(PayloadsCell::read(r)?);
            }
            Ok(v)
        })?;
        let payload = if r.bool()? {
            Some(r.dynamic_bytes()?.to_vec())
        } else {
            None
        };
        r.finish()?;
        Ok(InboxProof {
            inclusion_proof,
            message_proof,
            payload,
        })
    }

    /// Checks the proof's chains of hashes: each history cell's hash is a back pointer of the
    /// cell before it, the message proof's first cell is the witness of the last history cell,
    /// each payload cell's hash is a back pointer of the cell before it, and the payload (when
    /// present) hashes to the last payload cell's content. Returns the proven level's cell.
    /// (The full check also compares the first history cell with the snapshot of a refutation
    /// game and the message index with the input requested.)
    pub fn check_hash_links(&self) -> Result<&HistoryProof, InboxError> {
        let err = |m: String| Err(InboxError::Proof(m));
        let Some(level_cell) = self.inclusion_proof.last() else {
            return err("empty inclusion proof".into());
        };
        for w in self.inclusion_proof.windows(2) {
            let h = w[1].hash();
            if !w[0].back_pointers.contains(&h) {
                return err(alloc::format!(
                    "history cell {} (hash {h}) is not a back pointer of cell {}",
                    w[1].index,
                    w[0].index
                ));
            }
        }
        let Some(head) = self.message_proof.first() else {
            return err("empty message proof".into());
        };
        if head.hash() != level_cell.content.hash {
            return err(alloc::format!(
                "message proof head hashes to {}, level {} has witness {}",
                head.hash(),
                level_cell.content.level,
                level_cell.content.hash
            ));
        }
        for w in self.message_proof.windows(2) {
            let h = w[1].hash();
            if !w[0].back_pointers.contains(&h) {
                return err(alloc::format!(
                    "payload cell {} (hash {h}) is not a back pointer of cell {}",
                    w[1].index,
                    w[0].index
                ));
            }
        }
        if let (Some(p), Some(target)) = (&self.payload, self.message_proof.last()) {
            if message_hash(p) != target.content {
                return err(alloc::format!(
                    "payload hashes to {}, payload cell {} holds {}",
                    message_hash(p),
                    target.index,
                    target.content
                ));
            }
        }
        Ok(level_cell)
    }
}

/// Why an inbox in octez's JSON form was rejected (names the field).
#[cfg(feature = "json")]
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("inbox JSON, field {field}: {reason}")]
pub struct InboxJsonError {
    /// The field's path, e.g. `old_levels_messages.back_pointers[1]`.
    pub field: String,
    /// What is wrong.
    pub reason: String,
}

#[cfg(feature = "json")]
impl Inbox {
    /// octez's JSON form:
    /// `{"level", "old_levels_messages": {"index": "<n>", "content": {"hash": "srib2…",
    /// "level"}, "back_pointers": ["srib1…", …]}}` (the index is a decimal string, as
    /// `Data_encoding.n` prints).
    pub fn to_json(&self) -> serde_json::Value {
        let c = &self.old_levels_messages;
        serde_json::json!({
            "level": self.level,
            "old_levels_messages": {
                "index": c.index.to_string(),
                "content": {
                    "hash": c.content.hash.to_b58check(),
                    "level": c.content.level,
                },
                "back_pointers": c.back_pointers.iter().map(|p| p.to_b58check()).collect::<Vec<_>>(),
            },
        })
    }

    /// Parses octez's JSON form (the index as a string or a number).
    pub fn from_json(v: &serde_json::Value) -> Result<Inbox, InboxJsonError> {
        use serde_json::Value;
        let bad = |field: &str, reason: &str| InboxJsonError {
            field: field.into(),
            reason: reason.into(),
        };
        let level_of = |v: Option<&Value>, field: &str| -> Result<i32, InboxJsonError> {
            v.and_then(Value::as_i64)
                .and_then(|l| i32::try_from(l).ok())
                .filter(|l| *l >= 0)
                .ok_or_else(|| bad(field, "expected a non-negative 32-bit integer"))
        };
        let level = level_of(v.get("level"), "level")?;
        let c = v
            .get("old_levels_messages")
            .filter(|c| c.is_object())
            .ok_or_else(|| bad("old_levels_messages", "expected an object"))?;
        let index = match c.get("index") {
            Some(Value::String(s)) => s.parse::<u64>().ok(),
            Some(Value::Number(n)) => n.as_u64(),
            _ => None,
        }
        .ok_or_else(|| {
            bad(
                "old_levels_messages.index",
                "expected a natural number (decimal string)",
            )
        })?;
        let hash = c
            .get("content")
            .and_then(|x| x.get("hash"))
            .and_then(Value::as_str)
            .ok_or_else(|| {
                bad(
                    "old_levels_messages.content.hash",
                    "expected a srib2 string",
                )
            })?;
        let hash = MerkelizedPayloadsHash::from_b58check(hash)
            .map_err(|e| bad("old_levels_messages.content.hash", &e.to_string()))?;
        let content_level = level_of(
            c.get("content").and_then(|x| x.get("level")),
            "old_levels_messages.content.level",
        )?;
        let ptrs = c
            .get("back_pointers")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("old_levels_messages.back_pointers", "expected an array"))?;
        let mut back_pointers = Vec::with_capacity(ptrs.len());
        for (i, p) in ptrs.iter().enumerate() {
            let field = alloc::format!("old_levels_messages.back_pointers[{i}]");
            let s = p
                .as_str()
                .ok_or_else(|| bad(&field, "expected a srib1 string"))?;
            back_pointers
                .push(InboxHash::from_b58check(s).map_err(|e| bad(&field, &e.to_string()))?);
        }
        Ok(Inbox {
            level,
            old_levels_messages: Cell {
                index,
                content: LevelProof {
                    hash,
                    level: content_level,
                },
                back_pointers,
            },
        })
    }
}

#[cfg(all(test, feature = "json"))]
mod tests {
    use super::*;
    use alloc::vec;

    fn chain(levels: usize) -> Vec<Inbox> {
        let mut v = vec![Inbox::genesis(
            2,
            &level_payloads(1, &BlockHash([9; 32]), Some(PROTOCOL_025_VERSION), &[]),
        )
        .unwrap()];
        for l in 0..levels {
            let msgs: Vec<Vec<u8>> = (0..l % 3).map(|i| vec![1, l as u8, i as u8]).collect();
            let next = v
                .last()
                .unwrap()
                .next_level(&level_payloads(
                    l as i64,
                    &BlockHash([l as u8; 32]),
                    None,
                    &msgs,
                ))
                .unwrap();
            v.push(next);
        }
        v
    }

    #[test]
    fn back_pointer_counts_follow_powers_of_four() {
        let counts: Vec<usize> = [0, 1, 3, 4, 15, 16, 63, 64, u64::MAX]
            .iter()
            .map(|i| back_pointer_count(*i))
            .collect();
        assert_eq!(counts, [0, 1, 1, 2, 2, 3, 3, 4, 32]);
    }

    #[test]
    fn back_pointers_designate_the_cells_of_the_invariant() {
        let inboxes = chain(70);
        let hashes: Vec<InboxHash> = inboxes.iter().map(Inbox::hash).collect();
        for (n, inbox) in inboxes.iter().enumerate() {
            let c = &inbox.old_levels_messages;
            assert_eq!(c.index, n as u64);
            assert_eq!(c.content.level, inbox.level);
            assert_eq!(inbox.level, 2 + n as i32);
            assert_eq!(c.back_pointers.len(), back_pointer_count(n as u64));
            for (i, p) in c.back_pointers.iter().enumerate() {
                let power = 4usize.pow(i as u32);
                assert_eq!(*p, hashes[n - n % power - 1], "cell {n} pointer {i}");
            }
        }
    }

    #[test]
    fn binary_and_json_forms_round_trip() {
        for inbox in chain(20) {
            let bytes = inbox.encode();
            assert_eq!(Inbox::decode(&bytes).unwrap(), inbox);
            assert_eq!(inbox.encode_versioned()[1..], bytes[..]);
            let json = inbox.to_json();
            assert_eq!(Inbox::from_json(&json).unwrap(), inbox);
            assert!(json["old_levels_messages"]["index"].is_string());
        }
        let last = chain(17).pop().unwrap();
        let json = last.to_json();
        assert_eq!(json["level"], 19);
        assert_eq!(json["old_levels_messages"]["index"], "17");
        assert_eq!(json["old_levels_messages"]["content"]["level"], 19);
        assert_eq!(
            json["old_levels_messages"]["back_pointers"]
                .as_array()
                .unwrap()
                .len(),
            3
        );
        // Truncated and trailing bytes are errors with offsets, not panics.
        let bytes = last.encode();
        assert!(Inbox::decode(&bytes[..bytes.len() - 1]).is_err());
        let mut long = bytes.clone();
        long.push(0);
        assert!(Inbox::decode(&long).is_err());
    }

    #[test]
    fn a_changed_missing_or_moved_message_changes_the_inbox_hash() {
        let base = chain(3).pop().unwrap();
        let pred = BlockHash([7; 32]);
        let msgs = vec![vec![1, 1], vec![1, 2]];
        let good = base
            .next_level(&level_payloads(5, &pred, None, &msgs))
            .unwrap();
        let variants = [
            level_payloads(5, &pred, None, &[vec![1, 1], vec![1, 3]]),
            level_payloads(5, &pred, None, &[vec![1, 1]]),
            level_payloads(5, &pred, None, &[vec![1, 2], vec![1, 1]]),
            level_payloads(6, &pred, None, &msgs),
            level_payloads(5, &BlockHash([8; 32]), None, &msgs),
            level_payloads(5, &pred, Some(PROTOCOL_025_VERSION), &msgs),
        ];
        for v in variants {
            let other = base.next_level(&v).unwrap();
            assert_ne!(other.hash(), good.hash());
            assert_eq!(other.level, good.level);
        }
    }

    #[test]
    fn bad_input_is_an_error_naming_what() {
        let inbox = chain(5).pop().unwrap();
        assert_eq!(
            inbox.next_level(&[vec![0, 1]]),
            Err(InboxError::TooFewMessages(1))
        );
        let mut broken = inbox.clone();
        broken.old_levels_messages.back_pointers.pop();
        let e = broken
            .next_level(&level_payloads(0, &BlockHash([0; 32]), None, &[]))
            .unwrap_err();
        assert!(
            matches!(
                e,
                InboxError::MalformedCell {
                    index: 5,
                    found: 1,
                    expected: 2,
                    ..
                }
            ),
            "{e}"
        );
        let mut top = inbox.clone();
        top.level = i32::MAX;
        assert!(matches!(
            top.next_level(&level_payloads(0, &BlockHash([0; 32]), None, &[])),
            Err(InboxError::LevelOverflow(_))
        ));

        let mut w = LevelWitness::new(&[0, 1]);
        w.head.index = MAX_MESSAGES_PER_LEVEL;
        w.head.back_pointers =
            vec![MerkelizedPayloadsHash([0; 32]); back_pointer_count(w.head.index)];
        assert_eq!(w.add_message(&[1]), Ok(()));
        assert_eq!(w.add_message(&[1]), Err(InboxError::TooManyMessages));

        let mut json = inbox.to_json();
        json["old_levels_messages"]["back_pointers"][1] = "srib1nope".into();
        let e = Inbox::from_json(&json).unwrap_err();
        assert_eq!(e.field, "old_levels_messages.back_pointers[1]");
        let mut json = inbox.to_json();
        json["old_levels_messages"]["index"] = "-1".into();
        assert_eq!(
            Inbox::from_json(&json).unwrap_err().field,
            "old_levels_messages.index"
        );
    }
}
