//! Stand-alone CE mock backend (the Go mock of the KrakenD CE suite), for
//! running a gateway by hand against it.
//!
//! `ce-mock-backend [--addr 127.0.0.1:8081] [--delay-ms 200] [--data-dir DIR]`
//! where DIR holds `xml.body.xml` and `jwk_symmetric.body.json` (default: the
//! shared `krakend-ce-tests/mock-backend` folder when it exists).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use conformance::ce::{MockBackend, MockConfig};

const USAGE: &str = "usage: ce-mock-backend [--addr ADDR] [--delay-ms MS] [--data-dir DIR]";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut addr: SocketAddr = "127.0.0.1:8081".parse()?;
    let mut delay = Duration::from_millis(200);
    let mut data_dir: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| format!("{arg} needs a value\n{USAGE}"))
        };
        match arg.as_str() {
            "--addr" => addr = value()?.parse()?,
            "--delay-ms" => delay = Duration::from_millis(value()?.parse()?),
            "--data-dir" => data_dir = Some(PathBuf::from(value()?)),
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => return Err(format!("unknown argument {other}\n{USAGE}").into()),
        }
    }
    if data_dir.is_none() {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        data_dir =
            conformance::ce::upstream_dir(&root).map(|d| conformance::ce::upstream_mock_data(&d));
    }
    let mut config = MockConfig::new(addr).with_delay(delay);
    config.data_dir = data_dir;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let mock = MockBackend::start(config.clone()).await?;
        eprintln!(
            "ce-mock-backend listening on {} (delay {:?}, data {})",
            mock.addr(),
            config.delay,
            config
                .data_dir
                .as_ref()
                .map_or("none".into(), |d| d.display().to_string())
        );
        tokio::signal::ctrl_c().await?;
        Ok::<_, Box<dyn std::error::Error>>(())
    })
}
