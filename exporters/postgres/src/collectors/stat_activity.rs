//! `stat_activity`: number of backends and age of the oldest transaction per database, state,
//! user, application, backend type and wait event, from `pg_stat_activity`.

use exporter_core::{CollectError, Desc, MetricSink};

use super::{as_strs, emit_values, split_row, CollectorConfig, PgCollector, ValueColumn};
use crate::connection::Session;

const LABELS: &[&str] = &[
    "datname",
    "state",
    "usename",
    "application_name",
    "backend_type",
    "wait_event_type",
    "wait_event",
];

const COLUMNS: &[ValueColumn] = &[
    ValueColumn::omit_null(Desc::gauge(
        "pg_stat_activity_count",
        "Number of backends in this state.",
        LABELS,
    )),
    ValueColumn::omit_null(Desc::gauge(
        "pg_stat_activity_max_tx_duration",
        "Age in seconds of the oldest transaction among these backends.",
        LABELS,
    )),
];

/// Every database gets a row for each state, with NULL user and wait columns and a count of 0
/// when no backend is in that state, as in postgres_exporter.
const QUERY: &str = "SELECT d.datname, s.state, a.usename, a.application_name, a.backend_type,
       a.wait_event_type, a.wait_event,
       COALESCE(a.count, 0) AS count, COALESCE(a.max_tx_duration, 0) AS max_tx_duration
  FROM (VALUES ('active'), ('idle'), ('idle in transaction'),
               ('idle in transaction (aborted)'), ('fastpath function call'),
               ('disabled')) AS s(state)
  CROSS JOIN pg_database d
  LEFT JOIN (SELECT datname, state, usename, application_name, backend_type,
                    wait_event_type, wait_event, count(*) AS count,
                    max(EXTRACT(EPOCH FROM now() - xact_start))::float8 AS max_tx_duration
               FROM pg_stat_activity WHERE pid <> pg_backend_pid()
              GROUP BY datname, state, usename, application_name, backend_type,
                       wait_event_type, wait_event) AS a
         ON a.state = s.state AND a.datname = d.datname";

pub struct StatActivity;

impl StatActivity {
    pub fn new(_: &CollectorConfig) -> StatActivity {
        StatActivity
    }
}

#[async_trait::async_trait]
impl PgCollector for StatActivity {
    async fn update(&self, session: &Session, sink: &mut MetricSink) -> Result<(), CollectError> {
        for row in session.cells("pg_stat_activity", QUERY).await? {
            let (labels, values) = split_row(&row, LABELS.len(), "");
            emit_values(sink, &as_strs(&labels), values, COLUMNS);
        }
        Ok(())
    }
}
