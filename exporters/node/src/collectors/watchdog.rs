//! The watchdog collector: the attributes of each watchdog device in /sys/class/watchdog
//! (Documentation/ABI/testing/sysfs-class-watchdog). Attributes a driver does not provide are
//! left out; their labels in node_watchdog_info stay empty.

use std::path::PathBuf;

use exporter_core::collector::BuildError;
use exporter_core::{AnyCollector, BlockingCollector, CollectError, Desc, MetricSink};

use super::{attr, NodeConfig};

const fn gauge(name: &'static str, help: &'static str) -> Desc {
    Desc::gauge(name, help, &["name"])
}

/// Numeric attributes with their metric.
const NUMBERS: [(&str, Desc); 7] = [
    (
        "bootstatus",
        gauge(
            "node_watchdog_bootstatus",
            "Status of the watchdog device at boot (bootstatus).",
        ),
    ),
    (
        "fw_version",
        gauge(
            "node_watchdog_fw_version",
            "Firmware version of the watchdog device.",
        ),
    ),
    (
        "nowayout",
        gauge(
            "node_watchdog_nowayout",
            "Whether the watchdog cannot be stopped once started (nowayout).",
        ),
    ),
    (
        "timeleft",
        gauge(
            "node_watchdog_timeleft_seconds",
            "Seconds left before the watchdog resets the system.",
        ),
    ),
    (
        "timeout",
        gauge(
            "node_watchdog_timeout_seconds",
            "Timeout of the watchdog in seconds.",
        ),
    ),
    (
        "pretimeout",
        gauge(
            "node_watchdog_pretimeout_seconds",
            "Seconds before the timeout at which the pretimeout governor runs.",
        ),
    ),
    (
        "access_cs0",
        gauge(
            "node_watchdog_access_cs0",
            "Value of the access_cs0 attribute of the watchdog device.",
        ),
    ),
];

/// Text attributes that label node_watchdog_info, in label order after `name`.
const TEXTS: [&str; 5] = [
    "options",
    "identity",
    "state",
    "status",
    "pretimeout_governor",
];

const INFO: Desc = Desc::gauge(
    "node_watchdog_info",
    "Identity and state of a watchdog device; the value is always 1.",
    &[
        "name",
        "options",
        "identity",
        "state",
        "status",
        "pretimeout_governor",
    ],
);

pub fn build(config: &NodeConfig) -> Result<AnyCollector, BuildError> {
    Ok(AnyCollector::blocking(WatchdogCollector {
        sysfs: config.sysfs.clone(),
    }))
}

pub struct WatchdogCollector {
    pub sysfs: PathBuf,
}

impl BlockingCollector for WatchdogCollector {
    fn collect(&self, sink: &mut MetricSink) -> Result<(), CollectError> {
        let class = self.sysfs.join("class/watchdog");
        let entries = std::fs::read_dir(&class).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                CollectError::no_data(format!("{} does not exist", class.display()))
            } else {
                CollectError::failed(format!("failed to list {}: {e}", class.display()))
            }
        })?;
        let mut names: Vec<String> = entries
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        for name in names {
            let dir = class.join(&name);
            for (file, desc) in &NUMBERS {
                if let Some(value) = attr::read_i64_attr(&dir.join(file))? {
                    sink.add(desc, &[&name], value as f64);
                }
            }
            let mut labels = vec![name.clone()];
            for file in TEXTS {
                labels.push(attr::read_attr(&dir.join(file))?.unwrap_or_default());
            }
            let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
            sink.add(&INFO, &labels, 1.0);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::test_support::{collect, samples, write_tree};

    #[test]
    fn full_and_bare_devices() {
        let dir = tempfile::tempdir().unwrap();
        write_tree(
            dir.path(),
            &[
                ("class/watchdog/watchdog0/timeout", "60\n"),
                ("class/watchdog/watchdog0/timeleft", "42\n"),
                ("class/watchdog/watchdog0/nowayout", "0\n"),
                ("class/watchdog/watchdog0/identity", "iTCO_wdt\n"),
                ("class/watchdog/watchdog0/state", "active\n"),
            ],
        );
        std::fs::create_dir_all(dir.path().join("class/watchdog/watchdog1")).unwrap();
        let got = samples(&WatchdogCollector {
            sysfs: dir.path().to_owned(),
        });
        assert_eq!(
            got[r#"node_watchdog_timeout_seconds{name="watchdog0"}"#],
            60.0
        );
        assert_eq!(
            got[r#"node_watchdog_timeleft_seconds{name="watchdog0"}"#],
            42.0
        );
        let full = r#"node_watchdog_info{name="watchdog0",options="",identity="iTCO_wdt",state="active",status="",pretimeout_governor=""}"#;
        assert_eq!(got[full], 1.0);
        let bare = r#"node_watchdog_info{name="watchdog1",options="",identity="",state="",status="",pretimeout_governor=""}"#;
        assert_eq!(got[bare], 1.0);
        assert_eq!(got.len(), 5);
    }

    #[test]
    fn invalid_number_fails() {
        let dir = tempfile::tempdir().unwrap();
        write_tree(
            dir.path(),
            &[("class/watchdog/watchdog0/timeout", "soon\n")],
        );
        let (outcome, _) = collect(&WatchdogCollector {
            sysfs: dir.path().to_owned(),
        });
        assert!(matches!(outcome, Err(CollectError::Failed(_))));
    }

    #[test]
    fn without_watchdog_class_is_no_data() {
        let dir = tempfile::tempdir().unwrap();
        let (outcome, _) = collect(&WatchdogCollector {
            sysfs: dir.path().to_owned(),
        });
        assert!(matches!(outcome, Err(CollectError::NoData(_))));
    }
}
