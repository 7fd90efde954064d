//! btrfs collector: allocation, commit and device statistics of each filesystem under
//! /sys/fs/btrfs/<uuid>/ (allocation/{data,metadata,system}/<profile>/, commit_stats,
//! devices/*/size, label, metadata_uuid), and per member device the sizes and error counters
//! that btrfs ioctls return on each mount point, as `btrfs device stats` shows them.

use std::collections::{HashMap, HashSet};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use exporter_core::collector::BuildError;
use exporter_core::{AnyCollector, BlockingCollector, CollectError, Desc, MetricSink};

use tracing::debug;

use super::btrfs_ioctl::{filesystem_stats, FilesystemStats, ERROR_TYPES};
use super::mountinfo::read_mountinfo;
use super::sysfs::{list_dir, read_attr, read_optional, read_u64};
use super::NodeConfig;

const UUID: &[&str] = &["uuid"];
const GROUP: &[&str] = &["uuid", "block_group_type"];
const LAYOUT: &[&str] = &["uuid", "block_group_type", "mode"];

const INFO: Desc = Desc::gauge(
    "node_btrfs_info",
    "A btrfs filesystem with its label; the value is always 1.",
    &["uuid", "label"],
);
const GLOBAL_RSV: Desc = Desc::gauge(
    "node_btrfs_global_rsv_size_bytes",
    "Size of the global reserve in bytes.",
    UUID,
);
const RESERVED: Desc = Desc::gauge(
    "node_btrfs_reserved_bytes",
    "Space reserved for a block group type, in bytes.",
    GROUP,
);
const USED: Desc = Desc::gauge(
    "node_btrfs_used_bytes",
    "Space used by a block group type and profile, in bytes.",
    LAYOUT,
);
const SIZE: Desc = Desc::gauge(
    "node_btrfs_size_bytes",
    "Space allocated to a block group type and profile, in bytes.",
    LAYOUT,
);
const RATIO: Desc = Desc::gauge(
    "node_btrfs_allocation_ratio",
    "Raw bytes used on disk per byte stored with the block group type and profile.",
    LAYOUT,
);
const DEVICE_SIZE: Desc = Desc::gauge(
    "node_btrfs_device_size_bytes",
    "Size of a member device in bytes.",
    &["uuid", "device"],
);

/// commit_stats lines, their families and the divisor that converts milliseconds to seconds.
const COMMIT_STATS: &[(&str, Desc, f64)] = &[
    (
        "commits",
        Desc::counter("node_btrfs_commits_total", "Transaction commits.", UUID),
        1.0,
    ),
    (
        "last_commit_ms",
        Desc::gauge(
            "node_btrfs_last_commit_seconds",
            "Duration of the last commit in seconds.",
            UUID,
        ),
        1000.0,
    ),
    (
        "max_commit_ms",
        Desc::gauge(
            "node_btrfs_max_commit_seconds",
            "Duration of the slowest commit in seconds.",
            UUID,
        ),
        1000.0,
    ),
    (
        "total_commit_ms",
        Desc::counter(
            "node_btrfs_commit_seconds_total",
            "Time spent in commits in seconds.",
            UUID,
        ),
        1000.0,
    ),
];
const BLOCK_GROUP_TYPES: &[&str] = &["data", "metadata", "system"];
/// sysfs device sizes are in 512-byte sectors.
const SECTOR_BYTES: f64 = 512.0;

const IOCTL_DEVICE: &[&str] = &["uuid", "device", "btrfs_dev_uuid"];
const IOCTL_DEVICE_SIZE: Desc = Desc::gauge(
    "node_btrfs_device_size_bytes",
    "Size of a member device in bytes.",
    IOCTL_DEVICE,
);
const DEVICE_UNUSED: Desc = Desc::gauge(
    "node_btrfs_device_unused_bytes",
    "Space of a member device not allocated to any chunk, in bytes.",
    IOCTL_DEVICE,
);
const DEVICE_ERRORS: Desc = Desc::counter(
    "node_btrfs_device_errors_total",
    "I/O errors of a member device, by type.",
    &["uuid", "type", "device", "btrfs_dev_uuid"],
);

struct Btrfs {
    base: PathBuf,
    procfs: PathBuf,
    rootfs: PathBuf,
}

pub fn build(config: &NodeConfig) -> Result<AnyCollector, BuildError> {
    Ok(AnyCollector::blocking(Btrfs {
        base: config.sys("fs/btrfs"),
        procfs: config.procfs.clone(),
        rootfs: config.rootfs.clone(),
    }))
}

impl Btrfs {
    /// Queries each mounted btrfs filesystem with ioctls, keyed by fsid in 32 hex digits.
    /// Filesystems that cannot be queried, for lack of privileges or because the mount point
    /// is not reachable under --path.rootfs, are left out and use the sysfs sizes instead.
    fn ioctl_stats(&self) -> HashMap<String, FilesystemStats> {
        let mut by_fsid = HashMap::new();
        let mut sources = HashSet::new();
        let mounts = read_mountinfo(&self.procfs).unwrap_or_default();
        for mount in mounts.iter().filter(|m| m.fs_type == "btrfs") {
            if !sources.insert(mount.source.clone()) {
                continue;
            }
            let relative = mount
                .mount_point
                .strip_prefix(b"/")
                .unwrap_or(&mount.mount_point);
            let path = self.rootfs.join(std::ffi::OsStr::from_bytes(relative));
            match filesystem_stats(&path) {
                Ok(stats) => {
                    by_fsid.entry(stats.fsid.clone()).or_insert(stats);
                }
                Err(e) => {
                    debug!(mountpoint = %path.display(), error = %e, "Failed to query btrfs device statistics")
                }
            }
        }
        by_fsid
    }
}

/// Returns how many raw bytes a profile uses per byte stored; RAID5 and RAID6 depend on the
/// number of member devices.
pub fn allocation_ratio(profile: &str, devices: usize) -> f64 {
    let devices = devices as f64;
    match profile {
        "single" | "raid0" => 1.0,
        "dup" | "raid1" | "raid10" => 2.0,
        "raid1c3" => 3.0,
        "raid1c4" => 4.0,
        "raid5" => devices / (devices - 1.0),
        "raid6" => devices / (devices - 2.0),
        _ => 0.0,
    }
}

/// Parses commit_stats lines of `name value`.
pub fn parse_commit_stats(text: &str) -> Vec<(String, u64)> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let name = fields.next()?;
            let value = fields.next()?.parse().ok()?;
            Some((name.to_owned(), value))
        })
        .collect()
}

impl BlockingCollector for Btrfs {
    fn collect(&self, sink: &mut MetricSink) -> Result<(), CollectError> {
        let filesystems: Vec<_> = list_dir(&self.base)?
            .into_iter()
            .filter(|(name, dir)| name.contains('-') && dir.is_dir())
            .collect();
        let ioctl_stats = if filesystems.is_empty() {
            HashMap::new()
        } else {
            self.ioctl_stats()
        };
        for (name, dir) in filesystems {
            let uuid = collect_filesystem(sink, &name, &dir);
            match ioctl_stats.get(&uuid.replace('-', "")) {
                Some(stats) => add_ioctl_devices(sink, &uuid, stats),
                None => add_sysfs_devices(sink, &uuid, &dir),
            }
        }
        Ok(())
    }
}

fn add_ioctl_devices(sink: &mut MetricSink, uuid: &str, stats: &FilesystemStats) {
    for device in &stats.devices {
        let labels = [uuid, device.device.as_str(), device.uuid.as_str()];
        sink.add(&IOCTL_DEVICE_SIZE, &labels, device.total_bytes as f64);
        let unused = device.total_bytes.saturating_sub(device.bytes_used);
        sink.add(&DEVICE_UNUSED, &labels, unused as f64);
        for (kind, count) in ERROR_TYPES.iter().zip(device.errors) {
            sink.add(
                &DEVICE_ERRORS,
                &[uuid, kind, &device.device, &device.uuid],
                count as f64,
            );
        }
    }
}

fn add_sysfs_devices(sink: &mut MetricSink, uuid: &str, dir: &Path) {
    for (device, path) in list_dir(&dir.join("devices")).unwrap_or_default() {
        let sectors = read_u64(&path.join("size")).unwrap_or(0);
        sink.add(
            &DEVICE_SIZE,
            &[uuid, &device],
            sectors as f64 * SECTOR_BYTES,
        );
    }
}

/// Adds the sysfs statistics of one filesystem and returns its UUID label.
fn collect_filesystem(sink: &mut MetricSink, dir_name: &str, dir: &Path) -> String {
    let uuid = read_attr(&dir.join("metadata_uuid"))
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| dir_name.to_owned());
    let uuid = uuid.as_str();
    let label = read_attr(&dir.join("label")).unwrap_or_default();
    sink.add(&INFO, &[uuid, &label], 1.0);
    let global_rsv = read_u64(&dir.join("allocation/global_rsv_size")).unwrap_or(0);
    sink.add(&GLOBAL_RSV, &[uuid], global_rsv as f64);

    let commits = read_optional(&dir.join("commit_stats")).unwrap_or_default();
    let commits = parse_commit_stats(&commits);
    for (key, desc, divisor) in COMMIT_STATS {
        let value = commits
            .iter()
            .find(|(name, _)| name == key)
            .map_or(0, |(_, v)| *v);
        sink.add(desc, &[uuid], value as f64 / divisor);
    }

    let devices = list_dir(&dir.join("devices")).unwrap_or_default();
    for group in BLOCK_GROUP_TYPES {
        let group_dir = dir.join("allocation").join(group);
        let reserved = read_u64(&group_dir.join("bytes_reserved")).unwrap_or(0);
        sink.add(&RESERVED, &[uuid, group], reserved as f64);
        for (profile, profile_dir) in list_dir(&group_dir).unwrap_or_default() {
            if !profile_dir.is_dir() {
                continue;
            }
            let labels = [uuid, group, profile.as_str()];
            sink.add(
                &USED,
                &labels,
                read_u64(&profile_dir.join("used_bytes")).unwrap_or(0) as f64,
            );
            sink.add(
                &SIZE,
                &labels,
                read_u64(&profile_dir.join("total_bytes")).unwrap_or(0) as f64,
            );
            sink.add(&RATIO, &labels, allocation_ratio(&profile, devices.len()));
        }
    }
    uuid.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratio_of_parity_profiles() {
        assert_eq!(allocation_ratio("raid5", 4), 4.0 / 3.0);
        assert_eq!(allocation_ratio("raid6", 4), 2.0);
        assert_eq!(allocation_ratio("dup", 1), 2.0);
        assert_eq!(allocation_ratio("unknown", 1), 0.0);
    }

    #[test]
    fn commit_stats_lines() {
        let stats = parse_commit_stats("commits 5\nlast_commit_ms 20\nbroken\n");
        assert_eq!(
            stats,
            vec![("commits".to_owned(), 5), ("last_commit_ms".to_owned(), 20)]
        );
    }

    #[test]
    fn btrfs_filesystem_tree() {
        let base = tempfile::tempdir().unwrap();
        let fs_dir = base.path().join("aaaa-bbbb");
        std::fs::create_dir_all(fs_dir.join("allocation/data/single")).unwrap();
        std::fs::create_dir_all(fs_dir.join("devices/sda1")).unwrap();
        std::fs::write(fs_dir.join("label"), "root\n").unwrap();
        std::fs::write(fs_dir.join("devices/sda1/size"), "2048\n").unwrap();
        std::fs::write(fs_dir.join("allocation/data/single/used_bytes"), "4096\n").unwrap();
        std::fs::write(fs_dir.join("commit_stats"), "total_commit_ms 1500\n").unwrap();

        let mut sink = MetricSink::new();
        Btrfs {
            base: base.path().to_path_buf(),
            procfs: base.path().join("no-proc"),
            rootfs: PathBuf::from("/"),
        }
        .collect(&mut sink)
        .unwrap();
        let families = sink.finish();

        let value = |name: &str| {
            families
                .iter()
                .find(|f| f.name == name)
                .map(|f| f.samples[0].value.clone())
        };
        use exporter_core::Value::Number;
        assert_eq!(
            value("node_btrfs_device_size_bytes"),
            Some(Number(1_048_576.0))
        );
        assert_eq!(value("node_btrfs_used_bytes"), Some(Number(4096.0)));
        assert_eq!(value("node_btrfs_commit_seconds_total"), Some(Number(1.5)));
        assert_eq!(value("node_btrfs_allocation_ratio"), Some(Number(1.0)));
    }
}
