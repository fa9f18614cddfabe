//! The metrics listeners: Prometheus text on `/metrics`, legacy JSON on `/__stats/`.

use std::net::SocketAddr;
use std::sync::Arc;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

use super::Registry;

/// Parses `:8090`, `0.0.0.0:8090` or `127.0.0.1:9` into a socket address.
pub fn parse_listen(addr: &str) -> Option<SocketAddr> {
    if let Some(port) = addr.strip_prefix(':') {
        return port
            .parse::<u16>()
            .ok()
            .map(|p| SocketAddr::from(([0, 0, 0, 0], p)));
    }
    addr.parse().ok()
}

/// Binds `addr` and serves the registry until the process ends.
pub async fn serve(addr: SocketAddr, registry: Arc<Registry>) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let registry = registry.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let registry = registry.clone();
                    async move {
                        let (ctype, body, status) = match req.uri().path() {
                            "/metrics" => (
                                "text/plain; version=0.0.4; charset=utf-8",
                                registry.prometheus(),
                                200,
                            ),
                            "/__stats" | "/__stats/" => {
                                ("application/json", registry.stats_json().to_string(), 200)
                            }
                            _ => ("text/plain", "404 page not found".to_string(), 404),
                        };
                        let mut r = http::Response::new(Full::new(Bytes::from(body)));
                        *r.status_mut() =
                            http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::OK);
                        r.headers_mut().insert(
                            http::header::CONTENT_TYPE,
                            http::HeaderValue::from_static(ctype),
                        );
                        Ok::<_, std::convert::Infallible>(r)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses() {
        assert_eq!(parse_listen(":8090"), Some("0.0.0.0:8090".parse().unwrap()));
        assert_eq!(
            parse_listen("127.0.0.1:9"),
            Some("127.0.0.1:9".parse().unwrap())
        );
        assert_eq!(parse_listen("nope"), None);
    }
}
