//! The nfs collector: NFS client RPC statistics from /proc/net/rpc/nfs, whose lines are a key
//! and unsigned integers (`net`, `rpc`, and `procN` lines that start with their count, see
//! net/sunrpc/stats.c).

use std::collections::HashMap;
use std::path::PathBuf;

use exporter_core::collector::BuildError;
use exporter_core::{AnyCollector, BlockingCollector, CollectError, Desc, MetricSink};
use tracing::debug;

use super::net_common::read_text;
use super::NodeConfig;

const PACKETS: Desc = Desc::counter(
    "node_nfs_packets_total",
    "Network packets of the NFS client by transport protocol.",
    &["protocol"],
);
const CONNECTIONS: Desc = Desc::counter(
    "node_nfs_connections_total",
    "TCP connections made by the NFS client.",
    &[],
);
const RPCS: Desc = Desc::counter("node_nfs_rpcs_total", "RPCs sent by the NFS client.", &[]);
const RETRANSMISSIONS: Desc = Desc::counter(
    "node_nfs_rpc_retransmissions_total",
    "RPCs that the NFS client retransmitted.",
    &[],
);
const AUTH_REFRESHES: Desc = Desc::counter(
    "node_nfs_rpc_authentication_refreshes_total",
    "Credential refreshes of the NFS client's RPCs.",
    &[],
);
const REQUESTS: Desc = Desc::counter(
    "node_nfs_requests_total",
    "NFS procedures called by the client, by protocol version and procedure.",
    &["proto", "method"],
);

/// Procedures of NFSv2 in the order of the `proc2` line.
pub const V2_PROCEDURES: [&str; 18] = [
    "Null", "GetAttr", "SetAttr", "Root", "Lookup", "ReadLink", "Read", "WrCache", "Write",
    "Create", "Remove", "Rename", "Link", "SymLink", "MkDir", "RmDir", "ReadDir", "FsStat",
];

/// Procedures of NFSv3 in the order of the `proc3` line.
pub const V3_PROCEDURES: [&str; 22] = [
    "Null",
    "GetAttr",
    "SetAttr",
    "Lookup",
    "Access",
    "ReadLink",
    "Read",
    "Write",
    "Create",
    "MkDir",
    "SymLink",
    "MkNod",
    "Remove",
    "RmDir",
    "Rename",
    "Link",
    "ReadDir",
    "ReadDirPlus",
    "FsStat",
    "FsInfo",
    "PathConf",
    "Commit",
];

/// Client procedures of NFSv4 in the order of the `proc4` line (fs/nfs/nfs4xdr.c). Older kernels
/// write fewer, and the missing ones read as 0.
const V4_PROCEDURES: [&str; 59] = [
    "Null",
    "Read",
    "Write",
    "Commit",
    "Open",
    "OpenConfirm",
    "OpenNoattr",
    "OpenDowngrade",
    "Close",
    "Setattr",
    "FsInfo",
    "Renew",
    "SetClientID",
    "SetClientIDConfirm",
    "Lock",
    "Lockt",
    "Locku",
    "Access",
    "Getattr",
    "Lookup",
    "LookupRoot",
    "Remove",
    "Rename",
    "Link",
    "Symlink",
    "Create",
    "Pathconf",
    "StatFs",
    "ReadLink",
    "ReadDir",
    "ServerCaps",
    "DelegReturn",
    "GetACL",
    "SetACL",
    "FsLocations",
    "ReleaseLockowner",
    "Secinfo",
    "FsidPresent",
    "ExchangeID",
    "CreateSession",
    "DestroySession",
    "Sequence",
    "GetLeaseTime",
    "ReclaimComplete",
    "GetDeviceInfo",
    "LayoutGet",
    "LayoutCommit",
    "LayoutReturn",
    "SecinfoNoName",
    "TestStateID",
    "FreeStateID",
    "GetDeviceList",
    "BindConnToSession",
    "DestroyClientID",
    "Seek",
    "Allocate",
    "DeAllocate",
    "LayoutStats",
    "Clone",
];

struct NfsCollector {
    path: PathBuf,
}

pub fn build(config: &NodeConfig) -> Result<AnyCollector, BuildError> {
    Ok(AnyCollector::blocking(NfsCollector {
        path: config.proc("net/rpc/nfs"),
    }))
}

impl BlockingCollector for NfsCollector {
    fn collect(&self, sink: &mut MetricSink) -> Result<(), CollectError> {
        let text = read_text(&self.path)?;
        let lines = parse_lines(&text, "nfs");
        let net = fixed(&lines, "net", 4);
        sink.add(&PACKETS, &["udp"], net[1] as f64);
        sink.add(&PACKETS, &["tcp"], net[2] as f64);
        sink.add(&CONNECTIONS, &[], net[3] as f64);
        let rpc = fixed(&lines, "rpc", 3);
        sink.add(&RPCS, &[], rpc[0] as f64);
        sink.add(&RETRANSMISSIONS, &[], rpc[1] as f64);
        sink.add(&AUTH_REFRESHES, &[], rpc[2] as f64);

        let versions: [(&str, &str, &[&str]); 3] = [
            ("2", "proc2", &V2_PROCEDURES),
            ("3", "proc3", &V3_PROCEDURES),
            ("4", "proc4", &V4_PROCEDURES),
        ];
        for (proto, key, names) in versions {
            // NFSv2 and v3 lines must hold every procedure, but a short v4 line is padded.
            let minimum = if proto == "4" { 0 } else { names.len() };
            let counts = procedures(&lines, key, names.len(), minimum);
            for (name, count) in names.iter().zip(counts) {
                sink.add(&REQUESTS, &[proto, name], count as f64);
            }
        }
        Ok(())
    }
}

/// Parses every `key value value ...` line into a map. A line whose values are not all unsigned
/// integers is skipped. Only the first two values of the `th` line are kept, because the rest
/// are decimal fractions on old kernels.
pub fn parse_lines<'a>(text: &'a str, collector: &str) -> HashMap<&'a str, Vec<u64>> {
    let mut lines = HashMap::new();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        let Some(key) = words.next() else {
            continue;
        };
        let words: Vec<&str> = if key == "th" {
            words.take(2).collect()
        } else {
            words.collect()
        };
        let values: Option<Vec<u64>> = words.iter().map(|w| w.parse().ok()).collect();
        match values {
            Some(values) if !values.is_empty() => {
                lines.insert(key, values);
            }
            _ => debug!(collector, line, "Skipped a malformed line"),
        }
    }
    lines
}

/// Returns the values of line `key` if it has exactly `count` of them, else `count` zeros, as
/// node_exporter reports a missing line.
pub fn fixed(lines: &HashMap<&str, Vec<u64>>, key: &str, count: usize) -> Vec<u64> {
    match lines.get(key) {
        Some(values) if values.len() == count => values.clone(),
        Some(values) => {
            debug!(
                key,
                values = values.len(),
                expected = count,
                "Ignored a line of unexpected length"
            );
            vec![0; count]
        }
        None => vec![0; count],
    }
}

/// Returns `count` procedure counters of a line that starts with the number of counters that
/// follow. A line whose count disagrees with its length or has fewer than `minimum` counters
/// reads as all zeros.
pub fn procedures(
    lines: &HashMap<&str, Vec<u64>>,
    key: &str,
    count: usize,
    minimum: usize,
) -> Vec<u64> {
    let mut counters = vec![0; count];
    let Some((declared, values)) = lines.get(key).and_then(|v| v.split_first()) else {
        return counters;
    };
    if *declared as usize != values.len() || values.len() < minimum {
        debug!(
            key,
            "Ignored a procedure line whose count does not match its values"
        );
        return counters;
    }
    for (counter, value) in counters.iter_mut().zip(values) {
        *counter = *value;
    }
    counters
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::net_common::testing::{collect, config, count, value, write};

    const NFS: &str = "net 70 70 69 45
rpc 1218785755 374636 1218815394
proc2 18 16 57 74 52 71 73 45 86 0 52 83 61 17 53 50 23 70 82
proc3 22 0 1061909262 48906 4077635 117661341 5 29391916 2570425 2993289 590 0 0 7815 15 1130 0 3983 92385 13332 2 1 23729
proc4 3 98 51 54
";

    #[test]
    fn nfs_reads_client_stats() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "proc/net/rpc/nfs", NFS);

        let (result, families) = collect(&build(&config(dir.path(), &[])).unwrap());
        assert!(result.is_ok());

        assert_eq!(
            value(&families, "node_nfs_packets_total", &[("protocol", "tcp")]),
            Some(69.0)
        );
        assert_eq!(
            value(&families, "node_nfs_connections_total", &[]),
            Some(45.0)
        );
        assert_eq!(
            value(&families, "node_nfs_rpc_retransmissions_total", &[]),
            Some(374636.0)
        );
        let getattr = [("proto", "3"), ("method", "GetAttr")];
        assert_eq!(
            value(&families, "node_nfs_requests_total", &getattr),
            Some(1061909262.0)
        );
        let write_v4 = [("proto", "4"), ("method", "Write")];
        assert_eq!(
            value(&families, "node_nfs_requests_total", &write_v4),
            Some(54.0)
        );
        let clone = [("proto", "4"), ("method", "Clone")];
        assert_eq!(
            value(&families, "node_nfs_requests_total", &clone),
            Some(0.0)
        );
        assert_eq!(count(&families, "node_nfs_requests_total"), 18 + 22 + 59);
    }

    #[test]
    fn nfs_malformed_line_reads_zero() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "proc/net/rpc/nfs",
            "net 1 2 3\nrpc 5 x 6\nproc2 19 1 2\n",
        );

        let (result, families) = collect(&build(&config(dir.path(), &[])).unwrap());
        assert!(result.is_ok());

        assert_eq!(
            value(&families, "node_nfs_connections_total", &[]),
            Some(0.0)
        );
        assert_eq!(value(&families, "node_nfs_rpcs_total", &[]), Some(0.0));
        let null = [("proto", "2"), ("method", "Null")];
        assert_eq!(
            value(&families, "node_nfs_requests_total", &null),
            Some(0.0)
        );
    }

    #[test]
    fn nfs_without_client_is_no_data() {
        let dir = tempfile::tempdir().unwrap();
        let (result, _) = collect(&build(&config(dir.path(), &[])).unwrap());
        assert!(matches!(result, Err(CollectError::NoData(_))));
    }
}
