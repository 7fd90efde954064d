//! Database connections behind one interface: connect, run a statement, run a query and read
//! its rows as [`Cell`]s typed the way justwatchcom's Go drivers type them (lib/pq and
//! go-sql-driver), so that the same columns are accepted as values and labels.

mod mysql;
mod postgres;

use std::collections::HashMap;

use crate::dsn::{Settings, Target};

/// A failed connection attempt, statement or query.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error("cannot connect to {target}: {source}")]
    Connect {
        target: String,
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("cannot set up TLS: {0}")]
    Tls(String),
    #[error(transparent)]
    Postgres(#[from] tokio_postgres::Error),
    #[error(transparent)]
    Mysql(#[from] mysql_async::Error),
}

/// One value of a result row.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Null,
    Int(i64),
    Float(f64),
    /// Text, and any type that the Go drivers return as text or raw bytes (numeric, name, uuid,
    /// and every MySQL column).
    Text(String),
    /// A date or timestamp, in milliseconds since the Unix epoch.
    Time(i64),
    /// A type that is neither a number nor text, such as a boolean; it names the type.
    Other(&'static str),
}

/// The rows of a query and the index of each column name (the last column of a repeated name
/// wins, as in sqlx's `MapScan`).
#[derive(Debug, Default)]
pub struct ResultSet {
    pub columns: HashMap<String, usize>,
    pub rows: Vec<Vec<Cell>>,
}

impl ResultSet {
    pub fn new(names: impl IntoIterator<Item = String>) -> ResultSet {
        let columns = names
            .into_iter()
            .enumerate()
            .map(|(i, name)| (name, i))
            .collect();
        ResultSet {
            columns,
            rows: Vec::new(),
        }
    }

    /// Returns the cell of `column` in `row`, or `None` when the result has no such column.
    pub fn get<'a>(&self, row: &'a [Cell], column: &str) -> Option<&'a Cell> {
        self.columns.get(column).and_then(|&i| row.get(i))
    }
}

/// An open connection of either driver.
pub enum Connection {
    Postgres(postgres::PgConnection),
    Mysql(mysql::MysqlConnection),
}

impl Connection {
    /// Opens a connection to `target`.
    pub async fn connect(target: &Target) -> Result<Connection, DriverError> {
        match &target.settings {
            Settings::Postgres {
                config,
                tls,
                root_cert,
            } => postgres::PgConnection::connect(target, config, *tls, root_cert.as_deref())
                .await
                .map(Connection::Postgres),
            Settings::Mysql(opts) => mysql::MysqlConnection::connect(target, opts.clone())
                .await
                .map(Connection::Mysql),
        }
    }

    /// Runs a statement whose result is discarded, such as one of `startup_sql`.
    pub async fn execute(&mut self, sql: &str) -> Result<(), DriverError> {
        match self {
            Connection::Postgres(conn) => conn.execute(sql).await,
            Connection::Mysql(conn) => conn.execute(sql).await,
        }
    }

    pub async fn query(&mut self, sql: &str) -> Result<ResultSet, DriverError> {
        match self {
            Connection::Postgres(conn) => conn.query(sql).await,
            Connection::Mysql(conn) => conn.query(sql).await,
        }
    }

    /// Reports whether the server closed the connection, so that it must be opened again.
    pub fn is_closed(&self) -> bool {
        match self {
            Connection::Postgres(conn) => conn.is_closed(),
            Connection::Mysql(conn) => conn.is_closed(),
        }
    }

    /// Asks the server to stop the running statement, after a timeout. The connection is
    /// dropped afterwards either way.
    pub async fn cancel(&self) {
        match self {
            Connection::Postgres(conn) => conn.cancel().await,
            Connection::Mysql(conn) => conn.cancel().await,
        }
    }

    /// Closes the connection, telling the server when it can.
    pub async fn close(self) {
        match self {
            Connection::Postgres(conn) => conn.close().await,
            Connection::Mysql(conn) => conn.close().await,
        }
    }
}
