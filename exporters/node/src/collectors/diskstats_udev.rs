//! The udev part of the diskstats collector: the `E:` property lines of a block device's entry
//! `b<major>:<minor>` in the udev database (see udevadm(8)), and the file system, device mapper
//! and ATA families built from them.

use std::collections::HashMap;
use std::path::Path;

use exporter_core::{Desc, MetricSink};
use tracing::debug;

const FILESYSTEM_INFO: Desc = Desc::gauge(
    "node_disk_filesystem_info",
    "File system or other content that udev found on a block device; the value is always 1.",
    &["device", "type", "usage", "uuid", "version"],
);
const DEVICE_MAPPER_INFO: Desc = Desc::gauge(
    "node_disk_device_mapper_info",
    "Device mapper names of a block device from udev; the value is always 1.",
    &["device", "name", "uuid", "vg_name", "lv_name", "lv_layer"],
);
/// ATA properties of udev exported as numbers, with their metric.
const ATA: [(&str, Desc); 3] = [
    (
        "ID_ATA_WRITE_CACHE",
        Desc::gauge(
            "node_disk_ata_write_cache",
            "Whether an ATA disk has a write cache.",
            &["device"],
        ),
    ),
    (
        "ID_ATA_WRITE_CACHE_ENABLED",
        Desc::gauge(
            "node_disk_ata_write_cache_enabled",
            "Whether the write cache of an ATA disk is enabled.",
            &["device"],
        ),
    ),
    (
        "ID_ATA_ROTATION_RATE_RPM",
        Desc::gauge(
            "node_disk_ata_rotation_rate_rpm",
            "Rotation rate of an ATA disk in revolutions per minute; 0 for solid-state disks.",
            &["device"],
        ),
    ),
];

/// Reads the `E:` properties of a block device from the udev database in `dir`; empty when the
/// device has no entry.
pub fn read_properties(dir: &Path, major: u32, minor: u32) -> HashMap<String, String> {
    let path = dir.join(format!("b{major}:{minor}"));
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) => {
            debug!(path = %path.display(), error = %e, "No udev properties for the device");
            return HashMap::new();
        }
    };
    String::from_utf8_lossy(&bytes)
        .lines()
        .filter_map(|line| line.strip_prefix("E:")?.split_once('='))
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect()
}

/// Adds node_disk_filesystem_info, node_disk_device_mapper_info and the ATA gauges of `device`
/// for the udev properties it has.
pub fn add_families(device: &str, udev: &HashMap<String, String>, sink: &mut MetricSink) {
    let property = |key: &str| udev.get(key).map(String::as_str).unwrap_or("");
    let fs_type = property("ID_FS_TYPE");
    if !fs_type.is_empty() {
        let labels = [
            device,
            fs_type,
            property("ID_FS_USAGE"),
            property("ID_FS_UUID"),
            property("ID_FS_VERSION"),
        ];
        sink.add(&FILESYSTEM_INFO, &labels, 1.0);
    }
    let dm_name = property("DM_NAME");
    if !dm_name.is_empty() {
        let labels = [
            device,
            dm_name,
            property("DM_UUID"),
            property("DM_VG_NAME"),
            property("DM_LV_NAME"),
            property("DM_LV_LAYER"),
        ];
        sink.add(&DEVICE_MAPPER_INFO, &labels, 1.0);
    }
    if !property("ID_ATA").is_empty() {
        for (key, desc) in &ATA {
            match udev.get(*key).map(|v| v.parse::<f64>()) {
                Some(Ok(value)) => sink.add(desc, &[device], value),
                Some(Err(_)) => debug!(
                    device,
                    property = key,
                    "Invalid ATA property in the udev database"
                ),
                None => {}
            }
        }
    }
}
