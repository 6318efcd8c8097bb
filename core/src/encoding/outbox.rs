//! Outbox messages, byte for byte as octez's `Sc_rollup_outbox_message_repr`.
//!
//! ```text
//! tag 0  Atomic_transaction_batch        uint30-prefixed list of
//!                                          { parameters: Micheline, destination: 0x01 ++ KT1(20) ++ 0x00,
//!                                            entrypoint: uint30-prefixed string }
//! tag 1  Atomic_transaction_batch_typed  same, with `parameters_ty: Micheline` after `parameters`
//! tag 2  Whitelist_update                0x00 (none) | 0xff ++ uint30-prefixed list of public key hashes
//! tag 3  Canonical_rollup_signal         uint30-prefixed bytes
//! ```
//! A whole message is at most [`MAX_INPUT_OUTPUT_SIZE`] bytes.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::abi::MAX_INPUT_OUTPUT_SIZE;

use super::address::{ContractHash, PublicKeyHash};
use super::binary::{put_dynamic, put_dynamic_bytes, put_u8, DecodeError, DecodeErrorKind, Reader};
use super::json::{self, Json};
use super::micheline::Expr;

/// Rejects a serialized inbox or outbox message longer than [`MAX_INPUT_OUTPUT_SIZE`].
pub(crate) fn check_message_size(bytes: &[u8], what: &'static str) -> Result<(), DecodeError> {
    if bytes.len() > MAX_INPUT_OUTPUT_SIZE {
        return Err(DecodeError {
            offset: MAX_INPUT_OUTPUT_SIZE,
            kind: DecodeErrorKind::Invalid {
                what,
                reason: "larger than 4096 bytes",
            },
        });
    }
    Ok(())
}

/// The longest entrypoint name (`Entrypoint_repr`).
pub const MAX_ENTRYPOINT_LENGTH: usize = 31;

/// A contract entrypoint name: 1 to 31 bytes; the empty string means `default`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Entrypoint(String);

impl Entrypoint {
    /// `default`.
    pub fn default_entrypoint() -> Self {
        Entrypoint(String::from("default"))
    }

    /// Validates a name as octez's lax entrypoint parsing does (`""` becomes `default`).
    pub fn new(name: &str) -> Option<Self> {
        if name.is_empty() {
            Some(Self::default_entrypoint())
        } else if name.len() > MAX_ENTRYPOINT_LENGTH {
            None
        } else {
            Some(Entrypoint(String::from(name)))
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let at = r.position();
        let s = r.dynamic_string("entrypoint")?;
        Entrypoint::new(s).ok_or_else(|| {
            r.error_at(
                at,
                DecodeErrorKind::Invalid {
                    what: "entrypoint",
                    reason: "longer than 31 bytes",
                },
            )
        })
    }
}

impl Default for Entrypoint {
    fn default() -> Self {
        Self::default_entrypoint()
    }
}

impl fmt::Debug for Entrypoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "%{}", self.0)
    }
}

impl fmt::Display for Entrypoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One call of an untyped batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction {
    /// The call's parameter (`unparsed_parameters`).
    pub parameters: Expr,
    /// The called contract.
    pub destination: ContractHash,
    /// The called entrypoint.
    pub entrypoint: Entrypoint,
}

/// One call of a typed batch: the parameter comes with its Michelson type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypedTransaction {
    /// The call's parameter.
    pub parameters: Expr,
    /// The parameter's type (`unparsed_ty`).
    pub parameters_ty: Expr,
    /// The called contract.
    pub destination: ContractHash,
    /// The called entrypoint.
    pub entrypoint: Entrypoint,
}

/// A message a kernel writes to its outbox for execution on L1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboxMessage {
    /// Tag 0: contract calls executed atomically, parameters typed by the destination.
    AtomicTransactionBatch(Vec<Transaction>),
    /// Tag 1: contract calls with explicitly typed parameters.
    AtomicTransactionBatchTyped(Vec<TypedTransaction>),
    /// Tag 2: replace the stakers whitelist of a private rollup (`None`: make it public).
    WhitelistUpdate(Option<Vec<PublicKeyHash>>),
    /// Tag 3: a signal for the canonical rollup (raw payload).
    CanonicalRollupSignal(Vec<u8>),
}

fn write_destination_and_entrypoint(out: &mut Vec<u8>, d: &ContractHash, e: &Entrypoint) {
    d.encode_originated_into(out);
    put_dynamic_bytes(out, e.as_str().as_bytes());
}

impl OutboxMessage {
    /// Serialized bytes, as the kernel writes them with `write_output`.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            OutboxMessage::AtomicTransactionBatch(txs) => {
                put_u8(&mut out, 0);
                put_dynamic(&mut out, |out| {
                    for tx in txs {
                        tx.parameters.encode_into(out);
                        write_destination_and_entrypoint(out, &tx.destination, &tx.entrypoint);
                    }
                });
            }
            OutboxMessage::AtomicTransactionBatchTyped(txs) => {
                put_u8(&mut out, 1);
                put_dynamic(&mut out, |out| {
                    for tx in txs {
                        tx.parameters.encode_into(out);
                        tx.parameters_ty.encode_into(out);
                        write_destination_and_entrypoint(out, &tx.destination, &tx.entrypoint);
                    }
                });
            }
            OutboxMessage::WhitelistUpdate(None) => out.extend_from_slice(&[2, 0]),
            OutboxMessage::WhitelistUpdate(Some(keys)) => {
                out.extend_from_slice(&[2, 0xff]);
                put_dynamic(&mut out, |out| {
                    for k in keys {
                        k.encode_into(out);
                    }
                });
            }
            OutboxMessage::CanonicalRollupSignal(payload) => {
                put_u8(&mut out, 3);
                put_dynamic_bytes(&mut out, payload);
            }
        }
        out
    }

    /// Decodes a serialized outbox message (all of `bytes`, at most [`MAX_INPUT_OUTPUT_SIZE`]).
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        check_message_size(bytes, "outbox message")?;
        let mut r = Reader::new(bytes);
        let tag = r.u8()?;
        let msg = match tag {
            0 => OutboxMessage::AtomicTransactionBatch(r.dynamic(|r| {
                let mut txs = Vec::new();
                while !r.is_empty() {
                    txs.push(Transaction {
                        parameters: Expr::read(r)?,
                        destination: ContractHash::read_originated(r)?,
                        entrypoint: Entrypoint::read(r)?,
                    });
                }
                Ok(txs)
            })?),
            1 => OutboxMessage::AtomicTransactionBatchTyped(r.dynamic(|r| {
                let mut txs = Vec::new();
                while !r.is_empty() {
                    txs.push(TypedTransaction {
                        parameters: Expr::read(r)?,
                        parameters_ty: Expr::read(r)?,
                        destination: ContractHash::read_originated(r)?,
                        entrypoint: Entrypoint::read(r)?,
                    });
                }
                Ok(txs)
            })?),
            2 => {
                // `Data_encoding` option flag: 0x00 none, any other byte some (0xff written).
                if r.bool()? {
                    OutboxMessage::WhitelistUpdate(Some(r.dynamic(|r| {
                        let mut keys = Vec::new();
                        while !r.is_empty() {
                            keys.push(PublicKeyHash::read(r)?);
                        }
                        Ok(keys)
                    })?))
                } else {
                    OutboxMessage::WhitelistUpdate(None)
                }
            }
            3 => OutboxMessage::CanonicalRollupSignal(r.dynamic_bytes()?.to_vec()),
            t => {
                return Err(r.error_at(
                    0,
                    DecodeErrorKind::InvalidTag {
                        what: "outbox message",
                        tag: u16::from(t),
                    },
                ))
            }
        };
        r.finish()?;
        Ok(msg)
    }
}

/// `Data_encoding`'s JSON for a `string Plain`: the string itself, or
/// `{"invalid_utf8_string": [bytes]}` when it is not UTF-8.
pub(crate) fn plain_string_json(bytes: &[u8]) -> Json {
    match core::str::from_utf8(bytes) {
        Ok(s) => Json::from(s),
        Err(_) => Json::object([(
            "invalid_utf8_string",
            Json::Array(bytes.iter().map(|&b| Json::Int(i64::from(b))).collect()),
        )]),
    }
}

impl OutboxMessage {
    /// The octez JSON form (as `octez-smart-rollup-node` RPCs print outbox messages):
    /// `{"transactions": [..], "kind": "untyped"}`, `{"transactions": [..], "kind": "typed"}`,
    /// `{"whitelist": [..], "kind": "whitelist_update"}` (no `whitelist` when `None`) or
    /// `{"payload": "..", "kind": "canonical_rollup_signal"}`. Entrypoints equal to
    /// `default` are omitted, as `Data_encoding` omits default fields.
    pub fn to_json(&self) -> Json {
        fn tx(
            parameters: &Expr,
            ty: Option<&Expr>,
            destination: &ContractHash,
            entrypoint: &Entrypoint,
        ) -> Json {
            let mut m = json::Object::new();
            m.insert("parameters".into(), parameters.to_json());
            if let Some(ty) = ty {
                m.insert("parameters_ty".into(), ty.to_json());
            }
            m.insert("destination".into(), destination.to_b58check().into());
            if entrypoint.as_str() != "default" {
                m.insert("entrypoint".into(), entrypoint.as_str().into());
            }
            Json::Object(m)
        }
        let mut m = json::Object::new();
        let kind = match self {
            OutboxMessage::AtomicTransactionBatch(txs) => {
                let list = txs
                    .iter()
                    .map(|t| tx(&t.parameters, None, &t.destination, &t.entrypoint))
                    .collect();
                m.insert("transactions".into(), Json::Array(list));
                "untyped"
            }
            OutboxMessage::AtomicTransactionBatchTyped(txs) => {
                let list = txs
                    .iter()
                    .map(|t| {
                        tx(
                            &t.parameters,
                            Some(&t.parameters_ty),
                            &t.destination,
                            &t.entrypoint,
                        )
                    })
                    .collect();
                m.insert("transactions".into(), Json::Array(list));
                "typed"
            }
            OutboxMessage::WhitelistUpdate(w) => {
                if let Some(keys) = w {
                    let list = keys.iter().map(|k| Json::from(k.to_b58check())).collect();
                    m.insert("whitelist".into(), Json::Array(list));
                }
                "whitelist_update"
            }
            OutboxMessage::CanonicalRollupSignal(p) => {
                m.insert("payload".into(), plain_string_json(p));
                "canonical_rollup_signal"
            }
        };
        m.insert("kind".into(), kind.into());
        Json::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::address::KeyKind;
    use crate::encoding::micheline::Primitive;
    use alloc::string::ToString;
    use alloc::vec;

    #[test]
    fn small_batch_layout() {
        let msg = OutboxMessage::AtomicTransactionBatch(vec![Transaction {
            parameters: Expr::prim(Primitive::UNIT, vec![]),
            destination: ContractHash([0xaa; 20]),
            entrypoint: Entrypoint::default(),
        }]);
        let bytes = msg.encode();
        let mut expected = vec![0, 0, 0, 0, 2 + 22 + 4 + 7, 3, 11, 1];
        expected.extend_from_slice(&[0xaa; 20]);
        expected.push(0);
        expected.extend_from_slice(&[0, 0, 0, 7]);
        expected.extend_from_slice(b"default");
        assert_eq!(bytes, expected);
        assert_eq!(OutboxMessage::decode(&bytes).unwrap(), msg);
    }

    #[test]
    fn json_form() {
        let msg = OutboxMessage::AtomicTransactionBatch(vec![
            Transaction {
                parameters: Expr::int(1),
                destination: ContractHash([0; 20]),
                entrypoint: Entrypoint::default(),
            },
            Transaction {
                parameters: Expr::int(2),
                destination: ContractHash([0; 20]),
                entrypoint: Entrypoint::new("withdraw").unwrap(),
            },
        ]);
        assert_eq!(
            msg.to_json().to_string(),
            concat!(
                r#"{"kind":"untyped","transactions":["#,
                r#"{"destination":"KT18amZmM5W7qDWVt2pH6uj7sCEd3kbzLrHT","parameters":{"int":"1"}},"#,
                r#"{"destination":"KT18amZmM5W7qDWVt2pH6uj7sCEd3kbzLrHT","entrypoint":"withdraw","parameters":{"int":"2"}}]}"#
            )
        );
        assert_eq!(
            OutboxMessage::WhitelistUpdate(None).to_json().to_string(),
            r#"{"kind":"whitelist_update"}"#
        );
        assert_eq!(
            OutboxMessage::CanonicalRollupSignal(vec![0xff])
                .to_json()
                .to_string(),
            r#"{"kind":"canonical_rollup_signal","payload":{"invalid_utf8_string":[255]}}"#
        );
    }

    #[test]
    fn whitelist_and_signal() {
        for msg in [
            OutboxMessage::WhitelistUpdate(None),
            OutboxMessage::WhitelistUpdate(Some(vec![])),
            OutboxMessage::WhitelistUpdate(Some(vec![PublicKeyHash {
                kind: KeyKind::Bls,
                hash: [4; 20],
            }])),
            OutboxMessage::CanonicalRollupSignal(b"sig".to_vec()),
        ] {
            assert_eq!(OutboxMessage::decode(&msg.encode()).unwrap(), msg);
        }
        assert_eq!(OutboxMessage::WhitelistUpdate(None).encode(), vec![2, 0]);
    }

    #[test]
    fn empty_entrypoint_decodes_as_default() {
        let mut bytes = vec![0, 0, 0, 0, 2 + 22 + 4, 3, 11, 1];
        bytes.extend_from_slice(&[0xaa; 20]);
        bytes.extend_from_slice(&[0, 0, 0, 0, 0]);
        let msg = OutboxMessage::decode(&bytes).unwrap();
        let OutboxMessage::AtomicTransactionBatch(txs) = msg else {
            panic!("wrong kind")
        };
        assert_eq!(txs[0].entrypoint.as_str(), "default");
    }

    #[test]
    fn errors() {
        let err = OutboxMessage::decode(&[7]).unwrap_err();
        assert_eq!(err.offset, 0);
        let err = OutboxMessage::decode(&[2]).unwrap_err();
        assert_eq!(err.offset, 1);
        assert_eq!(
            OutboxMessage::decode(&[2, 1, 0, 0, 0, 0]).unwrap(),
            OutboxMessage::WhitelistUpdate(Some(vec![]))
        );
        let err = OutboxMessage::decode(&[0, 0, 0, 0, 1]).unwrap_err();
        assert_eq!(
            err.kind,
            DecodeErrorKind::LengthTooLarge {
                len: 1,
                available: 0
            }
        );
        let err = OutboxMessage::decode(&vec![3u8; 5000]).unwrap_err();
        assert!(matches!(err.kind, DecodeErrorKind::Invalid { .. }));
    }
}
