//! The loadavg collector: the 1, 5 and 15 minute load averages, the first three fields of
//! /proc/loadavg (see proc(5)).

use std::path::PathBuf;

use exporter_core::collector::BuildError;
use exporter_core::{AnyCollector, BlockingCollector, CollectError, Desc, MetricSink};

use super::{util, NodeConfig};

const LOADS: [Desc; 3] = [
    Desc::gauge("node_load1", "Load average over the last minute.", &[]),
    Desc::gauge("node_load5", "Load average over the last 5 minutes.", &[]),
    Desc::gauge("node_load15", "Load average over the last 15 minutes.", &[]),
];

pub fn build(config: &NodeConfig) -> Result<AnyCollector, BuildError> {
    Ok(AnyCollector::blocking(LoadavgCollector {
        procfs: config.procfs.clone(),
    }))
}

pub struct LoadavgCollector {
    pub procfs: PathBuf,
}

/// Error of a /proc/loadavg whose first three fields are not numbers.
#[derive(Debug, thiserror::Error)]
#[error("invalid content {content:?} in {path}: expected three load averages")]
pub struct LoadavgError {
    path: PathBuf,
    content: String,
}

impl BlockingCollector for LoadavgCollector {
    fn collect(&self, sink: &mut MetricSink) -> Result<(), CollectError> {
        let path = self.procfs.join("loadavg");
        let text = util::read_file(&path)?;
        let loads: Vec<f64> = text
            .split_whitespace()
            .take(3)
            .map_while(|field| field.parse().ok())
            .collect();
        if loads.len() < 3 {
            return Err(CollectError::failed(LoadavgError {
                path,
                content: text.trim().to_owned(),
            }));
        }
        for (desc, load) in LOADS.iter().zip(loads) {
            sink.add(desc, &[], load);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::test_support::{collect, samples, write_tree};

    fn collector(text: &str) -> (tempfile::TempDir, LoadavgCollector) {
        let dir = tempfile::tempdir().unwrap();
        write_tree(dir.path(), &[("loadavg", text)]);
        let procfs = dir.path().to_owned();
        (dir, LoadavgCollector { procfs })
    }

    #[test]
    fn three_averages() {
        let (_dir, loadavg) = collector("0.21 0.37 0.39 1/719 19737\n");
        let got = samples(&loadavg);
        assert_eq!(got["node_load1"], 0.21);
        assert_eq!(got["node_load5"], 0.37);
        assert_eq!(got["node_load15"], 0.39);
    }

    #[test]
    fn truncated_file_fails() {
        let (_dir, loadavg) = collector("0.21 0.37\n");
        let (outcome, got) = collect(&loadavg);
        assert!(matches!(outcome, Err(CollectError::Failed(_))));
        assert!(got.is_empty());
    }

    #[test]
    fn non_numeric_field_fails() {
        let (_dir, loadavg) = collector("0.21 abc 0.39 1/719 19737\n");
        let (outcome, _) = collect(&loadavg);
        assert!(matches!(outcome, Err(CollectError::Failed(_))));
    }
}
