//! The sockstat collector: socket counts and memory per protocol from /proc/net/sockstat and
//! /proc/net/sockstat6 (format: `PROTO: key value key value ...`, see net/ipv4/proc.c).

use std::path::PathBuf;

use exporter_core::collector::BuildError;
use exporter_core::Value;
use exporter_core::{AnyCollector, BlockingCollector, CollectError, Desc, MetricSink, MetricType};
use tracing::debug;

use super::net_common::{page_size, read_text};
use super::NodeConfig;

const SOCKETS_USED: Desc = Desc::gauge(
    "node_sockstat_sockets_used",
    "IPv4 sockets in use, from the sockets line of /proc/net/sockstat.",
    &[],
);

/// Keys of a protocol line that become a family `node_sockstat_<PROTO>_<key>`.
const KEYS: &[&str] = &["inuse", "orphan", "tw", "alloc", "mem", "memory"];

struct SockstatCollector {
    files: [PathBuf; 2],
    page_size: f64,
}

pub fn build(config: &NodeConfig) -> Result<AnyCollector, BuildError> {
    Ok(AnyCollector::blocking(SockstatCollector {
        files: [config.proc("net/sockstat"), config.proc("net/sockstat6")],
        page_size: page_size() as f64,
    }))
}

impl BlockingCollector for SockstatCollector {
    fn collect(&self, sink: &mut MetricSink) -> Result<(), CollectError> {
        let mut found = 0;
        for (index, path) in self.files.iter().enumerate() {
            let text = match read_text(path) {
                Ok(text) => text,
                Err(CollectError::NoData(reason)) => {
                    debug!(collector = "sockstat", reason, "Skipped a missing file");
                    continue;
                }
                Err(e) => return Err(e),
            };
            found += 1;
            self.add_file(&text, index == 0, sink);
        }
        if found == 0 {
            return Err(CollectError::no_data("no /proc/net/sockstat files"));
        }
        Ok(())
    }
}

impl SockstatCollector {
    fn add_file(&self, text: &str, ipv4: bool, sink: &mut MetricSink) {
        for line in text.lines().filter(|line| !line.trim().is_empty()) {
            let Some((protocol, pairs)) = parse_line(line) else {
                debug!(collector = "sockstat", line, "Skipped a malformed line");
                continue;
            };
            if protocol == "sockets" {
                if let (true, Some(&(_, used))) = (ipv4, pairs.iter().find(|(k, _)| *k == "used")) {
                    sink.add(&SOCKETS_USED, &[], used);
                }
                continue;
            }
            for (key, value) in &pairs {
                if KEYS.contains(key) {
                    add_gauge(sink, protocol, key, *value);
                }
            }
            if let Some(&(_, pages)) = pairs.iter().find(|(k, _)| *k == "mem") {
                add_gauge(sink, protocol, "mem_bytes", pages * self.page_size);
            }
        }
    }
}

fn add_gauge(sink: &mut MetricSink, protocol: &str, key: &str, value: f64) {
    sink.add_dynamic(
        format!("node_sockstat_{protocol}_{key}"),
        format!("Sockets of protocol {protocol}: the {key} value of /proc/net/sockstat."),
        MetricType::Gauge,
        Vec::new(),
        Value::Number(value),
        None,
    );
}

/// Splits `TCP: inuse 4 orphan 0` into the protocol and its (key, value) pairs. Returns `None`
/// for a line without a colon after the protocol, an odd number of words or a non-integer value.
fn parse_line(line: &str) -> Option<(&str, Vec<(&str, f64)>)> {
    let mut words = line.split_whitespace();
    let protocol = words.next()?.strip_suffix(':')?;
    let rest: Vec<&str> = words.collect();
    if rest.is_empty() || !rest.len().is_multiple_of(2) {
        return None;
    }
    let mut pairs = Vec::with_capacity(rest.len() / 2);
    for pair in rest.chunks(2) {
        let value: i64 = pair[1].parse().ok()?;
        pairs.push((pair[0], value as f64));
    }
    Some((protocol, pairs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::net_common::testing::{collect, config, value, write};

    #[test]
    fn sockstat_reads_both_files() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "proc/net/sockstat", "sockets: used 229\nTCP: inuse 4 orphan 0 tw 4 alloc 17 mem 1\nFRAG: inuse 0 memory 0\n");
        write(
            dir.path(),
            "proc/net/sockstat6",
            "TCP6: inuse 17\nsockets: used 9\n",
        );
        let collector = build(&config(dir.path(), &[])).unwrap();

        let (result, families) = collect(&collector);
        assert!(result.is_ok());

        assert_eq!(
            value(&families, "node_sockstat_sockets_used", &[]),
            Some(229.0)
        );
        assert_eq!(value(&families, "node_sockstat_TCP_alloc", &[]), Some(17.0));
        assert_eq!(
            value(&families, "node_sockstat_TCP_mem_bytes", &[]),
            Some(page_size() as f64)
        );
        assert_eq!(
            value(&families, "node_sockstat_FRAG_memory", &[]),
            Some(0.0)
        );
        assert_eq!(
            value(&families, "node_sockstat_TCP6_inuse", &[]),
            Some(17.0)
        );
    }

    #[test]
    fn sockstat_skips_malformed_lines() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "proc/net/sockstat",
            "TCP inuse 4\nUDP: inuse\nRAW: inuse x\nUDPLITE: inuse 2\n",
        );
        let collector = build(&config(dir.path(), &[])).unwrap();

        let (result, families) = collect(&collector);
        assert!(result.is_ok());

        assert_eq!(families.len(), 1);
        assert_eq!(
            value(&families, "node_sockstat_UDPLITE_inuse", &[]),
            Some(2.0)
        );
    }

    #[test]
    fn sockstat_without_files_is_no_data() {
        let dir = tempfile::tempdir().unwrap();
        let collector = build(&config(dir.path(), &[])).unwrap();
        let (result, _) = collect(&collector);
        assert!(matches!(result, Err(CollectError::NoData(_))));
    }
}
