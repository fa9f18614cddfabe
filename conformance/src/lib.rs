//! Conformance: the KrakenD CE spec runner and mock backend, and the image checks.
#![forbid(unsafe_code)]

pub mod ce;
pub mod container;
