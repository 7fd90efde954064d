//! `long_running_transactions`: number of open transactions and the age of the oldest, from
//! `pg_stat_activity`, leaving out idle backends and autovacuum workers.

use exporter_core::{CollectError, Desc, MetricSink};

use super::{emit_values, CollectorConfig, PgCollector, ValueColumn};
use crate::connection::Session;

const QUERY: &str = "SELECT count(*) AS transactions,
       max(EXTRACT(EPOCH FROM clock_timestamp() - xact_start)) AS oldest_timestamp_seconds
  FROM pg_catalog.pg_stat_activity
 WHERE state IS DISTINCT FROM 'idle' AND query NOT LIKE 'autovacuum:%'
   AND xact_start IS NOT NULL AND pid <> pg_backend_pid()";

const COLUMNS: &[ValueColumn] = &[
    ValueColumn::new(Desc::gauge(
        "pg_long_running_transactions",
        "Number of open transactions in backends that are not idle.",
        &[],
    )),
    ValueColumn::new(Desc::gauge(
        "pg_long_running_transactions_oldest_timestamp_seconds",
        "Age in seconds of the oldest open transaction (0 if there is none).",
        &[],
    )),
];

pub struct LongRunningTransactions;

impl LongRunningTransactions {
    pub fn new(_: &CollectorConfig) -> LongRunningTransactions {
        LongRunningTransactions
    }
}

#[async_trait::async_trait]
impl PgCollector for LongRunningTransactions {
    async fn update(&self, session: &Session, sink: &mut MetricSink) -> Result<(), CollectError> {
        for row in session.cells("pg_long_running_transactions", QUERY).await? {
            emit_values(sink, &[], &row, COLUMNS);
        }
        Ok(())
    }
}
