//! Query namespaces: a query whose columns map to labels and metrics by a table of column
//! usages. This is how postgres_exporter reads `pg_stat_database_conflicts` and the queries
//! of the deprecated `--extend.query-path` file (queries.yaml).
//!
//! Each metric column becomes the family `<namespace>_<column>`, with the namespace's label
//! columns as labels plus the target's constant labels. A column missing from the table
//! becomes an untyped family, as in postgres_exporter.

use std::collections::HashMap;

use exporter_core::metric::LabelName;
use exporter_core::{Histogram, MetricSink, MetricType, Value};

use crate::value::Cell;

/// Role of a column of a namespace query (`usage:` in queries.yaml).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Usage {
    Discard,
    Label,
    Counter,
    Gauge,
    /// A text value looked up in `metric_mapping`.
    MappedMetric,
    /// A Go duration text, such as `1m30s`, reported in milliseconds as `<name>_milliseconds`.
    Duration,
    /// Bucket bounds in this column, counts in `<column>_bucket`, and `<column>_sum` and
    /// `<column>_count`.
    Histogram,
}

impl Usage {
    /// Parses a usage keyword of queries.yaml.
    pub fn parse(text: &str) -> Option<Usage> {
        Some(match text {
            "DISCARD" => Usage::Discard,
            "LABEL" => Usage::Label,
            "COUNTER" => Usage::Counter,
            "GAUGE" => Usage::Gauge,
            "MAPPEDMETRIC" => Usage::MappedMetric,
            "DURATION" => Usage::Duration,
            "HISTOGRAM" => Usage::Histogram,
            _ => return None,
        })
    }
}

/// Usage, HELP text and value mapping of one column.
#[derive(Clone, Debug)]
pub struct ColumnMapping {
    pub usage: Usage,
    pub description: String,
    pub mapping: HashMap<String, f64>,
}

/// A namespace: its query and the mapping of its columns.
#[derive(Clone, Debug)]
pub struct Namespace {
    /// Family name prefix, such as `pg_stat_database_conflicts`.
    pub name: String,
    /// SQL to run; `SELECT * FROM <name>` when `None`.
    pub query: Option<String>,
    pub columns: HashMap<String, ColumnMapping>,
    /// Run only on the configured data sources, not on auto-discovered databases.
    pub master: bool,
    /// Seconds for which results are reused; 0 runs the query on every scrape.
    pub cache_seconds: u64,
    /// Run only on servers whose version matches this range (`runonserver:`).
    pub run_on_server: Option<String>,
}

impl Namespace {
    /// Names of the label columns, in a fixed order.
    pub fn label_columns(&self) -> Vec<String> {
        let mut labels: Vec<String> = self
            .columns
            .iter()
            .filter(|(_, m)| m.usage == Usage::Label)
            .map(|(name, _)| name.clone())
            .collect();
        labels.sort();
        labels
    }

    /// Returns the SQL of the namespace.
    pub fn sql(&self) -> String {
        self.query
            .clone()
            .unwrap_or_else(|| format!("SELECT * FROM {}", self.name))
    }
}

/// A sample computed from a namespace query, kept so that cached namespaces can be replayed.
#[derive(Clone, Debug)]
pub struct NamespaceSample {
    pub name: String,
    pub help: String,
    pub kind: MetricType,
    pub labels: Vec<(LabelName, String)>,
    pub value: Value,
}

impl NamespaceSample {
    pub fn add_to(&self, sink: &mut MetricSink) {
        sink.add_dynamic(
            self.name.clone(),
            self.help.clone(),
            self.kind,
            self.labels.clone(),
            self.value.clone(),
            None,
        );
    }
}

/// Converts the rows of a namespace query into samples. Returns the samples and a message for
/// each value that could not be converted; those values are left out.
pub fn convert_rows(
    namespace: &Namespace,
    prefixed_name: &str,
    columns: &[String],
    rows: &[Vec<Cell>],
    extra_labels: &[(String, String)],
) -> (Vec<NamespaceSample>, Vec<String>) {
    let label_columns = namespace.label_columns();
    let index: HashMap<&str, usize> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| (c.as_str(), i))
        .collect();
    let mut samples = Vec::new();
    let mut problems = Vec::new();
    for row in rows {
        let mut labels: Vec<(LabelName, String)> = label_columns
            .iter()
            .map(|name| {
                let value = index
                    .get(name.as_str())
                    .map_or(String::new(), |&i| row[i].label());
                (LabelName::Owned(name.clone()), value)
            })
            .collect();
        labels.extend(
            extra_labels
                .iter()
                .map(|(k, v)| (LabelName::Owned(k.clone()), v.clone())),
        );
        for (i, column) in columns.iter().enumerate() {
            let family = format!("{prefixed_name}_{column}");
            match convert_column(namespace, column, family, &index, row, i) {
                Converted::Skip => {}
                Converted::Sample(name, help, kind, value) => samples.push(NamespaceSample {
                    name,
                    help,
                    kind,
                    labels: labels.clone(),
                    value,
                }),
                Converted::Problem(problem) => problems.push(problem),
            }
        }
    }
    (samples, problems)
}

/// Outcome of converting one column of one row.
enum Converted {
    /// The column is a label, discarded, or a part of a histogram read with its base column.
    Skip,
    /// Family name, HELP text, type and value.
    Sample(String, String, MetricType, Value),
    Problem(String),
}

fn convert_column(
    namespace: &Namespace,
    column: &str,
    family: String,
    index: &HashMap<&str, usize>,
    row: &[Cell],
    i: usize,
) -> Converted {
    let cell = &row[i];
    let Some(mapping) = namespace.columns.get(column) else {
        if is_histogram_part(namespace, column) {
            return Converted::Skip;
        }
        return match value_or_nan(cell) {
            Some(v) => Converted::Sample(
                family,
                format!("Column {column} of {} without a mapping.", namespace.name),
                MetricType::Untyped,
                Value::Number(v),
            ),
            None => Converted::Problem(format!(
                "{}: column {column} is not numeric",
                namespace.name
            )),
        };
    };
    let help = mapping.description.clone();
    let converted = match mapping.usage {
        Usage::Discard | Usage::Label => return Converted::Skip,
        Usage::Counter => {
            value_or_nan(cell).map(|v| (family, MetricType::Counter, Value::Number(v)))
        }
        Usage::Gauge => value_or_nan(cell).map(|v| (family, MetricType::Gauge, Value::Number(v))),
        Usage::MappedMetric => mapping
            .mapping
            .get(&cell.label())
            .map(|v| (family, MetricType::Gauge, Value::Number(*v))),
        Usage::Duration => duration_milliseconds(cell).map(|v| {
            (
                format!("{family}_milliseconds"),
                MetricType::Gauge,
                Value::Number(v),
            )
        }),
        Usage::Histogram => histogram(column, index, row)
            .map(|h| (family, MetricType::Histogram, Value::Histogram(h))),
    };
    match converted {
        Some((name, kind, value)) => Converted::Sample(name, help, kind, value),
        None => Converted::Problem(format!(
            "{}: value {cell:?} of column {column} cannot be converted",
            namespace.name
        )),
    }
}

/// Reports whether `column` is the `_bucket`, `_sum` or `_count` column of a histogram column.
fn is_histogram_part(namespace: &Namespace, column: &str) -> bool {
    ["_bucket", "_sum", "_count"].iter().any(|suffix| {
        column.strip_suffix(suffix).is_some_and(|base| {
            namespace
                .columns
                .get(base)
                .is_some_and(|m| m.usage == Usage::Histogram)
        })
    })
}

/// Returns the value as a number, NULL as NaN (as postgres_exporter does for these queries), or
/// `None` for a value without a numeric form.
fn value_or_nan(cell: &Cell) -> Option<f64> {
    if cell.is_null() {
        return Some(f64::NAN);
    }
    cell.number()
}

/// Parses a Go duration text into milliseconds; `-1` means "not set" and yields `None`.
fn duration_milliseconds(cell: &Cell) -> Option<f64> {
    let text = cell.label();
    if text == "-1" {
        return None;
    }
    let duration = exporter_core::cli::parse_duration(&text).ok()?;
    Some((duration.as_secs_f64() * 1000.0).floor())
}

/// Builds a histogram from a column of bucket bounds and its `_bucket`, `_sum` and `_count`
/// columns. [`Cell`] carries numeric arrays in their text form (`{1,2,5}`).
fn histogram(column: &str, index: &HashMap<&str, usize>, row: &[Cell]) -> Option<Histogram> {
    let get = |suffix: &str| {
        index
            .get(format!("{column}{suffix}").as_str())
            .map(|&i| &row[i])
    };
    let bounds = parse_array(&row[*index.get(column)?].label())?;
    let counts = parse_array(&get("_bucket")?.label())?;
    let sum = get("_sum")?.number()?;
    let count = get("_count")?.number()?;
    Some(Histogram {
        buckets: bounds.into_iter().zip(counts).collect(),
        sum,
        count,
    })
}

/// Parses the text form of a one-dimensional numeric array, such as `{1,2.5,5}`.
fn parse_array(text: &str) -> Option<Vec<f64>> {
    let inner = text.trim().strip_prefix('{')?.strip_suffix('}')?;
    if inner.is_empty() {
        return Some(Vec::new());
    }
    inner.split(',').map(|v| v.trim().parse().ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping(usage: Usage) -> ColumnMapping {
        ColumnMapping {
            usage,
            description: "Test column.".to_owned(),
            mapping: HashMap::new(),
        }
    }

    fn namespace() -> Namespace {
        let mut columns = HashMap::new();
        columns.insert("datname".to_owned(), mapping(Usage::Label));
        columns.insert("hits".to_owned(), mapping(Usage::Counter));
        columns.insert("skip".to_owned(), mapping(Usage::Discard));
        Namespace {
            name: "pg_test".to_owned(),
            query: None,
            columns,
            master: true,
            cache_seconds: 0,
            run_on_server: None,
        }
    }

    #[test]
    fn rows_become_labelled_samples() {
        let columns = ["datname", "hits", "skip", "extra"]
            .map(str::to_owned)
            .to_vec();
        let rows = vec![vec![
            Cell::Text("db1".into()),
            Cell::Number(5.0),
            Cell::Number(1.0),
            Cell::Null,
        ]];
        let extra = [("server".to_owned(), "h:5432".to_owned())];
        let (samples, problems) = convert_rows(&namespace(), "pg_test", &columns, &rows, &extra);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(samples.len(), 2);
        assert_eq!(samples[0].name, "pg_test_hits");
        assert_eq!(samples[0].kind, MetricType::Counter);
        assert_eq!(samples[0].labels.len(), 2);
        assert_eq!(samples[1].name, "pg_test_extra");
        assert_eq!(samples[1].kind, MetricType::Untyped);
        assert!(matches!(samples[1].value, Value::Number(v) if v.is_nan()));
    }

    #[test]
    fn text_in_a_counter_is_a_problem() {
        let columns = ["hits"].map(str::to_owned).to_vec();
        let rows = vec![vec![Cell::Text("many".into())]];
        let (samples, problems) = convert_rows(&namespace(), "pg_test", &columns, &rows, &[]);
        assert!(samples.is_empty());
        assert_eq!(problems.len(), 1);
    }

    #[test]
    fn histogram_duration_and_mapped_columns_convert() {
        let mut ns = namespace();
        ns.columns
            .insert("wait".to_owned(), mapping(Usage::Histogram));
        ns.columns
            .insert("age".to_owned(), mapping(Usage::Duration));
        let mut state = mapping(Usage::MappedMetric);
        state.mapping.insert("up".to_owned(), 1.0);
        ns.columns.insert("state".to_owned(), state);
        let columns = [
            "wait",
            "wait_bucket",
            "wait_sum",
            "wait_count",
            "age",
            "state",
        ]
        .map(str::to_owned)
        .to_vec();
        let rows = vec![vec![
            Cell::Text("{1,5}".into()),
            Cell::Text("{2,3}".into()),
            Cell::Number(7.5),
            Cell::Number(4.0),
            Cell::Text("1m30s".into()),
            Cell::Text("up".into()),
        ]];

        let (samples, problems) = convert_rows(&ns, "pg_test", &columns, &rows, &[]);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(samples.len(), 3);

        let Value::Histogram(histogram) = &samples[0].value else {
            panic!("not a histogram: {:?}", samples[0]);
        };
        assert_eq!(histogram.buckets, vec![(1.0, 2.0), (5.0, 3.0)]);
        assert_eq!(histogram.count, 4.0);
        assert_eq!(samples[1].name, "pg_test_age_milliseconds");
        assert_eq!(samples[1].value, Value::Number(90000.0));
        assert_eq!(samples[2].value, Value::Number(1.0));
    }

    #[test]
    fn arrays_parse() {
        assert_eq!(parse_array("{1,2.5,5}"), Some(vec![1.0, 2.5, 5.0]));
        assert_eq!(parse_array("{}"), Some(vec![]));
        assert_eq!(parse_array("1,2"), None);
    }
}
