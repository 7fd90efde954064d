//! `stat_archiver`: WAL archiving counts and the age of the last archived segment, from
//! `pg_stat_archiver`.

use exporter_core::{CollectError, Desc, MetricSink};

use super::{emit_values, CollectorConfig, PgCollector, ValueColumn};
use crate::connection::Session;

const QUERY: &str = "SELECT archived_count, failed_count,
       EXTRACT(EPOCH FROM now() - last_archived_time) AS last_archive_age
  FROM pg_stat_archiver";

const COLUMNS: &[ValueColumn] = &[
    ValueColumn::omit_null(Desc::counter(
        "pg_stat_archiver_archived_count",
        "Number of WAL segments archived successfully.",
        &[],
    )),
    ValueColumn::omit_null(Desc::counter(
        "pg_stat_archiver_failed_count",
        "Number of failed attempts to archive a WAL segment.",
        &[],
    )),
    ValueColumn::omit_null(Desc::gauge(
        "pg_stat_archiver_last_archive_age",
        "Seconds since the last WAL segment was archived successfully.",
        &[],
    )),
];

pub struct StatArchiver;

impl StatArchiver {
    pub fn new(_: &CollectorConfig) -> StatArchiver {
        StatArchiver
    }
}

#[async_trait::async_trait]
impl PgCollector for StatArchiver {
    async fn update(&self, session: &Session, sink: &mut MetricSink) -> Result<(), CollectError> {
        for row in session.cells("pg_stat_archiver", QUERY).await? {
            emit_values(sink, &[], &row, COLUMNS);
        }
        Ok(())
    }
}
