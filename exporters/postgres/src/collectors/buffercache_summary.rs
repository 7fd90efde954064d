//! `buffercache_summary`: shared buffer usage, from `pg_buffercache_summary()` of the
//! pg_buffercache extension, which exists from PostgreSQL 16 on. Without the extension the
//! collector fails with the server's error.

use exporter_core::{CollectError, Desc, MetricSink};

use super::{emit_values, CollectorConfig, PgCollector, ValueColumn};
use crate::connection::Session;

const QUERY: &str = "SELECT buffers_used, buffers_unused, buffers_dirty, buffers_pinned,
       usagecount_avg
  FROM pg_buffercache_summary()";

const COLUMNS: &[ValueColumn] = &[
    ValueColumn::new(Desc::gauge(
        "pg_buffercache_summary_buffers_used",
        "Number of shared buffers in use.",
        &[],
    )),
    ValueColumn::new(Desc::gauge(
        "pg_buffercache_summary_buffers_unused",
        "Number of unused shared buffers.",
        &[],
    )),
    ValueColumn::new(Desc::gauge(
        "pg_buffercache_summary_buffers_dirty",
        "Number of dirty shared buffers.",
        &[],
    )),
    ValueColumn::new(Desc::gauge(
        "pg_buffercache_summary_buffers_pinned",
        "Number of pinned shared buffers.",
        &[],
    )),
    ValueColumn::new(Desc::gauge(
        "pg_buffercache_summary_usagecount_avg",
        "Mean usage count of the shared buffers in use.",
        &[],
    )),
];

pub struct BuffercacheSummary;

impl BuffercacheSummary {
    pub fn new(_: &CollectorConfig) -> BuffercacheSummary {
        BuffercacheSummary
    }
}

#[async_trait::async_trait]
impl PgCollector for BuffercacheSummary {
    async fn update(&self, session: &Session, sink: &mut MetricSink) -> Result<(), CollectError> {
        // postgres_exporter reports success for older servers, with no samples.
        if !session.version.at_least(16) {
            return Ok(());
        }
        for row in session.cells("pg_buffercache_summary", QUERY).await? {
            emit_values(sink, &[], &row, COLUMNS);
        }
        Ok(())
    }
}
