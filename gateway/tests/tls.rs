//! HTTPS serving with the `tls` section's certificate and key.

mod common;

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[test]
fn serves_https_with_configured_pem_files() {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    let port = common::free_port();
    let config = serde_json::json!({
        "version": 3, "port": port, "read_header_timeout": "300ms",
        "tls": {"public_key": cert_path, "private_key": key_path},
        "endpoints": []
    });
    let cfg_path = dir.path().join("krakend.json");
    std::fs::write(&cfg_path, config.to_string()).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_krakend"))
        .args(["run", "-c"])
        .arg(&cfg_path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();

    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.cert.der().clone()).unwrap();
    let client = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let response = rt.block_on(async move {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(tcp) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
                let mut tls = connector
                    .connect(ServerName::try_from("localhost").unwrap(), tcp)
                    .await
                    .expect("handshake");
                tls.write_all(
                    b"GET /__health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
                )
                .await
                .unwrap();
                let mut out = String::new();
                let _ = tls.read_to_string(&mut out).await;
                return out;
            }
            assert!(Instant::now() < deadline, "gateway did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    // A client that never starts its handshake is let go after the smallest read deadline,
    // as Go's server does.
    let mut silent = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    silent
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let started = Instant::now();
    let mut byte = [0u8; 1];
    let read = std::io::Read::read(&mut silent, &mut byte);
    let waited = started.elapsed();
    let _ = child.kill();
    let _ = child.wait();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("\"status\":\"ok\""), "{response}");
    assert!(matches!(read, Ok(0)), "{read:?} after {waited:?}");
    assert!(waited < Duration::from_secs(3), "closed after {waited:?}");
}

#[test]
fn calls_https_backends_trusted_through_client_tls_ca_certs() {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();

    // An HTTPS "backend": a gateway serving its echo endpoint over TLS.
    let backend_port = common::free_port();
    let backend_cfg = dir.path().join("backend.json");
    std::fs::write(
        &backend_cfg,
        serde_json::json!({"version": 3, "port": backend_port, "echo_endpoint": true,
            "tls": {"public_key": cert_path, "private_key": key_path}, "endpoints": []})
        .to_string(),
    )
    .unwrap();
    let mut backend = Command::new(env!("CARGO_BIN_EXE_krakend"))
        .args(["run", "-c"])
        .arg(&backend_cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();

    let front = |client_tls: serde_json::Value| {
        serde_json::json!({"version": 3, "port": "PORT", "client_tls": client_tls,
            "extra_config": {"router": {"return_error_msg": true}},
            "endpoints": [{"endpoint": "/secure", "backend": [{
                "host": [format!("https://localhost:{backend_port}")],
                "url_pattern": "/__echo/tls", "allow": ["req_uri"]}]}]})
        .to_string()
        .replace("\"PORT\"", "PORT")
    };
    let trusted = common::Gateway::start(&front(serde_json::json!({"ca_certs": [cert_path]})));
    let untrusted = common::Gateway::start(&front(serde_json::json!({})));
    let insecure = common::Gateway::start(&front(
        serde_json::json!({"allow_insecure_connections": true}),
    ));

    let deadline = Instant::now() + Duration::from_secs(10);
    let reply = loop {
        let r = trusted.request("GET", "/secure", &[], "");
        if r.status == 200 || Instant::now() > deadline {
            break r;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let refused = untrusted.request("GET", "/secure", &[], "");
    let accepted = insecure.request("GET", "/secure", &[], "");
    let _ = backend.kill();
    let _ = backend.wait();
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json(), serde_json::json!({"req_uri": "/__echo/tls"}));
    assert_eq!(refused.status, 500);
    assert!(refused.body.contains("certificate"), "{}", refused.body);
    assert_eq!(accepted.status, 200, "{}", accepted.body);
}
