//! edac collector: memory error counters of the EDAC memory controllers under
//! /sys/devices/system/edac/mc/mc<N>/ and their chip-select rows csrow<N>/ (kernel
//! Documentation/admin-guide/ras.rst).

use std::path::{Path, PathBuf};

use exporter_core::collector::BuildError;
use exporter_core::{AnyCollector, BlockingCollector, CollectError, Desc, MetricSink};

use super::sysfs::{list_dir, read_attr, read_u64};
use super::NodeConfig;

const CE: Desc = Desc::counter(
    "node_edac_correctable_errors_total",
    "Correctable memory errors of the controller.",
    &["controller"],
);
const UE: Desc = Desc::counter(
    "node_edac_uncorrectable_errors_total",
    "Uncorrectable memory errors of the controller.",
    &["controller"],
);
const CSROW_CE: Desc = Desc::counter(
    "node_edac_csrow_correctable_errors_total",
    "Correctable memory errors of the chip-select row; csrow \"unknown\" counts errors without row information.",
    &["controller", "csrow"],
);
const CSROW_UE: Desc = Desc::counter(
    "node_edac_csrow_uncorrectable_errors_total",
    "Uncorrectable memory errors of the chip-select row; csrow \"unknown\" counts errors without row information.",
    &["controller", "csrow"],
);
const CHANNEL_CE: Desc = Desc::counter(
    "node_edac_channel_correctable_errors_total",
    "Correctable memory errors of the channel.",
    &["controller", "csrow", "channel", "dimm_label"],
);
const CHANNEL_UE: Desc = Desc::counter(
    "node_edac_channel_uncorrectable_errors_total",
    "Uncorrectable memory errors of the channel.",
    &["controller", "csrow", "channel", "dimm_label"],
);

struct Edac {
    base: PathBuf,
}

pub fn build(config: &NodeConfig) -> Result<AnyCollector, BuildError> {
    Ok(AnyCollector::blocking(Edac {
        base: config.sys("devices/system/edac/mc"),
    }))
}

/// Returns the digits after `prefix`, which may be empty as in Go's `mc[0-9]*` glob.
fn numbered<'a>(name: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = name.strip_prefix(prefix)?;
    rest.bytes().all(|b| b.is_ascii_digit()).then_some(rest)
}

/// Adds counts to the sink and remembers the files that could not be read, so that one
/// unreadable count fails the collector without hiding the others.
#[derive(Default)]
struct Counts {
    unreadable: Vec<String>,
}

impl Counts {
    fn add(&mut self, sink: &mut MetricSink, desc: &Desc, labels: &[&str], path: &Path) {
        match read_u64(path) {
            Some(count) => sink.add(desc, labels, count as f64),
            None => self.unreadable.push(path.display().to_string()),
        }
    }

    fn into_result(self) -> Result<(), CollectError> {
        if self.unreadable.is_empty() {
            return Ok(());
        }
        let files = self.unreadable.join(", ");
        Err(CollectError::failed(format!(
            "failed to read a count from {files}"
        )))
    }
}

/// Reads `ch<N>_dimm_label`, dropping `#` and separating the csrow and channel words as
/// node_exporter does, or returns "unknown".
fn dimm_label(csrow: &Path, channel: &str) -> String {
    match read_attr(&csrow.join(format!("ch{channel}_dimm_label"))) {
        Some(label) => label
            .replace('#', "")
            .replace("csrow", "_csrow")
            .replace("channel", "_channel"),
        None => "unknown".to_owned(),
    }
}

impl BlockingCollector for Edac {
    fn collect(&self, sink: &mut MetricSink) -> Result<(), CollectError> {
        let mut counts = Counts::default();
        for (name, controller) in list_dir(&self.base)? {
            let Some(mc) = numbered(&name, "mc") else {
                continue;
            };
            counts.add(sink, &CE, &[mc], &controller.join("ce_count"));
            let noinfo = [mc, "unknown"];
            counts.add(
                sink,
                &CSROW_CE,
                &noinfo,
                &controller.join("ce_noinfo_count"),
            );
            counts.add(sink, &UE, &[mc], &controller.join("ue_count"));
            counts.add(
                sink,
                &CSROW_UE,
                &noinfo,
                &controller.join("ue_noinfo_count"),
            );
            for (row_name, csrow) in list_dir(&controller)? {
                if let Some(row) = numbered(&row_name, "csrow") {
                    collect_csrow(sink, &mut counts, mc, row, &csrow)?;
                }
            }
        }
        counts.into_result()
    }
}

fn collect_csrow(
    sink: &mut MetricSink,
    counts: &mut Counts,
    mc: &str,
    row: &str,
    csrow: &Path,
) -> Result<(), CollectError> {
    counts.add(sink, &CSROW_CE, &[mc, row], &csrow.join("ce_count"));
    counts.add(sink, &CSROW_UE, &[mc, row], &csrow.join("ue_count"));
    for (file, path) in list_dir(csrow)? {
        let Some(channel) = file
            .strip_prefix("ch")
            .and_then(|rest| rest.strip_suffix("_ce_count"))
        else {
            continue;
        };
        if channel.is_empty() || !channel.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let label = dimm_label(csrow, channel);
        counts.add(sink, &CHANNEL_CE, &[mc, row, channel, &label], &path);
        // Some drivers have no per-channel uncorrectable count.
        if let Some(ue) = read_u64(&csrow.join(format!("ch{channel}_ue_count"))) {
            sink.add(&CHANNEL_UE, &[mc, row, channel, &label], ue as f64);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use exporter_core::Value;

    #[test]
    fn edac_controller_and_channel() {
        let base = tempfile::tempdir().unwrap();
        let mc = base.path().join("mc0");
        let csrow = mc.join("csrow1");
        std::fs::create_dir_all(&csrow).unwrap();
        for (file, value) in [
            ("ce_count", "3"),
            ("ce_noinfo_count", "1"),
            ("ue_count", "0"),
            ("ue_noinfo_count", "0"),
        ] {
            std::fs::write(mc.join(file), value).unwrap();
        }
        std::fs::write(csrow.join("ce_count"), "2").unwrap();
        std::fs::write(csrow.join("ue_count"), "0").unwrap();
        std::fs::write(csrow.join("ch0_ce_count"), "2").unwrap();
        std::fs::write(csrow.join("ch0_dimm_label"), "CPU#0Channel#1_DIMM#0\n").unwrap();

        let mut sink = MetricSink::new();
        Edac {
            base: base.path().to_path_buf(),
        }
        .collect(&mut sink)
        .unwrap();
        let families = sink.finish();

        let channel = families
            .iter()
            .find(|f| f.name == "node_edac_channel_correctable_errors_total")
            .unwrap();
        assert_eq!(channel.samples[0].value, Value::Number(2.0));
        let label = channel.samples[0]
            .labels
            .iter()
            .find(|(k, _)| k == "dimm_label")
            .unwrap();
        assert_eq!(label.1, "CPU0Channel1_DIMM0");
        assert!(families
            .iter()
            .all(|f| f.name != "node_edac_channel_uncorrectable_errors_total"));
        let rows = families
            .iter()
            .find(|f| f.name == "node_edac_csrow_correctable_errors_total")
            .unwrap();
        assert_eq!(rows.samples.len(), 2);
    }

    #[test]
    fn edac_missing_count_fails() {
        let base = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(base.path().join("mc0")).unwrap();
        std::fs::write(base.path().join("mc0/ue_count"), "5\n").unwrap();

        let mut sink = MetricSink::new();
        let result = Edac {
            base: base.path().to_path_buf(),
        }
        .collect(&mut sink);
        assert!(matches!(result, Err(CollectError::Failed(_))));

        let families = sink.finish();
        let ue = families
            .iter()
            .find(|f| f.name == "node_edac_uncorrectable_errors_total")
            .unwrap();
        assert_eq!(ue.samples[0].value, Value::Number(5.0));
    }
}
