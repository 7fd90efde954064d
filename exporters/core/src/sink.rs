//! The sink that collectors write samples into, and the step that turns the samples of all
//! collectors into one sorted exposition without duplicates.

use std::borrow::Cow;
use std::collections::HashMap;

use tracing::warn;

use crate::metric::{Desc, Histogram, LabelName, MetricFamily, MetricType, Sample, Summary, Value};

/// Collects the samples of one scrape, grouped into families by name.
///
/// A sample whose family already exists with another type is dropped and logged, because one
/// exposition cannot hold a name with two types. A family keeps the HELP text it was first given.
#[derive(Default)]
pub struct MetricSink {
    families: Vec<MetricFamily>,
    index: HashMap<Cow<'static, str>, usize>,
    rejected: usize,
}

impl MetricSink {
    pub fn new() -> MetricSink {
        MetricSink::default()
    }

    /// Adds a sample of a family described by `desc`, with one value per label name of `desc`.
    pub fn add(&mut self, desc: &Desc, label_values: &[&str], value: f64) {
        self.add_value(desc, label_values, Value::Number(value), None);
    }

    /// Adds a sample with its own timestamp in milliseconds since the Unix epoch.
    pub fn add_with_timestamp(
        &mut self,
        desc: &Desc,
        label_values: &[&str],
        value: f64,
        ts_ms: i64,
    ) {
        self.add_value(desc, label_values, Value::Number(value), Some(ts_ms));
    }

    /// Adds a histogram sample; `desc` must be of type histogram.
    pub fn add_histogram(&mut self, desc: &Desc, label_values: &[&str], histogram: Histogram) {
        self.add_value(desc, label_values, Value::Histogram(histogram), None);
    }

    /// Adds a summary sample; `desc` must be of type summary.
    pub fn add_summary(&mut self, desc: &Desc, label_values: &[&str], summary: Summary) {
        self.add_value(desc, label_values, Value::Summary(summary), None);
    }

    fn add_value(&mut self, desc: &Desc, label_values: &[&str], value: Value, ts: Option<i64>) {
        if desc.labels.len() != label_values.len() {
            warn!(
                metric = desc.name,
                expected = desc.labels.len(),
                got = label_values.len(),
                "Dropped a sample whose number of label values does not match its label names"
            );
            self.rejected += 1;
            return;
        }
        let labels = desc
            .labels
            .iter()
            .zip(label_values)
            .map(|(name, value)| (Cow::Borrowed(*name), (*value).to_owned()))
            .collect();
        let sample = Sample {
            labels,
            value,
            timestamp_ms: ts,
        };
        self.push(
            Cow::Borrowed(desc.name),
            Cow::Borrowed(desc.help),
            desc.kind,
            sample,
        );
    }

    /// Adds a sample of a family whose name, HELP text or label names are known only at run
    /// time, such as a PostgreSQL setting or a query's columns.
    pub fn add_dynamic(
        &mut self,
        name: impl Into<Cow<'static, str>>,
        help: impl Into<Cow<'static, str>>,
        kind: MetricType,
        labels: Vec<(LabelName, String)>,
        value: Value,
        timestamp_ms: Option<i64>,
    ) {
        let sample = Sample {
            labels,
            value,
            timestamp_ms,
        };
        self.push(name.into(), help.into(), kind, sample);
    }

    /// Adds a whole family, merging it with a family of the same name that is already present.
    pub fn add_family(&mut self, family: MetricFamily) {
        let MetricFamily {
            name,
            help,
            kind,
            samples,
        } = family;
        match self.family_index(name, help, kind) {
            Some(i) => self.families[i].samples.extend(samples),
            None => self.rejected += samples.len(),
        }
    }

    fn push(
        &mut self,
        name: Cow<'static, str>,
        help: Cow<'static, str>,
        kind: MetricType,
        s: Sample,
    ) {
        match self.family_index(name, help, kind) {
            Some(i) => self.families[i].samples.push(s),
            None => self.rejected += 1,
        }
    }

    /// Returns the index of the family `name`, creating it if needed, or `None` when it exists
    /// with another type.
    fn family_index(
        &mut self,
        name: Cow<'static, str>,
        help: Cow<'static, str>,
        kind: MetricType,
    ) -> Option<usize> {
        if let Some(&i) = self.index.get(name.as_ref()) {
            let existing = self.families[i].kind;
            if existing != kind {
                warn!(
                    metric = %name,
                    existing = existing.as_text(),
                    rejected = kind.as_text(),
                    "Dropped samples of a family that was already collected with another type"
                );
                return None;
            }
            return Some(i);
        }
        let i = self.families.len();
        self.families
            .push(MetricFamily::new(name.clone(), help, kind));
        self.index.insert(name, i);
        Some(i)
    }

    /// Number of samples dropped so far because of a type or label count mismatch.
    pub fn rejected(&self) -> usize {
        self.rejected
    }

    /// Moves every family out of `other` into this sink.
    pub fn merge(&mut self, other: MetricSink) {
        self.rejected += other.rejected;
        for family in other.families {
            self.add_family(family);
        }
    }

    /// Returns the families in the order they were first added.
    pub fn into_families(self) -> Vec<MetricFamily> {
        self.families
    }

    /// Sorts families by name and samples by label values, and drops every sample whose name and
    /// labels repeat an earlier one, logging each drop.
    pub fn finish(self) -> Vec<MetricFamily> {
        finish(self.families)
    }
}

/// Sorts families by name, the labels of each sample by label name and the samples of a family
/// by their label values, then drops repeated samples (same family and label set) with a warning.
/// Families left without samples are removed.
pub fn finish(mut families: Vec<MetricFamily>) -> Vec<MetricFamily> {
    families.sort_by(|a, b| a.name.cmp(&b.name));
    for family in &mut families {
        for sample in &mut family.samples {
            if sample.labels.len() > 1 {
                sample.labels.sort_by(|a, b| a.0.cmp(&b.0));
            }
        }
        family
            .samples
            .sort_by(|a, b| compare_labels(&a.labels, &b.labels));
        let before = family.samples.len();
        family
            .samples
            .dedup_by(|later, earlier| later.labels == earlier.labels);
        let dropped = before - family.samples.len();
        if dropped > 0 {
            warn!(
                metric = %family.name,
                dropped,
                "Dropped samples that repeat the name and labels of another sample"
            );
        }
    }
    families.retain(|f| !f.samples.is_empty());
    families
}

fn compare_labels(a: &[(LabelName, String)], b: &[(LabelName, String)]) -> std::cmp::Ordering {
    for (x, y) in a.iter().zip(b) {
        let order = x.0.cmp(&y.0).then_with(|| x.1.cmp(&y.1));
        if order.is_ne() {
            return order;
        }
    }
    a.len().cmp(&b.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOAD: Desc = Desc::gauge("test_load", "Load.", &[]);
    const DISK: Desc = Desc::counter("test_reads_total", "Reads.", &["device"]);

    #[test]
    fn finish_sorts_families_and_samples() {
        let mut sink = MetricSink::new();
        sink.add(&DISK, &["sdb"], 2.0);
        sink.add(&LOAD, &[], 0.5);
        sink.add(&DISK, &["sda"], 1.0);
        let families = sink.finish();
        let names: Vec<_> = families.iter().map(|f| f.name.as_ref()).collect();
        assert_eq!(names, ["test_load", "test_reads_total"]);
        let devices: Vec<_> = families[1]
            .samples
            .iter()
            .map(|s| s.labels[0].1.as_str())
            .collect();
        assert_eq!(devices, ["sda", "sdb"]);
    }

    #[test]
    fn finish_drops_duplicate_label_sets() {
        let mut sink = MetricSink::new();
        sink.add(&DISK, &["sda"], 1.0);
        sink.add(&DISK, &["sda"], 5.0);
        sink.add(&DISK, &["sdb"], 2.0);
        let families = sink.finish();
        assert_eq!(families[0].samples.len(), 2);
        assert_eq!(families[0].samples[0].value, Value::Number(1.0));
    }

    #[test]
    fn type_conflict_is_rejected() {
        let mut sink = MetricSink::new();
        sink.add(&LOAD, &[], 1.0);
        sink.add_dynamic(
            "test_load",
            "Other.",
            MetricType::Counter,
            vec![],
            Value::Number(2.0),
            None,
        );
        assert_eq!(sink.rejected(), 1);
        let families = sink.finish();
        assert_eq!(families[0].samples.len(), 1);
    }

    #[test]
    fn label_count_mismatch_is_rejected() {
        let mut sink = MetricSink::new();
        sink.add(&DISK, &[], 1.0);
        assert_eq!(sink.rejected(), 1);
        assert!(sink.finish().is_empty());
    }
}
