//! The tiny byte formats the test kernels read from external messages and write to the outbox.
//!
//! Shared by the kernels (decoding) and the tests (encoding) so both sides agree on one layout.
//! Integers are big-endian; a "short" byte string is a `u8` length then the bytes.

use alloc::vec::Vec;

/// Tag of an external inbox message (`Sc_rollup_inbox_message_repr`): the payload follows.
pub const EXTERNAL_TAG: u8 = 0x01;
/// Tag of an internal inbox message (transfer, start/end of level, info per level, migration).
pub const INTERNAL_TAG: u8 = 0x00;
/// Second byte of an internal message that is a transfer from L1.
pub const INTERNAL_TRANSFER_TAG: u8 = 0x00;

/// Returns the body of an external inbox message, or `None` for internal messages.
pub fn external_body(message: &[u8]) -> Option<&[u8]> {
    match message.split_first() {
        Some((&EXTERNAL_TAG, body)) => Some(body),
        _ => None,
    }
}

/// A cursor over a command's bytes; every read fails with `None` past the end.
#[derive(Debug, Clone)]
pub struct Cursor<'a> {
    bytes: &'a [u8],
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes }
    }

    /// Takes `n` bytes.
    pub fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.bytes.len() < n {
            return None;
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Some(head)
    }

    /// Takes one byte.
    pub fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    /// Takes a big-endian `u32`.
    pub fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Takes a big-endian `i64`.
    pub fn i64(&mut self) -> Option<i64> {
        self.take(8).map(|b| {
            let mut a = [0u8; 8];
            a.copy_from_slice(b);
            i64::from_be_bytes(a)
        })
    }

    /// Takes a `u8`-length-prefixed byte string.
    pub fn short_bytes(&mut self) -> Option<&'a [u8]> {
        let n = self.u8()?;
        self.take(usize::from(n))
    }

    /// Takes everything left.
    pub fn rest(&mut self) -> &'a [u8] {
        core::mem::take(&mut self.bytes)
    }

    /// Whether every byte was consumed.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

/// Appends a `u8`-length-prefixed byte string; panics if `bytes` is longer than 255 bytes,
/// which only a malformed test could ask for.
pub fn put_short_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    let len = u8::try_from(bytes.len()).expect("short byte strings are at most 255 bytes");
    out.push(len);
    out.extend_from_slice(bytes);
}
