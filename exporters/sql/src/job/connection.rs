//! Opening connections (with `startup_sql`) and running statements within the query timeout.

use tracing::debug;

use super::{timeout, JobRunner, RunError};
use crate::driver::{Connection, ResultSet};

impl JobRunner {
    /// Opens the connection when there is none or the server closed it, and runs the startup
    /// statements on a new one. Returns whether it opened a new connection.
    pub(super) async fn ensure_connected(
        &self,
        index: usize,
        slot: &mut Option<Connection>,
    ) -> Result<bool, RunError> {
        if slot.as_ref().is_some_and(|c| !c.is_closed()) {
            return Ok(false);
        }
        if let Some(old) = slot.take() {
            old.close().await;
        }
        let limit = self.job.query_timeout;
        let target = &self.targets[index];
        let mut conn = tokio::time::timeout(limit, Connection::connect(target))
            .await
            .map_err(|_| timeout("connecting", limit))??;
        for (i, sql) in self.job.startup_sql.iter().enumerate() {
            let outcome = tokio::time::timeout(limit, conn.execute(sql)).await;
            let error = match outcome {
                Ok(Ok(())) => continue,
                Ok(Err(source)) => RunError::Startup {
                    index: i + 1,
                    source,
                },
                Err(_) => timeout("startup_sql", limit),
            };
            conn.close().await;
            return Err(error);
        }
        debug!(job = self.job.name, target = target.redacted(), "Connected");
        *slot = Some(conn);
        Ok(true)
    }

    /// Runs `sql` on the connection, opening it first when needed.
    ///
    /// `kept` is true when the connection comes from an earlier run (with `keepalive`). The
    /// server may have closed such a connection in the meantime (a restart, or
    /// `pg_terminate_backend`), so when a query breaks it, the query is retried once on a new
    /// connection and `kept` is cleared.
    pub(super) async fn query(
        &self,
        index: usize,
        slot: &mut Option<Connection>,
        kept: &mut bool,
        sql: &str,
    ) -> Result<ResultSet, RunError> {
        if self.ensure_connected(index, slot).await? {
            *kept = false;
        }
        match self.timed_query(slot, sql).await {
            Err(RunError::Driver(e)) if *kept && slot.is_none() => {
                *kept = false;
                debug!(job = self.job.name, target = self.targets[index].redacted(), error = %e, "Kept connection was closed; reconnecting");
                self.ensure_connected(index, slot).await?;
                self.timed_query(slot, sql).await
            }
            outcome => outcome,
        }
    }

    /// Runs `sql` within the query timeout. After a timeout the statement is cancelled and the
    /// connection dropped, so the next query starts on a new connection.
    async fn timed_query(
        &self,
        slot: &mut Option<Connection>,
        sql: &str,
    ) -> Result<ResultSet, RunError> {
        let limit = self.job.query_timeout;
        let Some(conn) = slot.as_mut() else {
            return Err(timeout("connecting", limit));
        };
        match tokio::time::timeout(limit, conn.query(sql)).await {
            Ok(Ok(result)) => Ok(result),
            Ok(Err(e)) => {
                if conn.is_closed() {
                    *slot = None;
                }
                Err(e.into())
            }
            Err(_) => {
                conn.cancel().await;
                if let Some(conn) = slot.take() {
                    conn.close().await;
                }
                Err(timeout("query", limit))
            }
        }
    }
}
