//! `stat_activity_autovacuum`: start time of every running autovacuum worker's transaction,
//! per table, from `pg_stat_activity`.

use exporter_core::{CollectError, Desc, MetricSink};

use super::{CollectorConfig, PgCollector};
use crate::connection::Session;

const TIMESTAMP: Desc = Desc::gauge(
    "pg_stat_activity_autovacuum_timestamp_seconds",
    "Unix time at which the autovacuum worker's transaction started.",
    &["relname"],
);

/// The query text of a worker is `autovacuum: VACUUM schema.table`; the part after the first
/// dot is the table name.
const QUERY: &str = "SELECT split_part(query, '.', 2) AS relname,
       EXTRACT(EPOCH FROM xact_start) AS timestamp_seconds
  FROM pg_catalog.pg_stat_activity WHERE query LIKE 'autovacuum:%'";

pub struct StatActivityAutovacuum;

impl StatActivityAutovacuum {
    pub fn new(_: &CollectorConfig) -> StatActivityAutovacuum {
        StatActivityAutovacuum
    }
}

#[async_trait::async_trait]
impl PgCollector for StatActivityAutovacuum {
    async fn update(&self, session: &Session, sink: &mut MetricSink) -> Result<(), CollectError> {
        for row in session.cells("pg_stat_activity_autovacuum", QUERY).await? {
            if let (false, Some(start)) = (row[0].is_null(), row[1].number()) {
                sink.add(&TIMESTAMP, &[&row[0].label()], start);
            }
        }
        Ok(())
    }
}
