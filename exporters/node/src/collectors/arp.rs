//! The arp collector: IPv4 neighbour entries per device, from rtnetlink (RTM_GETNEIGH) by
//! default or from /proc/net/arp with `--no-collector.arp.netlink`.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use clap::Arg;
use exporter_core::collector::BuildError;
use exporter_core::{AnyCollector, BlockingCollector, CollectError, Desc, MetricSink};
use tracing::debug;

use super::net_common::{
    bool_args, bool_value, device_filter_args, read_text, DeviceFilter, NetError,
};
use super::rtnetlink;
use super::NodeConfig;

const ENTRIES: Desc = Desc::gauge(
    "node_arp_entries",
    "IPv4 neighbour (ARP) table entries of a network device.",
    &["device"],
);

/// Neighbour state of an entry that needs no address resolution, such as on a point-to-point
/// link (NUD_NOARP in linux/neighbour.h). node_exporter does not count these.
const NUD_NOARP: u16 = 0x40;

struct ArpCollector {
    filter: DeviceFilter,
    netlink: bool,
    proc_net_arp: PathBuf,
}

pub fn args() -> Vec<Arg> {
    let mut args = device_filter_args("arp", "ARP");
    args.extend(bool_args(
        "collector.arp.netlink",
        true,
        "Read the neighbour table over rtnetlink instead of from /proc/net/arp",
    ));
    args
}

pub fn build(config: &NodeConfig) -> Result<AnyCollector, BuildError> {
    Ok(AnyCollector::blocking(ArpCollector {
        filter: DeviceFilter::from_flags(config, "arp")?,
        netlink: bool_value(config, "collector.arp.netlink", true),
        proc_net_arp: config.proc("net/arp"),
    }))
}

impl BlockingCollector for ArpCollector {
    fn collect(&self, sink: &mut MetricSink) -> Result<(), CollectError> {
        let counts = if self.netlink {
            netlink_counts()?
        } else {
            count_proc_net_arp(&read_text(&self.proc_net_arp)?)
        };
        for (device, count) in counts {
            if !self.filter.ignored(&device) {
                sink.add(&ENTRIES, &[&device], count as f64);
            }
        }
        Ok(())
    }
}

fn netlink_counts() -> Result<BTreeMap<String, u64>, CollectError> {
    let names: HashMap<i32, String> = rtnetlink::links()
        .map_err(|source| NetError::Netlink {
            request: "link dump",
            source,
        })?
        .into_iter()
        .map(|link| (link.index, link.name))
        .collect();
    let mut counts = BTreeMap::new();
    for neighbour in rtnetlink::neighbours(libc::AF_INET).map_err(|source| NetError::Netlink {
        request: "neighbour dump",
        source,
    })? {
        if neighbour.state & NUD_NOARP != 0 {
            continue;
        }
        let Some(name) = names.get(&neighbour.ifindex) else {
            debug!(
                collector = "arp",
                ifindex = neighbour.ifindex,
                "Neighbour of an unknown link"
            );
            continue;
        };
        *counts.entry(name.clone()).or_insert(0) += 1;
    }
    Ok(counts)
}

/// Counts the entries of /proc/net/arp by its sixth column, Device. The first line is a
/// header. Lines with fewer columns are skipped.
fn count_proc_net_arp(text: &str) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for line in text.lines().skip(1).filter(|line| !line.trim().is_empty()) {
        match line.split_whitespace().nth(5) {
            Some(device) => *counts.entry(device.to_owned()).or_insert(0) += 1,
            None => debug!(collector = "arp", line, "Skipped a malformed line"),
        }
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::net_common::testing::{collect, config, count, value, write};

    const PROC_NET_ARP: &str =
        "IP address       HW type     Flags       HW address            Mask     Device
192.168.1.1    0x1         0x2         cc:aa:dd:ee:aa:bb     *        eth0
192.168.1.2    0x1         0x2         bb:cc:dd:ee:ff:aa     *        eth0
192.168.1.4    0x1         0x2         dd:ee:ff:aa:bb:cc     *        eth1
10.0.0.1       0x1         0x2         de:ad:be:ef:00:00     *        nope
10.0.0.2       0x1
";

    #[test]
    fn arp_counts_proc_entries() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "proc/net/arp", PROC_NET_ARP);
        let flags = [
            "--no-collector.arp.netlink",
            "--collector.arp.device-exclude=nope",
        ];

        let (result, families) = collect(&build(&config(dir.path(), &flags)).unwrap());
        assert!(result.is_ok());

        assert_eq!(
            value(&families, "node_arp_entries", &[("device", "eth0")]),
            Some(2.0)
        );
        assert_eq!(
            value(&families, "node_arp_entries", &[("device", "eth1")]),
            Some(1.0)
        );
        assert_eq!(count(&families, "node_arp_entries"), 2);
    }

    #[test]
    fn arp_without_proc_file_is_no_data() {
        let dir = tempfile::tempdir().unwrap();
        let flags = ["--no-collector.arp.netlink"];
        let (result, _) = collect(&build(&config(dir.path(), &flags)).unwrap());
        assert!(matches!(result, Err(CollectError::NoData(_))));
    }

    #[test]
    fn arp_netlink_succeeds() {
        let dir = tempfile::tempdir().unwrap();
        let (result, _) = collect(&build(&config(dir.path(), &[])).unwrap());
        assert!(result.is_ok());
    }
}
