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

/// Reads the `Data_encoding.z` counter `name` of the input buffer `buffer`; an absent field
/// reads as 0 (octez's empty vector before its first encoding).
fn counter(buffer: &Tree, name: &'static [u8]) -> Result<u64, InputBufferError> {
    counter_at(buffer, &[name])
}

/// Like [`counter`], at `suffix` under the input buffer.
fn counter_at(buffer: &Tree, suffix: &[&[u8]]) -> Result<u64, InputBufferError> {
    let Some(bytes) = buffer.value(suffix)? else {
        return Ok(0);
    };
    let mut r = Reader::new(bytes);
    r.z_u64("counter")
        .and_then(|v| r.finish().map(|()| v))
        .map_err(|e| malformed(suffix, format!("{e}")))
}

fn set_counter(buffer: &mut Tree, name: &'static [u8], v: u64) -> Result<(), TreeError> {
    buffer.set_value(&[name], &super::z_bytes(v))
}

/// Writes the empty input buffer (`Input_buffer.alloc`, and `reset` when the kernel yields):
/// `head` and `length` 0 and no messages.
pub fn reset(tree: &mut Tree) -> Result<(), TreeError> {
    tree.update(&INPUT_BUFFER, |buffer| {
        buffer.remove(&[b"contents"])?;
        set_counter(buffer, b"head", 0)?;
        set_counter(buffer, b"length", 0)
    })
}

/// Number of unread inputs.
pub fn len(tree: &Tree) -> Result<u64, InputBufferError> {
    match tree.subtree(&INPUT_BUFFER)? {
        Some(buffer) => counter(&buffer, b"length"),
        None => Ok(0),
    }
}

/// Appends an input (octez `Input_buffer.enqueue`). The buffer is reached once and the entry
/// built apart, so the state's path to it is walked (and copied, if shared) once.
pub fn push(tree: &mut Tree, input: &Input) -> Result<(), InputBufferError> {
    tree.update(&INPUT_BUFFER, |buffer| {
        let head = counter(buffer, b"head")?;
        let length = counter(buffer, b"length")?;
        let index = format!("{}", head + length);
        // The payload's chunked byte vector (`length`, `contents/<j>`) sits directly in the
        // entry, beside the two fields.
        let mut entry = Tree::empty();
        write_chunked(&mut entry, &[], &input.payload).map_err(|e| match e {
            DurableError::Tree(t) => InputBufferError::Tree(t),
            other => malformed(&[b"contents", index.as_bytes()], format!("{other}")),
        })?;
        entry.set_value(&[b"raw-level"], &(input.level as i32).to_be_bytes())?;
        entry.set_value(
            &[b"message-counter"],
            &super::z_bytes(u64::from(input.counter)),
        )?;
        buffer.set_subtree(&[b"contents", index.as_bytes()], entry)?;
        set_counter(buffer, b"length", length + 1)?;
        Ok(())
    })
}

/// Removes and returns the first unread input (octez `Input_buffer.dequeue`), `None` when the
/// buffer is empty.
pub fn pop(tree: &mut Tree) -> Result<Option<Input>, InputBufferError> {
    // An empty buffer is left untouched (an edit would copy the path to it if shared).
    let length = len(tree)?;
    if length == 0 {
        return Ok(None);
    }
    let mut popped = None;
    tree.update(&INPUT_BUFFER, |buffer| {
        popped = Some(pop_from(buffer, length)?);
        Ok::<(), InputBufferError>(())
    })?;
    Ok(popped)
}

/// [`pop`] on the input buffer itself, which holds `length` (at least 1) unread inputs.
fn pop_from(buffer: &mut Tree, length: u64) -> Result<Input, InputBufferError> {
    let head = counter(buffer, b"head")?;
    let index = format!("{head}");
    let entry_path: [&[u8]; 2] = [b"contents", index.as_bytes()];
    let level_path: [&[u8]; 3] = [b"contents", index.as_bytes(), b"raw-level"];
    let counter_path: [&[u8]; 3] = [b"contents", index.as_bytes(), b"message-counter"];
    let Some(entry) = buffer.subtree(&entry_path)? else {
        return Err(malformed(&level_path, "missing"));
    };
    let level = match entry.value(&[b"raw-level"])? {
        Some(b) => <[u8; 4]>::try_from(b)
            .map(|a| i32::from_be_bytes(a) as u32)
            .map_err(|_| malformed(&level_path, format!("{} bytes, not an int32", b.len())))?,
        None => return Err(malformed(&level_path, "missing")),
    };
    if entry.value(&[b"message-counter"])?.is_none() {
        return Err(malformed(&counter_path, "missing"));
    }
    let message_counter = counter_at(buffer, &counter_path)?;
    let message_counter =
        u32::try_from(message_counter).map_err(|_| malformed(&counter_path, "above 2^32-1"))?;
    let payload = match read_chunked(&entry, &[]) {
        Ok(Some(p)) => p,
        Ok(None) => Vec::new(),
        Err(DurableError::Tree(e)) => return Err(e.into()),
        // The entry was read on its own: name the field, not the entry's root.
        Err(DurableError::CorruptLength { length, .. }) => {
            return Err(malformed(
                &entry_path,
                format!("corrupt payload length: {length} bytes"),
            ))
        }
        Err(e) => return Err(malformed(&entry_path, format!("{e}"))),
    };
    buffer.remove(&entry_path)?;
    set_counter(buffer, b"head", head + 1)?;
    set_counter(buffer, b"length", length - 1)?;
    Ok(Input {
        level,
        counter: message_counter,
        payload,
    })
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
        assert_eq!(counter_at(&t, &at(&[b"head"])).unwrap(), 1);
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
