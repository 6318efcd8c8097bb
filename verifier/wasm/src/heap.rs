//! The allocator of the npm package's WebAssembly (installed on `wasm32` only).
//!
//! The Rust standard library's wasm allocator (dlmalloc) is about a twentieth of the proof
//! entry's code; this one is a few hundred bytes. Blocks come in power-of-two size classes from
//! 16 bytes to 2 GiB, each class with its own free list threaded through the free blocks, so a
//! freed block is reused by the next request of its class and a long-lived page verifying proof
//! after proof stays at the memory its largest proof needed. Fresh blocks are carved from a bump
//! region that grows by whole 64 KiB pages; a block of `2^k` bytes is aligned to `2^k` (at most a
//! page), and the gap aligning leaves is split into smaller free blocks, so nothing is lost to
//! padding. Memory is never coalesced or returned (WebAssembly memory cannot shrink), so the
//! worst case is twice the peak live size per class.
//!
//! The logic is [`Heap`], generic over where pages come from ([`Pages`]), so the native tests
//! run it on an ordinary buffer; `WasmHeap` (on `wasm32`) is the global allocator over `memory.grow`.

use core::alloc::Layout;

/// Bytes of the smallest class (`2^MIN_CLASS`): room for the free list's link and the usual
/// alignment of `u64` and `u128` fields.
const MIN_CLASS: u32 = 4;
/// Number of size classes: `2^4` to `2^31` bytes.
const CLASSES: usize = (32 - MIN_CLASS) as usize;
/// A WebAssembly page.
pub const PAGE: usize = 65536;

/// A source of fresh memory in whole pages.
pub trait Pages {
    /// Adds `count` pages and returns the address of the first, or `None` when memory is
    /// exhausted.
    fn grow(&mut self, count: usize) -> Option<usize>;
}

/// Segregated power-of-two free lists over a bump region (see the module documentation).
pub struct Heap<P> {
    /// Head of each class's free list (0: empty); a free block's first word links the next.
    free: [usize; CLASSES],
    /// Next unused address of the bump region.
    next: usize,
    /// End of the bump region.
    end: usize,
    pages: P,
}

impl<P: Pages> Heap<P> {
    /// An empty heap that takes its pages from `pages`.
    pub const fn new(pages: P) -> Self {
        Heap {
            free: [0; CLASSES],
            next: 0,
            end: 0,
            pages,
        }
    }

    /// The class index of `layout`, or `None` beyond 2 GiB or for alignments above a page.
    fn class(layout: Layout) -> Option<usize> {
        if layout.align() > PAGE {
            return None;
        }
        let size = layout.size().max(layout.align()).max(1 << MIN_CLASS);
        let bits = size.checked_next_power_of_two()?.trailing_zeros();
        (bits < 32).then(|| (bits - MIN_CLASS) as usize)
    }

    /// Pushes the block at `at` onto the free list of `class`.
    ///
    /// # Safety
    /// `at` must be a writable, unused block of that class's size and alignment.
    unsafe fn push(&mut self, class: usize, at: usize) {
        // SAFETY: the caller hands over an unused, aligned block of at least 16 bytes.
        unsafe { (at as *mut usize).write(self.free[class]) };
        self.free[class] = at;
    }

    /// Allocates a block for `layout`; null when memory is exhausted.
    ///
    /// # Safety
    /// Like [`core::alloc::GlobalAlloc::alloc`]; the heap must own its region exclusively.
    pub unsafe fn alloc(&mut self, layout: Layout) -> *mut u8 {
        let Some(class) = Self::class(layout) else {
            return core::ptr::null_mut();
        };
        let head = self.free[class];
        if head != 0 {
            // SAFETY: free-list entries are unused blocks whose first word is the link.
            self.free[class] = unsafe { (head as *const usize).read() };
            return head as *mut u8;
        }
        let size = 1usize << (class as u32 + MIN_CLASS);
        let align = size.min(PAGE);
        loop {
            let start = (self.next + align - 1) & !(align - 1);
            if start.checked_add(size).is_some_and(|end| end <= self.end) {
                // SAFETY: `next..start` is unused and inside the region.
                unsafe { self.release(start) };
                self.next = start + size;
                return start as *mut u8;
            }
            let count = start
                .saturating_add(size)
                .saturating_sub(self.end)
                .div_ceil(PAGE);
            let Some(at) = self.pages.grow(count) else {
                return core::ptr::null_mut();
            };
            if at != self.end {
                // Not contiguous (first use, or someone else grew memory): the rest of the old
                // region goes to the free lists and the bump region restarts at the new pages.
                // SAFETY: `next..end` is this heap's unused region.
                unsafe { self.release(self.end) };
                self.next = at;
            }
            self.end = at + count * PAGE;
        }
    }

    /// Hands the unused bump space `next..upto` to the free lists as the largest aligned
    /// blocks that fit, then sets `next` to `upto`.
    ///
    /// # Safety
    /// `next..upto` must be unused memory of this heap; both ends are multiples of 16.
    unsafe fn release(&mut self, upto: usize) {
        while upto - self.next >= 1 << MIN_CLASS {
            let mut bits = self.next.trailing_zeros().min(31);
            while (1usize << bits) > upto - self.next {
                bits -= 1;
            }
            let at = self.next;
            // SAFETY: `at` is aligned to `2^bits` and the block lies inside `next..upto`.
            unsafe { self.push((bits - MIN_CLASS) as usize, at) };
            self.next += 1 << bits;
        }
        self.next = upto;
    }

    /// Frees a block [`Heap::alloc`] returned for `layout`.
    ///
    /// # Safety
    /// Like [`core::alloc::GlobalAlloc::dealloc`].
    pub unsafe fn dealloc(&mut self, ptr: *mut u8, layout: Layout) {
        if let Some(class) = Self::class(layout) {
            // SAFETY: the block came from this heap with this layout and is no longer used.
            unsafe { self.push(class, ptr as usize) };
        }
    }

    /// Resizes a block; keeps it in place when the new size is in the same class.
    ///
    /// # Safety
    /// Like [`core::alloc::GlobalAlloc::realloc`].
    pub unsafe fn realloc(&mut self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let Ok(new_layout) = Layout::from_size_align(new_size, layout.align()) else {
            return core::ptr::null_mut();
        };
        if Self::class(new_layout).is_some() && Self::class(new_layout) == Self::class(layout) {
            return ptr;
        }
        // SAFETY: forwarded from the caller's contract.
        unsafe {
            let new = self.alloc(new_layout);
            if !new.is_null() {
                core::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
            new
        }
    }
}

/// `memory.grow` on the module's memory 0.
#[cfg(target_arch = "wasm32")]
pub struct MemoryGrow;

#[cfg(target_arch = "wasm32")]
impl Pages for MemoryGrow {
    fn grow(&mut self, count: usize) -> Option<usize> {
        let old = core::arch::wasm32::memory_grow(0, count);
        (old != usize::MAX).then(|| old * PAGE)
    }
}

/// The global allocator of the package's WebAssembly: a [`Heap`] over `memory.grow`.
#[cfg(target_arch = "wasm32")]
pub struct WasmHeap(core::cell::UnsafeCell<Heap<MemoryGrow>>);

#[cfg(target_arch = "wasm32")]
impl WasmHeap {
    /// The empty heap.
    pub const fn new() -> Self {
        WasmHeap(core::cell::UnsafeCell::new(Heap::new(MemoryGrow)))
    }
}

// SAFETY: the package's WebAssembly is built without threads (no `atomics` target feature), so
// one instance never runs two allocations at once.
#[cfg(target_arch = "wasm32")]
unsafe impl Sync for WasmHeap {}

#[cfg(target_arch = "wasm32")]
impl Default for WasmHeap {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: `Heap` returns unused blocks of at least the layout's size and alignment.
#[cfg(target_arch = "wasm32")]
unsafe impl core::alloc::GlobalAlloc for WasmHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: single-threaded (see `Sync`), and the heap is only reached through here.
        unsafe { (*self.0.get()).alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { (*self.0.get()).dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as above.
        unsafe { (*self.0.get()).realloc(ptr, layout, new_size) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    /// Pages from a page-aligned buffer, at most `limit` of them.
    struct Buffer {
        base: usize,
        used: usize,
        limit: usize,
        _keep: Vec<u8>,
    }

    impl Buffer {
        fn new(limit: usize) -> Self {
            let keep = alloc::vec![0u8; (limit + 1) * PAGE];
            let base = (keep.as_ptr() as usize).next_multiple_of(PAGE);
            Buffer {
                base,
                used: 0,
                limit,
                _keep: keep,
            }
        }
    }

    impl Pages for Buffer {
        fn grow(&mut self, count: usize) -> Option<usize> {
            (self.used + count <= self.limit).then(|| {
                self.used += count;
                self.base + (self.used - count) * PAGE
            })
        }
    }

    fn layout(size: usize, align: usize) -> Layout {
        Layout::from_size_align(size, align).unwrap()
    }

    #[test]
    fn blocks_are_aligned_disjoint_and_keep_their_contents() {
        let mut heap = Heap::new(Buffer::new(256));
        let mut live: Vec<(*mut u8, Layout, u8)> = Vec::new();
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut rand = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for step in 0..20_000u32 {
            if live.len() > 200 || (!live.is_empty() && rand() % 3 == 0) {
                let (p, l, fill) = live.swap_remove(rand() as usize % live.len());
                let bytes = unsafe { core::slice::from_raw_parts(p, l.size()) };
                assert!(bytes.iter().all(|&b| b == fill), "block overwritten");
                unsafe { heap.dealloc(p, l) };
            } else {
                let size = match rand() % 10 {
                    0 => (rand() % 200_000) as usize,
                    _ => (rand() % 300) as usize + 1,
                };
                let l = layout(size, 1 << (rand() % 5));
                let p = unsafe { heap.alloc(l) };
                assert!(!p.is_null(), "allocation {step} of {size} bytes failed");
                assert_eq!(p as usize % l.align(), 0);
                let fill = step as u8;
                unsafe { core::ptr::write_bytes(p, fill, size) };
                live.push((p, l, fill));
            }
        }
        let mut spans: Vec<_> = live
            .iter()
            .map(|(p, l, _)| (*p as usize, l.size()))
            .collect();
        spans.sort();
        assert!(spans.windows(2).all(|w| w[0].0 + w[0].1 <= w[1].0));
    }

    #[test]
    fn freed_blocks_are_reused_before_memory_grows() {
        let mut heap = Heap::new(Buffer::new(64));
        for _ in 0..1000 {
            let a = unsafe { heap.alloc(layout(100_000, 8)) };
            let b = unsafe { heap.alloc(layout(40, 8)) };
            assert!(!a.is_null() && !b.is_null());
            unsafe {
                heap.dealloc(a, layout(100_000, 8));
                heap.dealloc(b, layout(40, 8));
            }
        }
        assert!(
            heap.pages.used <= 3,
            "{} pages for one live block",
            heap.pages.used
        );
    }

    #[test]
    fn alignment_gaps_become_free_blocks() {
        let mut heap = Heap::new(Buffer::new(4));
        let small = unsafe { heap.alloc(layout(16, 1)) };
        // A 32 KiB block is aligned to 32 KiB: the space after `small` is split into free
        // blocks of 16, 32, ..., 16 KiB, which the next small requests take without growing.
        let big = unsafe { heap.alloc(layout(32_768, 1)) };
        assert_eq!(big as usize % 32_768, 0);
        let next = unsafe { heap.alloc(layout(16, 1)) };
        assert_eq!(next as usize, small as usize + 16);
        assert_eq!(heap.pages.used, 1);
    }

    #[test]
    fn exhaustion_and_impossible_sizes_are_null() {
        let mut heap = Heap::new(Buffer::new(2));
        assert!(unsafe { heap.alloc(layout(3 * PAGE, 1)) }.is_null());
        assert!(unsafe { heap.alloc(layout(usize::MAX / 2, 1)) }.is_null());
        assert!(!unsafe { heap.alloc(layout(PAGE, 1)) }.is_null());
    }

    #[test]
    fn realloc_keeps_blocks_within_a_class_and_copies_across() {
        let mut heap = Heap::new(Buffer::new(4));
        let p = unsafe { heap.alloc(layout(20, 4)) };
        unsafe { core::ptr::write_bytes(p, 7, 20) };
        assert_eq!(unsafe { heap.realloc(p, layout(20, 4), 32) }, p);
        let q = unsafe { heap.realloc(p, layout(32, 4), 1000) };
        assert_ne!(q, p);
        let bytes = unsafe { core::slice::from_raw_parts(q, 20) };
        assert!(bytes.iter().all(|&b| b == 7));
    }
}
