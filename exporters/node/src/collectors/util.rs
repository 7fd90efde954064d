//! Helpers for reading kernel files.

use std::io;
use std::path::Path;

use clap::Arg;
use exporter_core::CollectError;

/// Reads a whole file. A missing file is "no data" rather than a failure, because many files
/// exist only with some kernels, modules or hardware.
pub fn read_file(path: &Path) -> Result<String, CollectError> {
    std::fs::read_to_string(path).map_err(|e| io_error(path, e))
}

/// Reads a sysfs attribute and trims the trailing line feed.
pub fn read_trimmed(path: &Path) -> Result<String, CollectError> {
    read_file(path).map(|text| text.trim().to_owned())
}

/// Turns an I/O error on `path` into a collector result: not found is no data, anything else a
/// failure naming the path.
pub fn io_error(path: &Path, error: io::Error) -> CollectError {
    if error.kind() == io::ErrorKind::NotFound {
        CollectError::no_data(format!("{} does not exist", path.display()))
    } else {
        CollectError::failed(format!("failed to read {}: {error}", path.display()))
    }
}

pub(crate) fn no_args() -> Vec<Arg> {
    Vec::new()
}
