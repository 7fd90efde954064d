//! One database connection per target, reused across scrapes.
//!
//! A [`Target`] keeps at most one open connection. A scrape locks the target for its whole run,
//! so concurrent scrapes of one target wait for each other instead of opening more connections.
//! A connection that the server closed (a restart, `pg_terminate_backend`) is noticed at the
//! next scrape and replaced. A connection whose query outlived the scrape deadline is cancelled
//! on the server and dropped.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::{Mutex, MutexGuard};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres::{CancelToken, Client, NoTls, Row, Socket};
use tracing::{debug, info, warn};

use crate::dsn::{Dsn, DsnError};
use crate::tls::MakeRustls;
use crate::value::{self, Cell};

/// Error of connecting to a target; the message carries the DSN without its password.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error(transparent)]
    Dsn(#[from] DsnError),
    #[error("failed to connect to {target}: {source}")]
    Connect {
        target: String,
        source: tokio_postgres::Error,
    },
    #[error("timed out connecting to {target}")]
    Timeout { target: String },
    #[error("failed to read the server version of {target}: {source}")]
    Version {
        target: String,
        source: tokio_postgres::Error,
    },
}

/// Error of one query, with the query's name so that the log line identifies it.
#[derive(Debug, thiserror::Error)]
#[error("query {query} failed: {source}")]
pub struct QueryError {
    pub query: &'static str,
    #[source]
    pub source: tokio_postgres::Error,
}

/// Server version, read once per connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ServerVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl ServerVersion {
    /// Parses the number after the first word of `SELECT version()`, such as `15.20` in
    /// `PostgreSQL 15.20 (Debian 15.20-0+deb12u1) on x86_64-pc-linux-gnu, …`, or `18` in
    /// `PostgreSQL 18beta1 …`.
    pub fn parse(version: &str) -> Option<ServerVersion> {
        let number = version.split_whitespace().nth(1)?;
        let mut parts = number.split('.').map(|part| {
            part.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
        });
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        let patch = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        Some(ServerVersion {
            major,
            minor,
            patch,
        })
    }

    /// Reports whether the server is PostgreSQL `major` or newer.
    pub fn at_least(&self, major: u32) -> bool {
        self.major >= major
    }

    /// Returns the version as `major.minor.patch`, the `short_version` label of `pg_static`.
    pub fn short(&self) -> String {
        format!("{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// An open connection and the facts read when it was opened.
pub struct Session {
    client: Client,
    cancel: CancelToken,
    /// The TLS connector of the connection, which the cancel request uses too.
    tls: Option<MakeRustls>,
    task: JoinHandle<()>,
    pub version: ServerVersion,
    /// The full text of `SELECT version()`.
    pub version_text: String,
    /// Name of the database this connection is attached to.
    pub database: String,
}

impl Session {
    /// Runs `sql` and returns its rows; `name` identifies the query in errors.
    pub async fn rows(&self, name: &'static str, sql: &str) -> Result<Vec<Row>, QueryError> {
        self.client
            .query(sql, &[])
            .await
            .map_err(|source| QueryError {
                query: name,
                source,
            })
    }

    /// Runs `sql` and returns every row as cells.
    pub async fn cells(&self, name: &'static str, sql: &str) -> Result<Vec<Vec<Cell>>, QueryError> {
        let rows = self.rows(name, sql).await?;
        Ok(rows.iter().map(value::cells).collect())
    }

    /// Runs `sql` and returns its column names and every row as cells.
    pub async fn table(
        &self,
        name: &'static str,
        sql: &str,
    ) -> Result<(Vec<String>, Vec<Vec<Cell>>), QueryError> {
        let statement = self
            .client
            .prepare(sql)
            .await
            .map_err(|source| QueryError {
                query: name,
                source,
            })?;
        let columns = statement
            .columns()
            .iter()
            .map(|c| c.name().to_owned())
            .collect();
        let rows = self
            .client
            .query(&statement, &[])
            .await
            .map_err(|source| QueryError {
                query: name,
                source,
            })?;
        Ok((columns, rows.iter().map(value::cells).collect()))
    }

    fn is_closed(&self) -> bool {
        self.client.is_closed() || self.task.is_finished()
    }
}

/// A database server and database to scrape, with its reusable connection.
pub struct Target {
    dsn: Dsn,
    label: String,
    slot: Mutex<Option<Arc<Session>>>,
}

impl Target {
    pub fn new(dsn: Dsn) -> Target {
        Target {
            label: dsn.loggable(),
            dsn,
            slot: Mutex::new(None),
        }
    }

    pub fn dsn(&self) -> &Dsn {
        &self.dsn
    }

    /// Returns the DSN without its password.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Locks the target for one scrape; other scrapes of it wait until the guard is dropped.
    pub async fn lock(&self) -> TargetGuard<'_> {
        TargetGuard {
            target: self,
            slot: self.slot.lock().await,
        }
    }
}

/// Exclusive use of a target's connection during one scrape.
pub struct TargetGuard<'a> {
    target: &'a Target,
    slot: MutexGuard<'a, Option<Arc<Session>>>,
}

impl TargetGuard<'_> {
    /// Returns the open connection after checking that it still responds, or opens a new one.
    /// Checking and connecting are bounded by `deadline`.
    pub async fn session(&mut self, deadline: Instant) -> Result<Arc<Session>, ConnectError> {
        if let Some(session) = self.slot.take() {
            // An empty query costs one round trip. It finds a connection whose server went away
            // even before the connection task has read the end of the stream.
            let alive = !session.is_closed()
                && matches!(
                    tokio::time::timeout_at(deadline, session.client.simple_query("")).await,
                    Ok(Ok(_))
                );
            if alive {
                *self.slot = Some(Arc::clone(&session));
                return Ok(session);
            }
            info!(target = %self.target.label, "Connection lost; reconnecting");
            session.task.abort();
        }
        let session = Arc::new(connect(self.target, deadline).await?);
        *self.slot = Some(Arc::clone(&session));
        Ok(session)
    }

    /// Cancels whatever the connection is running and drops it, so that a query that outlived
    /// the scrape deadline stops on the server and the next scrape starts on a fresh connection.
    pub async fn abandon(&mut self) {
        let Some(session) = self.slot.take() else {
            return;
        };
        warn!(target = %self.target.label, "Cancelling queries that outlived the scrape deadline");
        let cancel =
            tokio::time::timeout(std::time::Duration::from_secs(5), cancel_query(&session)).await;
        match cancel {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                warn!(target = %self.target.label, error = %e, "Failed to cancel a query")
            }
            Err(_) => warn!(target = %self.target.label, "Timed out cancelling a query"),
        }
        session.task.abort();
    }
}

/// The targets of the exporter, one per distinct DSN, so that each keeps its connection across
/// scrapes.
pub struct TargetPool {
    targets: std::sync::Mutex<HashMap<Dsn, Arc<Target>>>,
    max_idle: usize,
}

impl TargetPool {
    /// Creates a pool that drops idle targets (and closes their connections) once it contains more
    /// than `max_idle` targets, which bounds the connections that `/probe` requests with ever
    /// new targets can leave open.
    pub fn new(max_idle: usize) -> TargetPool {
        TargetPool {
            targets: std::sync::Mutex::new(HashMap::new()),
            max_idle,
        }
    }

    /// Returns the target of `dsn`, creating it on first use.
    pub fn get(&self, dsn: &Dsn) -> Arc<Target> {
        let mut targets = match self.targets.lock() {
            Ok(targets) => targets,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(target) = targets.get(dsn) {
            return Arc::clone(target);
        }
        if targets.len() >= self.max_idle {
            targets.retain(|_, target| Arc::strong_count(target) > 1);
        }
        let target = Arc::new(Target::new(dsn.clone()));
        targets.insert(dsn.clone(), Arc::clone(&target));
        target
    }
}

/// Sends a cancel request for the query running on `session`'s connection.
async fn cancel_query(session: &Session) -> Result<(), tokio_postgres::Error> {
    match &session.tls {
        None => session.cancel.cancel_query(NoTls).await,
        Some(make) => session.cancel.cancel_query(make.clone()).await,
    }
}

/// Opens a connection with the TLS connector `tls` and spawns the task that drives it.
async fn open<T>(
    config: &tokio_postgres::Config,
    tls: T,
    deadline: Instant,
    label: &str,
) -> Result<(Client, JoinHandle<()>), ConnectError>
where
    T: MakeTlsConnect<Socket>,
    T::Stream: Send + 'static,
{
    let (client, connection) = tokio::time::timeout_at(deadline, config.connect(tls))
        .await
        .map_err(|_| ConnectError::Timeout {
            target: label.to_owned(),
        })?
        .map_err(|source| ConnectError::Connect {
            target: label.to_owned(),
            source,
        })?;
    let task_label = label.to_owned();
    let task = tokio::spawn(async move {
        if let Err(e) = connection.await {
            debug!(target = %task_label, error = %e, "Connection ended");
        }
    });
    Ok((client, task))
}

async fn connect(target: &Target, deadline: Instant) -> Result<Session, ConnectError> {
    let config = target.dsn.to_config()?;
    let tls = target.dsn.tls()?;
    let label = target.label.clone();
    let (client, task) = match &tls {
        None => open(&config, NoTls, deadline, &label).await?,
        Some(make) => open(&config, make.clone(), deadline, &label).await?,
    };
    let cancel = client.cancel_token();

    let version_query = client.query_one("SELECT version(), current_database()", &[]);
    let row = tokio::time::timeout_at(deadline, version_query)
        .await
        .map_err(|_| ConnectError::Timeout {
            target: label.clone(),
        })?
        .map_err(|source| ConnectError::Version {
            target: label.clone(),
            source,
        })?;
    let version_text = value::cell(&row, 0).label();
    let database = value::cell(&row, 1).label();
    let version = ServerVersion::parse(&version_text).unwrap_or(ServerVersion {
        major: 0,
        minor: 0,
        patch: 0,
    });
    info!(target = %label, version = %version.short(), "Connected");
    Ok(Session {
        client,
        cancel,
        tls,
        task,
        version,
        version_text,
        database,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_parses_release_and_beta() {
        let v =
            ServerVersion::parse("PostgreSQL 15.20 (Debian 15.20-0+deb12u1) on x86_64").unwrap();
        assert_eq!(v.short(), "15.20.0");
        let v = ServerVersion::parse("PostgreSQL 18beta1 on x86_64-pc-linux-gnu").unwrap();
        assert_eq!(v.short(), "18.0.0");
        assert!(v.at_least(17));
        assert!(ServerVersion::parse("nonsense").is_none());
    }
}
