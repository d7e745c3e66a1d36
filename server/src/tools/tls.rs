//! TLS for MCP servers over `https://`: rustls on the ring provider (never aws-lc-rs,
//! a slow C build), trusting the system's CA certificates plus those of
//! `SSL_CERT_FILE` (a PEM bundle, e.g. a company CA or a test certificate).

use std::{path::Path, sync::Arc};

use rustls::{
    ClientConfig, RootCertStore,
    pki_types::{CertificateDer, pem::PemObject},
};

/// Why the trusted roots could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the CA certificates in {path} (SSL_CERT_FILE): {reason}")]
    CertFile { path: String, reason: String },
    #[error("no trusted CA certificates: the system has none and SSL_CERT_FILE is unset")]
    NoRoots,
    #[error("TLS set-up failed: {0}")]
    Setup(String),
}

/// Makes ring the process's rustls provider. reqwest (built without a provider of
/// its own) needs one before any client is built; calling this again does nothing.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The TLS client configuration for MCP servers: the system roots plus `extra_roots`.
pub fn client_config(extra_roots: Option<&Path>) -> Result<ClientConfig, TlsError> {
    install_crypto_provider();
    let mut roots = RootCertStore::empty();
    let system = rustls_native_certs::load_native_certs();
    for error in &system.errors {
        tracing::debug!(%error, "skipped a system CA certificate source");
    }
    let (added, ignored) = roots.add_parsable_certificates(system.certs);
    tracing::debug!(added, ignored, "system CA certificates loaded");
    if let Some(path) = extra_roots {
        let fail = |reason: String| TlsError::CertFile {
            path: path.display().to_string(),
            reason,
        };
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| fail(e.to_string()))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| fail(e.to_string()))?;
        if certs.is_empty() {
            return Err(fail("it holds no PEM certificate".into()));
        }
        for cert in certs {
            roots.add(cert).map_err(|e| fail(e.to_string()))?;
        }
    }
    if roots.is_empty() {
        return Err(TlsError::NoRoots);
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Setup(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_or_empty_cert_file_is_a_clear_error() {
        let error = client_config(Some(Path::new("/nonexistent/ca.pem"))).unwrap_err();
        assert!(error.to_string().contains("/nonexistent/ca.pem"), "{error}");
        let empty =
            std::env::temp_dir().join(format!("toolstream-empty-{}.pem", std::process::id()));
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let error = client_config(Some(&empty)).unwrap_err();
        let _ = std::fs::remove_file(&empty);
        assert!(error.to_string().contains("no PEM certificate"), "{error}");
    }
}
