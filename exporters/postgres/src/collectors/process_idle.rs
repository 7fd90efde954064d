//! `process_idle`: a histogram of how long idle backends have been idle, per state and
//! application, from `pg_stat_activity.state_change`.
//!
//! Every (state, application) group is reported; postgres_exporter 0.20 reads only the first
//! row of its query and so reports a single group.

use std::collections::BTreeMap;

use exporter_core::{CollectError, Desc, Histogram, MetricSink, MetricType};

use super::{CollectorConfig, PgCollector};
use crate::connection::Session;

const SECONDS: Desc = Desc::new(
    "pg_process_idle_seconds",
    "Seconds idle backends have spent in their current state.",
    MetricType::Histogram,
    &["state", "application_name"],
);

/// One row per group and bucket bound: the group's sum and count, and the cumulative number of
/// its backends idle for at most `le` seconds.
const QUERY: &str = "WITH idle AS (
    SELECT state, application_name,
           EXTRACT(EPOCH FROM CURRENT_TIMESTAMP - state_change)::float8 AS seconds
      FROM pg_stat_activity
     WHERE state ~ '^idle' AND pid <> pg_backend_pid() AND state_change IS NOT NULL)
  SELECT state, application_name,
         sum(floor(seconds)) OVER w AS seconds_sum, count(*) OVER w AS seconds_count,
         le, count(*) FILTER (WHERE seconds <= le) OVER (PARTITION BY state, application_name, le) AS bucket
    FROM idle CROSS JOIN unnest(ARRAY[1, 2, 5, 15, 30, 60, 90, 120, 300]::float8[]) AS le
  WINDOW w AS (PARTITION BY state, application_name, le)";

pub struct ProcessIdle;

impl ProcessIdle {
    pub fn new(_: &CollectorConfig) -> ProcessIdle {
        ProcessIdle
    }
}

#[async_trait::async_trait]
impl PgCollector for ProcessIdle {
    async fn update(&self, session: &Session, sink: &mut MetricSink) -> Result<(), CollectError> {
        let rows = session.cells("pg_process_idle", QUERY).await?;
        let mut groups: BTreeMap<(String, String), Histogram> = BTreeMap::new();
        for row in rows {
            let key = (row[0].label_or("unknown"), row[1].label_or("unknown"));
            let histogram = groups.entry(key).or_insert_with(|| Histogram {
                buckets: Vec::new(),
                sum: row[2].number_or_zero(),
                count: row[3].number_or_zero(),
            });
            if let Some(le) = row[4].number() {
                let bound = (le, row[5].number_or_zero());
                if !histogram.buckets.contains(&bound) {
                    histogram.buckets.push(bound);
                }
            }
        }
        for ((state, application), mut histogram) in groups {
            histogram.buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
            sink.add_histogram(&SECONDS, &[&state, &application], histogram);
        }
        Ok(())
    }
}
