//! The cpufreq collector: frequencies and the governor of each online CPU from
//! /sys/devices/system/cpu/cpuN/cpufreq (Documentation/admin-guide/pm/cpufreq.rst). The kernel
//! gives frequencies in kHz; they are exported in Hz. CPUs listed in
//! /sys/devices/system/cpu/offline are skipped.

use std::path::PathBuf;

use exporter_core::collector::BuildError;
use exporter_core::{AnyCollector, BlockingCollector, CollectError, Desc, MetricSink};

use super::{attr, NodeConfig};

const fn gauge(name: &'static str, help: &'static str) -> Desc {
    Desc::gauge(name, help, &["cpu"])
}

/// Frequency files of the cpufreq directory with their metric.
const FREQUENCIES: [(&str, Desc); 7] = [
    (
        "cpuinfo_cur_freq",
        gauge(
            "node_cpu_frequency_hertz",
            "Current frequency of the CPU in hertz, as the hardware reports it.",
        ),
    ),
    (
        "cpuinfo_avg_freq",
        gauge(
            "node_cpu_frequency_avg_hertz",
            "Average frequency of the CPU in hertz over the last measuring interval.",
        ),
    ),
    (
        "cpuinfo_min_freq",
        gauge(
            "node_cpu_frequency_min_hertz",
            "Lowest frequency the CPU supports, in hertz.",
        ),
    ),
    (
        "cpuinfo_max_freq",
        gauge(
            "node_cpu_frequency_max_hertz",
            "Highest frequency the CPU supports, in hertz.",
        ),
    ),
    (
        "scaling_cur_freq",
        gauge(
            "node_cpu_scaling_frequency_hertz",
            "Current frequency of the CPU in hertz, as the cpufreq driver reports it.",
        ),
    ),
    (
        "scaling_min_freq",
        gauge(
            "node_cpu_scaling_frequency_min_hertz",
            "Lowest frequency the governor may choose, in hertz.",
        ),
    ),
    (
        "scaling_max_freq",
        gauge(
            "node_cpu_scaling_frequency_max_hertz",
            "Highest frequency the governor may choose, in hertz.",
        ),
    ),
];

const GOVERNOR: Desc = Desc::gauge(
    "node_cpu_scaling_governor",
    "Whether each available cpufreq governor is the CPU's current one (1) or not (0).",
    &["cpu", "governor"],
);

pub fn build(config: &NodeConfig) -> Result<AnyCollector, BuildError> {
    Ok(AnyCollector::blocking(CpufreqCollector {
        sysfs: config.sysfs.clone(),
    }))
}

pub struct CpufreqCollector {
    pub sysfs: PathBuf,
}

impl BlockingCollector for CpufreqCollector {
    fn collect(&self, sink: &mut MetricSink) -> Result<(), CollectError> {
        let cpu_dir = self.sysfs.join("devices/system/cpu");
        let offline_path = cpu_dir.join("offline");
        let offline = match attr::read_attr(&offline_path)? {
            Some(text) => attr::parse_cpu_list(&text)
                .map_err(|e| CollectError::failed(format!("{}: {e}", offline_path.display())))?,
            None => Vec::new(),
        };
        let mut found = false;
        for (number, dir) in attr::numbered_entries(&cpu_dir, "cpu")? {
            let is_offline = number.parse::<u32>().is_ok_and(|n| offline.contains(&n));
            let cpufreq = dir.join("cpufreq");
            if is_offline || !cpufreq.is_dir() {
                continue;
            }
            found = true;
            for (file, desc) in &FREQUENCIES {
                if let Some(khz) = read_frequency(&cpufreq.join(file))? {
                    sink.add(desc, &[&number], khz as f64 * 1000.0);
                }
            }
            let governor = attr::read_attr(&cpufreq.join("scaling_governor"))?.unwrap_or_default();
            if governor.is_empty() {
                continue;
            }
            let available =
                attr::read_attr(&cpufreq.join("scaling_available_governors"))?.unwrap_or_default();
            for candidate in available.split(' ') {
                let current = if candidate == governor { 1.0 } else { 0.0 };
                sink.add(&GOVERNOR, &[&number, candidate], current);
            }
        }
        if !found {
            return Err(CollectError::no_data(format!(
                "no cpufreq directory under {}",
                cpu_dir.display()
            )));
        }
        Ok(())
    }
}

/// Reads a frequency file; `None` when it is missing or readable by root only, as
/// cpuinfo_cur_freq is.
fn read_frequency(path: &std::path::Path) -> Result<Option<u64>, attr::AttrError> {
    match attr::read_u64_attr(path) {
        Err(attr::AttrError::Read { source, .. })
            if source.kind() == std::io::ErrorKind::PermissionDenied =>
        {
            Ok(None)
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::test_support::{collect, samples, write_tree};

    #[test]
    fn frequencies_and_governors() {
        let dir = tempfile::tempdir().unwrap();
        let cpufreq = "devices/system/cpu/cpu0/cpufreq";
        write_tree(
            dir.path(),
            &[
                ("devices/system/cpu/offline", "1\n"),
                (&format!("{cpufreq}/scaling_cur_freq"), "1800000\n"),
                (&format!("{cpufreq}/cpuinfo_max_freq"), "3600000\n"),
                (&format!("{cpufreq}/scaling_governor"), "powersave\n"),
                (
                    &format!("{cpufreq}/scaling_available_governors"),
                    "performance powersave\n",
                ),
                ("devices/system/cpu/cpu1/cpufreq/scaling_cur_freq", "1\n"),
            ],
        );
        let got = samples(&CpufreqCollector {
            sysfs: dir.path().to_owned(),
        });
        assert_eq!(got[r#"node_cpu_scaling_frequency_hertz{cpu="0"}"#], 1.8e9);
        assert_eq!(got[r#"node_cpu_frequency_max_hertz{cpu="0"}"#], 3.6e9);
        assert_eq!(
            got[r#"node_cpu_scaling_governor{cpu="0",governor="powersave"}"#],
            1.0
        );
        assert_eq!(
            got[r#"node_cpu_scaling_governor{cpu="0",governor="performance"}"#],
            0.0
        );
        assert!(
            !got.keys().any(|k| k.contains(r#"cpu="1""#)),
            "cpu1 is offline"
        );
    }

    #[test]
    fn without_cpufreq_is_no_data() {
        let dir = tempfile::tempdir().unwrap();
        write_tree(
            dir.path(),
            &[("devices/system/cpu/cpu0/topology/core_id", "0\n")],
        );
        let (outcome, _) = collect(&CpufreqCollector {
            sysfs: dir.path().to_owned(),
        });
        assert!(matches!(outcome, Err(CollectError::NoData(_))));
    }
}
