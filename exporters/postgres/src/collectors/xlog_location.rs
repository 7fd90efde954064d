//! `xlog_location`: the WAL position from `pg_current_xlog_location()`, a function that
//! PostgreSQL 10 renamed. Every supported server (13 and later) lacks it, so the collector
//! reports success with no samples, as postgres_exporter does on those versions.

use exporter_core::{CollectError, MetricSink};
use tracing::debug;

use super::{CollectorConfig, PgCollector};
use crate::connection::Session;

pub struct XlogLocation;

impl XlogLocation {
    pub fn new(_: &CollectorConfig) -> XlogLocation {
        XlogLocation
    }
}

#[async_trait::async_trait]
impl PgCollector for XlogLocation {
    async fn update(&self, session: &Session, _sink: &mut MetricSink) -> Result<(), CollectError> {
        debug!(
            collector = "xlog_location",
            version = %session.version.short(),
            "pg_current_xlog_location() does not exist on PostgreSQL 10 and later"
        );
        Ok(())
    }
}
