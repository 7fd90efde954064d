//! bcache collector: cache sets under /sys/fs/bcache/<uuid>/, their backing devices (bdev*) and
//! cache devices (cache*), as described in the kernel's Documentation/admin-guide/bcache.rst.
//! Values may be human-readable (`20.4G`), where bcache prints the fraction in units of 1/1024
//! of the suffix, so `1.5k` is 1 KiB plus 5/10.24 of a KiB, as node_exporter decodes it.

use std::path::{Path, PathBuf};

use clap::{Arg, ArgAction};
use exporter_core::collector::BuildError;
use exporter_core::{AnyCollector, BlockingCollector, CollectError, Desc, MetricSink};

use tracing::debug;

use super::sysfs::{list_dir, lossy, read_optional};
use super::NodeConfig;

const UUID: &[&str] = &["uuid"];
const BACKING: &[&str] = &["uuid", "backing_device"];
const CACHE: &[&str] = &["uuid", "cache_device"];

/// Cache set files (relative to the uuid directory), their families and scale.
const SET_FILES: &[(&str, Desc, f64)] = &[
    (
        "average_key_size",
        Desc::gauge(
            "node_bcache_average_key_size_sectors",
            "Average data per btree key, in sectors.",
            UUID,
        ),
        1.0,
    ),
    (
        "btree_cache_size",
        Desc::gauge(
            "node_bcache_btree_cache_size_bytes",
            "Memory used by the btree cache, in bytes.",
            UUID,
        ),
        1.0,
    ),
    (
        "cache_available_percent",
        Desc::gauge(
            "node_bcache_cache_available_percent",
            "Percentage of the cache without dirty data.",
            UUID,
        ),
        1.0,
    ),
    (
        "congested",
        Desc::gauge(
            "node_bcache_congested",
            "Congestion of the cache set.",
            UUID,
        ),
        1.0,
    ),
    (
        "root_usage_percent",
        Desc::gauge(
            "node_bcache_root_usage_percent",
            "Percentage of the root btree node in use.",
            UUID,
        ),
        1.0,
    ),
    (
        "tree_depth",
        Desc::gauge("node_bcache_tree_depth", "Depth of the btree.", UUID),
        1.0,
    ),
    (
        "internal/active_journal_entries",
        Desc::gauge(
            "node_bcache_active_journal_entries",
            "Journal entries newer than the index.",
            UUID,
        ),
        1.0,
    ),
    (
        "internal/btree_nodes",
        Desc::gauge("node_bcache_btree_nodes", "Nodes in the btree.", UUID),
        1.0,
    ),
    // The file's name says microseconds, but the kernel writes nanoseconds, as node_exporter assumes.
    (
        "internal/btree_read_average_duration_us",
        Desc::gauge(
            "node_bcache_btree_read_average_duration_seconds",
            "Average duration of a btree read in seconds.",
            UUID,
        ),
        1e-9,
    ),
    (
        "internal/cache_read_races",
        Desc::counter(
            "node_bcache_cache_read_races_total",
            "Reads from the cache whose bucket was reused before the read completed.",
            UUID,
        ),
        1.0,
    ),
];

/// stats_total files of a backing device. cache_readaheads is exported only when non-zero.
const PERIOD_FILES: &[(&str, Desc)] = &[
    (
        "bypassed",
        Desc::counter(
            "node_bcache_bypassed_bytes_total",
            "Bytes of I/O that bypassed the cache.",
            BACKING,
        ),
    ),
    (
        "cache_hits",
        Desc::counter("node_bcache_cache_hits_total", "Cache hits.", BACKING),
    ),
    (
        "cache_misses",
        Desc::counter("node_bcache_cache_misses_total", "Cache misses.", BACKING),
    ),
    (
        "cache_bypass_hits",
        Desc::counter(
            "node_bcache_cache_bypass_hits_total",
            "Hits of I/O meant to bypass the cache.",
            BACKING,
        ),
    ),
    (
        "cache_bypass_misses",
        Desc::counter(
            "node_bcache_cache_bypass_misses_total",
            "Misses of I/O meant to bypass the cache.",
            BACKING,
        ),
    ),
    (
        "cache_miss_collisions",
        Desc::counter(
            "node_bcache_cache_miss_collisions_total",
            "Cache miss insertions that raced with a write.",
            BACKING,
        ),
    ),
];
const READAHEADS: Desc = Desc::counter(
    "node_bcache_cache_readaheads_total",
    "Readaheads done by the cache.",
    BACKING,
);
const DIRTY_DATA: Desc = Desc::gauge(
    "node_bcache_dirty_data_bytes",
    "Dirty data of the backing device in the cache, in bytes.",
    BACKING,
);

/// writeback_rate_debug lines of a backing device and their families.
const WRITEBACK_LINES: &[(&str, Desc)] = &[
    (
        "target:",
        Desc::gauge(
            "node_bcache_dirty_target_bytes",
            "Target of dirty data for the backing device, in bytes.",
            BACKING,
        ),
    ),
    (
        "rate:",
        Desc::gauge(
            "node_bcache_writeback_rate",
            "Writeback rate of the backing device in bytes per second.",
            BACKING,
        ),
    ),
    (
        "proportional:",
        Desc::gauge(
            "node_bcache_writeback_rate_proportional_term",
            "Proportional term of the writeback rate controller.",
            BACKING,
        ),
    ),
    (
        "integral:",
        Desc::gauge(
            "node_bcache_writeback_rate_integral_term",
            "Integral term of the writeback rate controller.",
            BACKING,
        ),
    ),
    (
        "change:",
        Desc::gauge(
            "node_bcache_writeback_change",
            "Last change of the writeback rate.",
            BACKING,
        ),
    ),
];

const CACHE_FILES: &[(&str, Desc)] = &[
    (
        "io_errors",
        Desc::gauge(
            "node_bcache_io_errors",
            "I/O errors of the cache device, decayed by io_error_halflife.",
            CACHE,
        ),
    ),
    (
        "metadata_written",
        Desc::counter(
            "node_bcache_metadata_written_bytes_total",
            "Bytes of metadata written to the cache device.",
            CACHE,
        ),
    ),
    (
        "written",
        Desc::counter(
            "node_bcache_written_bytes_total",
            "Bytes of data written to the cache device.",
            CACHE,
        ),
    ),
];
const PRIORITY_LINES: &[(&str, Desc)] = &[
    (
        "Unused:",
        Desc::gauge(
            "node_bcache_priority_stats_unused_percent",
            "Percentage of the cache device holding no data.",
            CACHE,
        ),
    ),
    (
        "Metadata:",
        Desc::gauge(
            "node_bcache_priority_stats_metadata_percent",
            "Percentage of the cache device holding metadata.",
            CACHE,
        ),
    ),
];

pub fn args() -> Vec<Arg> {
    vec![Arg::new("collector.bcache.priorityStats")
        .long("collector.bcache.priorityStats")
        .action(ArgAction::SetTrue)
        .help("Export the priority_stats of cache devices, which are expensive for the kernel to compute")]
}

struct Bcache {
    base: PathBuf,
    priority_stats: bool,
}

pub fn build(config: &NodeConfig) -> Result<AnyCollector, BuildError> {
    Ok(AnyCollector::blocking(Bcache {
        base: config.sys("fs/bcache"),
        priority_stats: config.flag("collector.bcache.priorityStats"),
    }))
}

/// Decodes a bcache number: plain, or with a k, M, G, T, P, E, Z or Y suffix (powers of 1024)
/// whose fraction digits count 1/1024 steps.
pub fn dehumanize(text: &str) -> Option<f64> {
    let text = text.trim();
    let (negative, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let last = text.chars().last()?;
    let value = if last.is_ascii_digit() {
        text.parse::<f64>().ok()?.trunc()
    } else {
        let exponent = "kMGTPEZY".find(last)? as i32 + 1;
        let mantissa = &text[..text.len() - last.len_utf8()];
        let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let mut number: f64 = whole.parse().ok()?;
        if !fraction.is_empty() {
            number += fraction.parse::<f64>().ok()? / 10.24;
        }
        (number * 1024f64.powi(exponent)).trunc()
    };
    Some(if negative { -value } else { value })
}

/// Reads a bcache value. A missing file counts as 0, as in node_exporter, because older
/// kernels lack some files. An unreadable or malformed file returns `None` and is logged, so
/// its sample is left out instead of reported as 0.
fn read_value(path: &Path) -> Option<f64> {
    let text = match std::fs::read(path) {
        Ok(bytes) => lossy(&bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Some(0.0),
        Err(e) => {
            debug!(path = %path.display(), error = %e, "Failed to read a bcache value");
            return None;
        }
    };
    let value = dehumanize(&text);
    if value.is_none() {
        debug!(path = %path.display(), text = %text.trim(), "Skipped an invalid bcache value");
    }
    value
}

/// Adds a sample when its value could be read.
fn add_value(sink: &mut MetricSink, desc: &Desc, labels: &[&str], value: Option<f64>) {
    if let Some(value) = value {
        sink.add(desc, labels, value);
    }
}

/// Finds the line starting with `prefix` and decodes its last field without `suffix`.
fn line_value(text: &str, prefix: &str, suffix: &str) -> Option<f64> {
    let line = text.lines().find(|line| line.starts_with(prefix))?;
    let last = line.split_whitespace().last()?;
    dehumanize(last.trim_end_matches(suffix))
}

impl BlockingCollector for Bcache {
    fn collect(&self, sink: &mut MetricSink) -> Result<(), CollectError> {
        for (uuid, dir) in list_dir(&self.base)? {
            if !uuid.contains('-') || !dir.is_dir() {
                continue;
            }
            for (file, desc, scale) in SET_FILES {
                let value = read_value(&dir.join(file)).map(|v| v * scale);
                add_value(sink, desc, &[&uuid], value);
            }
            for (name, path) in list_dir(&dir)? {
                if is_numbered(&name, "bdev") {
                    collect_backing(sink, &uuid, &name, &path);
                } else if is_numbered(&name, "cache") {
                    self.collect_cache(sink, &uuid, &name, &path);
                }
            }
        }
        Ok(())
    }
}

fn is_numbered(name: &str, prefix: &str) -> bool {
    name.strip_prefix(prefix)
        .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
}

fn collect_backing(sink: &mut MetricSink, uuid: &str, name: &str, dir: &Path) {
    let labels = [uuid, name];
    add_value(
        sink,
        &DIRTY_DATA,
        &labels,
        read_value(&dir.join("dirty_data")),
    );

    let debug = read_optional(&dir.join("writeback_rate_debug")).unwrap_or_default();
    for (prefix, desc) in WRITEBACK_LINES {
        sink.add(
            desc,
            &labels,
            line_value(&debug, prefix, "/sec").unwrap_or(0.0),
        );
    }
    let total = dir.join("stats_total");
    for (file, desc) in PERIOD_FILES {
        add_value(sink, desc, &labels, read_value(&total.join(file)));
    }
    // node_exporter reports readaheads only when there were any.
    let readaheads = read_value(&total.join("cache_readaheads")).filter(|v| *v != 0.0);
    add_value(sink, &READAHEADS, &labels, readaheads);
}

impl Bcache {
    fn collect_cache(&self, sink: &mut MetricSink, uuid: &str, name: &str, dir: &Path) {
        let labels = [uuid, name];
        for (file, desc) in CACHE_FILES {
            add_value(sink, desc, &labels, read_value(&dir.join(file)));
        }
        if self.priority_stats {
            let stats = read_optional(&dir.join("priority_stats")).unwrap_or_default();
            for (prefix, desc) in PRIORITY_LINES {
                sink.add(
                    desc,
                    &labels,
                    line_value(&stats, prefix, "%").unwrap_or(0.0),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dehumanize_suffixes_and_fractions() {
        assert_eq!(dehumanize("17"), Some(17.0));
        assert_eq!(
            dehumanize("1.1M"),
            Some(((1.0 + 1.0 / 10.24) * 1048576.0f64).trunc())
        );
        assert_eq!(dehumanize("-2k"), Some(-2048.0));
        assert_eq!(dehumanize("1.5q"), None);
        assert_eq!(dehumanize(""), None);
    }

    #[test]
    fn writeback_debug_lines() {
        let text = "rate:           1.0k/sec\ndirty:          2.0k\ntarget:         3.0k\nproportional:   -4.0k\n";
        assert_eq!(line_value(text, "rate:", "/sec"), Some(1024.0));
        assert_eq!(line_value(text, "target:", "/sec"), Some(3072.0));
        assert_eq!(line_value(text, "proportional:", "/sec"), Some(-4096.0));
        assert_eq!(line_value(text, "change:", "/sec"), None);
    }

    #[test]
    fn bcache_set_with_backing_device() {
        let base = tempfile::tempdir().unwrap();
        let set = base.path().join("1234-abcd");
        std::fs::create_dir_all(set.join("bdev0/stats_total")).unwrap();
        std::fs::write(set.join("tree_depth"), "2\n").unwrap();
        std::fs::write(set.join("congested"), "busy\n").unwrap();
        std::fs::write(set.join("bdev0/stats_total/cache_hits"), "7\n").unwrap();

        let mut sink = MetricSink::new();
        let collector = Bcache {
            base: base.path().to_path_buf(),
            priority_stats: false,
        };
        collector.collect(&mut sink).unwrap();
        let families = sink.finish();

        let find = |name: &str| {
            families
                .iter()
                .find(|f| f.name == name)
                .map(|f| f.samples[0].value.clone())
        };
        assert_eq!(
            find("node_bcache_tree_depth"),
            Some(exporter_core::Value::Number(2.0))
        );
        assert_eq!(
            find("node_bcache_cache_hits_total"),
            Some(exporter_core::Value::Number(7.0))
        );
        assert_eq!(find("node_bcache_cache_readaheads_total"), None);
        assert_eq!(find("node_bcache_congested"), None);
        assert_eq!(
            find("node_bcache_root_usage_percent"),
            Some(exporter_core::Value::Number(0.0))
        );
    }
}
