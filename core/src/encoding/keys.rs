//! Tezos public keys, signatures and operation signing.
//!
//! | type | base58 | binary |
//! |---|---|---|
//! | [`PublicKey`] | `edpk`, `sppk`, `p2pk`, `BLpk` | tag (0 Ed25519, 1 Secp256k1, 2 P256, 3 BLS) + key |
//! | [`Signature`] | `edsig`, `spsig1`, `p2sig`, `sig`, `BLsig` | the raw 64 (BLS: 96) bytes |
//! | `SecretKey` (feature `keys`) | `edsk` (seed or seed + public key) | |
//!
//! A manager operation is signed over `blake2b_256(0x03 || forged bytes)`
//! ([`operation_digest`]); the key's hash (`tz1..`) is `blake2b_160` of the key bytes without
//! the tag ([`PublicKey::hash`]). Checking signatures needs the `keys` feature: Ed25519
//! (`ed25519-dalek`, strict), Secp256k1 (`k256`, low-S only, as libsecp256k1 in octez) and P-256
//! (`p256`), the ECDSA ones over the digest itself. BLS keys are parsed and hashed, and their
//! signatures are refused with [`SignatureError::Unsupported`].

use alloc::string::String;
use alloc::vec::Vec;

use crate::digest::Blake2b;
use thiserror::Error;

use super::address::{KeyKind, PublicKeyHash};
use super::base58::{self, Base58Error};
use super::binary::{DecodeError, DecodeErrorKind, Reader};

/// The watermark of manager (and other non-consensus) operations.
pub const GENERIC_OPERATION_WATERMARK: u8 = 0x03;

/// What a signer signs for an operation: `blake2b_256(0x03 || bytes)`.
pub fn operation_digest(unsigned_bytes: &[u8]) -> [u8; 32] {
    let mut h = Blake2b::<32>::new();
    h.update(&[GENERIC_OPERATION_WATERMARK]);
    h.update(unsigned_bytes);
    h.finalize()
}

/// A public key.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PublicKey {
    /// `edpk`: 32 bytes.
    Ed25519([u8; 32]),
    /// `sppk`: 33 bytes, compressed point.
    Secp256k1([u8; 33]),
    /// `p2pk`: 33 bytes, compressed point.
    P256([u8; 33]),
    /// `BLpk`: 48 bytes.
    Bls([u8; 48]),
}

impl PublicKey {
    /// The signature scheme.
    pub fn kind(&self) -> KeyKind {
        match self {
            PublicKey::Ed25519(_) => KeyKind::Ed25519,
            PublicKey::Secp256k1(_) => KeyKind::Secp256k1,
            PublicKey::P256(_) => KeyKind::P256,
            PublicKey::Bls(_) => KeyKind::Bls,
        }
    }

    /// The key bytes without the tag.
    pub fn key_bytes(&self) -> &[u8] {
        match self {
            PublicKey::Ed25519(k) => k,
            PublicKey::Secp256k1(k) | PublicKey::P256(k) => k,
            PublicKey::Bls(k) => k,
        }
    }

    fn prefix(&self) -> base58::Prefix {
        match self {
            PublicKey::Ed25519(_) => base58::EDPK,
            PublicKey::Secp256k1(_) => base58::SPPK,
            PublicKey::P256(_) => base58::P2PK,
            PublicKey::Bls(_) => base58::BLPK,
        }
    }

    /// The account this key controls: `blake2b_160` of the key bytes.
    pub fn hash(&self) -> PublicKeyHash {
        let digest = {
            let mut h = Blake2b::<20>::new();
            h.update(self.key_bytes());
            h.finalize()
        };
        PublicKeyHash {
            kind: self.kind(),
            hash: digest,
        }
    }

    /// Base58check form (`edpk..`, `sppk..`, `p2pk..`, `BLpk..`).
    pub fn to_b58check(&self) -> String {
        base58::encode(&self.prefix(), self.key_bytes())
    }

    /// Parses any of `edpk`, `sppk`, `p2pk`, `BLpk`.
    pub fn from_b58check(s: &str) -> Result<Self, Base58Error> {
        let prefixes = [base58::EDPK, base58::SPPK, base58::P2PK, base58::BLPK];
        let (p, payload) = base58::decode_any(&prefixes, "edpk, sppk, p2pk or BLpk", s)?;
        Ok(match p.name {
            "edpk" => PublicKey::Ed25519(to_array(&payload)),
            "sppk" => PublicKey::Secp256k1(to_array(&payload)),
            "p2pk" => PublicKey::P256(to_array(&payload)),
            _ => PublicKey::Bls(to_array(&payload)),
        })
    }

    /// Appends the binary form (tag + key).
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.push(self.kind().tag());
        out.extend_from_slice(self.key_bytes());
    }

    /// Reads the binary form.
    pub fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let at = r.position();
        let tag = r.u8()?;
        Ok(match tag {
            0 => PublicKey::Ed25519(r.array()?),
            1 => PublicKey::Secp256k1(r.array()?),
            2 => PublicKey::P256(r.array()?),
            3 => PublicKey::Bls(r.array()?),
            _ => {
                return Err(r.error_at(
                    at,
                    DecodeErrorKind::InvalidTag {
                        what: "public key",
                        tag: u16::from(tag),
                    },
                ))
            }
        })
    }
}

fn to_array<const N: usize>(v: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(v);
    out
}

impl core::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.to_b58check())
    }
}

impl core::fmt::Display for PublicKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.to_b58check())
    }
}

/// A signature: 64 bytes (Ed25519, Secp256k1, P-256) or 96 (BLS).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Signature(pub Vec<u8>);

impl Signature {
    /// Base58check form: `edsig` for Ed25519 when `kind` says so, `sig` for other 64-byte
    /// signatures of unknown scheme, `BLsig` for 96 bytes.
    pub fn to_b58check(&self, kind: Option<KeyKind>) -> String {
        let prefix = match (self.0.len(), kind) {
            (96, _) => base58::BLSIG,
            (_, Some(KeyKind::Ed25519)) => base58::EDSIG,
            (_, Some(KeyKind::Secp256k1)) => base58::SPSIG,
            (_, Some(KeyKind::P256)) => base58::P2SIG,
            _ => base58::SIG,
        };
        base58::encode(&prefix, &self.0)
    }

    /// Parses `edsig`, `spsig1`, `p2sig`, `sig` or `BLsig`.
    pub fn from_b58check(s: &str) -> Result<Self, Base58Error> {
        let prefixes = [
            base58::EDSIG,
            base58::SPSIG,
            base58::P2SIG,
            base58::SIG,
            base58::BLSIG,
        ];
        let (_, payload) = base58::decode_any(&prefixes, "edsig, spsig1, p2sig, sig or BLsig", s)?;
        Ok(Signature(payload))
    }
}

impl core::fmt::Debug for Signature {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.to_b58check(None))
    }
}

/// Why a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SignatureError {
    /// The key's scheme is parsed but not checked by this build.
    #[error(
        "{0} signatures are not supported (Ed25519, Secp256k1 and P-256 keys are: tz1, tz2, tz3)"
    )]
    Unsupported(&'static str),
    /// The signature has the wrong size for the key.
    #[error("a {scheme} signature has {expected} bytes, found {found}")]
    WrongLength {
        /// The scheme.
        scheme: &'static str,
        /// The size it must have.
        expected: usize,
        /// The size found.
        found: usize,
    },
    /// The public key is not a valid point.
    #[error("the public key is not a valid {0} key")]
    BadKey(&'static str),
    /// The signature does not match the key and message.
    #[error("the signature does not match the public key and the signed bytes")]
    Mismatch,
}

/// Checks `signature` over [`operation_digest`]`(unsigned_bytes)` with `key`.
#[cfg(feature = "keys")]
pub fn check_operation_signature(
    key: &PublicKey,
    unsigned_bytes: &[u8],
    signature: &Signature,
) -> Result<(), SignatureError> {
    check_signature(key, &operation_digest(unsigned_bytes), signature)
}

/// Checks `signature` over the 32-byte `digest` with `key`.
#[cfg(feature = "keys")]
pub fn check_signature(
    key: &PublicKey,
    digest: &[u8; 32],
    signature: &Signature,
) -> Result<(), SignatureError> {
    match key {
        PublicKey::Ed25519(k) => {
            let sig: [u8; 64] =
                signature
                    .0
                    .as_slice()
                    .try_into()
                    .map_err(|_| SignatureError::WrongLength {
                        scheme: "Ed25519",
                        expected: 64,
                        found: signature.0.len(),
                    })?;
            let vk = ed25519_dalek::VerifyingKey::from_bytes(k)
                .map_err(|_| SignatureError::BadKey("Ed25519"))?;
            vk.verify_strict(digest, &ed25519_dalek::Signature::from_bytes(&sig))
                .map_err(|_| SignatureError::Mismatch)
        }
        // Both sign the digest itself (no second hash), `r || s` big-endian; libsecp256k1, which
        // octez uses for tz2, only accepts the low-S form, as k256's verifier does.
        PublicKey::Secp256k1(k) => {
            use k256::ecdsa::signature::hazmat::PrehashVerifier;
            let scheme = "Secp256k1";
            let vk = k256::ecdsa::VerifyingKey::from_sec1_bytes(k)
                .map_err(|_| SignatureError::BadKey(scheme))?;
            let sig = k256::ecdsa::Signature::from_slice(ecdsa_bytes(signature, scheme)?)
                .map_err(|_| SignatureError::Mismatch)?;
            if sig.normalize_s().is_some() {
                return Err(SignatureError::Mismatch);
            }
            vk.verify_prehash(digest, &sig)
                .map_err(|_| SignatureError::Mismatch)
        }
        PublicKey::P256(k) => {
            use p256::ecdsa::signature::hazmat::PrehashVerifier;
            let scheme = "P-256";
            let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(k)
                .map_err(|_| SignatureError::BadKey(scheme))?;
            let sig = p256::ecdsa::Signature::from_slice(ecdsa_bytes(signature, scheme)?)
                .map_err(|_| SignatureError::Mismatch)?;
            vk.verify_prehash(digest, &sig)
                .map_err(|_| SignatureError::Mismatch)
        }
        PublicKey::Bls(_) => Err(SignatureError::Unsupported("BLS (tz4)")),
    }
}

/// The 64 bytes `r || s` of an ECDSA signature.
#[cfg(feature = "keys")]
fn ecdsa_bytes<'a>(
    signature: &'a Signature,
    scheme: &'static str,
) -> Result<&'a [u8], SignatureError> {
    match signature.0.len() {
        64 => Ok(&signature.0),
        found => Err(SignatureError::WrongLength {
            scheme,
            expected: 64,
            found,
        }),
    }
}

/// An Ed25519 secret key (`edsk`), for signing operations (the sandbox's bootstrap accounts,
/// tests, an injector).
#[cfg(feature = "keys")]
#[derive(Clone)]
pub struct SecretKey(ed25519_dalek::SigningKey);

#[cfg(feature = "keys")]
impl SecretKey {
    /// The key of a 32-byte seed.
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        SecretKey(ed25519_dalek::SigningKey::from_bytes(seed))
    }

    /// Parses an `edsk` (54-character seed form or 98-character seed + public key form).
    pub fn from_b58check(s: &str) -> Result<Self, Base58Error> {
        let (p, payload) = base58::decode_any(
            &[base58::EDSK_SEED, base58::EDSK_PAIR],
            "edsk (Ed25519 secret key)",
            s,
        )?;
        let _ = p;
        Ok(SecretKey::from_seed(&to_array(&payload[..32])))
    }

    /// The 54-character `edsk` seed form (what Taquito's `InMemorySigner` takes).
    pub fn to_b58check(&self) -> String {
        base58::encode(&base58::EDSK_SEED, &self.0.to_bytes())
    }

    /// The public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey::Ed25519(self.0.verifying_key().to_bytes())
    }

    /// Signs a 32-byte digest.
    pub fn sign_digest(&self, digest: &[u8; 32]) -> Signature {
        use ed25519_dalek::Signer;
        Signature(self.0.sign(digest).to_bytes().to_vec())
    }

    /// Signs forged operation bytes (watermark 0x03).
    pub fn sign_operation(&self, unsigned_bytes: &[u8]) -> Signature {
        self.sign_digest(&operation_digest(unsigned_bytes))
    }
}

#[cfg(feature = "keys")]
impl core::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "SecretKey({})", self.public_key())
    }
}
