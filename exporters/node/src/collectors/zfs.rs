//! zfs collector: the kstat files of OpenZFS under /proc/spl/kstat/zfs: module-wide statistics
//! (arcstats, dbufstats, ...), and per pool the io counters, the objset-* dataset counters and
//! the state file. A kstat file starts with a header line, then `name type data` columns; only
//! the 64-bit integer types (3 and 4 in OpenZFS's lib/libspl/include/sys/kstat.h) are exported.
//! Family names come from the kstat names, as in node_exporter.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use exporter_core::collector::BuildError;
use exporter_core::metric::LabelName;
use exporter_core::{
    AnyCollector, BlockingCollector, CollectError, Desc, MetricSink, MetricType, Value,
};
use tracing::debug;

use super::sysfs::{list_dir, read_optional};
use super::NodeConfig;

/// kstat files and the subsystem part of their family names.
const KSTAT_FILES: &[(&str, &str)] = &[
    ("abdstats", "zfs_abd"),
    ("arcstats", "zfs_arc"),
    ("dbufstats", "zfs_dbuf"),
    ("dmu_tx", "zfs_dmu_tx"),
    ("dnodestats", "zfs_dnode"),
    ("fm", "zfs_fm"),
    ("vdev_cache_stats", "zfs_vdev_cache"),
    ("vdev_mirror_stats", "zfs_vdev_mirror"),
    ("xuio_stats", "zfs_xuio"),
    ("zfetchstats", "zfs_zfetch"),
    ("zil", "zfs_zil"),
];
const POOL_STATES: &[&str] = &[
    "online",
    "degraded",
    "faulted",
    "offline",
    "removed",
    "unavail",
    "suspended",
];
const KSTAT_INT64: &str = "3";
const KSTAT_UINT64: &str = "4";

const POOL_STATE: Desc = Desc::gauge(
    "node_zfs_zpool_state",
    "Whether the ZFS pool is in the given state (1) or not (0).",
    &["zpool", "state"],
);

struct Zfs {
    base: PathBuf,
}

pub fn build(config: &NodeConfig) -> Result<AnyCollector, BuildError> {
    Ok(AnyCollector::blocking(Zfs {
        base: config.proc("spl/kstat/zfs"),
    }))
}

/// Parses the `name type data` rows of a kstat file into (name, value) pairs of its 64-bit
/// integer rows. Returns `None` when the file has no such header.
pub fn parse_kstat(text: &str) -> Option<Vec<(String, f64)>> {
    let mut lines = text.lines();
    lines.find(|line| line.split_whitespace().eq(["name", "type", "data"]))?;
    let mut rows = Vec::new();
    for line in lines {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 3 {
            continue;
        }
        let value = match fields[1] {
            KSTAT_UINT64 => fields[2].parse::<u64>().ok().map(|v| v as f64),
            KSTAT_INT64 => fields[2].parse::<i64>().ok().map(|v| v as f64),
            _ => continue,
        };
        match value {
            Some(value) => rows.push((fields[0].to_owned(), value)),
            None => debug!(line, "Skipped a kstat row with an invalid integer"),
        }
    }
    Some(rows)
}

/// Parses a pool's `io` kstat: a header row of field names starting with `nread`, then one row
/// of values.
pub fn parse_pool_io(text: &str) -> Vec<(String, f64)> {
    let mut lines = text.lines();
    let Some(header) = lines.find(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        fields.len() >= 12 && fields[0] == "nread"
    }) else {
        return Vec::new();
    };
    let names: Vec<&str> = header.split_whitespace().collect();
    let mut rows = Vec::new();
    for line in lines {
        let values: Vec<&str> = line.split_whitespace().collect();
        for (name, value) in names.iter().zip(values) {
            if let Ok(value) = value.parse::<u64>() {
                rows.push(((*name).to_owned(), value as f64));
            }
        }
    }
    rows
}

/// Parses an objset-* kstat into the dataset name and its 64-bit unsigned rows. The dataset
/// name is the rest of its row, because it may contain spaces.
pub fn parse_objset(text: &str) -> Option<(String, Vec<(String, f64)>)> {
    let mut dataset = None;
    let mut rows = Vec::new();
    let mut lines = text.lines();
    lines.find(|line| line.split_whitespace().eq(["name", "type", "data"]))?;
    for line in lines {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 3 {
            continue;
        }
        if fields[0] == "dataset_name" {
            dataset = Some(rest_after_fields(line, 2).to_owned());
        } else if fields[1] == KSTAT_UINT64 {
            if let Ok(value) = fields[2].parse::<u64>() {
                rows.push((fields[0].to_owned(), value as f64));
            }
        }
    }
    Some((dataset?, rows))
}

/// Returns the text after the first `count` whitespace-separated fields of a line.
fn rest_after_fields(line: &str, count: usize) -> &str {
    let mut rest = line.trim_start();
    for _ in 0..count {
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        rest = rest[end..].trim_start();
    }
    rest.trim_end()
}

/// Turns a kstat name into the last part of a family name.
fn metric_part(name: &str) -> String {
    name.replace('-', "_")
}

fn add_untyped(
    sink: &mut MetricSink,
    name: String,
    source: &str,
    labels: Vec<(LabelName, String)>,
    value: f64,
) {
    let help = format!("ZFS kstat {source}.");
    sink.add_dynamic(
        name,
        help,
        MetricType::Untyped,
        labels,
        Value::Number(value),
        None,
    );
}

impl BlockingCollector for Zfs {
    fn collect(&self, sink: &mut MetricSink) -> Result<(), CollectError> {
        if !self.base.is_dir() {
            return Err(CollectError::no_data(format!(
                "{} does not exist: ZFS is not loaded",
                self.base.display()
            )));
        }
        // A file without the kstat header fails the collector, as in node_exporter, but the
        // other files are still exported.
        let mut invalid = Vec::new();
        for (file, subsystem) in KSTAT_FILES {
            let path = self.base.join(file);
            let Some(text) = read_optional(&path) else {
                continue;
            };
            let Some(rows) = parse_kstat(&text) else {
                invalid.push(path.display().to_string());
                continue;
            };
            for (name, value) in rows {
                let family = format!("node_{subsystem}_{}", metric_part(&name));
                add_untyped(sink, family, &format!("{file}.{name}"), Vec::new(), value);
            }
        }
        for (pool, dir) in list_dir(&self.base)? {
            if dir.is_dir() {
                collect_pool(sink, &pool, &dir);
            }
        }
        if invalid.is_empty() {
            Ok(())
        } else {
            let files = invalid.join(", ");
            Err(CollectError::failed(format!("no kstat header in {files}")))
        }
    }
}

/// Adds the io, objset-* and state files of one pool. A file that vanishes while a pool is
/// exported is skipped.
fn collect_pool(sink: &mut MetricSink, pool: &str, dir: &Path) {
    let pool_label = || vec![(Cow::Borrowed("zpool"), pool.to_owned())];
    if let Some(text) = read_optional(&dir.join("io")) {
        for (name, value) in parse_pool_io(&text) {
            let family = format!("node_zfs_zpool_{}", metric_part(&name));
            add_untyped(sink, family, &format!("io.{name}"), pool_label(), value);
        }
    }
    let entries = list_dir(dir).unwrap_or_default();
    for (name, path) in entries
        .iter()
        .filter(|(name, _)| name.starts_with("objset-"))
    {
        let Some((dataset, rows)) = read_optional(path).as_deref().and_then(parse_objset) else {
            debug!(path = %path.display(), "Skipped an objset kstat without a dataset name");
            continue;
        };
        for (row, value) in rows {
            let family = format!("node_zfs_zpool_dataset_{}", metric_part(&row));
            let labels = vec![
                (Cow::Borrowed("zpool"), pool.to_owned()),
                (Cow::Borrowed("dataset"), dataset.clone()),
            ];
            add_untyped(sink, family, &format!("{name}.{row}"), labels, value);
        }
    }
    if let Some(text) = read_optional(&dir.join("state")) {
        let state = text.lines().next().unwrap_or("").trim().to_lowercase();
        for candidate in POOL_STATES {
            let value = if state == *candidate { 1.0 } else { 0.0 };
            sink.add(&POOL_STATE, &[pool, candidate], value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kstat_keeps_integer_rows() {
        let text =
            "6 1 0x01 3 144 1 2\nname type data\nhits 4 10\ndelta 3 -2\nlabel 7 text\nshort\n";
        let rows = parse_kstat(text).unwrap();
        assert_eq!(
            rows,
            vec![("hits".to_owned(), 10.0), ("delta".to_owned(), -2.0)]
        );
    }

    #[test]
    fn kstat_without_header_is_rejected() {
        assert!(parse_kstat("hits 4 10\n").is_none());
    }

    #[test]
    fn pool_io_columns() {
        let text = "12 3 0x00 1 80 1 2\nnread nwritten reads writes wtime wlentime wupdate rtime rlentime rupdate wcnt rcnt\n1 2 3 4 5 6 7 8 9 10 11 12\n";
        let rows = parse_pool_io(text);
        assert_eq!(rows.len(), 12);
        assert_eq!(rows[1], ("nwritten".to_owned(), 2.0));
    }

    #[test]
    fn objset_dataset_with_spaces() {
        let text =
            "31 1 0x01 7 2160 1 2\nname type data\ndataset_name 7 tank/my  data\nwrites 4 5\n";
        let (dataset, rows) = parse_objset(text).unwrap();
        assert_eq!(dataset, "tank/my  data");
        assert_eq!(rows, vec![("writes".to_owned(), 5.0)]);
    }

    #[test]
    fn zfs_invalid_file_fails_but_exports_rest() {
        let base = tempfile::tempdir().unwrap();
        std::fs::write(base.path().join("arcstats"), "garbage\n").unwrap();
        std::fs::write(
            base.path().join("zil"),
            "h\nname type data\nzil_commit_count 4 3\n",
        )
        .unwrap();

        let mut sink = MetricSink::new();
        let result = Zfs {
            base: base.path().to_path_buf(),
        }
        .collect(&mut sink);
        assert!(matches!(result, Err(CollectError::Failed(_))));

        let families = sink.finish();
        assert!(families
            .iter()
            .any(|f| f.name == "node_zfs_zil_zil_commit_count"));
    }

    #[test]
    fn zfs_pool_state() {
        let base = tempfile::tempdir().unwrap();
        std::fs::create_dir(base.path().join("tank")).unwrap();
        std::fs::write(base.path().join("tank/state"), "ONLINE\n").unwrap();
        std::fs::write(
            base.path().join("arcstats"),
            "h\nname type data\nc-max 4 7\n",
        )
        .unwrap();

        let mut sink = MetricSink::new();
        Zfs {
            base: base.path().to_path_buf(),
        }
        .collect(&mut sink)
        .unwrap();
        let families = sink.finish();

        let arc = families
            .iter()
            .find(|f| f.name == "node_zfs_arc_c_max")
            .unwrap();
        assert_eq!(arc.samples[0].value, Value::Number(7.0));
        let state = families
            .iter()
            .find(|f| f.name == "node_zfs_zpool_state")
            .unwrap();
        let online = state
            .samples
            .iter()
            .find(|s| s.labels.iter().any(|(k, v)| k == "state" && v == "online"))
            .unwrap();
        assert_eq!(online.value, Value::Number(1.0));
        assert_eq!(state.samples.len(), POOL_STATES.len());
    }
}
