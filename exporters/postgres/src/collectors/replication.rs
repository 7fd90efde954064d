//! `replication`: whether the server is a standby and how far its replay lags, from
//! `pg_is_in_recovery()` and `pg_last_xact_replay_timestamp()`.

use exporter_core::{CollectError, Desc, MetricSink};

use super::{emit_values, CollectorConfig, PgCollector, ValueColumn};
use crate::connection::Session;

/// On a primary, and on a standby that has replayed everything it received, the lag is 0.
/// `last_replay` is NULL on a server that never replayed a transaction; that series is then
/// left out instead of failing the collector.
const QUERY: &str = "SELECT
    CASE WHEN NOT pg_is_in_recovery() THEN 0
         WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
         ELSE GREATEST(0, EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()))
    END AS lag,
    CASE WHEN pg_is_in_recovery() THEN 1 ELSE 0 END AS is_replica,
    GREATEST(0, EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())) AS last_replay";

const COLUMNS: &[ValueColumn] = &[
    ValueColumn::omit_null(Desc::gauge(
        "pg_replication_lag_seconds",
        "Seconds since the last transaction replayed on this standby, or 0 when nothing is pending.",
        &[],
    )),
    ValueColumn::new(Desc::gauge(
        "pg_replication_is_replica",
        "Whether the server is a standby in recovery (1) or a primary (0).",
        &[],
    )),
    ValueColumn::omit_null(Desc::gauge(
        "pg_replication_last_replay_seconds",
        "Seconds since the last replayed transaction was committed on the primary.",
        &[],
    )),
];

pub struct Replication;

impl Replication {
    pub fn new(_: &CollectorConfig) -> Replication {
        Replication
    }
}

#[async_trait::async_trait]
impl PgCollector for Replication {
    async fn update(&self, session: &Session, sink: &mut MetricSink) -> Result<(), CollectError> {
        for row in session.cells("pg_replication", QUERY).await? {
            emit_values(sink, &[], &row, COLUMNS);
        }
        Ok(())
    }
}
