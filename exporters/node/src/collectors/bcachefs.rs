//! bcachefs collector: per-filesystem statistics under /sys/fs/bcachefs/<uuid>/ (btree_cache_size,
//! compression_stats, errors, counters/*, btree_write_stats) and per member device under
//! dev-<n>/ (label, state, bucket_size, nbuckets, durability, io_done, io_errors). Sizes are
//! written by the kernel in human-readable form such as `48.9G` (powers of 1024).

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use exporter_core::collector::BuildError;
use exporter_core::{
    AnyCollector, BlockingCollector, CollectError, Desc, MetricSink, MetricType, Value,
};
use regex::Regex;
use tracing::debug;

use super::sysfs::{list_dir, parse_u64, read_attr, read_optional};
use super::NodeConfig;

const INFO: Desc = Desc::gauge(
    "node_bcachefs_info",
    "A mounted bcachefs filesystem; the value is always 1.",
    &["uuid"],
);
const BTREE_CACHE: Desc = Desc::gauge(
    "node_bcachefs_btree_cache_size_bytes",
    "Memory used by the btree node cache, in bytes.",
    &["uuid"],
);
const COMPRESSED: Desc = Desc::gauge(
    "node_bcachefs_compression_compressed_bytes",
    "Size of data stored with the compression algorithm, after compression, in bytes.",
    &["uuid", "algorithm"],
);
const UNCOMPRESSED: Desc = Desc::gauge(
    "node_bcachefs_compression_uncompressed_bytes",
    "Size of data stored with the compression algorithm, before compression, in bytes.",
    &["uuid", "algorithm"],
);
const ERRORS: Desc = Desc::counter(
    "node_bcachefs_errors_total",
    "Errors found in the filesystem, by error type.",
    &["uuid", "error_type"],
);
const BTREE_WRITES: Desc = Desc::counter(
    "node_bcachefs_btree_writes_total",
    "Btree node writes, by reason.",
    &["uuid", "type"],
);
const BTREE_WRITE_SIZE: Desc = Desc::gauge(
    "node_bcachefs_btree_write_average_size_bytes",
    "Average size of a btree node write, by reason, in bytes.",
    &["uuid", "type"],
);
const DEVICE_INFO: Desc = Desc::gauge(
    "node_bcachefs_device_info",
    "A member device of the filesystem with its label and state; the value is always 1.",
    &["uuid", "device", "label", "state"],
);
const BUCKET_SIZE: Desc = Desc::gauge(
    "node_bcachefs_device_bucket_size_bytes",
    "Bucket size of the device in bytes.",
    &["uuid", "device"],
);
const BUCKETS: Desc = Desc::gauge(
    "node_bcachefs_device_buckets",
    "Number of buckets on the device.",
    &["uuid", "device"],
);
const DURABILITY: Desc = Desc::gauge(
    "node_bcachefs_device_durability",
    "Durability setting of the device.",
    &["uuid", "device"],
);
const IO_DONE: Desc = Desc::counter(
    "node_bcachefs_device_io_done_bytes_total",
    "Bytes read or written on the device, by operation and data type.",
    &["uuid", "device", "operation", "data_type"],
);
const IO_ERRORS: Desc = Desc::counter(
    "node_bcachefs_device_io_errors_total",
    "I/O errors of the device since the filesystem was created, by type.",
    &["uuid", "device", "type"],
);

static INVALID_NAME_CHARS: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new("_*[^0-9A-Za-z_]+_*").ok());

struct Bcachefs {
    base: PathBuf,
}

pub fn build(config: &NodeConfig) -> Result<AnyCollector, BuildError> {
    Ok(AnyCollector::blocking(Bcachefs {
        base: config.sys("fs/bcachefs"),
    }))
}

/// Parses a size such as `100k`, `28.2k` or `48.9G` (suffixes are powers of 1024) into bytes,
/// truncating a fraction of a byte.
pub fn parse_human_bytes(text: &str) -> Option<u64> {
    let text = text.trim();
    let last = text.chars().last()?;
    let exponent = match last.to_ascii_lowercase() {
        'k' => 1,
        'm' => 2,
        'g' => 3,
        't' => 4,
        'p' => 5,
        'e' => 6,
        _ => 0,
    };
    let number = if exponent > 0 {
        &text[..text.len() - 1]
    } else {
        text
    };
    let value: f64 = number.trim().parse().ok()?;
    Some((value * 1024f64.powi(exponent)) as u64)
}

/// Parses a table whose first line is a header and whose rows start with a name. Returns the
/// name (without a trailing `:`) and the remaining fields of rows with at least `min_fields`.
fn table_rows(text: &str, min_fields: usize) -> Vec<(String, Vec<&str>)> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            (fields.len() >= min_fields).then(|| {
                (
                    fields[0].trim_end_matches(':').to_owned(),
                    fields[1..].to_vec(),
                )
            })
        })
        .collect()
}

/// Parses `io_done`: a `read:` and a `write:` section of `data_type : bytes` lines.
pub fn parse_io_done(text: &str) -> Vec<(String, String, u64)> {
    let mut operation: Option<&str> = None;
    let mut rows = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if line == "read:" || line == "write:" {
            operation = Some(line.trim_end_matches(':'));
            continue;
        }
        let (Some(op), Some((data_type, value))) = (operation, line.split_once(':')) else {
            continue;
        };
        match parse_u64(value) {
            Some(value) => rows.push((op.to_owned(), data_type.trim().to_owned(), value)),
            None => debug!(line, "Skipped a malformed bcachefs io_done line"),
        }
    }
    rows
}

/// Parses the "since filesystem creation" section of `io_errors`.
pub fn parse_io_errors(text: &str) -> Vec<(String, u64)> {
    let mut in_section = false;
    let mut rows = Vec::new();
    for line in text.lines() {
        if line.starts_with("IO errors since filesystem creation") {
            in_section = true;
            continue;
        }
        if line.starts_with("IO errors since ") {
            break;
        }
        let Some((kind, value)) = line.trim().split_once(':').filter(|_| in_section) else {
            continue;
        };
        if let Some(value) = parse_u64(value) {
            rows.push((kind.trim().to_owned(), value));
        }
    }
    rows
}

/// Reads the "since filesystem creation" value of a file under counters/.
fn read_counter(path: &Path) -> Option<u64> {
    let text = read_optional(path)?;
    text.lines()
        .find_map(|line| line.strip_prefix("since filesystem creation:"))
        .and_then(parse_human_bytes)
}

impl BlockingCollector for Bcachefs {
    fn collect(&self, sink: &mut MetricSink) -> Result<(), CollectError> {
        let filesystems: Vec<_> = list_dir(&self.base)?
            .into_iter()
            .filter(|(_, path)| path.is_dir())
            .collect();
        if filesystems.is_empty() {
            return Err(CollectError::no_data("no bcachefs filesystem is mounted"));
        }
        for (uuid, dir) in filesystems {
            collect_filesystem(sink, &uuid, &dir);
            for (name, path) in list_dir(&dir)? {
                if let Some(device) = name.strip_prefix("dev-").filter(|_| path.is_dir()) {
                    collect_device(sink, &uuid, device, &path);
                }
            }
        }
        Ok(())
    }
}

fn collect_filesystem(sink: &mut MetricSink, uuid: &str, dir: &Path) {
    let read = |name: &str| read_optional(&dir.join(name)).unwrap_or_default();
    sink.add(&INFO, &[uuid], 1.0);
    let cache = read_attr(&dir.join("btree_cache_size")).and_then(|t| parse_human_bytes(&t));
    sink.add(&BTREE_CACHE, &[uuid], cache.unwrap_or(0) as f64);

    for (algorithm, fields) in table_rows(&read("compression_stats"), 3) {
        if let (Some(compressed), Some(uncompressed)) =
            (parse_human_bytes(fields[0]), parse_human_bytes(fields[1]))
        {
            sink.add(&COMPRESSED, &[uuid, &algorithm], compressed as f64);
            sink.add(&UNCOMPRESSED, &[uuid, &algorithm], uncompressed as f64);
        }
    }
    for line in read("errors").lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if let Some(count) = fields.get(1).and_then(|c| parse_u64(c)) {
            sink.add(&ERRORS, &[uuid, fields[0]], count as f64);
        }
    }
    for (name, path) in list_dir(&dir.join("counters")).unwrap_or_default() {
        let Some(value) = read_counter(&path) else {
            continue;
        };
        let sanitized = INVALID_NAME_CHARS
            .as_ref()
            .map_or(name.clone(), |re| re.replace_all(&name, "_").into_owned());
        let family = format!("node_bcachefs_{sanitized}_total");
        let help = format!("bcachefs counter {name} since the filesystem was created.");
        let labels = vec![(Cow::Borrowed("uuid"), uuid.to_owned())];
        sink.add_dynamic(
            family,
            help,
            MetricType::Counter,
            labels,
            Value::Number(value as f64),
            None,
        );
    }
    for (kind, fields) in table_rows(&read("btree_write_stats"), 3) {
        if let (Some(count), Some(size)) = (parse_u64(fields[0]), parse_human_bytes(fields[1])) {
            sink.add(&BTREE_WRITES, &[uuid, &kind], count as f64);
            sink.add(&BTREE_WRITE_SIZE, &[uuid, &kind], size as f64);
        }
    }
}

fn collect_device(sink: &mut MetricSink, uuid: &str, device: &str, dir: &Path) {
    let label = read_attr(&dir.join("label")).unwrap_or_default();
    let state = read_attr(&dir.join("state")).unwrap_or_default();
    sink.add(&DEVICE_INFO, &[uuid, device, &label, &state], 1.0);
    let bucket_size = read_attr(&dir.join("bucket_size")).and_then(|t| parse_human_bytes(&t));
    sink.add(
        &BUCKET_SIZE,
        &[uuid, device],
        bucket_size.unwrap_or(0) as f64,
    );
    let number = |name: &str| {
        read_attr(&dir.join(name))
            .and_then(|t| parse_u64(&t))
            .unwrap_or(0) as f64
    };
    sink.add(&BUCKETS, &[uuid, device], number("nbuckets"));
    sink.add(&DURABILITY, &[uuid, device], number("durability"));
    let io_done = read_optional(&dir.join("io_done")).unwrap_or_default();
    for (operation, data_type, bytes) in parse_io_done(&io_done) {
        sink.add(
            &IO_DONE,
            &[uuid, device, &operation, &data_type],
            bytes as f64,
        );
    }
    let io_errors = read_optional(&dir.join("io_errors")).unwrap_or_default();
    for (kind, count) in parse_io_errors(&io_errors) {
        sink.add(&IO_ERRORS, &[uuid, device, &kind], count as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_bytes_suffixes() {
        assert_eq!(parse_human_bytes("720"), Some(720));
        assert_eq!(parse_human_bytes("100k"), Some(102_400));
        assert_eq!(parse_human_bytes("28.2k"), Some(28_876));
        assert_eq!(parse_human_bytes("1G"), Some(1 << 30));
        assert_eq!(parse_human_bytes("x"), None);
    }

    #[test]
    fn io_done_sections() {
        let rows = parse_io_done("read:\nsb   :  4096\nuser : 10\nwrite:\nsb : 8\nbad : x\n");
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[2], ("write".to_owned(), "sb".to_owned(), 8));
    }

    #[test]
    fn io_errors_only_since_creation() {
        let text = "IO errors since filesystem creation\n  read: 3\n  write: 1\nIO errors since 2 d ago\n  read: 9\n";
        assert_eq!(
            parse_io_errors(text),
            vec![("read".to_owned(), 3), ("write".to_owned(), 1)]
        );
    }

    #[test]
    fn bcachefs_without_filesystems_is_no_data() {
        let base = tempfile::tempdir().unwrap();
        let mut sink = MetricSink::new();
        let result = Bcachefs {
            base: base.path().to_path_buf(),
        }
        .collect(&mut sink);
        assert!(matches!(result, Err(CollectError::NoData(_))));
    }

    #[test]
    fn bcachefs_counter_names_are_sanitized() {
        let base = tempfile::tempdir().unwrap();
        let counters = base.path().join("abc/counters");
        std::fs::create_dir_all(&counters).unwrap();
        std::fs::write(
            counters.join("data-read"),
            "since mount: 1\nsince filesystem creation: 2k\n",
        )
        .unwrap();
        let mut sink = MetricSink::new();
        Bcachefs {
            base: base.path().to_path_buf(),
        }
        .collect(&mut sink)
        .unwrap();
        let families = sink.finish();
        let counter = families
            .iter()
            .find(|f| f.name == "node_bcachefs_data_read_total")
            .unwrap();
        assert_eq!(counter.samples[0].value, Value::Number(2048.0));
    }
}
