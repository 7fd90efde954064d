//! dmi collector: the firmware's Desktop Management Interface strings from /sys/class/dmi/id/,
//! read once at start-up because they do not change while the system runs.

use std::borrow::Cow;
use std::path::Path;

use exporter_core::collector::BuildError;
use exporter_core::metric::LabelName;
use exporter_core::{AnyCollector, BlockingCollector, CollectError, MetricSink, MetricType, Value};

use super::sysfs::read_attr;
use super::NodeConfig;

/// DMI files and their label names; only files present on the host become labels.
const FILES: &[(&str, &str)] = &[
    ("bios_date", "bios_date"),
    ("bios_release", "bios_release"),
    ("bios_vendor", "bios_vendor"),
    ("bios_version", "bios_version"),
    ("board_asset_tag", "board_asset_tag"),
    ("board_name", "board_name"),
    ("board_serial", "board_serial"),
    ("board_vendor", "board_vendor"),
    ("board_version", "board_version"),
    ("chassis_asset_tag", "chassis_asset_tag"),
    ("chassis_serial", "chassis_serial"),
    ("chassis_vendor", "chassis_vendor"),
    ("chassis_version", "chassis_version"),
    ("product_family", "product_family"),
    ("product_name", "product_name"),
    ("product_serial", "product_serial"),
    ("product_sku", "product_sku"),
    ("product_uuid", "product_uuid"),
    ("product_version", "product_version"),
    ("sys_vendor", "system_vendor"),
];

struct Dmi {
    labels: Vec<(LabelName, String)>,
}

/// Reads the DMI strings. Files readable only by root, such as the serial numbers, are left
/// out when the exporter runs unprivileged.
pub fn build(config: &NodeConfig) -> Result<AnyCollector, BuildError> {
    Ok(AnyCollector::blocking(Dmi {
        labels: read_labels(&config.sys("class/dmi/id")),
    }))
}

/// Reads the regular files of the DMI directory into label pairs.
fn read_labels(dir: &Path) -> Vec<(LabelName, String)> {
    FILES
        .iter()
        .filter(|(file, _)| {
            let path = dir.join(file);
            std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_file())
        })
        .filter_map(|(file, label)| {
            read_attr(&dir.join(file)).map(|value| (Cow::Borrowed(*label), value))
        })
        .collect()
}

impl BlockingCollector for Dmi {
    fn collect(&self, sink: &mut MetricSink) -> Result<(), CollectError> {
        if self.labels.is_empty() {
            return Err(CollectError::no_data(
                "no DMI information in /sys/class/dmi/id",
            ));
        }
        let help = "Firmware DMI strings as labels; the value is always 1.";
        sink.add_dynamic(
            "node_dmi_info",
            help,
            MetricType::Gauge,
            self.labels.clone(),
            Value::Number(1.0),
            None,
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dmi_labels_from_present_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("sys_vendor"), "Dell Inc.\n").unwrap();
        std::fs::write(dir.path().join("chassis_asset_tag"), "\n").unwrap();
        std::fs::write(dir.path().join("product_version"), b"\xff1\n").unwrap();
        std::fs::write(dir.path().join("modalias"), "dmi:bvn\n").unwrap();
        let labels = read_labels(dir.path());
        let names: Vec<&str> = labels.iter().map(|(k, _)| k.as_ref()).collect();
        assert_eq!(
            names,
            ["chassis_asset_tag", "product_version", "system_vendor"]
        );
        assert_eq!(labels[0].1, "");
        assert_eq!(labels[1].1, "\u{fffd}1");
        assert_eq!(labels[2].1, "Dell Inc.");
    }

    #[test]
    fn dmi_without_files_is_no_data() {
        let dmi = Dmi { labels: Vec::new() };
        let mut sink = MetricSink::new();
        assert!(matches!(
            dmi.collect(&mut sink),
            Err(CollectError::NoData(_))
        ));
    }
}
