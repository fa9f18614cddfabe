//! Cephalo, a KrakenD-compatible API gateway.
//!
//! Config is parsed once into typed settings ([`config`]), then turned into a router whose
//! endpoint pipelines are built once at start-up ([`app`], [`pipeline`]). A request walks
//! three tiers: [`endpoint`] handler -> [`proxy`] layers -> [`backend`].
#![forbid(unsafe_code)]

pub mod app;
pub mod audit;
pub mod backend;
pub mod body;
pub mod builtin;
pub mod civil;
pub mod cli;
pub mod codec;
pub mod config;
pub mod endpoint;
pub mod error;
pub mod fc;
pub mod http1;
pub mod lint;
pub mod logging;
pub mod lua;
pub mod metrics;
pub mod pipeline;
pub mod proxy;
pub mod qos;
pub mod relay;
pub mod render;
pub mod reply;
pub mod router;
pub mod runtime;
pub mod security;
pub mod server;
pub mod timeout;
pub mod tls;
pub mod validation;
pub mod watch;

/// The Cephalo version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The KrakenD release whose behaviour this build matches.
pub const COMPAT_VERSION: &str = "2.13.8";
/// The compiler that built this binary.
pub const RUSTC_VERSION: &str = env!("CEPHALO_RUSTC_VERSION");
