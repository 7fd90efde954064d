//! btrfs collector: allocation, commit and device statistics of each filesystem under
//! /sys/fs/btrfs/<uuid>/ (allocation/{data,metadata,system}/<profile>/, commit_stats,
//! devices/*/size, label, metadata_uuid).

use std::path::{Path, PathBuf};

use exporter_core::collector::BuildError;
use exporter_core::{AnyCollector, BlockingCollector, CollectError, Desc, MetricSink};

use super::sysfs::{list_dir, read_attr, read_u64};
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

struct Btrfs {
    base: PathBuf,
}

// NOTE: node_exporter also queries per-device error counters and unused bytes with btrfs
// ioctls on each mounted filesystem (node_btrfs_device_errors_total,
// node_btrfs_device_unused_bytes). This collector reads sysfs only, so it reports
// node_btrfs_device_size_bytes with the uuid and device labels, as node_exporter does when
// those ioctls fail.
pub fn build(config: &NodeConfig) -> Result<AnyCollector, BuildError> {
    Ok(AnyCollector::blocking(Btrfs {
        base: config.sys("fs/btrfs"),
    }))
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
        for (name, dir) in list_dir(&self.base)? {
            if name.contains('-') && dir.is_dir() {
                collect_filesystem(sink, &name, &dir);
            }
        }
        Ok(())
    }
}

fn collect_filesystem(sink: &mut MetricSink, dir_name: &str, dir: &Path) {
    let uuid = read_attr(&dir.join("metadata_uuid"))
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| dir_name.to_owned());
    let uuid = uuid.as_str();
    let label = read_attr(&dir.join("label")).unwrap_or_default();
    sink.add(&INFO, &[uuid, &label], 1.0);
    let global_rsv = read_u64(&dir.join("allocation/global_rsv_size")).unwrap_or(0);
    sink.add(&GLOBAL_RSV, &[uuid], global_rsv as f64);

    let commits = std::fs::read_to_string(dir.join("commit_stats")).unwrap_or_default();
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
    for (device, path) in &devices {
        let sectors = read_u64(&path.join("size")).unwrap_or(0);
        sink.add(&DEVICE_SIZE, &[uuid, device], sectors as f64 * SECTOR_BYTES);
    }
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
