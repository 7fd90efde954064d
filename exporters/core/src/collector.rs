//! The collector framework: a registry of named collectors, the `--[no-]collector.<name>` flags
//! derived from it, and the runner that calls the enabled collectors of a scrape concurrently and
//! reports `<namespace>_scrape_collector_duration_seconds` and `_success` for each.

use std::collections::VecDeque;
use std::error::Error as StdError;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use clap::{Arg, ArgAction, ArgMatches};
use futures_util::future::join_all;
use futures_util::FutureExt;
use http::StatusCode;
use tokio::sync::oneshot;
use tracing::{debug, error, info};

use crate::metric::{LabelName, MetricType, Value};
use crate::sink::MetricSink;

/// Outcome of a collector that did not produce its samples.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// The source does not exist on this host, such as a /proc file of a module that is not
    /// loaded. Logged at debug level; the collector still reports success 0, as node_exporter does.
    #[error("no data: {0}")]
    NoData(String),
    #[error(transparent)]
    Failed(Box<dyn StdError + Send + Sync>),
}

impl CollectError {
    pub fn no_data(reason: impl Into<String>) -> CollectError {
        CollectError::NoData(reason.into())
    }

    pub fn failed(source: impl Into<Box<dyn StdError + Send + Sync>>) -> CollectError {
        CollectError::Failed(source.into())
    }
}

/// Per-scrape context: the deadline and the URL query parameters of the request.
#[derive(Clone, Debug, Default)]
pub struct Scrape {
    pub deadline: Option<tokio::time::Instant>,
    pub params: Vec<(String, String)>,
}

impl Scrape {
    /// Returns the values of the URL query parameter `name`, in request order.
    pub fn param_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.params
            .iter()
            .filter(move |(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// A collector that waits on I/O, such as a database query.
#[async_trait]
pub trait Collector: Send + Sync + 'static {
    async fn collect(&self, scrape: &Scrape, sink: &mut MetricSink) -> Result<(), CollectError>;
}

/// A collector that reads files or makes other blocking system calls. It runs on a worker of
/// tokio's blocking thread pool, so that a slow file system never stalls the HTTP server.
pub trait BlockingCollector: Send + Sync + 'static {
    fn collect(&self, sink: &mut MetricSink) -> Result<(), CollectError>;
}

/// A built collector of either kind.
#[derive(Clone)]
pub enum AnyCollector {
    Async(Arc<dyn Collector>),
    Blocking(Arc<dyn BlockingCollector>),
}

impl AnyCollector {
    pub fn blocking(collector: impl BlockingCollector) -> AnyCollector {
        AnyCollector::Blocking(Arc::new(collector))
    }

    pub fn asynchronous(collector: impl Collector) -> AnyCollector {
        AnyCollector::Async(Arc::new(collector))
    }
}

/// Error that a collector's constructor returns for invalid options; it stops the start-up.
pub type BuildError = Box<dyn StdError + Send + Sync>;

/// One row of an exporter's collector table. `C` is the exporter's configuration, which the
/// constructor reads its options from.
pub struct CollectorEntry<C> {
    pub name: &'static str,
    pub enabled_by_default: bool,
    pub build: fn(&C) -> Result<AnyCollector, BuildError>,
}

/// Returns the `--collector.<name>` and `--no-collector.<name>` flags of every entry and
/// `--collector.disable-defaults`.
pub fn collector_args<C>(entries: &[CollectorEntry<C>]) -> Vec<Arg> {
    let mut args = vec![Arg::new("collector.disable-defaults")
        .long("collector.disable-defaults")
        .action(ArgAction::SetTrue)
        .help("Disable every collector unless it is enabled by its own flag")];
    for entry in entries {
        let on = format!("collector.{}", entry.name);
        let off = format!("no-collector.{}", entry.name);
        let state = if entry.enabled_by_default {
            "enabled"
        } else {
            "disabled"
        };
        args.push(
            Arg::new(on.clone())
                .long(on.clone())
                .action(ArgAction::SetTrue)
                .overrides_with(off.clone())
                .help(format!(
                    "Enable the {} collector ({state} by default; --{off} disables it)",
                    entry.name
                )),
        );
        args.push(
            Arg::new(off.clone())
                .long(off)
                .action(ArgAction::SetTrue)
                .overrides_with(on)
                .hide(true),
        );
    }
    args
}

/// Returns the names of the entries that the parsed flags enable, in table order.
pub fn enabled_collectors<C>(
    entries: &[CollectorEntry<C>],
    matches: &ArgMatches,
) -> Vec<&'static str> {
    let disable_defaults = matches.get_flag("collector.disable-defaults");
    entries
        .iter()
        .filter(|entry| {
            if matches.get_flag(&format!("collector.{}", entry.name)) {
                true
            } else if matches.get_flag(&format!("no-collector.{}", entry.name)) {
                false
            } else {
                entry.enabled_by_default && !disable_defaults
            }
        })
        .map(|entry| entry.name)
        .collect()
}

struct Running {
    name: &'static str,
    collector: AnyCollector,
    /// The message of the last failure, so that a failure repeated on every scrape is logged at
    /// error level once and at debug level afterwards.
    last_error: Mutex<Option<String>>,
}

/// The enabled collectors of an exporter and the runner that calls them for each scrape.
pub struct CollectorSet {
    namespace: &'static str,
    known: Vec<&'static str>,
    collectors: Vec<Running>,
}

impl CollectorSet {
    /// Builds the collectors named in `enabled` from `entries`. A constructor that fails stops
    /// the start-up with the collector's name in the error.
    pub fn build<C>(
        namespace: &'static str,
        entries: &[CollectorEntry<C>],
        enabled: &[&str],
        config: &C,
    ) -> Result<CollectorSet, BuildError> {
        let mut collectors = Vec::new();
        for entry in entries.iter().filter(|e| enabled.contains(&e.name)) {
            let collector = (entry.build)(config)
                .map_err(|e| format!("invalid options of collector {}: {e}", entry.name))?;
            collectors.push(Running {
                name: entry.name,
                collector,
                last_error: Mutex::new(None),
            });
        }
        Ok(CollectorSet {
            namespace,
            known: entries.iter().map(|e| e.name).collect(),
            collectors,
        })
    }

    /// Builds a set from collectors constructed by the caller.
    pub fn from_collectors(
        namespace: &'static str,
        list: Vec<(&'static str, AnyCollector)>,
    ) -> CollectorSet {
        CollectorSet {
            namespace,
            known: list.iter().map(|(name, _)| *name).collect(),
            collectors: list
                .into_iter()
                .map(|(name, collector)| Running {
                    name,
                    collector,
                    last_error: Mutex::new(None),
                })
                .collect(),
        }
    }

    /// Names of the enabled collectors.
    pub fn names(&self) -> Vec<&'static str> {
        self.collectors.iter().map(|c| c.name).collect()
    }

    /// Picks the collectors of one scrape from the `collect[]` and `exclude[]` URL parameters:
    /// `collect[]` keeps only the named collectors and `exclude[]` drops them. Using both, or naming
    /// a collector that does not exist or is disabled, is a bad request.
    pub fn select(&self, scrape: &Scrape) -> Result<Vec<usize>, GatherError> {
        let collect: Vec<&str> = scrape.param_values("collect[]").collect();
        let exclude: Vec<&str> = scrape.param_values("exclude[]").collect();
        if !collect.is_empty() && !exclude.is_empty() {
            return Err(GatherError::bad_request(
                "collect[] and exclude[] cannot be used together",
            ));
        }
        for name in collect.iter().chain(&exclude) {
            if !self.known.contains(name) {
                return Err(GatherError::bad_request(format!(
                    "unknown collector: {name}"
                )));
            }
            if !self.collectors.iter().any(|c| c.name == *name) {
                return Err(GatherError::bad_request(format!(
                    "disabled collector: {name}"
                )));
            }
        }
        let chosen = self
            .collectors
            .iter()
            .enumerate()
            .filter(|(_, c)| {
                if !collect.is_empty() {
                    collect.contains(&c.name)
                } else {
                    !exclude.contains(&c.name)
                }
            })
            .map(|(i, _)| i)
            .collect();
        Ok(chosen)
    }

    /// Runs every enabled collector.
    pub async fn collect_all(&self, scrape: &Scrape, sink: &mut MetricSink) {
        let all: Vec<usize> = (0..self.collectors.len()).collect();
        self.collect(&all, scrape, sink).await;
    }

    /// Runs the collectors at `indices` concurrently, each bounded by the scrape's deadline, and
    /// adds their samples and the duration and success of each to `sink`.
    ///
    /// Blocking collectors share a few worker threads of tokio's blocking pool instead of a thread
    /// each: a scrape of node-exporter's 49 collectors costs less CPU time and memory that way, and
    /// a collector stuck in a system call holds up only the worker it runs on.
    pub async fn collect(&self, indices: &[usize], scrape: &Scrape, sink: &mut MetricSink) {
        let chosen: Vec<&Running> = indices
            .iter()
            .filter_map(|&i| self.collectors.get(i))
            .collect();
        let mut pending = start_blocking_workers(&chosen);
        let runs = chosen
            .iter()
            .zip(pending.iter_mut())
            .map(|(running, receiver)| self.run_one(running, receiver.take(), scrape));
        let results = join_all(runs).await;

        let duration_name = format!("{}_scrape_collector_duration_seconds", self.namespace);
        let success_name = format!("{}_scrape_collector_success", self.namespace);
        for (name, seconds, ok, collected) in results {
            sink.merge(collected);
            let label = || vec![(LabelName::Borrowed("collector"), name.to_owned())];
            sink.add_dynamic(
                duration_name.clone(),
                "Duration of a collector's part of the scrape, in seconds.",
                MetricType::Gauge,
                label(),
                Value::Number(seconds),
                None,
            );
            sink.add_dynamic(
                success_name.clone(),
                "Whether a collector succeeded (1) or failed (0) in this scrape.",
                MetricType::Gauge,
                label(),
                Value::Number(if ok { 1.0 } else { 0.0 }),
                None,
            );
        }
    }

    async fn run_one(
        &self,
        running: &Running,
        blocking: Option<oneshot::Receiver<Finished>>,
        scrape: &Scrape,
    ) -> (&'static str, f64, bool, MetricSink) {
        let started = Instant::now();
        let work = async {
            match (&running.collector, blocking) {
                (AnyCollector::Async(collector), _) => {
                    let mut sink = MetricSink::new();
                    let outcome = AssertUnwindSafe(collector.collect(scrape, &mut sink))
                        .catch_unwind()
                        .await
                        .unwrap_or_else(|_| Err(CollectError::failed("collector panicked")));
                    (outcome, sink, started.elapsed())
                }
                (AnyCollector::Blocking(_), Some(receiver)) => match receiver.await {
                    Ok(finished) => finished,
                    Err(_) => (
                        Err(CollectError::failed(
                            "the worker thread of the collector ended",
                        )),
                        MetricSink::new(),
                        started.elapsed(),
                    ),
                },
                (AnyCollector::Blocking(_), None) => (
                    Err(CollectError::failed(
                        "no worker thread was started for the collector",
                    )),
                    MetricSink::new(),
                    started.elapsed(),
                ),
            }
        };
        let (outcome, collected, took) = match scrape.deadline {
            Some(deadline) => match tokio::time::timeout_at(deadline, work).await {
                Ok(done) => done,
                Err(_) => (
                    Err(CollectError::failed("timed out at the scrape deadline")),
                    MetricSink::new(),
                    started.elapsed(),
                ),
            },
            None => work.await,
        };
        let seconds = took.as_secs_f64();
        let ok = outcome.is_ok();
        self.log_outcome(running, outcome, seconds);
        (running.name, seconds, ok, collected)
    }

    fn log_outcome(&self, running: &Running, outcome: Result<(), CollectError>, seconds: f64) {
        let Ok(mut last) = running.last_error.lock() else {
            return;
        };
        match outcome {
            Ok(()) => {
                if last.take().is_some() {
                    info!(collector = running.name, "Collector recovered");
                }
            }
            Err(CollectError::NoData(reason)) => {
                debug!(
                    collector = running.name,
                    duration_seconds = seconds,
                    reason,
                    "Collector returned no data"
                );
            }
            Err(CollectError::Failed(e)) => {
                let message = error_chain(&*e);
                if last.as_deref() == Some(message.as_str()) {
                    debug!(collector = running.name, duration_seconds = seconds, error = %message, "Collector failed again");
                } else {
                    error!(collector = running.name, duration_seconds = seconds, error = %message, "Collector failed");
                    *last = Some(message);
                }
            }
        }
    }
}

/// Outcome of a blocking collector: its result, its samples and how long it ran.
type Finished = (Result<(), CollectError>, MetricSink, Duration);

/// Number of worker threads that run the blocking collectors of one scrape.
const BLOCKING_WORKERS: usize = 3;

/// Queues the blocking collectors among `chosen` for a few workers on tokio's blocking pool and
/// returns, in the order of `chosen`, a receiver for each blocking collector's outcome.
fn start_blocking_workers(chosen: &[&Running]) -> Vec<Option<oneshot::Receiver<Finished>>> {
    let mut receivers = Vec::with_capacity(chosen.len());
    let mut queue = VecDeque::new();
    for running in chosen {
        match &running.collector {
            AnyCollector::Blocking(collector) => {
                let (sender, receiver) = oneshot::channel();
                queue.push_back((Arc::clone(collector), sender));
                receivers.push(Some(receiver));
            }
            AnyCollector::Async(_) => receivers.push(None),
        }
    }
    let workers = queue.len().min(BLOCKING_WORKERS);
    let queue = Arc::new(Mutex::new(queue));
    for _ in 0..workers {
        let queue = Arc::clone(&queue);
        tokio::task::spawn_blocking(move || loop {
            let job = match queue.lock() {
                Ok(mut queue) => queue.pop_front(),
                Err(_) => None,
            };
            let Some((collector, sender)) = job else {
                break;
            };
            let started = Instant::now();
            let mut sink = MetricSink::new();
            let outcome =
                std::panic::catch_unwind(AssertUnwindSafe(|| collector.collect(&mut sink)))
                    .unwrap_or_else(|_| Err(CollectError::failed("collector panicked")));
            let _ = sender.send((outcome, sink, started.elapsed()));
        });
    }
    receivers
}

/// Joins an error and its sources into one line.
pub fn error_chain(error: &(dyn StdError + 'static)) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

/// Error of a whole scrape. The server returns `status` and `message` in place of metrics.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct GatherError {
    pub status: StatusCode,
    pub message: String,
}

impl GatherError {
    pub fn bad_request(message: impl Into<String>) -> GatherError {
        GatherError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }
}

/// Source of the samples of a metrics path. The server adds the exporter's own metrics.
#[async_trait]
pub trait Gatherer: Send + Sync + 'static {
    async fn gather(&self, scrape: &Scrape, sink: &mut MetricSink) -> Result<(), GatherError>;
}

/// A collector set serves the metrics path directly, honouring `collect[]` and `exclude[]`.
#[async_trait]
impl Gatherer for CollectorSet {
    async fn gather(&self, scrape: &Scrape, sink: &mut MetricSink) -> Result<(), GatherError> {
        let chosen = self.select(scrape)?;
        self.collect(&chosen, scrape, sink).await;
        Ok(())
    }
}
