//! `database_wraparound`: transaction ID and multixact ID age of every database that accepts
//! connections, from `pg_database`, `age()` and `mxid_age()`.

use exporter_core::{CollectError, Desc, MetricSink};

use super::{as_strs, emit_values, split_row, CollectorConfig, PgCollector, ValueColumn};
use crate::connection::Session;

/// The `_seconds` suffix is postgres_exporter's name; the values are transaction counts.
const COLUMNS: &[ValueColumn] = &[
    ValueColumn::new(Desc::gauge(
        "pg_database_wraparound_age_datfrozenxid_seconds",
        "Age, in transactions, of the oldest transaction ID that has not been frozen.",
        &["datname"],
    )),
    ValueColumn::new(Desc::gauge(
        "pg_database_wraparound_age_datminmxid_seconds",
        "Age, in multixacts, of the oldest multixact ID that has not been replaced.",
        &["datname"],
    )),
];

const QUERY: &str = "SELECT datname, age(datfrozenxid), mxid_age(datminmxid)
  FROM pg_catalog.pg_database WHERE datallowconn";

pub struct DatabaseWraparound;

impl DatabaseWraparound {
    pub fn new(_: &CollectorConfig) -> DatabaseWraparound {
        DatabaseWraparound
    }
}

#[async_trait::async_trait]
impl PgCollector for DatabaseWraparound {
    async fn update(&self, session: &Session, sink: &mut MetricSink) -> Result<(), CollectError> {
        for row in session.cells("pg_database_wraparound", QUERY).await? {
            if row.iter().any(|cell| cell.is_null()) {
                continue;
            }
            let (labels, values) = split_row(&row, 1, "");
            emit_values(sink, &as_strs(&labels), values, COLUMNS);
        }
        Ok(())
    }
}
