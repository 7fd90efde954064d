//! The latest samples of every query on every connection, with the exporter's query statistics,
//! and the `Gatherer` that serves them. A run that fails outright keeps the previous samples; a
//! run with rejected rows replaces them with its valid rows. A scrape only reads this cache; the
//! jobs are the only code that talks to databases.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;

use exporter_core::metric::{Histogram, MetricFamily, MetricType, Sample};
use exporter_core::{async_trait, Desc, GatherError, Gatherer, MetricSink, Scrape};

use crate::dsn::Target;

const LAST_SCRAPE_FAILED: Desc = Desc::gauge(
    "sql_exporter_last_scrape_failed",
    "Whether the last run of a query on a connection failed (1) or succeeded (0).",
    &["driver", "host", "database", "user", "sql_job", "query"],
);
const QUERIES: Desc = Desc::counter(
    "sql_exporter_queries_total",
    "Number of times a query was started.",
    &["sql_job", "query"],
);
const FAILURES: Desc = Desc::counter(
    "sql_exporter_query_failures_total",
    "Number of query runs that failed; the query label is empty when connecting failed.",
    &["sql_job", "query"],
);
const DURATION: Desc = Desc::new(
    "sql_exporter_query_duration_seconds",
    "Time from sending a query until its result arrived, in seconds.",
    MetricType::Histogram,
    &["sql_job", "query"],
);

/// Position of one query's result: job index, query index and connection index.
pub type ResultKey = (usize, usize, usize);

/// The labels of `sql_exporter_last_scrape_failed`.
type FailedKey = [String; 6];

#[derive(Default)]
struct State {
    results: BTreeMap<ResultKey, MetricFamily>,
    failed: BTreeMap<FailedKey, bool>,
    queries: BTreeMap<(String, String), u64>,
    failures: BTreeMap<(String, String), u64>,
    durations: BTreeMap<(String, String), Observations>,
}

/// Per-bucket (not cumulative) counts of a histogram.
struct Observations {
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

pub struct Cache {
    buckets: Vec<f64>,
    state: RwLock<State>,
    /// Incremented on every change, so the server can reuse an encoded response until then.
    generation: AtomicU64,
}

impl Cache {
    /// Creates an empty cache whose duration histogram has the upper bounds `buckets`.
    pub fn new(buckets: Vec<f64>) -> Cache {
        Cache {
            buckets,
            state: RwLock::new(State::default()),
            generation: AtomicU64::new(0),
        }
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind, which stays usable.
        let guard = self.state.write().unwrap_or_else(|e| e.into_inner());
        // Counted while the lock is held, so a scrape that reads the new generation waits for the
        // read lock until this change is complete.
        self.generation.fetch_add(1, Ordering::Relaxed);
        guard
    }

    /// Replaces the cached samples of one query on one connection.
    pub fn store(&self, key: ResultKey, name: &str, help: &str, samples: Vec<Sample>) {
        let mut family = MetricFamily::new(name.to_owned(), help.to_owned(), MetricType::Gauge);
        family.samples = samples;
        self.write().results.insert(key, family);
    }

    pub fn set_failed(&self, target: &Target, job: &str, query: &str, failed: bool) {
        let key = [
            target.driver.clone(),
            target.host.clone(),
            target.database.clone(),
            target.user.clone(),
            job.to_owned(),
            query.to_owned(),
        ];
        self.write().failed.insert(key, failed);
    }

    pub fn count_query(&self, job: &str, query: &str) {
        *self
            .write()
            .queries
            .entry((job.to_owned(), query.to_owned()))
            .or_default() += 1;
    }

    pub fn count_failure(&self, job: &str, query: &str) {
        *self
            .write()
            .failures
            .entry((job.to_owned(), query.to_owned()))
            .or_default() += 1;
    }

    pub fn observe_duration(&self, job: &str, query: &str, seconds: f64) {
        let mut state = self.write();
        let entry = state
            .durations
            .entry((job.to_owned(), query.to_owned()))
            .or_insert_with(|| Observations {
                counts: vec![0; self.buckets.len()],
                sum: 0.0,
                count: 0,
            });
        if let Some(i) = self.buckets.iter().position(|&bound| seconds <= bound) {
            entry.counts[i] += 1;
        }
        entry.sum += seconds;
        entry.count += 1;
    }

    /// Writes every cached sample and statistic into `sink`.
    pub fn write_to(&self, sink: &mut MetricSink) {
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        for family in state.results.values() {
            sink.add_family(family.clone());
        }
        for (labels, failed) in &state.failed {
            let values: Vec<&str> = labels.iter().map(String::as_str).collect();
            sink.add(&LAST_SCRAPE_FAILED, &values, f64::from(u8::from(*failed)));
        }
        for ((job, query), total) in &state.queries {
            sink.add(&QUERIES, &[job, query], *total as f64);
        }
        for ((job, query), total) in &state.failures {
            sink.add(&FAILURES, &[job, query], *total as f64);
        }
        for ((job, query), observed) in &state.durations {
            let mut cumulative = 0;
            let buckets = self
                .buckets
                .iter()
                .zip(&observed.counts)
                .map(|(&bound, &n)| {
                    cumulative += n;
                    (bound, cumulative as f64)
                })
                .collect();
            let histogram = Histogram {
                buckets,
                sum: observed.sum,
                count: observed.count as f64,
            };
            sink.add_histogram(&DURATION, &[job, query], histogram);
        }
    }
}

#[async_trait]
impl Gatherer for Cache {
    async fn gather(&self, _scrape: &Scrape, sink: &mut MetricSink) -> Result<(), GatherError> {
        self.write_to(sink);
        Ok(())
    }

    fn generation(&self) -> Option<u64> {
        Some(self.generation.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use exporter_core::Value;

    use super::*;

    #[test]
    fn histogram_is_cumulative() {
        let cache = Cache::new(vec![0.1, 1.0]);
        cache.observe_duration("j", "q", 0.05);
        cache.observe_duration("j", "q", 0.5);
        cache.observe_duration("j", "q", 5.0);
        let mut sink = MetricSink::new();
        cache.write_to(&mut sink);
        let families = sink.finish();
        let Value::Histogram(h) = &families[0].samples[0].value else {
            panic!("not a histogram");
        };
        assert_eq!(h.buckets, [(0.1, 1.0), (1.0, 2.0)]);
        assert_eq!(h.count, 3.0);
        assert_eq!(h.sum, 5.55);
    }

    #[test]
    fn stored_samples_are_served() {
        let cache = Cache::new(vec![1.0]);
        let sample = Sample {
            labels: vec![],
            value: Value::Number(7.0),
            timestamp_ms: None,
        };
        cache.store((0, 0, 0), "sql_x", "X.", vec![sample]);
        let mut sink = MetricSink::new();
        cache.write_to(&mut sink);
        let families = sink.finish();
        assert_eq!(families[0].name, "sql_x");
        assert_eq!(families[0].samples[0].value, Value::Number(7.0));
    }
}
