//! `wal`: number and total size of WAL segment files, from `pg_ls_waldir()`.
//!
//! `pg_ls_waldir()` needs superuser or membership in `pg_monitor`; without it the collector
//! fails with a permission error.

use exporter_core::{CollectError, Desc, MetricSink};

use super::{emit_values, CollectorConfig, PgCollector, ValueColumn};
use crate::connection::Session;

const QUERY: &str = "SELECT count(*) AS segments, sum(size) AS size
  FROM pg_ls_waldir() WHERE name ~ '^[0-9A-F]{24}$'";

const COLUMNS: &[ValueColumn] = &[
    ValueColumn::new(Desc::gauge(
        "pg_wal_segments",
        "Number of WAL segment files.",
        &[],
    )),
    ValueColumn::omit_null(Desc::gauge(
        "pg_wal_size_bytes",
        "Total size of the WAL segment files, in bytes.",
        &[],
    )),
];

pub struct Wal;

impl Wal {
    pub fn new(_: &CollectorConfig) -> Wal {
        Wal
    }
}

#[async_trait::async_trait]
impl PgCollector for Wal {
    async fn update(&self, session: &Session, sink: &mut MetricSink) -> Result<(), CollectError> {
        for row in session.cells("pg_ls_waldir", QUERY).await? {
            emit_values(sink, &[], &row, COLUMNS);
        }
        Ok(())
    }
}
