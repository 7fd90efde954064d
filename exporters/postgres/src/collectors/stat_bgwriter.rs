//! `stat_bgwriter`: background writer and, before PostgreSQL 17, checkpoint statistics, from
//! `pg_stat_bgwriter`.
//!
//! PostgreSQL 17 moved the checkpoint columns to `pg_stat_checkpointer` and removed
//! `buffers_backend` and `buffers_backend_fsync`, so on 17 and later only the four remaining
//! columns are read.

use exporter_core::{CollectError, Desc, MetricSink};

use super::{emit_values, CollectorConfig, PgCollector, ValueColumn};
use crate::connection::Session;

const fn counter(name: &'static str, help: &'static str) -> ValueColumn {
    ValueColumn::new(Desc::counter(name, help, &[]))
}

const CHECKPOINTS_TIMED: ValueColumn = counter(
    "pg_stat_bgwriter_checkpoints_timed_total",
    "Number of checkpoints started because checkpoint_timeout elapsed.",
);
const CHECKPOINTS_REQ: ValueColumn = counter(
    "pg_stat_bgwriter_checkpoints_req_total",
    "Number of checkpoints that were requested.",
);
const CHECKPOINT_WRITE_TIME: ValueColumn = counter(
    "pg_stat_bgwriter_checkpoint_write_time_total",
    "Milliseconds checkpoints spent writing files to disk.",
);
const CHECKPOINT_SYNC_TIME: ValueColumn = counter(
    "pg_stat_bgwriter_checkpoint_sync_time_total",
    "Milliseconds checkpoints spent synchronizing files to disk.",
);
const BUFFERS_CHECKPOINT: ValueColumn = counter(
    "pg_stat_bgwriter_buffers_checkpoint_total",
    "Number of buffers written by checkpoints.",
);
const BUFFERS_CLEAN: ValueColumn = counter(
    "pg_stat_bgwriter_buffers_clean_total",
    "Number of buffers written by the background writer.",
);
const MAXWRITTEN_CLEAN: ValueColumn = counter(
    "pg_stat_bgwriter_maxwritten_clean_total",
    "Number of times the background writer stopped a cleaning scan after writing bgwriter_lru_maxpages buffers.",
);
const BUFFERS_BACKEND: ValueColumn = counter(
    "pg_stat_bgwriter_buffers_backend_total",
    "Number of buffers written by backends themselves.",
);
const BUFFERS_BACKEND_FSYNC: ValueColumn = counter(
    "pg_stat_bgwriter_buffers_backend_fsync_total",
    "Number of times a backend had to call fsync itself.",
);
const BUFFERS_ALLOC: ValueColumn = counter(
    "pg_stat_bgwriter_buffers_alloc_total",
    "Number of buffers allocated.",
);
const STATS_RESET: ValueColumn = counter(
    "pg_stat_bgwriter_stats_reset_total",
    "Unix time at which these statistics were last reset.",
);

const QUERY_BEFORE_17: &str = "SELECT checkpoints_timed, checkpoints_req, checkpoint_write_time,
       checkpoint_sync_time, buffers_checkpoint, buffers_clean, maxwritten_clean,
       buffers_backend, buffers_backend_fsync, buffers_alloc,
       floor(EXTRACT(EPOCH FROM stats_reset)) AS stats_reset
  FROM pg_stat_bgwriter";
const COLUMNS_BEFORE_17: &[ValueColumn] = &[
    CHECKPOINTS_TIMED,
    CHECKPOINTS_REQ,
    CHECKPOINT_WRITE_TIME,
    CHECKPOINT_SYNC_TIME,
    BUFFERS_CHECKPOINT,
    BUFFERS_CLEAN,
    MAXWRITTEN_CLEAN,
    BUFFERS_BACKEND,
    BUFFERS_BACKEND_FSYNC,
    BUFFERS_ALLOC,
    STATS_RESET,
];

const QUERY_17: &str = "SELECT buffers_clean, maxwritten_clean, buffers_alloc,
       floor(EXTRACT(EPOCH FROM stats_reset)) AS stats_reset
  FROM pg_stat_bgwriter";
const COLUMNS_17: &[ValueColumn] = &[BUFFERS_CLEAN, MAXWRITTEN_CLEAN, BUFFERS_ALLOC, STATS_RESET];

pub struct StatBgwriter;

impl StatBgwriter {
    pub fn new(_: &CollectorConfig) -> StatBgwriter {
        StatBgwriter
    }
}

#[async_trait::async_trait]
impl PgCollector for StatBgwriter {
    async fn update(&self, session: &Session, sink: &mut MetricSink) -> Result<(), CollectError> {
        let (query, columns) = if session.version.at_least(17) {
            (QUERY_17, COLUMNS_17)
        } else {
            (QUERY_BEFORE_17, COLUMNS_BEFORE_17)
        };
        for row in session.cells("pg_stat_bgwriter", query).await? {
            emit_values(sink, &[], &row, columns);
        }
        Ok(())
    }
}
