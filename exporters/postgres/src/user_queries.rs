//! The deprecated queries.yaml of `--extend.query-path`: named queries whose columns are mapped
//! to labels and metrics.
//!
//! ```yaml
//! pg_postmaster:
//!   query: "SELECT pg_postmaster_start_time() AS start_time_seconds"
//!   master: true
//!   cache_seconds: 30
//!   runonserver: ">=13.0.0"
//!   metrics:
//!     - start_time_seconds:
//!         usage: "GAUGE"
//!         description: "Time at which postmaster started"
//! ```

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::Deserialize;

use crate::connection::ServerVersion;
use crate::namespace::{ColumnMapping, Namespace, Usage};

/// Error in the queries file; it leaves the built-in metrics working.
#[derive(Debug, thiserror::Error)]
pub enum UserQueriesError {
    #[error("failed to read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("invalid queries file {path}: {source}")]
    Parse {
        path: String,
        source: serde_yaml::Error,
    },
    #[error(
        "invalid queries file {path}: query {query}, column {column}: unknown usage {usage:?}"
    )]
    Usage {
        path: String,
        query: String,
        column: String,
        usage: String,
    },
}

#[derive(Deserialize)]
struct QuerySpec {
    #[serde(default)]
    query: String,
    #[serde(default)]
    metrics: Vec<BTreeMap<String, ColumnSpec>>,
    #[serde(default)]
    master: bool,
    #[serde(default)]
    cache_seconds: u64,
    #[serde(default)]
    runonserver: String,
}

#[derive(Deserialize)]
struct ColumnSpec {
    #[serde(default)]
    usage: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    metric_mapping: HashMap<String, f64>,
}

/// A loaded queries file and the SHA-256 of its content, the `hashsum` label of
/// `pg_exporter_user_queries_load_error`.
pub struct UserQueries {
    pub namespaces: Vec<Namespace>,
}

/// Reads and parses the queries file at `path`.
pub fn load(path: &Path) -> Result<UserQueries, UserQueriesError> {
    let display_path = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| UserQueriesError::Read {
        path: display_path.clone(),
        source,
    })?;
    parse(&text, &display_path)
}

/// Parses the text of a queries file; `path` is used in errors.
pub fn parse(text: &str, path: &str) -> Result<UserQueries, UserQueriesError> {
    let specs: BTreeMap<String, QuerySpec> =
        serde_yaml::from_str(text).map_err(|source| UserQueriesError::Parse {
            path: path.to_owned(),
            source,
        })?;
    let mut namespaces = Vec::new();
    for (name, spec) in specs {
        let mut columns = HashMap::new();
        for (column, column_spec) in spec.metrics.into_iter().flatten() {
            let usage =
                Usage::parse(&column_spec.usage).ok_or_else(|| UserQueriesError::Usage {
                    path: path.to_owned(),
                    query: name.clone(),
                    column: column.clone(),
                    usage: column_spec.usage.clone(),
                })?;
            columns.insert(
                column,
                ColumnMapping {
                    usage,
                    description: column_spec.description,
                    mapping: column_spec.metric_mapping,
                },
            );
        }
        namespaces.push(Namespace {
            name,
            query: Some(spec.query),
            columns,
            master: spec.master,
            cache_seconds: spec.cache_seconds,
            run_on_server: Some(spec.runonserver).filter(|r| !r.trim().is_empty()),
        });
    }
    Ok(UserQueries { namespaces })
}

/// Reports whether `version` satisfies a semver range such as `>=10.0.0 <14.0.0`: comparators
/// separated by spaces must all hold, and alternatives are separated by `||`. A range that
/// does not parse matches nothing.
pub fn version_matches(range: &str, version: ServerVersion) -> bool {
    range.split("||").any(|alternative| {
        let comparators: Vec<&str> = alternative.split_whitespace().collect();
        !comparators.is_empty()
            && comparators
                .iter()
                .all(|c| comparator_matches(c, version).unwrap_or(false))
    })
}

fn comparator_matches(comparator: &str, version: ServerVersion) -> Option<bool> {
    let split = comparator
        .find(|c: char| c.is_ascii_digit())
        .unwrap_or(comparator.len());
    let (op, number) = comparator.split_at(split);
    let mut parts = number.split('.').map(|p| p.parse::<u32>());
    let required = ServerVersion {
        major: parts.next()?.ok()?,
        minor: parts.next().unwrap_or(Ok(0)).ok()?,
        patch: parts.next().unwrap_or(Ok(0)).ok()?,
    };
    Some(match op {
        ">=" => version >= required,
        ">" => version > required,
        "<=" => version <= required,
        "<" => version < required,
        "" | "=" | "==" => version == required,
        "!=" => version != required,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
pg_custom:
  query: "SELECT datname, 1 AS hits FROM pg_database"
  master: true
  cache_seconds: 10
  runonserver: ">=13.0.0"
  metrics:
    - datname:
        usage: "LABEL"
        description: "Database"
    - hits:
        usage: "COUNTER"
        description: "Hits"
"#;

    #[test]
    fn file_parses() {
        let queries = parse(FILE, "q.yaml").unwrap();
        let ns = &queries.namespaces[0];
        assert_eq!(ns.name, "pg_custom");
        assert!(ns.master);
        assert_eq!(ns.cache_seconds, 10);
        assert_eq!(ns.columns["hits"].usage, Usage::Counter);
        assert_eq!(ns.label_columns(), ["datname"]);
    }

    #[test]
    fn unknown_usage_is_an_error_naming_it() {
        let text = "q:\n  query: x\n  metrics:\n    - c:\n        usage: GAUGEE\n";
        let error = parse(text, "q.yaml").err().unwrap();
        assert!(error.to_string().contains("GAUGEE"), "{error}");
    }

    #[test]
    fn version_ranges() {
        let v15 = ServerVersion::parse("PostgreSQL 15.4").unwrap();
        assert!(version_matches(">=13.0.0", v15));
        assert!(version_matches(">=14.0.0 <16.0.0", v15));
        assert!(!version_matches("<15.0.0", v15));
        assert!(version_matches("<10.0.0 || >=15.0.0", v15));
        assert!(!version_matches("~junk", v15));
    }
}
