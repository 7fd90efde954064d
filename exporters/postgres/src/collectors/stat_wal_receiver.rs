//! `stat_wal_receiver`: state of the WAL receiver of a standby, from `pg_stat_wal_receiver`.
//!
//! WAL positions are reported modulo 2^52 so that they stay exact in a float64, as in
//! postgres_exporter. A row with a NULL in any column but `upstream_node` is skipped.

use exporter_core::{CollectError, Desc, MetricSink};

use super::{as_strs, emit_values, split_row, CollectorConfig, PgCollector, ValueColumn};
use crate::connection::Session;

const LABELS: &[&str] = &["upstream_host", "slot_name", "status"];

const fn counter(name: &'static str, help: &'static str) -> ValueColumn {
    ValueColumn::new(Desc::counter(name, help, LABELS))
}

const fn gauge(name: &'static str, help: &'static str) -> ValueColumn {
    ValueColumn::new(Desc::gauge(name, help, LABELS))
}

const COLUMNS: &[ValueColumn] = &[
    counter(
        "pg_stat_wal_receiver_receive_start_lsn",
        "First WAL position used when the receiver started, in bytes.",
    ),
    counter(
        "pg_stat_wal_receiver_flushed_lsn",
        "Last WAL position received and flushed to disk, in bytes.",
    ),
    gauge(
        "pg_stat_wal_receiver_receive_start_tli",
        "First timeline number used when the receiver started.",
    ),
    gauge(
        "pg_stat_wal_receiver_received_tli",
        "Timeline number of the last WAL position received and flushed to disk.",
    ),
    counter(
        "pg_stat_wal_receiver_last_msg_send_time",
        "Unix time at which the sender sent the last message received.",
    ),
    counter(
        "pg_stat_wal_receiver_last_msg_receipt_time",
        "Unix time at which the last message from the sender was received.",
    ),
    counter(
        "pg_stat_wal_receiver_latest_end_lsn",
        "Last WAL position reported to the sender, in bytes.",
    ),
    counter(
        "pg_stat_wal_receiver_latest_end_time",
        "Unix time of the last WAL position reported to the sender.",
    ),
    ValueColumn::omit_null(Desc::gauge(
        "pg_stat_wal_receiver_upstream_node",
        "Node ID of the upstream server, from a repmgr slot name.",
        LABELS,
    )),
];

const QUERY: &str =
    "SELECT trim(both '''' FROM substring(conninfo FROM 'host=([^ ]*)')) AS upstream_host,
       slot_name, status,
       (receive_start_lsn - '0/0') % (2^52)::bigint AS receive_start_lsn,
       (flushed_lsn - '0/0') % (2^52)::bigint AS flushed_lsn,
       receive_start_tli, received_tli,
       EXTRACT(EPOCH FROM last_msg_send_time) AS last_msg_send_time,
       EXTRACT(EPOCH FROM last_msg_receipt_time) AS last_msg_receipt_time,
       (latest_end_lsn - '0/0') % (2^52)::bigint AS latest_end_lsn,
       EXTRACT(EPOCH FROM latest_end_time) AS latest_end_time,
       substring(slot_name FROM 'repmgr_slot_([0-9]*)') AS upstream_node
  FROM pg_catalog.pg_stat_wal_receiver";

pub struct StatWalReceiver;

impl StatWalReceiver {
    pub fn new(_: &CollectorConfig) -> StatWalReceiver {
        StatWalReceiver
    }
}

#[async_trait::async_trait]
impl PgCollector for StatWalReceiver {
    async fn update(&self, session: &Session, sink: &mut MetricSink) -> Result<(), CollectError> {
        for row in session.cells("pg_stat_wal_receiver", QUERY).await? {
            let complete = row[..row.len() - 1].iter().all(|cell| !cell.is_null());
            if !complete {
                continue;
            }
            let (labels, values) = split_row(&row, LABELS.len(), "");
            emit_values(sink, &as_strs(&labels), values, COLUMNS);
        }
        Ok(())
    }
}
