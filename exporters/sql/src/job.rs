//! Running a job: on its schedule, each connection in parallel opens (running `startup_sql` on
//! every new connection), reads the iterator values, and runs the queries one after another,
//! each bounded by the job's query timeout. Results and statistics go into the cache.

use std::sync::Arc;
use std::time::{Duration, Instant};

use exporter_core::collector::error_chain;
use futures_util::future::join_all;
use tokio::sync::Mutex;
use tracing::{debug, error, info, warn};

use crate::cache::Cache;
use crate::config::{Job, Query};
use crate::driver::{Cell, Connection, DriverError, ResultSet};
use crate::dsn::Target;
use crate::rows::{Converted, Iteration};

/// First wait before a failed run is retried; each retry waits 1.5 times longer.
const FIRST_RETRY: Duration = Duration::from_millis(500);
const MAX_RETRY_WAIT: Duration = Duration::from_secs(60);
/// How many row problems of one query run are logged one by one; the rest are counted.
const LOGGED_ROW_ERRORS: usize = 5;

/// A failure of one step of a run on one connection.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Driver(#[from] DriverError),
    #[error("startup_sql statement {index} failed: {source}")]
    Startup { index: usize, source: DriverError },
    #[error("{step} timed out after {seconds}s")]
    Timeout { step: &'static str, seconds: f64 },
    #[error("iterator query failed: {0}")]
    Iterator(Box<RunError>),
}

pub struct JobRunner {
    index: usize,
    job: Job,
    targets: Vec<Target>,
    cache: Arc<Cache>,
    connections: Vec<Mutex<Option<Connection>>>,
}

impl JobRunner {
    /// Prepares the job at position `index` of the configuration. Its connection URLs were
    /// checked when the configuration was loaded.
    pub fn new(index: usize, job: Job, cache: Arc<Cache>) -> Result<JobRunner, String> {
        let targets = job
            .connections
            .iter()
            .map(|url| Target::parse(url).map_err(|e| format!("job {:?}: {e}", job.name)))
            .collect::<Result<Vec<_>, _>>()?;
        let connections = targets.iter().map(|_| Mutex::new(None)).collect();
        Ok(JobRunner {
            index,
            job,
            targets,
            cache,
            connections,
        })
    }

    pub fn name(&self) -> &str {
        &self.job.name
    }

    /// Runs the job on its schedule until the process ends.
    pub async fn run_forever(self: Arc<Self>) {
        let schedule = &self.job.schedule;
        info!(
            job = self.job.name,
            schedule = schedule.describe(),
            "Scheduled job"
        );
        if schedule.runs_at_start() {
            self.run_with_retries().await;
        }
        loop {
            let Some(wait) = schedule.wait_after(chrono::Local::now()) else {
                warn!(
                    job = self.job.name,
                    "Schedule has no future run; job stopped"
                );
                return;
            };
            debug!(
                job = self.job.name,
                wait_seconds = wait.as_secs_f64(),
                "Waiting for next run"
            );
            tokio::time::sleep(wait).await;
            self.run_with_retries().await;
        }
    }

    /// Runs the job and, while no query succeeds, retries with growing waits until the next
    /// scheduled run is due (at most one minute for cron schedules), as justwatchcom does.
    pub async fn run_with_retries(&self) {
        let budget = self.job.schedule.period().unwrap_or(MAX_RETRY_WAIT);
        let started = Instant::now();
        let mut wait = FIRST_RETRY;
        loop {
            if self.run_once().await > 0 {
                return;
            }
            if started.elapsed() + wait >= budget {
                error!(job = self.job.name, "Job run failed; no query succeeded");
                return;
            }
            warn!(
                job = self.job.name,
                retry_in_seconds = wait.as_secs_f64(),
                "No query of the job succeeded; retrying"
            );
            tokio::time::sleep(wait).await;
            wait = wait.mul_f64(1.5).min(MAX_RETRY_WAIT);
        }
    }

    /// Runs every query once on every connection and returns how many query runs succeeded.
    pub async fn run_once(&self) -> usize {
        let runs = (0..self.targets.len()).map(|i| self.run_connection(i));
        join_all(runs).await.into_iter().sum()
    }

    async fn run_connection(&self, index: usize) -> usize {
        let target = &self.targets[index];
        let mut slot = self.connections[index].lock().await;
        let succeeded = match self.run_queries(index, &mut slot).await {
            Ok(succeeded) => succeeded,
            Err(e) => {
                warn!(
                    job = self.job.name,
                    target = target.redacted(),
                    error = error_chain(&e),
                    "Job run failed on connection"
                );
                for query in &self.job.queries {
                    self.cache
                        .set_failed(target, &self.job.name, &query.name, true);
                }
                // The query is not known yet, so the failure is counted under an empty name.
                self.cache.count_failure(&self.job.name, "");
                0
            }
        };
        if !self.job.keepalive {
            if let Some(conn) = slot.take() {
                conn.close().await;
            }
        }
        succeeded
    }

    async fn run_queries(
        &self,
        index: usize,
        slot: &mut Option<Connection>,
    ) -> Result<usize, RunError> {
        let mut kept = slot.as_ref().is_some_and(|c| !c.is_closed());
        self.ensure_connected(index, slot).await?;
        let values = match &self.job.iterator {
            Some(iterator) => {
                let result = self
                    .query(index, slot, &mut kept, &iterator.sql)
                    .await
                    .map_err(|e| RunError::Iterator(Box::new(e)))?;
                Some(iterator_values(&result))
            }
            None => None,
        };
        let mut succeeded = 0;
        for (query_index, query) in self.job.queries.iter().enumerate() {
            if self
                .run_query(
                    index,
                    query_index,
                    query,
                    slot,
                    &mut kept,
                    values.as_deref(),
                )
                .await
            {
                succeeded += 1;
            }
        }
        Ok(succeeded)
    }

    /// Opens the connection when there is none or the server closed it, and runs the startup
    /// statements on a new one. Returns whether it opened a new connection.
    async fn ensure_connected(
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
    /// `kept` tells whether the connection comes from an earlier run (with `keepalive`). The
    /// server may have closed such a connection in the meantime (a restart, or
    /// `pg_terminate_backend`), so when a query breaks it, the query is retried once on a new
    /// connection and `kept` is cleared.
    async fn query(
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

    /// Runs one query (once per iterator value when it contains the placeholder) and updates
    /// the cache; returns whether it succeeded.
    async fn run_query(
        &self,
        target_index: usize,
        query_index: usize,
        query: &Query,
        slot: &mut Option<Connection>,
        kept: &mut bool,
        iterator_values: Option<&[String]>,
    ) -> bool {
        let job = &self.job.name;
        let target = &self.targets[target_index];
        self.cache.count_query(job, &query.name);

        let started = Instant::now();
        let outcome = self
            .fetch(target_index, query, slot, kept, iterator_values)
            .await;
        let converted = match outcome {
            Ok(converted) => converted,
            Err(e) => {
                warn!(
                    job,
                    query = query.name,
                    target = target.redacted(),
                    error = error_chain(&e),
                    "Query failed"
                );
                self.fail(target, query);
                return false;
            }
        };
        self.cache
            .observe_duration(job, &query.name, started.elapsed().as_secs_f64());

        if converted.rows == 0 && !query.allow_zero_rows {
            warn!(
                job,
                query = query.name,
                target = target.redacted(),
                problems = converted.errors.len(),
                "Query returned no usable rows"
            );
            log_row_errors(job, query, target, &converted.errors);
            self.fail(target, query);
            return false;
        }
        let clean = converted.errors.is_empty();
        if !clean {
            log_row_errors(job, query, target, &converted.errors);
            self.fail(target, query);
        }
        let key = (self.index, query_index, target_index);
        self.cache
            .store(key, &query.metric_name, &query.help, converted.samples);
        if clean {
            self.cache.set_failed(target, job, &query.name, false);
        }
        clean
    }

    async fn fetch(
        &self,
        target_index: usize,
        query: &Query,
        slot: &mut Option<Connection>,
        kept: &mut bool,
        iterator_values: Option<&[String]>,
    ) -> Result<Converted, RunError> {
        let target = &self.targets[target_index];
        let mut converted = Converted::default();
        let iterated = self
            .job
            .iterator
            .as_ref()
            .map(|it| (format!("{{{{{}}}}}", it.placeholder), it))
            .filter(|(placeholder, _)| query.sql.contains(placeholder.as_str()));
        match (iterated, iterator_values) {
            (Some((placeholder, iterator)), Some(values)) => {
                for value in values {
                    let sql = query.sql.replace(&placeholder, value);
                    let result = self.query(target_index, slot, kept, &sql).await?;
                    let iteration = Iteration {
                        label: &iterator.label,
                        value,
                    };
                    converted.add_rows(query, target, &self.job.name, &result, Some(iteration));
                }
            }
            _ => {
                let result = self.query(target_index, slot, kept, &query.sql).await?;
                converted.add_rows(query, target, &self.job.name, &result, None);
            }
        }
        Ok(converted)
    }

    fn fail(&self, target: &Target, query: &Query) {
        self.cache
            .set_failed(target, &self.job.name, &query.name, true);
        self.cache.count_failure(&self.job.name, &query.name);
    }
}

fn timeout(step: &'static str, limit: Duration) -> RunError {
    RunError::Timeout {
        step,
        seconds: limit.as_secs_f64(),
    }
}

/// Returns the first column of each row as text; NULL becomes an empty string.
fn iterator_values(result: &ResultSet) -> Vec<String> {
    let first = result.columns.values().min().copied().unwrap_or(0);
    result
        .rows
        .iter()
        .filter_map(|row| match row.get(first)? {
            Cell::Text(text) => Some(text.clone()),
            Cell::Int(i) => Some(i.to_string()),
            Cell::Float(f) => Some(f.to_string()),
            _ => Some(String::new()),
        })
        .collect()
}

fn log_row_errors(job: &str, query: &Query, target: &Target, errors: &[String]) {
    for message in errors.iter().take(LOGGED_ROW_ERRORS) {
        error!(
            job,
            query = query.name,
            target = target.redacted(),
            error = message,
            "Rejected a result value"
        );
    }
    if errors.len() > LOGGED_ROW_ERRORS {
        error!(
            job,
            query = query.name,
            target = target.redacted(),
            more = errors.len() - LOGGED_ROW_ERRORS,
            "Rejected more result values"
        );
    }
}
