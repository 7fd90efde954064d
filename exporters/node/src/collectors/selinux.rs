//! The selinux collector: whether SELinux is enabled, from the selinuxfs mount at
//! /sys/fs/selinux and the security context in /proc/self/attr/current, its current mode from
//! /sys/fs/selinux/enforce and its configured mode from the SELINUX= line of
//! /etc/selinux/config (under --path.rootfs).

use std::path::PathBuf;

use exporter_core::collector::BuildError;
use exporter_core::{AnyCollector, BlockingCollector, CollectError, Desc, MetricSink};

use super::NodeConfig;

const ENABLED: Desc = Desc::gauge(
    "node_selinux_enabled",
    "Whether SELinux is enabled (1) or not (0).",
    &[],
);
const CONFIG_MODE: Desc = Desc::gauge(
    "node_selinux_config_mode",
    "SELinux mode configured in /etc/selinux/config (1 enforcing, 0 permissive, -1 disabled).",
    &[],
);
const CURRENT_MODE: Desc = Desc::gauge(
    "node_selinux_current_mode",
    "SELinux mode in effect (1 enforcing, 0 permissive, -1 unknown).",
    &[],
);

/// Mode numbers of the go-selinux library that node_exporter reports.
const ENFORCING: f64 = 1.0;
const PERMISSIVE: f64 = 0.0;
const DISABLED: f64 = -1.0;

struct SelinuxCollector {
    selinuxfs: PathBuf,
    current_context: PathBuf,
    config_file: PathBuf,
}

pub fn build(config: &NodeConfig) -> Result<AnyCollector, BuildError> {
    Ok(AnyCollector::blocking(SelinuxCollector {
        selinuxfs: config.sys("fs/selinux"),
        current_context: config.proc("self/attr/current"),
        config_file: config.root(std::path::Path::new("/etc/selinux/config")),
    }))
}

impl BlockingCollector for SelinuxCollector {
    fn collect(&self, sink: &mut MetricSink) -> Result<(), CollectError> {
        // NOTE: go-selinux also checks the file system magic of the mount and falls back to
        // /selinux and /proc/self/mountinfo. This collector only looks for selinuxfs's enforce
        // file under the sysfs root.
        let mounted = self.selinuxfs.join("enforce").is_file();
        let context = std::fs::read_to_string(&self.current_context).unwrap_or_default();
        if !mounted || context.trim_end_matches(['\n', '\0']) == "kernel" {
            sink.add(&ENABLED, &[], 0.0);
            return Ok(());
        }
        sink.add(&ENABLED, &[], 1.0);
        sink.add(&CONFIG_MODE, &[], self.config_mode());
        sink.add(&CURRENT_MODE, &[], self.current_mode());
        Ok(())
    }
}

impl SelinuxCollector {
    fn current_mode(&self) -> f64 {
        let text = std::fs::read_to_string(self.selinuxfs.join("enforce")).unwrap_or_default();
        text.trim().parse::<i32>().map_or(DISABLED, f64::from)
    }

    fn config_mode(&self) -> f64 {
        let text = std::fs::read_to_string(&self.config_file).unwrap_or_default();
        let mode = text.lines().find_map(|line| {
            let (key, value) = line.trim().split_once('=')?;
            (key.trim() == "SELINUX").then(|| value.trim().trim_matches('"').to_owned())
        });
        match mode.as_deref() {
            Some("enforcing") => ENFORCING,
            Some("permissive") => PERMISSIVE,
            _ => DISABLED,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::net_common::testing::{collect, config, count, value, write};

    #[test]
    fn selinux_disabled_without_selinuxfs() {
        let dir = tempfile::tempdir().unwrap();

        let (result, families) = collect(&build(&config(dir.path(), &[])).unwrap());
        assert!(result.is_ok());

        assert_eq!(value(&families, "node_selinux_enabled", &[]), Some(0.0));
        assert_eq!(count(&families, "node_selinux_current_mode"), 0);
    }

    #[test]
    fn selinux_reports_modes() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "sys/fs/selinux/enforce", "0");
        write(
            dir.path(),
            "proc/self/attr/current",
            "system_u:system_r:init_t:s0\0",
        );
        write(
            dir.path(),
            "etc/selinux/config",
            "# comment\nSELINUX=enforcing\nSELINUXTYPE=targeted\n",
        );

        let (_, families) = collect(&build(&config(dir.path(), &[])).unwrap());
        assert_eq!(value(&families, "node_selinux_enabled", &[]), Some(1.0));
        assert_eq!(
            value(&families, "node_selinux_current_mode", &[]),
            Some(0.0)
        );
        assert_eq!(value(&families, "node_selinux_config_mode", &[]), Some(1.0));
    }

    #[test]
    fn selinux_kernel_context_is_disabled() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "sys/fs/selinux/enforce", "1");
        write(dir.path(), "proc/self/attr/current", "kernel\0");

        let (_, families) = collect(&build(&config(dir.path(), &[])).unwrap());
        assert_eq!(value(&families, "node_selinux_enabled", &[]), Some(0.0));
    }

    #[test]
    fn selinux_missing_config_is_disabled_mode() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "sys/fs/selinux/enforce", "1");

        let (_, families) = collect(&build(&config(dir.path(), &[])).unwrap());
        assert_eq!(
            value(&families, "node_selinux_config_mode", &[]),
            Some(-1.0)
        );
        assert_eq!(
            value(&families, "node_selinux_current_mode", &[]),
            Some(1.0)
        );
    }
}
