//! `settings`: every boolean and numeric server parameter as `pg_settings_<name>`, from
//! `pg_settings`, with values converted to seconds or bytes.
//!
//! The units are those listed in the PostgreSQL manual, section "Parameter Names and Values":
//! time in ms, s, min, h or d, memory in B, kB, MB, GB or TB, and block sizes such as `8kB`
//! (the `unit` column of `pg_settings`).

use std::collections::HashSet;
use std::sync::Mutex;

use exporter_core::metric::LabelName;
use exporter_core::{CollectError, MetricSink, MetricType, Value};
use tracing::{debug, warn};

use super::{CollectorConfig, PgCollector};
use crate::connection::Session;

/// `sync_commit_cancel_wait` and `google_dataplex.max_messages` are left out as in
/// postgres_exporter, because managed services report values for them that do not parse.
const QUERY: &str = "SELECT name, setting, COALESCE(unit, ''), vartype FROM pg_settings
  WHERE vartype IN ('bool', 'integer', 'real')
    AND name NOT IN ('sync_commit_cancel_wait', 'google_dataplex.max_messages')";

/// Base unit and factor of every unit that `pg_settings.unit` uses.
const UNITS: &[(&str, &str, f64)] = &[
    ("ms", "seconds", 0.001),
    ("s", "seconds", 1.0),
    ("min", "seconds", 60.0),
    ("h", "seconds", 3600.0),
    ("d", "seconds", 86400.0),
    ("B", "bytes", 1.0),
    ("kB", "bytes", 1024.0),
    ("MB", "bytes", 1048576.0),
    ("GB", "bytes", 1073741824.0),
    ("TB", "bytes", 1099511627776.0),
    ("1kB", "bytes", 1024.0),
    ("2kB", "bytes", 2048.0),
    ("4kB", "bytes", 4096.0),
    ("8kB", "bytes", 8192.0),
    ("16kB", "bytes", 16384.0),
    ("32kB", "bytes", 32768.0),
    ("64kB", "bytes", 65536.0),
    ("16MB", "bytes", 16777216.0),
    ("32MB", "bytes", 33554432.0),
    ("64MB", "bytes", 67108864.0),
];

/// Error in one setting; it costs only that setting's series.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SettingError {
    #[error("setting {name}: value {value:?} is not a number")]
    InvalidValue { name: String, value: String },
    #[error("setting {name}: unknown unit {unit:?}")]
    UnknownUnit { name: String, unit: String },
    #[error("setting {name}: unsupported type {vartype:?}")]
    UnsupportedType { name: String, vartype: String },
}

/// One converted setting: metric name suffix, HELP text and value.
#[derive(Debug, PartialEq)]
pub struct SettingSample {
    pub name: String,
    pub help: String,
    pub value: f64,
}

/// Converts one row of `pg_settings`. A value of -1 means "disabled" for many parameters and is
/// passed through without unit conversion, as postgres_exporter does.
pub fn convert(
    name: &str,
    setting: &str,
    unit: &str,
    vartype: &str,
) -> Result<SettingSample, SettingError> {
    let metric = name.replace(['.', '-'], "_");
    let mut help = format!("Server parameter {name}.");
    let value = match vartype {
        "bool" => {
            if setting == "on" {
                1.0
            } else {
                0.0
            }
        }
        "integer" | "real" => {
            let raw: f64 = setting
                .trim()
                .parse()
                .map_err(|_| SettingError::InvalidValue {
                    name: name.to_owned(),
                    value: setting.to_owned(),
                })?;
            if unit.is_empty() {
                raw
            } else {
                let (_, base, factor) =
                    UNITS.iter().find(|(u, _, _)| *u == unit).ok_or_else(|| {
                        SettingError::UnknownUnit {
                            name: name.to_owned(),
                            unit: unit.to_owned(),
                        }
                    })?;
                help = format!("Server parameter {name}, converted from {unit} to {base}.");
                let value = if raw == -1.0 { raw } else { raw * factor };
                return Ok(SettingSample {
                    name: format!("pg_settings_{metric}_{base}"),
                    help,
                    value,
                });
            }
        }
        other => {
            return Err(SettingError::UnsupportedType {
                name: name.to_owned(),
                vartype: other.to_owned(),
            })
        }
    };
    Ok(SettingSample {
        name: format!("pg_settings_{metric}"),
        help,
        value,
    })
}

pub struct Settings {
    /// Settings already reported as invalid, so that each is logged at warn level once and at
    /// debug level on later scrapes.
    reported: Mutex<HashSet<String>>,
}

impl Settings {
    pub fn new(_: &CollectorConfig) -> Settings {
        Settings {
            reported: Mutex::new(HashSet::new()),
        }
    }

    fn report(&self, name: &str, error: &SettingError) {
        let first = match self.reported.lock() {
            Ok(mut reported) => reported.insert(name.to_owned()),
            Err(_) => true,
        };
        if first {
            warn!(collector = "settings", query = "pg_settings", error = %error, "Skipped a setting");
        } else {
            debug!(collector = "settings", query = "pg_settings", error = %error, "Skipped a setting");
        }
    }
}

#[async_trait::async_trait]
impl PgCollector for Settings {
    async fn update(&self, session: &Session, sink: &mut MetricSink) -> Result<(), CollectError> {
        for row in session.cells("pg_settings", QUERY).await? {
            let text: Vec<String> = row.iter().map(|c| c.label()).collect();
            match convert(&text[0], &text[1], &text[2], &text[3]) {
                Ok(sample) => sink.add_dynamic(
                    sample.name,
                    sample.help,
                    MetricType::Gauge,
                    Vec::<(LabelName, String)>::new(),
                    Value::Number(sample.value),
                    None,
                ),
                Err(e) => self.report(&text[0], &e),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_convert_to_seconds_and_bytes() {
        let cases = [
            (
                "statement_timeout",
                "1500",
                "ms",
                "pg_settings_statement_timeout_seconds",
                1.5,
            ),
            (
                "checkpoint_timeout",
                "5",
                "min",
                "pg_settings_checkpoint_timeout_seconds",
                300.0,
            ),
            (
                "shared_buffers",
                "16384",
                "8kB",
                "pg_settings_shared_buffers_bytes",
                134217728.0,
            ),
            (
                "max_wal_size",
                "1024",
                "MB",
                "pg_settings_max_wal_size_bytes",
                1073741824.0,
            ),
            (
                "wal_segment_size",
                "1",
                "16MB",
                "pg_settings_wal_segment_size_bytes",
                16777216.0,
            ),
            (
                "log_rotation_age",
                "1",
                "d",
                "pg_settings_log_rotation_age_seconds",
                86400.0,
            ),
            (
                "work_mem",
                "4096",
                "kB",
                "pg_settings_work_mem_bytes",
                4194304.0,
            ),
        ];
        for (name, setting, unit, metric, value) in cases {
            let sample = convert(name, setting, unit, "integer").unwrap();
            assert_eq!(sample.name, metric);
            assert_eq!(sample.value, value, "{name}");
        }
    }

    #[test]
    fn minus_one_is_not_converted() {
        let sample = convert("log_min_duration_statement", "-1", "ms", "integer").unwrap();
        assert_eq!(sample.value, -1.0);
    }

    #[test]
    fn names_map_dashes_and_dots() {
        let sample = convert("pg_stat_statements.max", "5000", "", "integer").unwrap();
        assert_eq!(sample.name, "pg_settings_pg_stat_statements_max");
        let sample = convert("a-b", "on", "", "bool").unwrap();
        assert_eq!(sample.name, "pg_settings_a_b");
        assert_eq!(sample.value, 1.0);
    }

    #[test]
    fn bad_values_and_units_are_errors() {
        assert!(matches!(
            convert("x", "abc", "", "real"),
            Err(SettingError::InvalidValue { .. })
        ));
        assert!(matches!(
            convert("x", "1", "parsecs", "integer"),
            Err(SettingError::UnknownUnit { .. })
        ));
    }
}
