//! `Data_encoding` binary primitives: the one place the rollup's byte-level building blocks live.
//!
//! [`Reader`] walks a byte slice and reports every failure with the byte offset where it
//! happened and what was expected there; the `put_*` functions append the same layouts to a
//! `Vec<u8>`. Integers are big-endian, zarith `n`/`z` use octez's 7-bit groups, and "dynamic"
//! values carry a `uint30` (4-byte, at most 2^30 - 1) length prefix.

use alloc::vec::Vec;
use core::fmt;

use thiserror::Error;

/// The largest length a `Data_encoding` "dynamic size" (`uint30`) prefix may carry.
pub const MAX_UINT30: u32 = (1 << 30) - 1;

/// What went wrong while decoding, independent of where.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeErrorKind {
    /// The input ended while `needed` more bytes were required.
    #[error("unexpected end of input: {needed} more byte(s) needed")]
    UnexpectedEof {
        /// How many bytes were missing.
        needed: usize,
    },
    /// A union tag byte names no known case.
    #[error("invalid {what} tag {tag}")]
    InvalidTag {
        /// Which union was being read.
        what: &'static str,
        /// The tag found.
        tag: u16,
    },
    /// Bytes remained after a complete value.
    #[error("{remaining} trailing byte(s) after a complete value")]
    TrailingBytes {
        /// How many bytes were left over.
        remaining: usize,
    },
    /// A number does not fit the target type.
    #[error("{what} out of range")]
    Overflow {
        /// Which number overflowed.
        what: &'static str,
    },
    /// A zarith number ends with a zero byte (non-canonical encoding, rejected by octez).
    #[error("zarith number has a trailing zero byte")]
    ZarithTrailingZero,
    /// A `uint30` length prefix exceeds 2^30 - 1.
    #[error("length prefix {len} exceeds uint30")]
    Uint30Overflow {
        /// The length read.
        len: u32,
    },
    /// A length prefix announces more bytes than remain (or than its enclosing value allows).
    #[error("length prefix {len} exceeds the {available} byte(s) available")]
    LengthTooLarge {
        /// The announced length.
        len: usize,
        /// The bytes actually available.
        available: usize,
    },
    /// A string that must be UTF-8 is not.
    #[error("{what} is not valid UTF-8")]
    InvalidUtf8 {
        /// Which string.
        what: &'static str,
    },
    /// Nesting exceeds the decoder's recursion limit.
    #[error("nesting deeper than {limit}")]
    TooDeep {
        /// The limit that was exceeded.
        limit: usize,
    },
    /// A value is structurally valid bytes but semantically invalid.
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// Which value.
        what: &'static str,
        /// Why it is invalid.
        reason: &'static str,
    },
}

/// A decoding failure: what went wrong and at which byte offset of the input.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("at byte {offset}: {kind}")]
pub struct DecodeError {
    /// Offset (from the start of the decoded input) where the problem was detected.
    pub offset: usize,
    /// What was wrong.
    pub kind: DecodeErrorKind,
}

/// A cursor over a byte slice with octez's `Data_encoding` primitives.
///
/// Offsets in errors are absolute positions in the slice given to [`Reader::new`].
#[derive(Clone)]
pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    /// End of the readable window (a dynamic-size value narrows it temporarily).
    limit: usize,
}

impl fmt::Debug for Reader<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reader")
            .field("pos", &self.pos)
            .field("limit", &self.limit)
            .field("len", &self.data.len())
            .finish()
    }
}

impl<'a> Reader<'a> {
    /// A reader positioned at the start of `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Reader {
            data,
            pos: 0,
            limit: data.len(),
        }
    }

    /// Current offset in the input.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Bytes left before the end of the current window.
    pub fn remaining(&self) -> usize {
        self.limit - self.pos
    }

    /// Whether the current window is exhausted.
    pub fn is_empty(&self) -> bool {
        self.pos == self.limit
    }

    /// An error of `kind` at the current position.
    pub fn error(&self, kind: DecodeErrorKind) -> DecodeError {
        DecodeError {
            offset: self.pos,
            kind,
        }
    }

    /// An error of `kind` at an explicit offset.
    pub fn error_at(&self, offset: usize, kind: DecodeErrorKind) -> DecodeError {
        DecodeError { offset, kind }
    }

    /// Fails with [`DecodeErrorKind::TrailingBytes`] unless the window is exhausted.
    pub fn finish(&self) -> Result<(), DecodeError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(self.error(DecodeErrorKind::TrailingBytes {
                remaining: self.remaining(),
            }))
        }
    }

    /// Reads exactly `n` bytes.
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.remaining() < n {
            return Err(self.error(DecodeErrorKind::UnexpectedEof {
                needed: n - self.remaining(),
            }));
        }
        let out = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    /// Reads a fixed-size array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.bytes(N)?);
        Ok(out)
    }

    /// Reads everything left in the current window (`Variable` bytes).
    pub fn rest(&mut self) -> &'a [u8] {
        let out = &self.data[self.pos..self.limit];
        self.pos = self.limit;
        out
    }

    /// Reads one byte.
    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.bytes(1)?[0])
    }

    /// Reads a big-endian `uint16`.
    pub fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    /// Reads a big-endian `int32`.
    pub fn i32(&mut self) -> Result<i32, DecodeError> {
        Ok(i32::from_be_bytes(self.array()?))
    }

    /// Reads a big-endian `uint32`.
    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    /// Reads a big-endian `int64`.
    pub fn i64(&mut self) -> Result<i64, DecodeError> {
        Ok(i64::from_be_bytes(self.array()?))
    }

    /// Reads a `bool` or an option's presence flag.
    ///
    /// `Data_encoding` writes 0x00 / 0xff and reads any non-zero byte as `true`; so do we.
    pub fn bool(&mut self) -> Result<bool, DecodeError> {
        Ok(self.u8()? != 0)
    }

    /// Reads a `uint30` length (4 bytes big-endian, at most 2^30 - 1).
    pub fn u30(&mut self) -> Result<usize, DecodeError> {
        let at = self.pos;
        let len = self.u32()?;
        if len > MAX_UINT30 {
            return Err(self.error_at(at, DecodeErrorKind::Uint30Overflow { len }));
        }
        Ok(len as usize)
    }

    /// Reads a `uint30` length prefix and checks that that many bytes remain.
    fn length_prefix(&mut self) -> Result<usize, DecodeError> {
        let at = self.pos;
        let len = self.u30()?;
        if len > self.remaining() {
            return Err(self.error_at(
                at,
                DecodeErrorKind::LengthTooLarge {
                    len,
                    available: self.remaining(),
                },
            ));
        }
        Ok(len)
    }

    /// Reads a `uint30`-prefixed byte string (`Data_encoding.bytes`).
    pub fn dynamic_bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let len = self.length_prefix()?;
        self.bytes(len)
    }

    /// Reads a `uint30`-prefixed UTF-8 string.
    pub fn dynamic_string(&mut self, what: &'static str) -> Result<&'a str, DecodeError> {
        let at = self.pos;
        let raw = self.dynamic_bytes()?;
        core::str::from_utf8(raw)
            .map_err(|_| self.error_at(at, DecodeErrorKind::InvalidUtf8 { what }))
    }

    /// Runs `f` on the next `uint30`-prefixed window and checks that `f` consumed all of it.
    ///
    /// This is how `Data_encoding` reads a dynamic-size value such as a list.
    pub fn dynamic<T>(
        &mut self,
        f: impl FnOnce(&mut Reader<'a>) -> Result<T, DecodeError>,
    ) -> Result<T, DecodeError> {
        let len = self.length_prefix()?;
        let saved = self.limit;
        self.limit = self.pos + len;
        let result = f(self).and_then(|v| self.finish().map(|()| v));
        self.limit = saved;
        result
    }

    /// Reads a zarith natural (`Data_encoding.n`) that must fit in a `u64`.
    pub fn n_u64(&mut self) -> Result<u64, DecodeError> {
        let at = self.pos;
        let z = self.n()?;
        z.to_u64()
            .ok_or_else(|| self.error_at(at, DecodeErrorKind::Overflow { what: "natural" }))
    }

    /// Reads a zarith natural (`Data_encoding.n`) of any size.
    pub fn n(&mut self) -> Result<Zarith, DecodeError> {
        let b0 = self.u8()?;
        let groups = self.groups_from(b0, 7)?;
        Ok(Zarith::from_groups(false, &groups))
    }

    /// The groups of a zarith number whose first byte is `b0`, holding `bits` value bits (7 for
    /// a natural, 6 after an integer's sign bit), least significant first.
    fn groups_from(&mut self, b0: u8, bits: u8) -> Result<Vec<(u8, u8)>, DecodeError> {
        let mut groups = Vec::new();
        groups.push((b0 & ((1 << bits) - 1), bits));
        let mut more = b0 & 0x80 != 0;
        while more {
            let (group, next) = self.next_group()?;
            groups.push((group, 7u8));
            more = next;
        }
        Ok(groups)
    }

    /// The next 7-bit group of a zarith number after its first byte, and whether another
    /// follows; a last byte of 0 is [`DecodeErrorKind::ZarithTrailingZero`] (octez accepts only
    /// the shortest encoding).
    fn next_group(&mut self) -> Result<(u8, bool), DecodeError> {
        let at = self.pos;
        let b = self.u8()?;
        let more = b & 0x80 != 0;
        if !more && b == 0 {
            return Err(self.error_at(at, DecodeErrorKind::ZarithTrailingZero));
        }
        Ok((b & 0x7f, more))
    }

    /// Reads a zarith integer (`Data_encoding.z`): first byte carries a sign bit and 6 bits.
    pub fn z(&mut self) -> Result<Zarith, DecodeError> {
        let b0 = self.u8()?;
        let negative = b0 & 0x40 != 0;
        let groups = self.groups_from(b0, 6)?;
        Ok(Zarith::from_groups(negative, &groups))
    }

    /// A zarith number that must fit a `u64` (a counter, a length): what `z()?.to_u64()`
    /// accepts, read without building the arbitrary-precision [`Zarith`] (no allocation). A
    /// negative or larger value is [`DecodeErrorKind::Invalid`] for `what`, at its first byte;
    /// negative zero reads as 0.
    pub fn z_u64(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        let start = self.pos;
        let b0 = self.u8()?;
        let negative = b0 & 0x40 != 0;
        let mut value = u64::from(b0 & 0x3f);
        let mut shift = 6u32;
        let mut more = b0 & 0x80 != 0;
        let mut too_large = false;
        while more {
            let (group, next) = self.next_group()?;
            more = next;
            let group = u64::from(group);
            if shift < 64 {
                value |= group << shift;
                // The group's bits that `<<` pushed past bit 63.
                too_large |= shift > 57 && group >> (64 - shift) != 0;
            } else {
                too_large |= group != 0;
            }
            shift = shift.saturating_add(7);
        }
        if too_large || negative && value != 0 {
            return Err(self.error_at(
                start,
                DecodeErrorKind::Invalid {
                    what,
                    reason: "negative or above 2^64-1",
                },
            ));
        }
        Ok(value)
    }
}

/// Appends one byte.
pub fn put_u8(out: &mut Vec<u8>, v: u8) {
    out.push(v);
}

/// Appends a big-endian `uint16`.
pub fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// Appends a big-endian `int32`.
pub fn put_i32(out: &mut Vec<u8>, v: i32) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// Appends a big-endian `uint32`.
pub fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// Appends a big-endian `int64`.
pub fn put_i64(out: &mut Vec<u8>, v: i64) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// Appends a `bool` or an option's presence flag (0x00 / 0xff).
pub fn put_bool(out: &mut Vec<u8>, v: bool) {
    out.push(if v { 0xff } else { 0x00 });
}

/// Appends a `uint30` length prefix.
///
/// # Panics
/// If `len` exceeds 2^30 - 1, which no in-memory value the rollup handles can reach
/// (`Data_encoding` raises in the same case).
pub fn put_u30(out: &mut Vec<u8>, len: usize) {
    assert!(len <= MAX_UINT30 as usize, "length {len} exceeds uint30");
    put_u32(out, len as u32);
}

/// Appends `uint30`-prefixed bytes.
pub fn put_dynamic_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_u30(out, bytes.len());
    out.extend_from_slice(bytes);
}

/// Appends a `uint30` length prefix followed by whatever `f` writes.
pub fn put_dynamic(out: &mut Vec<u8>, f: impl FnOnce(&mut Vec<u8>)) {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    f(out);
    let len = out.len() - start - 4;
    assert!(len <= MAX_UINT30 as usize, "length {len} exceeds uint30");
    out[start..start + 4].copy_from_slice(&(len as u32).to_be_bytes());
}

/// Appends a zarith natural (`Data_encoding.n`).
pub fn put_n_u64(out: &mut Vec<u8>, v: u64) {
    put_n(out, &Zarith::from_u64(v));
}

/// Appends a zarith natural; the sign of `v` is ignored (callers pass non-negative values).
pub fn put_n(out: &mut Vec<u8>, v: &Zarith) {
    let mut bits = BitReader::new(&v.magnitude);
    loop {
        let g = bits.take(7);
        if bits.done() {
            out.push(g);
            break;
        }
        out.push(g | 0x80);
    }
}

/// Appends a zarith integer (`Data_encoding.z`).
pub fn put_z(out: &mut Vec<u8>, v: &Zarith) {
    let mut bits = BitReader::new(&v.magnitude);
    let sign = if v.negative { 0x40 } else { 0 };
    let g = bits.take(6);
    if bits.done() {
        out.push(g | sign);
        return;
    }
    out.push(g | sign | 0x80);
    loop {
        let g = bits.take(7);
        if bits.done() {
            out.push(g);
            break;
        }
        out.push(g | 0x80);
    }
}

/// Reads the bits of a big-endian magnitude from the least significant end.
struct BitReader<'a> {
    mag: &'a [u8],
    /// Bit index from the least significant bit.
    bit: usize,
}

impl<'a> BitReader<'a> {
    fn new(mag: &'a [u8]) -> Self {
        BitReader { mag, bit: 0 }
    }

    fn total_bits(&self) -> usize {
        match self.mag.first() {
            None => 0,
            Some(&top) => (self.mag.len() - 1) * 8 + (8 - top.leading_zeros() as usize),
        }
    }

    fn take(&mut self, n: usize) -> u8 {
        let mut v = 0u8;
        for i in 0..n {
            let b = self.bit + i;
            let byte_from_end = b / 8;
            if byte_from_end < self.mag.len() {
                let byte = self.mag[self.mag.len() - 1 - byte_from_end];
                if byte >> (b % 8) & 1 == 1 {
                    v |= 1 << i;
                }
            }
        }
        self.bit += n;
        v
    }

    fn done(&self) -> bool {
        self.bit >= self.total_bits()
    }
}

/// An arbitrary-precision integer as zarith stores it: a sign and a big-endian magnitude.
///
/// The representation is canonical: the magnitude has no leading zero bytes and zero is
/// never negative, so derived equality is numeric equality.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Zarith {
    negative: bool,
    magnitude: Vec<u8>,
}

/// Why a decimal string is not an integer.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseIntError {
    /// The string has no digits.
    #[error("empty integer")]
    Empty,
    /// A character other than a decimal digit (after an optional leading `-`).
    #[error("invalid digit {} at index {index}", super::quote::QuotedChar(*.found))]
    InvalidDigit {
        /// Byte index of the character.
        index: usize,
        /// The character found.
        found: char,
    },
}

impl Zarith {
    /// Zero.
    pub fn zero() -> Self {
        Zarith::default()
    }

    /// Builds from a sign and a big-endian magnitude (leading zeros are stripped).
    pub fn from_sign_magnitude(negative: bool, magnitude: &[u8]) -> Self {
        let start = magnitude
            .iter()
            .position(|&b| b != 0)
            .unwrap_or(magnitude.len());
        let magnitude = magnitude[start..].to_vec();
        let negative = negative && !magnitude.is_empty();
        Zarith {
            negative,
            magnitude,
        }
    }

    /// Whether the value is negative.
    pub fn is_negative(&self) -> bool {
        self.negative
    }

    /// Big-endian magnitude without leading zeros (empty for zero).
    pub fn magnitude(&self) -> &[u8] {
        &self.magnitude
    }

    /// From an `i128`.
    pub fn from_i128(v: i128) -> Self {
        Zarith::from_sign_magnitude(v < 0, &v.unsigned_abs().to_be_bytes())
    }

    /// From a `u64`.
    pub fn from_u64(v: u64) -> Self {
        Zarith::from_sign_magnitude(false, &v.to_be_bytes())
    }

    /// The value as an `i128`, if it fits.
    pub fn to_i128(&self) -> Option<i128> {
        if self.magnitude.len() > 16 {
            return None;
        }
        let mut buf = [0u8; 16];
        buf[16 - self.magnitude.len()..].copy_from_slice(&self.magnitude);
        let m = u128::from_be_bytes(buf);
        if self.negative {
            if m <= i128::MAX as u128 + 1 {
                Some((m as i128).wrapping_neg())
            } else {
                None
            }
        } else {
            i128::try_from(m).ok()
        }
    }

    /// The value as a `u64`, if it is non-negative and fits.
    pub fn to_u64(&self) -> Option<u64> {
        if self.negative || self.magnitude.len() > 8 {
            return None;
        }
        let mut buf = [0u8; 8];
        buf[8 - self.magnitude.len()..].copy_from_slice(&self.magnitude);
        Some(u64::from_be_bytes(buf))
    }

    /// Parses an optionally `-`-prefixed decimal string of any length.
    pub fn from_decimal(s: &str) -> Result<Self, ParseIntError> {
        let (negative, digits, offset) = match s.strip_prefix('-') {
            Some(rest) => (true, rest, 1),
            None => (false, s, 0),
        };
        if digits.is_empty() {
            return Err(ParseIntError::Empty);
        }
        // Little-endian base-256 accumulator.
        let mut acc: Vec<u8> = Vec::new();
        for (i, c) in digits.char_indices() {
            let d = c.to_digit(10).ok_or(ParseIntError::InvalidDigit {
                index: i + offset,
                found: c,
            })?;
            let mut carry = d;
            for byte in acc.iter_mut() {
                let v = u32::from(*byte) * 10 + carry;
                *byte = v as u8;
                carry = v >> 8;
            }
            while carry > 0 {
                acc.push(carry as u8);
                carry >>= 8;
            }
        }
        acc.reverse();
        Ok(Zarith::from_sign_magnitude(negative, &acc))
    }

    /// Builds from 7/6-bit groups, least significant first (as zarith lays them out).
    fn from_groups(negative: bool, groups: &[(u8, u8)]) -> Self {
        let total: usize = groups.iter().map(|&(_, w)| usize::from(w)).sum();
        let mut le = alloc::vec![0u8; total.div_ceil(8)];
        let mut bit = 0usize;
        for &(g, w) in groups {
            for i in 0..w {
                if g >> i & 1 == 1 {
                    le[(bit + usize::from(i)) / 8] |= 1 << ((bit + usize::from(i)) % 8);
                }
            }
            bit += usize::from(w);
        }
        le.reverse();
        Zarith::from_sign_magnitude(negative, &le)
    }
}

impl fmt::Display for Zarith {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.magnitude.is_empty() {
            return f.write_str("0");
        }
        // Repeated division by 10 of the big-endian magnitude.
        let mut num = self.magnitude.clone();
        let mut digits = Vec::new();
        while !num.is_empty() {
            let mut rem = 0u32;
            for byte in num.iter_mut() {
                let v = (rem << 8) | u32::from(*byte);
                *byte = (v / 10) as u8;
                rem = v % 10;
            }
            digits.push(b'0' + rem as u8);
            let start = num.iter().position(|&b| b != 0).unwrap_or(num.len());
            num.drain(..start);
        }
        if self.negative {
            f.write_str("-")?;
        }
        for d in digits.iter().rev() {
            write!(f, "{}", *d as char)?;
        }
        Ok(())
    }
}

impl fmt::Debug for Zarith {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Zarith({self})")
    }
}

impl From<i64> for Zarith {
    fn from(v: i64) -> Self {
        Zarith::from_i128(i128::from(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    fn enc_z(v: i128) -> Vec<u8> {
        let mut out = Vec::new();
        put_z(&mut out, &Zarith::from_i128(v));
        out
    }

    #[test]
    fn z_known_encodings() {
        // Values checked against octez `Data_encoding.z` outputs.
        assert_eq!(enc_z(0), vec![0x00]);
        assert_eq!(enc_z(1), vec![0x01]);
        assert_eq!(enc_z(-1), vec![0x41]);
        assert_eq!(enc_z(63), vec![0x3f]);
        assert_eq!(enc_z(64), vec![0x80, 0x01]);
        assert_eq!(enc_z(-64), vec![0xc0, 0x01]);
        assert_eq!(enc_z(1000), vec![0xa8, 0x0f]);
    }

    #[test]
    fn n_known_encodings() {
        let enc = |v| {
            let mut out = Vec::new();
            put_n_u64(&mut out, v);
            out
        };
        assert_eq!(enc(0), vec![0x00]);
        assert_eq!(enc(127), vec![0x7f]);
        assert_eq!(enc(128), vec![0x80, 0x01]);
        assert_eq!(enc(300), vec![0xac, 0x02]);
    }

    #[test]
    fn z_u64_reads_what_z_then_to_u64_accepts() {
        let mut cases: Vec<Vec<u8>> = [0, 1, 63, 64, 127, 128, 1000, -1, -64, 1 << 40]
            .iter()
            .chain(&[
                1 << 57,
                (1 << 58) - 1,
                1 << 62,
                1 << 63,
                i128::from(u64::MAX) - 1,
            ])
            .chain(&[
                i128::from(u64::MAX),
                i128::from(u64::MAX) + 1,
                (1 << 64) + (1 << 63),
            ])
            .chain(&[1 << 70, 1 << 71, 1 << 80, -(1 << 70)])
            .map(|&v| enc_z(v))
            .collect();
        // Negative zero, non-canonical leading groups, a trailing zero, and truncations.
        cases.extend([
            vec![0x40],
            vec![0x80, 0x80, 0x01],
            vec![0x80, 0x00],
            vec![0x80],
            vec![],
        ]);
        for bytes in cases {
            let slow = Reader::new(&bytes).z().map(|z| z.to_u64());
            let fast = Reader::new(&bytes).z_u64("counter");
            match (slow, fast) {
                (Ok(Some(a)), Ok(b)) => assert_eq!(a, b, "{bytes:02x?}"),
                (Ok(None), Err(e)) => {
                    assert_eq!(e.offset, 0, "{bytes:02x?}");
                    assert!(matches!(
                        e.kind,
                        DecodeErrorKind::Invalid {
                            what: "counter",
                            ..
                        }
                    ));
                }
                (Err(a), Err(b)) => assert_eq!(a, b, "{bytes:02x?}"),
                (slow, fast) => panic!("{bytes:02x?}: z {slow:?}, z_u64 {fast:?}"),
            }
        }
    }

    #[test]
    fn zarith_trailing_zero_rejected() {
        let err = Reader::new(&[0x80, 0x00]).z().unwrap_err();
        assert_eq!(err.offset, 1);
        assert_eq!(err.kind, DecodeErrorKind::ZarithTrailingZero);
        let err = Reader::new(&[0x81, 0x80, 0x00]).n().unwrap_err();
        assert_eq!(err.offset, 2);
    }

    #[test]
    fn decimal_round_trip() {
        for s in [
            "0",
            "1",
            "-1",
            "255",
            "256",
            "-123456789012345678901234567890",
        ] {
            assert_eq!(Zarith::from_decimal(s).unwrap().to_string(), s);
        }
        assert_eq!(Zarith::from_decimal("-0").unwrap(), Zarith::zero());
        assert_eq!(Zarith::from_decimal("007").unwrap().to_string(), "7");
        assert_eq!(
            Zarith::from_decimal("12a"),
            Err(ParseIntError::InvalidDigit {
                index: 2,
                found: 'a'
            })
        );
    }

    #[test]
    fn i128_bounds() {
        for v in [i128::MIN, i128::MAX, 0, -1, 1] {
            let z = Zarith::from_i128(v);
            assert_eq!(z.to_i128(), Some(v));
            let bytes = {
                let mut o = Vec::new();
                put_z(&mut o, &z);
                o
            };
            let mut r = Reader::new(&bytes);
            assert_eq!(r.z().unwrap(), z);
            r.finish().unwrap();
        }
    }

    #[test]
    fn dynamic_window_checks_consumption() {
        let data = [0, 0, 0, 2, 1, 2, 3];
        let mut r = Reader::new(&data);
        let err = r.dynamic(|r| r.u8()).unwrap_err();
        assert_eq!(
            err,
            DecodeError {
                offset: 5,
                kind: DecodeErrorKind::TrailingBytes { remaining: 1 }
            }
        );
        let mut r = Reader::new(&data);
        let v = r.dynamic(|r| r.u16()).unwrap();
        assert_eq!(v, 0x0102);
        assert_eq!(r.u8().unwrap(), 3);
        let err = Reader::new(&[0, 0, 0, 9, 1]).dynamic_bytes().unwrap_err();
        assert_eq!(
            err.kind,
            DecodeErrorKind::LengthTooLarge {
                len: 9,
                available: 1
            }
        );
        assert_eq!(err.offset, 0);
    }
}
