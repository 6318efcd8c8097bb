//! The PVM input buffer in the state tree, in octez's layout.
//!
//! octez (`src/lib_scoru_wasm/wasm_encoding.ml`, `input_buffer_encoding`) stores the inputs of
//! the current level under `/value/pvm/buffers/input` as a lazy vector:
//!
//! | path | content | encoding |
//! |---|---|---|
//! | `head` | absolute index of the first unread input | `Data_encoding.z` |
//! | `length` | number of unread inputs | `Data_encoding.z` |
//! | `contents/<head+i>/raw-level` | inbox level of input `i` | `int32` |
//! | `contents/<head+i>/message-counter` | its index in the inbox | `Data_encoding.z` |
//! | `contents/<head+i>/{length,contents/<j>}` | its payload | chunked byte vector |
//!
//! `read_input` pops the first input (its entry is removed and `head` moves on); when the kernel
//! yields the buffer is reset to an empty vector (`head` and `length` 0, no `contents`).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::durable::{read_chunked, write_chunked, DurableError};
use crate::encoding::binary::Reader;
use crate::tree::{Tree, TreeError};

/// Path of the input buffer in the state tree.
pub const INPUT_BUFFER: [&[u8]; 4] = [b"value", b"pvm", b"buffers", b"input"];

/// An input message in the input buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    /// Inbox level of the message.
    pub level: u32,
    /// Index of the message in its inbox.
    pub counter: u32,
    /// The serialized inbox message.
    pub payload: Vec<u8>,
}

/// The input buffer in the state tree is not in octez's layout.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InputBufferError {
    /// The tree refused the access (e.g. a blinded node in a proof tree).
    #[error(transparent)]
    Tree(#[from] TreeError),
    /// A field is absent or does not decode as its encoding.
    #[error("malformed input buffer field {path}: {reason}")]
    Malformed {
        /// The field's path.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

fn at<'a>(suffix: &[&'a [u8]]) -> Vec<&'a [u8]> {
    let mut p: Vec<&'a [u8]> = INPUT_BUFFER.to_vec();
    p.extend_from_slice(suffix);
    p
}

fn malformed(suffix: &[&[u8]], reason: impl Into<String>) -> InputBufferError {
    InputBufferError::Malformed {
        path: crate::tree::display_path(&at(suffix)),
        reason: reason.into(),
    }
}

/// Reads the `Data_encoding.z` counter at `suffix`; an absent field reads as 0 (octez's empty
/// vector before its first encoding).
fn counter(tree: &Tree, suffix: &[&[u8]]) -> Result<u64, InputBufferError> {
    let Some(bytes) = tree.value(&at(suffix))? else {
        return Ok(0);
    };
    let mut r = Reader::new(bytes);
    let v = r
        .z()
        .and_then(|z| r.finish().map(|()| z))
        .map_err(|e| malformed(suffix, format!("{e}")))?;
    v.to_u64()
        .ok_or_else(|| malformed(suffix, "negative or above 2^64-1"))
}

fn set_counter(tree: &mut Tree, suffix: &[&[u8]], v: u64) -> Result<(), TreeError> {
    tree.set_value(&at(suffix), &super::z_bytes(v))
}

/// Writes the empty input buffer (`Input_buffer.alloc`, and `reset` when the kernel yields):
/// `head` and `length` 0 and no messages.
pub fn reset(tree: &mut Tree) -> Result<(), TreeError> {
    tree.remove(&at(&[b"contents"]))?;
    set_counter(tree, &[b"head"], 0)?;
    set_counter(tree, &[b"length"], 0)
}

/// Number of unread inputs.
pub fn len(tree: &Tree) -> Result<u64, InputBufferError> {
    counter(tree, &[b"length"])
}

/// Appends an input (octez `Input_buffer.enqueue`).
pub fn push(tree: &mut Tree, input: &Input) -> Result<(), InputBufferError> {
    let head = counter(tree, &[b"head"])?;
    let length = counter(tree, &[b"length"])?;
    let index = format!("{}", head + length);
    let entry = at(&[b"contents", index.as_bytes()]);
    let field = |name: &'static [u8]| {
        let mut p = entry.clone();
        p.push(name);
        p
    };
    // The payload's chunked byte vector (`length`, `contents/<j>`) sits directly in the entry,
    // beside the two fields; writing it first clears the entry.
    write_chunked(tree, &entry, &input.payload).map_err(|e| match e {
        DurableError::Tree(t) => InputBufferError::Tree(t),
        other => malformed(&[b"contents", index.as_bytes()], format!("{other}")),
    })?;
    tree.set_value(&field(b"raw-level"), &(input.level as i32).to_be_bytes())?;
    tree.set_value(
        &field(b"message-counter"),
        &super::z_bytes(u64::from(input.counter)),
    )?;
    set_counter(tree, &[b"length"], length + 1)?;
    Ok(())
}

/// Removes and returns the first unread input (octez `Input_buffer.dequeue`), `None` when the
/// buffer is empty.
pub fn pop(tree: &mut Tree) -> Result<Option<Input>, InputBufferError> {
    let length = counter(tree, &[b"length"])?;
    if length == 0 {
        return Ok(None);
    }
    let head = counter(tree, &[b"head"])?;
    let index = format!("{head}");
    let entry: [&[u8]; 2] = [b"contents", index.as_bytes()];
    let level_path: [&[u8]; 3] = [b"contents", index.as_bytes(), b"raw-level"];
    let counter_path: [&[u8]; 3] = [b"contents", index.as_bytes(), b"message-counter"];
    let level = match tree.value(&at(&level_path))? {
        Some(b) => <[u8; 4]>::try_from(b)
            .map(|a| i32::from_be_bytes(a) as u32)
            .map_err(|_| malformed(&level_path, format!("{} bytes, not an int32", b.len())))?,
        None => return Err(malformed(&level_path, "missing")),
    };
    if tree.value(&at(&counter_path))?.is_none() {
        return Err(malformed(&counter_path, "missing"));
    }
    let message_counter = counter(tree, &counter_path)?;
    let message_counter =
        u32::try_from(message_counter).map_err(|_| malformed(&counter_path, "above 2^32-1"))?;
    let payload = match read_chunked(tree, &at(&entry)) {
        Ok(Some(p)) => p,
        Ok(None) => Vec::new(),
        Err(DurableError::Tree(e)) => return Err(e.into()),
        Err(e) => return Err(malformed(&entry, format!("{e}"))),
    };
    tree.remove(&at(&entry))?;
    set_counter(tree, &[b"head"], head + 1)?;
    set_counter(tree, &[b"length"], length - 1)?;
    Ok(Some(Input {
        level,
        counter: message_counter,
        payload,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_pop_keeps_absolute_indices() {
        let mut t = Tree::empty();
        reset(&mut t).unwrap();
        for i in 0..3u32 {
            let input = Input {
                level: 7,
                counter: i,
                payload: alloc::vec![i as u8; 600],
            };
            push(&mut t, &input).unwrap();
        }
        assert_eq!(len(&t).unwrap(), 3);
        let first = pop(&mut t).unwrap().unwrap();
        assert_eq!(
            (first.level, first.counter, first.payload.len()),
            (7, 0, 600)
        );
        assert!(t
            .value(&at(&[b"contents", b"0", b"raw-level"]))
            .unwrap()
            .is_none());
        assert!(t
            .value(&at(&[b"contents", b"1", b"raw-level"]))
            .unwrap()
            .is_some());
        assert_eq!(counter(&t, &[b"head"]).unwrap(), 1);
        push(
            &mut t,
            &Input {
                level: 7,
                counter: 3,
                payload: alloc::vec![],
            },
        )
        .unwrap();
        assert!(t
            .value(&at(&[b"contents", b"3", b"length"]))
            .unwrap()
            .is_some());
        assert_eq!(pop(&mut t).unwrap().unwrap().counter, 1);
        reset(&mut t).unwrap();
        assert_eq!(pop(&mut t).unwrap(), None);
    }

    #[test]
    fn malformed_fields_are_named() {
        let mut t = Tree::empty();
        t.set_value(&at(&[b"length"]), b"\x01").unwrap();
        let e = pop(&mut t).unwrap_err();
        let text = alloc::format!("{e}");
        assert!(
            text.contains("/value/pvm/buffers/input/contents/0/raw-level"),
            "{text}"
        );
    }
}
