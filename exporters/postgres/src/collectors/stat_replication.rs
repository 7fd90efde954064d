//! `stat_replication`: WAL position and replay lag of every connected standby, from
//! `pg_stat_replication` joined with `pg_replication_slots`.

use exporter_core::{CollectError, Desc, MetricSink};

use super::{as_strs, emit_values, split_row, CollectorConfig, PgCollector, ValueColumn};
use crate::connection::Session;

const LABELS: &[&str] = &["application_name", "client_addr", "state", "slot_name"];

const COLUMNS: &[ValueColumn] = &[
    ValueColumn::omit_null(Desc::gauge(
        "pg_stat_replication_pg_current_wal_lsn_bytes",
        "Current WAL position of this server, in bytes.",
        LABELS,
    )),
    ValueColumn::omit_null(Desc::gauge(
        "pg_stat_replication_pg_wal_lsn_diff",
        "Bytes of WAL the standby has not replayed yet.",
        LABELS,
    )),
];

const QUERY: &str = "SELECT r.application_name, r.client_addr::text, r.state, s.slot_name,
       (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn() ELSE pg_current_wal_lsn() END
          - '0/0')::float8 AS current_wal_lsn_bytes,
       (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn() ELSE pg_current_wal_lsn() END
          - r.replay_lsn)::float8 AS wal_lsn_diff
  FROM pg_stat_replication r
  LEFT JOIN pg_replication_slots s ON s.active_pid = r.pid";

pub struct StatReplication;

impl StatReplication {
    pub fn new(_: &CollectorConfig) -> StatReplication {
        StatReplication
    }
}

#[async_trait::async_trait]
impl PgCollector for StatReplication {
    async fn update(&self, session: &Session, sink: &mut MetricSink) -> Result<(), CollectError> {
        for row in session.cells("pg_stat_replication", QUERY).await? {
            let (labels, values) = split_row(&row, LABELS.len(), "");
            emit_values(sink, &as_strs(&labels), values, COLUMNS);
        }
        Ok(())
    }
}
