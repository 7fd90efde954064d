//! The diskstats collector: I/O counters per block device from /proc/diskstats, the device's
//! identity from the udev database (read by [`super::diskstats_udev`]) and whether it rotates
//! from /sys/block/<device>/queue/rotational.
//!
//! /proc/diskstats lines have 14 fields up to Linux 4.17, 18 with the discard counters of 4.18
//! and 20 with the flush counters of 5.5 (Documentation/admin-guide/iostats.rst). Each line
//! exports as many counters as it has fields.

use std::collections::HashMap;
use std::path::PathBuf;

use clap::parser::ValueSource;
use clap::Arg;
use exporter_core::collector::BuildError;
use exporter_core::{AnyCollector, BlockingCollector, CollectError, Desc, MetricSink};
use regex::Regex;
use tracing::{debug, info, warn};

use super::{attr, diskstats_udev, NodeConfig};

/// Default of `--collector.diskstats.device-exclude`: partitions, RAM disks, loop and floppy
/// devices.
pub const DEFAULT_EXCLUDE: &str = r"^(z?ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$";

/// The kernel counts sectors of 512 bytes in /proc/diskstats, whatever the device's block size.
const SECTOR_BYTES: f64 = 512.0;
const SECONDS_PER_MILLISECOND: f64 = 0.001;

const fn counter(name: &'static str, help: &'static str) -> Desc {
    Desc::counter(name, help, &["device"])
}

/// The counters after the device name, in the column order of /proc/diskstats, with the factor
/// that converts each to the metric's unit.
const COUNTERS: [(Desc, f64); 17] = [
    (
        counter("node_disk_reads_completed_total", "Reads completed."),
        1.0,
    ),
    (
        counter(
            "node_disk_reads_merged_total",
            "Adjacent reads merged into one.",
        ),
        1.0,
    ),
    (
        counter("node_disk_read_bytes_total", "Bytes read."),
        SECTOR_BYTES,
    ),
    (
        counter(
            "node_disk_read_time_seconds_total",
            "Seconds spent by all reads.",
        ),
        SECONDS_PER_MILLISECOND,
    ),
    (
        counter("node_disk_writes_completed_total", "Writes completed."),
        1.0,
    ),
    (
        counter(
            "node_disk_writes_merged_total",
            "Adjacent writes merged into one.",
        ),
        1.0,
    ),
    (
        counter("node_disk_written_bytes_total", "Bytes written."),
        SECTOR_BYTES,
    ),
    (
        counter(
            "node_disk_write_time_seconds_total",
            "Seconds spent by all writes.",
        ),
        SECONDS_PER_MILLISECOND,
    ),
    (
        Desc::gauge("node_disk_io_now", "I/Os in progress.", &["device"]),
        1.0,
    ),
    (
        counter(
            "node_disk_io_time_seconds_total",
            "Seconds during which the device had I/O in progress.",
        ),
        SECONDS_PER_MILLISECOND,
    ),
    (
        counter(
            "node_disk_io_time_weighted_seconds_total",
            "Seconds of I/O in progress weighted by the number of I/Os in flight.",
        ),
        SECONDS_PER_MILLISECOND,
    ),
    (
        counter("node_disk_discards_completed_total", "Discards completed."),
        1.0,
    ),
    (
        counter(
            "node_disk_discards_merged_total",
            "Adjacent discards merged into one.",
        ),
        1.0,
    ),
    (
        counter("node_disk_discarded_sectors_total", "Sectors discarded."),
        1.0,
    ),
    (
        counter(
            "node_disk_discard_time_seconds_total",
            "Seconds spent by all discards.",
        ),
        SECONDS_PER_MILLISECOND,
    ),
    (
        counter(
            "node_disk_flush_requests_total",
            "Flush requests completed.",
        ),
        1.0,
    ),
    (
        counter(
            "node_disk_flush_requests_time_seconds_total",
            "Seconds spent by all flush requests.",
        ),
        SECONDS_PER_MILLISECOND,
    ),
];

const INFO: Desc = Desc::gauge(
    "node_disk_info",
    "Identity of a block device from udev and sysfs; the value is always 1.",
    &[
        "device",
        "major",
        "minor",
        "path",
        "wwn",
        "model",
        "serial",
        "revision",
        "rotational",
    ],
);
/// Returns the option flags of the diskstats collector.
pub fn args() -> Vec<Arg> {
    vec![
        Arg::new("collector.diskstats.device-exclude")
            .long("collector.diskstats.device-exclude")
            .default_value(DEFAULT_EXCLUDE)
            .help("Regular expression of the devices to leave out (mutually exclusive with device-include)"),
        Arg::new("collector.diskstats.ignored-devices")
            .long("collector.diskstats.ignored-devices")
            .hide(true)
            .help("Deprecated name of --collector.diskstats.device-exclude"),
        Arg::new("collector.diskstats.device-include")
            .long("collector.diskstats.device-include")
            .help("Regular expression of the devices to export (mutually exclusive with device-exclude)"),
    ]
}

pub fn build(config: &NodeConfig) -> Result<AnyCollector, BuildError> {
    let filter = device_filter(config)?;
    let udev_data = if config.udev_data.is_dir() {
        Some(config.udev_data.clone())
    } else {
        warn!(path = %config.udev_data.display(), "The udev data directory is missing, node_disk_info and the other udev families stay empty");
        None
    };
    Ok(AnyCollector::blocking(DiskstatsCollector {
        procfs: config.procfs.clone(),
        sysfs: config.sysfs.clone(),
        udev_data,
        filter,
    }))
}

fn device_filter(config: &NodeConfig) -> Result<DeviceFilter, BuildError> {
    let set_by_user = |name: &str| {
        matches!(
            config.matches.value_source(name),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        )
    };
    let mut exclude = config
        .string("collector.diskstats.device-exclude")
        .unwrap_or_default();
    if let Some(old) = config.string("collector.diskstats.ignored-devices") {
        if set_by_user("collector.diskstats.device-exclude") {
            return Err("--collector.diskstats.ignored-devices and --collector.diskstats.device-exclude are mutually exclusive".into());
        }
        warn!("--collector.diskstats.ignored-devices is deprecated, use --collector.diskstats.device-exclude");
        exclude = old;
    }
    let include = config
        .string("collector.diskstats.device-include")
        .unwrap_or_default();
    if !include.is_empty() {
        if set_by_user("collector.diskstats.device-exclude") && !exclude.is_empty() {
            return Err("--collector.diskstats.device-exclude and --collector.diskstats.device-include are mutually exclusive".into());
        }
        exclude.clear();
    }
    let compile = |flag: &str, pattern: &str| -> Result<Option<Regex>, BuildError> {
        if pattern.is_empty() {
            return Ok(None);
        }
        info!(flag, pattern, "Filtering diskstats devices");
        Regex::new(pattern)
            .map(Some)
            .map_err(|e| format!("--{flag} is not a valid regular expression: {e}").into())
    };
    Ok(DeviceFilter {
        exclude: compile("collector.diskstats.device-exclude", &exclude)?,
        include: compile("collector.diskstats.device-include", &include)?,
    })
}

/// Device name filter: a device is exported unless it matches `exclude` or fails to match
/// `include`.
#[derive(Default)]
pub struct DeviceFilter {
    pub exclude: Option<Regex>,
    pub include: Option<Regex>,
}

impl DeviceFilter {
    pub fn ignores(&self, device: &str) -> bool {
        self.exclude.as_ref().is_some_and(|r| r.is_match(device))
            || self.include.as_ref().is_some_and(|r| !r.is_match(device))
    }
}

/// One line of /proc/diskstats.
#[derive(Debug, PartialEq)]
pub struct DiskLine {
    pub major: u32,
    pub minor: u32,
    pub device: String,
    /// The 11, 15 or 17 counters after the name.
    pub counters: Vec<f64>,
}

/// Parses one line with procfs's parser; returns `None` for lines with fewer than 14 fields or
/// a required field that is not a number. The optional discard and flush counters count only up
/// to the first one that is missing.
pub fn parse_line(line: &str) -> Option<DiskLine> {
    let stat = procfs::DiskStat::from_line(line).ok()?;
    let required = [
        stat.reads,
        stat.merged,
        stat.sectors_read,
        stat.time_reading,
        stat.writes,
        stat.writes_merged,
        stat.sectors_written,
        stat.time_writing,
        stat.in_progress,
        stat.time_in_progress,
        stat.weighted_time_in_progress,
    ];
    let optional = [
        stat.discards,
        stat.discards_merged,
        stat.sectors_discarded,
        stat.time_discarding,
        stat.flushes,
        stat.time_flushing,
    ];
    let counters = required
        .into_iter()
        .chain(optional.into_iter().map_while(|v| v))
        .map(|v| v as f64)
        .collect();
    Some(DiskLine {
        major: u32::try_from(stat.major).ok()?,
        minor: u32::try_from(stat.minor).ok()?,
        device: stat.name,
        counters,
    })
}

pub struct DiskstatsCollector {
    pub procfs: PathBuf,
    pub sysfs: PathBuf,
    /// The udev database directory, or `None` when it does not exist.
    pub udev_data: Option<PathBuf>,
    pub filter: DeviceFilter,
}

impl DiskstatsCollector {
    fn rotational(&self, device: &str) -> &'static str {
        let path = self
            .sysfs
            .join("block")
            .join(device)
            .join("queue/rotational");
        match attr::read_u64_attr(&path) {
            Ok(Some(1)) => "1",
            _ => "0",
        }
    }

    fn add_device(&self, disk: &DiskLine, sink: &mut MetricSink) {
        let device = disk.device.as_str();
        let udev = match &self.udev_data {
            Some(dir) => diskstats_udev::read_properties(dir, disk.major, disk.minor),
            None => HashMap::new(),
        };
        let property = |key: &str| udev.get(key).map(String::as_str).unwrap_or("");
        // The serial on the disk label is SCSI_IDENT_SERIAL; virtio devices have only ID_SERIAL.
        let serial = ["SCSI_IDENT_SERIAL", "ID_SERIAL_SHORT", "ID_SERIAL"]
            .into_iter()
            .map(property)
            .find(|s| !s.is_empty())
            .unwrap_or("");
        let (major, minor) = (disk.major.to_string(), disk.minor.to_string());
        let rotational = self.rotational(device);
        let labels = [
            device,
            &major,
            &minor,
            property("ID_PATH"),
            property("ID_WWN"),
            property("ID_MODEL"),
            serial,
            property("ID_REVISION"),
            rotational,
        ];
        sink.add(&INFO, &labels, 1.0);

        for ((desc, factor), value) in COUNTERS.iter().zip(&disk.counters) {
            sink.add(desc, &[device], value * factor);
        }
        diskstats_udev::add_families(device, &udev, sink);
    }
}

impl BlockingCollector for DiskstatsCollector {
    fn collect(&self, sink: &mut MetricSink) -> Result<(), CollectError> {
        let text = attr::read_lossy(&self.procfs.join("diskstats"))?;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let Some(disk) = parse_line(line) else {
                debug!(line, "Skipped a malformed line of /proc/diskstats");
                continue;
            };
            if !self.filter.ignores(&disk.device) {
                self.add_device(&disk, sink);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "diskstats_tests.rs"]
mod tests;
