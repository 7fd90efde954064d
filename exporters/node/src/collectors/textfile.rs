//! textfile collector: metrics from `*.prom` files in the directories given by
//! `--collector.textfile.directory` (repeatable, glob patterns allowed), written by cron jobs and
//! other programs in the Prometheus text format.
//!
//! Merge rules follow node_exporter 1.12: a family found in several files is merged when type
//! and HELP agree. A file whose family disagrees has that family dropped and sets
//! `node_textfile_scrape_error`. A file with client-side timestamps or a parse error is
//! skipped whole and also sets it. Each file read gets `node_textfile_mtime_seconds`.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::UNIX_EPOCH;

use clap::{Arg, ArgAction};
use exporter_core::collector::BuildError;
use exporter_core::metric::LabelName;
use exporter_core::{AnyCollector, BlockingCollector, CollectError, Desc, MetricSink, MetricType};
use tracing::{debug, error};

use super::sysfs::lossy;
use super::textformat::{parse, Family};
use super::NodeConfig;

const MTIME: Desc = Desc::gauge(
    "node_textfile_mtime_seconds",
    "Modification time of a text file that was read, in seconds since the Unix epoch.",
    &["file"],
);
const SCRAPE_ERROR: Desc = Desc::gauge(
    "node_textfile_scrape_error",
    "Whether reading or parsing a text file or merging its metrics failed (1) or not (0).",
    &[],
);

pub fn args() -> Vec<Arg> {
    vec![Arg::new("collector.textfile.directory")
        .long("collector.textfile.directory")
        .action(ArgAction::Append)
        .help("Directory to read *.prom files with metrics from; glob patterns are expanded (repeatable)")]
}

struct Textfile {
    patterns: Vec<String>,
    /// Problems reported by the previous scrape, so that a file that stays broken is logged at
    /// error level once and at debug level on later scrapes.
    reported: Mutex<HashSet<String>>,
}

pub fn build(config: &NodeConfig) -> Result<AnyCollector, BuildError> {
    Ok(AnyCollector::blocking(Textfile::new(
        config.strings("collector.textfile.directory"),
    )))
}

/// Type and HELP of a family as first read, and the files it was read from.
struct Seen {
    kind: MetricType,
    help: Option<String>,
    files: Vec<String>,
}

impl Textfile {
    fn new(patterns: Vec<String>) -> Textfile {
        Textfile {
            patterns,
            reported: Mutex::new(HashSet::new()),
        }
    }

    /// Logs each problem at error level unless the previous scrape reported it too.
    fn report(&self, problems: Vec<String>) {
        let Ok(mut reported) = self.reported.lock() else {
            return;
        };
        for problem in &problems {
            if reported.contains(problem) {
                debug!(problem = %problem, "Textfile collector problem persists");
            } else {
                error!(problem = %problem, "Textfile collector problem");
            }
        }
        *reported = problems.into_iter().collect();
    }
}

impl BlockingCollector for Textfile {
    fn collect(&self, sink: &mut MetricSink) -> Result<(), CollectError> {
        let mut problems: Vec<String> = Vec::new();
        let mut seen: HashMap<String, Seen> = HashMap::new();
        let mut accepted: Vec<Family> = Vec::new();
        let mut mtimes: Vec<(String, f64)> = Vec::new();

        for dir in expand(&self.patterns) {
            let files = match prom_files(&dir) {
                Ok(files) => files,
                Err(e) => {
                    problems.push(format!("failed to read directory {}: {e}", dir.display()));
                    continue;
                }
            };
            for path in files {
                let label = path.to_string_lossy().into_owned();
                match read_prom_file(&path) {
                    Ok((families, mtime)) => {
                        mtimes.push((label.clone(), mtime));
                        merge(families, &label, &mut seen, &mut accepted, &mut problems);
                    }
                    Err(message) => problems.push(format!("{label}: {message}")),
                }
            }
        }

        for family in accepted {
            add_family(sink, family, &seen);
        }
        mtimes.sort_by(|a, b| a.0.cmp(&b.0));
        for (file, mtime) in &mtimes {
            sink.add(&MTIME, &[file], *mtime);
        }
        let errored = if problems.is_empty() { 0.0 } else { 1.0 };
        sink.add(&SCRAPE_ERROR, &[], errored);
        self.report(problems);
        Ok(())
    }
}

/// Expands each glob pattern. A pattern that is invalid or matches nothing is used as a plain
/// path, as Go's filepath.Glob fallback in node_exporter does. An empty pattern, the default,
/// is skipped.
fn expand(patterns: &[String]) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    for pattern in patterns.iter().filter(|p| !p.is_empty()) {
        let matches: Vec<PathBuf> = glob::glob(pattern)
            .map(|paths| paths.filter_map(Result::ok).collect())
            .unwrap_or_default();
        if matches.is_empty() {
            dirs.push(PathBuf::from(pattern));
        } else {
            dirs.extend(matches);
        }
    }
    dirs
}

/// Lists the `*.prom` files of a directory, sorted by name.
fn prom_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .filter(|entry| entry.file_name().to_string_lossy().ends_with(".prom"))
        .map(|entry| dir.join(entry.file_name()))
        .collect();
    files.sort();
    Ok(files)
}

/// Reads and parses one file, returning its families and its modification time in whole seconds.
fn read_prom_file(path: &Path) -> Result<(Vec<Family>, f64), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("failed to read: {e}"))?;
    let families = parse(&lossy(&bytes)).map_err(|e| format!("failed to parse: {e}"))?;
    let has_timestamp = families
        .iter()
        .any(|family| family.metrics.iter().any(|m| m.timestamp_ms.is_some()));
    if has_timestamp {
        return Err(
            "client-side timestamps are not supported, so the whole file is skipped".into(),
        );
    }
    let modified = std::fs::metadata(path)
        .and_then(|meta| meta.modified())
        .map_err(|e| format!("failed to stat: {e}"))?;
    let seconds = modified
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as f64)
        .unwrap_or(0.0);
    Ok((families, seconds))
}

/// Adds the families of one file to `accepted`. A family whose type or HELP conflicts with the
/// same family from an earlier file is dropped and described in `problems`.
fn merge(
    families: Vec<Family>,
    file: &str,
    seen: &mut HashMap<String, Seen>,
    accepted: &mut Vec<Family>,
    problems: &mut Vec<String>,
) {
    for family in families {
        if let Some(first) = seen.get_mut(&family.name) {
            let help_differs = matches!((&first.help, &family.help), (Some(a), Some(b)) if a != b);
            if first.kind != family.kind || help_differs {
                let first_file = first.files.first().map(String::as_str).unwrap_or("");
                problems.push(format!(
                    "{file}: dropped family {} because its type or HELP differs from {first_file}",
                    family.name
                ));
                continue;
            }
            if first.help.is_none() {
                first.help = family.help.clone();
            }
            first.files.push(file.to_owned());
        } else {
            seen.insert(
                family.name.clone(),
                Seen {
                    kind: family.kind,
                    help: family.help.clone(),
                    files: vec![file.to_owned()],
                },
            );
        }
        accepted.push(family);
    }
}

/// Adds one family's metrics. Metrics of a family that lack a label some of its other metrics
/// have get that label with an empty value, so every metric of the family has the same labels.
fn add_family(sink: &mut MetricSink, family: Family, seen: &HashMap<String, Seen>) {
    let first = seen.get(&family.name);
    let help = match first.and_then(|s| s.help.clone()) {
        Some(help) => help,
        None => format!(
            "Metric read from {}",
            first.map(|s| s.files.join(", ")).unwrap_or_default()
        ),
    };
    let mut names: Vec<&str> = Vec::new();
    for metric in &family.metrics {
        for (name, _) in &metric.labels {
            if !names.contains(&name.as_str()) {
                names.push(name);
            }
        }
    }
    let names: Vec<String> = names.into_iter().map(str::to_owned).collect();
    let family_name: Cow<'static, str> = Cow::Owned(family.name.clone());
    for metric in family.metrics {
        let labels: Vec<(LabelName, String)> = names
            .iter()
            .map(|name| {
                let value = metric
                    .labels
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.clone());
                (Cow::Owned(name.clone()), value.unwrap_or_default())
            })
            .collect();
        sink.add_dynamic(
            family_name.clone(),
            help.clone(),
            family.kind,
            labels,
            metric.value,
            None,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use exporter_core::{MetricFamily, Value};

    fn collect(patterns: Vec<String>) -> Vec<MetricFamily> {
        let mut sink = MetricSink::new();
        Textfile::new(patterns).collect(&mut sink).unwrap();
        sink.finish()
    }

    fn family<'a>(families: &'a [MetricFamily], name: &str) -> Option<&'a MetricFamily> {
        families.iter().find(|f| f.name == name)
    }

    fn scrape_error(families: &[MetricFamily]) -> Value {
        family(families, "node_textfile_scrape_error")
            .unwrap()
            .samples[0]
            .value
            .clone()
    }

    fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        dir
    }

    #[test]
    fn textfile_merges_same_type_and_help() {
        let dir = dir_with(&[
            ("a.prom", "# HELP jobs_total Jobs run.\n# TYPE jobs_total counter\njobs_total{file=\"a\"} 1\n"),
            ("b.prom", "# TYPE jobs_total counter\njobs_total{file=\"b\"} 2\n"),
            ("ignored.txt", "not_read 1\n"),
        ]);
        let families = collect(vec![dir.path().display().to_string()]);
        let jobs = family(&families, "jobs_total").unwrap();
        assert_eq!(jobs.samples.len(), 2);
        assert_eq!(jobs.help, "Jobs run.");
        assert!(family(&families, "not_read").is_none());
        let mtimes = family(&families, "node_textfile_mtime_seconds").unwrap();
        assert_eq!(mtimes.samples.len(), 2);
        assert_eq!(scrape_error(&families), Value::Number(0.0));
    }

    #[test]
    fn textfile_conflicting_help_drops_second() {
        let dir = dir_with(&[
            (
                "a.prom",
                "# HELP jobs_total First.\n# TYPE jobs_total counter\njobs_total{file=\"a\"} 1\n",
            ),
            (
                "b.prom",
                "# HELP jobs_total Second.\n# TYPE jobs_total counter\njobs_total{file=\"b\"} 2\n",
            ),
        ]);
        let families = collect(vec![dir.path().display().to_string()]);
        let jobs = family(&families, "jobs_total").unwrap();
        assert_eq!(jobs.samples.len(), 1);
        assert_eq!(jobs.samples[0].labels[0].1, "a");
        assert_eq!(scrape_error(&families), Value::Number(1.0));
    }

    #[test]
    fn textfile_conflicting_type_drops_second() {
        let dir = dir_with(&[
            ("a.prom", "# TYPE jobs gauge\njobs 1\n"),
            ("b.prom", "# TYPE jobs counter\njobs{x=\"b\"} 2\n"),
        ]);
        let families = collect(vec![dir.path().display().to_string()]);
        let jobs = family(&families, "jobs").unwrap();
        assert_eq!(jobs.kind, MetricType::Gauge);
        assert_eq!(jobs.samples.len(), 1);
        assert_eq!(scrape_error(&families), Value::Number(1.0));
    }

    #[test]
    fn textfile_rejects_client_side_timestamp() {
        let dir = dir_with(&[("ts.prom", "with_ts 1 1441205977284\nwithout_ts 2\n")]);
        let families = collect(vec![dir.path().display().to_string()]);
        assert!(family(&families, "with_ts").is_none());
        assert!(family(&families, "without_ts").is_none());
        assert!(family(&families, "node_textfile_mtime_seconds").is_none());
        assert_eq!(scrape_error(&families), Value::Number(1.0));
    }

    #[test]
    fn textfile_fills_missing_labels() {
        let dir = dir_with(&[("a.prom", "up{job=\"x\"} 1\nup 0\n")]);
        let families = collect(vec![dir.path().display().to_string()]);
        let up = family(&families, "up").unwrap();
        assert_eq!(up.samples[0].labels[0].0, "job");
        assert_eq!(up.samples[0].labels[0].1, "");
        let expected = format!("Metric read from {}", dir.path().join("a.prom").display());
        assert_eq!(up.help, expected);
    }

    #[test]
    fn textfile_glob_and_missing_directory() {
        let one = dir_with(&[("a.prom", "one 1\n")]);
        let pattern = format!("{}*", one.path().display());
        let families = collect(vec![pattern, "/nonexistent/textfile/dir".into()]);
        assert!(family(&families, "one").is_some());
        assert_eq!(scrape_error(&families), Value::Number(1.0));
    }

    #[test]
    fn textfile_default_directory_is_silent() {
        let families = collect(vec![String::new()]);
        assert_eq!(scrape_error(&families), Value::Number(0.0));
    }
}
