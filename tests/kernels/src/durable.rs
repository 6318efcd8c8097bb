//! Durable-storage kernel: runs one storage command per external message and writes the result
//! of every command to the outbox, so two hosts can be compared call by call.
//!
//! Command layout (see [`crate::wire`]): one opcode byte, then short byte strings for paths.
//!
//! | opcode | arguments | host calls |
//! |---|---|---|
//! | [`Op::Write`] | path, `u32` offset, data (rest) | `store_write` (the SDK splits > 2048 bytes) |
//! | [`Op::WriteAll`] | path, data (rest) | `store_write_all` |
//! | [`Op::Generate`] | path, `u32` length, `u8` seed | `store_write_all` of a generated value |
//! | [`Op::Read`] | path, `u32` offset, `u32` max | `store_read` (at most 2048 bytes) |
//! | [`Op::ReadAll`] | path | `store_read_all` (chunked reads of 2048 bytes) |
//! | [`Op::Has`] | path | `store_has` |
//! | [`Op::Size`] | path | `store_value_size` |
//! | [`Op::Count`] | path | `store_list_size` |
//! | [`Op::Delete`] | path | `store_delete` |
//! | [`Op::DeleteValue`] | path | `store_delete_value` |
//! | [`Op::Copy`] | from, to | `store_copy` |
//! | [`Op::Move`] | from, to | `store_move` |
//!
//! Each result is one outbox message `opcode, status, data`: status [`OK`] followed by the
//! command's data, [`HOST_ERROR`] followed by the host's `i32` error code, [`PATH_NOT_FOUND`] or
//! [`DECODING_ERROR`] (the SDK's own checks). Values longer than one outbox message are reported
//! as their length and a checksum ([`checksum`]) followed by their first bytes. A malformed
//! command yields `[MALFORMED]`.

use crate::wire::{external_body, put_short_bytes, Cursor};
use alloc::vec::Vec;
use tezos_smart_rollup::host::RuntimeError;
use tezos_smart_rollup::prelude::Runtime;
use tezos_smart_rollup::storage::path::OwnedPath;
use tezos_smart_rollup_host::runtime::ValueType;

/// Result status: success, the command's data follows.
pub const OK: u8 = 0;
/// Result status: the host returned an error code, an `i32` big-endian follows.
pub const HOST_ERROR: u8 = 1;
/// Result status: the SDK found no value/node at the path before calling the host.
pub const PATH_NOT_FOUND: u8 = 2;
/// Result status: the SDK could not decode the host's answer.
pub const DECODING_ERROR: u8 = 3;
/// The whole result of a command that could not be parsed (or had an invalid path).
pub const MALFORMED: u8 = 0xff;
/// How many leading bytes of a long value a result shows next to its checksum.
pub const PREVIEW_BYTES: usize = 64;
/// Values up to this size are returned whole in one outbox message.
pub const INLINE_VALUE_MAX: usize = 4000;

/// A storage command's opcode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Op {
    /// `store_write` at an offset.
    Write = b'w',
    /// `store_write_all` (delete the value, then write it from offset 0).
    WriteAll = b'W',
    /// `store_write_all` of `length` bytes generated from a seed ([`generated_value`]).
    Generate = b'g',
    /// `store_read` of at most `max` bytes from an offset.
    Read = b'r',
    /// `store_read_all`.
    ReadAll = b'R',
    /// `store_has`.
    Has = b'h',
    /// `store_value_size`.
    Size = b's',
    /// `store_list_size`.
    Count = b'c',
    /// `store_delete`.
    Delete = b'd',
    /// `store_delete_value`.
    DeleteValue = b'D',
    /// `store_copy`.
    Copy = b'C',
    /// `store_move`.
    Move = b'M',
}

impl Op {
    /// Decodes an opcode byte.
    pub fn from_byte(byte: u8) -> Option<Op> {
        const ALL: [Op; 12] = [
            Op::Write,
            Op::WriteAll,
            Op::Generate,
            Op::Read,
            Op::ReadAll,
            Op::Has,
            Op::Size,
            Op::Count,
            Op::Delete,
            Op::DeleteValue,
            Op::Copy,
            Op::Move,
        ];
        ALL.into_iter().find(|op| *op as u8 == byte)
    }
}

/// The value [`Op::Generate`] writes: a deterministic byte pattern of `length` bytes.
pub fn generated_value(length: u32, seed: u8) -> Vec<u8> {
    (0..length)
        .map(|i| (i.wrapping_mul(31) ^ (i >> 8)).wrapping_add(u32::from(seed)) as u8)
        .collect()
}

/// FNV-1a (64 bits) of a value, used to report long values in one outbox message.
pub fn checksum(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Encodes a command whose arguments are paths only ([`Op::ReadAll`], [`Op::Has`],
/// [`Op::Size`], [`Op::Count`], [`Op::Delete`], [`Op::DeleteValue`], [`Op::Copy`], [`Op::Move`]).
pub fn command(op: Op, paths: &[&[u8]]) -> Vec<u8> {
    let mut out = alloc::vec![op as u8];
    for path in paths {
        put_short_bytes(&mut out, path);
    }
    out
}

/// Encodes [`Op::Write`].
pub fn write_command(path: &[u8], offset: u32, data: &[u8]) -> Vec<u8> {
    let mut out = command(Op::Write, &[path]);
    out.extend_from_slice(&offset.to_be_bytes());
    out.extend_from_slice(data);
    out
}

/// Encodes [`Op::WriteAll`].
pub fn write_all_command(path: &[u8], data: &[u8]) -> Vec<u8> {
    let mut out = command(Op::WriteAll, &[path]);
    out.extend_from_slice(data);
    out
}

/// Encodes [`Op::Generate`].
pub fn generate_command(path: &[u8], length: u32, seed: u8) -> Vec<u8> {
    let mut out = command(Op::Generate, &[path]);
    out.extend_from_slice(&length.to_be_bytes());
    out.push(seed);
    out
}

/// Encodes [`Op::Read`].
pub fn read_command(path: &[u8], offset: u32, max: u32) -> Vec<u8> {
    let mut out = command(Op::Read, &[path]);
    out.extend_from_slice(&offset.to_be_bytes());
    out.extend_from_slice(&max.to_be_bytes());
    out
}

/// Runs every external message of the level as a command (see the module docs).
pub fn run<Host: Runtime>(host: &mut Host) {
    while let Ok(Some(message)) = host.read_input() {
        let Some(body) = external_body(message.as_ref()) else {
            continue;
        };
        let result = execute(host, body).unwrap_or_else(|| alloc::vec![MALFORMED]);
        if let Err(error) = host.write_output(&result) {
            host.write_debug(&alloc::format!("durable: write_output failed: {error}\n"));
        }
    }
}

/// Parses a path argument; `None` if it is not a valid SDK path.
fn path(cursor: &mut Cursor<'_>) -> Option<OwnedPath> {
    OwnedPath::try_from(cursor.short_bytes()?.to_vec()).ok()
}

/// Runs one command; `None` if it is malformed.
fn execute<Host: Runtime>(host: &mut Host, command: &[u8]) -> Option<Vec<u8>> {
    let mut cursor = Cursor::new(command);
    let op = Op::from_byte(cursor.u8()?)?;
    let result: Result<Vec<u8>, RuntimeError> = match op {
        Op::Write => {
            let target = path(&mut cursor)?;
            let offset = cursor.u32()?;
            host.store_write(&target, cursor.rest(), offset as usize)
                .map(|()| Vec::new())
        }
        Op::WriteAll => {
            let target = path(&mut cursor)?;
            host.store_write_all(&target, cursor.rest())
                .map(|()| Vec::new())
        }
        Op::Generate => {
            let target = path(&mut cursor)?;
            let value = generated_value(cursor.u32()?, cursor.u8()?);
            host.store_write_all(&target, &value).map(|()| Vec::new())
        }
        Op::Read => {
            let target = path(&mut cursor)?;
            let offset = cursor.u32()?;
            let max = cursor.u32()?;
            host.store_read(&target, offset as usize, max as usize)
        }
        Op::ReadAll => {
            let target = path(&mut cursor)?;
            host.store_read_all(&target)
                .map(|value| describe_value(&value))
        }
        Op::Has => {
            let target = path(&mut cursor)?;
            host.store_has(&target).map(|kind| {
                alloc::vec![match kind {
                    None => 0,
                    Some(ValueType::Value) => 1,
                    Some(ValueType::Subtree) => 2,
                    Some(ValueType::ValueWithSubtree) => 3,
                }]
            })
        }
        Op::Size => {
            let target = path(&mut cursor)?;
            host.store_value_size(&target)
                .map(|size| (size as u64).to_be_bytes().to_vec())
        }
        Op::Count => {
            let target = path(&mut cursor)?;
            host.store_count_subkeys(&target)
                .map(|count| count.to_be_bytes().to_vec())
        }
        Op::Delete => {
            let target = path(&mut cursor)?;
            host.store_delete(&target).map(|()| Vec::new())
        }
        Op::DeleteValue => {
            let target = path(&mut cursor)?;
            host.store_delete_value(&target).map(|()| Vec::new())
        }
        Op::Copy => {
            let from = path(&mut cursor)?;
            let to = path(&mut cursor)?;
            host.store_copy(&from, &to).map(|()| Vec::new())
        }
        Op::Move => {
            let from = path(&mut cursor)?;
            let to = path(&mut cursor)?;
            host.store_move(&from, &to).map(|()| Vec::new())
        }
    };
    let mut out = alloc::vec![op as u8];
    match result {
        Ok(data) => {
            out.push(OK);
            out.extend_from_slice(&data);
        }
        Err(RuntimeError::HostErr(error)) => {
            out.push(HOST_ERROR);
            out.extend_from_slice(&(error as i32).to_be_bytes());
        }
        Err(RuntimeError::PathNotFound) | Err(RuntimeError::StoreListIndexOutOfBounds) => {
            out.push(PATH_NOT_FOUND)
        }
        Err(RuntimeError::DecodingError) => out.push(DECODING_ERROR),
    }
    Some(out)
}

/// A value whole if it fits one outbox message, else `length, checksum, first bytes`.
pub fn describe_value(value: &[u8]) -> Vec<u8> {
    if value.len() <= INLINE_VALUE_MAX {
        return value.to_vec();
    }
    let mut out = (value.len() as u64).to_be_bytes().to_vec();
    out.extend_from_slice(&checksum(value).to_be_bytes());
    out.extend_from_slice(&value[..PREVIEW_BYTES]);
    out
}
