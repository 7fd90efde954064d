//! The meminfo collector: the fields of /proc/meminfo (see proc(5)) that node_exporter 1.12
//! exports, each as `node_memory_<field>_bytes`, and the four huge page counts without a unit.
//!
//! Only the fixed list in [`FIELDS`] is exported, not every key of the file, so that a kernel
//! upgrade adds no families. procfs-core's `Meminfo` is not used because it fails the whole file
//! on one malformed line and requires fields that some kernels lack.

use std::path::PathBuf;

use exporter_core::collector::BuildError;
use exporter_core::{AnyCollector, BlockingCollector, CollectError, MetricSink, MetricType, Value};
use tracing::debug;

use super::{util, NodeConfig};

/// Pairs of the key in /proc/meminfo and the metric name.
const FIELDS: &[(&str, &str)] = &[
    ("Active", "node_memory_Active_bytes"),
    ("Active(anon)", "node_memory_Active_anon_bytes"),
    ("Active(file)", "node_memory_Active_file_bytes"),
    ("AnonHugePages", "node_memory_AnonHugePages_bytes"),
    ("AnonPages", "node_memory_AnonPages_bytes"),
    ("Bounce", "node_memory_Bounce_bytes"),
    ("Buffers", "node_memory_Buffers_bytes"),
    ("Cached", "node_memory_Cached_bytes"),
    ("CmaFree", "node_memory_CmaFree_bytes"),
    ("CmaTotal", "node_memory_CmaTotal_bytes"),
    ("CommitLimit", "node_memory_CommitLimit_bytes"),
    ("Committed_AS", "node_memory_Committed_AS_bytes"),
    ("DirectMap1G", "node_memory_DirectMap1G_bytes"),
    ("DirectMap2M", "node_memory_DirectMap2M_bytes"),
    ("DirectMap4k", "node_memory_DirectMap4k_bytes"),
    ("Dirty", "node_memory_Dirty_bytes"),
    ("HardwareCorrupted", "node_memory_HardwareCorrupted_bytes"),
    ("HugePages_Free", "node_memory_HugePages_Free"),
    ("HugePages_Rsvd", "node_memory_HugePages_Rsvd"),
    ("HugePages_Surp", "node_memory_HugePages_Surp"),
    ("HugePages_Total", "node_memory_HugePages_Total"),
    ("Hugepagesize", "node_memory_Hugepagesize_bytes"),
    ("Inactive", "node_memory_Inactive_bytes"),
    ("Inactive(anon)", "node_memory_Inactive_anon_bytes"),
    ("Inactive(file)", "node_memory_Inactive_file_bytes"),
    ("KernelStack", "node_memory_KernelStack_bytes"),
    ("Mapped", "node_memory_Mapped_bytes"),
    ("MemAvailable", "node_memory_MemAvailable_bytes"),
    ("MemFree", "node_memory_MemFree_bytes"),
    ("MemTotal", "node_memory_MemTotal_bytes"),
    ("Mlocked", "node_memory_Mlocked_bytes"),
    ("NFS_Unstable", "node_memory_NFS_Unstable_bytes"),
    ("PageTables", "node_memory_PageTables_bytes"),
    ("Percpu", "node_memory_Percpu_bytes"),
    ("SReclaimable", "node_memory_SReclaimable_bytes"),
    ("SUnreclaim", "node_memory_SUnreclaim_bytes"),
    ("Shmem", "node_memory_Shmem_bytes"),
    ("ShmemHugePages", "node_memory_ShmemHugePages_bytes"),
    ("ShmemPmdMapped", "node_memory_ShmemPmdMapped_bytes"),
    ("Slab", "node_memory_Slab_bytes"),
    ("SwapCached", "node_memory_SwapCached_bytes"),
    ("SwapFree", "node_memory_SwapFree_bytes"),
    ("SwapTotal", "node_memory_SwapTotal_bytes"),
    ("Unevictable", "node_memory_Unevictable_bytes"),
    ("VmallocChunk", "node_memory_VmallocChunk_bytes"),
    ("VmallocTotal", "node_memory_VmallocTotal_bytes"),
    ("VmallocUsed", "node_memory_VmallocUsed_bytes"),
    ("Writeback", "node_memory_Writeback_bytes"),
    ("WritebackTmp", "node_memory_WritebackTmp_bytes"),
    ("Zswap", "node_memory_Zswap_bytes"),
    ("Zswapped", "node_memory_Zswapped_bytes"),
];

pub fn build(config: &NodeConfig) -> Result<AnyCollector, BuildError> {
    Ok(AnyCollector::blocking(MeminfoCollector {
        procfs: config.procfs.clone(),
    }))
}

pub struct MeminfoCollector {
    pub procfs: PathBuf,
}

/// Parses one line, `Key:   value [kB]`, into the key and the value in bytes. The kernel prints
/// sizes in kibibytes with the unit `kB` and counts such as `HugePages_Total` without a unit.
fn parse_line(line: &str) -> Result<Option<(&str, f64)>, &'static str> {
    let mut fields = line.split_whitespace();
    let Some(key) = fields.next() else {
        return Ok(None);
    };
    let key = key.strip_suffix(':').ok_or("key without a colon")?;
    let value: u64 = fields
        .next()
        .ok_or("no value")?
        .parse()
        .map_err(|_| "invalid integer")?;
    let multiplier = match (fields.next(), fields.next()) {
        (None, None) => 1.0,
        (Some("kB"), None) => 1024.0,
        (Some(_), None) => return Err("unit other than kB"),
        (_, Some(_)) => return Err("more than three fields"),
    };
    Ok(Some((key, value as f64 * multiplier)))
}

impl BlockingCollector for MeminfoCollector {
    fn collect(&self, sink: &mut MetricSink) -> Result<(), CollectError> {
        let text = util::read_file(&self.procfs.join("meminfo"))?;
        for line in text.lines() {
            let (key, bytes) = match parse_line(line) {
                Ok(Some(pair)) => pair,
                Ok(None) => continue,
                Err(reason) => {
                    debug!(line, reason, "Skipped a malformed line of /proc/meminfo");
                    continue;
                }
            };
            let Ok(i) = FIELDS.binary_search_by(|(k, _)| k.cmp(&key)) else {
                continue;
            };
            let name = FIELDS[i].1;
            sink.add_dynamic(
                name,
                format!("Memory field {key} of /proc/meminfo, in bytes except for page counts."),
                MetricType::Gauge,
                Vec::new(),
                Value::Number(bytes),
                None,
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::test_support::{collect, samples, write_tree};

    fn collector(meminfo: &str) -> (tempfile::TempDir, MeminfoCollector) {
        let dir = tempfile::tempdir().unwrap();
        write_tree(dir.path(), &[("meminfo", meminfo)]);
        let procfs = dir.path().to_owned();
        (dir, MeminfoCollector { procfs })
    }

    #[test]
    fn fields_table_is_sorted() {
        assert!(FIELDS.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn kibibytes_and_page_counts() {
        let (_dir, meminfo) = collector(
            "MemTotal:       16 kB\nActive(anon):    2 kB\nHugePages_Total:   7\nSecPageTables: 4 kB\n",
        );
        let got = samples(&meminfo);
        assert_eq!(got["node_memory_MemTotal_bytes"], 16384.0);
        assert_eq!(got["node_memory_Active_anon_bytes"], 2048.0);
        assert_eq!(got["node_memory_HugePages_Total"], 7.0);
        assert_eq!(got.len(), 3, "keys outside the fixed list are not exported");
    }

    #[test]
    fn blank_and_malformed_lines_are_skipped() {
        let (_dir, meminfo) = collector(
            "MemTotal: 1 kB\n\n   \nMemFree 2 kB\nBuffers: x kB\nCached: 3 MB\nDirty: 1 kB extra\nShmem: 5 kB\n",
        );
        let got = samples(&meminfo);
        assert_eq!(got.len(), 2);
        assert_eq!(got["node_memory_MemTotal_bytes"], 1024.0);
        assert_eq!(got["node_memory_Shmem_bytes"], 5120.0);
    }

    #[test]
    fn missing_file_is_no_data() {
        let meminfo = MeminfoCollector {
            procfs: PathBuf::from("/nonexistent/proc"),
        };
        let (outcome, _) = collect(&meminfo);
        assert!(matches!(outcome, Err(CollectError::NoData(_))));
    }
}
