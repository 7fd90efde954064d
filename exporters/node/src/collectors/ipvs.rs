//! The ipvs collector: IP Virtual Server totals from /proc/net/ip_vs_stats (hexadecimal) and the
//! connections and weight of each real server from /proc/net/ip_vs, summed over the label set
//! that `--collector.ipvs.backend-labels` selects.

use std::collections::BTreeMap;
use std::net::Ipv6Addr;
use std::path::PathBuf;

use clap::Arg;
use exporter_core::collector::BuildError;
use exporter_core::metric::LabelName;
use exporter_core::{AnyCollector, BlockingCollector, CollectError, Desc, MetricSink};
use exporter_core::{MetricType, Value};
use tracing::debug;

use super::net_common::{parse_hex, read_text, NetError};
use super::NodeConfig;

/// Backend label names in node_exporter's order, which is also the default of the flag.
const BACKEND_LABELS: [&str; 6] = [
    "local_address",
    "local_port",
    "remote_address",
    "remote_port",
    "proto",
    "local_mark",
];

/// Families of the five columns of the totals line of /proc/net/ip_vs_stats.
const TOTALS: [Desc; 5] = [
    Desc::counter(
        "node_ipvs_connections_total",
        "Connections handled by IPVS.",
        &[],
    ),
    Desc::counter(
        "node_ipvs_incoming_packets_total",
        "Packets received by IPVS.",
        &[],
    ),
    Desc::counter(
        "node_ipvs_outgoing_packets_total",
        "Packets sent by IPVS.",
        &[],
    ),
    Desc::counter(
        "node_ipvs_incoming_bytes_total",
        "Bytes received by IPVS.",
        &[],
    ),
    Desc::counter("node_ipvs_outgoing_bytes_total", "Bytes sent by IPVS.", &[]),
];

/// Name and HELP of the backend families, fed by the active, inactive and weight columns.
const BACKEND_FAMILIES: [(&str, &str); 3] = [
    (
        "node_ipvs_backend_connections_active",
        "Active connections to a real server.",
    ),
    (
        "node_ipvs_backend_connections_inactive",
        "Inactive connections to a real server.",
    ),
    ("node_ipvs_backend_weight", "Weight of a real server."),
];

/// One real server line of /proc/net/ip_vs with its virtual service.
#[derive(Debug, Default)]
struct Backend {
    local_address: String,
    local_port: u16,
    local_mark: String,
    remote_address: String,
    remote_port: u16,
    proto: String,
    /// Weight, active connections and inactive connections.
    values: [u64; 3],
}

struct IpvsCollector {
    labels: Vec<&'static str>,
    stats: PathBuf,
    backends: PathBuf,
}

pub fn args() -> Vec<Arg> {
    vec![Arg::new("collector.ipvs.backend-labels")
        .long("collector.ipvs.backend-labels")
        .default_value(BACKEND_LABELS.join(","))
        .help("Comma-separated labels of the IPVS backend families (backends that share them are summed)")]
}

pub fn build(config: &NodeConfig) -> Result<AnyCollector, BuildError> {
    let requested = config
        .string("collector.ipvs.backend-labels")
        .unwrap_or_else(|| BACKEND_LABELS.join(","));
    let requested: Vec<&str> = requested.split(',').filter(|l| !l.is_empty()).collect();
    let mut unknown: Vec<&str> = requested
        .iter()
        .copied()
        .filter(|label| !BACKEND_LABELS.contains(label))
        .collect();
    if !unknown.is_empty() {
        unknown.sort_unstable();
        unknown.dedup();
        return Err(format!("unknown IPVS backend labels: {}", unknown.join(", ")).into());
    }
    Ok(AnyCollector::blocking(IpvsCollector {
        labels: BACKEND_LABELS
            .into_iter()
            .filter(|label| requested.contains(label))
            .collect(),
        stats: config.proc("net/ip_vs_stats"),
        backends: config.proc("net/ip_vs"),
    }))
}

impl BlockingCollector for IpvsCollector {
    fn collect(&self, sink: &mut MetricSink) -> Result<(), CollectError> {
        let stats = read_text(&self.stats)?;
        let totals = parse_stats(&stats).ok_or_else(|| NetError::InvalidValue {
            path: self.stats.clone(),
            value: stats.lines().nth(2).unwrap_or_default().to_owned(),
        })?;
        for (desc, value) in TOTALS.iter().zip(totals) {
            sink.add(desc, &[], value as f64);
        }

        let mut sums: BTreeMap<Vec<String>, [u64; 3]> = BTreeMap::new();
        for backend in parse_backends(&read_text(&self.backends)?) {
            let key: Vec<String> = self.labels.iter().map(|l| backend.label(l)).collect();
            let sum = sums.entry(key).or_default();
            for (total, value) in sum.iter_mut().zip(backend.values) {
                *total = total.wrapping_add(value);
            }
        }
        for (key, [weight, active, inactive]) in sums {
            let labels: Vec<(LabelName, String)> = self
                .labels
                .iter()
                .map(|l| LabelName::Borrowed(l))
                .zip(key)
                .collect();
            for ((name, help), value) in BACKEND_FAMILIES.iter().zip([active, inactive, weight]) {
                let value = Value::Number(value as f64);
                sink.add_dynamic(*name, *help, MetricType::Gauge, labels.clone(), value, None);
            }
        }
        Ok(())
    }
}

impl Backend {
    fn label(&self, name: &str) -> String {
        match name {
            "local_address" => self.local_address.clone(),
            "local_port" => self.local_port.to_string(),
            "remote_address" => self.remote_address.clone(),
            "remote_port" => self.remote_port.to_string(),
            "proto" => self.proto.clone(),
            _ => self.local_mark.clone(),
        }
    }
}

/// Parses the third line of /proc/net/ip_vs_stats: connections, incoming and outgoing packets,
/// incoming and outgoing bytes, in hexadecimal.
fn parse_stats(text: &str) -> Option<[u64; 5]> {
    let fields: Vec<u64> = text
        .lines()
        .nth(2)?
        .split_whitespace()
        .map(parse_hex)
        .collect::<Option<_>>()?;
    fields.try_into().ok()
}

/// Parses /proc/net/ip_vs: a `TCP|UDP addr:port` or `FWM mark` line opens a virtual service
/// and each following `-> addr:port forward weight active inactive` line is one real server.
/// Real servers that cannot be parsed are skipped.
fn parse_backends(text: &str) -> Vec<Backend> {
    let mut backends = Vec::new();
    let mut service = Backend::default();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields.as_slice() {
            [proto @ ("TCP" | "UDP"), address, ..] => match parse_address(address) {
                Some((ip, port)) => {
                    service = Backend {
                        local_address: ip,
                        local_port: port,
                        proto: proto.to_string(),
                        ..Backend::default()
                    };
                }
                None => debug!(collector = "ipvs", line, "Skipped a malformed line"),
            },
            ["FWM", mark, ..] => {
                service = Backend {
                    local_mark: mark.to_string(),
                    proto: "FWM".to_owned(),
                    ..Backend::default()
                };
            }
            ["->", address, _forward, weight, active, inactive, ..] => {
                let parsed = parse_address(address).zip(
                    [weight, active, inactive]
                        .map(|v| v.parse::<u64>().ok())
                        .into_iter()
                        .collect::<Option<Vec<u64>>>(),
                );
                let Some(((ip, port), values)) = parsed else {
                    debug!(collector = "ipvs", line, "Skipped a malformed line");
                    continue;
                };
                backends.push(Backend {
                    local_address: service.local_address.clone(),
                    local_port: service.local_port,
                    local_mark: service.local_mark.clone(),
                    remote_address: ip,
                    remote_port: port,
                    proto: service.proto.clone(),
                    values: [values[0], values[1], values[2]],
                });
            }
            _ => {}
        }
    }
    backends
}

/// Parses `C0A80016:0CEA` (IPv4 in hexadecimal) or `[2620:0:...:1]:0050` (IPv6) with a
/// hexadecimal port.
fn parse_address(text: &str) -> Option<(String, u16)> {
    let (address, port) = text.rsplit_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let address = if let Some(v6) = address.strip_prefix('[').and_then(|a| a.strip_suffix(']')) {
        v6.parse::<Ipv6Addr>().ok()?.to_string()
    } else if address.len() == 8 {
        let octets = u32::from_str_radix(address, 16).ok()?.to_be_bytes();
        std::net::Ipv4Addr::from(octets).to_string()
    } else {
        return None;
    };
    Some((address, port))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::net_common::testing::{collect, config, count, value, write};

    const IP_VS: &str = "IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port Forward Weight ActiveConn InActConn
TCP  C0A80016:0CEA wlc
  -> C0A85216:0CEA      Tunnel  100    248        2
  -> C0A85318:0CEA      Tunnel  100    10         1
  -> broken:0CEA        Tunnel  100    1          1
UDP  [2620:0000:0000:0000:0000:0000:0000:0001]:0035 rr
  -> [2620:0000:0000:0000:0000:0000:0000:0002]:0035 Route 1 0 3
FWM  10001000 wlc
  -> C0A8321A:0CEA      Tunnel  20     64         1
";
    const IP_VS_STATS: &str = "   Total Incoming Outgoing         Incoming         Outgoing
   Conns  Packets  Packets            Bytes            Bytes
 16AA370 E33656E5        0     51D8C8883AB3                0
";

    fn fixture() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "proc/net/ip_vs", IP_VS);
        write(dir.path(), "proc/net/ip_vs_stats", IP_VS_STATS);
        dir
    }

    #[test]
    fn ipvs_reads_totals_and_backends() {
        let dir = fixture();

        let (result, families) = collect(&build(&config(dir.path(), &[])).unwrap());
        assert!(result.is_ok());

        assert_eq!(
            value(&families, "node_ipvs_connections_total", &[]),
            Some(23765872.0)
        );
        assert_eq!(
            value(&families, "node_ipvs_incoming_bytes_total", &[]),
            Some(89991519156915.0)
        );
        let tcp = [
            ("local_address", "192.168.0.22"),
            ("local_port", "3306"),
            ("remote_address", "192.168.82.22"),
            ("remote_port", "3306"),
            ("proto", "TCP"),
            ("local_mark", ""),
        ];
        assert_eq!(
            value(&families, "node_ipvs_backend_connections_active", &tcp),
            Some(248.0)
        );
        assert_eq!(
            value(&families, "node_ipvs_backend_weight", &tcp),
            Some(100.0)
        );
        let udp = [
            ("local_address", "2620::1"),
            ("local_port", "53"),
            ("remote_address", "2620::2"),
            ("remote_port", "53"),
            ("proto", "UDP"),
            ("local_mark", ""),
        ];
        assert_eq!(
            value(&families, "node_ipvs_backend_connections_inactive", &udp),
            Some(3.0)
        );
        assert_eq!(count(&families, "node_ipvs_backend_weight"), 4);
    }

    #[test]
    fn ipvs_label_subset_sums_backends() {
        let dir = fixture();
        let flags = ["--collector.ipvs.backend-labels=proto"];

        let (_, families) = collect(&build(&config(dir.path(), &flags)).unwrap());
        let active = "node_ipvs_backend_connections_active";
        assert_eq!(value(&families, active, &[("proto", "TCP")]), Some(258.0));
        assert_eq!(value(&families, active, &[("proto", "FWM")]), Some(64.0));
    }

    #[test]
    fn ipvs_rejects_unknown_label() {
        let dir = fixture();
        let flags = ["--collector.ipvs.backend-labels=proto,vip"];
        assert!(build(&config(dir.path(), &flags)).is_err());
    }

    #[test]
    fn ipvs_without_module_is_no_data() {
        let dir = tempfile::tempdir().unwrap();
        let (result, _) = collect(&build(&config(dir.path(), &[])).unwrap());
        assert!(matches!(result, Err(CollectError::NoData(_))));
    }
}
