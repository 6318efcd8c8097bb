//! Outbox kernel: turns each external message into one untyped atomic transaction batch, built
//! and serialized with the SDK's `OutboxMessage` types (`Sc_rollup_outbox_message_repr` tag 0).
//!
//! Message body: a `u8` count of transactions, then for each transaction the destination (short
//! byte string holding a base58 `KT1...`), the entrypoint name (short byte string, empty for
//! `default`), an `i32` (big-endian) and a string (short byte string). The transaction's
//! parameters are the Michelson value `Pair <int> (Pair "<string>" 0x<string bytes>)`.
//!
//! A body that does not parse, an invalid `KT1` or entrypoint yields a debug line and no output.

use alloc::string::String;
use alloc::vec::Vec;
use tezos_data_encoding::enc::BinWriter;
use tezos_smart_rollup::prelude::Runtime;
use tezos_smart_rollup_encoding::contract::Contract;
use tezos_smart_rollup_encoding::entrypoint::Entrypoint;
use tezos_smart_rollup_encoding::michelson::{
    MichelsonBytes, MichelsonInt, MichelsonPair, MichelsonString,
};
use tezos_smart_rollup_encoding::outbox::{OutboxMessage, OutboxMessageTransaction};

use crate::wire::{external_body, put_short_bytes, Cursor};

/// The parameters type of every transaction this kernel emits.
pub type Parameters = MichelsonPair<MichelsonInt, MichelsonPair<MichelsonString, MichelsonBytes>>;

/// One requested transaction, as the tests describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction {
    /// Destination contract, base58 `KT1...`.
    pub destination: String,
    /// Entrypoint name; empty means `default`.
    pub entrypoint: String,
    /// The integer parameter.
    pub int: i32,
    /// The string parameter (also sent as bytes).
    pub text: String,
}

/// Encodes a batch request as an external message body.
pub fn request(transactions: &[Transaction]) -> Vec<u8> {
    let mut out = alloc::vec![u8::try_from(transactions.len()).expect("at most 255 transactions")];
    for tx in transactions {
        put_short_bytes(&mut out, tx.destination.as_bytes());
        put_short_bytes(&mut out, tx.entrypoint.as_bytes());
        out.extend_from_slice(&tx.int.to_be_bytes());
        put_short_bytes(&mut out, tx.text.as_bytes());
    }
    out
}

/// Why a request was not turned into an outbox message.
enum RequestError {
    Truncated,
    Utf8,
    Contract(String),
    Entrypoint(String),
    Encoding,
}

impl core::fmt::Display for RequestError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            RequestError::Truncated => f.write_str("truncated or trailing bytes"),
            RequestError::Utf8 => f.write_str("a text field is not UTF-8"),
            RequestError::Contract(text) => write!(f, "{text:?} is not a KT1 address"),
            RequestError::Entrypoint(text) => write!(f, "{text:?} is not an entrypoint name"),
            RequestError::Encoding => f.write_str("the SDK could not serialize the batch"),
        }
    }
}

fn text(cursor: &mut Cursor<'_>) -> Result<String, RequestError> {
    let bytes = cursor.short_bytes().ok_or(RequestError::Truncated)?;
    String::from_utf8(bytes.to_vec()).map_err(|_| RequestError::Utf8)
}

/// Builds and serializes the batch a request describes.
fn batch(body: &[u8]) -> Result<Vec<u8>, RequestError> {
    let mut cursor = Cursor::new(body);
    let count = cursor.u8().ok_or(RequestError::Truncated)?;
    let mut transactions = Vec::with_capacity(usize::from(count));
    for _ in 0..count {
        let destination = text(&mut cursor)?;
        let destination = Contract::from_b58check(&destination)
            .map_err(|_| RequestError::Contract(destination))?;
        let entrypoint = text(&mut cursor)?;
        let entrypoint = Entrypoint::try_from(entrypoint.clone())
            .map_err(|_| RequestError::Entrypoint(entrypoint))?;
        let int = cursor.take(4).ok_or(RequestError::Truncated)?;
        let int = i32::from_be_bytes([int[0], int[1], int[2], int[3]]);
        let string = text(&mut cursor)?;
        transactions.push(OutboxMessageTransaction {
            parameters: MichelsonPair(
                MichelsonInt::from(int),
                MichelsonPair(
                    MichelsonString(string.clone()),
                    MichelsonBytes(string.into_bytes()),
                ),
            ),
            destination,
            entrypoint,
        });
    }
    if !cursor.is_empty() {
        return Err(RequestError::Truncated);
    }
    let message: OutboxMessage<Parameters> =
        OutboxMessage::AtomicTransactionBatch(transactions.into());
    let mut out = Vec::new();
    message
        .bin_write(&mut out)
        .map_err(|_| RequestError::Encoding)?;
    Ok(out)
}

/// Emits one batch per external message (see the module docs).
pub fn run<Host: Runtime>(host: &mut Host) {
    while let Ok(Some(message)) = host.read_input() {
        let Some(body) = external_body(message.as_ref()) else {
            continue;
        };
        match batch(body) {
            Ok(bytes) => {
                if let Err(error) = host.write_output(&bytes) {
                    host.write_debug(&alloc::format!("outbox: write_output failed: {error}\n"));
                }
            }
            Err(error) => host.write_debug(&alloc::format!("outbox: bad request: {error}\n")),
        }
    }
}
