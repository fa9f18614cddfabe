//! The HTTP server: accept loop, our own HTTP/1.1 connection ([`conn`]) with Go's read
//! deadlines, hyper for HTTP/2 (h2c, TLS with ALPN h2), and graceful shutdown that lets
//! in-flight requests finish within a bound.

mod body;
pub mod conn;
pub mod deadline;
mod wire;

pub use body::RequestBody;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::watch;

use arc_swap::ArcSwap;

use crate::app::Gateway;
use conn::ConnSettings;
use deadline::{DeadlineIo, Deadlines, TrackedBody};

/// Server-level settings from the service config.
#[derive(Clone)]
pub struct ServerSettings {
    /// `read_header_timeout`: the longest wait for a request head (zero: `read_timeout`).
    pub read_header_timeout: Option<Duration>,
    /// `read_timeout`: the fallback of the header and idle deadlines.
    pub read_timeout: Option<Duration>,
    /// `idle_timeout`: a keep-alive connection waiting longer for its next request is closed
    /// (zero: `read_timeout`).
    pub idle_timeout: Option<Duration>,
    /// `max_header_bytes`.
    pub max_header_bytes: Option<usize>,
    /// `use_h2c`: accept cleartext HTTP/2 beside HTTP/1.1. Off (KrakenD's default), plain
    /// connections are served by the HTTP/1.1 state machine alone: no protocol sniffing, a
    /// smaller per-connection task.
    pub h2c: bool,
    /// How long in-flight requests may run after a shutdown signal.
    pub shutdown_grace: Duration,
    /// `write_timeout`: a request not answered within it has its connection dropped, as Go does.
    pub write_timeout: Option<Duration>,
    /// Serve HTTPS with this acceptor.
    pub tls: Option<tokio_rustls::TlsAcceptor>,
}

/// The response was not ready within `write_timeout`; the connection is dropped.
#[derive(Debug, thiserror::Error)]
#[error("write timeout elapsed")]
pub struct WriteTimeout;

/// Serves until `shutdown` resolves, then drains connections for up to the grace period.
/// Each request takes the gateway current at its arrival (`run --watch` may swap in a new
/// one; loading it is a lock-free reference count increment).
pub async fn serve(
    gateway: Arc<ArcSwap<Gateway>>,
    listener: TcpListener,
    settings: ServerSettings,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let deadlines = Deadlines::from_go(
        settings.read_timeout,
        settings.read_header_timeout,
        settings.idle_timeout,
    );
    let builder = auto_builder(&settings, deadlines.is_some());
    let conn_settings =
        ConnSettings::new(deadlines, settings.max_header_bytes, settings.read_timeout);
    let write_timeout = settings.write_timeout.filter(|d| !d.is_zero());
    let handshake_timeout = tls_handshake_timeout(&settings);
    // hyper's connections (HTTP/2) drain through `graceful`, ours through `draining`.
    let graceful = GracefulShutdown::new();
    let (draining, _) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, remote) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let open = crate::metrics::ConnectionGuard::open();
                let handler = handler(gateway.clone(), remote, write_timeout);
                match &settings.tls {
                    None if !settings.h2c => {
                        let stop = draining.subscribe();
                        tokio::spawn(async move {
                            let _open = open;
                            conn::serve_connection(stream, conn_settings, stop, handler).await;
                        });
                    }
                    None => {
                        let (stream, in_flight) = DeadlineIo::new(stream, deadlines);
                        let svc = hyper_service(handler, in_flight);
                        let conn = builder.serve_connection(TokioIo::new(stream), svc).into_owned();
                        let conn = graceful.watch(conn);
                        tokio::spawn(async move {
                            let _open = open;
                            if let Err(e) = conn.await {
                                tracing::debug!(error = %e, %remote, "connection ended with an error");
                            }
                        });
                    }
                    Some(acceptor) => {
                        let acceptor = acceptor.clone();
                        let builder = builder.clone();
                        let watcher = graceful.watcher();
                        let stop = draining.subscribe();
                        tokio::spawn(async move {
                            let _open = open;
                            let handshake = acceptor.accept(stream);
                            let handshake = match handshake_timeout {
                                None => handshake.await,
                                Some(limit) => match tokio::time::timeout(limit, handshake).await {
                                    Ok(r) => r,
                                    Err(_) => {
                                        tracing::debug!(%remote, "TLS handshake timed out");
                                        return;
                                    }
                                },
                            };
                            let stream = match handshake {
                                Ok(s) => s,
                                Err(e) => {
                                    tracing::debug!(error = %e, %remote, "TLS handshake failed");
                                    return;
                                }
                            };
                            if stream.get_ref().1.alpn_protocol() != Some(b"h2") {
                                conn::serve_connection(stream, conn_settings, stop, handler).await;
                                return;
                            }
                            drop(stop);
                            let (stream, in_flight) = DeadlineIo::new(stream, deadlines);
                            let mut stream = stream;
                            stream.set_http2();
                            let svc = hyper_service(handler, in_flight);
                            let conn = builder.serve_connection(TokioIo::new(stream), svc);
                            if let Err(e) = watcher.watch(conn.into_owned()).await {
                                tracing::debug!(error = %e, %remote, "connection ended with an error");
                            }
                        });
                    }
                }
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    draining.send_replace(true);
    let drained = async {
        tokio::join!(graceful.shutdown(), draining.closed());
    };
    match tokio::time::timeout(settings.shutdown_grace, drained).await {
        Ok(()) => tracing::info!("all connections closed"),
        Err(_) => tracing::warn!("shutdown grace period elapsed with requests still running"),
    }
    Ok(())
}

/// Go's bound on a TLS handshake: the smallest of `read_header_timeout`, `read_timeout` and
/// `write_timeout` that is set; none when none is.
fn tls_handshake_timeout(settings: &ServerSettings) -> Option<Duration> {
    [
        settings.read_header_timeout,
        settings.read_timeout,
        settings.write_timeout,
    ]
    .into_iter()
    .flatten()
    .filter(|d| !d.is_zero())
    .min()
}

/// What a connection calls for each request: the gateway current at its arrival (`run
/// --watch` may swap in a new one; loading it is lock-free), bounded by `write_timeout`.
/// The request's future lives in the connection's own while it runs.
fn handler(
    gateway: Arc<ArcSwap<Gateway>>,
    remote: SocketAddr,
    write_timeout: Option<Duration>,
) -> impl Fn(http::Request<RequestBody>) -> Answering + Send + Sync + Clone + 'static {
    move |req| Answering {
        handled: gateway.load().handle(req, remote),
        deadline: write_timeout.map(|limit| Box::pin(tokio::time::sleep(limit))),
    }
}

/// A request's answer within `write_timeout`: `None` when the deadline passed first (Go then
/// drops the connection).
pub struct Answering {
    handled: crate::app::Handled,
    deadline: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
}

impl Future for Answering {
    type Output = Option<crate::reply::Reply>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        if let std::task::Poll::Ready(reply) = std::pin::Pin::new(&mut self.handled).poll(cx) {
            return std::task::Poll::Ready(Some(reply));
        }
        match self.deadline.as_mut().map(|d| d.as_mut().poll(cx)) {
            Some(std::task::Poll::Ready(())) => std::task::Poll::Ready(None),
            _ => std::task::Poll::Pending,
        }
    }
}

/// The handler as a hyper service, for the connections hyper serves.
fn hyper_service(
    handler: impl Fn(http::Request<RequestBody>) -> Answering + Send + Sync + Clone + 'static,
    in_flight: Option<deadline::InFlight>,
) -> impl hyper::service::Service<
    http::Request<hyper::body::Incoming>,
    Response = http::Response<TrackedBody>,
    Error = WriteTimeout,
    Future = impl Future<Output = Result<http::Response<TrackedBody>, WriteTimeout>> + Send,
> + Clone {
    service_fn(move |req: http::Request<hyper::body::Incoming>| {
        let guard = in_flight.as_ref().map(deadline::InFlight::start);
        let handling = handler(req.map(RequestBody::Hyper));
        async move {
            let response = handling.await.ok_or(WriteTimeout)?.into_response();
            Ok(response.map(|b| TrackedBody::new(b, guard)))
        }
    })
}

/// Applies the service's HTTP/1.1 settings to either builder kind (they share the method names,
/// not a trait).
macro_rules! http1_settings {
    ($h1:expr, $settings:expr, $own_deadlines:expr) => {{
        $h1.title_case_headers(true).timer(TokioTimer::new());
        if $own_deadlines {
            // hyper's header timer also runs while idle; `DeadlineIo` keeps Go's phases apart.
            $h1.header_read_timeout(None);
        }
        if let Some(n) = $settings.max_header_bytes {
            $h1.max_buf_size(n.max(8192));
        }
    }};
}

/// HTTP/1.1 and HTTP/2 by sniffing the preface: h2c, and TLS connections.
fn auto_builder(settings: &ServerSettings, own_deadlines: bool) -> Builder<TokioExecutor> {
    let mut builder = Builder::new(TokioExecutor::new());
    http1_settings!(builder.http1(), settings, own_deadlines);
    builder
}

/// Resolves on SIGTERM or SIGINT, logging which one.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
        let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
        tokio::select! {
            _ = term.recv() => tracing::warn!("SIGTERM received, shutting down"),
            _ = int.recv() => tracing::warn!("SIGINT received, shutting down"),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        tracing::warn!("interrupt received, shutting down");
    }
}

/// The address to bind for a config.
pub fn bind_address(listen_ip: Option<std::net::IpAddr>, port: u16) -> SocketAddr {
    SocketAddr::new(
        listen_ip.unwrap_or(std::net::IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED)),
        port,
    )
}
