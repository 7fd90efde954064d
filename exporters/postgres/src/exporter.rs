//! One scrape: connect to each target (or reuse its connection), run the default metrics, the
//! user queries and the collectors within the scrape deadline, and report `pg_up` and the
//! `pg_exporter_*` metrics.
//!
//! As in postgres_exporter 0.20, the collectors run against the first data source only, while
//! `pg_static`, `pg_stat_database_conflicts` and the user queries run against every data
//! source (and every auto-discovered database).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use exporter_core::collector::error_chain;
use exporter_core::metric::LabelName;
use exporter_core::{CollectorSet, GatherError, MetricSink, MetricType, Scrape, Value};
use futures_util::future::join_all;
use tokio::time::Instant;
use tracing::{debug, error, info, warn};

use crate::collectors::with_session;
use crate::connection::{ConnectError, QueryError, Session, TargetPool};
use crate::default_metrics;
use crate::dsn::Dsn;
use crate::namespace::{self, Namespace, NamespaceSample};
use crate::user_queries;

/// Options of the exporter part that is not a collector.
#[derive(Clone, Debug)]
pub struct Options {
    pub disable_default_metrics: bool,
    pub auto_discover_databases: bool,
    pub include_databases: Vec<String>,
    pub exclude_databases: Vec<String>,
    /// Labels added to `pg_up`, `pg_exporter_*`, `pg_static` and the namespace metrics.
    pub constant_labels: Vec<(String, String)>,
    /// Replaces the leading `pg` of namespace metric names.
    pub metric_prefix: String,
    pub collection_timeout: Duration,
    pub user_queries_path: Option<PathBuf>,
}

/// Outcome of loading the queries file, reported as `pg_exporter_user_queries_load_error`.
struct UserQueriesStatus {
    path: String,
    hashsum: String,
    failed: bool,
}

/// Counters of one endpoint's scrapes.
#[derive(Default)]
pub struct ScrapeStats {
    scrapes_total: f64,
    last_duration: f64,
    last_error: f64,
}

/// Error of one target in one scrape.
#[derive(Debug, thiserror::Error)]
enum TargetError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error("{count} queries failed on {target}")]
    Queries { target: String, count: usize },
}

pub struct Exporter {
    options: Options,
    collectors: CollectorSet,
    pool: TargetPool,
    namespaces: Vec<Namespace>,
    user_queries: Option<UserQueriesStatus>,
    cache: Mutex<HashMap<CacheKey, (Instant, Vec<NamespaceSample>)>>,
    /// Last error message of each failed target (by DSN without password) and namespace query.
    last_errors: Mutex<HashMap<String, String>>,
}

/// Target (database and server) and namespace of cached namespace samples.
type CacheKey = (String, String);

impl Exporter {
    /// Builds the exporter, reading the queries file if one is configured. A queries file that
    /// cannot be read or parsed is logged and reported by a metric; the rest keeps working.
    pub fn new(options: Options, collectors: CollectorSet) -> Exporter {
        let mut namespaces = vec![default_metrics::conflicts_namespace()];
        let user_queries = options.user_queries_path.as_ref().map(|path| {
            let display_path = path.display().to_string();
            let hashsum = std::fs::read(path)
                .map(|b| sha256_hex(&b))
                .unwrap_or_default();
            match user_queries::load(path) {
                Ok(loaded) => {
                    namespaces.extend(loaded.namespaces);
                    UserQueriesStatus {
                        path: display_path,
                        hashsum,
                        failed: false,
                    }
                }
                Err(e) => {
                    error!(error = %e, "Failed to load user queries");
                    UserQueriesStatus {
                        path: display_path,
                        hashsum,
                        failed: true,
                    }
                }
            }
        });
        Exporter {
            options,
            collectors,
            pool: TargetPool::new(256),
            namespaces,
            user_queries,
            cache: Mutex::new(HashMap::new()),
            last_errors: Mutex::new(HashMap::new()),
        }
    }

    /// Scrapes `dsns` and adds every sample, including `pg_up` and the counters in `stats`.
    pub async fn scrape(
        &self,
        dsns: &[Dsn],
        stats: &Mutex<ScrapeStats>,
        scrape: &Scrape,
        sink: &mut MetricSink,
    ) -> Result<(), GatherError> {
        let started = Instant::now();
        let chosen = self.collectors.select(scrape)?;
        let timeout_deadline = started + self.options.collection_timeout;
        let deadline = scrape
            .deadline
            .map_or(timeout_deadline, |d| d.min(timeout_deadline));
        let scrape = Scrape {
            deadline: Some(deadline),
            params: scrape.params.clone(),
        };

        let targets = if self.options.auto_discover_databases {
            self.discover(dsns, deadline).await
        } else {
            dsns.iter().map(|d| (d.clone(), true)).collect()
        };
        let runs = targets.iter().map(|(dsn, master)| {
            let collectors = (Some(dsn) == dsns.first()).then_some(chosen.as_slice());
            self.scrape_target(dsn, *master, collectors, &scrape, deadline)
        });
        let mut errors = 0;
        let mut connect_errors = 0;
        let results = join_all(runs).await;
        for ((dsn, _), (target_sink, result)) in targets.iter().zip(results) {
            sink.merge(target_sink);
            self.log_outcome(dsn, &result);
            if let Err(e) = result {
                errors += 1;
                if matches!(e, TargetError::Connect(_)) {
                    connect_errors += 1;
                }
            }
        }

        let up = if connect_errors >= targets.len() {
            0.0
        } else {
            1.0
        };
        let mut stats = match stats.lock() {
            Ok(stats) => stats,
            Err(poisoned) => poisoned.into_inner(),
        };
        stats.scrapes_total += 1.0;
        stats.last_duration = started.elapsed().as_secs_f64();
        stats.last_error = if errors > 0 { 1.0 } else { 0.0 };
        self.add_own_metrics(sink, &stats, up);
        Ok(())
    }

    /// Logs a target's error at error level when it differs from the previous scrape's, and at
    /// debug level when it repeats, so that an outage does not flood the log.
    fn log_outcome(&self, dsn: &Dsn, result: &Result<(), TargetError>) {
        let target = dsn.loggable();
        match result {
            Ok(()) => {
                let recovered = self
                    .last_errors
                    .lock()
                    .is_ok_and(|mut last| last.remove(&target).is_some());
                if recovered {
                    info!(target = %target, "Target recovered");
                }
            }
            Err(e) => {
                let message = error_chain(e);
                if self.is_new_error(target.clone(), &message) {
                    error!(target = %target, error = %message, "Error scraping target");
                } else {
                    debug!(target = %target, error = %message, "Error scraping target again");
                }
            }
        }
    }

    /// Records `message` as the last error of `key` and reports whether it differs from the
    /// error recorded before.
    fn is_new_error(&self, key: String, message: &str) -> bool {
        let Ok(mut last_errors) = self.last_errors.lock() else {
            return true;
        };
        let new = last_errors.get(&key).map(String::as_str) != Some(message);
        if new {
            last_errors.insert(key, message.to_owned());
        }
        new
    }

    fn add_own_metrics(&self, sink: &mut MetricSink, stats: &ScrapeStats, up: f64) {
        let rows: [(&'static str, &'static str, MetricType, f64); 4] = [
            (
                "pg_up",
                "Whether the last scrape could connect to the server (1) or not (0).",
                MetricType::Gauge,
                up,
            ),
            (
                "pg_exporter_last_scrape_duration_seconds",
                "Duration of the last scrape of the server, in seconds.",
                MetricType::Gauge,
                stats.last_duration,
            ),
            (
                "pg_exporter_scrapes_total",
                "Number of scrapes of the server.",
                MetricType::Counter,
                stats.scrapes_total,
            ),
            (
                "pg_exporter_last_scrape_error",
                "Whether the last scrape had an error (1) or not (0).",
                MetricType::Gauge,
                stats.last_error,
            ),
        ];
        for (name, help, kind, value) in rows {
            sink.add_dynamic(
                name,
                help,
                kind,
                self.constant_labels(),
                Value::Number(value),
                None,
            );
        }
        if let Some(status) = &self.user_queries {
            let mut labels = self.constant_labels();
            labels.push((LabelName::Borrowed("filename"), status.path.clone()));
            labels.push((LabelName::Borrowed("hashsum"), status.hashsum.clone()));
            sink.add_dynamic(
                "pg_exporter_user_queries_load_error",
                "Whether the user queries file failed to load (1) or loaded (0).",
                MetricType::Gauge,
                labels,
                Value::Number(if status.failed { 1.0 } else { 0.0 }),
                None,
            );
        }
    }

    fn constant_labels(&self) -> Vec<(LabelName, String)> {
        self.options
            .constant_labels
            .iter()
            .map(|(k, v)| (LabelName::Owned(k.clone()), v.clone()))
            .collect()
    }

    /// Scrapes one target. `collectors` are the indices of the collectors to run on it, if any.
    async fn scrape_target(
        &self,
        dsn: &Dsn,
        master: bool,
        collectors: Option<&[usize]>,
        scrape: &Scrape,
        deadline: Instant,
    ) -> (MetricSink, Result<(), TargetError>) {
        let mut sink = MetricSink::new();
        let target = self.pool.get(dsn);
        // NOTE: a scrape that waits past its deadline for another scrape of the same target
        // reports a connection timeout and pg_up 0, although the server may be up.
        let Ok(mut guard) = tokio::time::timeout_at(deadline, target.lock()).await else {
            let e = ConnectError::Timeout {
                target: target.label().to_owned(),
            };
            return (sink, Err(e.into()));
        };
        let session = match guard.session(deadline).await {
            Ok(session) => session,
            Err(e) => return (sink, Err(e.into())),
        };

        let mut server_labels = vec![("server".to_owned(), dsn.fingerprint())];
        server_labels.extend(self.options.constant_labels.iter().cloned());
        let mut namespace_sink = MetricSink::new();
        let namespaces = self.run_namespaces(
            &session,
            master,
            &server_labels,
            deadline,
            &mut namespace_sink,
        );
        let run_collectors = async {
            let mut collector_sink = MetricSink::new();
            if let Some(chosen) = collectors {
                let work = self.collectors.collect(chosen, scrape, &mut collector_sink);
                with_session(Arc::clone(&session), work).await;
            }
            collector_sink
        };
        let (failed, collector_sink) = tokio::join!(namespaces, run_collectors);
        sink.merge(namespace_sink);
        sink.merge(collector_sink);

        if Instant::now() >= deadline {
            guard.abandon().await;
        }
        if failed > 0 {
            let e = TargetError::Queries {
                target: target.label().to_owned(),
                count: failed,
            };
            return (sink, Err(e));
        }
        (sink, Ok(()))
    }

    /// Runs `pg_static`, the conflicts namespace and the user queries; returns how many queries
    /// failed. Each failure is logged with its namespace.
    async fn run_namespaces(
        &self,
        session: &Session,
        master: bool,
        labels: &[(String, String)],
        deadline: Instant,
        sink: &mut MetricSink,
    ) -> usize {
        let defaults = !self.options.disable_default_metrics && master;
        if defaults {
            default_metrics::add_static(sink, session, labels);
        }
        let mut failed = 0;
        for (i, namespace) in self.namespaces.iter().enumerate() {
            let is_default = i == 0;
            if (is_default && !defaults) || (namespace.master && !master) {
                continue;
            }
            if let Some(range) = &namespace.run_on_server {
                if !user_queries::version_matches(range, session.version) {
                    continue;
                }
            }
            match self
                .namespace_samples(session, namespace, labels, deadline)
                .await
            {
                Ok(samples) => {
                    samples.iter().for_each(|s| s.add_to(sink));
                    if let Ok(mut last_errors) = self.last_errors.lock() {
                        last_errors.remove(&format!("{} {}", labels[0].1, namespace.name));
                    }
                }
                Err(e) => {
                    let message = error_chain(&e);
                    let key = format!("{} {}", labels[0].1, namespace.name);
                    if self.is_new_error(key, &message) {
                        error!(namespace = %namespace.name, error = %message, "Namespace query failed");
                    } else {
                        debug!(namespace = %namespace.name, error = %message, "Namespace query failed again");
                    }
                    failed += 1;
                }
            }
        }
        failed
    }

    async fn namespace_samples(
        &self,
        session: &Session,
        namespace: &Namespace,
        labels: &[(String, String)],
        deadline: Instant,
    ) -> Result<Vec<NamespaceSample>, NamespaceError> {
        let key = (
            session.database.clone() + &labels[0].1,
            namespace.name.clone(),
        );
        if namespace.cache_seconds > 0 {
            let cache = self.cache.lock().map_err(|_| NamespaceError::Cache)?;
            if let Some((at, samples)) = cache.get(&key) {
                if at.elapsed() < Duration::from_secs(namespace.cache_seconds) {
                    return Ok(samples.clone());
                }
            }
        }
        let sql = namespace.sql();
        let (columns, rows) = tokio::time::timeout_at(deadline, session.table("namespace", &sql))
            .await
            .map_err(|_| NamespaceError::Timeout)??;
        let prefixed = namespace
            .name
            .replacen("pg", &self.options.metric_prefix, 1);
        let (samples, problems) =
            namespace::convert_rows(namespace, &prefixed, &columns, &rows, labels);
        for problem in problems {
            warn!(namespace = %namespace.name, problem, "Left out a value of a namespace query");
        }
        if namespace.cache_seconds > 0 {
            if let Ok(mut cache) = self.cache.lock() {
                cache.insert(key, (Instant::now(), samples.clone()));
            }
        }
        Ok(samples)
    }

    /// Returns the configured data sources and, for each, its other databases that accept
    /// connections, filtered by `--include-databases` and `--exclude-databases`.
    async fn discover(&self, dsns: &[Dsn], deadline: Instant) -> Vec<(Dsn, bool)> {
        const QUERY: &str = "SELECT datname FROM pg_database
            WHERE datallowconn AND NOT datistemplate AND datname <> current_database()";
        let mut found: Vec<(Dsn, bool)> = dsns.iter().map(|d| (d.clone(), true)).collect();
        for dsn in dsns {
            let target = self.pool.get(dsn);
            let Ok(mut guard) = tokio::time::timeout_at(deadline, target.lock()).await else {
                continue;
            };
            let Ok(session) = guard.session(deadline).await else {
                continue;
            };
            let rows = match tokio::time::timeout_at(deadline, session.cells("pg_database", QUERY))
                .await
            {
                Ok(Ok(rows)) => rows,
                Ok(Err(e)) => {
                    error!(target = %target.label(), error = %error_chain(&e), "Failed to list databases");
                    continue;
                }
                Err(_) => continue,
            };
            for row in rows {
                let name = row[0].label();
                let include = &self.options.include_databases;
                if self.options.exclude_databases.contains(&name)
                    || (!include.is_empty() && !include.contains(&name))
                {
                    continue;
                }
                let discovered = dsn.with_database(&name);
                if !found.iter().any(|(d, _)| *d == discovered) {
                    found.push((discovered, false));
                }
            }
        }
        found
    }
}

#[derive(Debug, thiserror::Error)]
enum NamespaceError {
    #[error(transparent)]
    Query(#[from] QueryError),
    #[error("timed out at the scrape deadline")]
    Timeout,
    #[error("result cache is unavailable")]
    Cache,
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
