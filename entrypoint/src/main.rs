//! The image's ENTRYPOINT shim.
fn main() {}
