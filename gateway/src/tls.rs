//! HTTPS serving: the `tls` section's PEM files turned into a rustls acceptor.

use std::path::Path;
use std::sync::Arc;

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use crate::config::TlsConfig;

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read or parsed.
    #[error("tls: {path}: {message}")]
    Pem {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// rustls refused the certificate/key pair.
    #[error("tls: {0}")]
    Config(#[from] rustls::Error),
}

fn pem_error(path: &Path, e: impl std::fmt::Display) -> TlsError {
    TlsError::Pem {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// Builds the acceptor (HTTP/2 and HTTP/1.1 offered by ALPN).
pub fn acceptor(cfg: &TlsConfig) -> Result<TlsAcceptor, TlsError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cfg.public_key)
        .map_err(|e| pem_error(&cfg.public_key, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| pem_error(&cfg.public_key, e))?;
    if certs.is_empty() {
        return Err(pem_error(&cfg.public_key, "no certificate found"));
    }
    let key = PrivateKeyDer::from_pem_file(&cfg.private_key)
        .map_err(|e| pem_error(&cfg.private_key, e))?;
    let mut config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(certs, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_files_are_reported_with_their_path() {
        let cfg = TlsConfig {
            public_key: "/nonexistent/cert.pem".into(),
            private_key: "/nonexistent/key.pem".into(),
            disabled: false,
        };
        let err = acceptor(&cfg).err().expect("must fail").to_string();
        assert!(err.contains("/nonexistent/cert.pem"), "{err}");
    }
}
