//! Connection URLs: which driver they select, the labels they give the samples (`driver`, `host`,
//! `database`, `user`, as justwatchcom derives them), and the driver settings.
//!
//! PostgreSQL takes libpq URLs (`postgres://` or `postgresql://`, a socket directory through
//! `?host=`, TLS through `sslmode` and `sslrootcert`). MySQL takes go-sql-driver's DSN after
//! `mysql://` (`user:password@tcp(host:port)/database?param=value`, as justwatchcom does) and
//! also the plain URL form `mysql://user:password@host:port/database`.

use std::path::PathBuf;
use std::str::FromStr;

/// A connection URL that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DsnError {
    #[error("invalid connection URL: {0}")]
    Invalid(String),
    #[error("unsupported driver {0:?}; use postgres://, postgresql:// or mysql://")]
    UnsupportedDriver(String),
}

/// TLS mode of a PostgreSQL connection, from libpq's `sslmode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PgTls {
    Disable,
    /// `allow` and `prefer`: TLS when the server offers it, without certificate checks.
    Prefer,
    /// `require`: TLS without certificate checks, as libpq does without a root certificate.
    Require,
    /// `verify-ca`: TLS with the certificate chain checked against `sslrootcert`.
    VerifyCa,
    /// `verify-full`: as `verify-ca`, and the certificate must name the host.
    VerifyFull,
}

#[derive(Clone, Debug)]
pub enum Settings {
    Postgres {
        config: Box<tokio_postgres::Config>,
        tls: PgTls,
        root_cert: Option<PathBuf>,
    },
    Mysql(mysql_async::Opts),
}

/// A parsed connection URL with the labels of its samples.
#[derive(Clone, Debug)]
pub struct Target {
    /// The URL scheme: `postgres`, `postgresql` or `mysql`.
    pub driver: String,
    /// Host and port as written in the URL; empty for a PostgreSQL socket directory.
    pub host: String,
    pub database: String,
    pub user: String,
    pub settings: Settings,
}

impl Target {
    pub fn parse(text: &str) -> Result<Target, DsnError> {
        let scheme = text.split_once("://").map(|(s, _)| s).unwrap_or_default();
        match scheme {
            "postgres" | "postgresql" => parse_postgres(text),
            "mysql" => parse_mysql(&text["mysql://".len()..]),
            other => Err(DsnError::UnsupportedDriver(other.to_owned())),
        }
    }

    /// Describes the target without its password, for logs.
    pub fn redacted(&self) -> String {
        format!(
            "{}://{}@{}/{}",
            self.driver, self.user, self.host, self.database
        )
    }
}

/// Decodes `%XX` escapes of a URL part; a part with invalid escapes is returned as it is.
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| text.to_owned())
}

fn parse_postgres(text: &str) -> Result<Target, DsnError> {
    let invalid = |e: &dyn std::fmt::Display| DsnError::Invalid(e.to_string());
    // Split by hand rather than with a URL parser, because libpq URLs may leave the host empty
    // (`postgres://user@/db?host=/run/postgresql`), which generic URL parsers reject.
    let (scheme, rest) = text.split_once("://").unwrap_or(("postgres", text));
    let (before_query, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (authority, path) = before_query.split_once('/').unwrap_or((before_query, ""));
    let (userinfo, host) = authority.rsplit_once('@').unwrap_or(("", authority));
    let user = decode(userinfo.split_once(':').map_or(userinfo, |(u, _)| u));
    let database = decode(path);

    // tokio-postgres accepts only disable, prefer and require, so the TLS parameters are
    // taken out here and handled by the driver.
    let mut tls = PgTls::Prefer;
    let mut root_cert = None;
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "sslmode" => {
                tls = match value {
                    "disable" => PgTls::Disable,
                    "allow" | "prefer" => PgTls::Prefer,
                    "require" => PgTls::Require,
                    "verify-ca" => PgTls::VerifyCa,
                    "verify-full" => PgTls::VerifyFull,
                    other => return Err(DsnError::Invalid(format!("unknown sslmode {other:?}"))),
                }
            }
            "sslrootcert" => root_cert = Some(PathBuf::from(decode(value))),
            _ => kept.push(pair),
        }
    }
    let mut stripped = format!("postgresql://{before_query}");
    if !kept.is_empty() {
        stripped.push('?');
        stripped.push_str(&kept.join("&"));
    }
    let mut config = tokio_postgres::Config::from_str(&stripped).map_err(|e| invalid(&e))?;
    // libpq ignores sslmode on Unix sockets, where PostgreSQL offers no TLS.
    let only_sockets = config
        .get_hosts()
        .iter()
        .all(|h| matches!(h, tokio_postgres::config::Host::Unix(_)));
    if only_sockets && !config.get_hosts().is_empty() {
        tls = PgTls::Disable;
    }
    config.ssl_mode(match tls {
        PgTls::Disable => tokio_postgres::config::SslMode::Disable,
        PgTls::Prefer => tokio_postgres::config::SslMode::Prefer,
        PgTls::Require | PgTls::VerifyCa | PgTls::VerifyFull => {
            tokio_postgres::config::SslMode::Require
        }
    });
    if config.get_application_name().is_none() {
        config.application_name("sql-exporter");
    }
    Ok(Target {
        driver: scheme.to_owned(),
        host: host.to_owned(),
        database,
        user,
        settings: Settings::Postgres {
            config: Box::new(config),
            tls,
            root_cert,
        },
    })
}

fn parse_mysql(rest: &str) -> Result<Target, DsnError> {
    let (main, params) = rest.split_once('?').unwrap_or((rest, ""));
    let slash = main
        .rfind('/')
        .ok_or_else(|| DsnError::Invalid("missing \"/\" before the database name".to_owned()))?;
    let (before, database) = (&main[..slash], &main[slash + 1..]);
    let (userinfo, address) = before.rsplit_once('@').unwrap_or(("", before));
    let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));

    let mut builder = mysql_async::OptsBuilder::default()
        .user(Some(user))
        .pass((!password.is_empty()).then_some(password))
        .db_name((!database.is_empty()).then_some(database));
    let host = if let Some(path) = address
        .strip_prefix("unix(")
        .and_then(|a| a.strip_suffix(')'))
    {
        builder = builder.socket(Some(path));
        path.to_owned()
    } else {
        let addr = match address.strip_prefix("tcp(") {
            Some(inner) => inner.strip_suffix(')').ok_or_else(|| {
                DsnError::Invalid("missing \")\" after the tcp address".to_owned())
            })?,
            None if address.contains('(') => {
                return Err(DsnError::Invalid(format!(
                    "unsupported network in {address:?}; use tcp(host:port) or unix(path)"
                )))
            }
            None => address,
        };
        let addr = if addr.is_empty() {
            "127.0.0.1:3306"
        } else {
            addr
        };
        let (name, port) = match addr.rsplit_once(':') {
            Some((name, port)) if !name.ends_with(':') => {
                let port = port
                    .parse::<u16>()
                    .map_err(|_| DsnError::Invalid(format!("invalid port in {addr:?}")))?;
                (name, port)
            }
            _ => (addr, 3306),
        };
        let name = name.trim_start_matches('[').trim_end_matches(']');
        builder = builder.ip_or_hostname(name).tcp_port(port);
        if addr.contains(':') {
            addr.to_owned()
        } else {
            format!("{addr}:3306")
        }
    };
    builder = mysql_params(builder, params)?;
    Ok(Target {
        driver: "mysql".to_owned(),
        host,
        database: database.to_owned(),
        user: user.to_owned(),
        settings: Settings::Mysql(builder.into()),
    })
}

/// Applies go-sql-driver parameters. `tls` selects TLS; parameters that go-sql-driver does not
/// know are session variables, set with `SET` on each new connection as go-sql-driver does.
fn mysql_params(
    mut builder: mysql_async::OptsBuilder,
    params: &str,
) -> Result<mysql_async::OptsBuilder, DsnError> {
    let mut init = Vec::new();
    for (key, value) in url::form_urlencoded::parse(params.as_bytes()) {
        match key.as_ref() {
            "tls" => {
                let ssl = mysql_async::SslOpts::default();
                builder = match value.as_ref() {
                    "true" => builder.ssl_opts(Some(ssl)),
                    "skip-verify" | "preferred" => builder.ssl_opts(Some(
                        ssl.with_danger_accept_invalid_certs(true)
                            .with_danger_skip_domain_validation(true),
                    )),
                    "false" => builder.ssl_opts(None),
                    other => {
                        return Err(DsnError::Invalid(format!(
                            "unsupported tls value {other:?}"
                        )))
                    }
                };
            }
            // Settings of go-sql-driver's own client that have no effect here.
            "parseTime"
            | "loc"
            | "timeout"
            | "readTimeout"
            | "writeTimeout"
            | "charset"
            | "collation"
            | "allowNativePasswords"
            | "allowCleartextPasswords"
            | "interpolateParams"
            | "multiStatements"
            | "clientFoundRows"
            | "columnsWithAlias" => {}
            name => init.push(format!("SET {name}={value}")),
        }
    }
    Ok(builder.init(init))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_socket_url_has_empty_host() {
        let target =
            Target::parse("postgres://postgres@/web-security-tracker?host=/run/postgresql")
                .unwrap();
        assert_eq!(target.driver, "postgres");
        assert_eq!(target.host, "");
        assert_eq!(target.database, "web-security-tracker");
        assert_eq!(target.user, "postgres");
        let Settings::Postgres { tls, config, .. } = &target.settings else {
            panic!("not postgres");
        };
        assert_eq!(*tls, PgTls::Disable, "{:?}", config.get_hosts());
    }

    #[test]
    fn postgres_tcp_url_keeps_port_and_hides_password() {
        let target =
            Target::parse("postgresql://app:p%40ss@127.0.0.1:5432/db?sslmode=disable").unwrap();
        assert_eq!(target.driver, "postgresql");
        assert_eq!(target.host, "127.0.0.1:5432");
        assert_eq!(target.user, "app");
        assert!(!target.redacted().contains("p@ss"));
        let Settings::Postgres { config, tls, .. } = &target.settings else {
            panic!("not postgres");
        };
        assert_eq!(*tls, PgTls::Disable);
        assert_eq!(config.get_password(), Some(&b"p@ss"[..]));
    }

    #[test]
    fn mysql_go_dsn_is_parsed() {
        let target = Target::parse("mysql://root:pw@tcp(127.0.0.1:3306)/test").unwrap();
        assert_eq!(target.driver, "mysql");
        assert_eq!(target.host, "127.0.0.1:3306");
        assert_eq!(target.database, "test");
        assert_eq!(target.user, "root");
    }

    #[test]
    fn mysql_plain_url_is_parsed() {
        let target = Target::parse("mysql://root@localhost/test").unwrap();
        assert_eq!(target.host, "localhost:3306");
    }

    #[test]
    fn unknown_scheme_is_rejected() {
        assert!(matches!(
            Target::parse("oracle://x@y/z"),
            Err(DsnError::UnsupportedDriver(_))
        ));
        assert!(Target::parse("postgres://x@y/z?sslmode=bogus").is_err());
    }
}
