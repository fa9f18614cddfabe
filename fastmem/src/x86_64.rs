//! The copies, with SSE2 (part of every x86_64 CPU) for 16-byte blocks.

use core::arch::x86_64::{__m128i, _mm_loadu_si128, _mm_storeu_si128};
use core::ptr::{read_unaligned, write_unaligned};

/// Copies `n` bytes from `src` to `dst`, front to back.
///
/// # Safety
/// `src` must be valid for reads and `dst` for writes of `n` bytes. They may overlap only
/// when `dst` starts below `src` (or at it).
#[inline]
pub unsafe fn copy_forward(dst: *mut u8, src: *const u8, n: usize) {
    // SAFETY (whole body): every access is within `src[..n]` or `dst[..n]`; all loads that an
    // overlapping store could clobber happen before it (see the loop's comment).
    unsafe {
        if n <= 64 {
            return copy_small(dst, src, n);
        }
        // The last 64 bytes are loaded first and stored last: the loop then need not care
        // how `n` divides.
        let tail = load64(src.add(n - 64));
        let mut i = 0;
        while n - i > 64 {
            // A destination below the source never reaches bytes not yet loaded.
            let block = load64(src.add(i));
            store64(dst.add(i), block);
            i += 64;
        }
        store64(dst.add(n - 64), tail);
    }
}

/// Copies `n` bytes from `src` to `dst`, back to front.
///
/// # Safety
/// `src` must be valid for reads and `dst` for writes of `n` bytes. They may overlap only
/// when `dst` starts above `src` (or at it).
#[inline]
pub unsafe fn copy_backward(dst: *mut u8, src: *const u8, n: usize) {
    // SAFETY (whole body): as in `copy_forward`, mirrored.
    unsafe {
        if n <= 64 {
            return copy_small(dst, src, n);
        }
        // The first 64 bytes are loaded first and stored last.
        let head = load64(src);
        let mut end = n;
        while end > 64 {
            // A destination above the source never reaches bytes not yet loaded.
            let block = load64(src.add(end - 64));
            store64(dst.add(end - 64), block);
            end -= 64;
        }
        store64(dst, head);
    }
}

/// C's `memmove`: copies `n` bytes from `src` to `dst`, which may overlap.
///
/// # Safety
/// `src` must be valid for reads and `dst` for writes of `n` bytes.
#[inline]
pub unsafe fn move_bytes(dst: *mut u8, src: *const u8, n: usize) {
    // SAFETY: the direction is the one each copy is correct for.
    unsafe {
        if (dst as usize).wrapping_sub(src as usize) >= n {
            // No overlap, or the destination starts below the source.
            copy_forward(dst, src, n);
        } else {
            copy_backward(dst, src, n);
        }
    }
}

/// Up to 64 bytes: two overlapping loads of the largest width that fits, both loaded before
/// either is stored, so any overlap of `src` and `dst` is fine.
#[inline(always)]
unsafe fn copy_small(dst: *mut u8, src: *const u8, n: usize) {
    // SAFETY: the caller's; each access below is within the first or last bytes of `n`.
    unsafe {
        if n >= 32 {
            let a = load16(src);
            let b = load16(src.add(16));
            let c = load16(src.add(n - 32));
            let d = load16(src.add(n - 16));
            store16(dst, a);
            store16(dst.add(16), b);
            store16(dst.add(n - 32), c);
            store16(dst.add(n - 16), d);
        } else if n >= 16 {
            let a = load16(src);
            let b = load16(src.add(n - 16));
            store16(dst, a);
            store16(dst.add(n - 16), b);
        } else if n >= 8 {
            let a = read_unaligned(src.cast::<u64>());
            let b = read_unaligned(src.add(n - 8).cast::<u64>());
            write_unaligned(dst.cast::<u64>(), a);
            write_unaligned(dst.add(n - 8).cast::<u64>(), b);
        } else if n >= 4 {
            let a = read_unaligned(src.cast::<u32>());
            let b = read_unaligned(src.add(n - 4).cast::<u32>());
            write_unaligned(dst.cast::<u32>(), a);
            write_unaligned(dst.add(n - 4).cast::<u32>(), b);
        } else if n > 0 {
            let a = *src;
            let b = *src.add(n / 2);
            let c = *src.add(n - 1);
            *dst = a;
            *dst.add(n / 2) = b;
            *dst.add(n - 1) = c;
        }
    }
}

#[inline(always)]
unsafe fn load16(p: *const u8) -> __m128i {
    // SAFETY: the caller's: 16 readable bytes at `p`; `loadu` takes any alignment.
    unsafe { _mm_loadu_si128(p.cast()) }
}

#[inline(always)]
unsafe fn store16(p: *mut u8, v: __m128i) {
    // SAFETY: the caller's: 16 writable bytes at `p`; `storeu` takes any alignment.
    unsafe { _mm_storeu_si128(p.cast(), v) }
}

#[inline(always)]
unsafe fn load64(p: *const u8) -> [__m128i; 4] {
    // SAFETY: the caller's: 64 readable bytes at `p`.
    unsafe {
        [
            load16(p),
            load16(p.add(16)),
            load16(p.add(32)),
            load16(p.add(48)),
        ]
    }
}

#[inline(always)]
unsafe fn store64(p: *mut u8, v: [__m128i; 4]) {
    // SAFETY: the caller's: 64 writable bytes at `p`.
    unsafe {
        store16(p, v[0]);
        store16(p.add(16), v[1]);
        store16(p.add(32), v[2]);
        store16(p.add(48), v[3]);
    }
}
