//! The mock backend of the CE suite (port 8081 upstream), reproducing the Go
//! mock described in `MOCK_BACKEND.md` §3.

pub mod handlers;
pub mod mux;
pub mod reply;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Settings of a [`MockBackend`].
#[derive(Debug, Clone)]
pub struct MockConfig {
    /// Where to listen; upstream uses port 8081.
    pub addr: SocketAddr,
    /// Delay of `/delayed/` (upstream `-krakend_delay`, 200 ms).
    pub delay: Duration,
    /// Directory holding `xml.body.xml` and `jwk_symmetric.body.json`, read
    /// at each request (the shared `mock-backend/` folder). Without it those
    /// two routes answer 500.
    pub data_dir: Option<PathBuf>,
}

impl MockConfig {
    /// Upstream defaults on `addr`: 200 ms delay, no data directory.
    pub fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            delay: Duration::from_millis(200),
            data_dir: None,
        }
    }

    /// Sets the data directory.
    pub fn with_data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// Sets the `/delayed/` delay.
    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// Errors starting the mock.
#[derive(Debug, thiserror::Error)]
pub enum MockError {
    /// The listening socket could not be bound.
    #[error("mock backend cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
}

/// A running mock backend; stops accepting when dropped.
pub struct MockBackend {
    addr: SocketAddr,
    accept_loop: Option<JoinHandle<()>>,
}

impl MockBackend {
    /// Binds and starts serving on the current Tokio runtime.
    pub async fn start(config: MockConfig) -> Result<Self, MockError> {
        let listener = bind_when_free(config.addr)
            .await
            .map_err(|source| MockError::Bind {
                addr: config.addr,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| MockError::Bind {
            addr: config.addr,
            source,
        })?;
        let config = Arc::new(config);
        let accept_loop = tokio::spawn(async move {
            loop {
                let Ok((stream, _peer)) = listener.accept().await else {
                    continue;
                };
                let config = Arc::clone(&config);
                tokio::spawn(async move {
                    let service = service_fn(move |request| {
                        let config = Arc::clone(&config);
                        async move { handlers::handle(request, &config).await }
                    });
                    // Errors here are dropped connections, some deliberate (a Go handler panic).
                    let _ = http1::Builder::new()
                        .title_case_headers(true)
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Self {
            addr,
            accept_loop: Some(accept_loop),
        })
    }

    /// The bound address (useful with port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

/// How long `start` waits for a fixed port that a previous mock (whose accept loop is being
/// cancelled) or another suite still holds.
const BIND_PATIENCE: Duration = Duration::from_secs(5);

/// Binds `addr`, retrying while it is in use: an aborted accept loop closes its listener
/// only when the runtime next polls it, so back-to-back suites on the same port would race.
async fn bind_when_free(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let deadline = tokio::time::Instant::now() + BIND_PATIENCE;
    loop {
        match TcpListener::bind(addr).await {
            Err(e)
                if e.kind() == std::io::ErrorKind::AddrInUse
                    && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            other => return other,
        }
    }
}

impl MockBackend {
    /// Stops accepting and waits until the listening socket is closed.
    pub async fn shutdown(mut self) {
        if let Some(accept_loop) = self.accept_loop.take() {
            accept_loop.abort();
            let _ = accept_loop.await;
        }
    }
}

impl Drop for MockBackend {
    fn drop(&mut self) {
        if let Some(accept_loop) = &self.accept_loop {
            accept_loop.abort();
        }
    }
}
