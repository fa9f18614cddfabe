//! `memcpy` and `memmove` for the static x86_64 musl binaries.
//!
//! musl's x86_64 `memcpy` is a `rep movsq` with byte loops around it: compact, but every call
//! pays the string instruction's start-up, and most copies in a request are small (moves of
//! values and futures of 16 to 1,024 bytes, header bytes of a few dozen). This crate's copies
//! use overlapping unaligned 8- and 16-byte loads and stores instead, as glibc's do, and are
//! exported under the C names only in x86_64 musl builds, where they replace musl's for the
//! whole program (including the C library itself). Elsewhere the C library's are used and
//! this crate is only its tests.
//!
//! Every copy loads what it needs before it stores over it, so the forward copy is also a
//! correct `memmove` whenever the destination starts below the source.
#![no_std]
#![no_builtins]
#![deny(missing_docs)]

#[cfg(target_arch = "x86_64")]
mod x86_64;

#[cfg(target_arch = "x86_64")]
pub use x86_64::{copy_backward, copy_forward, move_bytes};

/// The C symbols (x86_64 musl only).
#[cfg(all(target_arch = "x86_64", target_env = "musl", not(test)))]
mod symbols {
    /// C's `memcpy`.
    ///
    /// # Safety
    /// C's contract: `src` and `dst` valid for `n` bytes and not overlapping.
    #[no_mangle]
    pub unsafe extern "C" fn memcpy(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
        // SAFETY: the caller's contract is the function's.
        unsafe { crate::copy_forward(dst, src, n) };
        dst
    }

    /// C's `memmove`.
    ///
    /// # Safety
    /// C's contract: `src` and `dst` valid for `n` bytes; they may overlap.
    #[no_mangle]
    pub unsafe extern "C" fn memmove(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
        // SAFETY: the caller's contract is the function's.
        unsafe { crate::move_bytes(dst, src, n) };
        dst
    }
}
