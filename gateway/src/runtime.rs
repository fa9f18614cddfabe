//! The async runtime the gateway serves on.
//!
//! With one worker (`TOKIO_WORKER_THREADS=1`, or a process limited to one CPU) the gateway
//! runs on tokio's single-threaded scheduler, as nginx runs one event loop per worker: there
//! is no other worker to share tasks with, and its run order wakes the peers on the other
//! end of our sockets less often (docs/performance.md, "Session 7": 4–6 % more requests per
//! second, 1 µs less system time per request). The one exception is a configuration with
//! Lua scripts: `http_response` blocks its worker through `block_in_place`, which only the
//! multi-threaded scheduler offers. Everything else gets tokio's multi-threaded runtime.

use std::io;
use std::num::NonZeroUsize;

use crate::config::ServiceConfig;

/// Which scheduler a configuration runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// One thread, tokio's `current_thread` scheduler.
    SingleThread,
    /// tokio's multi-threaded scheduler with its usual worker count.
    MultiThread,
}

/// The scheduler for `cfg` served by `workers` workers.
pub fn flavor(cfg: &ServiceConfig, workers: usize) -> Flavor {
    if workers == 1 && !runs_lua(cfg) {
        Flavor::SingleThread
    } else {
        Flavor::MultiThread
    }
}

/// The worker count tokio's multi-threaded runtime would start: `TOKIO_WORKER_THREADS`
/// when it is a positive number, else the CPUs this process may use.
pub fn worker_count() -> usize {
    std::env::var("TOKIO_WORKER_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, NonZeroUsize::get))
}

/// The runtime for `cfg` (see the module's documentation).
pub fn build(cfg: &ServiceConfig) -> io::Result<tokio::runtime::Runtime> {
    with_flavor(flavor(cfg, worker_count()))
}

/// A runtime of `flavor`, with I/O and timers.
fn with_flavor(flavor: Flavor) -> io::Result<tokio::runtime::Runtime> {
    match flavor {
        Flavor::SingleThread => tokio::runtime::Builder::new_current_thread(),
        Flavor::MultiThread => tokio::runtime::Builder::new_multi_thread(),
    }
    .enable_all()
    .build()
}

/// Whether any endpoint or backend runs a Lua script.
fn runs_lua(cfg: &ServiceConfig) -> bool {
    cfg.endpoints.iter().any(|e| {
        e.traffic.lua_endpoint.is_some()
            || e.traffic.lua_proxy.is_some()
            || e.backends.iter().any(|b| b.traffic.lua.is_some())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{parse_str, Format};

    fn config(endpoint_extra: &str, backend_extra: &str) -> ServiceConfig {
        let text = format!(
            r#"{{"version":3,"endpoints":[{{"endpoint":"/a","extra_config":{{{endpoint_extra}}},
            "backend":[{{"host":["http://h"],"url_pattern":"/","extra_config":{{{backend_extra}}}}}]}}]}}"#
        );
        parse_str(&text, Format::Json, std::path::Path::new("t.json")).unwrap()
    }

    #[test]
    fn one_worker_runs_on_one_thread() {
        let plain = config("", "");
        assert_eq!(flavor(&plain, 1), Flavor::SingleThread);
        assert_eq!(flavor(&plain, 2), Flavor::MultiThread);
        assert_eq!(flavor(&plain, 8), Flavor::MultiThread);
    }

    #[test]
    fn lua_scripts_keep_the_multi_threaded_scheduler() {
        let script = r#""pre":"local x = 1""#;
        for cfg in [
            config(&format!(r#""modifier/lua-endpoint":{{{script}}}"#), ""),
            config(&format!(r#""modifier/lua-proxy":{{{script}}}"#), ""),
            config("", &format!(r#""modifier/lua-backend":{{{script}}}"#)),
        ] {
            assert!(runs_lua(&cfg));
            assert_eq!(flavor(&cfg, 1), Flavor::MultiThread);
        }
    }

    #[test]
    fn both_runtimes_run_tasks_timers_and_sockets() {
        for f in [Flavor::SingleThread, Flavor::MultiThread] {
            let rt = with_flavor(f).unwrap();
            let echoed = rt.block_on(async {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let addr = listener.local_addr().unwrap();
                let server = tokio::spawn(async move {
                    let (mut s, _) = listener.accept().await.unwrap();
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                    s.write_all(b"pong").await.unwrap();
                });
                let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
                let mut got = [0u8; 4];
                c.read_exact(&mut got).await.unwrap();
                server.await.unwrap();
                got
            });
            assert_eq!(&echoed, b"pong", "{f:?}");
            let expected = match f {
                Flavor::SingleThread => tokio::runtime::RuntimeFlavor::CurrentThread,
                Flavor::MultiThread => tokio::runtime::RuntimeFlavor::MultiThread,
            };
            assert_eq!(rt.handle().runtime_flavor(), expected);
        }
    }
}
