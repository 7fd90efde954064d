//! The web configuration file of Prometheus's exporter-toolkit: TLS, basic authentication and
//! extra response headers. The file and the files it names are read again when they change, so
//! a new password or certificate takes effect without a restart.
//!
//! Format: <https://github.com/prometheus/exporter-toolkit/blob/master/docs/web-configuration.md>.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwap;
use http::{HeaderName, HeaderValue};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tracing::{error, info, warn};

use crate::tls::{self, TlsSettings};

/// Error in a web configuration file; the message names the file.
#[derive(Debug, thiserror::Error)]
#[error("invalid web configuration file {path}: {message}")]
pub struct WebConfigError {
    pub path: PathBuf,
    pub message: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileContents {
    #[serde(default)]
    tls_server_config: Option<TlsSettings>,
    #[serde(default)]
    http_server_config: Option<HttpServerConfig>,
    #[serde(default)]
    basic_auth_users: Option<BTreeMap<String, String>>,
    #[serde(default)]
    rate_limit: Option<serde_yaml::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpServerConfig {
    #[serde(default)]
    http2: Option<bool>,
    #[serde(default)]
    headers: Option<BTreeMap<String, String>>,
}

/// Response headers that exporter-toolkit lets a configuration set.
const ALLOWED_HEADERS: &[&str] = &[
    "Strict-Transport-Security",
    "X-Content-Type-Options",
    "X-Frame-Options",
    "X-XSS-Protection",
    "Content-Security-Policy",
];

/// One loaded and validated configuration.
pub struct WebSettings {
    pub tls: Option<Arc<rustls::ServerConfig>>,
    pub users: Option<HashMap<String, String>>,
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

/// Parses and validates the configuration at `path`, reading the certificate files it names.
pub fn load(path: &Path) -> Result<WebSettings, WebConfigError> {
    let fail = |message: String| WebConfigError {
        path: path.to_owned(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| fail(format!("cannot read it: {e}")))?;
    let contents: FileContents = if text.trim().is_empty() {
        FileContents::default()
    } else {
        serde_yaml::from_str(&text).map_err(|e| fail(e.to_string()))?
    };
    if contents.rate_limit.is_some() {
        return Err(fail(
            "rate_limit is not supported; use --web.max-requests".to_owned(),
        ));
    }
    let _ = contents.http_server_config.as_ref().and_then(|c| c.http2);

    let tls = match &contents.tls_server_config {
        Some(settings) => Some(tls::server_config(settings, path).map_err(fail)?),
        None => None,
    };
    let users = match contents.basic_auth_users {
        Some(users) if !users.is_empty() => Some(validate_users(users).map_err(fail)?),
        _ => None,
    };
    let headers = match contents.http_server_config.and_then(|c| c.headers) {
        Some(headers) => validate_headers(headers).map_err(fail)?,
        None => Vec::new(),
    };
    Ok(WebSettings {
        tls,
        users,
        headers,
    })
}

fn validate_users(users: BTreeMap<String, String>) -> Result<HashMap<String, String>, String> {
    for (user, hash) in &users {
        if hash.parse::<bcrypt::HashParts>().is_err() {
            return Err(format!(
                "the password of basic_auth_users.{user} is not a bcrypt hash"
            ));
        }
    }
    Ok(users.into_iter().collect())
}

fn validate_headers(
    headers: BTreeMap<String, String>,
) -> Result<Vec<(HeaderName, HeaderValue)>, String> {
    let mut out = Vec::new();
    for (name, value) in headers {
        let Some(allowed) = ALLOWED_HEADERS
            .iter()
            .find(|h| h.eq_ignore_ascii_case(&name))
        else {
            return Err(format!(
                "header {name} cannot be set; allowed: {}",
                ALLOWED_HEADERS.join(", ")
            ));
        };
        let lower = value.to_ascii_lowercase();
        if *allowed == "X-Content-Type-Options" && lower != "nosniff" {
            return Err(format!(
                "invalid value {value:?} for X-Content-Type-Options: only nosniff is allowed"
            ));
        }
        if *allowed == "X-Frame-Options" && lower != "deny" && lower != "sameorigin" {
            return Err(format!(
                "invalid value {value:?} for X-Frame-Options: deny or sameorigin"
            ));
        }
        let header_name = HeaderName::from_bytes(allowed.as_bytes()).map_err(|e| e.to_string())?;
        let header_value = HeaderValue::from_str(&value)
            .map_err(|e| format!("invalid value of header {name}: {e}"))?;
        out.push((header_name, header_value));
    }
    Ok(out)
}

/// Modification time and size of the files a configuration depends on.
type Stamp = Vec<Option<(SystemTime, u64)>>;

/// A web configuration file that is read again when it or a file it names changes. A changed
/// file that is invalid is logged and the previous settings stay in force.
pub struct WebConfig {
    path: PathBuf,
    current: ArcSwap<WebSettings>,
    check: Mutex<Check>,
    auth_cache: Mutex<HashMap<[u8; 32], bool>>,
}

struct Check {
    at: Instant,
    stamp: Stamp,
}

/// How often the files are checked for changes at most.
const CHECK_INTERVAL: Duration = Duration::from_secs(1);
/// Number of remembered basic authentication results before the cache is emptied.
const AUTH_CACHE_LIMIT: usize = 1024;

/// Returns a bcrypt hash that no password matches in practice. It is checked for unknown users so
/// that the response time does not tell which user names exist.
fn dummy_hash() -> String {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| {
        let seed = format!("{:?}{}", SystemTime::now(), std::process::id());
        bcrypt::hash(seed, bcrypt::DEFAULT_COST).unwrap_or_default()
    })
    .clone()
}

impl WebConfig {
    /// Loads the configuration at `path`; an invalid file is an error.
    pub fn open(path: &Path) -> Result<WebConfig, WebConfigError> {
        let settings = load(path)?;
        let stamp = stamp_files(path);
        Ok(WebConfig {
            path: path.to_owned(),
            current: ArcSwap::from_pointee(settings),
            check: Mutex::new(Check {
                at: Instant::now(),
                stamp,
            }),
            auth_cache: Mutex::new(HashMap::new()),
        })
    }

    /// Returns the settings in force, reloading them first when a file changed.
    pub fn settings(&self) -> Arc<WebSettings> {
        self.reload_if_changed();
        self.current.load_full()
    }

    fn reload_if_changed(&self) {
        let Ok(mut check) = self.check.lock() else {
            return;
        };
        if check.at.elapsed() < CHECK_INTERVAL {
            return;
        }
        check.at = Instant::now();
        let stamp = stamp_files(&self.path);
        if stamp == check.stamp {
            return;
        }
        check.stamp = stamp;
        match load(&self.path) {
            Ok(settings) => {
                let tls_before = self.current.load().tls.is_some();
                if tls_before != settings.tls.is_some() {
                    warn!(path = %self.path.display(), "Turning TLS on or off takes a restart; the other changes apply now");
                }
                self.current.store(Arc::new(settings));
                if let Ok(mut cache) = self.auth_cache.lock() {
                    cache.clear();
                }
                info!(path = %self.path.display(), "Reloaded the web configuration");
            }
            Err(e) => error!(error = %e, "Kept the previous web configuration"),
        }
    }

    /// Checks a basic authentication header value against the configured users. Successful and
    /// failed checks are remembered under a SHA-256 digest of the credentials, because bcrypt
    /// costs tens of milliseconds per check.
    pub async fn authorize(
        &self,
        settings: &WebSettings,
        authorization: Option<&HeaderValue>,
    ) -> bool {
        let Some(users) = &settings.users else {
            return true;
        };
        let Some((user, password)) = authorization.and_then(parse_basic) else {
            return false;
        };
        let known_hash = users.get(&user).cloned();
        let hash = known_hash.clone().unwrap_or_else(dummy_hash);
        let key = cache_key(&user, &password, &hash);
        if let Some(&ok) = self
            .auth_cache
            .lock()
            .ok()
            .and_then(|c| c.get(&key).copied())
            .as_ref()
        {
            return ok && known_hash.is_some();
        }
        let verified =
            tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash).unwrap_or(false))
                .await
                .unwrap_or(false);
        let ok = verified && known_hash.is_some();
        if let Ok(mut cache) = self.auth_cache.lock() {
            if cache.len() >= AUTH_CACHE_LIMIT {
                cache.clear();
            }
            cache.insert(key, ok);
        }
        ok
    }
}

fn cache_key(user: &str, password: &str, hash: &str) -> [u8; 32] {
    let mut digest = Sha256::new();
    for part in [user, password, hash] {
        digest.update(part.as_bytes());
        digest.update([0]);
    }
    digest.finalize().into()
}

/// Decodes `Basic base64(user:password)`.
fn parse_basic(value: &HeaderValue) -> Option<(String, String)> {
    use base64::Engine as _;
    let text = value.to_str().ok()?;
    let (scheme, encoded) = text.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

fn stamp_files(path: &Path) -> Stamp {
    let mut files = vec![path.to_owned()];
    if let Ok(text) = std::fs::read_to_string(path) {
        if let Ok(contents) = serde_yaml::from_str::<FileContents>(&text) {
            if let Some(tls) = contents.tls_server_config {
                files.extend(tls.files(path));
            }
        }
    }
    files
        .iter()
        .map(|file| {
            let meta = std::fs::metadata(file).ok()?;
            Some((meta.modified().ok()?, meta.len()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write(text: &str) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(text.as_bytes()).unwrap();
        file
    }

    #[test]
    fn unknown_key_is_rejected_with_the_file_name() {
        let file = write("basic_auth_user:\n  a: b\n");
        let error = load(file.path()).err().unwrap().to_string();
        assert!(
            error.contains(&file.path().display().to_string()),
            "{error}"
        );
        assert!(error.contains("basic_auth_user"), "{error}");
    }

    #[test]
    fn plain_password_is_rejected() {
        let file = write("basic_auth_users:\n  alice: secret\n");
        let error = load(file.path()).err().unwrap().to_string();
        assert!(error.contains("not a bcrypt hash"), "{error}");
        assert!(!error.contains("secret"), "{error}");
    }

    #[test]
    fn disallowed_header_is_rejected() {
        let file = write("http_server_config:\n  headers:\n    Server: x\n");
        let error = load(file.path()).err().unwrap().to_string();
        assert!(error.contains("header Server cannot be set"), "{error}");
    }

    #[test]
    fn missing_key_file_is_rejected() {
        let file = write("tls_server_config:\n  cert_file: /nonexistent.crt\n");
        let error = load(file.path()).err().unwrap().to_string();
        assert!(error.contains("key_file"), "{error}");
    }

    #[test]
    fn empty_file_means_no_settings() {
        let file = write("");
        let settings = load(file.path()).unwrap();
        assert!(settings.tls.is_none());
        assert!(settings.users.is_none());
    }

    #[test]
    fn basic_header_parses() {
        let value = HeaderValue::from_static("Basic YWxpY2U6b3BlbjpzZXNhbWU=");
        assert_eq!(
            parse_basic(&value),
            Some(("alice".into(), "open:sesame".into()))
        );
        assert_eq!(parse_basic(&HeaderValue::from_static("Bearer x")), None);
    }
}
