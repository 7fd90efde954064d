//! Helpers for the collector tests: fixture trees in a temporary directory and a flat view of
//! the samples a collector produced.

use std::collections::BTreeMap;
use std::path::Path;

use exporter_core::{BlockingCollector, CollectError, MetricSink, Value};

/// Writes `files`, pairs of a path relative to `root` and the file's contents, creating parent
/// directories as needed.
pub fn write_tree(root: &Path, files: &[(&str, &str)]) {
    for (relative, contents) in files {
        let path = root.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(path, contents).unwrap();
    }
}

/// Runs `collector` once and returns its result and samples keyed as `name{a="x",b="y"}`, with
/// labels in the order the collector gave them.
pub fn collect(
    collector: &dyn BlockingCollector,
) -> (Result<(), CollectError>, BTreeMap<String, f64>) {
    let mut sink = MetricSink::new();
    let outcome = collector.collect(&mut sink);
    let mut samples = BTreeMap::new();
    for family in sink.into_families() {
        for sample in family.samples {
            let labels: Vec<String> = sample
                .labels
                .iter()
                .map(|(name, value)| format!("{name}=\"{value}\""))
                .collect();
            let key = if labels.is_empty() {
                family.name.to_string()
            } else {
                format!("{}{{{}}}", family.name, labels.join(","))
            };
            if let Value::Number(value) = sample.value {
                samples.insert(key, value);
            }
        }
    }
    (outcome, samples)
}

/// Runs `collector` and returns its samples, failing the test when the collector fails.
pub fn samples(collector: &dyn BlockingCollector) -> BTreeMap<String, f64> {
    let (outcome, samples) = collect(collector);
    if let Err(e) = outcome {
        panic!("collector failed: {e}");
    }
    samples
}

/// Returns the type keyword of family `name` as the collector produced it.
pub fn family_type(collector: &dyn BlockingCollector, name: &str) -> Option<&'static str> {
    let mut sink = MetricSink::new();
    collector.collect(&mut sink).ok()?;
    sink.into_families()
        .into_iter()
        .find(|f| f.name == name)
        .map(|f| f.kind.as_text())
}

/// Parses `args` with every flag of node-exporter and returns the configuration collectors are
/// built from.
pub fn config(args: &[&str]) -> super::NodeConfig {
    let info = exporter_core::ExporterInfo {
        name: "node_exporter",
        binary: "node-exporter",
        description: "test",
        default_listen: ":9100",
    };
    let command = exporter_core::cli::command(&info)
        .args(super::path_args())
        .args(exporter_core::collector::collector_args(super::COLLECTORS))
        .args(super::option_args());
    let argv = std::iter::once("node-exporter")
        .chain(args.iter().copied())
        .map(std::ffi::OsString::from);
    let matches = exporter_core::cli::try_parse_from(command, argv).unwrap();
    super::NodeConfig::from_matches(matches)
}
