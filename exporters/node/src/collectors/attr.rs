//! Helpers shared by several collectors: reading single-value sysfs and procfs attributes,
//! whole files as lossy UTF-8, listing numbered directories such as /sys/devices/system/cpu/cpuN,
//! and parsing CPU lists (`0-3,7`).

use std::io;
use std::path::{Path, PathBuf};

use exporter_core::CollectError;

use super::util;

/// Failure to read or parse one attribute file.
#[derive(Debug, thiserror::Error)]
pub enum AttrError {
    #[error("failed to read {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("invalid value {value:?} in {path}")]
    Invalid { path: PathBuf, value: String },
}

impl From<AttrError> for CollectError {
    fn from(error: AttrError) -> CollectError {
        CollectError::failed(error)
    }
}

/// Reads an attribute file and trims surrounding white space. Returns `None` when the file does
/// not exist, because most attributes exist only with some kernels or drivers. Bytes that are not
/// UTF-8 are replaced with U+FFFD so that the value is always a valid label.
pub fn read_attr(path: &Path) -> Result<Option<String>, AttrError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).trim().to_owned())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(AttrError::Read {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Reads a whole file whose text becomes label values, replacing bytes that are not UTF-8 with
/// U+FFFD. A missing file is no data, as with [`util::read_file`].
pub fn read_lossy(path: &Path) -> Result<String, CollectError> {
    std::fs::read(path)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .map_err(|e| util::io_error(path, e))
}

/// Reads an attribute holding one unsigned integer; `None` when the file does not exist.
pub fn read_u64_attr(path: &Path) -> Result<Option<u64>, AttrError> {
    parse_attr(path)
}

/// Reads an attribute holding one signed integer; `None` when the file does not exist.
pub fn read_i64_attr(path: &Path) -> Result<Option<i64>, AttrError> {
    parse_attr(path)
}

fn parse_attr<T: std::str::FromStr>(path: &Path) -> Result<Option<T>, AttrError> {
    let Some(text) = read_attr(path)? else {
        return Ok(None);
    };
    text.parse().map(Some).map_err(|_| AttrError::Invalid {
        path: path.to_owned(),
        value: text,
    })
}

/// Lists the entries of `dir` named `prefix` followed by a digit, such as `cpu0` or
/// `clocksource1`, sorted by name as a shell glob `prefix[0-9]*` would be. Returns the part of
/// the name after `prefix` and the full path. A missing directory yields an empty list.
pub fn numbered_entries(dir: &Path, prefix: &str) -> Result<Vec<(String, PathBuf)>, AttrError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(AttrError::Read {
                path: dir.to_owned(),
                source,
            })
        }
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(suffix) = name.strip_prefix(prefix) else {
            continue;
        };
        if suffix.starts_with(|c: char| c.is_ascii_digit()) {
            found.push((name.clone(), entry.path()));
        }
    }
    found.sort();
    Ok(found
        .into_iter()
        .map(|(name, path)| (name[prefix.len()..].to_owned(), path))
        .collect())
}

/// Parses a kernel CPU list such as `1,3-5,9` (see cpuset(7), "List format") into CPU numbers.
pub fn parse_cpu_list(text: &str) -> Result<Vec<u32>, String> {
    let mut cpus = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        let number = |t: &str| {
            t.parse::<u32>()
                .map_err(|_| format!("invalid CPU number {t:?} in CPU list {text:?}"))
        };
        match part.split_once('-') {
            Some((start, end)) => cpus.extend(number(start)?..=number(end)?),
            None => cpus.push(number(part)?),
        }
    }
    Ok(cpus)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_list_ranges_and_singles() {
        assert_eq!(parse_cpu_list("1,3-5,9\n"), Ok(vec![1, 3, 4, 5, 9]));
        assert_eq!(parse_cpu_list("\n"), Ok(vec![]));
        assert!(parse_cpu_list("1-x").is_err());
    }

    #[test]
    fn numbered_entries_sorted_and_filtered() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["cpu10", "cpu2", "cpufreq", "cpuidle", "online"] {
            std::fs::create_dir(dir.path().join(name)).unwrap();
        }
        let names: Vec<String> = numbered_entries(dir.path(), "cpu")
            .unwrap()
            .into_iter()
            .map(|(suffix, _)| suffix)
            .collect();
        assert_eq!(names, ["10", "2"]);
    }

    #[test]
    fn read_lossy_replaces_invalid_utf8() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("diskstats"), b"8 0 sd\xe9 1\n").unwrap();
        let text = read_lossy(&dir.path().join("diskstats")).unwrap();
        assert_eq!(text, "8 0 sd\u{fffd} 1\n");
        let missing = read_lossy(&dir.path().join("absent"));
        assert!(matches!(missing, Err(CollectError::NoData(_))));
    }

    #[test]
    fn attr_missing_invalid_and_lossy() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read_u64_attr(&dir.path().join("absent")).unwrap().is_none());
        std::fs::write(dir.path().join("bad"), "12a\n").unwrap();
        assert!(read_u64_attr(&dir.path().join("bad")).is_err());
        std::fs::write(dir.path().join("name"), b"ab\xffc\n").unwrap();
        let name = read_attr(&dir.path().join("name")).unwrap().unwrap();
        assert_eq!(name, "ab\u{fffd}c");
    }
}
