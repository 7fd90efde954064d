//! Running a job: on its schedule, each connection in parallel opens (running `startup_sql` on
//! every new connection), reads the iterator values, and runs the queries one after another,
//! each bounded by the job's query timeout. Results and statistics go into the cache.
//!
//! This module schedules runs; `connection` opens connections and bounds each statement, and
//! `run` runs the queries of one connection and stores their results.

mod connection;
mod run;

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use tokio::sync::Mutex;
use tracing::{debug, error, info, warn};

use crate::cache::Cache;
use crate::config::Job;
use crate::driver::{Connection, DriverError};
use crate::dsn::Target;

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
}

fn timeout(step: &'static str, limit: Duration) -> RunError {
    RunError::Timeout {
        step,
        seconds: limit.as_secs_f64(),
    }
}
