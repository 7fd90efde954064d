//! sql-exporter: runs SQL queries on a schedule and serves their cached results as Prometheus
//! metrics, compatible with justwatchcom's sql_exporter.

pub mod cache;
pub mod config;
pub mod driver;
pub mod dsn;
pub mod job;
pub mod rows;
pub mod schedule;

use std::sync::Arc;

use cache::Cache;
use config::Config;
use job::JobRunner;

/// Builds the cache and one runner per job of `config`.
pub fn build(config: Config) -> Result<(Arc<Cache>, Vec<Arc<JobRunner>>), String> {
    let cache = Arc::new(Cache::new(config.histogram_buckets));
    let runners = config
        .jobs
        .into_iter()
        .enumerate()
        .map(|(i, job)| JobRunner::new(i, job, cache.clone()).map(Arc::new))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((cache, runners))
}
