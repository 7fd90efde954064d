//! Parser of the Prometheus text exposition format 0.0.4, as written into the files that the
//! textfile collector reads. Samples of a summary or histogram (`_sum`, `_count`, `_bucket`,
//! the `quantile` and `le` labels) are grouped into one value per label set.

use std::collections::HashMap;

use exporter_core::metric::{is_valid_label_name, is_valid_metric_name};
use exporter_core::{Histogram, MetricType, Summary, Value};

/// Error of a text exposition, with the 1-based line number.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("line {line}: {message}")]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

/// One metric of a family: its labels (in file order) and its value.
#[derive(Debug, PartialEq)]
pub struct Metric {
    pub labels: Vec<(String, String)>,
    pub value: Value,
    pub timestamp_ms: Option<i64>,
}

/// A family as parsed: an empty HELP line counts as no HELP.
#[derive(Debug, PartialEq)]
pub struct Family {
    pub name: String,
    pub help: Option<String>,
    pub kind: MetricType,
    pub metrics: Vec<Metric>,
}

/// A sample line before grouping.
struct Line {
    name: String,
    labels: Vec<(String, String)>,
    value: f64,
    timestamp_ms: Option<i64>,
}

#[derive(Default)]
struct Builder {
    help: Option<String>,
    kind: Option<MetricType>,
    has_samples: bool,
    lines: Vec<Line>,
}

/// Parses a whole exposition. Any malformed line fails the whole text, as client_golang's
/// parser does, so that a half-written file is never exported in part.
pub fn parse(text: &str) -> Result<Vec<Family>, ParseError> {
    let mut order: Vec<String> = Vec::new();
    let mut builders: HashMap<String, Builder> = HashMap::new();
    for (index, raw) in text.lines().enumerate() {
        let fail = |message: String| ParseError {
            line: index + 1,
            message,
        };
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            parse_comment(comment, &mut order, &mut builders).map_err(fail)?;
            continue;
        }
        let sample = parse_sample(line).map_err(fail)?;
        let family = family_of(&sample.name, &builders);
        let builder = entry(&mut order, &mut builders, &family);
        builder.has_samples = true;
        builder.lines.push(sample);
    }
    let mut families = Vec::new();
    for name in order {
        let Some(builder) = builders.remove(&name) else {
            continue;
        };
        if builder.lines.is_empty() {
            continue;
        }
        let kind = builder.kind.unwrap_or(MetricType::Untyped);
        let metrics =
            group(&name, kind, builder.lines).map_err(|message| ParseError { line: 0, message })?;
        families.push(Family {
            name,
            help: builder.help,
            kind,
            metrics,
        });
    }
    Ok(families)
}

fn entry<'a>(
    order: &mut Vec<String>,
    builders: &'a mut HashMap<String, Builder>,
    name: &str,
) -> &'a mut Builder {
    if !builders.contains_key(name) {
        order.push(name.to_owned());
    }
    builders.entry(name.to_owned()).or_default()
}

/// Returns the family a sample belongs to: `x_sum`, `x_count` and `x_bucket` belong to `x` when
/// `x` was declared a summary or histogram.
fn family_of(sample: &str, builders: &HashMap<String, Builder>) -> String {
    for suffix in ["_sum", "_count", "_bucket"] {
        if let Some(base) = sample.strip_suffix(suffix) {
            let kind = builders.get(base).and_then(|b| b.kind);
            let grouped = match kind {
                Some(MetricType::Histogram) => true,
                Some(MetricType::Summary) => suffix != "_bucket",
                _ => false,
            };
            if grouped {
                return base.to_owned();
            }
        }
    }
    sample.to_owned()
}

fn parse_comment(
    comment: &str,
    order: &mut Vec<String>,
    builders: &mut HashMap<String, Builder>,
) -> Result<(), String> {
    let comment = comment.trim_start();
    let (keyword, rest) = comment
        .split_once(char::is_whitespace)
        .unwrap_or((comment, ""));
    if keyword != "HELP" && keyword != "TYPE" {
        return Ok(());
    }

    let rest = rest.trim_start();
    let (name, argument) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    if !is_valid_metric_name(name) {
        return Err(format!("invalid metric name {name:?} in {keyword} line"));
    }
    let builder = entry(order, builders, name);
    if keyword == "HELP" {
        if builder.help.is_some() {
            return Err(format!("second HELP line for metric {name}"));
        }
        let help = unescape_help(argument.trim_start());
        builder.help = Some(help).filter(|h| !h.is_empty());
        return Ok(());
    }

    if builder.kind.is_some() {
        return Err(format!("second TYPE line for metric {name}"));
    }
    if builder.has_samples {
        return Err(format!("TYPE line for metric {name} after its samples"));
    }
    builder.kind = Some(match argument.trim() {
        "counter" => MetricType::Counter,
        "gauge" => MetricType::Gauge,
        "summary" => MetricType::Summary,
        "histogram" => MetricType::Histogram,
        "untyped" => MetricType::Untyped,
        other => return Err(format!("unknown metric type {other:?} for metric {name}")),
    });
    Ok(())
}

fn unescape_help(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match (c, c == '\\') {
            (_, true) => match chars.next() {
                Some('n') => out.push('\n'),
                Some('\\') => out.push('\\'),
                Some(other) => {
                    out.push('\\');
                    out.push(other);
                }
                None => out.push('\\'),
            },
            (c, false) => out.push(c),
        }
    }
    out
}

fn parse_sample(line: &str) -> Result<Line, String> {
    let name_end = line
        .find(|c: char| c == '{' || c.is_whitespace())
        .unwrap_or(line.len());
    let name = &line[..name_end];
    if !is_valid_metric_name(name) {
        return Err(format!("invalid metric name {name:?}"));
    }

    let mut rest = line[name_end..].trim_start();
    let mut labels = Vec::new();
    if let Some(after_brace) = rest.strip_prefix('{') {
        rest = parse_labels(after_brace, &mut labels)?;
    }

    let mut fields = rest.split_whitespace();
    let value_text = fields
        .next()
        .ok_or_else(|| format!("missing value for metric {name}"))?;
    let value = parse_float(value_text)
        .ok_or_else(|| format!("invalid value {value_text:?} for metric {name}"))?;
    let timestamp_ms = match fields.next() {
        None => None,
        Some(text) => Some(
            text.parse()
                .map_err(|_| format!("invalid timestamp {text:?} for metric {name}"))?,
        ),
    };
    if let Some(extra) = fields.next() {
        return Err(format!(
            "unexpected text {extra:?} after the sample of metric {name}"
        ));
    }
    Ok(Line {
        name: name.to_owned(),
        labels,
        value,
        timestamp_ms,
    })
}

/// Parses `name="value",...}` and returns the text after the closing brace.
fn parse_labels<'a>(
    mut text: &'a str,
    labels: &mut Vec<(String, String)>,
) -> Result<&'a str, String> {
    loop {
        text = text.trim_start();
        if let Some(rest) = text.strip_prefix('}') {
            return Ok(rest);
        }
        let (name, rest) = text.split_once('=').ok_or("label without '='")?;
        let name = name.trim();
        if !is_valid_label_name(name) || name == "__name__" {
            return Err(format!("invalid label name {name:?}"));
        }
        if labels.iter().any(|(existing, _)| existing == name) {
            return Err(format!("duplicate label name {name:?}"));
        }
        let rest = rest
            .trim_start()
            .strip_prefix('"')
            .ok_or_else(|| format!("label {name} has no quoted value"))?;
        let (value, rest) =
            parse_quoted(rest).ok_or_else(|| format!("label {name} has an unterminated value"))?;
        labels.push((name.to_owned(), value));
        text = rest.trim_start();
        if let Some(rest) = text.strip_prefix(',') {
            text = rest;
        } else if !text.starts_with('}') {
            return Err(format!("expected ',' or '}}' after label {name}"));
        }
    }
}

/// Parses a label value up to its closing quote, decoding `\\`, `\"` and `\n`.
fn parse_quoted(text: &str) -> Option<(String, &str)> {
    let mut value = String::new();
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((value, &text[i + 1..])),
            '\\' => match chars.next()?.1 {
                'n' => value.push('\n'),
                '\\' => value.push('\\'),
                '"' => value.push('"'),
                _ => return None,
            },
            c => value.push(c),
        }
    }
    None
}

/// Parses a sample value. Like Go's strconv.ParseFloat, this accepts `+Inf`, `-Inf` and `NaN`
/// in any letter case, but hexadecimal floats such as `0x1p3`, which Go also accepts, are
/// rejected.
fn parse_float(text: &str) -> Option<f64> {
    text.parse().ok()
}

/// Groups the sample lines of one family into metrics.
fn group(name: &str, kind: MetricType, lines: Vec<Line>) -> Result<Vec<Metric>, String> {
    match kind {
        MetricType::Summary => group_compound(name, lines, "quantile", summary_part),
        MetricType::Histogram => group_compound(name, lines, "le", histogram_part),
        _ => Ok(lines
            .into_iter()
            .map(|line| Metric {
                labels: line.labels,
                value: Value::Number(line.value),
                timestamp_ms: line.timestamp_ms,
            })
            .collect()),
    }
}

/// Collects the lines of a summary or histogram into one value per label set (without the
/// `quantile` or `le` label), in order of first appearance.
fn group_compound(
    name: &str,
    lines: Vec<Line>,
    bound_label: &str,
    add: fn(&mut Value, &str, Option<f64>, f64) -> Result<(), String>,
) -> Result<Vec<Metric>, String> {
    let mut metrics: Vec<Metric> = Vec::new();
    for mut line in lines {
        let suffix = line.name.strip_prefix(name).unwrap_or_default().to_owned();
        let bound = match line.labels.iter().position(|(key, _)| key == bound_label) {
            Some(i) => {
                let (_, text) = line.labels.remove(i);
                let bound = parse_float(&text).ok_or_else(|| {
                    format!("invalid {bound_label} label {text:?} of metric {name}")
                })?;
                Some(bound)
            }
            None => None,
        };
        let existing = metrics.iter().position(|m| m.labels == line.labels);
        let index = match existing {
            Some(i) => i,
            None => {
                metrics.push(Metric {
                    labels: line.labels,
                    value: empty_value(bound_label),
                    timestamp_ms: line.timestamp_ms,
                });
                metrics.len() - 1
            }
        };
        if line.timestamp_ms.is_some() {
            metrics[index].timestamp_ms = line.timestamp_ms;
        }
        add(&mut metrics[index].value, &suffix, bound, line.value)
            .map_err(|message| format!("metric {name}: {message}"))?;
    }
    Ok(metrics)
}

fn empty_value(bound_label: &str) -> Value {
    if bound_label == "le" {
        Value::Histogram(Histogram {
            buckets: Vec::new(),
            sum: 0.0,
            count: 0.0,
        })
    } else {
        Value::Summary(Summary {
            quantiles: Vec::new(),
            sum: 0.0,
            count: 0.0,
        })
    }
}

fn summary_part(
    value: &mut Value,
    suffix: &str,
    quantile: Option<f64>,
    number: f64,
) -> Result<(), String> {
    let Value::Summary(summary) = value else {
        return Err("not a summary".into());
    };
    match (suffix, quantile) {
        ("", Some(q)) => summary.quantiles.push((q, number)),
        ("", None) => return Err("summary sample without a quantile label".into()),
        ("_sum", _) => summary.sum = number,
        ("_count", _) => summary.count = number,
        (other, _) => return Err(format!("unexpected summary suffix {other:?}")),
    }
    Ok(())
}

/// Adds one line of a histogram. The `+Inf` bucket is not stored because the encoder writes it
/// from the count, but its value is used as the count when the `_count` line is missing.
fn histogram_part(
    value: &mut Value,
    suffix: &str,
    bound: Option<f64>,
    number: f64,
) -> Result<(), String> {
    let Value::Histogram(histogram) = value else {
        return Err("not a histogram".into());
    };
    match (suffix, bound) {
        ("_bucket", Some(le)) if le == f64::INFINITY => {
            if histogram.count == 0.0 {
                histogram.count = number;
            }
        }
        ("_bucket", Some(le)) => {
            histogram.buckets.push((le, number));
            histogram.buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        }
        ("_bucket", None) => return Err("histogram bucket without an le label".into()),
        ("_sum", _) => histogram.sum = number,
        ("_count", _) => histogram.count = number,
        (other, _) => return Err(format!("unexpected histogram suffix {other:?}")),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_counter_with_labels() {
        let families = parse(
            "# HELP requests_total Requests served.\n# TYPE requests_total counter\n\
             requests_total{code=\"200\", path=\"/a\\\"b\"} 5\nrequests_total 1\n",
        )
        .unwrap();
        assert_eq!(families.len(), 1);
        assert_eq!(families[0].kind, MetricType::Counter);
        assert_eq!(families[0].help.as_deref(), Some("Requests served."));
        assert_eq!(families[0].metrics.len(), 2);
        assert_eq!(
            families[0].metrics[0].labels[1],
            ("path".into(), "/a\"b".into())
        );
        assert_eq!(families[0].metrics[0].value, Value::Number(5.0));
    }

    #[test]
    fn parse_histogram_groups_buckets() {
        let families = parse(
            "# TYPE latency histogram\nlatency_bucket{le=\"0.5\"} 1\nlatency_bucket{le=\"1\"} 3\n\
             latency_bucket{le=\"+Inf\"} 4\nlatency_sum 2.5\nlatency_count 4\n",
        )
        .unwrap();
        let Value::Histogram(h) = &families[0].metrics[0].value else {
            panic!("not a histogram");
        };
        assert_eq!(h.buckets, vec![(0.5, 1.0), (1.0, 3.0)]);
        assert_eq!(h.sum, 2.5);
        assert_eq!(h.count, 4.0);
    }

    #[test]
    fn parse_summary_groups_quantiles() {
        let families = parse(
            "# TYPE rpc summary\nrpc{quantile=\"0.5\",m=\"a\"} 1\nrpc_sum{m=\"a\"} 9\nrpc_count{m=\"a\"} 3\n",
        )
        .unwrap();
        let Value::Summary(s) = &families[0].metrics[0].value else {
            panic!("not a summary");
        };
        assert_eq!(s.quantiles, vec![(0.5, 1.0)]);
        assert_eq!(s.count, 3.0);
        assert_eq!(
            families[0].metrics[0].labels,
            vec![("m".to_owned(), "a".to_owned())]
        );
    }

    #[test]
    fn parse_keeps_timestamp() {
        let families = parse("metric_with_ts 1 1441205977284\n").unwrap();
        assert_eq!(families[0].metrics[0].timestamp_ms, Some(1441205977284));
    }

    #[test]
    fn parse_rejects_malformed_lines() {
        for text in [
            "bad-name 1\n",
            "m{a=\"1\" 2\n",
            "m{a=\"1\",a=\"2\"} 2\n",
            "m one\n",
            "m 0x1p3\n",
            "m 1 2 3\n",
            "# TYPE m gauge\n# TYPE m counter\n",
            "m 1\n# TYPE m gauge\n",
            "# TYPE m kind\n",
        ] {
            assert!(parse(text).is_err(), "accepted {text:?}");
        }
    }

    #[test]
    fn parse_special_values() {
        let families = parse("a +Inf\nb -inf\nc NaN\nd 1.5e3\n").unwrap();
        assert_eq!(families[0].metrics[0].value, Value::Number(f64::INFINITY));
        assert_eq!(
            families[1].metrics[0].value,
            Value::Number(f64::NEG_INFINITY)
        );
        assert!(matches!(families[2].metrics[0].value, Value::Number(v) if v.is_nan()));
        assert_eq!(families[3].metrics[0].value, Value::Number(1500.0));
    }

    #[test]
    fn empty_help_counts_as_none() {
        let families = parse("# HELP m \n# TYPE m gauge\nm 1\n").unwrap();
        assert_eq!(families[0].help, None);
    }
}
