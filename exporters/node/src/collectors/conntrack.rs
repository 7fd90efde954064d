//! The conntrack collector: connection tracking table size from
//! /proc/sys/net/netfilter/nf_conntrack_{count,max} and the per-CPU statistics of
//! /proc/net/stat/nf_conntrack (hexadecimal columns named by its header line), summed over CPUs.

use std::path::PathBuf;

use exporter_core::collector::BuildError;
use exporter_core::{AnyCollector, BlockingCollector, CollectError, Desc, MetricSink};
use tracing::debug;

use super::net_common::{parse_hex, read_text, NetError};
use super::NodeConfig;

const ENTRIES: Desc = Desc::gauge(
    "node_nf_conntrack_entries",
    "Flow entries currently allocated in the connection tracking table.",
    &[],
);
const ENTRIES_LIMIT: Desc = Desc::gauge(
    "node_nf_conntrack_entries_limit",
    "Maximum number of entries in the connection tracking table.",
    &[],
);

/// Column of /proc/net/stat/nf_conntrack and the family that its sum over CPUs feeds.
const STATS: &[(&str, Desc)] = &[
    (
        "found",
        Desc::gauge(
            "node_nf_conntrack_stat_found",
            "Table lookups that found an entry.",
            &[],
        ),
    ),
    (
        "invalid",
        Desc::gauge(
            "node_nf_conntrack_stat_invalid",
            "Packets that could not be tracked.",
            &[],
        ),
    ),
    (
        "ignore",
        Desc::gauge(
            "node_nf_conntrack_stat_ignore",
            "Packets that already had a tracking entry attached.",
            &[],
        ),
    ),
    (
        "insert",
        Desc::gauge(
            "node_nf_conntrack_stat_insert",
            "Entries inserted into the table.",
            &[],
        ),
    ),
    (
        "insert_failed",
        Desc::gauge(
            "node_nf_conntrack_stat_insert_failed",
            "Insertions that failed, such as for an entry already present.",
            &[],
        ),
    ),
    (
        "drop",
        Desc::gauge(
            "node_nf_conntrack_stat_drop",
            "Packets dropped because tracking failed.",
            &[],
        ),
    ),
    (
        "early_drop",
        Desc::gauge(
            "node_nf_conntrack_stat_early_drop",
            "Entries dropped to make room while the table was full.",
            &[],
        ),
    ),
    (
        "search_restart",
        Desc::gauge(
            "node_nf_conntrack_stat_search_restart",
            "Table lookups restarted because the hash table was resized.",
            &[],
        ),
    ),
];

struct ConntrackCollector {
    count: PathBuf,
    max: PathBuf,
    stat: PathBuf,
}

pub fn build(config: &NodeConfig) -> Result<AnyCollector, BuildError> {
    Ok(AnyCollector::blocking(ConntrackCollector {
        count: config.proc("sys/net/netfilter/nf_conntrack_count"),
        max: config.proc("sys/net/netfilter/nf_conntrack_max"),
        stat: config.proc("net/stat/nf_conntrack"),
    }))
}

impl BlockingCollector for ConntrackCollector {
    fn collect(&self, sink: &mut MetricSink) -> Result<(), CollectError> {
        for (path, desc) in [(&self.count, &ENTRIES), (&self.max, &ENTRIES_LIMIT)] {
            let text = read_text(path)?.trim().to_owned();
            let value: u64 = text.parse().map_err(|_| NetError::InvalidValue {
                path: path.clone(),
                value: text.clone(),
            })?;
            sink.add(desc, &[], value as f64);
        }
        let stat = read_text(&self.stat)?;
        let sums = sum_columns(&stat);
        for (column, desc) in STATS {
            sink.add(desc, &[], sums.get(column).copied().unwrap_or(0) as f64);
        }
        Ok(())
    }
}

/// Sums each named column over the CPU lines that follow the header line. Lines whose number of
/// values differs from the header's or that hold a non-hexadecimal value are skipped.
fn sum_columns(text: &str) -> std::collections::HashMap<&str, u64> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split_whitespace().collect();
    let mut sums = std::collections::HashMap::new();
    for line in lines {
        let values: Option<Vec<u64>> = line.split_whitespace().map(parse_hex).collect();
        match values {
            Some(values) if values.len() == header.len() => {
                for (name, value) in header.iter().zip(values) {
                    let sum = sums.entry(*name).or_insert(0u64);
                    *sum = sum.wrapping_add(value);
                }
            }
            _ => debug!(collector = "conntrack", line, "Skipped a malformed line"),
        }
    }
    sums
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::net_common::testing::{collect, config, value, write};

    const HEADER: &str = "entries searched found new invalid ignore delete delete_list insert insert_failed drop early_drop icmp_error expect_new expect_create expect_delete search_restart\n";

    fn fixture(stat: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "proc/sys/net/netfilter/nf_conntrack_count",
            "123\n",
        );
        write(
            dir.path(),
            "proc/sys/net/netfilter/nf_conntrack_max",
            "65536\n",
        );
        write(dir.path(), "proc/net/stat/nf_conntrack", stat);
        dir
    }

    #[test]
    fn conntrack_sums_cpus() {
        let row = "21 0 1 0 3 a 0 0 0 0 0 0 0 0 0 0 2\n";
        let dir = fixture(&format!("{HEADER}{row}{row}"));

        let (result, families) = collect(&build(&config(dir.path(), &[])).unwrap());
        assert!(result.is_ok());

        assert_eq!(
            value(&families, "node_nf_conntrack_entries", &[]),
            Some(123.0)
        );
        assert_eq!(
            value(&families, "node_nf_conntrack_entries_limit", &[]),
            Some(65536.0)
        );
        assert_eq!(
            value(&families, "node_nf_conntrack_stat_ignore", &[]),
            Some(20.0)
        );
        assert_eq!(
            value(&families, "node_nf_conntrack_stat_search_restart", &[]),
            Some(4.0)
        );
    }

    #[test]
    fn conntrack_old_kernel_lacks_search_restart() {
        let header = HEADER.replace(" search_restart", "");
        let dir = fixture(&format!(
            "{header}21 0 1 0 3 a 0 0 0 0 0 0 0 0 0 0\nshort 1\n"
        ));

        let (result, families) = collect(&build(&config(dir.path(), &[])).unwrap());
        assert!(result.is_ok());

        assert_eq!(
            value(&families, "node_nf_conntrack_stat_found", &[]),
            Some(1.0)
        );
        assert_eq!(
            value(&families, "node_nf_conntrack_stat_search_restart", &[]),
            Some(0.0)
        );
    }

    #[test]
    fn conntrack_without_module_is_no_data() {
        let dir = tempfile::tempdir().unwrap();
        let (result, _) = collect(&build(&config(dir.path(), &[])).unwrap());
        assert!(matches!(result, Err(CollectError::NoData(_))));
    }

    #[test]
    fn conntrack_invalid_count_fails() {
        let dir = fixture(HEADER);
        write(
            dir.path(),
            "proc/sys/net/netfilter/nf_conntrack_count",
            "many\n",
        );
        let (result, _) = collect(&build(&config(dir.path(), &[])).unwrap());
        assert!(matches!(result, Err(CollectError::Failed(_))));
    }
}
