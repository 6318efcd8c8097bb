//! Smart rollup commitments (`Sc_rollup_commitment_repr.V1`), their hashes and chains.
//!
//! A commitment is 76 bytes:
//!
//! ```text
//! compressed_state (32, srs1) | inbox_level (int32 BE, >= 0) | predecessor (32, src1) | number_of_ticks (int64 BE, >= 0)
//! ```
//!
//! Its hash (`src1...`) is BLAKE2b-256 of those bytes, and each commitment names the hash of its
//! predecessor, so commitments form a chain whose levels advance by the commitment period.
//!
//! ```
//! use soru_core::commitment::{Commitment, CommitmentHash, StateHash};
//! let genesis = Commitment::genesis(100, StateHash([7; 32]));
//! let next = Commitment {
//!     compressed_state: StateHash([8; 32]),
//!     inbox_level: 120,
//!     predecessor: genesis.hash(),
//!     number_of_ticks: 11_000_000_000,
//! };
//! assert_eq!(Commitment::decode(&next.encode()).unwrap(), next);
//! soru_core::commitment::check_chain(&[genesis, next], 20).unwrap();
//! ```

#[cfg(feature = "json")]
use alloc::string::{String, ToString};

use crate::digest::blake2b_256;
use thiserror::Error;

use crate::encoding::base58;
use crate::encoding::binary::{DecodeError, DecodeErrorKind, Reader};

/// Size of an encoded commitment.
pub const COMMITMENT_SIZE: usize = 76;

macro_rules! hash32 {
    ($(#[$doc:meta])* $ty:ident, $prefix:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub struct $ty(pub [u8; 32]);

        base58::base58_newtype!($ty, $prefix);
    };
}

hash32!(
    /// A PVM state hash (`srs1...`): the root hash of the rollup's state tree.
    StateHash,
    base58::SRS1
);
hash32!(
    /// A commitment hash (`src1...`).
    CommitmentHash,
    base58::SRC1
);

/// A claim about the rollup's state after processing the inbox up to `inbox_level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Commitment {
    /// State hash after the last tick of `inbox_level`.
    pub compressed_state: StateHash,
    /// The last inbox level this commitment covers (non-negative).
    pub inbox_level: i32,
    /// Hash of the previous commitment (all zeros for the genesis commitment).
    pub predecessor: CommitmentHash,
    /// Ticks executed since the predecessor (non-negative).
    pub number_of_ticks: i64,
}

impl Commitment {
    /// The genesis commitment octez creates at origination: zero ticks, zero predecessor.
    pub fn genesis(origination_level: i32, genesis_state_hash: StateHash) -> Self {
        Commitment {
            compressed_state: genesis_state_hash,
            inbox_level: origination_level,
            predecessor: CommitmentHash([0; 32]),
            number_of_ticks: 0,
        }
    }

    /// The 76-byte binary form.
    pub fn encode(&self) -> [u8; COMMITMENT_SIZE] {
        let mut out = [0u8; COMMITMENT_SIZE];
        out[..32].copy_from_slice(&self.compressed_state.0);
        out[32..36].copy_from_slice(&self.inbox_level.to_be_bytes());
        out[36..68].copy_from_slice(&self.predecessor.0);
        out[68..].copy_from_slice(&self.number_of_ticks.to_be_bytes());
        out
    }

    /// Reads the binary form from a reader (for commitments embedded in larger encodings).
    pub fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let compressed_state = StateHash(r.array()?);
        let at = r.position();
        let inbox_level = r.i32()?;
        if inbox_level < 0 {
            return Err(r.error_at(
                at,
                DecodeErrorKind::Invalid {
                    what: "inbox_level",
                    reason: "negative level",
                },
            ));
        }
        let predecessor = CommitmentHash(r.array()?);
        let at = r.position();
        let number_of_ticks = r.i64()?;
        if number_of_ticks < 0 {
            return Err(r.error_at(
                at,
                DecodeErrorKind::Invalid {
                    what: "number_of_ticks",
                    reason: "negative tick count",
                },
            ));
        }
        Ok(Commitment {
            compressed_state,
            inbox_level,
            predecessor,
            number_of_ticks,
        })
    }

    /// Decodes exactly 76 bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let c = Self::read(&mut r)?;
        r.finish()?;
        Ok(c)
    }

    /// BLAKE2b-256 of the binary form (`Sc_rollup_commitment_repr.hash_uncarbonated`).
    pub fn hash(&self) -> CommitmentHash {
        let digest = blake2b_256(&self.encode());
        CommitmentHash(digest)
    }
}

/// Why a JSON commitment (octez RPC form) was rejected.
#[cfg(feature = "json")]
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CommitmentJsonError {
    /// The value is not a JSON object.
    #[error("commitment must be a JSON object")]
    NotAnObject,
    /// A field is missing.
    #[error("commitment field {0:?} is missing")]
    Missing(&'static str),
    /// A key that is not a commitment field.
    #[error("unexpected commitment field {0:?}")]
    UnexpectedField(String),
    /// A field has the wrong JSON type or an out-of-range value.
    #[error("commitment field {field:?}: {reason}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// A hash field is not valid base58check of the right kind.
    #[error("commitment field {field:?}: {error}")]
    Base58 {
        /// The field.
        field: &'static str,
        /// Why it was rejected.
        error: base58::Base58Error,
    },
}

#[cfg(feature = "json")]
impl Commitment {
    /// The octez RPC JSON form: hashes in base58, `inbox_level` a number, `number_of_ticks` a
    /// decimal string (as `Data_encoding` writes `int64`).
    pub fn to_json(&self) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        m.insert(
            "compressed_state".into(),
            self.compressed_state.to_b58check().into(),
        );
        m.insert("inbox_level".into(), self.inbox_level.into());
        m.insert("predecessor".into(), self.predecessor.to_b58check().into());
        m.insert(
            "number_of_ticks".into(),
            self.number_of_ticks.to_string().into(),
        );
        serde_json::Value::Object(m)
    }

    /// Parses the octez RPC JSON form (`number_of_ticks` as a string or a number).
    pub fn from_json(value: &serde_json::Value) -> Result<Self, CommitmentJsonError> {
        use serde_json::Value;
        const FIELDS: [&str; 4] = [
            "compressed_state",
            "inbox_level",
            "predecessor",
            "number_of_ticks",
        ];
        let Value::Object(m) = value else {
            return Err(CommitmentJsonError::NotAnObject);
        };
        if let Some(k) = m.keys().find(|k| !FIELDS.contains(&k.as_str())) {
            return Err(CommitmentJsonError::UnexpectedField(k.clone()));
        }
        let get = |field: &'static str| m.get(field).ok_or(CommitmentJsonError::Missing(field));
        let hash_str = |field: &'static str| -> Result<&str, CommitmentJsonError> {
            get(field)?.as_str().ok_or(CommitmentJsonError::Invalid {
                field,
                reason: "expected a base58 string",
            })
        };
        let compressed_state =
            StateHash::from_b58check(hash_str("compressed_state")?).map_err(|error| {
                CommitmentJsonError::Base58 {
                    field: "compressed_state",
                    error,
                }
            })?;
        let predecessor =
            CommitmentHash::from_b58check(hash_str("predecessor")?).map_err(|error| {
                CommitmentJsonError::Base58 {
                    field: "predecessor",
                    error,
                }
            })?;
        let inbox_level = get("inbox_level")?
            .as_i64()
            .and_then(|v| i32::try_from(v).ok())
            .filter(|v| *v >= 0)
            .ok_or(CommitmentJsonError::Invalid {
                field: "inbox_level",
                reason: "expected a non-negative 32-bit integer",
            })?;
        let ticks_invalid = CommitmentJsonError::Invalid {
            field: "number_of_ticks",
            reason: "expected a non-negative 64-bit integer (string or number)",
        };
        let number_of_ticks = match get("number_of_ticks")? {
            Value::String(s) if !s.starts_with('+') => s.parse::<i64>().ok(),
            Value::Number(n) => n.as_i64(),
            _ => None,
        }
        .filter(|v| *v >= 0)
        .ok_or(ticks_invalid)?;
        Ok(Commitment {
            compressed_state,
            inbox_level,
            predecessor,
            number_of_ticks,
        })
    }
}

/// Why a sequence of commitments is not a chain.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ChainError {
    /// A commitment does not name the hash of the one before it.
    #[error("commitment {index}: predecessor is {found}, but the previous commitment hashes to {expected}")]
    PredecessorMismatch {
        /// 0-based index of the offending commitment.
        index: usize,
        /// Hash of commitment `index - 1`.
        expected: CommitmentHash,
        /// The predecessor it names.
        found: CommitmentHash,
    },
    /// A commitment's level is not its predecessor's plus the commitment period.
    #[error("commitment {index}: inbox level is {found}, expected {expected} (previous level + commitment period)")]
    LevelMismatch {
        /// 0-based index of the offending commitment.
        index: usize,
        /// Previous level plus the period.
        expected: i64,
        /// The level found.
        found: i32,
    },
    /// A non-positive commitment period was given.
    #[error("commitment period must be positive, got {0}")]
    InvalidPeriod(i32),
}

/// Checks that each commitment extends the previous one: its `predecessor` is the previous
/// commitment's hash and its level is the previous level plus `commitment_period`.
///
/// The first commitment is taken as given (it may be genesis or any cemented commitment).
pub fn check_chain(commitments: &[Commitment], commitment_period: i32) -> Result<(), ChainError> {
    if commitment_period <= 0 {
        return Err(ChainError::InvalidPeriod(commitment_period));
    }
    for (index, pair) in commitments.windows(2).enumerate() {
        let (prev, cur) = (&pair[0], &pair[1]);
        let index = index + 1;
        let expected = prev.hash();
        if cur.predecessor != expected {
            return Err(ChainError::PredecessorMismatch {
                index,
                expected,
                found: cur.predecessor,
            });
        }
        let expected_level = i64::from(prev.inbox_level) + i64::from(commitment_period);
        if i64::from(cur.inbox_level) != expected_level {
            return Err(ChainError::LevelMismatch {
                index,
                expected: expected_level,
                found: cur.inbox_level,
            });
        }
    }
    Ok(())
}
