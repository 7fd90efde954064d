//! The softnet collector: per-CPU packet processing counters from /proc/net/softnet_stat, one
//! line of hexadecimal columns per CPU (see `softnet_seq_show` in net/core/net-procfs.c).

use std::path::PathBuf;

use exporter_core::collector::BuildError;
use exporter_core::{AnyCollector, BlockingCollector, CollectError, Desc, MetricSink};
use tracing::debug;

use super::net_common::{parse_hex, read_text};
use super::NodeConfig;

const PROCESSED: Desc = Desc::counter(
    "node_softnet_processed_total",
    "Packets processed by the CPU's network receive softirq.",
    &["cpu"],
);
const DROPPED: Desc = Desc::counter(
    "node_softnet_dropped_total",
    "Packets dropped because the CPU's input queue was full.",
    &["cpu"],
);
const TIMES_SQUEEZED: Desc = Desc::counter(
    "node_softnet_times_squeezed_total",
    "Times the receive softirq stopped with work left because its budget or time ran out.",
    &["cpu"],
);
const CPU_COLLISION: Desc = Desc::counter(
    "node_softnet_cpu_collision_total",
    "Times the CPU found a device's transmit lock already taken.",
    &["cpu"],
);
const RECEIVED_RPS: Desc = Desc::counter(
    "node_softnet_received_rps_total",
    "Times the CPU was woken by an inter-processor interrupt for receive packet steering.",
    &["cpu"],
);
const FLOW_LIMIT_COUNT: Desc = Desc::counter(
    "node_softnet_flow_limit_count_total",
    "Times the flow limit of receive packet steering dropped a packet.",
    &["cpu"],
);
const BACKLOG_LEN: Desc = Desc::gauge(
    "node_softnet_backlog_len",
    "Packets waiting in the CPU's input and process queues.",
    &["cpu"],
);

/// Column index and family of each value. Older kernels write fewer columns.
const COLUMNS: &[(usize, &Desc)] = &[
    (0, &PROCESSED),
    (1, &DROPPED),
    (2, &TIMES_SQUEEZED),
    (8, &CPU_COLLISION),
    (9, &RECEIVED_RPS),
    (10, &FLOW_LIMIT_COUNT),
    (11, &BACKLOG_LEN),
];

/// Minimum number of columns of a valid line, the nine columns of the oldest format.
const MIN_COLUMNS: usize = 9;

struct SoftnetCollector {
    path: PathBuf,
}

pub fn build(config: &NodeConfig) -> Result<AnyCollector, BuildError> {
    Ok(AnyCollector::blocking(SoftnetCollector {
        path: config.proc("net/softnet_stat"),
    }))
}

impl BlockingCollector for SoftnetCollector {
    fn collect(&self, sink: &mut MetricSink) -> Result<(), CollectError> {
        let text = read_text(&self.path)?;
        for (line_index, line) in text.lines().enumerate() {
            let Some(values) = parse_line(line) else {
                debug!(collector = "softnet", line, "Skipped a malformed line");
                continue;
            };
            // Since Linux 5.10 the 13th column is the CPU number, which differs from the line
            // index when CPUs are offline.
            let cpu = values
                .get(12)
                .map_or(line_index as u64, |&cpu| cpu)
                .to_string();
            for &(column, desc) in COLUMNS {
                // A column the kernel does not write yet reads as 0, as in node_exporter.
                let value = values.get(column).copied().unwrap_or(0);
                sink.add(desc, &[&cpu], value as f64);
            }
        }
        Ok(())
    }
}

/// Parses the hexadecimal columns of one line, or returns `None` for a short or invalid line.
fn parse_line(line: &str) -> Option<Vec<u64>> {
    let values: Option<Vec<u64>> = line.split_whitespace().map(parse_hex).collect();
    values.filter(|values| values.len() >= MIN_COLUMNS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::net_common::testing::{collect, config, count, value, write};

    const ZEROS: &str = "00000000 00000000 00000000 00000000 00000000 00000000";

    #[test]
    fn softnet_reads_cpu_column() {
        let dir = tempfile::tempdir().unwrap();
        let line =
            "0000000a 00000002 00000003 0 0 0 0 0 00000004 00000005 00000006 00000007 00000003\n";
        write(dir.path(), "proc/net/softnet_stat", line);

        let (result, families) = collect(&build(&config(dir.path(), &[])).unwrap());
        assert!(result.is_ok());

        let cpu = [("cpu", "3")];
        assert_eq!(
            value(&families, "node_softnet_processed_total", &cpu),
            Some(10.0)
        );
        assert_eq!(
            value(&families, "node_softnet_cpu_collision_total", &cpu),
            Some(4.0)
        );
        assert_eq!(
            value(&families, "node_softnet_received_rps_total", &cpu),
            Some(5.0)
        );
        assert_eq!(
            value(&families, "node_softnet_flow_limit_count_total", &cpu),
            Some(6.0)
        );
        assert_eq!(
            value(&families, "node_softnet_backlog_len", &cpu),
            Some(7.0)
        );
    }

    #[test]
    fn softnet_old_kernel_uses_line_index() {
        let dir = tempfile::tempdir().unwrap();
        let line = format!("00000001 00000000 00000000 {ZEROS}\n");
        let text = format!("{line}{line}");
        write(dir.path(), "proc/net/softnet_stat", &text);

        let (_, families) = collect(&build(&config(dir.path(), &[])).unwrap());
        assert_eq!(count(&families, "node_softnet_processed_total"), 2);
        assert_eq!(
            value(&families, "node_softnet_processed_total", &[("cpu", "1")]),
            Some(1.0)
        );
        assert_eq!(
            value(&families, "node_softnet_backlog_len", &[("cpu", "1")]),
            Some(0.0)
        );
    }

    #[test]
    fn softnet_skips_malformed_lines() {
        let dir = tempfile::tempdir().unwrap();
        let good = format!("00000001 00000000 00000000 {ZEROS}\n");
        let text = format!("00000001 00000002\nzz {ZEROS} 1 1\n{good}");
        write(dir.path(), "proc/net/softnet_stat", &text);

        let (result, families) = collect(&build(&config(dir.path(), &[])).unwrap());
        assert!(result.is_ok());

        assert_eq!(count(&families, "node_softnet_processed_total"), 1);
        assert_eq!(
            value(&families, "node_softnet_processed_total", &[("cpu", "2")]),
            Some(1.0)
        );
    }
}
