//! Encoders for the Prometheus text format 0.0.4 and OpenMetrics 1.0.0.
//!
//! Both formats are specified in the Prometheus documentation ("Exposition formats") and the
//! OpenMetrics specification. Numbers are written as Go's `strconv.FormatFloat(v, 'g', -1, 64)`
//! writes them, so that our output reads like the Go exporters' output.

use std::fmt::Write as _;

use crate::metric::{LabelName, MetricFamily, MetricType, Sample, Value};

/// Content type of the text format 0.0.4.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
/// Content type of OpenMetrics 1.0.0.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Exposition format of a response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    OpenMetrics,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => TEXT_CONTENT_TYPE,
            Format::OpenMetrics => OPENMETRICS_CONTENT_TYPE,
        }
    }
}

/// Picks the format for an `Accept` header. OpenMetrics is chosen only when it is enabled and the
/// client lists `application/openmetrics-text` with a quality above zero. Everything else gets the
/// text format, as from client_golang without OpenMetrics enabled.
pub fn negotiate(accept: Option<&str>, openmetrics_enabled: bool) -> Format {
    let Some(accept) = accept else {
        return Format::Text;
    };
    if !openmetrics_enabled {
        return Format::Text;
    }
    for part in accept.split(',') {
        let mut params = part.split(';').map(str::trim);
        let media = params.next().unwrap_or_default();
        if !media.eq_ignore_ascii_case("application/openmetrics-text") {
            continue;
        }
        let quality_zero = params.any(|p| {
            p.strip_prefix("q=")
                .and_then(|q| q.parse::<f64>().ok())
                .is_some_and(|q| q <= 0.0)
        });
        if !quality_zero {
            return Format::OpenMetrics;
        }
    }
    Format::Text
}

/// Encodes finished families (see [`crate::sink::finish`]) in `format`.
pub fn encode(families: &[MetricFamily], format: Format) -> String {
    let mut out = String::with_capacity(estimate_size(families));
    match format {
        Format::Text => encode_text(families, &mut out),
        Format::OpenMetrics => encode_openmetrics(families, &mut out),
    }
    out
}

fn estimate_size(families: &[MetricFamily]) -> usize {
    families
        .iter()
        .map(|f| 64 + f.help.len() + f.samples.len() * (f.name.len() + 48))
        .sum()
}

/// Writes the text format 0.0.4.
pub fn encode_text(families: &[MetricFamily], out: &mut String) {
    for family in families {
        out.push_str("# HELP ");
        out.push_str(&family.name);
        out.push(' ');
        escape_help(&family.help, out);
        out.push_str("\n# TYPE ");
        out.push_str(&family.name);
        out.push(' ');
        out.push_str(family.kind.as_text());
        out.push('\n');
        for sample in &family.samples {
            write_sample(out, &family.name, sample, Format::Text);
        }
    }
}

/// Writes OpenMetrics 1.0.0: counters get the `_total` suffix on their samples and lose it in the
/// metadata, untyped families become `unknown`, and the output ends with `# EOF`.
pub fn encode_openmetrics(families: &[MetricFamily], out: &mut String) {
    for family in families {
        let base = match family.kind {
            MetricType::Counter => family.name.strip_suffix("_total").unwrap_or(&family.name),
            _ => &family.name,
        };
        out.push_str("# HELP ");
        out.push_str(base);
        out.push(' ');
        escape_openmetrics_help(&family.help, out);
        out.push_str("\n# TYPE ");
        out.push_str(base);
        out.push(' ');
        out.push_str(family.kind.as_openmetrics());
        out.push('\n');
        let sample_name = match family.kind {
            MetricType::Counter => format!("{base}_total"),
            _ => family.name.to_string(),
        };
        for sample in &family.samples {
            write_sample(out, &sample_name, sample, Format::OpenMetrics);
        }
    }
    out.push_str("# EOF\n");
}

fn write_sample(out: &mut String, name: &str, sample: &Sample, format: Format) {
    match &sample.value {
        Value::Number(v) => {
            write_line(
                out,
                name,
                "",
                &sample.labels,
                None,
                *v,
                sample.timestamp_ms,
                format,
            );
        }
        Value::Histogram(h) => {
            for (bound, count) in &h.buckets {
                write_line(
                    out,
                    name,
                    "_bucket",
                    &sample.labels,
                    Some(("le", *bound)),
                    *count,
                    sample.timestamp_ms,
                    format,
                );
            }
            write_line(
                out,
                name,
                "_bucket",
                &sample.labels,
                Some(("le", f64::INFINITY)),
                h.count,
                sample.timestamp_ms,
                format,
            );
            write_line(
                out,
                name,
                "_sum",
                &sample.labels,
                None,
                h.sum,
                sample.timestamp_ms,
                format,
            );
            write_line(
                out,
                name,
                "_count",
                &sample.labels,
                None,
                h.count,
                sample.timestamp_ms,
                format,
            );
        }
        Value::Summary(s) => {
            for (quantile, value) in &s.quantiles {
                write_line(
                    out,
                    name,
                    "",
                    &sample.labels,
                    Some(("quantile", *quantile)),
                    *value,
                    sample.timestamp_ms,
                    format,
                );
            }
            write_line(
                out,
                name,
                "_sum",
                &sample.labels,
                None,
                s.sum,
                sample.timestamp_ms,
                format,
            );
            write_line(
                out,
                name,
                "_count",
                &sample.labels,
                None,
                s.count,
                sample.timestamp_ms,
                format,
            );
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn write_line(
    out: &mut String,
    name: &str,
    suffix: &str,
    labels: &[(LabelName, String)],
    extra: Option<(&str, f64)>,
    value: f64,
    timestamp_ms: Option<i64>,
    format: Format,
) {
    out.push_str(name);
    out.push_str(suffix);
    if !labels.is_empty() || extra.is_some() {
        out.push('{');
        let mut first = true;
        for (label, label_value) in labels {
            if !first {
                out.push(',');
            }
            first = false;
            out.push_str(label);
            out.push_str("=\"");
            escape_label_value(label_value, out);
            out.push('"');
        }
        if let Some((label, bound)) = extra {
            if !first {
                out.push(',');
            }
            out.push_str(label);
            out.push_str("=\"");
            write_float(out, bound);
            out.push('"');
        }
        out.push('}');
    }
    out.push(' ');
    write_float(out, value);
    if let Some(ts) = timestamp_ms {
        out.push(' ');
        match format {
            Format::Text => {
                let _ = write!(out, "{ts}");
            }
            Format::OpenMetrics => {
                let _ = write!(out, "{}.{:03}", ts.div_euclid(1000), ts.rem_euclid(1000));
            }
        }
    }
    out.push('\n');
}

/// Escapes a HELP text of the text format: backslash and line feed.
fn escape_help(help: &str, out: &mut String) {
    for c in help.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Escapes a HELP text of OpenMetrics, which also escapes the double quote.
fn escape_openmetrics_help(help: &str, out: &mut String) {
    escape_label_value(help, out);
}

/// Escapes a label value: backslash, double quote and line feed.
pub fn escape_label_value(value: &str, out: &mut String) {
    if !value.contains(['\\', '"', '\n']) {
        out.push_str(value);
        return;
    }
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Writes `value` as Go's `strconv.FormatFloat(value, 'g', -1, 64)` does, which client_golang
/// uses. That is the shortest digits that read back to the same number, in exponent form when the
/// decimal exponent is below -4 or at least 6 (`1.6706508e+10`). The special values are `+Inf`,
/// `-Inf` and `NaN`.
pub fn write_float(out: &mut String, value: f64) {
    if value.is_nan() {
        out.push_str("NaN");
        return;
    }
    if value.is_infinite() {
        out.push_str(if value > 0.0 { "+Inf" } else { "-Inf" });
        return;
    }
    if value == 0.0 {
        out.push_str(if value.is_sign_negative() { "-0" } else { "0" });
        return;
    }
    if value == value.trunc() && value.abs() < 1e6 {
        out.push_str(itoa::Buffer::new().format(value as i64));
        return;
    }
    let mut buffer = ryu::Buffer::new();
    let shortest = buffer.format_finite(value);
    let (negative, digits, exponent) = decompose(shortest);
    if negative {
        out.push('-');
    }
    if (-4..6).contains(&exponent) {
        write_decimal(out, &digits, exponent);
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if exponent < 0 { '-' } else { '+' });
        if exponent.abs() < 10 {
            out.push('0');
        }
        out.push_str(itoa::Buffer::new().format(exponent.abs()));
    }
}

/// Splits ryu's shortest representation (`-1.5e-7`, `123.25`, `1e21`) into the sign, the
/// significant digits without leading or trailing zeros, and the decimal exponent of the first
/// digit.
fn decompose(text: &str) -> (bool, String, i32) {
    let (negative, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mantissa, exponent) = match text.split_once(['e', 'E']) {
        Some((mantissa, exponent)) => (mantissa, exponent.parse::<i32>().unwrap_or(0)),
        None => (text, 0),
    };
    let integer_len = mantissa.find('.').unwrap_or(mantissa.len()) as i32;
    let all: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let leading = all.len() - all.trim_start_matches('0').len();
    let digits = all.trim_start_matches('0').trim_end_matches('0').to_owned();
    let digits = if digits.is_empty() {
        "0".to_owned()
    } else {
        digits
    };
    (
        negative,
        digits,
        integer_len - 1 - leading as i32 + exponent,
    )
}

/// Writes digits with the first one at decimal exponent `exponent` in positional notation.
fn write_decimal(out: &mut String, digits: &str, exponent: i32) {
    if exponent < 0 {
        out.push_str("0.");
        for _ in 0..(-exponent - 1) {
            out.push('0');
        }
        out.push_str(digits);
        return;
    }
    let integer_len = exponent as usize + 1;
    if digits.len() <= integer_len {
        out.push_str(digits);
        for _ in digits.len()..integer_len {
            out.push('0');
        }
    } else {
        out.push_str(&digits[..integer_len]);
        out.push('.');
        out.push_str(&digits[integer_len..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metric::{Histogram, MetricFamily};
    use std::borrow::Cow;

    fn float(v: f64) -> String {
        let mut s = String::new();
        write_float(&mut s, v);
        s
    }

    #[test]
    fn floats_read_like_go() {
        assert_eq!(float(0.0), "0");
        assert_eq!(float(-0.0), "-0");
        assert_eq!(float(42.0), "42");
        assert_eq!(float(0.25), "0.25");
        assert_eq!(float(1.5e-7), "1.5e-07");
        assert_eq!(float(999999.0), "999999");
        assert_eq!(float(1e6), "1e+06");
        assert_eq!(float(16706508000.0), "1.6706508e+10");
        assert_eq!(float(123456.789), "123456.789");
        assert_eq!(float(1234567.5), "1.2345675e+06");
        assert_eq!(float(0.0001), "0.0001");
        assert_eq!(float(0.00001), "1e-05");
        assert_eq!(float(-2.5e-300), "-2.5e-300");
        assert_eq!(float(1.7976931348623157e308), "1.7976931348623157e+308");
        assert_eq!(float(18446744073709551615.0), "1.8446744073709552e+19");
        assert_eq!(float(-1234.5), "-1234.5");
        assert_eq!(float(100000.5), "100000.5");
        assert_eq!(float(f64::NAN), "NaN");
        assert_eq!(float(f64::INFINITY), "+Inf");
        assert_eq!(float(f64::NEG_INFINITY), "-Inf");
    }

    #[test]
    fn label_values_and_help_are_escaped() {
        let mut family = MetricFamily::new("x", "a \\ b\nc \"d\"", MetricType::Gauge);
        family.samples.push(Sample {
            labels: vec![(Cow::Borrowed("l"), "q\"\\\n".to_owned())],
            value: Value::Number(1.0),
            timestamp_ms: None,
        });
        let text = encode(&[family], Format::Text);
        assert_eq!(
            text,
            "# HELP x a \\\\ b\\nc \"d\"\n# TYPE x gauge\nx{l=\"q\\\"\\\\\\n\"} 1\n"
        );
    }

    #[test]
    fn openmetrics_renames_counters_and_ends_with_eof() {
        let mut family = MetricFamily::new("pg_archived_count", "Archived.", MetricType::Counter);
        family.samples.push(Sample {
            labels: vec![],
            value: Value::Number(3.0),
            timestamp_ms: None,
        });
        let text = encode(&[family], Format::OpenMetrics);
        assert!(text.contains("# TYPE pg_archived_count counter\n"));
        assert!(text.contains("\npg_archived_count_total 3\n"));
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn histogram_expands_to_buckets_sum_and_count() {
        let mut family = MetricFamily::new("d", "D.", MetricType::Histogram);
        family.samples.push(Sample {
            labels: vec![(Cow::Borrowed("q"), "a".to_owned())],
            value: Value::Histogram(Histogram {
                buckets: vec![(0.1, 1.0), (1.0, 2.0)],
                sum: 1.5,
                count: 3.0,
            }),
            timestamp_ms: None,
        });
        let text = encode(&[family], Format::Text);
        let expected = "d_bucket{q=\"a\",le=\"0.1\"} 1\nd_bucket{q=\"a\",le=\"1\"} 2\n\
                        d_bucket{q=\"a\",le=\"+Inf\"} 3\nd_sum{q=\"a\"} 1.5\nd_count{q=\"a\"} 3\n";
        assert!(text.ends_with(expected), "{text}");
    }

    #[test]
    fn negotiation_prefers_text_unless_enabled() {
        let prometheus = "application/openmetrics-text;version=1.0.0;q=0.5,\
                          application/openmetrics-text;version=0.0.1;q=0.4,\
                          text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
        assert_eq!(negotiate(Some(prometheus), false), Format::Text);
        assert_eq!(negotiate(Some(prometheus), true), Format::OpenMetrics);
        assert_eq!(negotiate(Some("text/plain"), true), Format::Text);
        assert_eq!(
            negotiate(Some("application/openmetrics-text;q=0"), true),
            Format::Text
        );
        assert_eq!(negotiate(None, true), Format::Text);
    }
}
