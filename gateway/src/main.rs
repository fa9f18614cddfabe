//! The `krakend` (also `cephalo`) command line.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    gateway::cli::main()
}
