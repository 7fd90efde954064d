//! Data source names: parsing of libpq connection URIs (`postgresql://user:pass@host:port/db?…`)
//! and key/value strings (`host=/run/postgresql user=postgres`), the `DATA_SOURCE_*` environment
//! variables, and the credential-free form used in logs, labels and errors.
//!
//! The formats are those of libpq, described in the PostgreSQL manual, section "Connection
//! Strings".

use std::fmt;
use std::time::Duration;

use tokio_postgres::config::SslMode;

use crate::tls::{MakeRustls, TlsSettings, Verification};

/// Error in a data source name. The message never contains the password.
#[derive(Debug, thiserror::Error)]
pub enum DsnError {
    #[error("invalid data source name {dsn}: {reason}")]
    Invalid { dsn: String, reason: String },
    #[error("failed to read {variable} from {path}: {source}")]
    File {
        variable: &'static str,
        path: String,
        source: std::io::Error,
    },
}

/// A parsed data source name: connection parameters in the order they were given.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Dsn {
    params: Vec<(String, String)>,
}

impl fmt::Debug for Dsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.loggable())
    }
}

impl fmt::Display for Dsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.loggable())
    }
}

impl Dsn {
    /// Parses a URI (`postgres://` or `postgresql://`) or a key/value connection string. A string
    /// that is neither is read as a URI without its scheme (`user@host:5432/db`), as
    /// postgres_exporter does for `/probe?target=`.
    pub fn parse(text: &str) -> Result<Dsn, DsnError> {
        let text = text.trim();
        let invalid = |reason: &str| DsnError::Invalid {
            dsn: redact_unparsed(text),
            reason: reason.to_owned(),
        };
        if text.is_empty() {
            return Err(invalid("empty"));
        }
        let params = if let Some(rest) = strip_scheme(text) {
            parse_uri(rest).map_err(|reason| invalid(&reason))?
        } else if looks_like_key_value(text) {
            parse_key_value(text).map_err(|reason| invalid(&reason))?
        } else {
            parse_uri(text).map_err(|reason| invalid(&reason))?
        };
        Ok(Dsn { params })
    }

    /// Returns the value of parameter `key`; a later occurrence overrides an earlier one.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Sets parameter `key`, replacing every earlier value.
    pub fn set(&mut self, key: &str, value: &str) {
        self.params.retain(|(k, _)| k != key);
        self.params.push((key.to_owned(), value.to_owned()));
    }

    /// Returns a copy that connects to database `name`.
    pub fn with_database(&self, name: &str) -> Dsn {
        let mut copy = self.clone();
        copy.set("dbname", name);
        copy
    }

    /// Returns the URI form without the password, for logs and error messages.
    pub fn loggable(&self) -> String {
        let mut out = String::from("postgresql://");
        if let Some(user) = self.get("user") {
            out.push_str(&percent_encode(user));
            out.push('@');
        }
        let host = self.get("host").unwrap_or("");
        if !host.starts_with('/') {
            out.push_str(host);
            if let Some(port) = self.get("port") {
                out.push(':');
                out.push_str(port);
            }
        }
        out.push('/');
        if let Some(db) = self.get("dbname") {
            out.push_str(&percent_encode(db));
        }
        let query: Vec<String> = self
            .params
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "user" | "password" | "dbname" | "port"))
            .filter(|(k, v)| k != "host" || v.starts_with('/'))
            .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
            .collect();
        if !query.is_empty() {
            out.push('?');
            out.push_str(&query.join("&"));
        }
        out
    }

    /// Returns `host:port` with libpq's defaults (`localhost`, 5432), the value of the `server`
    /// label of postgres_exporter.
    pub fn fingerprint(&self) -> String {
        let host = self.get("host").filter(|h| !h.is_empty());
        let port = self.get("port").filter(|p| !p.is_empty());
        format!("{}:{}", host.unwrap_or("localhost"), port.unwrap_or("5432"))
    }

    /// Builds the tokio-postgres configuration. Without `sslmode` a TCP connection tries TLS
    /// and falls back to plain text (`prefer`); Unix socket connections never use TLS.
    pub fn to_config(&self) -> Result<tokio_postgres::Config, DsnError> {
        let invalid = |reason: String| DsnError::Invalid {
            dsn: self.loggable(),
            reason,
        };
        let mut config = tokio_postgres::Config::new();
        config.ssl_mode(self.ssl_mode().map_err(invalid)?);
        config.host(
            self.get("host")
                .filter(|h| !h.is_empty())
                .unwrap_or("localhost"),
        );
        for (key, value) in &self.params {
            match key.as_str() {
                "host" => {}
                "port" => {
                    let port = value
                        .parse::<u16>()
                        .map_err(|_| invalid(format!("invalid port {value:?}")))?;
                    config.port(port);
                }
                "user" => {
                    config.user(value);
                }
                "password" => {
                    config.password(value);
                }
                "dbname" => {
                    config.dbname(value);
                }
                "application_name" => {
                    config.application_name(value);
                }
                "options" => {}
                "connect_timeout" => {
                    let seconds = value
                        .parse::<u64>()
                        .map_err(|_| invalid(format!("invalid connect_timeout {value:?}")))?;
                    if seconds > 0 {
                        config.connect_timeout(Duration::from_secs(seconds));
                    }
                }
                "sslmode" | "sslcert" | "sslkey" | "sslrootcert" | "fallback_application_name" => {}
                other => return Err(invalid(format!("unknown parameter {other:?}"))),
            }
        }
        // lib/pq, the driver of postgres_exporter, starts every session with
        // extra_float_digits=2; setting it too keeps pg_settings_extra_float_digits equal.
        let options = match self.get("options") {
            Some(given) => format!("-c extra_float_digits=2 {given}"),
            None => "-c extra_float_digits=2".to_owned(),
        };
        config.options(&options);
        Ok(config)
    }
}

impl Dsn {
    fn is_unix_socket(&self) -> bool {
        self.get("host").is_some_and(|h| h.starts_with('/'))
    }

    /// Maps `sslmode` to what tokio-postgres enforces: whether TLS is off, tried or required.
    fn ssl_mode(&self) -> Result<SslMode, String> {
        if self.is_unix_socket() {
            return Ok(SslMode::Disable);
        }
        match self.get("sslmode").unwrap_or("prefer") {
            "disable" => Ok(SslMode::Disable),
            "allow" | "prefer" => Ok(SslMode::Prefer),
            "require" | "verify-ca" | "verify-full" => Ok(SslMode::Require),
            other => Err(format!(
                "invalid sslmode {other:?}: expected disable, allow, prefer, require, verify-ca or verify-full"
            )),
        }
    }

    /// Builds the TLS connector of this DSN, or `None` when TLS is off. As in libpq,
    /// `sslmode=require` with `sslrootcert` checks the certificate chain like `verify-ca`.
    pub fn tls(&self) -> Result<Option<MakeRustls>, DsnError> {
        let invalid = |reason: String| DsnError::Invalid {
            dsn: self.loggable(),
            reason,
        };
        if self.ssl_mode().map_err(invalid)? == SslMode::Disable {
            return Ok(None);
        }
        let mode = self.get("sslmode").unwrap_or("prefer");
        let root_certificate = self.get("sslrootcert").filter(|p| !p.is_empty());
        let verification = match mode {
            "verify-full" => Verification::Full,
            "verify-ca" => Verification::Chain,
            "require" if root_certificate.is_some() => Verification::Chain,
            _ => Verification::None,
        };
        let settings = TlsSettings {
            verification,
            mode,
            root_certificate,
            client_certificate: self.get("sslcert").filter(|p| !p.is_empty()),
            client_key: self.get("sslkey").filter(|p| !p.is_empty()),
        };
        crate::tls::connector(&settings)
            .map(Some)
            .map_err(|e| invalid(e.to_string()))
    }
}

fn strip_scheme(text: &str) -> Option<&str> {
    text.strip_prefix("postgresql://")
        .or_else(|| text.strip_prefix("postgres://"))
}

/// Reports whether `text` starts like a key/value string: a word, `=` and a value.
fn looks_like_key_value(text: &str) -> bool {
    let Some((key, rest)) = text.split_once('=') else {
        return false;
    };
    let key = key.trim();
    !key.is_empty()
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !rest.trim_start().is_empty()
}

/// Parses the part of a URI after the scheme.
fn parse_uri(rest: &str) -> Result<Vec<(String, String)>, String> {
    let mut params = Vec::new();
    let (before_query, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (authority, path) = before_query.split_once('/').unwrap_or((before_query, ""));
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((userinfo, hostport)) => (Some(userinfo), hostport),
        None => (None, authority),
    };
    if let Some(userinfo) = userinfo {
        let (user, password) = match userinfo.split_once(':') {
            Some((user, password)) => (user, Some(password)),
            None => (userinfo, None),
        };
        if !user.is_empty() {
            params.push(("user".to_owned(), percent_decode(user)?));
        }
        if let Some(password) = password {
            params.push(("password".to_owned(), percent_decode(password)?));
        }
    }
    let (host, port) = split_host_port(hostport);
    if !host.is_empty() {
        params.push(("host".to_owned(), percent_decode(host)?));
    }
    if let Some(port) = port.filter(|p| !p.is_empty()) {
        params.push(("port".to_owned(), port.to_owned()));
    }
    if !path.is_empty() {
        params.push(("dbname".to_owned(), percent_decode(path)?));
    }
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        params.push((percent_decode(key)?, percent_decode(value)?));
    }
    Ok(params)
}

/// Splits `host:port`, keeping the colons of a bracketed IPv6 address in the host.
fn split_host_port(hostport: &str) -> (&str, Option<&str>) {
    if let Some(rest) = hostport.strip_prefix('[') {
        if let Some((host, after)) = rest.split_once(']') {
            return (host, after.strip_prefix(':'));
        }
    }
    match hostport.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (hostport, None),
    }
}

/// Parses `key=value` pairs separated by whitespace. Values may be single-quoted, and a
/// backslash escapes the next character, as in libpq.
fn parse_key_value(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut params = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            break;
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c.is_whitespace() {
                break;
            }
            key.push(c);
            chars.next();
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.next() != Some('=') {
            return Err(format!("missing \"=\" after {key:?}"));
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'\'') {
            chars.next();
            loop {
                match chars.next() {
                    Some('\\') => value.extend(chars.next()),
                    Some('\'') => break,
                    Some(c) => value.push(c),
                    None => return Err(format!("unterminated quoted value of {key:?}")),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                chars.next();
                if c == '\\' {
                    value.extend(chars.next());
                } else {
                    value.push(c);
                }
            }
        }
        params.push((key, value));
    }
    Ok(params)
}

fn percent_decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| "invalid percent-encoding".to_owned())?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "percent-encoding is not UTF-8".to_owned())
}

fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Redacts a string that failed to parse: everything between `://` and the last `@`, and any
/// `password=` value, is replaced, because the parser cannot tell where the password ends.
pub fn redact_unparsed(text: &str) -> String {
    let mut out = text.to_owned();
    if let Some(start) = out.find("://") {
        if let Some(at) = out.rfind('@').filter(|&at| at > start) {
            out.replace_range(start + 3..at, "REDACTED");
        }
    }
    if let Some(start) = out.find("password=") {
        let value_start = start + "password=".len();
        let end = out[value_start..]
            .find([' ', '&'])
            .map_or(out.len(), |i| value_start + i);
        out.replace_range(value_start..end, "REDACTED");
    }
    out
}

/// Reads the data source names from the environment, as postgres_exporter does.
///
/// `DATA_SOURCE_NAME`, a comma-separated list, takes precedence. Without it,
/// `DATA_SOURCE_URI` (host, port, database and options, without a scheme) is combined with
/// `DATA_SOURCE_USER` and `DATA_SOURCE_PASS`. Each of these three may instead be read from the
/// file named by its `_FILE` variable.
pub fn from_environment(env: impl Fn(&str) -> Option<String>) -> Result<Vec<String>, DsnError> {
    if let Some(names) = env("DATA_SOURCE_NAME").filter(|v| !v.is_empty()) {
        return Ok(names.split(',').map(str::to_owned).collect());
    }
    let user = variable_or_file(&env, "DATA_SOURCE_USER")?;
    let pass = variable_or_file(&env, "DATA_SOURCE_PASS")?;
    let uri = variable_or_file(&env, "DATA_SOURCE_URI")?;
    if uri.is_empty() {
        return Ok(Vec::new());
    }
    Ok(vec![format!(
        "postgresql://{}:{}@{uri}",
        percent_encode(&user),
        percent_encode(&pass)
    )])
}

fn variable_or_file(
    env: &impl Fn(&str) -> Option<String>,
    name: &'static str,
) -> Result<String, DsnError> {
    let file_variable = match name {
        "DATA_SOURCE_USER" => "DATA_SOURCE_USER_FILE",
        "DATA_SOURCE_PASS" => "DATA_SOURCE_PASS_FILE",
        _ => "DATA_SOURCE_URI_FILE",
    };
    if let Some(path) = env(file_variable).filter(|p| !p.is_empty()) {
        let text = std::fs::read_to_string(&path).map_err(|source| DsnError::File {
            variable: file_variable,
            path: path.clone(),
            source,
        })?;
        return Ok(text.trim().to_owned());
    }
    Ok(env(name).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_parses_all_parts() {
        let dsn = Dsn::parse("postgresql://mon%40x:s%3Acret@db.example:6432/web?sslmode=disable")
            .unwrap();
        assert_eq!(dsn.get("user"), Some("mon@x"));
        assert_eq!(dsn.get("password"), Some("s:cret"));
        assert_eq!(dsn.get("host"), Some("db.example"));
        assert_eq!(dsn.get("port"), Some("6432"));
        assert_eq!(dsn.get("dbname"), Some("web"));
        assert_eq!(dsn.get("sslmode"), Some("disable"));
        assert_eq!(dsn.fingerprint(), "db.example:6432");
    }

    #[test]
    fn key_value_parses_quotes_and_socket_directory() {
        let dsn =
            Dsn::parse("host=/run/postgresql user=postgres password='a b\\'c' dbname=x").unwrap();
        assert_eq!(dsn.get("host"), Some("/run/postgresql"));
        assert_eq!(dsn.get("password"), Some("a b'c"));
        assert_eq!(dsn.fingerprint(), "/run/postgresql:5432");
    }

    #[test]
    fn loggable_form_has_no_password() {
        for text in [
            "postgresql://u:topsecret@h:1/d?sslmode=disable",
            "host=h user=u password=topsecret",
            "postgresql://u@h/d?password=topsecret",
        ] {
            let dsn = Dsn::parse(text).unwrap();
            assert!(!dsn.loggable().contains("topsecret"), "{}", dsn.loggable());
            assert!(!format!("{dsn:?}").contains("topsecret"));
        }
    }

    #[test]
    fn errors_have_no_password() {
        let error = Dsn::parse("postgresql://u:topsecret@h:notaport/d")
            .unwrap()
            .to_config()
            .unwrap_err();
        assert!(!error.to_string().contains("topsecret"), "{error}");
        let error = Dsn::parse("host=h password='topsecret").unwrap_err();
        assert!(!error.to_string().contains("topsecret"), "{error}");
    }

    #[test]
    fn target_without_scheme_is_a_uri() {
        let dsn = Dsn::parse("127.0.0.1:5433/postgres?sslmode=disable").unwrap();
        assert_eq!(dsn.get("host"), Some("127.0.0.1"));
        assert_eq!(dsn.get("port"), Some("5433"));
    }

    #[test]
    fn ssl_modes_map_to_tls_settings() {
        let plain = Dsn::parse("postgresql://h/d?sslmode=disable").unwrap();
        assert!(plain.tls().unwrap().is_none());
        let socket = Dsn::parse("host=/run/postgresql sslmode=require").unwrap();
        assert!(socket.tls().unwrap().is_none());
        let default = Dsn::parse("postgresql://h/d").unwrap();
        assert!(default.tls().unwrap().is_some());
        let bad = Dsn::parse("postgresql://h/d?sslmode=sometimes").unwrap();
        assert!(bad.to_config().is_err());
    }

    #[test]
    fn verify_modes_need_a_root_certificate() {
        let dsn = Dsn::parse("postgresql://h/d?sslmode=verify-full").unwrap();
        let error = dsn.tls().err().unwrap();
        assert!(error.to_string().contains("sslrootcert"), "{error}");
        let dsn =
            Dsn::parse("postgresql://h/d?sslmode=verify-ca&sslrootcert=/nonexistent.pem").unwrap();
        let error = dsn.tls().err().unwrap();
        assert!(error.to_string().contains("/nonexistent.pem"), "{error}");
    }

    #[test]
    fn environment_combines_uri_user_and_password() {
        let env = |name: &str| match name {
            "DATA_SOURCE_URI" => Some("h:5432/db?sslmode=disable".to_owned()),
            "DATA_SOURCE_USER" => Some("mon".to_owned()),
            "DATA_SOURCE_PASS" => Some("p@ss".to_owned()),
            _ => None,
        };
        let names = from_environment(env).unwrap();
        assert_eq!(names, ["postgresql://mon:p%40ss@h:5432/db?sslmode=disable"]);
        let dsn = Dsn::parse(&names[0]).unwrap();
        assert_eq!(dsn.get("password"), Some("p@ss"));
    }

    #[test]
    fn environment_name_list_wins() {
        let env = |name: &str| match name {
            "DATA_SOURCE_NAME" => Some("host=a,host=b".to_owned()),
            "DATA_SOURCE_URI" => Some("c".to_owned()),
            _ => None,
        };
        assert_eq!(from_environment(env).unwrap(), ["host=a", "host=b"]);
    }
}
