//! The collector table of node-exporter and the configuration every collector is built from.
//!
//! Each collector lives in its own module with a `build` function for its row of [`COLLECTORS`]
//! and, when it has options, an `args` function whose flags [`option_args`] gathers.

use std::path::{Path, PathBuf};

use clap::{Arg, ArgMatches};
use exporter_core::CollectorEntry;

pub mod bcache;
pub mod bcachefs;
pub mod btrfs;
pub mod btrfs_ioctl;
pub mod dmi;
pub mod dmmultipath;
pub mod edac;
pub mod filesystem;
pub mod filter;
pub mod hwmon;
pub mod mdadm;
pub mod mountinfo;
pub mod nvme;
pub mod powersupplyclass;
pub mod rapl;
pub mod sysfs;
pub mod tapestats;
pub mod textfile;
pub mod textformat;
pub mod thermal_zone;
pub mod util;
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
    args.extend(bcache::args());
    args.extend(filesystem::args());
    args.extend(hwmon::args());
    args.extend(powersupplyclass::args());
    args.extend(rapl::args());
    args.extend(tapestats::args());
    args.extend(textfile::args());
    args
}

/// The collectors of node-exporter in alphabetical order, with whether node_exporter 1.12
/// enables each on Linux by default.
#[rustfmt::skip]
pub const COLLECTORS: &[CollectorEntry<NodeConfig>] = &[
    CollectorEntry { name: "bcache", enabled_by_default: true, build: bcache::build },
    CollectorEntry { name: "bcachefs", enabled_by_default: true, build: bcachefs::build },
    CollectorEntry { name: "btrfs", enabled_by_default: true, build: btrfs::build },
    CollectorEntry { name: "dmi", enabled_by_default: true, build: dmi::build },
    CollectorEntry { name: "dmmultipath", enabled_by_default: true, build: dmmultipath::build },
    CollectorEntry { name: "edac", enabled_by_default: true, build: edac::build },
    CollectorEntry { name: "filesystem", enabled_by_default: true, build: filesystem::build },
    CollectorEntry { name: "hwmon", enabled_by_default: true, build: hwmon::build },
    CollectorEntry { name: "mdadm", enabled_by_default: true, build: mdadm::build },
    CollectorEntry { name: "nvme", enabled_by_default: true, build: nvme::build },
    CollectorEntry { name: "powersupplyclass", enabled_by_default: true, build: powersupplyclass::build },
    CollectorEntry { name: "rapl", enabled_by_default: true, build: rapl::build },
    CollectorEntry { name: "tapestats", enabled_by_default: true, build: tapestats::build },
    CollectorEntry { name: "textfile", enabled_by_default: true, build: textfile::build },
    CollectorEntry { name: "thermal_zone", enabled_by_default: true, build: thermal_zone::build },
    CollectorEntry { name: "xfs", enabled_by_default: true, build: xfs::build },
    CollectorEntry { name: "zfs", enabled_by_default: true, build: zfs::build },
];
