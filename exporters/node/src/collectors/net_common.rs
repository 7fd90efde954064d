//! Helpers shared by the network collectors: device name filters, kingpin-style boolean flags
//! with a `--no-` form, and parsers for the hexadecimal numbers of /proc/net files.

use std::io;
use std::path::{Path, PathBuf};

use clap::{Arg, ArgAction};
use exporter_core::collector::BuildError;
use exporter_core::CollectError;
use regex::Regex;

use super::util::io_error;
use super::NodeConfig;

/// Failures of the network collectors, each naming the file or the rtnetlink request involved.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("failed to read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path} is missing")]
    Missing { path: PathBuf },
    #[error("invalid value {value:?} in {path}")]
    InvalidValue { path: PathBuf, value: String },
    #[error("rtnetlink {request} failed: {source}")]
    Netlink {
        request: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("failed to list interface addresses with getifaddrs: {source}")]
    Addresses {
        #[source]
        source: io::Error,
    },
}

impl From<NetError> for CollectError {
    fn from(error: NetError) -> CollectError {
        CollectError::failed(error)
    }
}

/// Include and exclude patterns for device names, as given by a collector's
/// `device-include` and `device-exclude` flags. Patterns match anywhere in the name, like Go's
/// `regexp.MatchString`.
#[derive(Debug, Default)]
pub struct DeviceFilter {
    include: Option<Regex>,
    exclude: Option<Regex>,
}

impl DeviceFilter {
    /// Builds a filter from two optional patterns, rejecting the pair because node_exporter treats
    /// include and exclude of one filter as mutually exclusive.
    pub fn new(include: Option<&str>, exclude: Option<&str>) -> Result<DeviceFilter, BuildError> {
        let include = include.filter(|p| !p.is_empty());
        let exclude = exclude.filter(|p| !p.is_empty());
        if include.is_some() && exclude.is_some() {
            return Err("device-include and device-exclude are mutually exclusive".into());
        }
        let compile = |pattern: &str| {
            Regex::new(pattern).map_err(|e| format!("invalid device pattern {pattern:?}: {e}"))
        };
        Ok(DeviceFilter {
            include: include.map(compile).transpose()?,
            exclude: exclude.map(compile).transpose()?,
        })
    }

    /// Builds a filter from the flags `--collector.<collector>.device-include` and `-exclude`.
    pub fn from_flags(config: &NodeConfig, collector: &str) -> Result<DeviceFilter, BuildError> {
        let include = config.string(&format!("collector.{collector}.device-include"));
        let exclude = config.string(&format!("collector.{collector}.device-exclude"));
        DeviceFilter::new(include.as_deref(), exclude.as_deref())
    }

    /// Returns whether `name` is left out: it matches the exclude pattern, or an include pattern
    /// is set and `name` does not match it.
    pub fn ignored(&self, name: &str) -> bool {
        let excluded = self.exclude.as_ref().is_some_and(|re| re.is_match(name));
        let not_included = self.include.as_ref().is_some_and(|re| !re.is_match(name));
        excluded || not_included
    }
}

/// Returns the `device-include` and `device-exclude` flags of `collector`.
pub fn device_filter_args(collector: &str, kind: &str) -> Vec<Arg> {
    let include = format!("collector.{collector}.device-include");
    let exclude = format!("collector.{collector}.device-exclude");
    vec![
        Arg::new(include.clone()).long(include).help(format!(
            "Regexp of {kind} devices to include (mutually exclusive with device-exclude)"
        )),
        Arg::new(exclude.clone()).long(exclude).help(format!(
            "Regexp of {kind} devices to exclude (mutually exclusive with device-include)"
        )),
    ]
}

/// Returns a boolean flag `--<name>` with its negation `--no-<name>`, as kingpin defines them.
pub fn bool_args(name: &str, default: bool, help: &str) -> Vec<Arg> {
    let negated = format!("no-{name}");
    let state = if default { "on" } else { "off" };
    vec![
        Arg::new(name.to_owned())
            .long(name.to_owned())
            .action(ArgAction::SetTrue)
            .overrides_with(negated.clone())
            .help(format!(
                "{help} ({state} by default, --{negated} turns it off)"
            )),
        Arg::new(negated.clone())
            .long(negated.clone())
            .action(ArgAction::SetTrue)
            .overrides_with(name.to_owned())
            .hide(true),
    ]
}

/// Returns the value of a flag defined by [`bool_args`]: the last of `--<name>` and
/// `--no-<name>` on the command line wins, and `default` applies when neither is given.
pub fn bool_value(config: &NodeConfig, name: &str, default: bool) -> bool {
    if config.flag(name) {
        true
    } else if config.flag(&format!("no-{name}")) {
        false
    } else {
        default
    }
}

/// Reads a whole file, replacing bytes that are not UTF-8 with U+FFFD because interface names
/// may hold any byte. A missing file is "no data", as with `util::read_file`.
pub fn read_text(path: &Path) -> Result<String, CollectError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        }),
        Err(e) => Err(io_error(path, e)),
    }
}

/// Parses a hexadecimal number without a `0x` prefix, as /proc/net files write counters.
pub fn parse_hex(text: &str) -> Option<u64> {
    u64::from_str_radix(text, 16).ok()
}

/// Returns the size of a memory page in bytes, which /proc/net/sockstat counts memory in.
pub fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions and only reads a system constant.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(size).unwrap_or(4096)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_include_keeps_matches() {
        let filter = DeviceFilter::new(Some("^eth"), None).unwrap();
        assert!(!filter.ignored("eth0"));
        assert!(filter.ignored("lo"));
    }

    #[test]
    fn filter_exclude_drops_matches() {
        let filter = DeviceFilter::new(None, Some("^lo$")).unwrap();
        assert!(filter.ignored("lo"));
        assert!(!filter.ignored("lo1"));
    }

    #[test]
    fn filter_rejects_both_patterns() {
        assert!(DeviceFilter::new(Some("a"), Some("b")).is_err());
    }

    #[test]
    fn filter_rejects_invalid_pattern() {
        assert!(DeviceFilter::new(Some("("), None).is_err());
    }

    #[test]
    fn network_collectors_build_with_defaults() {
        let names = [
            "arp",
            "bonding",
            "conntrack",
            "fibrechannel",
            "infiniband",
            "ipvs",
            "netclass",
            "netdev",
            "netstat",
            "nfs",
            "nfsd",
            "selinux",
            "sockstat",
            "softnet",
            "udp_queues",
        ];
        let dir = tempfile::tempdir().unwrap();
        let config = testing::config(dir.path(), &[]);
        for name in names {
            let entry = crate::collectors::COLLECTORS
                .iter()
                .find(|e| e.name == name);
            let entry = entry.unwrap_or_else(|| panic!("{name} is not in the collector table"));
            assert!(entry.enabled_by_default, "{name}");
            assert!((entry.build)(&config).is_ok(), "{name}");
        }
    }

    #[test]
    fn read_text_replaces_invalid_utf8() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dev");
        std::fs::write(&path, b"eth\xff0: 1\n").unwrap();
        assert_eq!(read_text(&path).unwrap(), "eth\u{fffd}0: 1\n");
    }

    #[test]
    fn read_text_missing_is_no_data() {
        let dir = tempfile::tempdir().unwrap();
        let result = read_text(&dir.path().join("absent"));
        assert!(matches!(result, Err(CollectError::NoData(_))));
    }

    #[test]
    fn empty_patterns_filter_nothing() {
        let filter = DeviceFilter::new(Some(""), Some("")).unwrap();
        assert!(!filter.ignored("anything"));
    }
}

/// Helpers for the tests of the network collectors.
#[cfg(test)]
pub mod testing {
    use std::path::Path;

    use exporter_core::{AnyCollector, CollectError, MetricFamily, MetricSink, Value};

    use crate::collectors::{option_args, path_args, NodeConfig};

    /// Builds a configuration whose procfs and sysfs roots are `root/proc` and `root/sys`, with
    /// the extra command-line flags `flags`.
    pub fn config(root: &Path, flags: &[&str]) -> NodeConfig {
        let command = clap::Command::new("node-exporter")
            .args(path_args())
            .args(option_args());
        let mut argv = vec![
            "node-exporter".to_owned(),
            format!("--path.procfs={}", root.join("proc").display()),
            format!("--path.sysfs={}", root.join("sys").display()),
            format!("--path.rootfs={}", root.display()),
        ];
        argv.extend(flags.iter().map(|flag| flag.to_string()));
        NodeConfig::from_matches(command.try_get_matches_from(argv).unwrap())
    }

    /// Writes `contents` to `root/relative`, creating the parent directories.
    pub fn write(root: &Path, relative: &str, contents: &str) {
        let path = root.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
    }

    /// Runs a blocking collector once and returns its result and sorted families.
    pub fn collect(collector: &AnyCollector) -> (Result<(), CollectError>, Vec<MetricFamily>) {
        let AnyCollector::Blocking(collector) = collector else {
            panic!("expected a blocking collector");
        };
        let mut sink = MetricSink::new();
        let result = collector.collect(&mut sink);
        (result, sink.finish())
    }

    /// Returns the value of the sample of family `name` whose labels are exactly `labels`.
    pub fn value(families: &[MetricFamily], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let family = families.iter().find(|f| f.name == name)?;
        let sample = family.samples.iter().find(|s| {
            s.labels.len() == labels.len()
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.iter().any(|(n, x)| n == k && x == v))
        })?;
        match sample.value {
            Value::Number(number) => Some(number),
            _ => None,
        }
    }

    /// Returns the number of samples of family `name`.
    pub fn count(families: &[MetricFamily], name: &str) -> usize {
        families
            .iter()
            .find(|f| f.name == name)
            .map_or(0, |f| f.samples.len())
    }
}
