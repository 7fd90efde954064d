//! nvme collector: controller identity and namespace sizes of NVMe devices under
//! /sys/class/nvme/<controller>/ (firmware_rev, model, serial, state, cntlid) and its namespace
//! directories nvme<C>n<N>/ (size, nuse, queue/logical_block_size, ana_state).

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use exporter_core::collector::BuildError;
use exporter_core::{AnyCollector, BlockingCollector, CollectError, Desc, MetricSink};
use regex::Regex;
use tracing::debug;

use super::sysfs::{list_dir, read_attr, read_u64};
use super::NodeConfig;

const NAMESPACE: &[&str] = &["device", "nsid"];
const INFO: Desc = Desc::gauge(
    "node_nvme_info",
    "Identity and state of an NVMe controller; the value is always 1.",
    &[
        "device",
        "firmware_revision",
        "model",
        "serial",
        "state",
        "cntlid",
    ],
);
const NAMESPACE_INFO: Desc = Desc::gauge(
    "node_nvme_namespace_info",
    "An NVMe namespace with its ANA state; the value is always 1.",
    &["device", "nsid", "ana_state"],
);
const CAPACITY: Desc = Desc::gauge(
    "node_nvme_namespace_capacity_bytes",
    "Capacity of the namespace in bytes: size times logical block size.",
    NAMESPACE,
);
const SIZE: Desc = Desc::gauge(
    "node_nvme_namespace_size_bytes",
    "Size of the namespace in bytes: size times logical block size.",
    NAMESPACE,
);
const USED: Desc = Desc::gauge(
    "node_nvme_namespace_used_bytes",
    "Used space of the namespace in bytes: nuse times logical block size.",
    NAMESPACE,
);
const BLOCK_SIZE: Desc = Desc::gauge(
    "node_nvme_namespace_logical_block_size_bytes",
    "Logical block size of the namespace in bytes.",
    NAMESPACE,
);

static NAMESPACE_DIR: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"nvme\d+n(\d+)").ok());

struct Nvme {
    class: PathBuf,
}

pub fn build(config: &NodeConfig) -> Result<AnyCollector, BuildError> {
    Ok(AnyCollector::blocking(Nvme {
        class: config.sys("class/nvme"),
    }))
}

impl BlockingCollector for Nvme {
    fn collect(&self, sink: &mut MetricSink) -> Result<(), CollectError> {
        for (device, dir) in list_dir(&self.class)? {
            let fields: Option<Vec<String>> =
                ["firmware_rev", "model", "serial", "state", "cntlid"]
                    .iter()
                    .map(|file| read_attr(&dir.join(file)))
                    .collect();
            let Some(fields) = fields else {
                debug!(
                    device,
                    "Skipped an NVMe controller with unreadable identity files"
                );
                continue;
            };
            sink.add(
                &INFO,
                &[
                    &device, &fields[0], &fields[1], &fields[2], &fields[3], &fields[4],
                ],
                1.0,
            );
            for (name, path) in list_dir(&dir)? {
                let nsid = NAMESPACE_DIR
                    .as_ref()
                    .and_then(|re| re.captures(&name))
                    .map(|c| c[1].to_owned());
                if let Some(nsid) = nsid {
                    collect_namespace(sink, &device, &nsid, &path);
                }
            }
        }
        Ok(())
    }
}

fn collect_namespace(sink: &mut MetricSink, device: &str, nsid: &str, dir: &Path) {
    let ana_state = read_attr(&dir.join("ana_state")).unwrap_or_else(|| "unknown".to_owned());
    let block_size = read_u64(&dir.join("queue/logical_block_size")).unwrap_or(0);
    let size = read_u64(&dir.join("size"))
        .unwrap_or(0)
        .saturating_mul(block_size);
    let used = read_u64(&dir.join("nuse"))
        .unwrap_or(0)
        .saturating_mul(block_size);
    let labels = [device, nsid];
    sink.add(&NAMESPACE_INFO, &[device, nsid, &ana_state], 1.0);
    sink.add(&CAPACITY, &labels, size as f64);
    sink.add(&SIZE, &labels, size as f64);
    sink.add(&USED, &labels, used as f64);
    sink.add(&BLOCK_SIZE, &labels, block_size as f64);
}

#[cfg(test)]
mod tests {
    use super::*;
    use exporter_core::Value;

    #[test]
    fn nvme_controller_and_namespace() {
        let class = tempfile::tempdir().unwrap();
        let controller = class.path().join("nvme0");
        let namespace = controller.join("nvme0n1");
        std::fs::create_dir_all(namespace.join("queue")).unwrap();
        for (file, value) in [
            ("firmware_rev", "1B2Q"),
            ("model", "SSD 970"),
            ("serial", "S68"),
            ("state", "live"),
            ("cntlid", "4"),
        ] {
            std::fs::write(controller.join(file), format!("{value}\n")).unwrap();
        }
        std::fs::write(namespace.join("size"), "100\n").unwrap();
        std::fs::write(namespace.join("nuse"), "10\n").unwrap();
        std::fs::write(namespace.join("queue/logical_block_size"), "4096\n").unwrap();

        let mut sink = MetricSink::new();
        Nvme {
            class: class.path().to_path_buf(),
        }
        .collect(&mut sink)
        .unwrap();
        let families = sink.finish();

        let find = |name: &str| families.iter().find(|f| f.name == name).unwrap();
        assert_eq!(
            find("node_nvme_namespace_size_bytes").samples[0].value,
            Value::Number(409_600.0)
        );
        assert_eq!(
            find("node_nvme_namespace_used_bytes").samples[0].value,
            Value::Number(40_960.0)
        );
        let info = find("node_nvme_namespace_info");
        let ana = info.samples[0]
            .labels
            .iter()
            .find(|(k, _)| k == "ana_state")
            .unwrap();
        assert_eq!(ana.1, "unknown");
    }
}
