//! The netstat collector: protocol counters from /proc/net/netstat and /proc/net/snmp (pairs of
//! `Proto: names` and `Proto: values` lines) and /proc/net/snmp6 (one `NameValue` pair per
//! line), filtered by `--collector.netstat.fields`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Arg;
use exporter_core::collector::BuildError;
use exporter_core::{AnyCollector, BlockingCollector, CollectError, MetricSink, MetricType, Value};
use regex::Regex;
use tracing::debug;

use super::net_common::read_text;
use super::NodeConfig;

/// Default of `--collector.netstat.fields` in node_exporter 1.12.
const DEFAULT_FIELDS: &str = "^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|Icmp6?_(InMsgs|OutMsgs)|TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts|TCPOFOQueue|TCPRcvQDrop)|Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab)|Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$";

/// Counters keyed by `<protocol>_<name>`, such as `Tcp_InSegs`.
type Counters = BTreeMap<String, f64>;

struct NetstatCollector {
    netstat: PathBuf,
    snmp: PathBuf,
    snmp6: PathBuf,
    fields: Regex,
}

pub fn args() -> Vec<Arg> {
    vec![Arg::new("collector.netstat.fields")
        .long("collector.netstat.fields")
        .default_value(DEFAULT_FIELDS)
        .help("Regexp of the <protocol>_<counter> fields that the netstat collector exports")]
}

pub fn build(config: &NodeConfig) -> Result<AnyCollector, BuildError> {
    let pattern = config
        .string("collector.netstat.fields")
        .unwrap_or_else(|| DEFAULT_FIELDS.to_owned());
    let fields = Regex::new(&pattern)
        .map_err(|e| format!("invalid --collector.netstat.fields {pattern:?}: {e}"))?;
    Ok(AnyCollector::blocking(NetstatCollector {
        netstat: config.proc("net/netstat"),
        snmp: config.proc("net/snmp"),
        snmp6: config.proc("net/snmp6"),
        fields,
    }))
}

impl BlockingCollector for NetstatCollector {
    fn collect(&self, sink: &mut MetricSink) -> Result<(), CollectError> {
        let mut counters = Counters::new();
        parse_line_pairs(&read_text(&self.netstat)?, &mut counters);
        parse_line_pairs(&read_text(&self.snmp)?, &mut counters);
        // /proc/net/snmp6 is missing when IPv6 is disabled.
        match read_text(&self.snmp6) {
            Ok(text) => parse_snmp6(&text, &mut counters),
            Err(CollectError::NoData(_)) => {}
            Err(e) => return Err(e),
        }
        for (key, value) in counters {
            if !self.fields.is_match(&key) {
                continue;
            }
            let help = format!("Kernel network counter {key}, from /proc/net.");
            sink.add_dynamic(
                format!("node_netstat_{key}"),
                help,
                MetricType::Untyped,
                Vec::new(),
                Value::Number(value),
                None,
            );
        }
        Ok(())
    }
}

/// Parses the `Proto: name name ...` / `Proto: value value ...` line pairs of
/// /proc/net/netstat and /proc/net/snmp. A pair whose protocols or lengths differ is skipped,
/// and so is a single value that is not a number.
fn parse_line_pairs(text: &str, counters: &mut Counters) {
    let mut lines = text.lines().filter(|line| !line.trim().is_empty());
    while let (Some(names), Some(values)) = (lines.next(), lines.next()) {
        let mut names = names.split_whitespace();
        let mut values = values.split_whitespace();
        let (Some(protocol), Some(protocol_again)) = (names.next(), values.next()) else {
            continue;
        };
        let names: Vec<&str> = names.collect();
        let values: Vec<&str> = values.collect();
        if protocol != protocol_again || names.len() != values.len() {
            debug!(
                collector = "netstat",
                protocol, "Skipped a malformed pair of lines"
            );
            continue;
        }
        let protocol = protocol.trim_end_matches(':');
        for (name, value) in names.iter().zip(values) {
            match value.parse::<f64>() {
                Ok(value) => {
                    counters.insert(format!("{protocol}_{name}"), value);
                }
                Err(_) => debug!(
                    collector = "netstat",
                    protocol, name, value, "Skipped an invalid value"
                ),
            }
        }
    }
}

/// Parses /proc/net/snmp6, whose names start with the protocol up to its `6`, as in
/// `Udp6InDatagrams` or `UdpLite6InErrors`.
fn parse_snmp6(text: &str, counters: &mut Counters) {
    for line in text.lines() {
        let mut words = line.split_whitespace();
        let (Some(key), Some(value)) = (words.next(), words.next()) else {
            continue;
        };
        let Some(six) = key.find('6') else {
            continue;
        };
        let (protocol, name) = key.split_at(six + 1);
        match value.parse::<f64>() {
            Ok(value) => {
                counters.insert(format!("{protocol}_{name}"), value);
            }
            Err(_) => debug!(
                collector = "netstat",
                key, value, "Skipped an invalid value"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::net_common::testing::{collect, config, value, write};

    fn fixture() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "proc/net/netstat", "TcpExt: SyncookiesSent TCPTimeouts PruneCalled\nTcpExt: 1 115 7\nIpExt: InOctets OutOctets\nIpExt: 6286396970 2786264347\n");
        write(dir.path(), "proc/net/snmp", "Ip: Forwarding DefaultTTL\nIp: 1 64\nUdp: InDatagrams NoPorts\nUdp: 88542 x\nTcp: InSegs\nTcp: 1 2\n");
        write(
            dir.path(),
            "proc/net/snmp6",
            "Ip6InOctets \t460\nUdpLite6InErrors 3\nIcmp6OutMsgs 8\nbroken\n",
        );
        dir
    }

    #[test]
    fn netstat_default_fields() {
        let dir = fixture();

        let (result, families) = collect(&build(&config(dir.path(), &[])).unwrap());
        assert!(result.is_ok());

        assert_eq!(
            value(&families, "node_netstat_TcpExt_SyncookiesSent", &[]),
            Some(1.0)
        );
        assert_eq!(
            value(&families, "node_netstat_TcpExt_TCPTimeouts", &[]),
            Some(115.0)
        );
        assert_eq!(
            value(&families, "node_netstat_IpExt_InOctets", &[]),
            Some(6286396970.0)
        );
        assert_eq!(
            value(&families, "node_netstat_Ip_Forwarding", &[]),
            Some(1.0)
        );
        assert_eq!(
            value(&families, "node_netstat_Udp_InDatagrams", &[]),
            Some(88542.0)
        );
        assert_eq!(
            value(&families, "node_netstat_Ip6_InOctets", &[]),
            Some(460.0)
        );
        assert_eq!(
            value(&families, "node_netstat_UdpLite6_InErrors", &[]),
            Some(3.0)
        );
        assert_eq!(
            value(&families, "node_netstat_Icmp6_OutMsgs", &[]),
            Some(8.0)
        );
        assert!(families.iter().all(|f| f.kind == MetricType::Untyped));
    }

    #[test]
    fn netstat_skips_malformed_input() {
        let dir = fixture();

        let (_, families) = collect(&build(&config(dir.path(), &[])).unwrap());
        assert_eq!(value(&families, "node_netstat_Udp_NoPorts", &[]), None);
        assert_eq!(value(&families, "node_netstat_Tcp_InSegs", &[]), None);
        assert_eq!(
            value(&families, "node_netstat_TcpExt_PruneCalled", &[]),
            None
        );
    }

    #[test]
    fn netstat_fields_flag_selects() {
        let dir = fixture();
        let flags = ["--collector.netstat.fields=^Ip_DefaultTTL$"];

        let (_, families) = collect(&build(&config(dir.path(), &flags)).unwrap());
        assert_eq!(families.len(), 1);
        assert_eq!(
            value(&families, "node_netstat_Ip_DefaultTTL", &[]),
            Some(64.0)
        );
    }

    #[test]
    fn netstat_without_snmp6_succeeds() {
        let dir = fixture();
        std::fs::remove_file(dir.path().join("proc/net/snmp6")).unwrap();

        let (result, families) = collect(&build(&config(dir.path(), &[])).unwrap());
        assert!(result.is_ok());

        assert_eq!(
            value(&families, "node_netstat_Ip_Forwarding", &[]),
            Some(1.0)
        );
    }
}
