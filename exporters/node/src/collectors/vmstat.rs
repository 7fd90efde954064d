//! The vmstat collector: the fields of /proc/vmstat whose names match
//! `--collector.vmstat.fields`, each as an untyped `node_vmstat_<field>`.

use std::path::PathBuf;

use clap::Arg;
use exporter_core::collector::BuildError;
use exporter_core::metric::is_valid_metric_name;
use exporter_core::{AnyCollector, BlockingCollector, CollectError, MetricSink, MetricType, Value};
use regex::Regex;
use tracing::debug;

use super::NodeConfig;

/// Default of `--collector.vmstat.fields` in node_exporter 1.12: OOM kills, paging, swapping and
/// page faults.
pub const DEFAULT_FIELDS: &str = "^(oom_kill|pgpg|pswp|pg.*fault).*";

/// Returns the option flags of the vmstat collector.
pub fn args() -> Vec<Arg> {
    vec![Arg::new("collector.vmstat.fields")
        .long("collector.vmstat.fields")
        .default_value(DEFAULT_FIELDS)
        .help("Regular expression of the /proc/vmstat fields to export")]
}

pub fn build(config: &NodeConfig) -> Result<AnyCollector, BuildError> {
    let pattern = config
        .string("collector.vmstat.fields")
        .unwrap_or_else(|| DEFAULT_FIELDS.to_owned());
    let fields = Regex::new(&pattern)
        .map_err(|e| format!("--collector.vmstat.fields is not a valid regular expression: {e}"))?;
    Ok(AnyCollector::blocking(VmstatCollector {
        procfs: config.procfs.clone(),
        fields,
    }))
}

pub struct VmstatCollector {
    pub procfs: PathBuf,
    pub fields: Regex,
}

impl BlockingCollector for VmstatCollector {
    fn collect(&self, sink: &mut MetricSink) -> Result<(), CollectError> {
        let text = super::attr::read_lossy(&self.procfs.join("vmstat"))?;
        for line in text.lines() {
            let mut parts = line.split_whitespace();
            let (Some(key), Some(value)) = (parts.next(), parts.next()) else {
                if !line.trim().is_empty() {
                    debug!(line, "Skipped a /proc/vmstat line without a value");
                }
                continue;
            };
            if !self.fields.is_match(key) {
                continue;
            }
            let name = format!("node_vmstat_{key}");
            let Ok(value) = value.parse::<f64>() else {
                debug!(line, "Skipped a /proc/vmstat line with an invalid value");
                continue;
            };
            if !is_valid_metric_name(&name) {
                debug!(
                    line,
                    "Skipped a /proc/vmstat field whose name is not a valid metric name"
                );
                continue;
            }
            sink.add_dynamic(
                name,
                format!("Field {key} of /proc/vmstat."),
                MetricType::Untyped,
                Vec::new(),
                Value::Number(value),
                None,
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::test_support::{family_type, samples, write_tree};

    const VMSTAT: &str = "nr_free_pages 1000\npgpgin 512\npgpgout 256\npswpin 3\npswpout 4\n\
pgfault 90000\npgmajfault 12\noom_kill 1\npgsteal_kswapd 5\nbroken\npgfault_bad x\n";

    fn collector(pattern: &str) -> (tempfile::TempDir, VmstatCollector) {
        let dir = tempfile::tempdir().unwrap();
        write_tree(dir.path(), &[("vmstat", VMSTAT)]);
        let procfs = dir.path().to_owned();
        let fields = Regex::new(pattern).unwrap();
        (dir, VmstatCollector { procfs, fields })
    }

    #[test]
    fn default_fields() {
        let (_dir, vmstat) = collector(DEFAULT_FIELDS);
        let got = samples(&vmstat);
        let names: Vec<&str> = got.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "node_vmstat_oom_kill",
                "node_vmstat_pgfault",
                "node_vmstat_pgmajfault",
                "node_vmstat_pgpgin",
                "node_vmstat_pgpgout",
                "node_vmstat_pswpin",
                "node_vmstat_pswpout",
            ]
        );
        assert_eq!(got["node_vmstat_pgfault"], 90000.0);
        assert_eq!(family_type(&vmstat, "node_vmstat_pgfault"), Some("untyped"));
    }

    #[test]
    fn custom_pattern() {
        let (_dir, vmstat) = collector("^nr_free");
        let got = samples(&vmstat);
        assert_eq!(got.len(), 1);
        assert_eq!(got["node_vmstat_nr_free_pages"], 1000.0);
    }
}
