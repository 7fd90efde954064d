//! The schedstat collector: per-CPU scheduler statistics from /proc/schedstat
//! (Documentation/scheduler/sched-stats.rst). Of each `cpuN` line, the 7th, 8th and 9th numbers
//! are the time spent running tasks, the time tasks waited to run (both in nanoseconds) and the
//! number of timeslices run.

use std::path::PathBuf;

use exporter_core::collector::BuildError;
use exporter_core::{AnyCollector, BlockingCollector, CollectError, Desc, MetricSink};
use tracing::debug;

use super::{util, NodeConfig};

const RUNNING: Desc = Desc::counter(
    "node_schedstat_running_seconds_total",
    "Seconds each CPU spent running tasks.",
    &["cpu"],
);
const WAITING: Desc = Desc::counter(
    "node_schedstat_waiting_seconds_total",
    "Seconds tasks spent waiting to run on each CPU.",
    &["cpu"],
);
const TIMESLICES: Desc = Desc::counter(
    "node_schedstat_timeslices_total",
    "Timeslices each CPU ran.",
    &["cpu"],
);

const NANOSECONDS_PER_SECOND: f64 = 1e9;

pub fn build(config: &NodeConfig) -> Result<AnyCollector, BuildError> {
    Ok(AnyCollector::blocking(SchedstatCollector {
        procfs: config.procfs.clone(),
    }))
}

pub struct SchedstatCollector {
    pub procfs: PathBuf,
}

/// Parses a `cpuN` line into the CPU number and its running, waiting and timeslice counts.
fn parse_cpu_line(line: &str) -> Option<(&str, [u64; 3])> {
    let mut fields = line.split_whitespace();
    let cpu = fields.next()?.strip_prefix("cpu")?;
    if cpu.is_empty() || !cpu.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let numbers: Vec<u64> = fields.take(9).map_while(|f| f.parse().ok()).collect();
    if numbers.len() < 9 {
        return None;
    }
    Some((cpu, [numbers[6], numbers[7], numbers[8]]))
}

impl BlockingCollector for SchedstatCollector {
    fn collect(&self, sink: &mut MetricSink) -> Result<(), CollectError> {
        let text = util::read_file(&self.procfs.join("schedstat"))?;
        for line in text.lines().filter(|l| l.starts_with("cpu")) {
            let Some((cpu, [running, waiting, timeslices])) = parse_cpu_line(line) else {
                debug!(line, "Skipped a malformed cpu line of /proc/schedstat");
                continue;
            };
            sink.add(&RUNNING, &[cpu], running as f64 / NANOSECONDS_PER_SECOND);
            sink.add(&WAITING, &[cpu], waiting as f64 / NANOSECONDS_PER_SECOND);
            sink.add(&TIMESLICES, &[cpu], timeslices as f64);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::test_support::{collect, samples, write_tree};

    const SCHEDSTAT: &str = "version 15
timestamp 4295000000
cpu0 0 0 0 0 0 0 2000000000 500000000 42
domain0 00000003 1 2 3
cpu1 0 0 0 0 0 0 1000000000 250000000 7
cpu2 0 0 0
";

    #[test]
    fn running_waiting_timeslices() {
        let dir = tempfile::tempdir().unwrap();
        write_tree(dir.path(), &[("schedstat", SCHEDSTAT)]);
        let got = samples(&SchedstatCollector {
            procfs: dir.path().to_owned(),
        });
        assert_eq!(got[r#"node_schedstat_running_seconds_total{cpu="0"}"#], 2.0);
        assert_eq!(
            got[r#"node_schedstat_waiting_seconds_total{cpu="1"}"#],
            0.25
        );
        assert_eq!(got[r#"node_schedstat_timeslices_total{cpu="0"}"#], 42.0);
        assert_eq!(got.len(), 6, "the short cpu2 line is skipped");
    }

    #[test]
    fn missing_file_is_no_data() {
        let dir = tempfile::tempdir().unwrap();
        let (outcome, _) = collect(&SchedstatCollector {
            procfs: dir.path().to_owned(),
        });
        assert!(matches!(outcome, Err(CollectError::NoData(_))));
    }
}
