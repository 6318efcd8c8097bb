//! Base58check with Tezos prefixes.
//!
//! A Tezos base58 string is `base58(prefix ++ payload ++ checksum)`, where `checksum` is the
//! first four bytes of `SHA-256(SHA-256(prefix ++ payload))` and `prefix` is a few bytes chosen
//! so that every string of a kind starts with the same letters (`tz1`, `KT1`, `sr1`, ...).

use alloc::string::String;
use alloc::vec::Vec;

use crate::digest::sha256;
use thiserror::Error;

const ALPHABET: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/// A Tezos base58check kind: its binary prefix and payload size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Prefix {
    /// What this kind is called in errors, e.g. `"tz1"`.
    pub name: &'static str,
    /// The raw bytes prepended before base58 encoding.
    pub bytes: &'static [u8],
    /// Payload length in bytes.
    pub payload_len: usize,
}

/// `B...`: block hash (32 bytes).
pub const BLOCK_HASH: Prefix = Prefix {
    name: "B",
    bytes: &[1, 52],
    payload_len: 32,
};
/// `o...`: operation hash (32 bytes).
pub const OPERATION_HASH: Prefix = Prefix {
    name: "o",
    bytes: &[5, 116],
    payload_len: 32,
};
/// `LLo...`: hash of a block's lists of operations (32 bytes).
pub const OPERATION_LIST_LIST_HASH: Prefix = Prefix {
    name: "LLo",
    bytes: &[29, 159, 109],
    payload_len: 32,
};
/// `P...`: protocol hash (32 bytes).
pub const PROTOCOL_HASH: Prefix = Prefix {
    name: "P",
    bytes: &[2, 170],
    payload_len: 32,
};
/// `Co...`: context hash (32 bytes).
pub const CONTEXT_HASH: Prefix = Prefix {
    name: "Co",
    bytes: &[79, 199],
    payload_len: 32,
};
/// `tz1`: Ed25519 public key hash (20 bytes).
pub const TZ1: Prefix = Prefix {
    name: "tz1",
    bytes: &[6, 161, 159],
    payload_len: 20,
};
/// `tz2`: Secp256k1 public key hash (20 bytes).
pub const TZ2: Prefix = Prefix {
    name: "tz2",
    bytes: &[6, 161, 161],
    payload_len: 20,
};
/// `tz3`: P-256 public key hash (20 bytes).
pub const TZ3: Prefix = Prefix {
    name: "tz3",
    bytes: &[6, 161, 164],
    payload_len: 20,
};
/// `tz4`: BLS12-381 public key hash (20 bytes).
pub const TZ4: Prefix = Prefix {
    name: "tz4",
    bytes: &[6, 161, 166],
    payload_len: 20,
};
/// `tz5`: ML-DSA-44 public key hash (20 bytes).
pub const TZ5: Prefix = Prefix {
    name: "tz5",
    bytes: &[6, 161, 169],
    payload_len: 20,
};
/// `KT1`: originated contract hash (20 bytes).
pub const KT1: Prefix = Prefix {
    name: "KT1",
    bytes: &[2, 90, 121],
    payload_len: 20,
};
/// `sr1`: smart rollup address (20 bytes).
pub const SR1: Prefix = Prefix {
    name: "sr1",
    bytes: &[6, 124, 117],
    payload_len: 20,
};
/// `src1`: smart rollup commitment hash (32 bytes).
pub const SRC1: Prefix = Prefix {
    name: "src1",
    bytes: &[17, 165, 134, 138],
    payload_len: 32,
};
/// `scmsg`: a rollup node's L2 message id (32 bytes; octez `L2_message.Id`).
pub const SCMSG: Prefix = Prefix {
    name: "scmsg",
    bytes: &[3, 250, 179, 247, 196],
    payload_len: 32,
};
/// `srs1`: smart rollup state hash (32 bytes).
pub const SRS1: Prefix = Prefix {
    name: "srs1",
    bytes: &[17, 165, 235, 240],
    payload_len: 32,
};
/// `srib1`: smart rollup inbox hash (32 bytes).
pub const SRIB1: Prefix = Prefix {
    name: "srib1",
    bytes: &[3, 255, 138, 145, 110],
    payload_len: 32,
};
/// `srib2`: smart rollup merkelized payload hash (32 bytes).
pub const SRIB2: Prefix = Prefix {
    name: "srib2",
    bytes: &[3, 255, 138, 145, 140],
    payload_len: 32,
};
/// `srib3`: smart rollup serialized message hash (32 bytes).
pub const SRIB3: Prefix = Prefix {
    name: "srib3",
    bytes: &[3, 255, 138, 145, 170],
    payload_len: 32,
};
/// `Net`: chain id (4 bytes).
pub const CHAIN_ID: Prefix = Prefix {
    name: "Net",
    bytes: &[87, 82, 0],
    payload_len: 4,
};
/// `expr`: script expression hash (32 bytes), e.g. a big map key's hash.
pub const SCRIPT_EXPR_HASH: Prefix = Prefix {
    name: "expr",
    bytes: &[13, 44, 64, 27],
    payload_len: 32,
};

/// `edpk`: Ed25519 public key (32 bytes).
pub const EDPK: Prefix = Prefix {
    name: "edpk",
    bytes: &[13, 15, 37, 217],
    payload_len: 32,
};
/// `sppk`: Secp256k1 public key (33 bytes, compressed).
pub const SPPK: Prefix = Prefix {
    name: "sppk",
    bytes: &[3, 254, 226, 86],
    payload_len: 33,
};
/// `p2pk`: P-256 public key (33 bytes, compressed).
pub const P2PK: Prefix = Prefix {
    name: "p2pk",
    bytes: &[3, 178, 139, 127],
    payload_len: 33,
};
/// `BLpk`: BLS12-381 public key (48 bytes).
pub const BLPK: Prefix = Prefix {
    name: "BLpk",
    bytes: &[6, 149, 135, 204],
    payload_len: 48,
};
/// `edsk` (54 characters): Ed25519 secret key seed (32 bytes).
pub const EDSK_SEED: Prefix = Prefix {
    name: "edsk",
    bytes: &[13, 15, 58, 7],
    payload_len: 32,
};
/// `edsk` (98 characters): Ed25519 secret key as seed and public key (64 bytes).
pub const EDSK_PAIR: Prefix = Prefix {
    name: "edsk",
    bytes: &[43, 246, 78, 7],
    payload_len: 64,
};
/// `edsig`: Ed25519 signature (64 bytes).
pub const EDSIG: Prefix = Prefix {
    name: "edsig",
    bytes: &[9, 245, 205, 134, 18],
    payload_len: 64,
};
/// `spsig1`: Secp256k1 signature (64 bytes).
pub const SPSIG: Prefix = Prefix {
    name: "spsig1",
    bytes: &[13, 115, 101, 19, 63],
    payload_len: 64,
};
/// `p2sig`: P-256 signature (64 bytes).
pub const P2SIG: Prefix = Prefix {
    name: "p2sig",
    bytes: &[54, 240, 44, 52],
    payload_len: 64,
};
/// `sig`: a signature of any 64-byte scheme.
pub const SIG: Prefix = Prefix {
    name: "sig",
    bytes: &[4, 130, 43],
    payload_len: 64,
};
/// `BLsig`: BLS12-381 signature (96 bytes).
pub const BLSIG: Prefix = Prefix {
    name: "BLsig",
    bytes: &[40, 171, 64, 207],
    payload_len: 96,
};

/// Why a base58check string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Base58Error {
    /// A character outside the base58 alphabet.
    #[error("invalid base58 character {} at position {position}", super::quote::QuotedChar(*.found))]
    InvalidCharacter {
        /// Character index in the input string.
        position: usize,
        /// The offending character.
        found: char,
    },
    /// Fewer than the four checksum bytes.
    #[error("base58check data too short ({len} bytes) to hold a checksum")]
    TooShort {
        /// Decoded byte length.
        len: usize,
    },
    /// The double-SHA256 checksum does not match.
    #[error("bad base58check checksum")]
    BadChecksum,
    /// The decoded bytes do not start with the expected prefix.
    #[error("expected a {expected} base58check string")]
    WrongPrefix {
        /// The kind that was expected, e.g. `"tz1"` or `"tz1, tz2, tz3 or tz4"`.
        expected: &'static str,
    },
    /// The payload after the prefix has the wrong length.
    #[error("{kind} payload has {found} bytes, expected {expected}")]
    WrongLength {
        /// The kind that was decoded.
        kind: &'static str,
        /// Expected payload size.
        expected: usize,
        /// Payload size found.
        found: usize,
    },
}

fn checksum(data: &[u8]) -> [u8; 4] {
    let first = sha256(data);
    let second = sha256(&first);
    [second[0], second[1], second[2], second[3]]
}

/// Plain base58 (Bitcoin alphabet) of `data`, no checksum.
pub fn encode_raw(data: &[u8]) -> String {
    let zeros = data.iter().take_while(|&&b| b == 0).count();
    // Little-endian base-58 digits.
    let mut digits: Vec<u8> = Vec::with_capacity(data.len() * 138 / 100 + 1);
    for &byte in &data[zeros..] {
        let mut carry = u32::from(byte);
        for d in digits.iter_mut() {
            let v = (u32::from(*d) << 8) + carry;
            *d = (v % 58) as u8;
            carry = v / 58;
        }
        while carry > 0 {
            digits.push((carry % 58) as u8);
            carry /= 58;
        }
    }
    let mut out = String::with_capacity(zeros + digits.len());
    for _ in 0..zeros {
        out.push('1');
    }
    for &d in digits.iter().rev() {
        out.push(ALPHABET[d as usize] as char);
    }
    out
}

/// Plain base58 decoding, no checksum.
pub fn decode_raw(s: &str) -> Result<Vec<u8>, Base58Error> {
    let mut bytes_le: Vec<u8> = Vec::with_capacity(s.len());
    let mut zeros = 0usize;
    let mut leading = true;
    for (position, c) in s.chars().enumerate() {
        let value = ALPHABET
            .iter()
            .position(|&a| a as char == c)
            .ok_or(Base58Error::InvalidCharacter { position, found: c })?;
        if leading && value == 0 {
            zeros += 1;
            continue;
        }
        leading = false;
        let mut carry = value as u32;
        for b in bytes_le.iter_mut() {
            let v = u32::from(*b) * 58 + carry;
            *b = v as u8;
            carry = v >> 8;
        }
        while carry > 0 {
            bytes_le.push(carry as u8);
            carry >>= 8;
        }
    }
    let mut out = alloc::vec![0u8; zeros];
    out.extend(bytes_le.iter().rev());
    Ok(out)
}

/// Base58check of `data` (appends the 4-byte double-SHA256 checksum).
pub fn check_encode(data: &[u8]) -> String {
    let mut buf = Vec::with_capacity(data.len() + 4);
    buf.extend_from_slice(data);
    buf.extend_from_slice(&checksum(data));
    encode_raw(&buf)
}

/// Decodes base58check and verifies the checksum; returns the data without the checksum.
pub fn check_decode(s: &str) -> Result<Vec<u8>, Base58Error> {
    let mut raw = decode_raw(s)?;
    if raw.len() < 4 {
        return Err(Base58Error::TooShort { len: raw.len() });
    }
    let split = raw.len() - 4;
    if checksum(&raw[..split]) != raw[split..] {
        return Err(Base58Error::BadChecksum);
    }
    raw.truncate(split);
    Ok(raw)
}

/// Encodes `payload` with a Tezos prefix.
///
/// # Panics
/// If `payload` is not `prefix.payload_len` bytes long (a programming error: callers hold
/// fixed-size arrays).
pub fn encode(prefix: &Prefix, payload: &[u8]) -> String {
    assert_eq!(
        payload.len(),
        prefix.payload_len,
        "{} payload length",
        prefix.name
    );
    let mut data = Vec::with_capacity(prefix.bytes.len() + payload.len());
    data.extend_from_slice(prefix.bytes);
    data.extend_from_slice(payload);
    check_encode(&data)
}

/// Decodes a string of the given kind into its payload.
pub fn decode(prefix: &Prefix, s: &str) -> Result<Vec<u8>, Base58Error> {
    let data = check_decode(s)?;
    match strip_prefix(prefix, &data) {
        Some(r) => r.map(<[u8]>::to_vec),
        None => Err(Base58Error::WrongPrefix {
            expected: prefix.name,
        }),
    }
}

/// Decodes a string of the given kind into a fixed-size payload.
pub fn decode_array<const N: usize>(prefix: &Prefix, s: &str) -> Result<[u8; N], Base58Error> {
    debug_assert_eq!(prefix.payload_len, N);
    let v = decode(prefix, s)?;
    let mut out = [0u8; N];
    out.copy_from_slice(&v);
    Ok(out)
}

/// Decodes a string that may be of any of `prefixes`; returns which one matched and the payload.
///
/// `expected` names the accepted kinds in the error, e.g. `"tz1, tz2, tz3 or tz4"`.
pub fn decode_any(
    prefixes: &[Prefix],
    expected: &'static str,
    s: &str,
) -> Result<(Prefix, Vec<u8>), Base58Error> {
    let data = check_decode(s)?;
    for p in prefixes {
        if let Some(r) = strip_prefix(p, &data) {
            return r.map(|payload| (*p, payload.to_vec()));
        }
    }
    Err(Base58Error::WrongPrefix { expected })
}

/// `None` if `data` does not start with the prefix; otherwise the payload or a length error.
fn strip_prefix<'a>(prefix: &Prefix, data: &'a [u8]) -> Option<Result<&'a [u8], Base58Error>> {
    let payload = data.strip_prefix(prefix.bytes)?;
    if payload.len() != prefix.payload_len {
        return Some(Err(Base58Error::WrongLength {
            kind: prefix.name,
            expected: prefix.payload_len,
            found: payload.len(),
        }));
    }
    Some(Ok(payload))
}

/// Gives a newtype over a byte array its base58check forms with a Tezos prefix:
/// `to_b58check`, `from_b58check` and the text traits of [`base58_text!`]. The one definition
/// behind every fixed-size hash and address type (`KT1`, `sr1`, `srs1`, `src1`, ...).
macro_rules! base58_newtype {
    ($ty:ident, $prefix:expr) => {
        impl $ty {
            /// Base58check form.
            pub fn to_b58check(&self) -> alloc::string::String {
                $crate::encoding::base58::encode(&$prefix, &self.0)
            }

            /// Parses the base58check form.
            pub fn from_b58check(s: &str) -> Result<Self, $crate::encoding::base58::Base58Error> {
                $crate::encoding::base58::decode_array(&$prefix, s).map($ty)
            }
        }

        $crate::encoding::base58::base58_text!($ty);
    };
}
pub(crate) use base58_newtype;

/// `Display` and `FromStr` as the base58check form and `Debug` as `Type(b58)`, for a type with
/// inherent `to_b58check` and `from_b58check` methods.
macro_rules! base58_text {
    ($ty:ident) => {
        impl core::fmt::Display for $ty {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str(&self.to_b58check())
            }
        }

        impl core::fmt::Debug for $ty {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                write!(f, "{}({})", stringify!($ty), self.to_b58check())
            }
        }

        impl core::str::FromStr for $ty {
            type Err = $crate::encoding::base58::Base58Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::from_b58check(s)
            }
        }
    };
}
pub(crate) use base58_text;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_hashes_match_octez_debugger_defaults() {
        assert_eq!(
            encode(&KT1, &[0; 20]),
            "KT18amZmM5W7qDWVt2pH6uj7sCEd3kbzLrHT"
        );
        assert_eq!(
            encode(&TZ1, &[0; 20]),
            "tz1Ke2h7sDdakHJQh8WX4Z372du1KChsksyU"
        );
        assert_eq!(
            encode(&SR1, &[0; 20]),
            "sr163Lv22CdE8QagCwf48PWDTquk6isQwv57"
        );
    }

    #[test]
    fn prefixes_give_their_letters() {
        for p in [
            BLOCK_HASH,
            TZ1,
            TZ2,
            TZ3,
            TZ4,
            TZ5,
            KT1,
            SR1,
            SRC1,
            SRS1,
            SCMSG,
            SRIB1,
            SRIB2,
            SRIB3,
            CHAIN_ID,
            OPERATION_HASH,
            PROTOCOL_HASH,
            CONTEXT_HASH,
        ] {
            for fill in [0u8, 0xff] {
                let s = encode(&p, &alloc::vec![fill; p.payload_len]);
                assert!(s.starts_with(p.name), "{} gave {s}", p.name);
                assert_eq!(decode(&p, &s).unwrap(), alloc::vec![fill; p.payload_len]);
            }
        }
    }

    #[test]
    fn errors() {
        assert_eq!(
            decode(&TZ1, "tz1Ke2h7sDdakHJQh8WX4Z372du1KChsksy0"),
            Err(Base58Error::InvalidCharacter {
                position: 35,
                found: '0'
            })
        );
        assert_eq!(
            decode(&TZ1, "tz1Ke2h7sDdakHJQh8WX4Z372du1KChsksyV"),
            Err(Base58Error::BadChecksum)
        );
        assert_eq!(
            decode(&TZ1, "KT18amZmM5W7qDWVt2pH6uj7sCEd3kbzLrHT"),
            Err(Base58Error::WrongPrefix { expected: "tz1" })
        );
        let short = check_encode(&[6, 161, 159, 1, 2]);
        assert_eq!(
            decode(&TZ1, &short),
            Err(Base58Error::WrongLength {
                kind: "tz1",
                expected: 20,
                found: 2
            })
        );
        assert_eq!(decode_raw("").unwrap(), Vec::<u8>::new());
        assert_eq!(check_decode("1"), Err(Base58Error::TooShort { len: 1 }));
    }

    #[test]
    fn raw_leading_zeros() {
        assert_eq!(encode_raw(&[0, 0, 1]), "112");
        assert_eq!(decode_raw("112").unwrap(), alloc::vec![0, 0, 1]);
    }
}
