//! TLS client settings for PostgreSQL: without certificate checks for `sslmode=prefer` and
//! `require` (what libpq does without a root certificate), and with them for `verify-ca` and
//! `verify-full`, against `sslrootcert` or the system's roots.

use std::path::Path;
use std::sync::Arc;

use exporter_core::client_tls::AcceptAnyServerCertificate;
use rustls::crypto::ring;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};

use super::DriverError;

/// Returns a client configuration that accepts any server certificate.
pub fn unverified() -> Result<ClientConfig, DriverError> {
    let provider = Arc::new(ring::default_provider());
    let verifier = Arc::new(AcceptAnyServerCertificate::new(provider.clone()));
    Ok(ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| DriverError::Tls(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth())
}

/// Returns a client configuration that checks the server certificate against the PEM file
/// `root_cert`, or against the system's roots without one.
pub fn verified(root_cert: Option<&Path>) -> Result<ClientConfig, DriverError> {
    let mut roots = RootCertStore::empty();
    match root_cert {
        Some(path) => {
            let pem = std::fs::read(path)
                .map_err(|e| DriverError::Tls(format!("cannot read {}: {e}", path.display())))?;
            for cert in rustls::pki_types::pem::PemObject::pem_slice_iter(&pem) {
                let cert: CertificateDer = cert.map_err(|e| {
                    DriverError::Tls(format!("invalid certificate in {}: {e}", path.display()))
                })?;
                roots
                    .add(cert)
                    .map_err(|e| DriverError::Tls(e.to_string()))?;
            }
        }
        None => {
            for cert in rustls_native_certs::load_native_certs().certs {
                // A system certificate that rustls cannot use is skipped, as browsers do.
                let _ = roots.add(cert);
            }
        }
    }
    let provider = Arc::new(ring::default_provider());
    Ok(ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| DriverError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}
