//! `stat_user_tables`: scan, row and maintenance statistics and sizes of every user table in
//! the connected database, from `pg_stat_user_tables`, `pg_indexes_size()` and
//! `pg_table_size()`.
//!
//! NULL counters (a table never scanned by index has a NULL `idx_scan`) read as 0, and a table
//! never vacuumed or analyzed reports 0 as the time of that event, as in postgres_exporter.

use exporter_core::{CollectError, Desc, MetricSink};

use super::{as_strs, emit_values, split_row, CollectorConfig, PgCollector, ValueColumn};
use crate::connection::Session;

const LABELS: &[&str] = &["datname", "schemaname", "relname"];

const fn counter(name: &'static str, help: &'static str) -> ValueColumn {
    ValueColumn::new(Desc::counter(name, help, LABELS))
}

const fn gauge(name: &'static str, help: &'static str) -> ValueColumn {
    ValueColumn::new(Desc::gauge(name, help, LABELS))
}

const COLUMNS: &[ValueColumn] = &[
    counter(
        "pg_stat_user_tables_seq_scan",
        "Number of sequential scans of the table.",
    ),
    counter(
        "pg_stat_user_tables_seq_tup_read",
        "Number of live rows fetched by sequential scans.",
    ),
    counter(
        "pg_stat_user_tables_idx_scan",
        "Number of index scans of the table.",
    ),
    counter(
        "pg_stat_user_tables_idx_tup_fetch",
        "Number of live rows fetched by index scans.",
    ),
    counter("pg_stat_user_tables_n_tup_ins", "Number of rows inserted."),
    counter("pg_stat_user_tables_n_tup_upd", "Number of rows updated."),
    counter("pg_stat_user_tables_n_tup_del", "Number of rows deleted."),
    counter(
        "pg_stat_user_tables_n_tup_hot_upd",
        "Number of rows updated without a separate index update (HOT).",
    ),
    gauge(
        "pg_stat_user_tables_n_live_tup",
        "Estimated number of live rows.",
    ),
    gauge(
        "pg_stat_user_tables_n_dead_tup",
        "Estimated number of dead rows.",
    ),
    gauge(
        "pg_stat_user_tables_n_mod_since_analyze",
        "Estimated number of rows modified since the table was last analyzed.",
    ),
    gauge(
        "pg_stat_user_tables_last_vacuum",
        "Unix time of the last manual vacuum, not counting VACUUM FULL (0 if never).",
    ),
    gauge(
        "pg_stat_user_tables_last_autovacuum",
        "Unix time of the last vacuum by autovacuum (0 if never).",
    ),
    gauge(
        "pg_stat_user_tables_last_analyze",
        "Unix time of the last manual analyze (0 if never).",
    ),
    gauge(
        "pg_stat_user_tables_last_autoanalyze",
        "Unix time of the last analyze by autovacuum (0 if never).",
    ),
    counter(
        "pg_stat_user_tables_vacuum_count",
        "Number of manual vacuums, not counting VACUUM FULL.",
    ),
    counter(
        "pg_stat_user_tables_autovacuum_count",
        "Number of vacuums by autovacuum.",
    ),
    counter(
        "pg_stat_user_tables_analyze_count",
        "Number of manual analyzes.",
    ),
    counter(
        "pg_stat_user_tables_autoanalyze_count",
        "Number of analyzes by autovacuum.",
    ),
    gauge(
        "pg_stat_user_tables_index_size_bytes",
        "Disk space used by the indexes of the table, in bytes.",
    ),
    gauge(
        "pg_stat_user_tables_table_size_bytes",
        "Disk space used by the table without its indexes, in bytes.",
    ),
];

const QUERY: &str = "SELECT current_database() AS datname, schemaname, relname,
       seq_scan, seq_tup_read, idx_scan, idx_tup_fetch, n_tup_ins, n_tup_upd, n_tup_del,
       n_tup_hot_upd, n_live_tup, n_dead_tup, n_mod_since_analyze,
       floor(EXTRACT(EPOCH FROM last_vacuum)) AS last_vacuum,
       floor(EXTRACT(EPOCH FROM last_autovacuum)) AS last_autovacuum,
       floor(EXTRACT(EPOCH FROM last_analyze)) AS last_analyze,
       floor(EXTRACT(EPOCH FROM last_autoanalyze)) AS last_autoanalyze,
       vacuum_count, autovacuum_count, analyze_count, autoanalyze_count,
       pg_indexes_size(relid) AS indexes_size, pg_table_size(relid) AS table_size
  FROM pg_stat_user_tables";

pub struct StatUserTables;

impl StatUserTables {
    pub fn new(_: &CollectorConfig) -> StatUserTables {
        StatUserTables
    }
}

#[async_trait::async_trait]
impl PgCollector for StatUserTables {
    async fn update(&self, session: &Session, sink: &mut MetricSink) -> Result<(), CollectError> {
        for row in session.cells("pg_stat_user_tables", QUERY).await? {
            let (labels, values) = split_row(&row, LABELS.len(), "unknown");
            emit_values(sink, &as_strs(&labels), values, COLUMNS);
        }
        Ok(())
    }
}
