//! The nfsd collector: NFS server statistics from /proc/net/rpc/nfsd (reply cache `rc`, file
//! handles `fh`, `io`, threads `th`, read-ahead cache `ra`, `net`, `rpc`, per-version procedure
//! lines and `wdeleg_getattr`, see fs/nfsd/stats.c).

use std::path::PathBuf;

use exporter_core::collector::BuildError;
use exporter_core::{AnyCollector, BlockingCollector, CollectError, Desc, MetricSink};

use super::net_common::read_text;
use super::nfs::{fixed, parse_lines, procedures, V2_PROCEDURES, V3_PROCEDURES};
use super::NodeConfig;

const REQUESTS: Desc = Desc::counter(
    "node_nfsd_requests_total",
    "NFS procedures served, by protocol version and procedure.",
    &["proto", "method"],
);
const PACKETS: Desc = Desc::counter(
    "node_nfsd_packets_total",
    "Network packets of the NFS server by transport protocol.",
    &["proto"],
);
const RPC_ERRORS: Desc = Desc::counter(
    "node_nfsd_rpc_errors_total",
    "RPCs the NFS server rejected, by kind of error.",
    &["error"],
);

/// Line key, position of the value in the line, and the family it feeds, for the families
/// without labels.
const SINGLE_VALUES: &[(&str, usize, usize, Desc)] = &[
    (
        "rc",
        3,
        0,
        Desc::counter(
            "node_nfsd_reply_cache_hits_total",
            "Requests answered from the reply cache because the client retransmitted them.",
            &[],
        ),
    ),
    (
        "rc",
        3,
        1,
        Desc::counter(
            "node_nfsd_reply_cache_misses_total",
            "Idempotent requests that missed the reply cache.",
            &[],
        ),
    ),
    (
        "rc",
        3,
        2,
        Desc::counter(
            "node_nfsd_reply_cache_nocache_total",
            "Non-idempotent requests, which bypass the reply cache.",
            &[],
        ),
    ),
    (
        "fh",
        5,
        0,
        Desc::counter(
            "node_nfsd_file_handles_stale_total",
            "Requests with a stale file handle.",
            &[],
        ),
    ),
    (
        "io",
        2,
        0,
        Desc::counter(
            "node_nfsd_disk_bytes_read_total",
            "Bytes the NFS server read from disk.",
            &[],
        ),
    ),
    (
        "io",
        2,
        1,
        Desc::counter(
            "node_nfsd_disk_bytes_written_total",
            "Bytes the NFS server wrote to disk.",
            &[],
        ),
    ),
    (
        "th",
        2,
        0,
        Desc::gauge(
            "node_nfsd_server_threads",
            "Running NFS server kernel threads.",
            &[],
        ),
    ),
    (
        "ra",
        12,
        0,
        Desc::gauge(
            "node_nfsd_read_ahead_cache_size_blocks",
            "Size of the read-ahead cache in blocks.",
            &[],
        ),
    ),
    (
        "ra",
        12,
        11,
        Desc::counter(
            "node_nfsd_read_ahead_cache_not_found_total",
            "Lookups that missed the read-ahead cache.",
            &[],
        ),
    ),
    (
        "net",
        4,
        3,
        Desc::counter(
            "node_nfsd_connections_total",
            "TCP connections accepted by the NFS server.",
            &[],
        ),
    ),
    (
        "rpc",
        5,
        0,
        Desc::counter(
            "node_nfsd_server_rpcs_total",
            "RPCs received by the NFS server.",
            &[],
        ),
    ),
];

/// Position in the `proc4ops` line (after its count) of each NFSv4 operation that is exported;
/// see `enum nfs_opnum4` in include/linux/nfs4.h.
const V4_OPERATIONS: [(usize, &str); 35] = [
    (3, "Access"),
    (4, "Close"),
    (5, "Commit"),
    (6, "Create"),
    (7, "DelegPurge"),
    (8, "DelegReturn"),
    (9, "GetAttr"),
    (10, "GetFH"),
    (11, "Link"),
    (12, "Lock"),
    (13, "Lockt"),
    (14, "Locku"),
    (15, "Lookup"),
    (16, "LookupRoot"),
    (17, "Nverify"),
    (18, "Open"),
    (19, "OpenAttr"),
    (20, "OpenConfirm"),
    (21, "OpenDgrd"),
    (22, "PutFH"),
    (25, "Read"),
    (26, "ReadDir"),
    (27, "ReadLink"),
    (28, "Remove"),
    (29, "Rename"),
    (30, "Renew"),
    (31, "RestoreFH"),
    (32, "SaveFH"),
    (33, "SecInfo"),
    (34, "SetAttr"),
    (35, "SetClientID"),
    (36, "SetClientIDConfirm"),
    (37, "Verify"),
    (38, "Write"),
    (39, "RelLockOwner"),
];

/// Minimum number of operations in a valid `proc4ops` line, the operations through OP_WRITE.
const V4_MIN_OPERATIONS: usize = 39;

struct NfsdCollector {
    path: PathBuf,
}

pub fn build(config: &NodeConfig) -> Result<AnyCollector, BuildError> {
    Ok(AnyCollector::blocking(NfsdCollector {
        path: config.proc("net/rpc/nfsd"),
    }))
}

impl BlockingCollector for NfsdCollector {
    fn collect(&self, sink: &mut MetricSink) -> Result<(), CollectError> {
        let text = read_text(&self.path)?;
        let lines = parse_lines(&text, "nfsd");
        for (key, length, index, desc) in SINGLE_VALUES {
            sink.add(desc, &[], fixed(&lines, key, *length)[*index] as f64);
        }
        let net = fixed(&lines, "net", 4);
        sink.add(&PACKETS, &["udp"], net[1] as f64);
        sink.add(&PACKETS, &["tcp"], net[2] as f64);
        let rpc = fixed(&lines, "rpc", 5);
        for (error, value) in [("fmt", rpc[2]), ("auth", rpc[3]), ("cInt", rpc[4])] {
            sink.add(&RPC_ERRORS, &[error], value as f64);
        }

        // The server does not export the Null procedure of NFSv2 and v3.
        let versions: [(&str, &str, &[&str]); 2] = [
            ("2", "proc2", &V2_PROCEDURES),
            ("3", "proc3", &V3_PROCEDURES),
        ];
        for (proto, key, names) in versions {
            let counts = procedures(&lines, key, names.len(), names.len());
            for (name, count) in names.iter().zip(counts).skip(1) {
                sink.add(&REQUESTS, &[proto, name], count as f64);
            }
        }
        let operations = procedures(&lines, "proc4ops", V4_MIN_OPERATIONS + 1, V4_MIN_OPERATIONS);
        for (index, name) in V4_OPERATIONS.iter() {
            sink.add(&REQUESTS, &["4", name], operations[*index] as f64);
        }
        let getattr = lines.get("wdeleg_getattr").and_then(|v| v.first()).copied();
        sink.add(
            &REQUESTS,
            &["4", "WdelegGetattr"],
            getattr.unwrap_or(0) as f64,
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::net_common::testing::{collect, config, count, value, write};

    const NFSD: &str = "rc 0 6 18622
fh 0 0 0 0 0
io 157286400 72864
th 8 0 0.000 0.000 0.000 0.000 0.000 0.000 0.000 0.000 0.000 0.000
ra 32 0 0 0 0 0 0 0 0 0 0 0
net 972 55 917 1
rpc 18628 3 1 2 0
proc2 18 2 69 0 0 4410 0 0 0 0 0 0 0 0 0 0 0 99 2
proc3 22 2 112 0 2719 111 0 0 0 0 0 0 0 0 0 0 0 27 216 0 2 1 0
proc4 2 2 10853
proc4ops 40 0 0 0 1098 2 0 0 0 0 8179 5896 0 0 0 0 5900 0 0 2 0 2 0 9609 0 2 150 1272 0 0 0 1236 0 0 0 0 3 3 0 0 7
wdeleg_getattr 15
";

    #[test]
    fn nfsd_reads_server_stats() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "proc/net/rpc/nfsd", NFSD);

        let (result, families) = collect(&build(&config(dir.path(), &[])).unwrap());
        assert!(result.is_ok());

        assert_eq!(
            value(&families, "node_nfsd_reply_cache_nocache_total", &[]),
            Some(18622.0)
        );
        assert_eq!(value(&families, "node_nfsd_server_threads", &[]), Some(8.0));
        assert_eq!(
            value(&families, "node_nfsd_read_ahead_cache_size_blocks", &[]),
            Some(32.0)
        );
        assert_eq!(
            value(&families, "node_nfsd_packets_total", &[("proto", "tcp")]),
            Some(917.0)
        );
        assert_eq!(
            value(
                &families,
                "node_nfsd_rpc_errors_total",
                &[("error", "auth")]
            ),
            Some(2.0)
        );
        let access = [("proto", "4"), ("method", "Access")];
        assert_eq!(
            value(&families, "node_nfsd_requests_total", &access),
            Some(1098.0)
        );
        let rel = [("proto", "4"), ("method", "RelLockOwner")];
        assert_eq!(
            value(&families, "node_nfsd_requests_total", &rel),
            Some(7.0)
        );
        let wdeleg = [("proto", "4"), ("method", "WdelegGetattr")];
        assert_eq!(
            value(&families, "node_nfsd_requests_total", &wdeleg),
            Some(15.0)
        );
        let null = [("proto", "3"), ("method", "Null")];
        assert_eq!(value(&families, "node_nfsd_requests_total", &null), None);
        assert_eq!(
            count(&families, "node_nfsd_requests_total"),
            17 + 21 + 35 + 1
        );
    }

    #[test]
    fn nfsd_short_v4_line_reads_zero() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "proc/net/rpc/nfsd",
            "proc4ops 3 0 0 5\nth 4 0 nope\n",
        );

        let (result, families) = collect(&build(&config(dir.path(), &[])).unwrap());
        assert!(result.is_ok());

        let access = [("proto", "4"), ("method", "Access")];
        assert_eq!(
            value(&families, "node_nfsd_requests_total", &access),
            Some(0.0)
        );
        assert_eq!(value(&families, "node_nfsd_server_threads", &[]), Some(4.0));
    }

    #[test]
    fn nfsd_without_server_is_no_data() {
        let dir = tempfile::tempdir().unwrap();
        let (result, _) = collect(&build(&config(dir.path(), &[])).unwrap());
        assert!(matches!(result, Err(CollectError::NoData(_))));
    }
}
