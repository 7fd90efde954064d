//! tapestats collector: I/O statistics of SCSI tape drives from
//! /sys/class/scsi_tape/st<N>/stats/ (kernel Documentation/scsi/st.rst). The rewind and mode
//! variants (nst0, st0a, ...) share the counters of st<N>, so only st<N> is read.

use std::path::PathBuf;

use clap::Arg;
use exporter_core::collector::BuildError;
use exporter_core::{AnyCollector, BlockingCollector, CollectError, Desc, MetricSink};
use regex::Regex;

use super::sysfs::{list_dir, read_u64};
use super::NodeConfig;

const DEVICE: &[&str] = &["device"];
const NANOSECONDS: f64 = 1e-9;

/// Statistics files, their families and the scale to base units.
const STATS: &[(&str, Desc, f64)] = &[
    (
        "in_flight",
        Desc::gauge(
            "node_tape_io_now",
            "I/O requests outstanding on the tape drive.",
            DEVICE,
        ),
        1.0,
    ),
    (
        "io_ns",
        Desc::counter(
            "node_tape_io_time_seconds_total",
            "Time spent waiting for all I/O, including tape movement, in seconds.",
            DEVICE,
        ),
        NANOSECONDS,
    ),
    (
        "other_cnt",
        Desc::counter(
            "node_tape_io_others_total",
            "Commands other than reads and writes issued to the tape drive.",
            DEVICE,
        ),
        1.0,
    ),
    (
        "read_byte_cnt",
        Desc::counter(
            "node_tape_read_bytes_total",
            "Bytes read from the tape drive.",
            DEVICE,
        ),
        1.0,
    ),
    (
        "read_cnt",
        Desc::counter(
            "node_tape_reads_completed_total",
            "Read requests issued to the tape drive.",
            DEVICE,
        ),
        1.0,
    ),
    (
        "read_ns",
        Desc::counter(
            "node_tape_read_time_seconds_total",
            "Time spent waiting for reads in seconds.",
            DEVICE,
        ),
        NANOSECONDS,
    ),
    (
        "resid_cnt",
        Desc::counter(
            "node_tape_residual_total",
            "Reads or writes that ended with a non-zero residual count.",
            DEVICE,
        ),
        1.0,
    ),
    (
        "write_byte_cnt",
        Desc::counter(
            "node_tape_written_bytes_total",
            "Bytes written to the tape drive.",
            DEVICE,
        ),
        1.0,
    ),
    (
        "write_cnt",
        Desc::counter(
            "node_tape_writes_completed_total",
            "Write requests issued to the tape drive.",
            DEVICE,
        ),
        1.0,
    ),
    (
        "write_ns",
        Desc::counter(
            "node_tape_write_time_seconds_total",
            "Time spent waiting for writes in seconds.",
            DEVICE,
        ),
        NANOSECONDS,
    ),
];

pub fn args() -> Vec<Arg> {
    vec![Arg::new("collector.tapestats.ignored-devices")
        .long("collector.tapestats.ignored-devices")
        .default_value("^$")
        .help("Regular expression of tape devices to ignore")]
}

struct Tapestats {
    class: PathBuf,
    ignored: Regex,
    device_name: Regex,
}

pub fn build(config: &NodeConfig) -> Result<AnyCollector, BuildError> {
    let pattern = config
        .string("collector.tapestats.ignored-devices")
        .unwrap_or_default();
    let ignored = Regex::new(&pattern)
        .map_err(|e| format!("invalid --collector.tapestats.ignored-devices {pattern:?}: {e}"))?;
    Ok(AnyCollector::blocking(Tapestats {
        class: config.sys("class/scsi_tape"),
        ignored,
        device_name: Regex::new(r"^st\d+$")?,
    }))
}

impl BlockingCollector for Tapestats {
    fn collect(&self, sink: &mut MetricSink) -> Result<(), CollectError> {
        for (device, dir) in list_dir(&self.class)? {
            if !self.device_name.is_match(&device) || self.ignored.is_match(&device) {
                continue;
            }
            let stats = dir.join("stats");
            for (file, desc, scale) in STATS {
                let value = read_u64(&stats.join(file)).unwrap_or(0);
                sink.add(desc, &[&device], value as f64 * scale);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use exporter_core::Value;

    #[test]
    fn tapestats_reads_st_devices_only() {
        let class = tempfile::tempdir().unwrap();
        for device in ["st0", "nst0", "st0a"] {
            let stats = class.path().join(device).join("stats");
            std::fs::create_dir_all(&stats).unwrap();
            std::fs::write(stats.join("read_ns"), "2000000000\n").unwrap();
            std::fs::write(stats.join("read_cnt"), "5\n").unwrap();
        }
        let collector = Tapestats {
            class: class.path().to_path_buf(),
            ignored: Regex::new("^$").unwrap(),
            device_name: Regex::new(r"^st\d+$").unwrap(),
        };
        let mut sink = MetricSink::new();
        collector.collect(&mut sink).unwrap();
        let families = sink.finish();
        let reads = families
            .iter()
            .find(|f| f.name == "node_tape_reads_completed_total")
            .unwrap();
        assert_eq!(reads.samples.len(), 1);
        assert_eq!(reads.samples[0].value, Value::Number(5.0));
        let time = families
            .iter()
            .find(|f| f.name == "node_tape_read_time_seconds_total")
            .unwrap();
        assert_eq!(time.samples[0].value, Value::Number(2.0));
    }
}
