//! `postmaster`: start time of the server, from `pg_postmaster_start_time()`.

use exporter_core::{CollectError, Desc, MetricSink};

use super::{emit_values, CollectorConfig, PgCollector, ValueColumn};
use crate::connection::Session;

const QUERY: &str = "SELECT EXTRACT(EPOCH FROM pg_postmaster_start_time())";

const COLUMNS: &[ValueColumn] = &[ValueColumn::new(Desc::gauge(
    "pg_postmaster_start_time_seconds",
    "Unix time at which the server started.",
    &[],
))];

pub struct Postmaster;

impl Postmaster {
    pub fn new(_: &CollectorConfig) -> Postmaster {
        Postmaster
    }
}

#[async_trait::async_trait]
impl PgCollector for Postmaster {
    async fn update(&self, session: &Session, sink: &mut MetricSink) -> Result<(), CollectError> {
        for row in session.cells("pg_postmaster_start_time", QUERY).await? {
            emit_values(sink, &[], &row, COLUMNS);
        }
        Ok(())
    }
}
