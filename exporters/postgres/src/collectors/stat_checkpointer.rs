//! `stat_checkpointer`: checkpoint and restartpoint statistics, from `pg_stat_checkpointer`,
//! which exists from PostgreSQL 17 on.

use exporter_core::{CollectError, Desc, MetricSink};

use super::{emit_values, CollectorConfig, PgCollector, ValueColumn};
use crate::connection::Session;

const fn counter(name: &'static str, help: &'static str) -> ValueColumn {
    ValueColumn::new(Desc::counter(name, help, &[]))
}

const QUERY: &str = "SELECT num_timed, num_requested, restartpoints_timed, restartpoints_req,
       restartpoints_done, write_time, sync_time, buffers_written,
       floor(EXTRACT(EPOCH FROM stats_reset)) AS stats_reset
  FROM pg_stat_checkpointer";

const COLUMNS: &[ValueColumn] = &[
    counter(
        "pg_stat_checkpointer_num_timed_total",
        "Number of checkpoints started because checkpoint_timeout elapsed.",
    ),
    counter(
        "pg_stat_checkpointer_num_requested_total",
        "Number of checkpoints that were requested.",
    ),
    counter(
        "pg_stat_checkpointer_restartpoints_timed_total",
        "Number of restartpoints started because checkpoint_timeout elapsed or an attempt failed.",
    ),
    counter(
        "pg_stat_checkpointer_restartpoints_req_total",
        "Number of restartpoints that were requested.",
    ),
    counter(
        "pg_stat_checkpointer_restartpoints_done_total",
        "Number of restartpoints performed.",
    ),
    counter(
        "pg_stat_checkpointer_write_time_total",
        "Milliseconds checkpoints and restartpoints spent writing files to disk.",
    ),
    counter(
        "pg_stat_checkpointer_sync_time_total",
        "Milliseconds checkpoints and restartpoints spent synchronizing files to disk.",
    ),
    counter(
        "pg_stat_checkpointer_buffers_written_total",
        "Number of buffers written by checkpoints and restartpoints.",
    ),
    counter(
        "pg_stat_checkpointer_stats_reset_total",
        "Unix time at which these statistics were last reset.",
    ),
];

pub struct StatCheckpointer;

impl StatCheckpointer {
    pub fn new(_: &CollectorConfig) -> StatCheckpointer {
        StatCheckpointer
    }
}

#[async_trait::async_trait]
impl PgCollector for StatCheckpointer {
    async fn update(&self, session: &Session, sink: &mut MetricSink) -> Result<(), CollectError> {
        // postgres_exporter reports success for older servers, with no samples.
        if !session.version.at_least(17) {
            tracing::debug!(
                collector = "stat_checkpointer",
                "pg_stat_checkpointer exists from PostgreSQL 17 on"
            );
            return Ok(());
        }
        for row in session.cells("pg_stat_checkpointer", QUERY).await? {
            emit_values(sink, &[], &row, COLUMNS);
        }
        Ok(())
    }
}
