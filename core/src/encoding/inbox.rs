//! Inbox messages, byte for byte as the L1 writes them into a rollup's inbox
//! (`Sc_rollup_inbox_message_repr`).
//!
//! ```text
//! 0x01 ++ payload                           External (payload: all remaining bytes)
//! 0x00 ++ 0x00 ++ Micheline ++ KT1(20) ++ pkh(21) ++ sr1(20)   Transfer{payload, sender, source, destination}
//! 0x00 ++ 0x01                              Start_of_level
//! 0x00 ++ 0x02                              End_of_level
//! 0x00 ++ 0x03 ++ i64 ++ block hash(32)     Info_per_level{predecessor_timestamp, predecessor}
//! 0x00 ++ 0x04 ++ uint30-prefixed string    Protocol_migration
//! 0x00 ++ 0x05 ++ ...                       Dal_attested_slots
//! ```
//! A whole message is at most [`crate::abi::MAX_INPUT_OUTPUT_SIZE`] bytes.

use alloc::string::String;
use alloc::vec::Vec;

use super::address::{ContractHash, PublicKeyHash, SmartRollupAddress};
use super::base58;
use super::binary::{
    put_dynamic, put_dynamic_bytes, put_i32, put_i64, put_u16, put_u8, put_z, DecodeError,
    DecodeErrorKind, Reader, Zarith,
};
use super::micheline::Expr;

use super::outbox::check_message_size;

/// A 32-byte L1 block hash (`B...` in base58).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlockHash(pub [u8; 32]);

impl BlockHash {
    /// Base58check form.
    pub fn to_b58check(&self) -> String {
        base58::encode(&base58::BLOCK_HASH, &self.0)
    }

    /// Parses the base58check form.
    pub fn from_b58check(s: &str) -> Result<Self, base58::Base58Error> {
        base58::decode_array(&base58::BLOCK_HASH, s).map(BlockHash)
    }
}

impl core::fmt::Debug for BlockHash {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "BlockHash({})", self.to_b58check())
    }
}

/// A deposit from an L1 contract to the rollup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    /// The transferred Michelson value.
    pub payload: Expr,
    /// The L1 contract that sent it.
    pub sender: ContractHash,
    /// The implicit account that signed the operation.
    pub source: PublicKeyHash,
    /// The receiving rollup.
    pub destination: SmartRollupAddress,
}

/// The DAL slots attested at a level, per publisher (protocol `Dal_attested_slots`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DalAttestedSlots {
    /// The level at which the slots were published.
    pub published_level: i32,
    /// Number of slots per level.
    pub number_of_slots: u16,
    /// Slot size in bytes (an `int31`).
    pub slot_size: i32,
    /// Page size in bytes.
    pub page_size: u16,
    /// For each publisher (in the L1's map order), the bitset of its attested slot indices.
    pub slots_by_publisher: Vec<(PublicKeyHash, Zarith)>,
}

/// A message the protocol itself adds to the inbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InternalInboxMessage {
    /// Tag 0: a transfer from an L1 contract.
    Transfer(Transfer),
    /// Tag 1: first message of every level.
    StartOfLevel,
    /// Tag 2: last message of every level.
    EndOfLevel,
    /// Tag 3: second message of every level.
    InfoPerLevel {
        /// Timestamp of the predecessor block, in seconds since the epoch.
        predecessor_timestamp: i64,
        /// Hash of the predecessor block.
        predecessor: BlockHash,
    },
    /// Tag 4: the L1 switched protocol (the new protocol's name).
    ProtocolMigration(String),
    /// Tag 5: DAL attestation summary.
    DalAttestedSlots(DalAttestedSlots),
}

/// A message in the rollup's inbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InboxMessage {
    /// Tag 0: written by the protocol.
    Internal(InternalInboxMessage),
    /// Tag 1: posted by anyone with `Smart_rollup_add_messages` (raw bytes).
    External(Vec<u8>),
}

impl InboxMessage {
    /// Serialized bytes, as the PVM reads them with `read_input`.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            InboxMessage::External(payload) => {
                put_u8(&mut out, 1);
                out.extend_from_slice(payload);
            }
            InboxMessage::Internal(m) => {
                put_u8(&mut out, 0);
                match m {
                    InternalInboxMessage::Transfer(t) => {
                        put_u8(&mut out, 0);
                        t.payload.encode_into(&mut out);
                        t.sender.encode_into(&mut out);
                        t.source.encode_into(&mut out);
                        t.destination.encode_into(&mut out);
                    }
                    InternalInboxMessage::StartOfLevel => put_u8(&mut out, 1),
                    InternalInboxMessage::EndOfLevel => put_u8(&mut out, 2),
                    InternalInboxMessage::InfoPerLevel {
                        predecessor_timestamp,
                        predecessor,
                    } => {
                        put_u8(&mut out, 3);
                        put_i64(&mut out, *predecessor_timestamp);
                        out.extend_from_slice(&predecessor.0);
                    }
                    InternalInboxMessage::ProtocolMigration(p) => {
                        put_u8(&mut out, 4);
                        put_dynamic_bytes(&mut out, p.as_bytes());
                    }
                    InternalInboxMessage::DalAttestedSlots(d) => {
                        put_u8(&mut out, 5);
                        put_i32(&mut out, d.published_level);
                        put_u16(&mut out, d.number_of_slots);
                        put_i32(&mut out, d.slot_size);
                        put_u16(&mut out, d.page_size);
                        put_dynamic(&mut out, |out| {
                            for (pkh, bits) in &d.slots_by_publisher {
                                pkh.encode_into(out);
                                put_z(out, bits);
                            }
                        });
                    }
                }
            }
        }
        out
    }

    /// Decodes a serialized inbox message (all of `bytes`, at most [`crate::abi::MAX_INPUT_OUTPUT_SIZE`]).
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        check_message_size(bytes, "inbox message")?;
        let mut r = Reader::new(bytes);
        let msg = match r.u8()? {
            1 => return Ok(InboxMessage::External(r.rest().to_vec())),
            0 => InboxMessage::Internal(read_internal(&mut r)?),
            t => {
                return Err(r.error_at(
                    0,
                    DecodeErrorKind::InvalidTag {
                        what: "inbox message",
                        tag: u16::from(t),
                    },
                ))
            }
        };
        r.finish()?;
        Ok(msg)
    }
}

/// The kernel SDK's framing of external messages, so that a kernel can tell which external
/// messages (shared by all rollups) are meant for it: `0x00 ++ sr1 (20 bytes) ++ contents`.
///
/// This is a convention of the Tezos kernel SDK, not of the L1: the PVM sees it inside
/// [`InboxMessage::External`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExternalMessageFrame {
    /// Tag 0: a message for one rollup.
    Targetted {
        /// The rollup the message is for.
        address: SmartRollupAddress,
        /// The rest of the message.
        contents: Vec<u8>,
    },
}

impl ExternalMessageFrame {
    /// The framed bytes (the payload of an external message).
    pub fn encode(&self) -> Vec<u8> {
        match self {
            ExternalMessageFrame::Targetted { address, contents } => {
                let mut out = Vec::with_capacity(21 + contents.len());
                out.push(0);
                address.encode_into(&mut out);
                out.extend_from_slice(contents);
                out
            }
        }
    }

    /// Parses framed bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        match r.u8()? {
            0 => Ok(ExternalMessageFrame::Targetted {
                address: SmartRollupAddress::read(&mut r)?,
                contents: r.rest().to_vec(),
            }),
            t => Err(r.error_at(
                0,
                DecodeErrorKind::InvalidTag {
                    what: "external message frame",
                    tag: u16::from(t),
                },
            )),
        }
    }
}

/// The octez JSON form of a protocol timestamp: RFC 3339 (`2023-06-01T12:00:00Z`) for years
/// 0000 to 9999, the decimal seconds otherwise (`Time.Protocol.as_string_encoding`).
pub fn timestamp_to_json(seconds: i64) -> String {
    use alloc::format;
    const MIN: i64 = -62_167_219_200; // 0000-01-01T00:00:00Z
    const MAX: i64 = 253_402_300_799; // 9999-12-31T23:59:59Z
    if !(MIN..=MAX).contains(&seconds) {
        return format!("{seconds}");
    }
    let days = seconds.div_euclid(86_400);
    let secs = seconds.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (proleptic Gregorian, integer arithmetic only).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

#[cfg(feature = "json")]
impl InboxMessage {
    /// The octez JSON form (`Sc_rollup_inbox_message_repr.encoding`): external messages are a
    /// hex string; internal ones an object tagged by `internal_inbox_message_kind`.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::{Map, Value};
        let m = match self {
            InboxMessage::External(bytes) => return Value::String(hex::encode(bytes)),
            InboxMessage::Internal(i) => i,
        };
        let mut o = Map::new();
        let kind = match m {
            InternalInboxMessage::Transfer(t) => {
                o.insert("payload".into(), t.payload.to_json().into());
                o.insert("sender".into(), t.sender.to_b58check().into());
                o.insert("source".into(), t.source.to_b58check().into());
                o.insert("destination".into(), t.destination.to_b58check().into());
                "transfer"
            }
            InternalInboxMessage::StartOfLevel => "start_of_level",
            InternalInboxMessage::EndOfLevel => "end_of_level",
            InternalInboxMessage::InfoPerLevel {
                predecessor_timestamp,
                predecessor,
            } => {
                o.insert(
                    "predecessor_timestamp".into(),
                    timestamp_to_json(*predecessor_timestamp).into(),
                );
                o.insert("predecessor".into(), predecessor.to_b58check().into());
                "info_per_level"
            }
            InternalInboxMessage::ProtocolMigration(p) => {
                // `string Hex`: the JSON carries the hex of the name.
                o.insert("protocol".into(), hex::encode(p.as_bytes()).into());
                "protocol_migration"
            }
            InternalInboxMessage::DalAttestedSlots(d) => {
                o.insert("published_level".into(), d.published_level.into());
                o.insert("number_of_slots".into(), d.number_of_slots.into());
                o.insert("slot_size".into(), d.slot_size.into());
                o.insert("page_size".into(), d.page_size.into());
                let list = d
                    .slots_by_publisher
                    .iter()
                    .map(|(pkh, bits)| {
                        Value::Array(alloc::vec![
                            pkh.to_b58check().into(),
                            alloc::string::ToString::to_string(bits).into(),
                        ])
                    })
                    .collect();
                o.insert("slots_by_publisher".into(), Value::Array(list));
                "dal_attested_slots"
            }
        };
        o.insert("internal_inbox_message_kind".into(), kind.into());
        Value::Object(o)
    }
}

fn read_internal(r: &mut Reader<'_>) -> Result<InternalInboxMessage, DecodeError> {
    let at = r.position();
    Ok(match r.u8()? {
        0 => InternalInboxMessage::Transfer(Transfer {
            payload: Expr::read(r)?,
            sender: ContractHash::read(r)?,
            source: PublicKeyHash::read(r)?,
            destination: SmartRollupAddress::read(r)?,
        }),
        1 => InternalInboxMessage::StartOfLevel,
        2 => InternalInboxMessage::EndOfLevel,
        3 => InternalInboxMessage::InfoPerLevel {
            predecessor_timestamp: r.i64()?,
            predecessor: BlockHash(r.array()?),
        },
        4 => InternalInboxMessage::ProtocolMigration(r.dynamic_string("protocol name")?.into()),
        5 => {
            let published_level = r.i32()?;
            let number_of_slots = r.u16()?;
            let size_at = r.position();
            let slot_size = r.i32()?;
            if !(-(1 << 30)..(1 << 30)).contains(&slot_size) {
                return Err(r.error_at(size_at, DecodeErrorKind::Overflow { what: "int31" }));
            }
            let page_size = r.u16()?;
            let slots_by_publisher = r.dynamic(|r| {
                let mut v = Vec::new();
                while !r.is_empty() {
                    v.push((PublicKeyHash::read(r)?, r.z()?));
                }
                Ok(v)
            })?;
            InternalInboxMessage::DalAttestedSlots(DalAttestedSlots {
                published_level,
                number_of_slots,
                slot_size,
                page_size,
                slots_by_publisher,
            })
        }
        t => {
            return Err(r.error_at(
                at,
                DecodeErrorKind::InvalidTag {
                    what: "internal inbox message",
                    tag: u16::from(t),
                },
            ))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::address::KeyKind;
    use crate::encoding::micheline::Primitive;
    use alloc::vec;

    #[test]
    fn external_frame() {
        let f = ExternalMessageFrame::Targetted {
            address: SmartRollupAddress([9; 20]),
            contents: vec![1, 2],
        };
        let bytes = f.encode();
        assert_eq!(bytes.len(), 23);
        assert_eq!((bytes[0], bytes[21], bytes[22]), (0, 1, 2));
        assert_eq!(ExternalMessageFrame::decode(&bytes).unwrap(), f);
        assert_eq!(ExternalMessageFrame::decode(&[1]).unwrap_err().offset, 0);
        let err = ExternalMessageFrame::decode(&[0, 1]).unwrap_err();
        assert_eq!(err.kind, DecodeErrorKind::UnexpectedEof { needed: 19 });
    }

    #[test]
    fn timestamps_as_octez_prints_them() {
        assert_eq!(timestamp_to_json(0), "1970-01-01T00:00:00Z");
        assert_eq!(timestamp_to_json(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(timestamp_to_json(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(timestamp_to_json(-1), "1969-12-31T23:59:59Z");
        assert_eq!(timestamp_to_json(-62_167_219_200), "0000-01-01T00:00:00Z");
        assert_eq!(timestamp_to_json(253_402_300_799), "9999-12-31T23:59:59Z");
        assert_eq!(timestamp_to_json(253_402_300_800), "253402300800");
        assert_eq!(timestamp_to_json(i64::MIN), "-9223372036854775808");
    }

    #[test]
    fn json_form() {
        use alloc::string::ToString;
        let info = InboxMessage::Internal(InternalInboxMessage::InfoPerLevel {
            predecessor_timestamp: 0,
            predecessor: BlockHash([0; 32]),
        });
        let j = info.to_json();
        assert_eq!(j["internal_inbox_message_kind"], "info_per_level");
        assert_eq!(j["predecessor_timestamp"], "1970-01-01T00:00:00Z");
        assert!(j["predecessor"].as_str().unwrap().starts_with('B'));
        assert_eq!(
            InboxMessage::External(vec![1, 0xab]).to_json().to_string(),
            r#""01ab""#
        );
        assert_eq!(
            InboxMessage::Internal(InternalInboxMessage::StartOfLevel)
                .to_json()
                .to_string(),
            r#"{"internal_inbox_message_kind":"start_of_level"}"#
        );
    }

    #[test]
    fn level_markers() {
        let sol = InboxMessage::Internal(InternalInboxMessage::StartOfLevel);
        assert_eq!(sol.encode(), vec![0, 1]);
        assert_eq!(
            InboxMessage::Internal(InternalInboxMessage::EndOfLevel).encode(),
            vec![0, 2]
        );
        let info = InboxMessage::Internal(InternalInboxMessage::InfoPerLevel {
            predecessor_timestamp: 1_700_000_000,
            predecessor: BlockHash([3; 32]),
        });
        let bytes = info.encode();
        assert_eq!(bytes.len(), 2 + 8 + 32);
        assert_eq!(&bytes[2..10], &1_700_000_000i64.to_be_bytes());
        assert_eq!(InboxMessage::decode(&bytes).unwrap(), info);
    }

    #[test]
    fn transfer_layout() {
        let t = InboxMessage::Internal(InternalInboxMessage::Transfer(Transfer {
            payload: Expr::prim(Primitive::UNIT, vec![]),
            sender: ContractHash([1; 20]),
            source: PublicKeyHash {
                kind: KeyKind::Secp256k1,
                hash: [2; 20],
            },
            destination: SmartRollupAddress([3; 20]),
        }));
        let bytes = t.encode();
        let mut expected = vec![0, 0, 3, 11];
        expected.extend_from_slice(&[1; 20]);
        expected.push(1);
        expected.extend_from_slice(&[2; 20]);
        expected.extend_from_slice(&[3; 20]);
        assert_eq!(bytes, expected);
        assert_eq!(InboxMessage::decode(&bytes).unwrap(), t);
    }

    #[test]
    fn external_keeps_every_byte() {
        let e = InboxMessage::External(vec![0, 1, 2]);
        assert_eq!(e.encode(), vec![1, 0, 1, 2]);
        assert_eq!(
            InboxMessage::decode(&[1]).unwrap(),
            InboxMessage::External(vec![])
        );
    }

    #[test]
    fn errors() {
        assert_eq!(InboxMessage::decode(&[2]).unwrap_err().offset, 0);
        let err = InboxMessage::decode(&[0, 9]).unwrap_err();
        assert_eq!(err.offset, 1);
        let err = InboxMessage::decode(&[0, 1, 0]).unwrap_err();
        assert_eq!(err.kind, DecodeErrorKind::TrailingBytes { remaining: 1 });
        let err = InboxMessage::decode(&[]).unwrap_err();
        assert_eq!(err.kind, DecodeErrorKind::UnexpectedEof { needed: 1 });
        let err = InboxMessage::decode(&[0, 3, 0, 0]).unwrap_err();
        assert_eq!(
            (err.offset, err.kind),
            (2, DecodeErrorKind::UnexpectedEof { needed: 6 })
        );
    }

    #[test]
    fn protocol_migration_and_dal() {
        for m in [
            InternalInboxMessage::ProtocolMigration("PtNairobi".into()),
            InternalInboxMessage::DalAttestedSlots(DalAttestedSlots {
                published_level: 12,
                number_of_slots: 32,
                slot_size: 126_944,
                page_size: 3967,
                slots_by_publisher: vec![(
                    PublicKeyHash {
                        kind: KeyKind::Ed25519,
                        hash: [5; 20],
                    },
                    Zarith::from_u64(0b1011),
                )],
            }),
        ] {
            let msg = InboxMessage::Internal(m);
            assert_eq!(InboxMessage::decode(&msg.encode()).unwrap(), msg);
        }
    }
}
