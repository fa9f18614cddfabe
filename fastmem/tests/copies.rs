//! Every size up to 600 bytes and some larger ones, every alignment of source and destination
//! within 16 bytes, and overlaps in both directions, against a byte-by-byte reference; the
//! bytes around the destination must stay untouched.
#![cfg(target_arch = "x86_64")]

use fastmem::{copy_backward, copy_forward, move_bytes};

const SIZES_ABOVE_600: [usize; 6] = [1000, 1023, 1024, 1025, 4096 + 7, 70_000];

fn sizes() -> impl Iterator<Item = usize> {
    (0..=600).chain(SIZES_ABOVE_600)
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

type Copy = unsafe fn(*mut u8, *const u8, usize);

fn check_disjoint(copy: Copy, name: &str) {
    for n in sizes() {
        for src_off in 0..16 {
            for dst_off in 0..16 {
                let src = pattern(n + 32, 1);
                let mut dst = vec![0xEEu8; n + 64];
                // SAFETY: both ranges are inside their vectors, which do not overlap.
                unsafe { copy(dst.as_mut_ptr().add(dst_off), src.as_ptr().add(src_off), n) };
                assert_eq!(
                    &dst[dst_off..dst_off + n],
                    &src[src_off..src_off + n],
                    "{name}: n={n} src+{src_off} dst+{dst_off}"
                );
                assert!(
                    dst[..dst_off]
                        .iter()
                        .chain(&dst[dst_off + n..])
                        .all(|&b| b == 0xEE),
                    "{name} wrote outside the destination: n={n} dst+{dst_off}"
                );
            }
            if n > 2048 {
                break;
            }
        }
    }
}

#[test]
fn forward_and_backward_copies_are_exact() {
    check_disjoint(copy_forward, "copy_forward");
    check_disjoint(copy_backward, "copy_backward");
    check_disjoint(move_bytes, "move_bytes");
}

#[test]
fn moves_are_exact_whatever_the_overlap() {
    for n in sizes().filter(|&n| n <= 1025 || n == 4096 + 7) {
        for shift in -140isize..=140 {
            let len = n + 300;
            let original = pattern(len, 7);
            let mut buf = original.clone();
            let src = 150usize;
            let dst = (150 + shift) as usize;
            // SAFETY: both ranges lie inside `buf` (150 ± 140 + n < n + 300).
            unsafe { move_bytes(buf.as_mut_ptr().add(dst), buf.as_ptr().add(src), n) };
            let mut expected = original.clone();
            expected.copy_within(src..src + n, dst);
            assert_eq!(buf, expected, "move_bytes: n={n} shift={shift}");
        }
    }
}

#[test]
fn the_forward_copy_is_a_move_when_the_destination_is_below() {
    for n in [0, 3, 17, 64, 65, 127, 128, 129, 500, 4096 + 7] {
        for shift in 1..=130usize {
            let original = pattern(n + 200, 3);
            let mut buf = original.clone();
            // SAFETY: both ranges lie inside `buf`.
            unsafe { copy_forward(buf.as_mut_ptr().add(10), buf.as_ptr().add(10 + shift), n) };
            let mut expected = original.clone();
            expected.copy_within(10 + shift..10 + shift + n, 10);
            assert_eq!(buf, expected, "copy_forward: n={n} shift={shift}");
        }
    }
}
