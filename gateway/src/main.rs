//! The `krakend` (also `cephalo`) command line.
#![forbid(unsafe_code)]

/// mimalloc instead of the C library's allocator: faster per request than glibc's, and much
/// faster than musl's, which the static release binaries would otherwise use.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Links `fastmem`, whose `memcpy` and `memmove` replace musl's in the static x86_64 binary.
#[cfg(all(target_arch = "x86_64", target_env = "musl"))]
use fastmem as _;

fn main() -> std::process::ExitCode {
    gateway::cli::main()
}
