//! The stat collector: interrupts, context switches, forks, boot time, runnable and blocked
//! processes, and with `--collector.stat.softirq` the calls per softirq vector, from /proc/stat.

use std::path::PathBuf;

use clap::Arg;
use exporter_core::collector::BuildError;
use exporter_core::{AnyCollector, BlockingCollector, CollectError, Desc, MetricSink};

use super::net_common::{bool_args, bool_value};
use super::procstat::{self, SOFTIRQ_VECTORS};
use super::{util, NodeConfig};

const INTERRUPTS: Desc = Desc::counter(
    "node_intr_total",
    "Interrupts serviced since boot, all sources together.",
    &[],
);
const CONTEXT_SWITCHES: Desc = Desc::counter(
    "node_context_switches_total",
    "Context switches since boot.",
    &[],
);
const FORKS: Desc = Desc::counter(
    "node_forks_total",
    "Processes and threads created since boot.",
    &[],
);
const BOOT_TIME: Desc = Desc::gauge(
    "node_boot_time_seconds",
    "Time the system booted, in seconds since the Unix epoch.",
    &[],
);
const PROCS_RUNNING: Desc = Desc::gauge(
    "node_procs_running",
    "Processes that are running or ready to run.",
    &[],
);
const PROCS_BLOCKED: Desc = Desc::gauge(
    "node_procs_blocked",
    "Processes sleeping until their disk I/O completes.",
    &[],
);
const SOFTIRQS: Desc = Desc::counter(
    "node_softirqs_total",
    "Softirq calls since boot, per vector.",
    &["vector"],
);

/// Returns the option flags of the stat collector.
pub fn args() -> Vec<Arg> {
    bool_args(
        "collector.stat.softirq",
        false,
        "Export node_softirqs_total, the softirq calls per vector",
    )
}

pub fn build(config: &NodeConfig) -> Result<AnyCollector, BuildError> {
    Ok(AnyCollector::blocking(StatCollector {
        procfs: config.procfs.clone(),
        softirq: bool_value(config, "collector.stat.softirq", false),
    }))
}

pub struct StatCollector {
    pub procfs: PathBuf,
    pub softirq: bool,
}

impl BlockingCollector for StatCollector {
    fn collect(&self, sink: &mut MetricSink) -> Result<(), CollectError> {
        let stat = procstat::parse(&util::read_file(&self.procfs.join("stat"))?);
        let values = [
            (&INTERRUPTS, stat.interrupts),
            (&CONTEXT_SWITCHES, stat.context_switches),
            (&FORKS, stat.forks),
            (&BOOT_TIME, stat.boot_time),
            (&PROCS_RUNNING, stat.procs_running),
            (&PROCS_BLOCKED, stat.procs_blocked),
        ];
        for (desc, value) in values {
            sink.add(desc, &[], value as f64);
        }
        if self.softirq {
            for (vector, calls) in SOFTIRQ_VECTORS.iter().zip(stat.softirqs) {
                sink.add(&SOFTIRQS, &[vector], calls as f64);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::test_support::{samples, write_tree};

    const STAT: &str = "cpu  1 2 3 4\nintr 99 1 2\nctxt 1234\nbtime 1600000000\n\
processes 77\nprocs_running 2\nprocs_blocked 1\nsoftirq 55 1 2 3 4 5 6 7 8 9 10\n";

    fn collector(softirq: bool) -> (tempfile::TempDir, StatCollector) {
        let dir = tempfile::tempdir().unwrap();
        write_tree(dir.path(), &[("stat", STAT)]);
        let procfs = dir.path().to_owned();
        (dir, StatCollector { procfs, softirq })
    }

    #[test]
    fn totals_from_proc_stat() {
        let (_dir, stat) = collector(false);
        let got = samples(&stat);
        assert_eq!(got["node_intr_total"], 99.0);
        assert_eq!(got["node_context_switches_total"], 1234.0);
        assert_eq!(got["node_forks_total"], 77.0);
        assert_eq!(got["node_boot_time_seconds"], 1600000000.0);
        assert_eq!(got["node_procs_running"], 2.0);
        assert_eq!(got["node_procs_blocked"], 1.0);
        assert!(!got.keys().any(|k| k.starts_with("node_softirqs_total")));
    }

    #[test]
    fn softirq_vectors_with_flag() {
        let (_dir, stat) = collector(true);
        let got = samples(&stat);
        assert_eq!(got[r#"node_softirqs_total{vector="hi"}"#], 1.0);
        assert_eq!(got[r#"node_softirqs_total{vector="rcu"}"#], 10.0);
        assert_eq!(
            got.keys()
                .filter(|k| k.starts_with("node_softirqs"))
                .count(),
            10
        );
    }
}
