//! dmmultipath collector: device-mapper multipath devices, found as /sys/block/dm-*/ whose
//! dm/uuid starts with `mpath-`, with their paths from slaves/ and each path's SCSI or NVMe
//! state from /sys/block/<path>/device/state.

use std::path::{Path, PathBuf};

use exporter_core::collector::BuildError;
use exporter_core::{AnyCollector, BlockingCollector, CollectError, Desc, MetricSink};
use tracing::debug;

use super::sysfs::{list_dir, read_attr, read_u64};
use super::NodeConfig;

const DEVICE: &[&str] = &["device", "sysfs_name"];
const INFO: Desc = Desc::gauge(
    "node_dmmultipath_device_info",
    "A multipath device with its device-mapper UUID; the value is always 1.",
    &["device", "sysfs_name", "uuid"],
);
const ACTIVE: Desc = Desc::gauge(
    "node_dmmultipath_device_active",
    "Whether the multipath device is active (1) or suspended (0).",
    DEVICE,
);
const SIZE: Desc = Desc::gauge(
    "node_dmmultipath_device_size_bytes",
    "Size of the multipath device in bytes.",
    DEVICE,
);
const PATHS: Desc = Desc::gauge(
    "node_dmmultipath_device_paths",
    "Number of paths of the multipath device.",
    DEVICE,
);
const PATHS_ACTIVE: Desc = Desc::gauge(
    "node_dmmultipath_device_paths_active",
    "Number of paths whose device state is running (SCSI) or live (NVMe).",
    DEVICE,
);
const PATHS_FAILED: Desc = Desc::gauge(
    "node_dmmultipath_device_paths_failed",
    "Number of paths in any other state.",
    DEVICE,
);
const PATH_STATE: Desc = Desc::gauge(
    "node_dmmultipath_path_state",
    "A path of a multipath device with its device state; the value is always 1.",
    &["device", "path", "state"],
);
const SECTOR_BYTES: f64 = 512.0;

struct DmMultipath {
    block: PathBuf,
}

pub fn build(config: &NodeConfig) -> Result<AnyCollector, BuildError> {
    Ok(AnyCollector::blocking(DmMultipath {
        block: config.sys("block"),
    }))
}

/// One multipath device as read from sysfs.
struct Device {
    name: String,
    uuid: String,
    suspended: bool,
    sectors: u64,
    paths: Vec<(String, String)>,
}

fn read_device(block: &Path, dir: &Path) -> Option<Device> {
    let uuid = read_attr(&dir.join("dm/uuid")).filter(|uuid| uuid.starts_with("mpath-"))?;
    let name = read_attr(&dir.join("dm/name"))?;
    let suspended = read_u64(&dir.join("dm/suspended"))? == 1;
    let sectors = read_u64(&dir.join("size"))?;
    let mut paths = Vec::new();
    for (path, _) in list_dir(&dir.join("slaves")).unwrap_or_default() {
        let state = read_attr(&block.join(&path).join("device/state"))?;
        paths.push((path, state));
    }
    Some(Device {
        name,
        uuid,
        suspended,
        sectors,
        paths,
    })
}

impl BlockingCollector for DmMultipath {
    fn collect(&self, sink: &mut MetricSink) -> Result<(), CollectError> {
        for (sysfs_name, dir) in list_dir(&self.block)? {
            if !sysfs_name.starts_with("dm-") {
                continue;
            }
            let Some(device) = read_device(&self.block, &dir) else {
                if read_attr(&dir.join("dm/uuid")).is_some_and(|uuid| uuid.starts_with("mpath-")) {
                    debug!(
                        device = sysfs_name,
                        "Skipped a multipath device with unreadable attributes"
                    );
                }
                continue;
            };
            add_device(sink, &sysfs_name, &device);
        }
        Ok(())
    }
}

fn add_device(sink: &mut MetricSink, sysfs_name: &str, device: &Device) {
    let labels = [device.name.as_str(), sysfs_name];
    sink.add(&INFO, &[&device.name, sysfs_name, &device.uuid], 1.0);
    sink.add(&ACTIVE, &labels, if device.suspended { 0.0 } else { 1.0 });
    sink.add(&SIZE, &labels, device.sectors as f64 * SECTOR_BYTES);
    let active = device
        .paths
        .iter()
        .filter(|(_, state)| state == "running" || state == "live")
        .count();
    for (path, state) in &device.paths {
        sink.add(&PATH_STATE, &[&device.name, path, state], 1.0);
    }
    sink.add(&PATHS, &labels, device.paths.len() as f64);
    sink.add(&PATHS_ACTIVE, &labels, active as f64);
    sink.add(&PATHS_FAILED, &labels, (device.paths.len() - active) as f64);
}

#[cfg(test)]
mod tests {
    use super::*;
    use exporter_core::Value;

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn multipath_paths_by_state() {
        let block = tempfile::tempdir().unwrap();
        let dm = block.path().join("dm-0");
        write(&dm.join("dm/uuid"), "mpath-3600\n");
        write(&dm.join("dm/name"), "mpatha\n");
        write(&dm.join("dm/suspended"), "0\n");
        write(&dm.join("size"), "2048\n");
        for (path, state) in [("sda", "running"), ("sdb", "offline")] {
            std::fs::create_dir_all(dm.join("slaves").join(path)).unwrap();
            write(
                &block.path().join(path).join("device/state"),
                &format!("{state}\n"),
            );
        }
        write(&block.path().join("dm-1/dm/uuid"), "LVM-abc\n");

        let mut sink = MetricSink::new();
        DmMultipath {
            block: block.path().to_path_buf(),
        }
        .collect(&mut sink)
        .unwrap();
        let families = sink.finish();

        let find = |name: &str| families.iter().find(|f| f.name == name).unwrap();
        assert_eq!(
            find("node_dmmultipath_device_paths_active").samples[0].value,
            Value::Number(1.0)
        );
        assert_eq!(
            find("node_dmmultipath_device_paths_failed").samples[0].value,
            Value::Number(1.0)
        );
        assert_eq!(
            find("node_dmmultipath_device_size_bytes").samples[0].value,
            Value::Number(1_048_576.0)
        );
        assert_eq!(find("node_dmmultipath_device_info").samples.len(), 1);
    }
}
