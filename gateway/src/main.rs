//! The `krakend` (also `cephalo`) command line.
fn main() {
    println!("Cephalo {} (KrakenD-compatible {})", gateway::VERSION, gateway::COMPAT_VERSION);
}
