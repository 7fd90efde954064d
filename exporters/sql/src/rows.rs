//! Conversion of result rows into samples of `sql_<query name>`: one gauge sample per value
//! column, labelled with the label columns, the connection's `driver`, `host`, `database` and
//! `user`, the value column in `col`, and the job in `sql_job`.

use std::collections::HashSet;

use exporter_core::metric::{LabelName, Sample, Value};

use crate::config::Query;
use crate::driver::{Cell, ResultSet};
use crate::dsn::Target;

/// The samples of one query run and the problems found in its rows.
#[derive(Debug, Default)]
pub struct Converted {
    pub samples: Vec<Sample>,
    /// Rows that gave at least one sample.
    pub rows: usize,
    /// One message per rejected value or duplicate sample.
    pub errors: Vec<String>,
    /// Label sets already used, to find rows that repeat one.
    seen: HashSet<Vec<String>>,
}

/// An iterator value and the label that carries it.
#[derive(Clone, Copy, Debug)]
pub struct Iteration<'a> {
    pub label: &'a str,
    pub value: &'a str,
}

impl Converted {
    /// Adds the samples of every row of `result`.
    pub fn add_rows(
        &mut self,
        query: &Query,
        target: &Target,
        job: &str,
        result: &ResultSet,
        iteration: Option<Iteration>,
    ) {
        for (index, row) in result.rows.iter().enumerate() {
            let before = self.samples.len();
            if let Err(message) = self.add_row(query, target, job, result, row, iteration) {
                self.errors.push(format!("row {}: {message}", index + 1));
            }
            if self.samples.len() > before {
                self.rows += 1;
            }
        }
    }

    fn add_row(
        &mut self,
        query: &Query,
        target: &Target,
        job: &str,
        result: &ResultSet,
        row: &[Cell],
        iteration: Option<Iteration>,
    ) -> Result<(), String> {
        let mut label_values = Vec::with_capacity(query.labels.len() + 6);
        for label in &query.labels {
            label_values.push(label_value(result, row, label, iteration)?);
        }
        label_values.extend([
            target.driver.clone(),
            target.host.clone(),
            target.database.clone(),
            target.user.clone(),
        ]);
        let timestamp_ms =
            query
                .timestamp
                .as_deref()
                .and_then(|column| match result.get(row, column) {
                    Some(Cell::Time(ms)) => Some(*ms),
                    _ => None,
                });
        for column in &query.values {
            let value = match number(result, row, column) {
                Ok(value) => value,
                Err(message) => {
                    self.errors.push(message);
                    continue;
                }
            };
            let mut key = label_values.clone();
            key.push(column.clone());
            if !self.seen.insert(key.clone()) {
                self.errors.push(format!(
                    "column {column:?} repeats the label values of an earlier row; dropped"
                ));
                continue;
            }
            self.samples
                .push(sample(query, job, key, value, timestamp_ms));
        }
        Ok(())
    }
}

fn sample(query: &Query, job: &str, values: Vec<String>, value: f64, ts: Option<i64>) -> Sample {
    let names = query
        .labels
        .iter()
        .map(|l| LabelName::Owned(l.clone()))
        .chain(
            ["driver", "host", "database", "user", "col"]
                .into_iter()
                .map(LabelName::Borrowed),
        );
    let mut labels: Vec<(LabelName, String)> = names.zip(values).collect();
    labels.push((LabelName::Borrowed("sql_job"), job.to_owned()));
    Sample {
        labels,
        value: Value::Number(value),
        timestamp_ms: ts,
    }
}

/// Returns the value of a label column: text as it is, empty when the result lacks the column,
/// and an error for other types, as justwatchcom does.
fn label_value(
    result: &ResultSet,
    row: &[Cell],
    label: &str,
    iteration: Option<Iteration>,
) -> Result<String, String> {
    if let Some(it) = iteration.filter(|it| it.label == label && !it.value.is_empty()) {
        return Ok(it.value.to_owned());
    }
    match result.get(row, label) {
        None => Ok(String::new()),
        Some(Cell::Text(text)) => Ok(text.clone()),
        Some(cell) => Err(format!(
            "label column {label:?} must be text, is {}",
            describe(cell)
        )),
    }
}

/// Returns the value of a value column. A missing column or NULL is an error, where
/// justwatchcom would export 0.
fn number(result: &ResultSet, row: &[Cell], column: &str) -> Result<f64, String> {
    match result.get(row, column) {
        None => Err(format!("value column {column:?} is not in the result")),
        Some(Cell::Int(i)) => Ok(*i as f64),
        Some(Cell::Float(f)) => Ok(*f),
        Some(Cell::Text(text)) => text
            .trim()
            .parse()
            .map_err(|_| format!("value column {column:?} must be a number, is text {text:?}")),
        Some(cell) => Err(format!(
            "value column {column:?} must be a number, is {}",
            describe(cell)
        )),
    }
}

fn describe(cell: &Cell) -> String {
    match cell {
        Cell::Null => "NULL".to_owned(),
        Cell::Int(_) => "an integer".to_owned(),
        Cell::Float(_) => "a float".to_owned(),
        Cell::Text(_) => "text".to_owned(),
        Cell::Time(_) => "a date or time".to_owned(),
        Cell::Other(kind) => format!("of type {kind}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(labels: &[&str], values: &[&str]) -> Query {
        Query {
            name: "q".into(),
            metric_name: "sql_q".into(),
            help: String::new(),
            labels: labels.iter().map(|s| s.to_string()).collect(),
            values: values.iter().map(|s| s.to_string()).collect(),
            timestamp: None,
            sql: "select 1".into(),
            allow_zero_rows: false,
        }
    }

    fn result(columns: &[&str], rows: Vec<Vec<Cell>>) -> ResultSet {
        let mut set = ResultSet::new(columns.iter().map(|s| s.to_string()));
        set.rows = rows;
        set
    }

    fn target() -> Target {
        Target::parse("postgres://u@h:5432/db").unwrap()
    }

    #[test]
    fn row_becomes_labelled_sample() {
        let set = result(
            &["name", "amount"],
            vec![vec![Cell::Text("a".into()), Cell::Text("12.5".into())]],
        );
        let mut out = Converted::default();
        out.add_rows(&query(&["name"], &["amount"]), &target(), "j", &set, None);
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        assert_eq!(out.rows, 1);
        let sample = &out.samples[0];
        assert_eq!(sample.value, Value::Number(12.5));
        let labels: Vec<(&str, &str)> = sample
            .labels
            .iter()
            .map(|(k, v)| (k.as_ref(), v.as_str()))
            .collect();
        assert_eq!(
            labels,
            [
                ("name", "a"),
                ("driver", "postgres"),
                ("host", "h:5432"),
                ("database", "db"),
                ("user", "u"),
                ("col", "amount"),
                ("sql_job", "j")
            ]
        );
    }

    #[test]
    fn null_and_missing_values_fail() {
        let set = result(&["a"], vec![vec![Cell::Null]]);
        let mut out = Converted::default();
        out.add_rows(&query(&[], &["a", "b"]), &target(), "j", &set, None);
        assert!(out.samples.is_empty());
        assert_eq!(out.rows, 0);
        assert_eq!(out.errors.len(), 2, "{:?}", out.errors);
    }

    #[test]
    fn duplicate_label_values_are_dropped() {
        let row = vec![Cell::Text("x".into()), Cell::Int(1)];
        let set = result(&["name", "v"], vec![row.clone(), row]);
        let mut out = Converted::default();
        out.add_rows(&query(&["name"], &["v"]), &target(), "j", &set, None);
        assert_eq!(out.samples.len(), 1);
        assert_eq!(out.errors.len(), 1);
    }

    #[test]
    fn integer_label_is_rejected() {
        let set = result(&["n", "v"], vec![vec![Cell::Int(3), Cell::Int(1)]]);
        let mut out = Converted::default();
        out.add_rows(&query(&["n"], &["v"]), &target(), "j", &set, None);
        assert!(out.samples.is_empty());
        assert_eq!(out.errors.len(), 1);
    }
}
