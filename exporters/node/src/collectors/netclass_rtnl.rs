//! The netlink mode of the netclass collector (`--collector.netclass.netlink`): interface
//! properties from an RTM_GETLINK dump, speed and duplex from ethtool netlink, and from sysfs
//! only the three attributes that netlink does not carry (addr_assign_type, dev_id,
//! name_assign_type).

use std::collections::HashMap;

use exporter_core::metric::LabelName;
use exporter_core::{CollectError, Desc, MetricSink, MetricType, Value};

use super::net_common::NetError;
use tracing::debug;

use super::ethtool::{self, duplex_name};
use super::netclass::{attribute_desc, read_number, NetclassCollector, SPEED, UP};
use super::rtnetlink::{self, Link, STAT_FIELDS};

const ALTNAMES_INFO: Desc = Desc::gauge(
    "node_network_altnames_info",
    "An alternative name of a network interface; the value is always 1.",
    &["altname", "device"],
);
const INFO: Desc = Desc::gauge(
    "node_network_info",
    "Text properties of a network interface from rtnetlink. The value is always 1.",
    &[
        "device",
        "address",
        "broadcast",
        "duplex",
        "operstate",
        "ifalias",
    ],
);

/// Names of the IF_OPER_* states of linux/if.h, by value.
const OPERSTATES: [&str; 7] = [
    "unknown",
    "notpresent",
    "down",
    "lowerlayerdown",
    "testing",
    "dormant",
    "up",
];
const IF_OPER_UP: u8 = 6;

/// Collects the netclass families of every link that `collector.ignored` does not match.
pub fn collect(collector: &NetclassCollector, sink: &mut MetricSink) -> Result<(), CollectError> {
    let duplexes = collect_speeds(collector, sink)?;
    let links = rtnetlink::links().map_err(|source| NetError::Netlink {
        request: "link dump",
        source,
    })?;
    for link in links
        .iter()
        .filter(|l| !collector.ignored.is_match(&l.name))
    {
        let dir = collector.class_net.join(&link.name);
        let name = link.name.as_str();
        let up = if link.operstate == Some(IF_OPER_UP) {
            1.0
        } else {
            0.0
        };
        sink.add(&UP, &[name], up);
        let operstate = OPERSTATES
            .get(usize::from(link.operstate.unwrap_or(0)))
            .copied()
            .unwrap_or("unknown");
        let info = [
            name,
            &hardware_address(link.address.as_deref()),
            &hardware_address(link.broadcast.as_deref()),
            duplexes.get(name).map_or("", String::as_str),
            operstate,
            link.alias.as_deref().unwrap_or(""),
        ];
        sink.add(&INFO, &info, 1.0);
        for altname in link.alt_names.iter().filter(|n| !n.is_empty()) {
            sink.add(&ALTNAMES_INFO, &[altname, name], 1.0);
        }

        for attribute in ["addr_assign_type", "dev_id", "name_assign_type"] {
            if let (Some(value), Some(desc)) =
                (read_number(&dir, attribute)?, attribute_desc(attribute))
            {
                sink.add(desc, &[name], value as f64);
            }
        }
        for (attribute, value) in link_values(link) {
            if let (Some(value), Some(desc)) = (value, attribute_desc(attribute)) {
                sink.add(desc, &[name], value as f64);
            }
        }
        if collector.with_stats {
            add_stats(link, sink);
        }
    }
    Ok(())
}

/// Adds node_network_speed_bytes from ethtool's link modes and returns the duplex label of each
/// interface. A kernel without ethtool netlink leaves both out, as in node_exporter.
fn collect_speeds(
    collector: &NetclassCollector,
    sink: &mut MetricSink,
) -> Result<HashMap<String, String>, CollectError> {
    let modes = match ethtool::link_modes() {
        Ok(modes) => modes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            debug!(collector = "netclass", error = %e, "ethtool netlink is unavailable");
            return Ok(HashMap::new());
        }
        Err(source) => {
            return Err(NetError::Netlink {
                request: "ethtool link modes dump",
                source,
            }
            .into())
        }
    };
    let mut duplexes = HashMap::new();
    for mode in modes
        .into_iter()
        .filter(|m| !collector.ignored.is_match(&m.name))
    {
        if let Some(speed) = mode.speed {
            // NOTE: node_exporter 1.12 converts the unsigned speed to a signed int, so
            // SPEED_UNKNOWN (0xffffffff) passes its `>= 0` check and is exported as a huge
            // number of bytes per second. This collector does the same to match its output.
            sink.add(
                &SPEED,
                &[&mode.name],
                (u64::from(speed) * 1_000_000 / 8) as f64,
            );
        }
        if let Some(duplex) = mode.duplex {
            duplexes.insert(mode.name, duplex_name(duplex));
        }
    }
    Ok(duplexes)
}

/// Pairs each rtnetlink value with the sysfs attribute whose family it feeds.
fn link_values(link: &Link) -> [(&'static str, Option<u64>); 13] {
    let byte = |v: Option<u8>| v.map(u64::from);
    let word = |v: Option<u32>| v.map(u64::from);
    // The kernel omits IFLA_LINK when the lower device is the interface itself.
    let iflink = link.link.map_or(i64::from(link.index), i64::from);
    [
        ("carrier", byte(link.carrier)),
        ("carrier_changes", word(link.carrier_changes)),
        ("carrier_up_count", word(link.carrier_up_count)),
        ("carrier_down_count", word(link.carrier_down_count)),
        ("flags", Some(u64::from(link.flags))),
        ("ifindex", u64::try_from(link.index).ok()),
        ("link_mode", byte(link.link_mode)),
        // node_exporter 1.12 fills node_network_dormant from the link mode in this mode.
        ("dormant", byte(link.link_mode)),
        ("iflink", u64::try_from(iflink).ok()),
        ("mtu", word(link.mtu)),
        ("netdev_group", word(link.group)),
        ("tx_queue_len", word(link.tx_queue_len)),
        ("type", Some(u64::from(link.device_type))),
    ]
}

/// Formats a hardware address like Go's `net.HardwareAddr`: lowercase hexadecimal bytes joined
/// by colons, empty when absent.
fn hardware_address(bytes: Option<&[u8]>) -> String {
    bytes
        .unwrap_or_default()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Adds the link counters as node_network_<counter>_total gauges, which node_exporter exports
/// with `--collector.netclass_rtnl.with-stats`.
fn add_stats(link: &Link, sink: &mut MetricSink) {
    let Some(stats) = &link.stats else {
        return;
    };
    let labels: Vec<(LabelName, String)> = vec![("device".into(), link.name.clone())];
    for (key, value) in STAT_FIELDS.iter().zip(stats) {
        sink.add_dynamic(
            format!("node_network_{key}_total"),
            format!("Network device counter {key}, from rtnetlink."),
            MetricType::Gauge,
            labels.clone(),
            Value::Number(*value as f64),
            None,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::net_common::testing::{collect, config, value};
    use crate::collectors::netclass::build;

    #[test]
    fn hardware_address_format() {
        assert_eq!(hardware_address(Some(&[0x01, 0xab, 0xff])), "01:ab:ff");
        assert_eq!(hardware_address(None), "");
    }

    #[test]
    fn netlink_mode_reads_loopback() {
        let dir = tempfile::tempdir().unwrap();
        let flags = [
            "--collector.netclass.netlink",
            "--collector.netclass.ignored-devices=^[^l]",
        ];

        let (result, families) = collect(&build(&config(dir.path(), &flags)).unwrap());
        assert!(result.is_ok());

        let lo = [("device", "lo")];
        assert_eq!(
            value(&families, "node_network_protocol_type", &lo),
            Some(772.0)
        );
        assert_eq!(
            value(&families, "node_network_mtu_bytes", &lo).map(|m| m > 0.0),
            Some(true)
        );
    }
}
