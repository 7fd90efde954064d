//! The collector table of node-exporter and the configuration every collector is built from.
//!
//! Each collector lives in its own module with a `build` function for its row of [`COLLECTORS`]
//! and, when it has options, an `args` function whose flags [`option_args`] gathers.

use std::path::{Path, PathBuf};

use clap::{Arg, ArgMatches};
use exporter_core::CollectorEntry;

pub mod arp;
pub mod bonding;
pub mod conntrack;
pub mod ethtool;
pub mod fibrechannel;
pub mod infiniband;
pub mod ipvs;
pub mod net_common;
pub mod netclass;
pub mod netclass_rtnl;
pub mod netdev;
pub mod netdev_addr;
pub mod netstat;
pub mod nfs;
pub mod nfsd;
pub mod rtnetlink;
pub mod selinux;
pub mod sockstat;
pub mod softnet;
pub mod udp_queues;
pub mod util;

/// Paths every collector reads through, from `--path.*`, and all parsed flags for the options of
/// individual collectors.
pub struct NodeConfig {
    pub procfs: PathBuf,
    pub sysfs: PathBuf,
    pub rootfs: PathBuf,
    pub udev_data: PathBuf,
    pub matches: ArgMatches,
}

impl NodeConfig {
    pub fn from_matches(matches: ArgMatches) -> NodeConfig {
        let path = |name: &str| {
            matches
                .get_one::<String>(name)
                .map(PathBuf::from)
                .unwrap_or_default()
        };
        NodeConfig {
            procfs: path("path.procfs"),
            sysfs: path("path.sysfs"),
            rootfs: path("path.rootfs"),
            udev_data: path("path.udev.data"),
            matches,
        }
    }

    /// Returns `relative` under the procfs root, such as `proc("net/dev")`.
    pub fn proc(&self, relative: &str) -> PathBuf {
        self.procfs.join(relative)
    }

    /// Returns `relative` under the sysfs root.
    pub fn sys(&self, relative: &str) -> PathBuf {
        self.sysfs.join(relative)
    }

    /// Returns an absolute path of the host as seen under the rootfs root.
    pub fn root(&self, absolute: &Path) -> PathBuf {
        match absolute.strip_prefix("/") {
            Ok(relative) => self.rootfs.join(relative),
            Err(_) => self.rootfs.join(absolute),
        }
    }

    /// Returns the value of a string flag of a collector option.
    pub fn string(&self, name: &str) -> Option<String> {
        self.matches.get_one::<String>(name).cloned()
    }

    /// Returns every value of a repeatable string flag.
    pub fn strings(&self, name: &str) -> Vec<String> {
        self.matches
            .get_many::<String>(name)
            .map(|values| values.cloned().collect())
            .unwrap_or_default()
    }

    /// Returns a boolean flag.
    pub fn flag(&self, name: &str) -> bool {
        self.matches
            .try_get_one::<bool>(name)
            .ok()
            .flatten()
            .copied()
            .unwrap_or(false)
    }
}

/// Returns the `--path.*` flags.
pub fn path_args() -> Vec<Arg> {
    vec![
        Arg::new("path.procfs")
            .long("path.procfs")
            .default_value("/proc")
            .help("procfs mountpoint"),
        Arg::new("path.sysfs")
            .long("path.sysfs")
            .default_value("/sys")
            .help("sysfs mountpoint"),
        Arg::new("path.rootfs")
            .long("path.rootfs")
            .default_value("/")
            .help("rootfs mountpoint"),
        Arg::new("path.udev.data")
            .long("path.udev.data")
            .default_value("/run/udev/data")
            .help("udev data path"),
    ]
}

/// Returns the option flags of every collector.
pub fn option_args() -> Vec<Arg> {
    let mut args = Vec::new();
    args.extend(util::no_args());
    args.extend(arp::args());
    args.extend(infiniband::args());
    args.extend(ipvs::args());
    args.extend(netclass::args());
    args.extend(netdev::args());
    args.extend(netstat::args());
    args
}

/// The collectors of node-exporter in alphabetical order, with whether node_exporter 1.12
/// enables each on Linux by default.
#[rustfmt::skip]
pub const COLLECTORS: &[CollectorEntry<NodeConfig>] = &[
    CollectorEntry { name: "arp", enabled_by_default: true, build: arp::build },
    CollectorEntry { name: "bonding", enabled_by_default: true, build: bonding::build },
    CollectorEntry { name: "conntrack", enabled_by_default: true, build: conntrack::build },
    CollectorEntry { name: "fibrechannel", enabled_by_default: true, build: fibrechannel::build },
    CollectorEntry { name: "infiniband", enabled_by_default: true, build: infiniband::build },
    CollectorEntry { name: "ipvs", enabled_by_default: true, build: ipvs::build },
    CollectorEntry { name: "netclass", enabled_by_default: true, build: netclass::build },
    CollectorEntry { name: "netdev", enabled_by_default: true, build: netdev::build },
    CollectorEntry { name: "netstat", enabled_by_default: true, build: netstat::build },
    CollectorEntry { name: "nfs", enabled_by_default: true, build: nfs::build },
    CollectorEntry { name: "nfsd", enabled_by_default: true, build: nfsd::build },
    CollectorEntry { name: "selinux", enabled_by_default: true, build: selinux::build },
    CollectorEntry { name: "sockstat", enabled_by_default: true, build: sockstat::build },
    CollectorEntry { name: "softnet", enabled_by_default: true, build: softnet::build },
    CollectorEntry { name: "udp_queues", enabled_by_default: true, build: udp_queues::build },
];
