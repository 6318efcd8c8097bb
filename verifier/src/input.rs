//! Reading what users paste: hex text (whitespace anywhere, an optional `0x`) and state hashes
//! (`srs1...` or 64 hex digits). Shared by the npm package and the `soru-verify` CLI.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use soru_core::commitment::{Commitment, CommitmentHash, StateHash};
use soru_core::encoding::base58::Base58Error;
use soru_core::encoding::hex_text::{self, HexTextError};
use soru_core::encoding::quote::{QuotedChar, QuotedStr};

/// Why a text input was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    /// A character that is neither a hex digit nor whitespace.
    #[error("invalid hex character {} at character {position}", QuotedChar(*.found))]
    InvalidHexCharacter {
        /// The offending character.
        found: char,
        /// Its index (in characters) in the text.
        position: usize,
    },
    /// The digits do not pair up into bytes.
    #[error("odd number of hex digits ({digits})")]
    OddHexLength {
        /// How many hex digits the text holds.
        digits: usize,
    },
    /// An `srs1...` string that is not valid base58check.
    #[error("{} is not a valid srs1 state hash: {error}", QuotedStr(.text))]
    StateHashBase58 {
        /// The text (shortened to 80 characters).
        text: String,
        /// Why it was rejected.
        error: Base58Error,
    },
    /// Hex of the wrong length for a state hash.
    #[error("a state hash is srs1... or 64 hex digits, got {len} bytes of hex")]
    StateHashLength {
        /// The decoded length.
        len: usize,
    },
    /// Neither `srs1...` nor hex.
    #[error("a state hash is srs1... or 64 hex digits: {0}")]
    StateHashText(alloc::boxed::Box<InputError>),
    /// A commitment field that is out of range or not the right kind of hash.
    #[error("commitment field {field}: {reason}")]
    CommitmentField {
        /// The field (`compressed_state`, `inbox_level`, `predecessor`, `number_of_ticks`).
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
}

/// Decodes hex text, ignoring ASCII whitespace and one leading `0x`/`0X`
/// ([`soru_core::encoding::hex_text::decode`], with its errors as [`InputError`]s).
pub fn decode_hex(text: &str) -> Result<Vec<u8>, InputError> {
    hex_text::decode(text).map_err(|e| match e {
        HexTextError::InvalidCharacter { found, position } => {
            InputError::InvalidHexCharacter { found, position }
        }
        HexTextError::OddLength { digits } => InputError::OddHexLength { digits },
    })
}

/// Parses `srs1...` (base58check) or 64 hex digits.
pub fn parse_state_hash(text: &str) -> Result<StateHash, InputError> {
    let text = text.trim();
    if text.starts_with("srs1") {
        return StateHash::from_b58check(text).map_err(|error| InputError::StateHashBase58 {
            text: text.chars().take(80).collect::<String>().to_string(),
            error,
        });
    }
    let bytes =
        decode_hex(text).map_err(|e| InputError::StateHashText(alloc::boxed::Box::new(e)))?;
    <[u8; 32]>::try_from(bytes.as_slice())
        .map(StateHash)
        .map_err(|_| InputError::StateHashLength { len: bytes.len() })
}

/// A commitment from its fields as octez's RPCs print them (`srs1...`, level, `src1...`, ticks).
pub fn parse_commitment(
    compressed_state: &str,
    inbox_level: i64,
    predecessor: &str,
    number_of_ticks: i64,
) -> Result<Commitment, InputError> {
    let field = |field: &'static str, reason: String| InputError::CommitmentField { field, reason };
    Ok(Commitment {
        compressed_state: StateHash::from_b58check(compressed_state.trim())
            .map_err(|e| field("compressed_state", e.to_string()))?,
        inbox_level: i32::try_from(inbox_level)
            .ok()
            .filter(|l| *l >= 0)
            .ok_or_else(|| {
                field(
                    "inbox_level",
                    alloc::format!("{inbox_level} is not a level (0 to 2^31-1)"),
                )
            })?,
        predecessor: CommitmentHash::from_b58check(predecessor.trim())
            .map_err(|e| field("predecessor", e.to_string()))?,
        number_of_ticks: Some(number_of_ticks).filter(|t| *t >= 0).ok_or_else(|| {
            field(
                "number_of_ticks",
                alloc::format!("{number_of_ticks} is negative"),
            )
        })?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_hashes() {
        assert_eq!(decode_hex(" 0xab cd\n").unwrap(), [0xab, 0xcd]);
        assert_eq!(
            decode_hex("abc"),
            Err(InputError::OddHexLength { digits: 3 })
        );
        assert_eq!(
            decode_hex("0xzz"),
            Err(InputError::InvalidHexCharacter {
                found: 'z',
                position: 2
            })
        );
        let h = StateHash([7; 32]);
        assert_eq!(parse_state_hash(&h.to_b58check()).unwrap(), h);
        assert_eq!(parse_state_hash(&hex::encode([7; 32])).unwrap(), h);
        assert!(matches!(
            parse_state_hash("abcd"),
            Err(InputError::StateHashLength { len: 2 })
        ));
        assert!(matches!(
            parse_state_hash("srs1xyz"),
            Err(InputError::StateHashBase58 { .. })
        ));
    }
}
