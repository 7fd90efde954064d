//! The netdev collector: per-interface traffic counters, from rtnetlink (RTM_GETLINK,
//! IFLA_STATS64) by default or from /proc/net/dev with `--no-collector.netdev.netlink`, and with
//! `--collector.netdev.address-info` the addresses of each interface from getifaddrs(3).

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Arg;
use exporter_core::collector::BuildError;
use exporter_core::metric::LabelName;
use exporter_core::{AnyCollector, BlockingCollector, CollectError, MetricSink, MetricType, Value};
use tracing::{debug, warn};

use super::net_common::{bool_args, bool_value, read_text, DeviceFilter, NetError};
use super::netclass::read_attribute;
use super::netdev_addr::{self, ADDRESS_INFO};
use super::rtnetlink::{self, STAT_FIELDS};
use super::NodeConfig;

/// Counter names of the columns of /proc/net/dev, receive columns first.
const PROC_FIELDS: [&str; 16] = [
    "receive_bytes",
    "receive_packets",
    "receive_errors",
    "receive_dropped",
    "receive_fifo",
    "receive_frame",
    "receive_compressed",
    "receive_multicast",
    "transmit_bytes",
    "transmit_packets",
    "transmit_errors",
    "transmit_dropped",
    "transmit_fifo",
    "transmit_colls",
    "transmit_carrier",
    "transmit_compressed",
];

/// Counters of one interface by name.
type Counters = BTreeMap<&'static str, u64>;

struct NetdevCollector {
    filter: DeviceFilter,
    netlink: bool,
    detailed: bool,
    address_info: bool,
    label_ifalias: bool,
    proc_net_dev: PathBuf,
    sys_class_net: PathBuf,
}

pub fn args() -> Vec<Arg> {
    let mut args = super::net_common::device_filter_args("netdev", "network");
    for old in ["device-whitelist", "device-blacklist"] {
        let name = format!("collector.netdev.{old}");
        args.push(Arg::new(name.clone()).long(name).hide(true));
    }
    args.extend(bool_args(
        "collector.netdev.address-info",
        false,
        "Export node_network_address_info for every address of every device",
    ));
    args.extend(bool_args(
        "collector.netdev.enable-detailed-metrics",
        false,
        "Export the kernel's counter names instead of the /proc/net/dev names",
    ));
    args.extend(bool_args(
        "collector.netdev.netlink",
        true,
        "Read counters over rtnetlink instead of from /proc/net/dev",
    ));
    args.extend(bool_args(
        "collector.netdev.label-ifalias",
        false,
        "Add the ifalias label from /sys/class/net/<device>/ifalias",
    ));
    args
}

pub fn build(config: &NodeConfig) -> Result<AnyCollector, BuildError> {
    let include = deprecated_alias(config, "device-include", "device-whitelist")?;
    let exclude = deprecated_alias(config, "device-exclude", "device-blacklist")?;
    Ok(AnyCollector::blocking(NetdevCollector {
        filter: DeviceFilter::new(include.as_deref(), exclude.as_deref())?,
        netlink: bool_value(config, "collector.netdev.netlink", true),
        detailed: bool_value(config, "collector.netdev.enable-detailed-metrics", false),
        address_info: bool_value(config, "collector.netdev.address-info", false),
        label_ifalias: bool_value(config, "collector.netdev.label-ifalias", false),
        proc_net_dev: config.proc("net/dev"),
        sys_class_net: config.sys("class/net"),
    }))
}

/// Returns the value of `--collector.netdev.<current>`, or of the deprecated flag `<old>` with
/// a warning. Giving both is an error.
fn deprecated_alias(
    config: &NodeConfig,
    current: &str,
    old: &str,
) -> Result<Option<String>, BuildError> {
    let value = config.string(&format!("collector.netdev.{current}"));
    let Some(old_value) = config.string(&format!("collector.netdev.{old}")) else {
        return Ok(value);
    };
    if value.is_some() {
        return Err(format!(
            "--collector.netdev.{old} and --collector.netdev.{current} are mutually exclusive"
        )
        .into());
    }
    warn!("--collector.netdev.{old} is deprecated, use --collector.netdev.{current}");
    Ok(Some(old_value))
}

impl BlockingCollector for NetdevCollector {
    fn collect(&self, sink: &mut MetricSink) -> Result<(), CollectError> {
        let devices = if self.netlink {
            netlink_counters(&self.filter)?
        } else {
            parse_proc_net_dev(&read_text(&self.proc_net_dev)?, &self.filter)
        };
        for (device, mut counters) in devices {
            if !self.detailed {
                to_proc_names(&mut counters);
            }
            let mut labels: Vec<(LabelName, String)> = vec![("device".into(), device.clone())];
            // As in node_exporter, a device without a /sys/class/net entry gets no ifalias label.
            let device_dir = self.sys_class_net.join(&device);
            if self.label_ifalias && device_dir.is_dir() {
                let alias = read_attribute(&device_dir, "ifalias")?.unwrap_or_default();
                labels.push(("ifalias".into(), alias));
            }
            for (key, value) in counters {
                sink.add_dynamic(
                    format!("node_network_{key}_total"),
                    format!("Network device counter {key}."),
                    MetricType::Counter,
                    labels.clone(),
                    Value::Number(value as f64),
                    None,
                );
            }
        }
        if self.address_info {
            let addresses =
                netdev_addr::addresses().map_err(|source| NetError::Addresses { source })?;
            for address in addresses {
                if self.filter.ignored(&address.device) {
                    continue;
                }
                let labels = [
                    address.device.as_str(),
                    address.address.as_str(),
                    address.netmask.as_str(),
                    address.scope,
                ];
                sink.add(&ADDRESS_INFO, &labels, 1.0);
            }
        }
        Ok(())
    }
}

fn netlink_counters(filter: &DeviceFilter) -> Result<BTreeMap<String, Counters>, CollectError> {
    let links = rtnetlink::links().map_err(|source| NetError::Netlink {
        request: "link dump",
        source,
    })?;
    let mut devices = BTreeMap::new();
    for link in links {
        if filter.ignored(&link.name) {
            continue;
        }
        let Some(stats) = link.stats else {
            debug!(
                collector = "netdev",
                device = link.name,
                "Link has no statistics"
            );
            continue;
        };
        devices.insert(link.name, STAT_FIELDS.iter().copied().zip(stats).collect());
    }
    Ok(devices)
}

/// Parses /proc/net/dev: two header lines, then `name: ` and 16 counters per interface. Lines
/// with another number of counters or a non-integer value are skipped.
fn parse_proc_net_dev(text: &str, filter: &DeviceFilter) -> BTreeMap<String, Counters> {
    let mut devices = BTreeMap::new();
    for line in text.lines().skip(2) {
        let Some((name, rest)) = line.split_once(':') else {
            debug!(collector = "netdev", line, "Skipped a malformed line");
            continue;
        };
        let name = name.trim();
        let values: Option<Vec<u64>> = rest.split_whitespace().map(|v| v.parse().ok()).collect();
        match values {
            Some(values) if values.len() == PROC_FIELDS.len() => {
                if !filter.ignored(name) {
                    devices.insert(
                        name.to_owned(),
                        PROC_FIELDS.iter().copied().zip(values).collect(),
                    );
                }
            }
            _ => debug!(collector = "netdev", line, "Skipped a malformed line"),
        }
    }
    devices
}

/// Renames and folds the kernel's counters into the columns of /proc/net/dev, the way the
/// kernel's `dev_seq_printf_stats` (net/core/net-procfs.c) does. node_exporter exports these
/// names unless `--collector.netdev.enable-detailed-metrics` is set.
fn to_proc_names(counters: &mut Counters) {
    let mut take = |key: &str| counters.remove(key);
    let folds: [(&str, &str, &[&str]); 9] = [
        ("receive_errors", "receive_errs", &[]),
        (
            "receive_dropped",
            "receive_drop",
            &["receive_missed_errors"],
        ),
        ("receive_fifo_errors", "receive_fifo", &[]),
        (
            "receive_frame_errors",
            "receive_frame",
            &[
                "receive_length_errors",
                "receive_over_errors",
                "receive_crc_errors",
            ],
        ),
        ("multicast", "receive_multicast", &[]),
        ("transmit_errors", "transmit_errs", &[]),
        ("transmit_dropped", "transmit_drop", &[]),
        ("transmit_fifo_errors", "transmit_fifo", &[]),
        ("collisions", "transmit_colls", &[]),
    ];
    let mut renamed = Vec::new();
    for (from, to, added) in folds {
        if let Some(value) = take(from) {
            let extra: u64 = added.iter().filter_map(|key| take(key)).sum();
            renamed.push((to, value.wrapping_add(extra)));
        }
    }
    if let Some(value) = take("transmit_carrier_errors") {
        let extra: u64 = [
            "transmit_aborted_errors",
            "transmit_heartbeat_errors",
            "transmit_window_errors",
        ]
        .iter()
        .filter_map(|key| take(key))
        .sum();
        renamed.push(("transmit_carrier", value.wrapping_add(extra)));
    }
    counters.extend(renamed);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::net_common::testing::{collect, config, count, value, write};

    const PROC_NET_DEV: &str = "Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:  1000      10    1    2    3     4          5         6     2000      20    7    8    9    10      11          12
  eth0: 5 5 0 0 0 0 0 0 6 6 0 0 0 0 0 0
 broken line
  eth1: 1 2 3
";

    fn fixture() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "proc/net/dev", PROC_NET_DEV);
        write(dir.path(), "sys/class/net/lo/ifalias", "loopback\n");
        dir
    }

    #[test]
    fn netdev_reads_proc_net_dev() {
        let dir = fixture();
        let flags = ["--no-collector.netdev.netlink"];

        let (result, families) = collect(&build(&config(dir.path(), &flags)).unwrap());
        assert!(result.is_ok());

        let lo = [("device", "lo")];
        assert_eq!(
            value(&families, "node_network_receive_bytes_total", &lo),
            Some(1000.0)
        );
        assert_eq!(
            value(&families, "node_network_receive_errs_total", &lo),
            Some(1.0)
        );
        assert_eq!(
            value(&families, "node_network_receive_drop_total", &lo),
            Some(2.0)
        );
        assert_eq!(
            value(&families, "node_network_receive_multicast_total", &lo),
            Some(6.0)
        );
        assert_eq!(
            value(&families, "node_network_transmit_colls_total", &lo),
            Some(10.0)
        );
        assert_eq!(
            value(&families, "node_network_transmit_carrier_total", &lo),
            Some(11.0)
        );
        assert_eq!(
            value(&families, "node_network_transmit_compressed_total", &lo),
            Some(12.0)
        );
        assert_eq!(count(&families, "node_network_receive_bytes_total"), 2);
        assert_eq!(families.len(), 16);
    }

    #[test]
    fn netdev_invalid_utf8_device_name() {
        let dir = fixture();
        let mut text = PROC_NET_DEV.as_bytes().to_vec();
        text.extend_from_slice(b"  w\xfflan: 1 0 0 0 0 0 0 0 2 0 0 0 0 0 0 0\n");
        std::fs::write(dir.path().join("proc/net/dev"), text).unwrap();
        let flags = ["--no-collector.netdev.netlink"];

        let (result, families) = collect(&build(&config(dir.path(), &flags)).unwrap());
        assert!(result.is_ok());

        let device = [("device", "w\u{fffd}lan")];
        assert_eq!(
            value(&families, "node_network_receive_bytes_total", &device),
            Some(1.0)
        );
    }

    #[test]
    fn netdev_include_filters_devices() {
        let dir = fixture();
        let flags = [
            "--no-collector.netdev.netlink",
            "--collector.netdev.device-include=^eth",
        ];

        let (_, families) = collect(&build(&config(dir.path(), &flags)).unwrap());
        assert_eq!(count(&families, "node_network_receive_bytes_total"), 1);
        let eth0 = [("device", "eth0")];
        assert_eq!(
            value(&families, "node_network_transmit_bytes_total", &eth0),
            Some(6.0)
        );
    }

    #[test]
    fn netdev_detailed_keeps_kernel_names() {
        let dir = fixture();
        let flags = [
            "--no-collector.netdev.netlink",
            "--collector.netdev.enable-detailed-metrics",
        ];

        let (_, families) = collect(&build(&config(dir.path(), &flags)).unwrap());
        let lo = [("device", "lo")];
        assert_eq!(
            value(&families, "node_network_receive_errors_total", &lo),
            Some(1.0)
        );
        assert_eq!(
            value(&families, "node_network_receive_errs_total", &lo),
            None
        );
    }

    #[test]
    fn netdev_ifalias_label() {
        let dir = fixture();
        let flags = [
            "--no-collector.netdev.netlink",
            "--collector.netdev.label-ifalias",
        ];

        let (_, families) = collect(&build(&config(dir.path(), &flags)).unwrap());
        let labels = [("device", "lo"), ("ifalias", "loopback")];
        assert_eq!(
            value(&families, "node_network_receive_bytes_total", &labels),
            Some(1000.0)
        );
    }

    #[test]
    fn netdev_ifalias_needs_sysfs_entry() {
        let dir = fixture();
        let flags = [
            "--no-collector.netdev.netlink",
            "--collector.netdev.label-ifalias",
        ];
        let (_, families) = collect(&build(&config(dir.path(), &flags)).unwrap());
        let eth0 = [("device", "eth0")];
        assert_eq!(
            value(&families, "node_network_receive_bytes_total", &eth0),
            Some(5.0)
        );
    }

    #[test]
    fn netdev_rejects_include_and_exclude() {
        let dir = fixture();
        let flags = [
            "--collector.netdev.device-include=a",
            "--collector.netdev.device-exclude=b",
        ];
        assert!(build(&config(dir.path(), &flags)).is_err());
        let flags = [
            "--collector.netdev.device-include=a",
            "--collector.netdev.device-whitelist=b",
        ];
        assert!(build(&config(dir.path(), &flags)).is_err());
    }

    #[test]
    fn netdev_netlink_reads_loopback() {
        let dir = fixture();
        let flags = ["--collector.netdev.device-include=^lo$"];

        let (result, families) = collect(&build(&config(dir.path(), &flags)).unwrap());
        assert!(result.is_ok());

        assert_eq!(count(&families, "node_network_receive_nohandler_total"), 1);
        assert_eq!(count(&families, "node_network_transmit_carrier_total"), 1);
        assert_eq!(
            count(&families, "node_network_receive_missed_errors_total"),
            0
        );
        assert_eq!(families.len(), 17);
    }

    #[test]
    fn proc_names_fold_detail_counters() {
        let mut counters: Counters = [
            ("receive_dropped", 1),
            ("receive_missed_errors", 2),
            ("receive_frame_errors", 1),
            ("receive_length_errors", 1),
            ("receive_over_errors", 1),
            ("receive_crc_errors", 1),
            ("transmit_carrier_errors", 1),
            ("transmit_window_errors", 5),
        ]
        .into_iter()
        .collect();
        to_proc_names(&mut counters);
        assert_eq!(counters.get("receive_drop"), Some(&3));
        assert_eq!(counters.get("receive_frame"), Some(&4));
        assert_eq!(counters.get("transmit_carrier"), Some(&6));
        assert_eq!(counters.len(), 3);
    }
}
