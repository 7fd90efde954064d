//! Helpers for sysfs attribute files and directories that several collectors share.

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};

use exporter_core::CollectError;
use tracing::debug;

use super::util::io_error;

/// Converts bytes from the kernel into a valid UTF-8 string, replacing invalid sequences with
/// U+FFFD so that the result can be a label value.
pub fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Converts a file name into a valid UTF-8 string.
pub fn name_lossy(name: &OsStr) -> String {
    name.to_string_lossy().into_owned()
}

/// Reads a sysfs attribute as a trimmed, valid UTF-8 string, or `None` when it cannot be read.
pub fn read_attr(path: &Path) -> Option<String> {
    let bytes = fs::read(path).ok()?;
    Some(lossy(&bytes).trim().to_owned())
}

/// Reads a sysfs attribute holding one unsigned integer.
pub fn read_u64(path: &Path) -> Option<u64> {
    read_attr(path)?.parse().ok()
}

/// Reads a sysfs attribute holding one signed integer.
pub fn read_i64(path: &Path) -> Option<i64> {
    read_attr(path)?.parse().ok()
}

/// Reads a sysfs attribute holding one decimal number.
pub fn read_f64(path: &Path) -> Option<f64> {
    read_attr(path)?.parse().ok()
}

/// Lists the entries of a directory as (name, path) pairs sorted by name. A missing directory
/// is "no data".
pub fn list_dir(dir: &Path) -> Result<Vec<(String, PathBuf)>, CollectError> {
    let entries = fs::read_dir(dir).map_err(|e| io_error(dir, e))?;
    let mut list: Vec<(String, PathBuf)> = entries
        .filter_map(Result::ok)
        .map(|entry| (name_lossy(&entry.file_name()), entry.path()))
        .collect();
    list.sort();
    Ok(list)
}

/// Reads a whole kernel text file, replacing invalid UTF-8 with U+FFFD. A missing file is
/// "no data", any other error a failure naming the path.
pub fn read_text(path: &Path) -> Result<String, CollectError> {
    fs::read(path)
        .map(|bytes| lossy(&bytes))
        .map_err(|e| io_error(path, e))
}

/// Reads an optional kernel text file, replacing invalid UTF-8. Returns `None` when the file
/// is missing or unreadable, logging the error at debug level.
pub fn read_optional(path: &Path) -> Option<String> {
    match fs::read(path) {
        Ok(bytes) => Some(lossy(&bytes)),
        Err(e) => {
            debug!(path = %path.display(), error = %e, "Skipped an unreadable file");
            None
        }
    }
}

/// Parses an unsigned integer field of a kernel text file.
pub fn parse_u64(text: &str) -> Option<u64> {
    text.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lossy_replaces_invalid_bytes() {
        assert_eq!(lossy(b"disk\xff1"), "disk\u{fffd}1");
    }

    #[test]
    fn list_dir_missing_is_no_data() {
        let result = list_dir(Path::new("/nonexistent/dir/for/test"));
        assert!(matches!(result, Err(CollectError::NoData(_))));
    }

    #[test]
    fn read_text_replaces_invalid_utf8() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mdstat");
        fs::write(&path, b"md0 : active\xff\n").unwrap();
        assert_eq!(read_text(&path).unwrap(), "md0 : active\u{fffd}\n");
        let missing = read_text(&dir.path().join("absent"));
        assert!(matches!(missing, Err(CollectError::NoData(_))));
        assert_eq!(read_optional(&dir.path().join("absent")), None);
    }

    #[test]
    fn read_u64_trims_line_feed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("value");
        fs::write(&path, "42\n").unwrap();
        assert_eq!(read_u64(&path), Some(42));
        assert_eq!(read_u64(&dir.path().join("absent")), None);
    }
}
