//! Decoding of a parsed configuration tree into the model, with errors that name the file, the
//! job, the query and the key. Unknown keys are errors, unlike in justwatchcom, which ignores them.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use exporter_core::metric::is_valid_label_name;
use serde_yaml::{Mapping, Value};

use super::{
    expand_placeholders, metric_name, Config, ConfigError, Job, Query, QueryIterator,
    BUILTIN_LABELS, DEFAULT_BUCKETS, MAX_DEFAULT_TIMEOUT,
};
use crate::schedule::Schedule;

const FILE_KEYS: &[&str] = &["configuration", "jobs", "queries"];
const CONFIGURATION_KEYS: &[&str] = &["histogram_buckets"];
const JOB_KEYS: &[&str] = &[
    "name",
    "interval",
    "cron_schedule",
    "connections",
    "startup_sql",
    "keepalive",
    "iterator",
    "query_timeout",
    "queries",
];
const ITERATOR_KEYS: &[&str] = &["sql", "placeholder", "label"];
const QUERY_KEYS: &[&str] = &[
    "name",
    "help",
    "labels",
    "values",
    "timestamp",
    "query",
    "query_ref",
    "allow_zero_rows",
];

type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Position in the file that an error refers to, such as `job "a", query "b"`.
struct Place<'a> {
    path: &'a Path,
    location: String,
    lookup: Lookup<'a>,
}

impl<'a> Place<'a> {
    fn nested(&self, part: String) -> Place<'a> {
        let location = if self.location.is_empty() {
            part
        } else {
            format!("{}, {part}", self.location)
        };
        Place {
            path: self.path,
            location,
            lookup: self.lookup,
        }
    }

    fn error(&self, key: &str, message: impl Into<String>) -> ConfigError {
        let location = match (self.location.is_empty(), key.is_empty()) {
            (true, true) => "top level".to_owned(),
            (true, false) => format!("key {key:?}"),
            (false, true) => self.location.clone(),
            (false, false) => format!("{}, key {key:?}", self.location),
        };
        ConfigError::Invalid {
            path: self.path.to_owned(),
            location,
            message: message.into(),
        }
    }

    /// Returns `value` as a mapping whose keys all appear in `allowed`.
    fn table<'v>(&self, value: &'v Value, allowed: &[&str]) -> Result<&'v Mapping, ConfigError> {
        let map = value
            .as_mapping()
            .ok_or_else(|| self.error("", "expected a table of keys"))?;
        for key in map.keys() {
            let name = key.as_str().unwrap_or_default();
            if !allowed.contains(&name) {
                return Err(self.error(
                    name,
                    format!("unknown key; expected one of {}", allowed.join(", ")),
                ));
            }
        }
        Ok(map)
    }

    fn string(&self, map: &Mapping, key: &str) -> Result<Option<String>, ConfigError> {
        match map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => Ok(Some(expand_placeholders(text, self.lookup))),
            Some(_) => Err(self.error(key, "expected a string")),
        }
    }

    fn required_string(&self, map: &Mapping, key: &str) -> Result<String, ConfigError> {
        match self.string(map, key)? {
            Some(text) if !text.is_empty() => Ok(text),
            _ => Err(self.error(key, "missing or empty")),
        }
    }

    fn strings(&self, map: &Mapping, key: &str) -> Result<Vec<String>, ConfigError> {
        let items = match map.get(key) {
            None | Some(Value::Null) => return Ok(Vec::new()),
            Some(Value::Sequence(items)) => items,
            Some(_) => return Err(self.error(key, "expected a list of strings")),
        };
        items
            .iter()
            .map(|item| match item {
                Value::String(text) => Ok(expand_placeholders(text, self.lookup)),
                _ => Err(self.error(key, "expected a list of strings")),
            })
            .collect()
    }

    fn bool(&self, map: &Mapping, key: &str) -> Result<bool, ConfigError> {
        match map.get(key) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(flag)) => Ok(*flag),
            Some(_) => Err(self.error(key, "expected true or false")),
        }
    }

    fn duration(&self, map: &Mapping, key: &str) -> Result<Option<Duration>, ConfigError> {
        match map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => {
                let duration = exporter_core::cli::parse_duration(text)
                    .map_err(|message| self.error(key, message))?;
                if duration.is_zero() {
                    return Err(self.error(key, "must be greater than zero"));
                }
                Ok(Some(duration))
            }
            Some(Value::Number(n)) => Err(self.error(
                key,
                format!("a bare number ({n}) has no unit; write a duration such as \"{n}s\""),
            )),
            Some(_) => Err(self.error(key, "expected a duration such as \"1h\" or \"30s\"")),
        }
    }
}

/// Decodes a parsed configuration tree; `lookup` resolves environment placeholders.
pub fn decode(path: &Path, tree: Value, lookup: Lookup) -> Result<Config, ConfigError> {
    let top = Place {
        path,
        location: String::new(),
        lookup,
    };
    let root = top.table(&tree, FILE_KEYS)?;
    let histogram_buckets = decode_buckets(&top, root)?;

    let mut shared = HashMap::new();
    if let Some(queries) = root.get("queries").filter(|v| !v.is_null()) {
        let map = queries
            .as_mapping()
            .ok_or_else(|| top.error("queries", "expected a table of named SQL queries"))?;
        for (name, sql) in map {
            let name = name.as_str().unwrap_or_default().to_owned();
            let place = top.nested(format!("queries.{name}"));
            let sql = sql
                .as_str()
                .ok_or_else(|| place.error("", "expected the SQL text of the query"))?;
            shared.insert(name, expand_placeholders(sql, lookup));
        }
    }

    let jobs = match root.get("jobs") {
        Some(Value::Sequence(jobs)) if !jobs.is_empty() => jobs,
        Some(Value::Sequence(_)) | None | Some(Value::Null) => {
            return Err(top.error("jobs", "missing; the file defines no job"))
        }
        Some(_) => return Err(top.error("jobs", "expected a list of jobs")),
    };
    let mut decoded = Vec::new();
    for (index, job) in jobs.iter().enumerate() {
        decoded.push(decode_job(&top, index, job, &shared)?);
    }
    check_names(&top, &decoded)?;
    Ok(Config {
        jobs: decoded,
        histogram_buckets,
    })
}

fn decode_buckets(top: &Place, root: &Mapping) -> Result<Vec<f64>, ConfigError> {
    let Some(section) = root.get("configuration").filter(|v| !v.is_null()) else {
        return Ok(DEFAULT_BUCKETS.to_vec());
    };
    let place = top.nested("configuration".to_owned());
    let map = place.table(section, CONFIGURATION_KEYS)?;
    let buckets: Vec<f64> = match map.get("histogram_buckets") {
        None | Some(Value::Null) => return Ok(DEFAULT_BUCKETS.to_vec()),
        Some(Value::Sequence(items)) => items
            .iter()
            .map(|item| item.as_f64())
            .collect::<Option<_>>()
            .ok_or_else(|| place.error("histogram_buckets", "expected a list of numbers"))?,
        Some(_) => return Err(place.error("histogram_buckets", "expected a list of numbers")),
    };
    if buckets.windows(2).any(|pair| pair[0] >= pair[1]) {
        return Err(place.error("histogram_buckets", "bounds must increase strictly"));
    }
    Ok(buckets)
}

fn decode_job(
    top: &Place,
    index: usize,
    value: &Value,
    shared: &HashMap<String, String>,
) -> Result<Job, ConfigError> {
    let unnamed = top.nested(format!("job {}", index + 1));
    let name = match value.as_mapping() {
        Some(map) => unnamed.required_string(map, "name")?,
        None => return Err(unnamed.error("", "expected a table of keys")),
    };
    let place = top.nested(format!("job {name:?}"));
    let map = place.table(value, JOB_KEYS)?;

    let interval = place.duration(map, "interval")?;
    let schedule = match (place.string(map, "cron_schedule")?, interval) {
        (Some(cron), _) => {
            Schedule::cron(&cron).map_err(|message| place.error("cron_schedule", message))?
        }
        (None, Some(interval)) => Schedule::Interval(interval),
        (None, None) => {
            return Err(place.error(
                "interval",
                "missing; set interval (such as \"1h\") or cron_schedule",
            ))
        }
    };
    let query_timeout = match place.duration(map, "query_timeout")? {
        Some(timeout) => timeout,
        None => schedule
            .period()
            .unwrap_or(MAX_DEFAULT_TIMEOUT)
            .min(MAX_DEFAULT_TIMEOUT),
    };

    let connections = place.strings(map, "connections")?;
    if connections.is_empty() {
        return Err(place.error("connections", "missing; list at least one connection URL"));
    }
    for (i, url) in connections.iter().enumerate() {
        crate::dsn::Target::parse(url)
            .map_err(|e| place.error("connections", format!("connection {}: {e}", i + 1)))?;
    }

    let iterator = decode_iterator(&place, map)?;
    let queries = match map.get("queries") {
        Some(Value::Sequence(items)) if !items.is_empty() => items,
        Some(Value::Sequence(_)) | None | Some(Value::Null) => {
            return Err(place.error("queries", "missing; the job defines no query"))
        }
        Some(_) => return Err(place.error("queries", "expected a list of queries")),
    };
    let mut decoded = Vec::new();
    for (i, query) in queries.iter().enumerate() {
        decoded.push(decode_query(&place, i, query, shared, iterator.as_ref())?);
    }

    Ok(Job {
        name,
        schedule,
        connections,
        startup_sql: place.strings(map, "startup_sql")?,
        keepalive: place.bool(map, "keepalive")?,
        iterator,
        query_timeout,
        queries: decoded,
    })
}

fn decode_iterator(place: &Place, job: &Mapping) -> Result<Option<QueryIterator>, ConfigError> {
    let Some(value) = job.get("iterator").filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let place = place.nested("iterator".to_owned());
    let map = place.table(value, ITERATOR_KEYS)?;
    let sql = place.string(map, "sql")?.unwrap_or_default();
    let placeholder = place.string(map, "placeholder")?.unwrap_or_default();
    let label = place.string(map, "label")?.unwrap_or_default();
    if sql.is_empty() && placeholder.is_empty() && label.is_empty() {
        return Ok(None);
    }
    if sql.is_empty() {
        return Err(place.error("sql", "missing; the iterator needs a query for its values"));
    }
    if placeholder.is_empty() {
        return Err(place.error("placeholder", "missing or empty"));
    }
    if !label.is_empty() {
        check_label(&place, "label", &label)?;
    }
    Ok(Some(QueryIterator {
        sql,
        placeholder,
        label,
    }))
}

fn decode_query(
    job: &Place,
    index: usize,
    value: &Value,
    shared: &HashMap<String, String>,
    iterator: Option<&QueryIterator>,
) -> Result<Query, ConfigError> {
    let unnamed = job.nested(format!("query {}", index + 1));
    let name = match value.as_mapping() {
        Some(map) => unnamed.required_string(map, "name")?,
        None => return Err(unnamed.error("", "expected a table of keys")),
    };
    let place = job.nested(format!("query {name:?}"));
    let map = place.table(value, QUERY_KEYS)?;

    let sql = match (place.string(map, "query")?, place.string(map, "query_ref")?) {
        (Some(sql), _) if !sql.trim().is_empty() => sql,
        (_, Some(reference)) => shared.get(&reference).cloned().ok_or_else(|| {
            place.error(
                "query_ref",
                format!("no query named {reference:?} in the top-level queries table"),
            )
        })?,
        _ => return Err(place.error("query", "missing; set query or query_ref")),
    };

    let mut labels = place.strings(map, "labels")?;
    for label in &labels {
        check_label(&place, "labels", label)?;
    }
    if let Some(iterator) = iterator.filter(|it| !it.label.is_empty()) {
        labels.push(iterator.label.clone());
    }
    for (i, label) in labels.iter().enumerate() {
        if labels[..i].contains(label) {
            return Err(place.error("labels", format!("label {label:?} is listed twice")));
        }
    }

    let values = place.strings(map, "values")?;
    if values.is_empty() {
        return Err(place.error("values", "missing; list the columns to export as values"));
    }
    Ok(Query {
        metric_name: metric_name(&name),
        name,
        help: place.string(map, "help")?.unwrap_or_default(),
        labels,
        values,
        timestamp: place.string(map, "timestamp")?.filter(|t| !t.is_empty()),
        sql,
        allow_zero_rows: place.bool(map, "allow_zero_rows")?,
    })
}

fn check_label(place: &Place, key: &str, label: &str) -> Result<(), ConfigError> {
    if BUILTIN_LABELS.contains(&label) {
        return Err(place.error(
            key,
            format!(
                "label {label:?} collides with a built-in label ({}); rename the column",
                BUILTIN_LABELS.join(", ")
            ),
        ));
    }
    if !is_valid_label_name(label) {
        return Err(place.error(
            key,
            format!("label {label:?} is not a valid label name ([a-zA-Z_][a-zA-Z0-9_]*)"),
        ));
    }
    Ok(())
}

/// Rejects a metric name that two queries define with different HELP texts or label names,
/// because one exposition cannot carry both.
fn check_names(top: &Place, jobs: &[Job]) -> Result<(), ConfigError> {
    let mut seen: HashMap<&str, (&Job, &Query)> = HashMap::new();
    for job in jobs {
        for query in &job.queries {
            let Some((first_job, first)) = seen.get(query.metric_name.as_str()) else {
                seen.insert(&query.metric_name, (job, query));
                continue;
            };
            let place = top.nested(format!("job {:?}, query {:?}", job.name, query.name));
            let other = format!(
                "job {:?}, query {:?} defines {} with",
                first_job.name, first.name, query.metric_name
            );
            if first.help != query.help {
                return Err(place.error("help", format!("{other} another HELP text")));
            }
            let mut mine = query.labels.clone();
            let mut theirs = first.labels.clone();
            mine.sort();
            theirs.sort();
            if mine != theirs {
                return Err(place.error("labels", format!("{other} other labels")));
            }
        }
    }
    Ok(())
}
