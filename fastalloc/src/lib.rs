//! The gateway's global allocator: mimalloc, called through its plain entry points whenever
//! they give the alignment asked for.
//!
//! The `mimalloc` crate passes every request to `mi_malloc_aligned`. For the usual small,
//! word-aligned request that is a longer path than `mi_malloc`'s, and any request above
//! 1 KiB (a request's boxed future, a header map's buckets) takes the aligned allocator's
//! slow path. `mi_malloc` already returns blocks aligned to 16 bytes when they are larger
//! than 8 (mimalloc's `MI_MAX_ALIGN_SIZE`, on x86_64 and aarch64), so only stricter requests
//! need the aligned entry points.
#![no_std]
#![deny(missing_docs)]

use core::alloc::{GlobalAlloc, Layout};
use core::ffi::c_void;

use libmimalloc_sys as mi;

/// The alignment every mimalloc block of more than 8 bytes has.
const NATURAL_ALIGN: usize = 16;

/// Whether a plain mimalloc block satisfies `layout`: a block of 8 bytes or less is only
/// aligned to its size.
#[inline]
fn natural(layout: &Layout) -> bool {
    layout.align() <= NATURAL_ALIGN && layout.align() <= layout.size()
}

/// mimalloc as the global allocator (see the crate's documentation).
pub struct MiMalloc;

/// A block for `layout` from `plain` when a plain block satisfies it, else from `aligned`.
///
/// # Safety
/// `plain` and `aligned` are mimalloc's matching entry points (`mi_malloc` and
/// `mi_malloc_aligned`, or the zeroing pair).
#[inline(always)]
unsafe fn allocate(
    layout: Layout,
    plain: unsafe extern "C" fn(usize) -> *mut c_void,
    aligned: unsafe extern "C" fn(usize, usize) -> *mut c_void,
) -> *mut u8 {
    // SAFETY: FFI calls with a size and a power-of-two alignment, per the caller's contract.
    unsafe {
        if natural(&layout) {
            plain(layout.size()).cast()
        } else {
            aligned(layout.size(), layout.align()).cast()
        }
    }
}

// SAFETY: every block comes from mimalloc with at least the layout's size and alignment
// (plain entry points only where `natural` holds, the aligned ones otherwise), and is
// released or resized by mimalloc, which accepts blocks from any of its entry points.
unsafe impl GlobalAlloc for MiMalloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: mimalloc's allocating entry points, called as `allocate` requires.
        unsafe { allocate(layout, mi::mi_malloc, mi::mi_malloc_aligned) }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as in `alloc`, with the zeroing entry points.
        unsafe { allocate(layout, mi::mi_zalloc, mi::mi_zalloc_aligned) }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: `ptr` came from this allocator, hence from mimalloc.
        unsafe { mi::mi_free(ptr.cast::<c_void>()) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` came from this allocator; the new block keeps the alignment, which
        // the plain call gives only while `natural` holds for the new size too.
        unsafe {
            let grown = Layout::from_size_align_unchecked(new_size, layout.align());
            if natural(&layout) && natural(&grown) {
                mi::mi_realloc(ptr.cast::<c_void>(), new_size).cast()
            } else {
                mi::mi_realloc_aligned(ptr.cast::<c_void>(), new_size, layout.align()).cast()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    /// Every size and alignment a program asks for, across the small bins, the 1 KiB border
    /// and large blocks: each block is aligned, writable, and resizes keeping its bytes.
    #[test]
    fn blocks_have_their_alignment_and_keep_their_bytes_when_resized() {
        let sizes = [
            1usize, 2, 7, 8, 9, 15, 16, 17, 24, 33, 48, 1000, 1024, 1025, 4096, 70_000,
        ];
        for &size in &sizes {
            for align in [1usize, 2, 4, 8, 16, 32, 64, 128, 4096] {
                let layout = Layout::from_size_align(size, align).unwrap();
                // SAFETY: the layouts are valid and non-zero; each block is freed once.
                unsafe {
                    for zeroed in [false, true] {
                        let p = if zeroed {
                            MiMalloc.alloc_zeroed(layout)
                        } else {
                            MiMalloc.alloc(layout)
                        };
                        assert!(!p.is_null());
                        assert_eq!(p as usize % align, 0, "size {size} align {align}");
                        if zeroed {
                            assert!((0..size).all(|i| *p.add(i) == 0));
                        }
                        for i in 0..size {
                            *p.add(i) = i as u8;
                        }
                        // Grown, then shrunk below its first size.
                        let grown = size * 3;
                        let q = MiMalloc.realloc(p, layout, grown);
                        assert_eq!(q as usize % align, 0, "{size} -> {grown} align {align}");
                        assert!((0..size).all(|i| *q.add(i) == i as u8));
                        let shrunk = size / 2 + 1;
                        let grown_layout = Layout::from_size_align(grown, align).unwrap();
                        let r = MiMalloc.realloc(q, grown_layout, shrunk);
                        assert_eq!(r as usize % align, 0, "{grown} -> {shrunk} align {align}");
                        assert!((0..shrunk).all(|i| *r.add(i) == i as u8));
                        MiMalloc.dealloc(r, Layout::from_size_align(shrunk, align).unwrap());
                    }
                }
            }
        }
    }

    #[test]
    fn small_blocks_are_only_as_aligned_as_their_size_needs() {
        let layout = Layout::from_size_align(8, 16).unwrap();
        assert!(
            !natural(&layout),
            "an 8-byte block may sit on an 8-byte boundary"
        );
        assert!(natural(&Layout::from_size_align(16, 16).unwrap()));
        assert!(natural(&Layout::from_size_align(1025, 8).unwrap()));
        assert!(!natural(&Layout::from_size_align(64, 32).unwrap()));
        // Many live blocks of each kind, so that a misaligned one would show.
        let mut kept = Vec::new();
        for size in [8usize, 16, 24, 40, 1100] {
            let layout = Layout::from_size_align(size, 16.min(size.next_power_of_two())).unwrap();
            for _ in 0..200 {
                // SAFETY: valid layout; freed below.
                let p = unsafe { MiMalloc.alloc(layout) };
                assert_eq!(p as usize % layout.align(), 0, "size {size}");
                kept.push((p, layout));
            }
        }
        for (p, layout) in kept {
            // SAFETY: allocated above with this layout.
            unsafe { MiMalloc.dealloc(p, layout) };
        }
    }
}
