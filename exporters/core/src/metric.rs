//! The data model of an exposition: families of samples, each family with one name, HELP text
//! and type, as in the Prometheus text format 0.0.4 and OpenMetrics 1.0.0.

use std::borrow::Cow;

/// Type of a metric family as written on its `# TYPE` line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricType {
    Counter,
    Gauge,
    Histogram,
    Summary,
    Untyped,
}

impl MetricType {
    /// Returns the keyword of the text format 0.0.4.
    pub fn as_text(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
            MetricType::Summary => "summary",
            MetricType::Untyped => "untyped",
        }
    }

    /// Returns the keyword of OpenMetrics 1.0.0, which calls an untyped family `unknown`.
    pub fn as_openmetrics(self) -> &'static str {
        match self {
            MetricType::Untyped => "unknown",
            other => other.as_text(),
        }
    }
}

/// Descriptor of a family whose name, HELP text and label names are fixed at compile time.
///
/// Collectors declare one `const` per family and pass it with the label values of each sample,
/// so that a family's name, type and labels are written down once.
#[derive(Debug)]
pub struct Desc {
    pub name: &'static str,
    pub help: &'static str,
    pub kind: MetricType,
    pub labels: &'static [&'static str],
}

impl Desc {
    pub const fn new(
        name: &'static str,
        help: &'static str,
        kind: MetricType,
        labels: &'static [&'static str],
    ) -> Desc {
        Desc {
            name,
            help,
            kind,
            labels,
        }
    }

    pub const fn gauge(
        name: &'static str,
        help: &'static str,
        labels: &'static [&'static str],
    ) -> Desc {
        Desc::new(name, help, MetricType::Gauge, labels)
    }

    pub const fn counter(
        name: &'static str,
        help: &'static str,
        labels: &'static [&'static str],
    ) -> Desc {
        Desc::new(name, help, MetricType::Counter, labels)
    }

    pub const fn untyped(
        name: &'static str,
        help: &'static str,
        labels: &'static [&'static str],
    ) -> Desc {
        Desc::new(name, help, MetricType::Untyped, labels)
    }
}

/// Name of a label, borrowed when it comes from a [`Desc`].
pub type LabelName = Cow<'static, str>;

/// Cumulative histogram. `buckets` contains (upper bound, cumulative count) pairs in ascending
/// order of the bound. The `+Inf` bucket is not stored, because its count is `count`.
#[derive(Clone, Debug, PartialEq)]
pub struct Histogram {
    pub buckets: Vec<(f64, f64)>,
    pub sum: f64,
    pub count: f64,
}

/// Summary: (quantile, value) pairs, the sum and the count of observations.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    pub quantiles: Vec<(f64, f64)>,
    pub sum: f64,
    pub count: f64,
}

/// Value of one sample.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Number(f64),
    Histogram(Histogram),
    Summary(Summary),
}

/// One sample: its labels (pairs of name and value) and its value. Labels are sorted by name
/// when the exposition is finished, as client_golang does.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub labels: Vec<(LabelName, String)>,
    pub value: Value,
    /// Milliseconds since the Unix epoch, for samples that carry their own timestamp.
    pub timestamp_ms: Option<i64>,
}

/// A metric family: name, HELP text, type and samples.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricFamily {
    pub name: Cow<'static, str>,
    pub help: Cow<'static, str>,
    pub kind: MetricType,
    pub samples: Vec<Sample>,
}

impl MetricFamily {
    pub fn new(
        name: impl Into<Cow<'static, str>>,
        help: impl Into<Cow<'static, str>>,
        kind: MetricType,
    ) -> MetricFamily {
        MetricFamily {
            name: name.into(),
            help: help.into(),
            kind,
            samples: Vec::new(),
        }
    }
}

/// Reports whether `name` is a valid metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`).
pub fn is_valid_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':' => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Reports whether `name` is a valid label name (`[a-zA-Z_][a-zA-Z0-9_]*`).
pub fn is_valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}
