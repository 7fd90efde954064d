//! The configuration model: jobs, their connections and schedules, and the queries they run.
//!
//! A file is TOML (the native format) or justwatchcom sql_exporter's YAML, which also covers the
//! JSON that the nixpkgs module writes. Both are parsed into one tree and decoded by `decode`, so
//! the two formats accept the same keys and report the same errors. `{{ NAME }}` placeholders in
//! string values take the environment variable `NAME`, which keeps passwords out of the file.

mod decode;

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use decode::decode;

use crate::schedule::Schedule;

/// Label names that every query metric carries; a query must not use them for its own columns.
pub const BUILTIN_LABELS: [&str; 6] = ["driver", "host", "database", "user", "col", "sql_job"];

/// Upper bounds of the query duration histogram when the file sets none, in seconds; these are
/// client_golang's default buckets, which justwatchcom uses.
pub const DEFAULT_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Maximum default query timeout: a job without `query_timeout` uses the smaller of this and
/// its interval.
pub const MAX_DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// A whole configuration file.
#[derive(Clone, Debug)]
pub struct Config {
    pub jobs: Vec<Job>,
    /// Upper bounds of `sql_exporter_query_duration_seconds`, in seconds.
    pub histogram_buckets: Vec<f64>,
}

/// A set of queries run on a schedule against each of its connections.
#[derive(Clone, Debug)]
pub struct Job {
    pub name: String,
    pub schedule: Schedule,
    /// Connection URLs; they may contain passwords, so they are never logged.
    pub connections: Vec<String>,
    /// Statements run on every new connection before the queries.
    pub startup_sql: Vec<String>,
    /// Keeps connections open between runs instead of closing them after each run.
    pub keepalive: bool,
    pub iterator: Option<QueryIterator>,
    /// Limit of each query, of connecting and of each startup statement.
    pub query_timeout: Duration,
    pub queries: Vec<Query>,
}

/// A query whose result rows become samples of the gauge `sql_<name>`.
#[derive(Clone, Debug)]
pub struct Query {
    pub name: String,
    /// `sql_` and the name without the characters outside `[a-zA-Z0-9_:]`.
    pub metric_name: String,
    pub help: String,
    /// Columns exposed as labels, followed by the iterator label when the job has one.
    pub labels: Vec<String>,
    /// Columns exposed as values, one sample each with the column name in the `col` label.
    pub values: Vec<String>,
    /// Column whose time becomes the timestamp of the samples.
    pub timestamp: Option<String>,
    pub sql: String,
    /// Treats an empty result as success instead of a failed query.
    pub allow_zero_rows: bool,
}

/// Runs the job's queries that contain `{{placeholder}}` once per row of `sql`, with the
/// placeholder replaced by the row's first column and that value in the label `label`.
#[derive(Clone, Debug)]
pub struct QueryIterator {
    pub sql: String,
    pub placeholder: String,
    pub label: String,
}

/// A configuration file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("invalid config file {path}: {location}: {message}")]
    Invalid {
        path: PathBuf,
        location: String,
        message: String,
    },
}

/// Format of a configuration file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Toml,
    /// justwatchcom's YAML, and JSON as a subset of it.
    Yaml,
}

impl Format {
    /// Picks the format from the extension, or from the content when the extension is neither
    /// `.toml` nor `.yml`, `.yaml` or `.json`: a first line such as `[[jobs]]` means TOML.
    pub fn detect(path: &Path, text: &str) -> Format {
        match path.extension().and_then(|e| e.to_str()) {
            Some("toml") => return Format::Toml,
            Some("yml" | "yaml" | "json") => return Format::Yaml,
            _ => {}
        }
        let first = text
            .lines()
            .map(str::trim)
            .find(|line| !line.is_empty() && !line.starts_with('#'));
        match first {
            Some(line) if line.starts_with('[') && line.ends_with(']') && !line.contains(',') => {
                Format::Toml
            }
            Some(line) if line.contains(" = ") && !line.contains(':') => Format::Toml,
            _ => Format::Yaml,
        }
    }
}

/// Reads, parses and validates the configuration file at `path`.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(path, &text, Format::detect(path, &text))
}

/// Parses and validates `text`; `path` only names the file in errors.
pub fn parse(path: &Path, text: &str, format: Format) -> Result<Config, ConfigError> {
    let syntax = |message: String| ConfigError::Syntax {
        path: path.to_owned(),
        message,
    };
    let tree: serde_yaml::Value = match format {
        Format::Toml => toml::from_str(text).map_err(|e| syntax(toml_message(text, &e)))?,
        Format::Yaml => serde_yaml::from_str(text).map_err(|e| syntax(e.to_string()))?,
    };
    decode(path, tree, &|name| std::env::var(name).ok())
}

/// Describes a TOML syntax error by line and column. The toml crate's own message quotes the
/// offending line, which may be a connection URL with a password.
fn toml_message(text: &str, error: &toml::de::Error) -> String {
    let Some(span) = error.span() else {
        return error.message().to_owned();
    };
    let before = text.get(..span.start).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    let message = error.message().trim().replace('\n', ": ");
    format!("line {line}, column {column}: {message}")
}

/// Replaces each `{{ NAME }}` in `text` with the environment variable `NAME` (trimmed and
/// upper-cased) when it is set and not empty, and leaves the placeholder as it is otherwise.
///
/// As in justwatchcom, the variables `TEMPLATE_START` and `TEMPLATE_END` change the delimiters.
pub fn expand_placeholders(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    let start = lookup("TEMPLATE_START").unwrap_or_else(|| "{{".to_owned());
    let end = lookup("TEMPLATE_END").unwrap_or_else(|| "}}".to_owned());
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find(&start) {
        let after_open = &rest[open + start.len()..];
        // The name needs at least one character, as justwatchcom's `{{.+?}}` pattern does.
        let Some(close) = after_open
            .char_indices()
            .skip(1)
            .map(|(i, _)| i)
            .find(|&i| after_open[i..].starts_with(&end))
        else {
            break;
        };
        let name = after_open[..close].trim().to_uppercase();
        out.push_str(&rest[..open]);
        match lookup(&name).filter(|value| !name.is_empty() && !value.is_empty()) {
            Some(value) => out.push_str(&value),
            None => out.push_str(&rest[open..open + start.len() + close + end.len()]),
        }
        rest = &after_open[close + end.len()..];
    }
    out.push_str(rest);
    out
}

/// Returns `sql_<name>` without the characters that a metric name cannot contain.
pub fn metric_name(query_name: &str) -> String {
    format!("sql_{query_name}")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "PASSWORD" => Some("s3cret".to_owned()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn placeholders_take_environment() {
        let text = "postgres://u:{{ password }}@h/db?x={{EMPTY}}&y={{ MISSING }}";
        assert_eq!(
            expand_placeholders(text, &env),
            "postgres://u:s3cret@h/db?x={{EMPTY}}&y={{ MISSING }}"
        );
    }

    #[test]
    fn placeholder_without_end_is_kept() {
        assert_eq!(expand_placeholders("a {{ b", &env), "a {{ b");
    }

    #[test]
    fn toml_syntax_error_hides_line() {
        let text = "[[jobs]]\nconnections = [\"postgres://u:s3cret@h/db\"\n";
        let error = parse(Path::new("x.toml"), text, Format::Toml).unwrap_err();
        let message = error.to_string();
        assert!(!message.contains("s3cret"), "{message}");
        assert!(message.contains("x.toml: line "), "{message}");
    }

    #[test]
    fn metric_name_drops_invalid_characters() {
        assert_eq!(metric_name("pg-stat.activity"), "sql_pgstatactivity");
        assert_eq!(metric_name("a:b_c"), "sql_a:b_c");
    }

    #[test]
    fn format_follows_extension_then_content() {
        let p = Path::new("config");
        assert_eq!(
            Format::detect(Path::new("x.toml"), "jobs: []"),
            Format::Toml
        );
        assert_eq!(
            Format::detect(Path::new("x.yaml"), "[[jobs]]"),
            Format::Yaml
        );
        assert_eq!(Format::detect(p, "# c\n[[jobs]]\nname = 'a'"), Format::Toml);
        assert_eq!(Format::detect(p, "{\"jobs\": []}"), Format::Yaml);
        assert_eq!(Format::detect(p, "jobs:\n- name: a"), Format::Yaml);
    }
}
