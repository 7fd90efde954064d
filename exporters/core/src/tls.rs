//! The `tls_server_config` section of the web configuration, turned into a rustls server
//! configuration. Client authentication follows Go's `tls.ClientAuthType` names.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{
    verify_tls12_signature, verify_tls13_signature, CryptoProvider, WebPkiSupportedAlgorithms,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme};
use serde::Deserialize;
use tracing::warn;

/// The `tls_server_config` section.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSettings {
    #[serde(default)]
    cert_file: Option<String>,
    #[serde(default)]
    key_file: Option<String>,
    #[serde(default)]
    cert: Option<String>,
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    client_auth_type: Option<String>,
    #[serde(default)]
    client_ca_file: Option<String>,
    #[serde(default)]
    client_ca: Option<String>,
    #[serde(default)]
    client_allowed_sans: Option<Vec<String>>,
    #[serde(default)]
    min_version: Option<String>,
    #[serde(default)]
    max_version: Option<String>,
    #[serde(default)]
    cipher_suites: Option<Vec<String>>,
    #[serde(default)]
    curve_preferences: Option<Vec<String>>,
    #[serde(default)]
    prefer_server_cipher_suites: Option<bool>,
}

impl TlsSettings {
    /// Returns the files this section reads, resolved against the configuration file's folder.
    pub fn files(&self, config: &Path) -> Vec<PathBuf> {
        [&self.cert_file, &self.key_file, &self.client_ca_file]
            .into_iter()
            .flatten()
            .map(|file| resolve(config, file))
            .collect()
    }
}

/// Resolves a path of the configuration relative to the folder of the configuration file, as
/// exporter-toolkit does.
fn resolve(config: &Path, file: &str) -> PathBuf {
    let path = Path::new(file);
    if path.is_absolute() {
        return path.to_owned();
    }
    config.parent().unwrap_or(Path::new(".")).join(path)
}

/// Builds the rustls configuration. An error message names the setting that is wrong.
pub fn server_config(
    settings: &TlsSettings,
    config: &Path,
) -> Result<Arc<rustls::ServerConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let (certs, key) = certificate_and_key(settings, config)?;
    let versions = protocol_versions(settings)?;
    if settings
        .client_allowed_sans
        .as_ref()
        .is_some_and(|s| !s.is_empty())
    {
        return Err("client_allowed_sans is not supported".to_owned());
    }
    if settings
        .cipher_suites
        .as_ref()
        .is_some_and(|s| !s.is_empty())
        || settings
            .curve_preferences
            .as_ref()
            .is_some_and(|s| !s.is_empty())
        || settings.prefer_server_cipher_suites.is_some()
    {
        warn!("cipher_suites, curve_preferences and prefer_server_cipher_suites are ignored: rustls offers only its own secure defaults");
    }
    let verifier = client_verifier(settings, config, &provider)?;
    let mut server = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions)
        .map_err(|e| e.to_string())?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .map_err(|e| format!("invalid certificate or key: {e}"))?;
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(server))
}

fn certificate_and_key(
    settings: &TlsSettings,
    config: &Path,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), String> {
    if settings.cert_file.is_none() && settings.cert.is_none() {
        return Err("missing cert_file".to_owned());
    }
    if settings.key_file.is_none() && settings.key.is_none() {
        return Err("missing key_file".to_owned());
    }
    let certs: Vec<CertificateDer<'static>> = match (&settings.cert_file, &settings.cert) {
        (Some(_), Some(_)) => return Err("cert and cert_file are mutually exclusive".to_owned()),
        (Some(file), None) => {
            let path = resolve(config, file);
            CertificateDer::pem_file_iter(&path)
                .and_then(|iter| iter.collect())
                .map_err(|e| format!("cannot read cert_file {}: {e}", path.display()))?
        }
        (None, Some(pem)) => CertificateDer::pem_slice_iter(pem.as_bytes())
            .collect::<Result<_, _>>()
            .map_err(|e| format!("invalid cert: {e}"))?,
        (None, None) => return Err("missing cert_file".to_owned()),
    };
    if certs.is_empty() {
        return Err("cert_file holds no certificate".to_owned());
    }
    let key = match (&settings.key_file, &settings.key) {
        (Some(_), Some(_)) => return Err("key and key_file are mutually exclusive".to_owned()),
        (Some(file), None) => {
            let path = resolve(config, file);
            PrivateKeyDer::from_pem_file(&path)
                .map_err(|e| format!("cannot read key_file {}: {e}", path.display()))?
        }
        (None, Some(pem)) => PrivateKeyDer::from_pem_slice(pem.as_bytes())
            .map_err(|e| format!("invalid key: {e}"))?,
        (None, None) => return Err("missing key_file".to_owned()),
    };
    Ok((certs, key))
}

fn protocol_versions(
    settings: &TlsSettings,
) -> Result<Vec<&'static rustls::SupportedProtocolVersion>, String> {
    let rank = |name: &Option<String>, default: u8| -> Result<u8, String> {
        match name.as_deref() {
            None | Some("") => Ok(default),
            Some("TLS10") | Some("TLS11") => {
                warn!(
                    version = name.as_deref().unwrap_or_default(),
                    "TLS 1.0 and 1.1 are not offered; TLS 1.2 is the lowest version"
                );
                Ok(12)
            }
            Some("TLS12") => Ok(12),
            Some("TLS13") => Ok(13),
            Some(other) => Err(format!(
                "unknown TLS version {other:?}: TLS10, TLS11, TLS12 or TLS13"
            )),
        }
    };
    let min = rank(&settings.min_version, 12)?;
    let max = rank(&settings.max_version, 13)?;
    if min > max {
        return Err("min_version is greater than max_version".to_owned());
    }
    let mut versions = Vec::new();
    if min <= 12 {
        versions.push(&rustls::version::TLS12);
    }
    if max >= 13 {
        versions.push(&rustls::version::TLS13);
    }
    Ok(versions)
}

fn client_verifier(
    settings: &TlsSettings,
    config: &Path,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<dyn ClientCertVerifier>, String> {
    let auth_type = settings
        .client_auth_type
        .as_deref()
        .unwrap_or("NoClientCert");
    let has_ca = settings.client_ca_file.is_some() || settings.client_ca.is_some();
    let roots = || client_roots(settings, config);
    let build = |builder: rustls::server::ClientCertVerifierBuilder| {
        builder
            .build()
            .map_err(|e| format!("invalid client CA: {e}"))
    };
    match auth_type {
        "" | "NoClientCert" => {
            if has_ca {
                return Err(
                    "client CA's have been configured without a client_auth_type".to_owned(),
                );
            }
            Ok(WebPkiClientVerifier::no_client_auth())
        }
        "RequestClientCert" => Ok(Arc::new(AnyClientCert::new(provider, false))),
        "RequireAnyClientCert" => Ok(Arc::new(AnyClientCert::new(provider, true))),
        "VerifyClientCertIfGiven" => build(
            WebPkiClientVerifier::builder_with_provider(roots()?, Arc::clone(provider))
                .allow_unauthenticated(),
        ),
        "RequireAndVerifyClientCert" => build(WebPkiClientVerifier::builder_with_provider(
            roots()?,
            Arc::clone(provider),
        )),
        other => Err(format!("invalid client_auth_type {other:?}")),
    }
}

fn client_roots(settings: &TlsSettings, config: &Path) -> Result<Arc<RootCertStore>, String> {
    let certs: Vec<CertificateDer<'static>> = match (&settings.client_ca_file, &settings.client_ca)
    {
        (Some(file), _) => {
            let path = resolve(config, file);
            CertificateDer::pem_file_iter(&path)
                .and_then(|iter| iter.collect())
                .map_err(|e| format!("cannot read client_ca_file {}: {e}", path.display()))?
        }
        (None, Some(pem)) => CertificateDer::pem_slice_iter(pem.as_bytes())
            .collect::<Result<_, _>>()
            .map_err(|e| format!("invalid client_ca: {e}"))?,
        (None, None) => {
            return Err("client_ca_file is required to verify client certificates".to_owned())
        }
    };
    let mut roots = RootCertStore::empty();
    for cert in certs {
        roots
            .add(cert)
            .map_err(|e| format!("invalid client CA certificate: {e}"))?;
    }
    Ok(Arc::new(roots))
}

/// Accepts any client certificate without checking who issued it, for Go's
/// `RequestClientCert` and `RequireAnyClientCert`. Handshake signatures are still verified, so the
/// client must hold the certificate's key.
#[derive(Debug)]
struct AnyClientCert {
    algorithms: WebPkiSupportedAlgorithms,
    mandatory: bool,
}

impl AnyClientCert {
    fn new(provider: &CryptoProvider, mandatory: bool) -> AnyClientCert {
        AnyClientCert {
            algorithms: provider.signature_verification_algorithms,
            mandatory,
        }
    }
}

impl ClientCertVerifier for AnyClientCert {
    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
