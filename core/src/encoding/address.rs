//! Tezos account and rollup addresses: binary (`Data_encoding`) and base58check forms.
//!
//! | type | base58 | binary |
//! |---|---|---|
//! | [`PublicKeyHash`] | `tz1`..`tz5` | tag (0 Ed25519, 1 Secp256k1, 2 P256, 3 BLS, 4 ML-DSA-44) + 20 bytes |
//! | [`ContractHash`] | `KT1` | 20 bytes |
//! | [`Contract`] | `tz..` or `KT1` | `0x00` + public key hash, or `0x01` + 20 bytes + `0x00` padding |
//! | [`SmartRollupAddress`] | `sr1` | 20 bytes |
//! | [`Destination`] | `tz..`, `KT1` or `sr1` | [`Contract`]'s form, or `0x03` + 20 bytes + `0x00` padding |

use alloc::string::String;
use alloc::vec::Vec;

use super::base58::{self, Base58Error, Prefix};
use super::binary::{DecodeError, DecodeErrorKind, Reader};

/// The signature scheme behind an implicit account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyKind {
    /// `tz1`, binary tag 0.
    Ed25519,
    /// `tz2`, binary tag 1.
    Secp256k1,
    /// `tz3`, binary tag 2.
    P256,
    /// `tz4`, binary tag 3.
    Bls,
    /// `tz5`, binary tag 4.
    Mldsa44,
}

impl KeyKind {
    const ALL: [KeyKind; 5] = [
        KeyKind::Ed25519,
        KeyKind::Secp256k1,
        KeyKind::P256,
        KeyKind::Bls,
        KeyKind::Mldsa44,
    ];

    /// The binary tag.
    pub fn tag(self) -> u8 {
        self as u8
    }

    /// The kind with this binary tag.
    pub fn from_tag(tag: u8) -> Option<Self> {
        Self::ALL.get(usize::from(tag)).copied()
    }

    /// The base58 prefix of its public key hashes.
    pub fn prefix(self) -> Prefix {
        match self {
            KeyKind::Ed25519 => base58::TZ1,
            KeyKind::Secp256k1 => base58::TZ2,
            KeyKind::P256 => base58::TZ3,
            KeyKind::Bls => base58::TZ4,
            KeyKind::Mldsa44 => base58::TZ5,
        }
    }
}

/// An implicit account address (`tz1`..`tz5`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PublicKeyHash {
    /// The signature scheme.
    pub kind: KeyKind,
    /// The 20-byte hash of the public key.
    pub hash: [u8; 20],
}

impl PublicKeyHash {
    /// Size of the binary form.
    pub const ENCODED_LEN: usize = 21;

    /// Base58check form.
    pub fn to_b58check(&self) -> String {
        base58::encode(&self.kind.prefix(), &self.hash)
    }

    /// Parses any of `tz1`..`tz5`.
    pub fn from_b58check(s: &str) -> Result<Self, Base58Error> {
        let prefixes = KeyKind::ALL.map(KeyKind::prefix);
        let (prefix, payload) = base58::decode_any(&prefixes, "tz1, tz2, tz3, tz4 or tz5", s)?;
        let kind = KeyKind::ALL
            .into_iter()
            .find(|k| k.prefix() == prefix)
            .unwrap_or(KeyKind::Ed25519);
        let mut hash = [0u8; 20];
        hash.copy_from_slice(&payload);
        Ok(PublicKeyHash { kind, hash })
    }

    /// Appends the binary form (tag + 20 bytes).
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.push(self.kind.tag());
        out.extend_from_slice(&self.hash);
    }

    /// Binary form.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(Self::ENCODED_LEN);
        self.encode_into(&mut out);
        out
    }

    /// Reads the binary form.
    pub fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let at = r.position();
        let tag = r.u8()?;
        let kind = KeyKind::from_tag(tag).ok_or_else(|| {
            r.error_at(
                at,
                DecodeErrorKind::InvalidTag {
                    what: "public key hash",
                    tag: u16::from(tag),
                },
            )
        })?;
        Ok(PublicKeyHash {
            kind,
            hash: r.array()?,
        })
    }

    /// Decodes exactly the binary form.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        decode_exactly(bytes, Self::read)
    }
}

/// An originated contract address (`KT1`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContractHash(pub [u8; 20]);

/// A smart rollup address (`sr1`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SmartRollupAddress(pub [u8; 20]);

macro_rules! hash20 {
    ($ty:ident, $prefix:expr) => {
        impl $ty {
            /// Size of the binary form.
            pub const ENCODED_LEN: usize = 20;

            /// Appends the binary form (the 20 bytes).
            pub fn encode_into(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.0);
            }

            /// Reads the binary form.
            pub fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                r.array().map($ty)
            }
        }

        base58::base58_newtype!($ty, $prefix);
    };
}

hash20!(ContractHash, base58::KT1);
hash20!(SmartRollupAddress, base58::SR1);

impl ContractHash {
    /// Appends `Contract_repr.originated_encoding`: `0x01` + 20 bytes + one `0x00` padding byte.
    pub fn encode_originated_into(&self, out: &mut Vec<u8>) {
        out.push(1);
        out.extend_from_slice(&self.0);
        out.push(0);
    }

    /// Reads `Contract_repr.originated_encoding` (tag must be 1; the padding byte is ignored).
    pub fn read_originated(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let at = r.position();
        let tag = r.u8()?;
        if tag != 1 {
            return Err(r.error_at(
                at,
                DecodeErrorKind::InvalidTag {
                    what: "originated contract",
                    tag: u16::from(tag),
                },
            ));
        }
        let hash = r.array()?;
        read_padding(r)?;
        Ok(ContractHash(hash))
    }
}

/// Reads one value with `read` and fails unless it spans all of `bytes`.
fn decode_exactly<T>(
    bytes: &[u8],
    read: fn(&mut Reader<'_>) -> Result<T, DecodeError>,
) -> Result<T, DecodeError> {
    let mut r = Reader::new(bytes);
    let v = read(&mut r)?;
    r.finish()?;
    Ok(v)
}

/// Skips the padding byte after an originated contract hash. `Data_encoding` writes 0x00 and
/// ignores the value when reading, so any byte is accepted here too.
fn read_padding(r: &mut Reader<'_>) -> Result<(), DecodeError> {
    r.u8().map(|_| ())
}

base58::base58_text!(PublicKeyHash);

/// Any contract: an implicit account or an originated contract (`Contract_repr.encoding`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Contract {
    /// `tz..`: binary `0x00` + public key hash.
    Implicit(PublicKeyHash),
    /// `KT1..`: binary `0x01` + 20 bytes + `0x00`.
    Originated(ContractHash),
}

impl Contract {
    /// Size of the binary form (both cases are 22 bytes).
    pub const ENCODED_LEN: usize = 22;

    /// Base58check form.
    pub fn to_b58check(&self) -> String {
        match self {
            Contract::Implicit(pkh) => pkh.to_b58check(),
            Contract::Originated(kt1) => kt1.to_b58check(),
        }
    }

    /// Parses `tz1`..`tz5` or `KT1`.
    pub fn from_b58check(s: &str) -> Result<Self, Base58Error> {
        let mut prefixes: Vec<Prefix> = KeyKind::ALL.iter().map(|k| k.prefix()).collect();
        prefixes.push(base58::KT1);
        let (prefix, payload) = base58::decode_any(&prefixes, "tz1, tz2, tz3, tz4, tz5 or KT1", s)?;
        let mut hash = [0u8; 20];
        hash.copy_from_slice(&payload);
        Ok(
            match KeyKind::ALL.into_iter().find(|k| k.prefix() == prefix) {
                Some(kind) => Contract::Implicit(PublicKeyHash { kind, hash }),
                None => Contract::Originated(ContractHash(hash)),
            },
        )
    }

    /// Appends the binary form.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            Contract::Implicit(pkh) => {
                out.push(0);
                pkh.encode_into(out);
            }
            Contract::Originated(kt1) => kt1.encode_originated_into(out),
        }
    }

    /// Binary form.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(Self::ENCODED_LEN);
        self.encode_into(&mut out);
        out
    }

    /// Reads the binary form.
    pub fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let at = r.position();
        let tag = r.u8()?;
        match tag {
            0 => PublicKeyHash::read(r).map(Contract::Implicit),
            1 => {
                let hash = r.array()?;
                read_padding(r)?;
                Ok(Contract::Originated(ContractHash(hash)))
            }
            _ => Err(r.error_at(
                at,
                DecodeErrorKind::InvalidTag {
                    what: "contract",
                    tag: u16::from(tag),
                },
            )),
        }
    }

    /// Decodes exactly the binary form.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        decode_exactly(bytes, Self::read)
    }
}

base58::base58_text!(Contract);

/// Where a transaction can go (octez `Destination_repr`): a contract or a smart rollup. The
/// binary form extends [`Contract`]'s: tag `0x03` is a smart rollup (20 bytes + `0x00` padding).
/// Zk rollups (tag `0x04`) are not supported.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Destination {
    /// `tz..`: binary `0x00` + public key hash.
    Implicit(PublicKeyHash),
    /// `KT1..`: binary `0x01` + 20 bytes + `0x00`.
    Originated(ContractHash),
    /// `sr1..`: binary `0x03` + 20 bytes + `0x00`.
    SmartRollup(SmartRollupAddress),
}

impl Destination {
    /// Size of the binary form (every case is 22 bytes).
    pub const ENCODED_LEN: usize = 22;

    /// Base58check form.
    pub fn to_b58check(&self) -> String {
        match self {
            Destination::Implicit(pkh) => pkh.to_b58check(),
            Destination::Originated(kt1) => kt1.to_b58check(),
            Destination::SmartRollup(sr1) => sr1.to_b58check(),
        }
    }

    /// Parses `tz1`..`tz5`, `KT1` or `sr1`.
    pub fn from_b58check(s: &str) -> Result<Self, Base58Error> {
        if s.starts_with("sr1") {
            return SmartRollupAddress::from_b58check(s).map(Destination::SmartRollup);
        }
        match Contract::from_b58check(s) {
            Ok(c) => Ok(c.into()),
            Err(Base58Error::WrongPrefix { .. }) => Err(Base58Error::WrongPrefix {
                expected: "tz1, tz2, tz3, tz4, tz5, KT1 or sr1",
            }),
            Err(e) => Err(e),
        }
    }

    /// Appends the binary form.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            Destination::Implicit(pkh) => Contract::Implicit(*pkh).encode_into(out),
            Destination::Originated(kt1) => kt1.encode_originated_into(out),
            Destination::SmartRollup(sr1) => {
                out.push(3);
                out.extend_from_slice(&sr1.0);
                out.push(0);
            }
        }
    }

    /// Binary form.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(Self::ENCODED_LEN);
        self.encode_into(&mut out);
        out
    }

    /// Reads the binary form.
    pub fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let at = r.position();
        let tag = r.clone().u8()?;
        match tag {
            3 => {
                r.u8()?;
                let hash = r.array()?;
                read_padding(r)?;
                Ok(Destination::SmartRollup(SmartRollupAddress(hash)))
            }
            0 | 1 => Contract::read(r).map(Destination::from),
            tag => Err(r.error_at(
                at,
                DecodeErrorKind::InvalidTag {
                    what: "destination",
                    tag: u16::from(tag),
                },
            )),
        }
    }

    /// Decodes exactly the binary form.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        decode_exactly(bytes, Self::read)
    }
}

impl From<Contract> for Destination {
    fn from(c: Contract) -> Self {
        match c {
            Contract::Implicit(pkh) => Destination::Implicit(pkh),
            Contract::Originated(kt1) => Destination::Originated(kt1),
        }
    }
}

base58::base58_text!(Destination);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debugger_defaults_are_zero_hashes() {
        let kt1: ContractHash = "KT18amZmM5W7qDWVt2pH6uj7sCEd3kbzLrHT".parse().unwrap();
        assert_eq!(kt1, ContractHash([0; 20]));
        let tz1: PublicKeyHash = "tz1Ke2h7sDdakHJQh8WX4Z372du1KChsksyU".parse().unwrap();
        assert_eq!(tz1.kind, KeyKind::Ed25519);
        assert_eq!(tz1.encode(), [0u8; 21]);
        let sr1: SmartRollupAddress = "sr163Lv22CdE8QagCwf48PWDTquk6isQwv57".parse().unwrap();
        assert_eq!(sr1, SmartRollupAddress([0; 20]));
    }

    #[test]
    fn contract_binary_forms() {
        let kt1 = Contract::Originated(ContractHash([7; 20]));
        let bytes = kt1.encode();
        assert_eq!(bytes.len(), 22);
        assert_eq!((bytes[0], bytes[21]), (1, 0));
        assert_eq!(Contract::decode(&bytes).unwrap(), kt1);
        // Like octez, the padding byte's value is ignored.
        let mut odd = bytes.clone();
        odd[21] = 5;
        assert_eq!(Contract::decode(&odd).unwrap(), kt1);
        let err = Contract::decode(&bytes[..21]).unwrap_err();
        assert_eq!(
            (err.offset, err.kind),
            (21, DecodeErrorKind::UnexpectedEof { needed: 1 })
        );
        let tz3 = Contract::Implicit(PublicKeyHash {
            kind: KeyKind::P256,
            hash: [9; 20],
        });
        let bytes = tz3.encode();
        assert_eq!(&bytes[..2], &[0, 2]);
        assert_eq!(Contract::decode(&bytes).unwrap(), tz3);
        assert!(tz3.to_b58check().starts_with("tz3"));
        assert_eq!(Contract::from_b58check(&tz3.to_b58check()).unwrap(), tz3);
        let err = PublicKeyHash::decode(&[5; 21]).unwrap_err();
        assert_eq!(err.offset, 0);
    }

    #[test]
    fn destination_forms() {
        let sr1 = Destination::SmartRollup(SmartRollupAddress([4; 20]));
        let bytes = sr1.encode();
        assert_eq!((bytes.len(), bytes[0], bytes[21]), (22, 3, 0));
        assert_eq!(Destination::decode(&bytes).unwrap(), sr1);
        assert_eq!(Destination::from_b58check(&sr1.to_b58check()).unwrap(), sr1);
        let kt1 = Destination::Originated(ContractHash([7; 20]));
        assert_eq!(
            kt1.encode(),
            Contract::Originated(ContractHash([7; 20])).encode()
        );
        assert_eq!(Destination::decode(&kt1.encode()).unwrap(), kt1);
        let err = Destination::decode(&[4; 22]).unwrap_err();
        assert_eq!(
            (err.offset, err.kind),
            (
                0,
                DecodeErrorKind::InvalidTag {
                    what: "destination",
                    tag: 4
                }
            )
        );
    }

    #[test]
    fn wrong_kinds_are_named() {
        assert_eq!(
            PublicKeyHash::from_b58check("KT18amZmM5W7qDWVt2pH6uj7sCEd3kbzLrHT"),
            Err(Base58Error::WrongPrefix {
                expected: "tz1, tz2, tz3, tz4 or tz5"
            })
        );
        assert_eq!(
            SmartRollupAddress::from_b58check("tz1Ke2h7sDdakHJQh8WX4Z372du1KChsksyU"),
            Err(Base58Error::WrongPrefix { expected: "sr1" })
        );
    }
}
