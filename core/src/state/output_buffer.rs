//! The PVM output buffer (outbox) in the state tree, exactly in octez's layout, so outbox
//! proofs of Soru states are octez output proofs.
//!
//! octez (`src/lib_scoru_wasm/wasm_encoding.ml`, `output_buffer_encoding`; `src/lib_webassembly/
//! runtime/output_buffer.ml`) stores under `/value/pvm/buffers/output` a 4-tuple
//! (`tup4 ~flatten:false`, keys `1`..`4`):
//!
//! | path | content | encoding |
//! |---|---|---|
//! | `1/outboxes/<level>/head` | index of the first message | `Data_encoding.z` |
//! | `1/outboxes/<level>/length` | number of messages | `Data_encoding.z` |
//! | `1/outboxes/<level>/contents/<head+i>` | message `i` | `Data_encoding.bytes` (u30 length + bytes) |
//! | `2/last_level` | level of the newest outbox (absent before the first level) | `int32` |
//! | `3/validity_period` | number of outboxes kept | `int32` |
//! | `4/message_limit` | messages per outbox | `Data_encoding.z` |
//!
//! `<level>` and `<head+i>` are decimal. The PVM state is valid only when `/tag` holds the
//! Data_encoding string `"Some"`. An outbox at `level` is available when
//! `last_level - validity_period < level <= last_level` (`level_range`).

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::encoding::binary::{self, DecodeError, Reader};
use crate::tree::proof::{TreeAccess, TreeRead};
use crate::tree::{Tree, TreeError};

use super::{z_bytes, TAG, TAG_SOME};

/// Path of the output buffer in the state tree.
pub const OUTPUT_BUFFER: [&[u8]; 4] = [b"value", b"pvm", b"buffers", b"output"];

/// Reading or writing the output buffer failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OutputBufferError {
    /// The tree refused the access (e.g. a blinded node in a proof tree).
    #[error(transparent)]
    Tree(#[from] TreeError),
    /// A field the layout requires is absent.
    #[error("missing {0}")]
    Missing(String),
    /// A field holds bytes that do not decode as its encoding.
    #[error("malformed {path}: {error}")]
    Decode {
        /// The field's path.
        path: String,
        /// What is wrong, at which byte of the field.
        error: DecodeError,
    },
    /// A level or message the layout cannot represent.
    #[error("malformed {path}: {reason}")]
    Malformed {
        /// The field's path.
        path: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// The PVM state tag is not `"Some"`.
    #[error("PVM state tag is not \"Some\" (found 0x{})", hex::encode(.0))]
    BadTag(Vec<u8>),
    /// No outbox has been allocated yet (`last_level` absent).
    #[error("the output buffer has no outbox yet (no last_level)")]
    NotInitialized,
    /// The level is not in the validity window.
    #[error("outbox level {level} outside the validity window {first}..={last}")]
    LevelOutsideWindow {
        /// Requested level.
        level: i64,
        /// Oldest available level.
        first: i64,
        /// Newest level.
        last: i64,
    },
    /// The outbox has no message at that index.
    #[error("message index {index} out of range: outbox {level} has {length} messages")]
    IndexOutOfRange {
        /// Outbox level.
        level: u32,
        /// Requested index.
        index: u64,
        /// Messages in the outbox.
        length: u64,
    },
    /// The outbox already holds `message_limit` messages.
    #[error("outbox {level} is full ({limit} messages)")]
    Full {
        /// Outbox level.
        level: u32,
        /// The limit.
        limit: u64,
    },
}

/// The scalar fields of the output buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutputBufferInfo {
    /// Level of the newest outbox, if any.
    pub last_level: Option<i32>,
    /// Number of levels an outbox stays available.
    pub validity_period: i32,
    /// Messages per outbox.
    pub message_limit: u64,
}

fn path_of(suffix: &[&[u8]]) -> String {
    let mut p: Vec<&[u8]> = OUTPUT_BUFFER.to_vec();
    p.extend_from_slice(suffix);
    crate::tree::display_path(&p)
}

fn full_path<'a>(suffix: &[&'a [u8]]) -> Vec<&'a [u8]> {
    let mut p: Vec<&'a [u8]> = OUTPUT_BUFFER.to_vec();
    p.extend_from_slice(suffix);
    p
}

fn read<T: TreeRead + ?Sized>(
    tree: &mut T,
    suffix: &[&[u8]],
) -> Result<Vec<u8>, OutputBufferError> {
    tree.read_value(&full_path(suffix))?
        .ok_or_else(|| OutputBufferError::Missing(path_of(suffix)))
}

fn malformed(suffix: &[&[u8]], reason: &'static str) -> OutputBufferError {
    OutputBufferError::Malformed {
        path: path_of(suffix),
        reason,
    }
}

/// Decodes the whole field `bytes` with `f`: a field must hold exactly one value.
fn decode<'a, T>(
    bytes: &'a [u8],
    suffix: &[&[u8]],
    f: impl FnOnce(&mut Reader<'a>) -> Result<T, DecodeError>,
) -> Result<T, OutputBufferError> {
    let mut r = Reader::new(bytes);
    f(&mut r)
        .and_then(|v| r.finish().map(|()| v))
        .map_err(|error| OutputBufferError::Decode {
            path: path_of(suffix),
            error,
        })
}

fn int32(bytes: &[u8], suffix: &[&[u8]]) -> Result<i32, OutputBufferError> {
    decode(bytes, suffix, Reader::i32)
}

/// A `Data_encoding.z` field that must hold a non-negative `u64`.
fn z_u64(bytes: &[u8], suffix: &[&[u8]]) -> Result<u64, OutputBufferError> {
    decode(bytes, suffix, |r| r.z_u64("counter"))
}

/// The `int32` bytes of a level or period.
fn int32_bytes(v: i32) -> Vec<u8> {
    let mut out = Vec::new();
    binary::put_i32(&mut out, v);
    out
}

/// Reads the scalar fields of the output buffer.
pub fn read_info<T: TreeRead + ?Sized>(
    tree: &mut T,
) -> Result<OutputBufferInfo, OutputBufferError> {
    let ll: [&[u8]; 2] = [b"2", b"last_level"];
    let last_level = match tree.read_value(&full_path(&ll))? {
        None => None,
        Some(b) => Some(int32(&b, &ll)?),
    };
    let vp: [&[u8]; 2] = [b"3", b"validity_period"];
    let validity_period = int32(&read(tree, &vp)?, &vp)?;
    let ml: [&[u8]; 2] = [b"4", b"message_limit"];
    let message_limit = z_u64(&read(tree, &ml)?, &ml)?;
    Ok(OutputBufferInfo {
        last_level,
        validity_period,
        message_limit,
    })
}

/// Checks `/tag` is `"Some"` (octez decodes no buffers otherwise).
pub fn check_tag<T: TreeRead + ?Sized>(tree: &mut T) -> Result<(), OutputBufferError> {
    match tree.read_value(&TAG)? {
        Some(t) if t == TAG_SOME => Ok(()),
        Some(t) => Err(OutputBufferError::BadTag(t)),
        None => Err(OutputBufferError::Missing(String::from("/tag"))),
    }
}

/// Whether `level` is in the validity window `last_level - validity_period < level <=
/// last_level` (octez `is_outbox_available`).
pub fn check_level(info: &OutputBufferInfo, level: u32) -> Result<(), OutputBufferError> {
    let last = i64::from(info.last_level.ok_or(OutputBufferError::NotInitialized)?);
    let first = last - i64::from(info.validity_period) + 1;
    let l = i64::from(level);
    if l < first || l > last {
        return Err(OutputBufferError::LevelOutsideWindow {
            level: l,
            first,
            last,
        });
    }
    Ok(())
}

/// `head` and `length` of the outbox at `level` (both 0 if the outbox is absent).
pub fn read_outbox_bounds<T: TreeRead + ?Sized>(
    tree: &mut T,
    level: u32,
) -> Result<(u64, u64), OutputBufferError> {
    bounds_at(tree, format!("{level}").as_bytes())
}

/// [`read_outbox_bounds`] with the level already in decimal (`read_message` formats it once).
fn bounds_at<T: TreeRead + ?Sized>(
    tree: &mut T,
    lvl: &[u8],
) -> Result<(u64, u64), OutputBufferError> {
    let outbox: [&[u8]; 3] = [b"1", b"outboxes", lvl];
    if tree.read_kind(&full_path(&outbox))?.is_none() {
        return Ok((0, 0));
    }
    let h: [&[u8]; 4] = [b"1", b"outboxes", lvl, b"head"];
    let head = z_u64(&read(tree, &h)?, &h)?;
    let l: [&[u8]; 4] = [b"1", b"outboxes", lvl, b"length"];
    let length = z_u64(&read(tree, &l)?, &l)?;
    Ok((head, length))
}

/// The key of message `index` of an outbox whose first message is at `head`: `head + index` in
/// decimal (octez's counters are unbounded, so the sum may pass `u64::MAX`). The overflow case
/// goes through [`binary::Zarith`], not `u128`, whose formatter is 1.3 KB of the npm package's
/// WebAssembly.
fn message_key(head: u64, index: u64) -> String {
    match head.checked_add(index) {
        Some(key) => format!("{key}"),
        None => binary::Zarith::from_i128(i128::from(head) + i128::from(index)).to_string(),
    }
}

/// Message `index` of the outbox at `level` after the octez checks (state tag, validity
/// window, index range): the raw message bytes (`Sc_rollup_outbox_message_repr` encoding).
pub fn read_message<T: TreeRead + ?Sized>(
    tree: &mut T,
    level: u32,
    index: u64,
) -> Result<Vec<u8>, OutputBufferError> {
    check_tag(tree)?;
    let info = read_info(tree)?;
    check_level(&info, level)?;
    let lvl = format!("{level}");
    let (head, length) = bounds_at(tree, lvl.as_bytes())?;
    if index >= length {
        return Err(OutputBufferError::IndexOutOfRange {
            level,
            index,
            length,
        });
    }
    let i = message_key(head, index);
    let c: [&[u8]; 5] = [b"1", b"outboxes", lvl.as_bytes(), b"contents", i.as_bytes()];
    let stored = read(tree, &c)?;
    decode(&stored, &c, |r| r.dynamic_bytes().map(<[u8]>::to_vec))
}

/// Writes the scalar fields (origination sets `validity_period` and `message_limit`; every
/// level sets `last_level`).
pub fn write_info<T: TreeAccess + ?Sized>(
    tree: &mut T,
    info: &OutputBufferInfo,
) -> Result<(), OutputBufferError> {
    let ll: [&[u8]; 2] = [b"2", b"last_level"];
    match info.last_level {
        Some(l) => tree.set_value(&full_path(&ll), &int32_bytes(l))?,
        None => {
            tree.remove(&full_path(&ll))?;
        }
    }
    tree.set_value(
        &full_path(&[b"3", b"validity_period"]),
        &int32_bytes(info.validity_period),
    )?;
    tree.set_value(
        &full_path(&[b"4", b"message_limit"]),
        &z_bytes(info.message_limit),
    )?;
    Ok(())
}

/// Starts the outbox of a new level as octez's `move_outbox_forward` (or
/// `initialize_outbox` for the first one) does: sets `last_level`, allocates an empty
/// outbox at `level` and drops the outbox that left the validity window.
pub fn start_level<T: TreeAccess + ?Sized>(
    tree: &mut T,
    level: u32,
) -> Result<(), OutputBufferError> {
    let mut info = read_info(tree)?;
    let level_i32 = i32::try_from(level)
        .map_err(|_| malformed(&[b"2", b"last_level"], "level above 2^31-1"))?;
    if let Some(last) = info.last_level {
        let first = i64::from(last) - i64::from(info.validity_period) + 1;
        if let Ok(first) = u32::try_from(first) {
            let lvl = format!("{first}");
            tree.remove(&full_path(&[b"1", b"outboxes", lvl.as_bytes()]))?;
        }
    }
    info.last_level = Some(level_i32);
    write_info(tree, &info)?;
    let lvl = format!("{level}");
    tree.set_value(
        &full_path(&[b"1", b"outboxes", lvl.as_bytes(), b"head"]),
        &z_bytes(0),
    )?;
    tree.set_value(
        &full_path(&[b"1", b"outboxes", lvl.as_bytes(), b"length"]),
        &z_bytes(0),
    )?;
    Ok(())
}

/// `(head, length)` of the outbox subtree `outbox` of level `lvl` (its fields are required).
fn outbox_bounds(outbox: &Tree, lvl: &str) -> Result<(u64, u64), OutputBufferError> {
    let field = |name: &'static [u8]| -> Result<u64, OutputBufferError> {
        let suffix: [&[u8]; 4] = [b"1", b"outboxes", lvl.as_bytes(), name];
        let bytes = outbox
            .value(&[name])?
            .ok_or_else(|| OutputBufferError::Missing(path_of(&suffix)))?;
        z_u64(bytes, &suffix)
    };
    Ok((field(b"head")?, field(b"length")?))
}

/// Every message of the outbox of `level`, in order (what [`read_message`] returns for each
/// index, read in one descent; empty when the level is outside the validity window or has no
/// outbox). For plain trees: proofs read message by message with [`read_message`].
pub fn read_outbox(tree: &Tree, level: u32) -> Result<Vec<Vec<u8>>, OutputBufferError> {
    let mut t = tree.clone();
    let info = read_info(&mut t)?;
    if check_level(&info, level).is_err() {
        return Ok(Vec::new());
    }
    let lvl = format!("{level}");
    let Some(outbox) = tree.subtree(&full_path(&[b"1", b"outboxes", lvl.as_bytes()]))? else {
        return Ok(Vec::new());
    };
    let (head, length) = outbox_bounds(&outbox, &lvl)?;
    if length > 0 {
        check_tag(&mut t)?;
    }
    (0..length)
        .map(|index| {
            let i = message_key(head, index);
            let c: [&[u8]; 5] = [b"1", b"outboxes", lvl.as_bytes(), b"contents", i.as_bytes()];
            let stored = outbox
                .value(&[b"contents", i.as_bytes()])?
                .ok_or_else(|| OutputBufferError::Missing(path_of(&c)))?;
            decode(stored, &c, |r| r.dynamic_bytes().map(<[u8]>::to_vec))
        })
        .collect()
}

/// Appends `message` to the outbox of `last_level` (octez `push_message`); returns its index.
pub fn push_message<T: TreeAccess + ?Sized>(
    tree: &mut T,
    message: &[u8],
) -> Result<(u32, u64), OutputBufferError> {
    let info = read_info(tree)?;
    let last = info.last_level.ok_or(OutputBufferError::NotInitialized)?;
    let level =
        u32::try_from(last).map_err(|_| malformed(&[b"2", b"last_level"], "negative level"))?;
    let lvl = format!("{level}");
    // The outbox of the level is read, then edited in place in one more descent (a copy
    // taken out would share its `contents` with the tree, and writing to it would copy that
    // directory of up to `message_limit` entries for every message).
    let outbox_path = full_path(&[b"1", b"outboxes", lvl.as_bytes()]);
    let (head, length) = match &tree.subtree(&outbox_path)? {
        Some(o) => outbox_bounds(o, &lvl)?,
        None => (0, 0),
    };
    if length >= info.message_limit {
        return Err(OutputBufferError::Full {
            level,
            limit: info.message_limit,
        });
    }
    let i = message_key(head, length);
    if message.len() > binary::MAX_UINT30 as usize {
        return Err(malformed(
            &[b"1", b"outboxes"],
            "message above 2^30-1 bytes",
        ));
    }
    let mut stored = Vec::with_capacity(message.len() + 4);
    binary::put_dynamic_bytes(&mut stored, message);
    let new_length = z_bytes(length + 1);
    tree.update_subtree(&outbox_path, &mut |outbox| {
        outbox.set_value(&[b"contents", i.as_bytes()], &stored)?;
        outbox.set_value(&[b"length"], &new_length)
    })?;
    Ok((level, length))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::binary::DecodeErrorKind;

    #[test]
    fn message_keys_are_the_decimal_sum() {
        for (head, index) in [
            (0, 0),
            (7, 129),
            (u64::MAX, 0),
            (u64::MAX, 1),
            (u64::MAX, u64::MAX),
        ] {
            assert_eq!(
                message_key(head, index),
                (u128::from(head) + u128::from(index)).to_string()
            );
        }
    }

    #[test]
    fn fields_use_octez_encodings_and_report_the_byte() {
        assert_eq!(z_bytes(100), [0xa4, 0x01]);
        assert_eq!(int32_bytes(80_640), [0, 1, 0x3b, 0]);
        let ml: [&[u8]; 2] = [b"4", b"message_limit"];
        assert_eq!(z_u64(&[0xa4, 0x01], &ml), Ok(100));
        let err = z_u64(&[0x80, 0x00], &ml).unwrap_err();
        assert_eq!(
            err.to_string(),
            "malformed /value/pvm/buffers/output/4/message_limit: at byte 1: zarith number has a trailing zero byte"
        );
        assert!(matches!(
            z_u64(&[0x41], &ml),
            Err(OutputBufferError::Decode { error, .. }) if error.offset == 0
        ));
        assert!(matches!(
            z_u64(&[0x01, 0x00], &ml),
            Err(OutputBufferError::Decode { error, .. })
                if error.kind == DecodeErrorKind::TrailingBytes { remaining: 1 }
        ));
        assert!(int32(&[0, 0, 1], &ml).is_err());
    }

    #[test]
    fn outbox_write_then_read() {
        let mut t = Tree::empty();
        t.set_value(&TAG, TAG_SOME).unwrap();
        let info = OutputBufferInfo {
            last_level: None,
            validity_period: 3,
            message_limit: 2,
        };
        write_info(&mut t, &info).unwrap();
        assert_eq!(
            read_message(&mut t, 5, 0),
            Err(OutputBufferError::NotInitialized)
        );
        start_level(&mut t, 5).unwrap();
        assert_eq!(push_message(&mut t, b"hello").unwrap(), (5, 0));
        assert_eq!(push_message(&mut t, b"world").unwrap(), (5, 1));
        assert!(matches!(
            push_message(&mut t, b"!"),
            Err(OutputBufferError::Full { .. })
        ));
        assert_eq!(read_message(&mut t, 5, 1).unwrap(), b"world");
        assert!(matches!(
            read_message(&mut t, 5, 2),
            Err(OutputBufferError::IndexOutOfRange { .. })
        ));
        for l in 6..=8 {
            start_level(&mut t, l).unwrap();
        }
        // Level 5 left the window 6..=8 and was dropped.
        assert!(matches!(
            read_message(&mut t, 5, 0),
            Err(OutputBufferError::LevelOutsideWindow { .. })
        ));
        assert_eq!(
            t.kind(&full_path(&[b"1", b"outboxes", b"5"])).unwrap(),
            None
        );
    }
}
