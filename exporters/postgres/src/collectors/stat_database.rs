//! `stat_database`: per-database activity counters, from `pg_stat_database`.
//!
//! `active_time` exists from PostgreSQL 14 on and is reported in seconds. A row with a NULL in
//! any counter is skipped whole, as postgres_exporter does; a NULL `stats_reset` reads as 0.

use exporter_core::{CollectError, Desc, MetricSink};

use super::{as_strs, emit_values, split_row, CollectorConfig, PgCollector, ValueColumn};
use crate::connection::Session;

const LABELS: &[&str] = &["datid", "datname"];

const fn counter(name: &'static str, help: &'static str) -> ValueColumn {
    ValueColumn::new(Desc::counter(name, help, LABELS))
}

const COLUMNS: &[ValueColumn] = &[
    ValueColumn::new(Desc::gauge(
        "pg_stat_database_numbackends",
        "Number of backends connected to the database.",
        LABELS,
    )),
    counter(
        "pg_stat_database_xact_commit",
        "Number of committed transactions.",
    ),
    counter(
        "pg_stat_database_xact_rollback",
        "Number of rolled back transactions.",
    ),
    counter("pg_stat_database_blks_read", "Number of disk blocks read."),
    counter(
        "pg_stat_database_blks_hit",
        "Number of block reads served from shared buffers.",
    ),
    counter(
        "pg_stat_database_tup_returned",
        "Number of rows returned by queries.",
    ),
    counter(
        "pg_stat_database_tup_fetched",
        "Number of rows fetched by queries.",
    ),
    counter("pg_stat_database_tup_inserted", "Number of rows inserted."),
    counter("pg_stat_database_tup_updated", "Number of rows updated."),
    counter("pg_stat_database_tup_deleted", "Number of rows deleted."),
    counter(
        "pg_stat_database_conflicts",
        "Number of queries cancelled by conflicts with recovery (standbys only).",
    ),
    counter(
        "pg_stat_database_temp_files",
        "Number of temporary files created.",
    ),
    counter(
        "pg_stat_database_temp_bytes",
        "Bytes written to temporary files.",
    ),
    counter(
        "pg_stat_database_deadlocks",
        "Number of deadlocks detected.",
    ),
    counter(
        "pg_stat_database_blk_read_time",
        "Milliseconds backends spent reading data file blocks.",
    ),
    counter(
        "pg_stat_database_blk_write_time",
        "Milliseconds backends spent writing data file blocks.",
    ),
    counter(
        "pg_stat_database_stats_reset",
        "Unix time at which these statistics were last reset.",
    ),
    ValueColumn::scaled(
        Desc::counter(
            "pg_stat_database_active_time_seconds_total",
            "Seconds backends spent executing statements in the database.",
            LABELS,
        ),
        0.001,
    ),
];

const QUERY_BEFORE_14: &str = "SELECT datid, datname, numbackends, xact_commit, xact_rollback,
       blks_read, blks_hit, tup_returned, tup_fetched, tup_inserted, tup_updated, tup_deleted,
       conflicts, temp_files, temp_bytes, deadlocks, blk_read_time, blk_write_time,
       floor(EXTRACT(EPOCH FROM stats_reset)) AS stats_reset
  FROM pg_stat_database";

const QUERY_14: &str = "SELECT datid, datname, numbackends, xact_commit, xact_rollback,
       blks_read, blks_hit, tup_returned, tup_fetched, tup_inserted, tup_updated, tup_deleted,
       conflicts, temp_files, temp_bytes, deadlocks, blk_read_time, blk_write_time,
       floor(EXTRACT(EPOCH FROM stats_reset)) AS stats_reset, active_time
  FROM pg_stat_database";

/// Index of `stats_reset` among the value columns, the one column that may be NULL.
const STATS_RESET: usize = 16;

pub struct StatDatabase;

impl StatDatabase {
    pub fn new(_: &CollectorConfig) -> StatDatabase {
        StatDatabase
    }
}

#[async_trait::async_trait]
impl PgCollector for StatDatabase {
    async fn update(&self, session: &Session, sink: &mut MetricSink) -> Result<(), CollectError> {
        let (query, columns) = if session.version.at_least(14) {
            (QUERY_14, COLUMNS)
        } else {
            (QUERY_BEFORE_14, &COLUMNS[..COLUMNS.len() - 1])
        };
        for row in session.cells("pg_stat_database", query).await? {
            // The row of shared objects has datid 0 and a NULL datname.
            if row[0].is_null() || row[1].is_null() {
                continue;
            }
            let (labels, values) = split_row(&row, LABELS.len(), "");
            let incomplete = values
                .iter()
                .enumerate()
                .any(|(i, cell)| i != STATS_RESET && cell.is_null());
            if incomplete {
                continue;
            }
            emit_values(sink, &as_strs(&labels), values, columns);
        }
        Ok(())
    }
}
