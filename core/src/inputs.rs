//! The octez smart rollup wasm debugger's JSON inputs format.
//!
//! A file is an array of inboxes (one per level), each an array of messages:
//!
//! ```json
//! [
//!   [ { "payload": "Pair 1 \"a\"", "sender": "KT1...", "source": "tz1...", "destination": "sr1..." },
//!     { "external": "0a0b" } ],
//!   [ { "serialized": "0001" } ]
//! ]
//! ```
//!
//! * `payload` is Michelson data text; it becomes an internal `Transfer` whose missing
//!   `sender`, `source` and `destination` take the debugger's defaults (the all-zero hashes,
//!   see [`Defaults`]);
//! * `external` is hex; it becomes an external message (`0x01 ++ bytes`);
//! * `serialized` is hex of a complete inbox message (tag byte included), passed as-is.
//!
//! Unlike octez, which silently turns bad hex into an empty message, every problem is an error
//! naming the inbox index, the message index and what is wrong. A message whose serialized form
//! (tag byte included) exceeds [`MAX_INPUT_OUTPUT_SIZE`] bytes is rejected whatever its kind,
//! since the kernel could only read a truncated prefix of it.
//!
//! ```
//! use soru_core::inputs::parse;
//! let inboxes = parse(r#"[[{"external": "ff"}, {"payload": "Unit"}]]"#).unwrap();
//! assert_eq!(inboxes[0][0].to_bytes(), vec![0x01, 0xff]);
//! assert_eq!(inboxes[0][1].to_bytes()[..4], [0x00, 0x00, 0x03, 0x0b]);
//! ```

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde_json::{Map, Value};
use thiserror::Error;

use crate::abi::MAX_INPUT_OUTPUT_SIZE;
use crate::encoding::address::{ContractHash, KeyKind, PublicKeyHash, SmartRollupAddress};
use crate::encoding::base58::Base58Error;
use crate::encoding::inbox::{InboxMessage, InternalInboxMessage, Transfer};
use crate::encoding::michelson::{self, ParseError};

/// The transfer fields used when a message omits them (octez `Config` defaults: zero hashes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Defaults {
    /// `KT18amZmM5W7qDWVt2pH6uj7sCEd3kbzLrHT`.
    pub sender: ContractHash,
    /// `tz1Ke2h7sDdakHJQh8WX4Z372du1KChsksyU`.
    pub source: PublicKeyHash,
    /// `sr163Lv22CdE8QagCwf48PWDTquk6isQwv57`.
    pub destination: SmartRollupAddress,
}

impl Default for Defaults {
    fn default() -> Self {
        Defaults {
            sender: ContractHash([0; 20]),
            source: PublicKeyHash {
                kind: KeyKind::Ed25519,
                hash: [0; 20],
            },
            destination: SmartRollupAddress([0; 20]),
        }
    }
}

/// One entry of an inbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A message given structurally (`payload` or `external`).
    Message(InboxMessage),
    /// Already-serialized message bytes (`serialized`), used verbatim.
    Serialized(Vec<u8>),
}

impl Input {
    /// The bytes the PVM reads for this input.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Input::Message(m) => m.encode(),
            Input::Serialized(b) => b.clone(),
        }
    }
}

/// What is wrong with one message object.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MessageError {
    /// The message is not a JSON object.
    #[error("expected an object with \"payload\", \"external\" or \"serialized\"")]
    NotAnObject,
    /// None of `payload`, `external`, `serialized`.
    #[error("missing \"payload\", \"external\" or \"serialized\"")]
    MissingKind,
    /// A key that the message kind does not allow.
    #[error("unexpected key {key:?} in a {kind} message")]
    UnexpectedKey {
        /// The key.
        key: String,
        /// The kind determined from the other keys.
        kind: &'static str,
    },
    /// A field that must be a string is not.
    #[error("\"{key}\" must be a string")]
    NotAString {
        /// The field.
        key: &'static str,
    },
    /// Invalid hexadecimal.
    #[error("\"{key}\" is not valid hex: {reason}")]
    BadHex {
        /// The field.
        key: &'static str,
        /// Why.
        reason: String,
    },
    /// A malformed address.
    #[error("\"{key}\" is not a valid {expected} address: {error}")]
    BadAddress {
        /// The field.
        key: &'static str,
        /// The kind of address expected.
        expected: &'static str,
        /// Why it was rejected.
        error: Base58Error,
    },
    /// The Michelson payload does not parse.
    #[error("\"payload\" at {0}")]
    Michelson(ParseError),
    /// The serialized message exceeds the protocol's message size limit.
    #[error(
        "serialized message is {size} bytes, more than the {MAX_INPUT_OUTPUT_SIZE}-byte limit"
    )]
    TooLarge {
        /// The serialized size.
        size: usize,
    },
}

/// Why an inputs file was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum InputsError {
    /// Not JSON.
    #[error("invalid JSON at line {line} column {column}: {message}")]
    Json {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The JSON parser's message.
        message: String,
    },
    /// The top level is not an array.
    #[error("expected an array of inboxes")]
    NotAnArray,
    /// An inbox is not an array.
    #[error("inbox {inbox}: expected an array of messages")]
    InboxNotAnArray {
        /// 0-based inbox index.
        inbox: usize,
    },
    /// A message is malformed.
    #[error("inbox {inbox}, message {message}: {error}")]
    Message {
        /// 0-based inbox index.
        inbox: usize,
        /// 0-based message index within the inbox.
        message: usize,
        /// What is wrong.
        error: MessageError,
    },
}

/// Parses an inputs file with the debugger's default transfer fields.
pub fn parse(json: &str) -> Result<Vec<Vec<Input>>, InputsError> {
    parse_with(json, &Defaults::default())
}

/// Parses an inputs file with custom defaults (the debugger's `--sender`/`--source`/`--destination`).
pub fn parse_with(json: &str, defaults: &Defaults) -> Result<Vec<Vec<Input>>, InputsError> {
    let value: Value = serde_json::from_str(json).map_err(|e| InputsError::Json {
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })?;
    let Value::Array(inboxes) = value else {
        return Err(InputsError::NotAnArray);
    };
    inboxes
        .iter()
        .enumerate()
        .map(|(inbox, v)| {
            let Value::Array(messages) = v else {
                return Err(InputsError::InboxNotAnArray { inbox });
            };
            messages
                .iter()
                .enumerate()
                .map(|(message, m)| {
                    parse_message(m, defaults).map_err(|error| InputsError::Message {
                        inbox,
                        message,
                        error,
                    })
                })
                .collect()
        })
        .collect()
}

/// Parses an inputs file straight to the bytes the PVM reads, level by level.
pub fn parse_to_bytes(json: &str, defaults: &Defaults) -> Result<Vec<Vec<Vec<u8>>>, InputsError> {
    Ok(parse_with(json, defaults)?
        .iter()
        .map(|inbox| inbox.iter().map(Input::to_bytes).collect())
        .collect())
}

/// Parses one message object.
pub fn parse_message(value: &Value, defaults: &Defaults) -> Result<Input, MessageError> {
    let Value::Object(obj) = value else {
        return Err(MessageError::NotAnObject);
    };
    let (kind, allowed): (&'static str, &[&str]) = if obj.contains_key("payload") {
        ("transfer", &["payload", "sender", "source", "destination"])
    } else if obj.contains_key("external") {
        ("external", &["external"])
    } else if obj.contains_key("serialized") {
        ("serialized", &["serialized"])
    } else {
        return Err(match obj.keys().next() {
            Some(key) => MessageError::UnexpectedKey {
                key: key.clone(),
                kind: "inbox",
            },
            None => MessageError::MissingKind,
        });
    };
    if let Some(key) = obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(MessageError::UnexpectedKey {
            key: key.clone(),
            kind,
        });
    }
    match kind {
        "external" => {
            let msg = InboxMessage::External(hex_field(obj, "external")?);
            check_size(msg.encode().len())?;
            Ok(Input::Message(msg))
        }
        "serialized" => {
            let bytes = hex_field(obj, "serialized")?;
            check_size(bytes.len())?;
            Ok(Input::Serialized(bytes))
        }
        _ => {
            let payload =
                michelson::parse(string_field(obj, "payload")?).map_err(MessageError::Michelson)?;
            let sender = match optional_string(obj, "sender")? {
                Some(s) => {
                    ContractHash::from_b58check(s).map_err(|error| MessageError::BadAddress {
                        key: "sender",
                        expected: "KT1",
                        error,
                    })?
                }
                None => defaults.sender,
            };
            let source = match optional_string(obj, "source")? {
                Some(s) => {
                    PublicKeyHash::from_b58check(s).map_err(|error| MessageError::BadAddress {
                        key: "source",
                        expected: "tz1..tz5",
                        error,
                    })?
                }
                None => defaults.source,
            };
            let destination = match optional_string(obj, "destination")? {
                Some(s) => SmartRollupAddress::from_b58check(s).map_err(|error| {
                    MessageError::BadAddress {
                        key: "destination",
                        expected: "sr1",
                        error,
                    }
                })?,
                None => defaults.destination,
            };
            let msg = InboxMessage::Internal(InternalInboxMessage::Transfer(Transfer {
                payload,
                sender,
                source,
                destination,
            }));
            check_size(msg.encode().len())?;
            Ok(Input::Message(msg))
        }
    }
}

/// Every kind of message is limited like the protocol's inbox (octez rejects a larger
/// `add_messages` entry; the PVM could only read a truncated prefix of it).
fn check_size(size: usize) -> Result<(), MessageError> {
    if size > MAX_INPUT_OUTPUT_SIZE {
        return Err(MessageError::TooLarge { size });
    }
    Ok(())
}

fn string_field<'a>(
    obj: &'a Map<String, Value>,
    key: &'static str,
) -> Result<&'a str, MessageError> {
    optional_string(obj, key)?.ok_or(MessageError::NotAString { key })
}

fn optional_string<'a>(
    obj: &'a Map<String, Value>,
    key: &'static str,
) -> Result<Option<&'a str>, MessageError> {
    match obj.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(MessageError::NotAString { key }),
    }
}

fn hex_field(obj: &Map<String, Value>, key: &'static str) -> Result<Vec<u8>, MessageError> {
    let s = string_field(obj, key)?;
    hex::decode(s).map_err(|e| MessageError::BadHex {
        key,
        reason: e.to_string(),
    })
}
