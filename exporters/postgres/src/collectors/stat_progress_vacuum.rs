//! `stat_progress_vacuum`: progress of every running VACUUM, from
//! `pg_stat_get_progress_info('VACUUM')`, the function behind `pg_stat_progress_vacuum`.
//!
//! The function is read directly, as postgres_exporter does, so that the table name can be
//! resolved in the current database and the OID shown elsewhere. Parameters 1 to 7 are the
//! phase, heap block counts, index vacuum count and dead tuple counters, in the order of the
//! view's definition in `src/backend/catalog/system_views.sql`.

use exporter_core::{CollectError, Desc, MetricSink};

use super::{as_strs, emit_values, split_row, CollectorConfig, PgCollector, ValueColumn};
use crate::connection::Session;

const LABELS: &[&str] = &["datname", "relname"];

/// Phase names in the order of their numbers in `param1`.
const PHASES: &[&str] = &[
    "initializing",
    "scanning heap",
    "vacuuming indexes",
    "vacuuming heap",
    "cleaning up indexes",
    "truncating heap",
    "performing final cleanup",
];

const PHASE: Desc = Desc::gauge(
    "pg_stat_progress_vacuum_phase",
    "Whether the vacuum is in the phase named by the phase label (1) or not (0).",
    &["datname", "relname", "phase"],
);

const fn gauge(name: &'static str, help: &'static str) -> ValueColumn {
    ValueColumn::new(Desc::gauge(name, help, LABELS))
}

const COLUMNS: &[ValueColumn] = &[
    gauge(
        "pg_stat_progress_vacuum_heap_blks",
        "Number of heap blocks in the table being vacuumed.",
    ),
    gauge(
        "pg_stat_progress_vacuum_heap_blks_scanned",
        "Number of heap blocks scanned so far.",
    ),
    gauge(
        "pg_stat_progress_vacuum_heap_blks_vacuumed",
        "Number of heap blocks vacuumed so far.",
    ),
    gauge(
        "pg_stat_progress_vacuum_index_vacuums",
        "Number of index vacuum cycles completed.",
    ),
    gauge(
        "pg_stat_progress_vacuum_max_dead_tuples",
        "Number of dead tuples that fit in memory before an index vacuum cycle is needed.",
    ),
    gauge(
        "pg_stat_progress_vacuum_num_dead_tuples",
        "Number of dead tuples collected since the last index vacuum cycle.",
    ),
];

const QUERY: &str = "SELECT d.datname,
       COALESCE(CASE WHEN d.datname = current_database() THEN s.relid::regclass::text END,
                s.relid::text) AS relname,
       s.param1, s.param2, s.param3, s.param4, s.param5, s.param6, s.param7
  FROM pg_stat_get_progress_info('VACUUM') AS s
  LEFT JOIN pg_database d ON s.datid = d.oid";

pub struct StatProgressVacuum;

impl StatProgressVacuum {
    pub fn new(_: &CollectorConfig) -> StatProgressVacuum {
        StatProgressVacuum
    }
}

#[async_trait::async_trait]
impl PgCollector for StatProgressVacuum {
    async fn update(&self, session: &Session, sink: &mut MetricSink) -> Result<(), CollectError> {
        for row in session.cells("pg_stat_progress_vacuum", QUERY).await? {
            let (labels, values) = split_row(&row, LABELS.len(), "unknown");
            let labels = as_strs(&labels);
            let phase = values[0].number();
            for (i, name) in PHASES.iter().enumerate() {
                let active = phase == Some(i as f64);
                sink.add(
                    &PHASE,
                    &[labels[0], labels[1], name],
                    if active { 1.0 } else { 0.0 },
                );
            }
            emit_values(sink, &labels, &values[1..], COLUMNS);
        }
        Ok(())
    }
}
