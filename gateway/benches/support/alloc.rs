//! An allocation-counting global allocator for benchmark binaries: each bench includes this
//! file (`#[path = "support/alloc.rs"] mod alloc_count;`), so the counter lives in the bench binary
//! only and never in the gateway.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

/// Counts every allocation (and reallocation) made through the global allocator.
struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; only a counter is added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Runs `op` a fixed number of times and prints the mean allocations per run.
pub fn report_allocations(name: &str, mut op: impl FnMut()) {
    const RUNS: u64 = 1_000;
    op(); // warm lazily initialised state
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for _ in 0..RUNS {
        op();
    }
    let after = ALLOCATIONS.load(Ordering::Relaxed);
    println!(
        "allocs/op {name}: {:.1}",
        (after - before) as f64 / RUNS as f64
    );
}
