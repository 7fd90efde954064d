//! The collector table of node-exporter and the configuration every collector is built from.
//!
//! Each collector lives in its own module with a `build` function for its row of [`COLLECTORS`]
//! and, when it has options, an `args` function whose flags [`option_args`] gathers.

use std::path::{Path, PathBuf};

use clap::{Arg, ArgMatches};
use exporter_core::collector::BuildError;
use exporter_core::{AnyCollector, CollectorEntry};

pub mod arp;
pub mod attr;
pub mod bcache;
pub mod bcachefs;
pub mod bonding;
pub mod btrfs;
pub mod btrfs_ioctl;
pub mod conntrack;
pub mod cpu;
pub mod cpufreq;
pub mod cpuinfo;
pub mod diskstats;
pub mod diskstats_udev;
pub mod dmi;
pub mod dmmultipath;
pub mod edac;
pub mod entropy;
pub mod ethtool;
pub mod fibrechannel;
pub mod filefd;
pub mod filesystem;
pub mod filter;
pub mod hwmon;
pub mod infiniband;
pub mod ipvs;
pub mod kernel_hung;
pub mod loadavg;
pub mod mdadm;
pub mod meminfo;
pub mod mountinfo;
pub mod net_common;
pub mod netclass;
pub mod netclass_rtnl;
pub mod netdev;
pub mod netdev_addr;
pub mod netstat;
pub mod nfs;
pub mod nfsd;
pub mod nvme;
#[cfg(test)]
mod options_tests;
pub mod os;
pub mod powersupplyclass;
pub mod pressure;
pub mod procstat;
pub mod rapl;
pub mod rtnetlink;
pub mod schedstat;
pub mod selinux;
pub mod sockstat;
pub mod softnet;
pub mod stat;
pub mod sysfs;
pub mod tapestats;
#[cfg(test)]
pub mod test_support;
pub mod textfile;
pub mod textformat;
pub mod thermal_zone;
pub mod time;
pub mod timex;
pub mod udp_queues;
pub mod uname;
pub mod util;
pub mod vmstat;
pub mod watchdog;
pub mod xfs;
pub mod zfs;

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
    args.extend(bcache::args());
    args.extend(cpu::args());
    args.extend(diskstats::args());
    args.extend(filesystem::args());
    args.extend(hwmon::args());
    args.extend(infiniband::args());
    args.extend(ipvs::args());
    args.extend(netclass::args());
    args.extend(netdev::args());
    args.extend(netstat::args());
    args.extend(powersupplyclass::args());
    args.extend(rapl::args());
    args.extend(stat::args());
    args.extend(tapestats::args());
    args.extend(textfile::args());
    args.extend(vmstat::args());
    args
}

/// The collectors of node-exporter in alphabetical order, with whether node_exporter 1.12
/// enables each on Linux by default.
pub const COLLECTORS: &[CollectorEntry<NodeConfig>] = &[
    entry("arp", true, arp::build),
    entry("bcache", true, bcache::build),
    entry("bcachefs", true, bcachefs::build),
    entry("bonding", true, bonding::build),
    entry("btrfs", true, btrfs::build),
    entry("conntrack", true, conntrack::build),
    entry("cpu", true, cpu::build),
    entry("cpufreq", true, cpufreq::build),
    entry("diskstats", true, diskstats::build),
    entry("dmi", true, dmi::build),
    entry("dmmultipath", true, dmmultipath::build),
    entry("edac", true, edac::build),
    entry("entropy", true, entropy::build),
    entry("fibrechannel", true, fibrechannel::build),
    entry("filefd", true, filefd::build),
    entry("filesystem", true, filesystem::build),
    entry("hwmon", true, hwmon::build),
    entry("infiniband", true, infiniband::build),
    entry("ipvs", true, ipvs::build),
    entry("kernel_hung", true, kernel_hung::build),
    entry("loadavg", true, loadavg::build),
    entry("mdadm", true, mdadm::build),
    entry("meminfo", true, meminfo::build),
    entry("netclass", true, netclass::build),
    entry("netdev", true, netdev::build),
    entry("netstat", true, netstat::build),
    entry("nfs", true, nfs::build),
    entry("nfsd", true, nfsd::build),
    entry("nvme", true, nvme::build),
    entry("os", true, os::build),
    entry("powersupplyclass", true, powersupplyclass::build),
    entry("pressure", true, pressure::build),
    entry("rapl", true, rapl::build),
    entry("schedstat", true, schedstat::build),
    entry("selinux", true, selinux::build),
    entry("sockstat", true, sockstat::build),
    entry("softnet", true, softnet::build),
    entry("stat", true, stat::build),
    entry("tapestats", true, tapestats::build),
    entry("textfile", true, textfile::build),
    entry("thermal_zone", true, thermal_zone::build),
    entry("time", true, time::build),
    entry("timex", true, timex::build),
    entry("udp_queues", true, udp_queues::build),
    entry("uname", true, uname::build),
    entry("vmstat", true, vmstat::build),
    entry("watchdog", true, watchdog::build),
    entry("xfs", true, xfs::build),
    entry("zfs", true, zfs::build),
];

const fn entry(
    name: &'static str,
    enabled_by_default: bool,
    build: fn(&NodeConfig) -> Result<AnyCollector, BuildError>,
) -> CollectorEntry<NodeConfig> {
    CollectorEntry {
        name,
        enabled_by_default,
        build,
    }
}
