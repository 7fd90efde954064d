//! The netclass collector: properties of each network interface from the attribute files of
//! /sys/class/net/<device>/ (Documentation/ABI/testing/sysfs-class-net), or with
//! `--collector.netclass.netlink` from rtnetlink plus three sysfs attributes.

use std::io;
use std::path::{Path, PathBuf};

use clap::Arg;
use exporter_core::collector::BuildError;
use exporter_core::{AnyCollector, BlockingCollector, CollectError, Desc, MetricSink};
use regex::Regex;

use super::net_common::{bool_args, bool_value, NetError};
use super::netclass_rtnl;
use super::NodeConfig;

pub const UP: Desc = Desc::gauge(
    "node_network_up",
    "Whether the operational state of the interface is up (1) or not (0).",
    &["device"],
);
const INFO: Desc = Desc::gauge(
    "node_network_info",
    "Text properties of a network interface from /sys/class/net. The value is always 1.",
    &[
        "device",
        "address",
        "broadcast",
        "duplex",
        "operstate",
        "adminstate",
        "ifalias",
    ],
);
pub const SPEED: Desc = Desc::gauge(
    "node_network_speed_bytes",
    "Link speed of the interface in bytes per second.",
    &["device"],
);

/// Numeric sysfs attribute and the family it feeds. `speed` is handled apart because it is
/// converted and may be negative.
const ATTRIBUTES: &[(&str, Desc)] = &[
    (
        "addr_assign_type",
        Desc::gauge(
            "node_network_address_assign_type",
            "How the hardware address was assigned (NET_ADDR_* of linux/netdevice.h).",
            &["device"],
        ),
    ),
    (
        "carrier",
        Desc::gauge(
            "node_network_carrier",
            "Whether the physical link is up (1) or down (0).",
            &["device"],
        ),
    ),
    (
        "carrier_changes",
        Desc::counter(
            "node_network_carrier_changes_total",
            "Changes of the physical link state.",
            &["device"],
        ),
    ),
    (
        "carrier_up_count",
        Desc::counter(
            "node_network_carrier_up_changes_total",
            "Changes of the physical link to up.",
            &["device"],
        ),
    ),
    (
        "carrier_down_count",
        Desc::counter(
            "node_network_carrier_down_changes_total",
            "Changes of the physical link to down.",
            &["device"],
        ),
    ),
    (
        "dev_id",
        Desc::gauge(
            "node_network_device_id",
            "Identifier that tells apart interfaces sharing one hardware address.",
            &["device"],
        ),
    ),
    (
        "dormant",
        Desc::gauge(
            "node_network_dormant",
            "Whether the interface waits for an external event before it can pass traffic.",
            &["device"],
        ),
    ),
    (
        "flags",
        Desc::gauge(
            "node_network_flags",
            "Interface flags (IFF_* of linux/if.h) as a bit mask.",
            &["device"],
        ),
    ),
    (
        "ifindex",
        Desc::gauge("node_network_iface_id", "Interface index.", &["device"]),
    ),
    (
        "iflink",
        Desc::gauge(
            "node_network_iface_link",
            "Index of the interface's lower device, or its own index.",
            &["device"],
        ),
    ),
    (
        "link_mode",
        Desc::gauge(
            "node_network_iface_link_mode",
            "Link mode (IF_LINK_MODE_* of linux/if_link.h).",
            &["device"],
        ),
    ),
    (
        "mtu",
        Desc::gauge(
            "node_network_mtu_bytes",
            "Maximum transmission unit in bytes.",
            &["device"],
        ),
    ),
    (
        "name_assign_type",
        Desc::gauge(
            "node_network_name_assign_type",
            "How the interface name was assigned (NET_NAME_* of linux/netdevice.h).",
            &["device"],
        ),
    ),
    (
        "netdev_group",
        Desc::gauge(
            "node_network_net_dev_group",
            "Interface group.",
            &["device"],
        ),
    ),
    (
        "tx_queue_len",
        Desc::gauge(
            "node_network_transmit_queue_length",
            "Length of the transmit queue in packets.",
            &["device"],
        ),
    ),
    (
        "type",
        Desc::gauge(
            "node_network_protocol_type",
            "Hardware type (ARPHRD_* of linux/if_arp.h).",
            &["device"],
        ),
    ),
];

/// Returns the family of a sysfs attribute of [`ATTRIBUTES`].
pub fn attribute_desc(attribute: &str) -> Option<&'static Desc> {
    ATTRIBUTES
        .iter()
        .find(|(name, _)| *name == attribute)
        .map(|(_, desc)| desc)
}

pub struct NetclassCollector {
    pub ignored: Regex,
    pub ignore_invalid_speed: bool,
    /// Whether netlink mode also exports the link counters.
    pub with_stats: bool,
    pub class_net: PathBuf,
}

struct NetlinkCollector(NetclassCollector);

pub fn args() -> Vec<Arg> {
    let mut args = vec![Arg::new("collector.netclass.ignored-devices")
        .long("collector.netclass.ignored-devices")
        .default_value("^$")
        .help("Regexp of network devices that the netclass collector ignores")];
    args.extend(bool_args(
        "collector.netclass.ignore-invalid-speed",
        false,
        "Leave out node_network_speed_bytes of devices whose speed is negative",
    ));
    args.extend(bool_args(
        "collector.netclass.netlink",
        false,
        "Read interface properties over rtnetlink instead of from sysfs",
    ));
    args.extend(bool_args(
        "collector.netclass_rtnl.with-stats",
        false,
        "In netlink mode, also export each device's counters as node_network_*_total gauges",
    ));
    args
}

pub fn build(config: &NodeConfig) -> Result<AnyCollector, BuildError> {
    let pattern = config
        .string("collector.netclass.ignored-devices")
        .unwrap_or_else(|| "^$".to_owned());
    let ignored = Regex::new(&pattern)
        .map_err(|e| format!("invalid --collector.netclass.ignored-devices {pattern:?}: {e}"))?;
    let collector = NetclassCollector {
        ignored,
        ignore_invalid_speed: bool_value(config, "collector.netclass.ignore-invalid-speed", false),
        with_stats: bool_value(config, "collector.netclass_rtnl.with-stats", false),
        class_net: config.sys("class/net"),
    };
    if bool_value(config, "collector.netclass.netlink", false) {
        Ok(AnyCollector::blocking(NetlinkCollector(collector)))
    } else {
        Ok(AnyCollector::blocking(collector))
    }
}

impl BlockingCollector for NetlinkCollector {
    fn collect(&self, sink: &mut MetricSink) -> Result<(), CollectError> {
        netclass_rtnl::collect(&self.0, sink)
    }
}

impl BlockingCollector for NetclassCollector {
    fn collect(&self, sink: &mut MetricSink) -> Result<(), CollectError> {
        let entries = std::fs::read_dir(&self.class_net)
            .map_err(|e| super::util::io_error(&self.class_net, e))?;
        let mut devices = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| super::util::io_error(&self.class_net, e))?;
            // Regular files such as bonding_masters are not devices.
            if entry.file_type().is_ok_and(|t| t.is_file()) {
                continue;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            if !self.ignored.is_match(&name) {
                devices.push(name);
            }
        }
        for device in devices {
            self.collect_device(&device, sink)?;
        }
        Ok(())
    }
}

impl NetclassCollector {
    fn collect_device(&self, device: &str, sink: &mut MetricSink) -> Result<(), CollectError> {
        let dir = self.class_net.join(device);
        let text = |name: &str| read_attribute(&dir, name).map(Option::unwrap_or_default);
        let operstate = text("operstate")?;
        let flags = read_number(&dir, "flags")?;
        let admin_state = match flags {
            None => "unknown",
            Some(flags) if flags & 1 == 1 => "up",
            Some(_) => "down",
        };
        let up = if operstate == "up" { 1.0 } else { 0.0 };
        sink.add(&UP, &[device], up);
        let info = [
            device,
            &text("address")?,
            &text("broadcast")?,
            &text("duplex")?,
            &operstate,
            admin_state,
            &text("ifalias")?,
        ];
        sink.add(&INFO, &info, 1.0);

        for (attribute, desc) in ATTRIBUTES {
            if let Some(value) = read_number(&dir, attribute)? {
                sink.add(desc, &[device], value as f64);
            }
        }
        if let Some(speed) = read_number(&dir, "speed")? {
            if speed >= 0 || !self.ignore_invalid_speed {
                // Mbit/s to bytes/s.
                sink.add(&SPEED, &[device], (speed * 1_000_000 / 8) as f64);
            }
        }
        Ok(())
    }
}

/// Reads a sysfs attribute without its trailing line feed. Returns `None` when the attribute
/// does not exist or the driver rejects the read (EINVAL, EOPNOTSUPP, EPERM), as for the speed
/// of an interface that is down.
pub fn read_attribute(dir: &Path, name: &str) -> Result<Option<String>, CollectError> {
    let path = dir.join(name);
    match std::fs::read(&path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            Ok(Some(text.trim_end_matches('\n').to_owned()))
        }
        Err(e) if ignorable(&e) => Ok(None),
        Err(source) => Err(NetError::Read { path, source }.into()),
    }
}

fn ignorable(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied | io::ErrorKind::InvalidInput
    ) || matches!(
        error.raw_os_error(),
        Some(libc::EINVAL | libc::EOPNOTSUPP | libc::EPERM | libc::EACCES)
    )
}

/// Reads a numeric attribute. A value that is not an integer reads as absent.
pub fn read_number(dir: &Path, name: &str) -> Result<Option<i64>, CollectError> {
    Ok(read_attribute(dir, name)?.and_then(|text| parse_integer(text.trim())))
}

/// Parses an integer with Go's base prefixes, as node_exporter does: `0x` hexadecimal, a leading
/// `0` octal, otherwise decimal. An optional sign comes first.
fn parse_integer(text: &str) -> Option<i64> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let magnitude = if let Some(hex) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        i64::from_str_radix(hex, 16).ok()?
    } else if digits.len() > 1 && digits.starts_with('0') {
        i64::from_str_radix(&digits[1..], 8).ok()?
    } else {
        digits.parse().ok()?
    };
    Some(if negative { -magnitude } else { magnitude })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::net_common::testing::{collect, config, count, value, write};

    fn device(root: &Path, name: &str, speed: &str) {
        let files = [
            ("operstate", "up\n"),
            ("flags", "0x1303\n"),
            ("address", "01:01:01:01:01:01\n"),
            ("broadcast", "ff:ff:ff:ff:ff:ff\n"),
            ("duplex", "full\n"),
            ("ifalias", "\n"),
            ("mtu", "1500\n"),
            ("carrier_changes", "2\n"),
            ("type", "1\n"),
            ("speed", speed),
        ];
        for (file, contents) in files {
            write(root, &format!("sys/class/net/{name}/{file}"), contents);
        }
    }

    #[test]
    fn netclass_reads_attributes() {
        let dir = tempfile::tempdir().unwrap();
        device(dir.path(), "eth0", "1000\n");
        write(dir.path(), "sys/class/net/bonding_masters", "bond0\n");

        let (result, families) = collect(&build(&config(dir.path(), &[])).unwrap());
        assert!(result.is_ok());

        let eth0 = [("device", "eth0")];
        assert_eq!(value(&families, "node_network_up", &eth0), Some(1.0));
        assert_eq!(value(&families, "node_network_flags", &eth0), Some(4867.0));
        assert_eq!(
            value(&families, "node_network_speed_bytes", &eth0),
            Some(125_000_000.0)
        );
        assert_eq!(
            value(&families, "node_network_carrier_changes_total", &eth0),
            Some(2.0)
        );
        assert_eq!(value(&families, "node_network_carrier", &eth0), None);
        let info = [
            ("device", "eth0"),
            ("address", "01:01:01:01:01:01"),
            ("broadcast", "ff:ff:ff:ff:ff:ff"),
            ("duplex", "full"),
            ("operstate", "up"),
            ("adminstate", "up"),
            ("ifalias", ""),
        ];
        assert_eq!(value(&families, "node_network_info", &info), Some(1.0));
        assert_eq!(count(&families, "node_network_up"), 1);
    }

    #[test]
    fn netclass_negative_speed_flag() {
        let dir = tempfile::tempdir().unwrap();
        device(dir.path(), "eth0", "-1\n");

        let (_, families) = collect(&build(&config(dir.path(), &[])).unwrap());
        let eth0 = [("device", "eth0")];
        assert_eq!(
            value(&families, "node_network_speed_bytes", &eth0),
            Some(-125000.0)
        );
        let flags = ["--collector.netclass.ignore-invalid-speed"];

        let (_, families) = collect(&build(&config(dir.path(), &flags)).unwrap());
        assert_eq!(count(&families, "node_network_speed_bytes"), 0);
    }

    #[test]
    fn netclass_ignored_devices() {
        let dir = tempfile::tempdir().unwrap();
        device(dir.path(), "eth0", "10\n");
        device(dir.path(), "dmz", "10\n");
        let flags = ["--collector.netclass.ignored-devices=^dmz$"];

        let (_, families) = collect(&build(&config(dir.path(), &flags)).unwrap());
        assert_eq!(count(&families, "node_network_up"), 1);
        assert_eq!(
            value(&families, "node_network_up", &[("device", "dmz")]),
            None
        );
    }

    #[test]
    fn netclass_invalid_utf8_alias() {
        let dir = tempfile::tempdir().unwrap();
        device(dir.path(), "eth0", "10\n");
        std::fs::write(dir.path().join("sys/class/net/eth0/ifalias"), b"a\xffb\n").unwrap();

        let (_, families) = collect(&build(&config(dir.path(), &[])).unwrap());
        let info = families
            .iter()
            .find(|f| f.name == "node_network_info")
            .unwrap();
        let alias = &info.samples[0]
            .labels
            .iter()
            .find(|(n, _)| n == "ifalias")
            .unwrap()
            .1;
        assert_eq!(alias, "a\u{fffd}b");
    }

    #[test]
    fn go_integer_prefixes() {
        assert_eq!(parse_integer("0x1003"), Some(4099));
        assert_eq!(parse_integer("010"), Some(8));
        assert_eq!(parse_integer("-1"), Some(-1));
        assert_eq!(parse_integer("0"), Some(0));
        assert_eq!(parse_integer("up"), None);
    }
}
