//! MySQL and MariaDB through mysql_async, with the text protocol that go-sql-driver uses for
//! queries without arguments, so every non-NULL value arrives as text.

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, Row, Value};
use tracing::debug;

use super::{Cell, DriverError, ResultSet};
use crate::dsn::Target;

pub struct MysqlConnection {
    conn: Conn,
    opts: Opts,
    closed: bool,
}

impl MysqlConnection {
    pub async fn connect(target: &Target, opts: Opts) -> Result<MysqlConnection, DriverError> {
        let conn = Conn::new(opts.clone())
            .await
            .map_err(|e| DriverError::Connect {
                target: target.redacted(),
                source: Box::new(e),
            })?;
        Ok(MysqlConnection {
            conn,
            opts,
            closed: false,
        })
    }

    pub async fn execute(&mut self, sql: &str) -> Result<(), DriverError> {
        let outcome = self.conn.query_drop(sql).await;
        self.note_failure(outcome.as_ref().err());
        Ok(outcome?)
    }

    pub async fn query(&mut self, sql: &str) -> Result<ResultSet, DriverError> {
        let outcome = self.conn.query::<Row, _>(sql).await;
        self.note_failure(outcome.as_ref().err());
        let rows = outcome?;
        let Some(first) = rows.first() else {
            return Ok(ResultSet::default());
        };
        let names = first
            .columns_ref()
            .iter()
            .map(|c| c.name_str().into_owned());
        let mut result = ResultSet::new(names);
        for row in rows {
            let cells = (0..row.len()).map(|i| decode(row.as_ref(i))).collect();
            result.rows.push(cells);
        }
        Ok(result)
    }

    /// Remembers a failure of the connection itself (as opposed to an SQL error), after which
    /// the connection is opened again.
    fn note_failure(&mut self, error: Option<&mysql_async::Error>) {
        if let Some(e) = error {
            if !matches!(e, mysql_async::Error::Server(_)) {
                self.closed = true;
            }
        }
    }

    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Stops the running statement with `KILL QUERY` from a second connection.
    pub async fn cancel(&self) {
        let id = self.conn.id();
        match Conn::new(self.opts.clone()).await {
            Ok(mut other) => {
                if let Err(e) = other.query_drop(format!("KILL QUERY {id}")).await {
                    debug!(error = %e, "KILL QUERY failed");
                }
                let _ = other.disconnect().await;
            }
            Err(e) => debug!(error = %e, "Cannot connect to send KILL QUERY"),
        }
    }

    pub async fn close(self) {
        if let Err(e) = self.conn.disconnect().await {
            debug!(error = %e, "MySQL disconnect failed");
        }
    }
}

fn decode(value: Option<&Value>) -> Cell {
    match value {
        None | Some(Value::NULL) => Cell::Null,
        Some(Value::Bytes(bytes)) => Cell::Text(String::from_utf8_lossy(bytes).into_owned()),
        Some(Value::Int(i)) => Cell::Int(*i),
        Some(Value::UInt(u)) => Cell::Float(*u as f64),
        Some(Value::Float(f)) => Cell::Float(f64::from(*f)),
        Some(Value::Double(f)) => Cell::Float(*f),
        Some(Value::Date(..) | Value::Time(..)) => Cell::Other("time.Time"),
    }
}
