//! Byte formats shared by the backend decoders and the response renderers.

pub mod json;
pub mod xml;
