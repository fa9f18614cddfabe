//! Cephalo, a KrakenD-compatible API gateway.
//!
//! Config is parsed once into typed settings, then turned into a router whose
//! endpoint pipelines are built once at start-up.
#![forbid(unsafe_code)]

/// The Cephalo version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The KrakenD release whose behaviour this build matches.
pub const COMPAT_VERSION: &str = "2.13.8";
