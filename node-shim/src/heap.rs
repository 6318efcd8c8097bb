//! The allocator of Soru's native programs (and of this crate's tests): mimalloc for small
//! blocks, the C library's `malloc` for large ones.
//!
//! The state tree allocates and frees a small node for each entry a level touches; there
//! mimalloc takes about a fifth less CPU time than glibc's malloc (README, Performance). A
//! kernel's linear memory is one large block that every `memory.grow` reallocates: glibc keeps
//! a block that large in a mapping of its own and grows it with `mremap`, without copying it,
//! where mimalloc copies it into a new block. With mimalloc alone, a kernel growing its memory
//! a page at a time to the 1 GiB ceiling took 3.6 s and peaked at 1.86 GB of memory, against
//! 1.1 s and 1.06 GB; hence the split.

use core::alloc::{GlobalAlloc, Layout};
use core::ptr;

use mimalloc::MiMalloc;

/// Blocks of at least this many bytes come from `malloc` (glibc maps blocks from 128 KiB up,
/// and always from 32 MiB up).
const LARGE: usize = 256 * 1024;

/// The alignment every `malloc` guarantees; blocks that need more stay with mimalloc.
const MALLOC_ALIGN: usize = 8;

/// mimalloc below 256 KiB, `malloc` from there (see the module documentation).
pub struct Heap;

/// Whether a block of `size` bytes aligned to `align` is `malloc`'s.
fn large(size: usize, align: usize) -> bool {
    size >= LARGE && align <= MALLOC_ALIGN
}

// SAFETY: each block is freed and reallocated by the allocator that made it: `large` gives the
// same answer for a block's layout at allocation and at deallocation, and `realloc` moves a
// block whose size crosses `LARGE` from one allocator to the other.
unsafe impl GlobalAlloc for Heap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if large(layout.size(), layout.align()) {
            // SAFETY: any size is a valid argument to malloc.
            unsafe { libc::malloc(layout.size()).cast() }
        } else {
            // SAFETY: forwarded with the caller's guarantees.
            unsafe { MiMalloc.alloc(layout) }
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if large(layout.size(), layout.align()) {
            // SAFETY: as for malloc; calloc leaves fresh mappings untouched instead of zeroing.
            unsafe { libc::calloc(1, layout.size()).cast() }
        } else {
            // SAFETY: forwarded with the caller's guarantees.
            unsafe { MiMalloc.alloc_zeroed(layout) }
        }
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        if large(layout.size(), layout.align()) {
            // SAFETY: the block came from malloc, calloc or realloc (see `large`).
            unsafe { libc::free(block.cast()) }
        } else {
            // SAFETY: the block came from mimalloc with this layout.
            unsafe { MiMalloc.dealloc(block, layout) }
        }
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let align = layout.align();
        match (large(layout.size(), align), large(new_size, align)) {
            // SAFETY: the block is malloc's (see `large`).
            (true, true) => unsafe { libc::realloc(block.cast(), new_size).cast() },
            // SAFETY: the block is mimalloc's, with this layout.
            (false, false) => unsafe { MiMalloc.realloc(block, layout, new_size) },
            _ => {
                // SAFETY: `new_size` with the block's alignment is a valid layout (the caller's
                // guarantee for realloc).
                let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, align) };
                // SAFETY: a non-zero size (realloc's contract).
                let moved = unsafe { self.alloc(new_layout) };
                if !moved.is_null() {
                    // SAFETY: both blocks hold at least the smaller size and are distinct.
                    unsafe {
                        ptr::copy_nonoverlapping(block, moved, layout.size().min(new_size));
                        self.dealloc(block, layout);
                    }
                }
                moved
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Allocates `size` bytes from `Heap` directly, fills them with a pattern, moves them to
    /// `new_size` bytes and checks the pattern survived.
    fn moved_keeps_its_bytes(size: usize, new_size: usize) {
        let layout = Layout::from_size_align(size, 1).unwrap();
        // SAFETY: the block is used within its sizes and freed with its last layout.
        unsafe {
            let block = Heap.alloc(layout);
            assert!(!block.is_null());
            for i in 0..size {
                *block.add(i) = (i % 251) as u8;
            }
            let moved = Heap.realloc(block, layout, new_size);
            assert!(!moved.is_null());
            for i in 0..size.min(new_size) {
                assert_eq!(
                    *moved.add(i),
                    (i % 251) as u8,
                    "byte {i} of {size} -> {new_size}"
                );
            }
            Heap.dealloc(moved, Layout::from_size_align(new_size, 1).unwrap());
        }
    }

    #[test]
    fn blocks_keep_their_bytes_when_they_move_between_the_allocators() {
        moved_keeps_its_bytes(1000, 2000);
        moved_keeps_its_bytes(1000, LARGE);
        moved_keeps_its_bytes(LARGE + 7, 100);
        moved_keeps_its_bytes(LARGE, 4 * LARGE);
        moved_keeps_its_bytes(4 * LARGE, LARGE - 1);
    }

    #[test]
    fn large_zeroed_blocks_are_zero() {
        let v = vec![0u8; 8 * LARGE];
        assert!(v.iter().all(|&b| b == 0));
        let mut w: Vec<u64> = Vec::with_capacity(LARGE);
        w.resize(LARGE, 7);
        assert!(w.iter().all(|&x| x == 7));
    }
}
