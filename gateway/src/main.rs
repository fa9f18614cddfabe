//! The `krakend` (also `cephalo`) command line.
#![forbid(unsafe_code)]

/// mimalloc instead of the C library's allocator: faster per request than glibc's, and much
/// faster than musl's, which the static release binaries would otherwise use. `fastalloc`
/// calls it the way the gateway's small allocations want.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: fastalloc::MiMalloc = fastalloc::MiMalloc;

/// Links `fastmem`, whose `memcpy` and `memmove` replace musl's in the static x86_64 binary.
#[cfg(all(target_arch = "x86_64", target_env = "musl"))]
use fastmem as _;

fn main() -> std::process::ExitCode {
    gateway::cli::main()
}
