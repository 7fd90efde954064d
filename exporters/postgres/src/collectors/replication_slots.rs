//! `replication_slots`: activity, retained WAL and WAL status of every replication slot, from
//! `pg_replication_slots`.

use exporter_core::{CollectError, Desc, MetricSink};

use super::{CollectorConfig, PgCollector};
use crate::connection::Session;
use crate::value::Cell;

const ACTIVE: Desc = Desc::gauge(
    "pg_replication_slots_active",
    "Whether a client is streaming from the slot (1) or not (0).",
    &["slot_name", "database"],
);
const WAL_LSN_DIFF: Desc = Desc::gauge(
    "pg_replication_slots_pg_wal_lsn_diff",
    "Bytes of WAL between the current position and the oldest position the slot retains.",
    &["slot_name", "database"],
);
const CURRENT_WAL_LSN: Desc = Desc::gauge(
    "pg_replication_slots_slot_current_wal_lsn",
    "Current WAL position of the server, in bytes.",
    &["slot_name", "slot_type"],
);
const CONFIRMED_FLUSH_LSN: Desc = Desc::gauge(
    "pg_replication_slots_slot_confirmed_flush_lsn",
    "WAL position, in bytes, up to which the slot's consumer confirmed receiving data.",
    &["slot_name", "slot_type"],
);
const IS_ACTIVE: Desc = Desc::gauge(
    "pg_replication_slots_slot_is_active",
    "Whether a client is streaming from the slot (1) or not (0).",
    &["slot_name", "slot_type"],
);
const SAFE_WAL_SIZE: Desc = Desc::gauge(
    "pg_replication_slots_safe_wal_size_bytes",
    "Bytes of WAL that can still be written before the slot is in danger of being lost.",
    &["slot_name", "slot_type"],
);
const WAL_STATUS: Desc = Desc::gauge(
    "pg_replication_slots_wal_status",
    "Availability of the WAL files the slot claims; the state is in the wal_status label.",
    &["slot_name", "slot_type", "wal_status"],
);

/// On a standby the current position is the last received one. `safe_wal_size` and
/// `wal_status` exist from PostgreSQL 13 on, the oldest version supported here.
const QUERY: &str = "SELECT slot_name, database, active,
       (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn() ELSE pg_current_wal_lsn() END
          - restart_lsn)::float8 AS wal_lsn_diff,
       slot_type,
       (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn() ELSE pg_current_wal_lsn() END
          - '0/0')::float8 AS current_wal_lsn,
       (COALESCE(confirmed_flush_lsn, '0/0') - '0/0')::float8 AS confirmed_flush_lsn,
       safe_wal_size, wal_status
  FROM pg_replication_slots";

pub struct ReplicationSlots;

impl ReplicationSlots {
    pub fn new(_: &CollectorConfig) -> ReplicationSlots {
        ReplicationSlots
    }
}

#[async_trait::async_trait]
impl PgCollector for ReplicationSlots {
    async fn update(&self, session: &Session, sink: &mut MetricSink) -> Result<(), CollectError> {
        for row in session.cells("pg_replication_slots", QUERY).await? {
            emit_slot(sink, &row);
        }
        Ok(())
    }
}

fn emit_slot(sink: &mut MetricSink, row: &[Cell]) {
    let name = row[0].label();
    let database = row[1].label();
    let active = row[2].number();
    if let Some(active) = active {
        sink.add(&ACTIVE, &[&name, &database], active);
    }
    if let Some(diff) = row[3].number() {
        sink.add(&WAL_LSN_DIFF, &[&name, &database], diff);
    }

    let slot_name = row[0].label_or("unknown");
    let slot_type = row[4].label_or("unknown");
    let slot = [slot_name.as_str(), slot_type.as_str()];
    if let Some(lsn) = row[5].number() {
        sink.add(&CURRENT_WAL_LSN, &slot, lsn);
    }
    if let (Some(1.0), Some(flushed)) = (active, row[6].number()) {
        sink.add(&CONFIRMED_FLUSH_LSN, &slot, flushed);
    }
    if let Some(active) = active {
        sink.add(&IS_ACTIVE, &slot, active);
    }
    if let Some(safe) = row[7].number() {
        sink.add(&SAFE_WAL_SIZE, &slot, safe);
    }
    if !row[8].is_null() {
        sink.add(&WAL_STATUS, &[slot[0], slot[1], &row[8].label()], 1.0);
    }
}
