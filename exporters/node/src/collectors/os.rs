//! The os collector: the operating system's identity from os-release(5), read from
//! /etc/os-release or, when that does not exist, /usr/lib/os-release under `--path.rootfs`.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};

use exporter_core::collector::BuildError;
use exporter_core::{AnyCollector, BlockingCollector, CollectError, Desc, MetricSink};
use tracing::debug;

use super::NodeConfig;

const FILES: [&str; 2] = ["/etc/os-release", "/usr/lib/os-release"];

/// Labels of node_os_info and the os-release keys they come from.
const INFO_LABELS: [(&str, &str); 12] = [
    ("build_id", "BUILD_ID"),
    ("id", "ID"),
    ("id_like", "ID_LIKE"),
    ("image_id", "IMAGE_ID"),
    ("image_version", "IMAGE_VERSION"),
    ("name", "NAME"),
    ("pretty_name", "PRETTY_NAME"),
    ("variant", "VARIANT"),
    ("variant_id", "VARIANT_ID"),
    ("version", "VERSION"),
    ("version_codename", "VERSION_CODENAME"),
    ("version_id", "VERSION_ID"),
];

const INFO: Desc = Desc::gauge(
    "node_os_info",
    "Identity of the operating system from os-release; the value is always 1.",
    &[
        "build_id",
        "id",
        "id_like",
        "image_id",
        "image_version",
        "name",
        "pretty_name",
        "variant",
        "variant_id",
        "version",
        "version_codename",
        "version_id",
    ],
);
const VERSION: Desc = Desc::gauge(
    "node_os_version",
    "Major and minor version of the operating system (VERSION_ID) as a number.",
    &["id", "id_like", "name"],
);
const SUPPORT_END: Desc = Desc::gauge(
    "node_os_support_end_timestamp_seconds",
    "End of support of the operating system (SUPPORT_END) in seconds since the Unix epoch.",
    &[],
);

pub fn build(config: &NodeConfig) -> Result<AnyCollector, BuildError> {
    Ok(AnyCollector::blocking(OsCollector {
        files: FILES.iter().map(|f| config.root(Path::new(f))).collect(),
    }))
}

pub struct OsCollector {
    /// Candidate os-release files, the first existing one is read.
    pub files: Vec<PathBuf>,
}

/// Parses os-release: `KEY=value` lines with shell-style quoting. Comments, blank lines and lines
/// without `=` are skipped.
pub fn parse(text: &str) -> HashMap<String, String> {
    let mut values = HashMap::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, raw)) = line.split_once('=') else {
            debug!(line, "Skipped an os-release line without '='");
            continue;
        };
        values.insert(key.trim().to_owned(), unquote(raw.trim()));
    }
    values
}

/// Removes shell quoting: single quotes are literal, and a backslash escapes the next character
/// outside them.
fn unquote(raw: &str) -> String {
    let mut value = String::with_capacity(raw.len());
    let mut quote = None;
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (Some('\''), c) => value.push(c),
            (_, '\\') => value.extend(chars.next()),
            (_, c) => value.push(c),
        }
    }
    value
}

/// Returns the leading `major[.minor]` of VERSION_ID as a number, or `None` if it does not start
/// with a digit.
fn major_minor(version_id: &str) -> Option<f64> {
    let major = version_id
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(version_id.len());
    if major == 0 {
        return None;
    }
    let rest = &version_id[major..];
    let end = match rest.strip_prefix('.') {
        Some(after) => {
            major
                + 1
                + after
                    .find(|c: char| !c.is_ascii_digit())
                    .unwrap_or(after.len())
        }
        None => major,
    };
    version_id[..end].trim_end_matches('.').parse().ok()
}

/// Converts a `YYYY-MM-DD` date to seconds since the epoch at midnight UTC.
fn date_to_epoch_seconds(date: &str) -> Option<i64> {
    let mut parts = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (year, month, day) = (parts.next()??, parts.next()??, parts.next()??);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    // Days from civil date, after Howard Hinnant's public-domain algorithm.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let shifted_month = (month + 9) % 12;
    let day_of_year = (153 * shifted_month + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    Some((era * 146097 + day_of_era - 719468) * 86400)
}

impl BlockingCollector for OsCollector {
    fn collect(&self, sink: &mut MetricSink) -> Result<(), CollectError> {
        let mut text = None;
        for path in &self.files {
            match std::fs::read(path) {
                Ok(bytes) => {
                    text = Some(String::from_utf8_lossy(&bytes).into_owned());
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => {
                    return Err(CollectError::failed(format!(
                        "failed to read {}: {e}",
                        path.display()
                    )))
                }
            }
        }
        let Some(text) = text else {
            return Err(CollectError::no_data("no os-release file exists"));
        };
        let values = parse(&text);
        let get = |key: &str| values.get(key).map(String::as_str).unwrap_or("");
        let labels: Vec<&str> = INFO_LABELS.iter().map(|(_, key)| get(key)).collect();
        sink.add(&INFO, &labels, 1.0);
        if let Some(version) = major_minor(get("VERSION_ID")).filter(|v| *v > 0.0) {
            sink.add(&VERSION, &[get("ID"), get("ID_LIKE"), get("NAME")], version);
        }
        let support_end = get("SUPPORT_END");
        if !support_end.is_empty() {
            let seconds = date_to_epoch_seconds(support_end).ok_or_else(|| {
                CollectError::failed(format!(
                    "invalid SUPPORT_END date {support_end:?} in os-release"
                ))
            })?;
            sink.add(&SUPPORT_END, &[], seconds as f64);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::test_support::{collect, samples, write_tree};

    const DEBIAN: &str = r#"PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
# a comment
HOME_URL="https://www.debian.org/"
SUPPORT_END=2028-06-30
"#;

    #[test]
    fn unquote_forms() {
        assert_eq!(unquote(r#""a \"b\" c""#), r#"a "b" c"#);
        assert_eq!(unquote(r"'a \ b'"), r"a \ b");
        assert_eq!(unquote("plain"), "plain");
    }

    #[test]
    fn version_numbers() {
        assert_eq!(major_minor("20.04"), Some(20.04));
        assert_eq!(major_minor("12"), Some(12.0));
        assert_eq!(major_minor("2024.05.1"), Some(2024.05));
        assert_eq!(major_minor("rolling"), None);
    }

    #[test]
    fn dates() {
        assert_eq!(date_to_epoch_seconds("1970-01-01"), Some(0));
        assert_eq!(date_to_epoch_seconds("2028-06-30"), Some(1845936000));
        assert_eq!(date_to_epoch_seconds("2028-13-01"), None);
    }

    #[test]
    fn falls_back_to_usr_lib() {
        let dir = tempfile::tempdir().unwrap();
        write_tree(dir.path(), &[("usr/lib/os-release", DEBIAN)]);
        let os = OsCollector {
            files: vec![
                dir.path().join("etc/os-release"),
                dir.path().join("usr/lib/os-release"),
            ],
        };
        let got = samples(&os);
        let info = r#"node_os_info{build_id="",id="debian",id_like="",image_id="",image_version="",name="Debian GNU/Linux",pretty_name="Debian GNU/Linux 12 (bookworm)",variant="",variant_id="",version="12 (bookworm)",version_codename="bookworm",version_id="12"}"#;
        assert_eq!(got[info], 1.0);
        assert_eq!(
            got[r#"node_os_version{id="debian",id_like="",name="Debian GNU/Linux"}"#],
            12.0
        );
        assert_eq!(got["node_os_support_end_timestamp_seconds"], 1845936000.0);
    }

    #[test]
    fn no_file_is_no_data() {
        let dir = tempfile::tempdir().unwrap();
        let (outcome, _) = collect(&OsCollector {
            files: vec![dir.path().join("etc/os-release")],
        });
        assert!(matches!(outcome, Err(CollectError::NoData(_))));
    }
}
