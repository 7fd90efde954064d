//! `database`: size and connection limit of every database, from `pg_database` and
//! `pg_database_size()`.

use exporter_core::{CollectError, Desc, MetricSink};

use super::{CollectorConfig, PgCollector};
use crate::connection::Session;

const SIZE: Desc = Desc::gauge(
    "pg_database_size_bytes",
    "Disk space used by the database, in bytes.",
    &["datname"],
);
const CONNECTION_LIMIT: Desc = Desc::gauge(
    "pg_database_connection_limit",
    "Maximum number of concurrent connections allowed to the database (-1 means no limit).",
    &["datname"],
);

/// `pg_database_size()` raises an error for a database the role may not connect to, so the
/// size is read only where the role has CONNECT or is a member of `pg_read_all_stats`. The
/// other databases get a connection limit but no size.
const QUERY: &str = "SELECT datname, datconnlimit,
    CASE WHEN has_database_privilege(oid, 'CONNECT')
           OR pg_has_role(current_user, 'pg_read_all_stats', 'MEMBER')
         THEN pg_database_size(oid) END AS size
  FROM pg_database";

pub struct Database {
    exclude: Vec<String>,
}

impl Database {
    pub fn new(config: &CollectorConfig) -> Database {
        Database {
            exclude: config.exclude_databases.clone(),
        }
    }
}

#[async_trait::async_trait]
impl PgCollector for Database {
    async fn update(&self, session: &Session, sink: &mut MetricSink) -> Result<(), CollectError> {
        for row in session.cells("pg_database", QUERY).await? {
            if row[0].is_null() {
                continue;
            }
            let name = row[0].label();
            if self.exclude.contains(&name) {
                continue;
            }
            sink.add(&CONNECTION_LIMIT, &[&name], row[1].number_or_zero());
            if let Some(size) = row[2].number() {
                sink.add(&SIZE, &[&name], size);
            }
        }
        Ok(())
    }
}
