//! `statio_user_tables`: block reads and buffer hits of every user table, its indexes and its
//! TOAST table in the connected database, from `pg_statio_user_tables`.

use exporter_core::{CollectError, Desc, MetricSink};

use super::{as_strs, emit_values, split_row, CollectorConfig, PgCollector, ValueColumn};
use crate::connection::Session;

const LABELS: &[&str] = &["datname", "schemaname", "relname"];

const fn counter(name: &'static str, help: &'static str) -> ValueColumn {
    ValueColumn::new(Desc::counter(name, help, LABELS))
}

/// NULL counters (a table without indexes or TOAST table) read as 0.
const COLUMNS: &[ValueColumn] = &[
    counter(
        "pg_statio_user_tables_heap_blocks_read",
        "Number of disk blocks read from the table.",
    ),
    counter(
        "pg_statio_user_tables_heap_blocks_hit",
        "Number of buffer hits in the table.",
    ),
    counter(
        "pg_statio_user_tables_idx_blocks_read",
        "Number of disk blocks read from the indexes of the table.",
    ),
    counter(
        "pg_statio_user_tables_idx_blocks_hit",
        "Number of buffer hits in the indexes of the table.",
    ),
    counter(
        "pg_statio_user_tables_toast_blocks_read",
        "Number of disk blocks read from the TOAST table of the table.",
    ),
    counter(
        "pg_statio_user_tables_toast_blocks_hit",
        "Number of buffer hits in the TOAST table of the table.",
    ),
    counter(
        "pg_statio_user_tables_tidx_blocks_read",
        "Number of disk blocks read from the TOAST table indexes of the table.",
    ),
    counter(
        "pg_statio_user_tables_tidx_blocks_hit",
        "Number of buffer hits in the TOAST table indexes of the table.",
    ),
];

const QUERY: &str = "SELECT current_database() AS datname, schemaname, relname,
       heap_blks_read, heap_blks_hit, idx_blks_read, idx_blks_hit,
       toast_blks_read, toast_blks_hit, tidx_blks_read, tidx_blks_hit
  FROM pg_statio_user_tables";

pub struct StatioUserTables;

impl StatioUserTables {
    pub fn new(_: &CollectorConfig) -> StatioUserTables {
        StatioUserTables
    }
}

#[async_trait::async_trait]
impl PgCollector for StatioUserTables {
    async fn update(&self, session: &Session, sink: &mut MetricSink) -> Result<(), CollectError> {
        for row in session.cells("pg_statio_user_tables", QUERY).await? {
            let (labels, values) = split_row(&row, LABELS.len(), "unknown");
            emit_values(sink, &as_strs(&labels), values, COLUMNS);
        }
        Ok(())
    }
}
