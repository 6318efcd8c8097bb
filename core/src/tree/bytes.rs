//! Short byte strings stored inline: steps and values of durable storage are mostly a few
//! bytes (`@`, `length`, `contents`, `0`, 8-byte lengths, 32-byte hashes), and a heap
//! allocation per step and per value would cost more than the bytes themselves.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::ops::Deref;
use spin::Once;

/// Bytes of at most `N` are kept inline; longer ones on the heap. Dereferences to `[u8]`, so
/// code reads it as a slice whatever the storage.
#[derive(Clone)]
pub(crate) enum SmallBytes<const N: usize> {
    /// `len` bytes at the start of `buf`.
    Inline { len: u8, buf: [u8; N] },
    /// Longer than `N` bytes. Behind a thin pointer, so `SmallBytes<14>` (a step) takes 16
    /// bytes: one more allocation for a long step, 8 bytes fewer for every entry.
    Heap(Box<Box<[u8]>>),
}

impl<const N: usize> SmallBytes<N> {
    /// A copy of `bytes`.
    pub(crate) fn new(bytes: &[u8]) -> Self {
        match u8::try_from(bytes.len()) {
            Ok(len) if bytes.len() <= N => {
                let mut buf = [0; N];
                buf[..bytes.len()].copy_from_slice(bytes);
                SmallBytes::Inline { len, buf }
            }
            _ => SmallBytes::Heap(Box::new(bytes.into())),
        }
    }
}

impl<const N: usize> Deref for SmallBytes<N> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            SmallBytes::Inline { len, buf } => &buf[..usize::from(*len)],
            SmallBytes::Heap(b) => &b[..],
        }
    }
}

impl<const N: usize> From<&[u8]> for SmallBytes<N> {
    fn from(bytes: &[u8]) -> Self {
        SmallBytes::new(bytes)
    }
}

/// A value's bytes. Durable storage keeps every chunk of a value as a full 512-byte string (the
/// last one padded with zeros), so most chunks end in a long run of zeros: those are kept as
/// the bytes before the zeros and the total length. The bytes a value *is* (and hashes as)
/// never depend on the representation.
#[derive(Clone)]
pub(crate) enum ValueBytes {
    /// The bytes as they are.
    Plain(SmallBytes<32>),
    /// Bytes ending in at least [`MIN_ZERO_TAIL`] zeros.
    Padded(Box<Padded>),
}

/// A value kept as its bytes before a tail of zeros.
pub(crate) struct Padded {
    /// The bytes before the zero tail (they do not end in a zero); inline up to 14 (a short
    /// value in its padded chunk: no allocation besides the box).
    head: SmallBytes<14>,
    /// The total length, zeros included.
    len: usize,
    /// The full bytes, built on the first read that needs them as one slice.
    full: Once<Box<[u8]>>,
}

impl Clone for Padded {
    fn clone(&self) -> Padded {
        Padded {
            head: self.head.clone(),
            len: self.len,
            full: Once::new(),
        }
    }
}

/// Shortest zero tail worth a [`ValueBytes::Padded`] representation.
pub(crate) const MIN_ZERO_TAIL: usize = 64;

impl ValueBytes {
    /// A copy of `bytes`.
    pub(crate) fn new(bytes: &[u8]) -> Self {
        // The zero tail, 32 bytes at a time (chunks are mostly zeros; an OR over the 32 bytes
        // compiles to a few vector instructions, where comparing slices called `memcmp`).
        let mut head = bytes.len();
        while head >= 32 && bytes[head - 32..head].iter().fold(0, |a, &b| a | b) == 0 {
            head -= 32;
        }
        while head > 0 && bytes[head - 1] == 0 {
            head -= 1;
        }
        if bytes.len() - head >= MIN_ZERO_TAIL {
            ValueBytes::Padded(Box::new(Padded {
                head: bytes[..head].into(),
                len: bytes.len(),
                full: Once::new(),
            }))
        } else {
            ValueBytes::Plain(SmallBytes::new(bytes))
        }
    }

    /// The value made of `head` followed by zeros up to `len` bytes (`len >= head.len()`),
    /// without building the zeros when they are a long tail.
    pub(crate) fn from_parts(head: &[u8], len: usize) -> Self {
        let head = match head.iter().rposition(|&b| b != 0) {
            Some(last) => &head[..=last],
            None => &[],
        };
        if len - head.len() >= MIN_ZERO_TAIL {
            ValueBytes::Padded(Box::new(Padded {
                head: head.into(),
                len,
                full: Once::new(),
            }))
        } else {
            let mut v = Vec::with_capacity(len);
            v.extend_from_slice(head);
            v.resize(len, 0);
            ValueBytes::new(&v)
        }
    }

    /// The length of the value.
    pub(crate) fn len(&self) -> usize {
        match self {
            ValueBytes::Plain(b) => b.len(),
            ValueBytes::Padded(p) => p.len,
        }
    }

    /// The bytes before the zero tail (the whole value for a plain one), and the value length.
    pub(crate) fn parts(&self) -> (&[u8], usize) {
        match self {
            ValueBytes::Plain(b) => (b, b.len()),
            ValueBytes::Padded(p) => (&p.head[..], p.len),
        }
    }

    /// The value as one slice (a padded value builds it once and keeps it; readers that can
    /// work on [`ValueBytes::parts`] avoid that).
    pub(crate) fn full(&self) -> &[u8] {
        match self {
            ValueBytes::Plain(b) => b,
            ValueBytes::Padded(p) => p.full.call_once(|| self.to_vec().into_boxed_slice()),
        }
    }

    /// A fresh copy of the value's bytes.
    pub(crate) fn to_vec(&self) -> Vec<u8> {
        let (head, len) = self.parts();
        let mut v = Vec::with_capacity(len);
        v.extend_from_slice(head);
        v.resize(len, 0);
        v
    }

    /// Copies the first `out.len()` bytes of the value (at most its length) into `out`;
    /// returns how many were copied.
    pub(crate) fn copy_prefix(&self, out: &mut [u8]) -> usize {
        let (head, len) = self.parts();
        let n = out.len().min(len);
        let h = n.min(head.len());
        out[..h].copy_from_slice(&head[..h]);
        out[h..n].fill(0);
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_tails_are_kept_short() {
        let mut chunk = [0u8; 512];
        chunk[..8].copy_from_slice(b"12345678");
        let v = ValueBytes::new(&chunk);
        assert!(matches!(v, ValueBytes::Padded(_)));
        assert_eq!(v.parts(), (&b"12345678"[..], 512));
        assert_eq!(v.len(), 512);
        assert_eq!(v.to_vec(), chunk.to_vec());
        assert_eq!(v.full(), &chunk[..]);
        let mut out = [7u8; 16];
        assert_eq!(v.copy_prefix(&mut out), 16);
        assert_eq!(&out[..8], b"12345678");
        assert_eq!(&out[8..], &[0; 8]);
        let zeros = ValueBytes::new(&[0; 64]);
        assert_eq!(zeros.parts(), (&[][..], 64));
        for short in [&[0u8; 63][..], b"", b"abc", &[1; 300]] {
            let v = ValueBytes::new(short);
            assert!(matches!(v, ValueBytes::Plain(_)));
            assert_eq!(v.full(), short);
        }
    }

    #[test]
    fn inline_up_to_n_heap_beyond() {
        for len in [0usize, 1, 14, 15, 22, 23, 300] {
            let v: alloc::vec::Vec<u8> = (0..len).map(|i| i as u8).collect();
            let s = SmallBytes::<14>::new(&v);
            assert_eq!(&*s, &v[..]);
            assert_eq!(matches!(s, SmallBytes::Inline { .. }), len <= 14);
        }
        // Steps take 16 bytes; values fit a 32-byte hash inline.
        assert_eq!(core::mem::size_of::<SmallBytes<14>>(), 16);
        assert!(core::mem::size_of::<SmallBytes<32>>() <= 40);
    }
}
