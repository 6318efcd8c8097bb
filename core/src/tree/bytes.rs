//! Short byte strings stored inline: steps and values of durable storage are mostly a few
//! bytes (`@`, `length`, `contents`, `0`, 8-byte lengths, 32-byte hashes), and a heap
//! allocation per step and per value would cost more than the bytes themselves.

use alloc::boxed::Box;
use core::ops::Deref;

/// Bytes of at most `N` are kept inline; longer ones on the heap. Dereferences to `[u8]`, so
/// code reads it as a slice whatever the storage.
#[derive(Clone)]
pub(crate) enum SmallBytes<const N: usize> {
    /// `len` bytes at the start of `buf`.
    Inline { len: u8, buf: [u8; N] },
    /// Longer than `N` bytes.
    Heap(Box<[u8]>),
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
            _ => SmallBytes::Heap(bytes.into()),
        }
    }
}

impl<const N: usize> Deref for SmallBytes<N> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            SmallBytes::Inline { len, buf } => &buf[..usize::from(*len)],
            SmallBytes::Heap(b) => b,
        }
    }
}

impl<const N: usize> From<&[u8]> for SmallBytes<N> {
    fn from(bytes: &[u8]) -> Self {
        SmallBytes::new(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_up_to_n_heap_beyond() {
        for len in [0usize, 1, 22, 23, 300] {
            let v: alloc::vec::Vec<u8> = (0..len).map(|i| i as u8).collect();
            let s = SmallBytes::<22>::new(&v);
            assert_eq!(&*s, &v[..]);
            assert_eq!(matches!(s, SmallBytes::Inline { .. }), len <= 22);
        }
        // Steps stay as small as a boxed slice plus a tag; values fit a 32-byte hash inline.
        assert_eq!(core::mem::size_of::<SmallBytes<22>>(), 24);
        assert!(core::mem::size_of::<SmallBytes<32>>() <= 40);
    }
}
