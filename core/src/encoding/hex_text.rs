//! Hex text as users paste it: whitespace and line breaks anywhere, an optional `0x` prefix.
//!
//! Used by every face that reads hex from a person (the CLI's arguments, the web page's fields).

use alloc::vec::Vec;

/// Why a hex text could not be decoded.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum HexTextError {
    /// A character that is neither a hex digit nor whitespace.
    #[error("invalid hex character {} at character {position}", super::quote::QuotedChar(*.found))]
    InvalidCharacter {
        /// The offending character.
        found: char,
        /// Its index (in characters) in the text.
        position: usize,
    },
    /// The digits do not pair up into bytes.
    #[error("odd number of hex digits ({digits})")]
    OddLength {
        /// How many hex digits the text holds.
        digits: usize,
    },
}

/// Decodes hex text, ignoring ASCII whitespace and one leading `0x`/`0X`.
pub fn decode(text: &str) -> Result<Vec<u8>, HexTextError> {
    let trimmed = text.trim_start();
    let (skipped, body) = match trimmed
        .strip_prefix("0x")
        .or_else(|| trimmed.strip_prefix("0X"))
    {
        Some(rest) => (text.len() - rest.len(), rest),
        None => (0, text),
    };
    // `get`, not `[..]`: `skipped` is a char boundary, and a slice that cannot panic keeps
    // `str`'s panic message (with `char`'s Unicode tables) out of the light client.
    let skipped_chars = text.get(..skipped).map_or(0, |s| s.chars().count());
    let mut bytes = Vec::with_capacity(body.len() / 2);
    let mut high: Option<u8> = None;
    let mut digits = 0usize;
    for (index, c) in body.chars().enumerate() {
        if c.is_ascii_whitespace() {
            continue;
        }
        let nibble = c.to_digit(16).ok_or(HexTextError::InvalidCharacter {
            found: c,
            position: skipped_chars + index,
        })? as u8;
        digits += 1;
        match high.take() {
            None => high = Some(nibble),
            Some(h) => bytes.push(h << 4 | nibble),
        }
    }
    if high.is_some() {
        return Err(HexTextError::OddLength { digits });
    }
    Ok(bytes)
}

/// True when the text consists only of hex digits and whitespace (after an optional `0x`).
pub fn looks_like_hex(text: &str) -> bool {
    let t = text.trim();
    let t = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t);
    !t.is_empty()
        && t.chars()
            .all(|c| c.is_ascii_hexdigit() || c.is_ascii_whitespace())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn decodes_with_whitespace_and_prefix() {
        assert_eq!(
            decode(" 0xDE ad\n be\tef \n"),
            Ok(vec![0xde, 0xad, 0xbe, 0xef])
        );
        assert_eq!(decode(""), Ok(vec![]));
    }

    #[test]
    fn names_the_bad_character_and_its_position() {
        assert_eq!(
            decode("00 1g"),
            Err(HexTextError::InvalidCharacter {
                found: 'g',
                position: 4
            })
        );
        assert_eq!(
            decode("0xzz"),
            Err(HexTextError::InvalidCharacter {
                found: 'z',
                position: 2
            })
        );
    }

    #[test]
    fn rejects_odd_digit_counts() {
        assert_eq!(decode("abc"), Err(HexTextError::OddLength { digits: 3 }));
    }

    #[test]
    fn recognises_hex_looking_text() {
        assert!(looks_like_hex(" 0xab cd\n"));
        assert!(!looks_like_hex(""));
        assert!(!looks_like_hex("(module)"));
    }
}
