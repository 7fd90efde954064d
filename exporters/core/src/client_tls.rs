//! TLS for the exporters' PostgreSQL connections through rustls, with the `sslmode` semantics of
//! libpq (PostgreSQL manual, section "SSL Support"). `prefer` and `require` encrypt without
//! checking the server certificate. `verify-ca` checks it against `sslrootcert`, and
//! `verify-full` also checks that it names the host.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

/// Level of checking of the server certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verification {
    /// Encryption only (`prefer`, `require`).
    None,
    /// Chain checked against the root certificates (`verify-ca`).
    Chain,
    /// Chain and host name checked (`verify-full`).
    Full,
}

/// Error in the TLS settings of a DSN.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("failed to read {path}: {reason}")]
    File { path: String, reason: String },
    #[error("{path} contains no certificate")]
    NoCertificate { path: String },
    #[error("invalid TLS configuration: {0}")]
    Config(#[from] rustls::Error),
    #[error("sslmode={0} needs sslrootcert, the file of the certificate authority to trust")]
    MissingRootCertificate(String),
}

/// TLS settings of one DSN.
pub struct TlsSettings<'a> {
    pub verification: Verification,
    pub mode: &'a str,
    pub root_certificate: Option<&'a str>,
    pub client_certificate: Option<&'a str>,
    pub client_key: Option<&'a str>,
}

/// Builds the rustls client configuration for `settings`. `verify-ca` and `verify-full` need the
/// root certificate file named by `sslrootcert`.
// NOTE: libpq falls back to ~/.postgresql/root.crt and accepts sslrootcert=system; neither is
// supported here.
pub fn client_config(settings: &TlsSettings<'_>) -> Result<ClientConfig, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()?;
    let verifier: Arc<dyn ServerCertVerifier> = match settings.verification {
        Verification::None => Arc::new(AcceptAnyServerCertificate::new(provider)),
        Verification::Chain | Verification::Full => {
            let path = settings
                .root_certificate
                .ok_or_else(|| TlsError::MissingRootCertificate(settings.mode.to_owned()))?;
            let mut roots = RootCertStore::empty();
            for certificate in read_certificates(path)? {
                roots.add(certificate)?;
            }
            let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| TlsError::Config(rustls::Error::General(e.to_string())))?;
            Arc::new(CheckedVerifier {
                inner: webpki,
                check_name: settings.verification == Verification::Full,
            })
        }
    };
    let builder = builder
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let config = match (settings.client_certificate, settings.client_key) {
        (Some(certificate), Some(key)) => {
            let key = PrivateKeyDer::from_pem_file(key).map_err(|e| TlsError::File {
                path: key.to_owned(),
                reason: e.to_string(),
            })?;
            builder.with_client_auth_cert(read_certificates(certificate)?, key)?
        }
        _ => builder.with_no_client_auth(),
    };
    Ok(config)
}

fn read_certificates(path: &str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let file_error = |reason: String| TlsError::File {
        path: path.to_owned(),
        reason,
    };
    let certificates = CertificateDer::pem_file_iter(Path::new(path))
        .map_err(|e| file_error(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(e.to_string()))?;
    if certificates.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_owned(),
        });
    }
    Ok(certificates)
}

/// Checks the certificate chain and, for `verify-full` only, the host name.
#[derive(Debug)]
struct CheckedVerifier {
    inner: Arc<WebPkiServerVerifier>,
    check_name: bool,
}

impl ServerCertVerifier for CheckedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verified = self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        );
        match verified {
            Err(rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName))
            | Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForNameContext { .. },
            )) if !self.check_name => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// Accepts any server certificate but still verifies the handshake signatures. This is what libpq
/// does for `sslmode=prefer` and `require` without a root certificate: the connection is
/// encrypted, and the server is not authenticated.
#[derive(Debug)]
pub struct AcceptAnyServerCertificate(Arc<CryptoProvider>);

impl AcceptAnyServerCertificate {
    pub fn new(provider: Arc<CryptoProvider>) -> AcceptAnyServerCertificate {
        AcceptAnyServerCertificate(provider)
    }
}

impl ServerCertVerifier for AcceptAnyServerCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
