//! `roles`: connection limit of every role, from `pg_roles`.

use exporter_core::{CollectError, Desc, MetricSink};

use super::{CollectorConfig, PgCollector};
use crate::connection::Session;

const CONNECTION_LIMIT: Desc = Desc::gauge(
    "pg_roles_connection_limit",
    "Maximum number of concurrent connections allowed to the role (-1 means no limit).",
    &["rolname"],
);

const QUERY: &str = "SELECT rolname, rolconnlimit FROM pg_roles";

pub struct Roles;

impl Roles {
    pub fn new(_: &CollectorConfig) -> Roles {
        Roles
    }
}

#[async_trait::async_trait]
impl PgCollector for Roles {
    async fn update(&self, session: &Session, sink: &mut MetricSink) -> Result<(), CollectError> {
        for row in session.cells("pg_roles", QUERY).await? {
            if let (false, Some(limit)) = (row[0].is_null(), row[1].number()) {
                sink.add(&CONNECTION_LIMIT, &[&row[0].label()], limit);
            }
        }
        Ok(())
    }
}
