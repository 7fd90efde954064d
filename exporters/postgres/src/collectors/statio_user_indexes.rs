//! `statio_user_indexes`: block reads and buffer hits of every user index in the connected
//! database, from `pg_statio_user_indexes`.

use exporter_core::{CollectError, Desc, MetricSink};

use super::{as_strs, emit_values, split_row, CollectorConfig, PgCollector, ValueColumn};
use crate::connection::Session;

const LABELS: &[&str] = &["schemaname", "relname", "indexrelname"];

const COLUMNS: &[ValueColumn] = &[
    ValueColumn::new(Desc::counter(
        "pg_statio_user_indexes_idx_blks_read_total",
        "Number of disk blocks read from the index.",
        LABELS,
    )),
    ValueColumn::new(Desc::counter(
        "pg_statio_user_indexes_idx_blks_hit_total",
        "Number of buffer hits in the index.",
        LABELS,
    )),
];

const QUERY: &str = "SELECT schemaname, relname, indexrelname, idx_blks_read, idx_blks_hit
  FROM pg_statio_user_indexes";

pub struct StatioUserIndexes;

impl StatioUserIndexes {
    pub fn new(_: &CollectorConfig) -> StatioUserIndexes {
        StatioUserIndexes
    }
}

#[async_trait::async_trait]
impl PgCollector for StatioUserIndexes {
    async fn update(&self, session: &Session, sink: &mut MetricSink) -> Result<(), CollectError> {
        for row in session.cells("pg_statio_user_indexes", QUERY).await? {
            let (labels, values) = split_row(&row, LABELS.len(), "unknown");
            emit_values(sink, &as_strs(&labels), values, COLUMNS);
        }
        Ok(())
    }
}
