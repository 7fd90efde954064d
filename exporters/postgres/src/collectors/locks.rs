//! `locks`: number of locks per database and mode, from `pg_locks`, with a zero for every mode
//! that has no locks so that each series exists on every scrape.

use exporter_core::{CollectError, Desc, MetricSink};

use super::{CollectorConfig, PgCollector};
use crate::connection::Session;

const COUNT: Desc = Desc::gauge(
    "pg_locks_count",
    "Number of locks held or awaited, per database and lock mode.",
    &["datname", "mode"],
);

const QUERY: &str = "SELECT d.datname, m.mode, COALESCE(l.count, 0) AS count
  FROM (VALUES ('accesssharelock'), ('rowsharelock'), ('rowexclusivelock'),
               ('shareupdateexclusivelock'), ('sharelock'), ('sharerowexclusivelock'),
               ('exclusivelock'), ('accessexclusivelock'), ('sireadlock')) AS m(mode)
  CROSS JOIN pg_database d
  LEFT JOIN (SELECT database, lower(mode) AS mode, count(*) AS count
               FROM pg_locks WHERE database IS NOT NULL
              GROUP BY database, lower(mode)) AS l
         ON l.mode = m.mode AND l.database = d.oid";

pub struct Locks;

impl Locks {
    pub fn new(_: &CollectorConfig) -> Locks {
        Locks
    }
}

#[async_trait::async_trait]
impl PgCollector for Locks {
    async fn update(&self, session: &Session, sink: &mut MetricSink) -> Result<(), CollectError> {
        for row in session.cells("pg_locks", QUERY).await? {
            if row[0].is_null() || row[1].is_null() {
                continue;
            }
            sink.add(
                &COUNT,
                &[&row[0].label(), &row[1].label()],
                row[2].number_or_zero(),
            );
        }
        Ok(())
    }
}
