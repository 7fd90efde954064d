//! PostgreSQL through tokio-postgres.
//!
//! A query is prepared to learn its column types and then run with the simple query protocol,
//! which returns every value as text. Each value is then typed from its text the way lib/pq's
//! `textDecode` does: integers, floats, text, dates and timestamps get their own kind, and every
//! other type (numeric, name, uuid, json, ...) stays text.

use std::path::Path;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime};
use exporter_core::client_tls::{client_config, TlsSettings, Verification};
use tokio::task::JoinHandle;
use tokio_postgres::types::Type;
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};
use tokio_postgres_rustls::MakeRustlsConnect;
use tracing::debug;

use super::{Cell, DriverError, ResultSet};
use crate::dsn::{PgTls, Target};

/// How long `close` waits for the connection task to end.
const CLOSE_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

pub struct PgConnection {
    client: Client,
    task: JoinHandle<()>,
    /// The TLS connector, also needed for cancel requests; `None` with `sslmode=disable`.
    tls: Option<MakeRustlsConnect>,
    /// Set after an error that ends the session, such as a FATAL message from a terminated
    /// backend, which can arrive before the connection task has noticed the closed socket.
    broken: bool,
}

impl PgConnection {
    pub async fn connect(
        target: &Target,
        config: &tokio_postgres::Config,
        mode: PgTls,
        root_cert: Option<&Path>,
    ) -> Result<PgConnection, DriverError> {
        let name = target.redacted();
        let failed = |e: tokio_postgres::Error| DriverError::Connect {
            target: name.clone(),
            source: Box::new(e),
        };
        // tokio-postgres builds the TLS connector before it looks at the mode, and a Unix
        // socket path is no valid TLS server name, so TLS is left out entirely when disabled.
        let (client, task, tls) = if mode == PgTls::Disable {
            let (client, connection) = config.connect(NoTls).await.map_err(failed)?;
            (client, spawn_connection(name.clone(), connection), None)
        } else {
            let (verification, mode_name) = match mode {
                PgTls::VerifyCa => (Verification::Chain, "verify-ca"),
                PgTls::VerifyFull => (Verification::Full, "verify-full"),
                _ => (Verification::None, "require"),
            };
            let settings = TlsSettings {
                verification,
                mode: mode_name,
                // The path came from a URL query string, so it is valid UTF-8.
                root_certificate: root_cert.and_then(Path::to_str),
                client_certificate: None,
                client_key: None,
            };
            let client_config =
                client_config(&settings).map_err(|e| DriverError::Tls(e.to_string()))?;
            let tls = MakeRustlsConnect::new(client_config);
            let (client, connection) = config.connect(tls.clone()).await.map_err(failed)?;
            (
                client,
                spawn_connection(name.clone(), connection),
                Some(tls),
            )
        };
        Ok(PgConnection {
            client,
            task,
            tls,
            broken: false,
        })
    }

    pub async fn execute(&mut self, sql: &str) -> Result<(), DriverError> {
        let outcome = self.client.batch_execute(sql).await;
        Ok(self.note_failure(outcome)?)
    }

    pub async fn query(&mut self, sql: &str) -> Result<ResultSet, DriverError> {
        let statement = self.client.prepare(sql).await;
        let statement = self.note_failure(statement)?;
        let types: Vec<Type> = statement
            .columns()
            .iter()
            .map(|c| c.type_().clone())
            .collect();
        let mut result = ResultSet::new(statement.columns().iter().map(|c| c.name().to_owned()));
        drop(statement);

        let messages = self.client.simple_query(sql).await;
        for message in self.note_failure(messages)? {
            let SimpleQueryMessage::Row(row) = message else {
                continue;
            };
            let cells = (0..row.len())
                .map(|i| match row.get(i) {
                    None => Cell::Null,
                    Some(text) => decode(types.get(i).unwrap_or(&Type::TEXT), text),
                })
                .collect();
            result.rows.push(cells);
        }
        Ok(result)
    }

    /// Marks the connection broken after any error other than an ordinary SQL error (a
    /// server message of severity ERROR), which leaves the session usable.
    fn note_failure<T>(
        &mut self,
        outcome: Result<T, tokio_postgres::Error>,
    ) -> Result<T, tokio_postgres::Error> {
        if let Err(e) = &outcome {
            let session_survives = e.as_db_error().is_some_and(|db| db.severity() == "ERROR");
            if !session_survives {
                self.broken = true;
            }
        }
        outcome
    }

    pub fn is_closed(&self) -> bool {
        self.broken || self.client.is_closed()
    }

    pub async fn cancel(&self) {
        let token = self.client.cancel_token();
        let outcome = match &self.tls {
            Some(tls) => token.cancel_query(tls.clone()).await,
            None => token.cancel_query(NoTls).await,
        };
        if let Err(e) = outcome {
            debug!(error = %e, "Cancel request to PostgreSQL failed");
        }
    }

    /// Closes the connection and waits (at most one second) until Terminate has been sent,
    /// so that the session is gone when this returns.
    pub async fn close(self) {
        // Dropping the client makes the connection task send Terminate and end.
        drop(self.client);
        if tokio::time::timeout(CLOSE_WAIT, self.task).await.is_err() {
            debug!("PostgreSQL connection did not close within a second");
        }
    }
}

fn spawn_connection<F>(name: String, connection: F) -> JoinHandle<()>
where
    F: std::future::Future<Output = Result<(), tokio_postgres::Error>> + Send + 'static,
{
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            debug!(target = name, error = %e, "PostgreSQL connection ended");
        }
    })
}

/// Types a value from its text form by the column's type, as lib/pq does.
fn decode(kind: &Type, text: &str) -> Cell {
    match *kind {
        Type::INT2 | Type::INT4 | Type::INT8 => {
            text.parse().map(Cell::Int).unwrap_or(Cell::Other("int64"))
        }
        Type::FLOAT4 | Type::FLOAT8 => parse_float(text)
            .map(Cell::Float)
            .unwrap_or(Cell::Other("float64")),
        Type::BOOL => Cell::Other("bool"),
        Type::TIMESTAMP | Type::TIMESTAMPTZ | Type::DATE => parse_time(text)
            .map(Cell::Time)
            .unwrap_or(Cell::Other("time.Time")),
        Type::TIME | Type::TIMETZ => Cell::Other("time.Time"),
        Type::BYTEA => Cell::Text(decode_bytea(text)),
        _ => Cell::Text(text.to_owned()),
    }
}

/// Parses PostgreSQL's float output, which writes infinities as `Infinity`.
pub fn parse_float(text: &str) -> Option<f64> {
    text.trim().parse().ok()
}

/// Parses the ISO output of a date, timestamp or timestamptz into milliseconds since the epoch.
/// A value without an offset is taken as UTC, as lib/pq does.
fn parse_time(text: &str) -> Option<i64> {
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Some(date.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis());
    }
    if let Ok(naive) = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f") {
        return Some(naive.and_utc().timestamp_millis());
    }
    // PostgreSQL writes the offset as +HH, +HH:MM or +HH:MM:SS.
    let sign_at = text.rfind(['+', '-']).filter(|&i| i > 10)?;
    let (local, offset) = text.split_at(sign_at);
    let mut parts = offset[1..].split(':').map(|p| p.parse::<i32>().ok());
    let hours = parts.next().flatten()?;
    let minutes = parts.next().flatten().unwrap_or(0);
    let seconds = parts.next().flatten().unwrap_or(0);
    let mut total = hours * 3600 + minutes * 60 + seconds;
    if offset.starts_with('-') {
        total = -total;
    }
    let naive = NaiveDateTime::parse_from_str(local, "%Y-%m-%d %H:%M:%S%.f").ok()?;
    let zone = FixedOffset::east_opt(total)?;
    let time: DateTime<FixedOffset> = naive.and_local_timezone(zone).single()?;
    Some(time.timestamp_millis())
}

/// Decodes bytea's hex output (`\x0a0b`) into text, replacing invalid UTF-8.
fn decode_bytea(text: &str) -> String {
    let Some(hex) = text.strip_prefix("\\x") else {
        return text.to_owned();
    };
    let bytes: Vec<u8> = (0..hex.len() / 2)
        .filter_map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_typed_like_lib_pq() {
        assert_eq!(decode(&Type::INT8, "42"), Cell::Int(42));
        assert_eq!(decode(&Type::FLOAT8, "1.5"), Cell::Float(1.5));
        assert_eq!(
            decode(&Type::FLOAT8, "-Infinity"),
            Cell::Float(f64::NEG_INFINITY)
        );
        assert_eq!(decode(&Type::NUMERIC, "12.50"), Cell::Text("12.50".into()));
        assert_eq!(decode(&Type::BOOL, "t"), Cell::Other("bool"));
        assert_eq!(decode(&Type::BYTEA, "\\x6869"), Cell::Text("hi".into()));
    }

    #[test]
    fn timestamps_parse_with_offsets() {
        let utc = 1_767_225_600_000; // 2026-01-01T00:00:00Z
        assert_eq!(parse_time("2026-01-01"), Some(utc));
        assert_eq!(parse_time("2026-01-01 00:00:00"), Some(utc));
        assert_eq!(parse_time("2026-01-01 01:00:00+01"), Some(utc));
        assert_eq!(parse_time("2025-12-31 18:30:00.000-05:30"), Some(utc));
        assert_eq!(parse_time("2026-01-01 00:00:00.25+00"), Some(utc + 250));
        assert_eq!(parse_time("infinity"), None);
    }
}
