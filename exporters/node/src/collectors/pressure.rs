//! The pressure collector: pressure stall information (PSI) from /proc/pressure/cpu, io, memory
//! and irq (Documentation/accounting/psi.rst). Each file has a `some` line for time in which
//! some tasks stalled and a `full` line for time in which all tasks stalled. Before Linux 5.13
//! cpu has no `full` line, and irq has only `full`.
//! The exported value is the `total=` field, converted from microseconds to seconds.

use std::io;
use std::path::PathBuf;

use exporter_core::collector::BuildError;
use exporter_core::{AnyCollector, BlockingCollector, CollectError, Desc, MetricSink};
use tracing::debug;

use super::NodeConfig;

const CPU_WAITING: Desc = Desc::counter(
    "node_pressure_cpu_waiting_seconds_total",
    "Seconds in which at least one task waited for a CPU.",
    &[],
);
const IO_WAITING: Desc = Desc::counter(
    "node_pressure_io_waiting_seconds_total",
    "Seconds in which at least one task waited for I/O.",
    &[],
);
const IO_STALLED: Desc = Desc::counter(
    "node_pressure_io_stalled_seconds_total",
    "Seconds in which no task could make progress because all waited for I/O.",
    &[],
);
const MEMORY_WAITING: Desc = Desc::counter(
    "node_pressure_memory_waiting_seconds_total",
    "Seconds in which at least one task waited for memory.",
    &[],
);
const MEMORY_STALLED: Desc = Desc::counter(
    "node_pressure_memory_stalled_seconds_total",
    "Seconds in which no task could make progress because all waited for memory.",
    &[],
);
const IRQ_STALLED: Desc = Desc::counter(
    "node_pressure_irq_stalled_seconds_total",
    "Seconds in which no task could make progress because of interrupt handling.",
    &[],
);

/// Resources with the metric of their `some` line and of their `full` line.
const RESOURCES: [(&str, Option<&Desc>, Option<&Desc>); 4] = [
    ("cpu", Some(&CPU_WAITING), None),
    ("io", Some(&IO_WAITING), Some(&IO_STALLED)),
    ("memory", Some(&MEMORY_WAITING), Some(&MEMORY_STALLED)),
    ("irq", None, Some(&IRQ_STALLED)),
];

pub fn build(config: &NodeConfig) -> Result<AnyCollector, BuildError> {
    Ok(AnyCollector::blocking(PressureCollector {
        procfs: config.procfs.clone(),
    }))
}

pub struct PressureCollector {
    pub procfs: PathBuf,
}

/// The `total=` values of the `some` and `full` lines, in microseconds.
#[derive(Debug, Default, PartialEq)]
struct Totals {
    some: Option<u64>,
    full: Option<u64>,
}

fn parse(text: &str) -> Totals {
    let mut totals = Totals::default();
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let kind = fields.next();
        let total = fields
            .find_map(|f| f.strip_prefix("total="))
            .and_then(|t| t.parse().ok());
        match (kind, total) {
            (Some("some"), Some(total)) => totals.some = Some(total),
            (Some("full"), Some(total)) => totals.full = Some(total),
            _ => debug!(line, "Skipped a malformed pressure line"),
        }
    }
    totals
}

impl BlockingCollector for PressureCollector {
    fn collect(&self, sink: &mut MetricSink) -> Result<(), CollectError> {
        let mut found = 0;
        for (resource, some_desc, full_desc) in RESOURCES {
            let path = self.procfs.join("pressure").join(resource);
            let text = match std::fs::read_to_string(&path) {
                Ok(text) => text,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    debug!(resource, "No pressure information: it needs Linux 4.20 (6.1 for irq) with CONFIG_PSI");
                    continue;
                }
                // The files exist but reading fails with EOPNOTSUPP while PSI is disabled.
                Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => {
                    return Err(CollectError::no_data(
                        "pressure information is disabled; boot with psi=1 to enable it",
                    ));
                }
                Err(e) => {
                    return Err(CollectError::failed(format!(
                        "failed to read {}: {e}",
                        path.display()
                    )))
                }
            };
            let totals = parse(&text);
            for (desc, total, line) in [
                (some_desc, totals.some, "some"),
                (full_desc, totals.full, "full"),
            ] {
                let Some(desc) = desc else { continue };
                let Some(total) = total else {
                    return Err(CollectError::no_data(format!(
                        "{} has no {line} line",
                        path.display()
                    )));
                };
                // Two divisions, as node_exporter does, so that values are bit-identical.
                sink.add(desc, &[], total as f64 / 1000.0 / 1000.0);
            }
            found += 1;
        }
        if found == 0 {
            return Err(CollectError::no_data(
                "no pressure information: it needs Linux 4.20 or later with CONFIG_PSI",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::test_support::{collect, samples, write_tree};

    const SOME_FULL: &str = "some avg10=0.10 avg60=0.05 avg300=0.01 total=1500000\n\
full avg10=0.00 avg60=0.00 avg300=0.00 total=250000\n";

    #[test]
    fn all_resources() {
        let dir = tempfile::tempdir().unwrap();
        write_tree(
            dir.path(),
            &[
                ("pressure/cpu", SOME_FULL),
                ("pressure/io", SOME_FULL),
                ("pressure/memory", SOME_FULL),
                (
                    "pressure/irq",
                    "full avg10=0.00 avg60=0.00 avg300=0.00 total=42\n",
                ),
            ],
        );
        let got = samples(&PressureCollector {
            procfs: dir.path().to_owned(),
        });
        assert_eq!(got["node_pressure_cpu_waiting_seconds_total"], 1.5);
        assert_eq!(got["node_pressure_io_stalled_seconds_total"], 0.25);
        assert_eq!(got["node_pressure_memory_waiting_seconds_total"], 1.5);
        assert_eq!(
            got["node_pressure_irq_stalled_seconds_total"],
            42.0 / 1000.0 / 1000.0
        );
        assert_eq!(got.len(), 6);
    }

    #[test]
    fn missing_irq_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        write_tree(
            dir.path(),
            &[("pressure/cpu", "some avg10=0 avg60=0 avg300=0 total=7\n")],
        );
        let (outcome, got) = collect(&PressureCollector {
            procfs: dir.path().to_owned(),
        });
        assert!(outcome.is_ok());
        assert_eq!(got.len(), 1);
    }

    #[test]
    fn without_psi_is_no_data() {
        let dir = tempfile::tempdir().unwrap();
        let (outcome, _) = collect(&PressureCollector {
            procfs: dir.path().to_owned(),
        });
        assert!(matches!(outcome, Err(CollectError::NoData(_))));
    }

    #[test]
    fn malformed_line_is_skipped() {
        assert_eq!(
            parse("some avg10=0 total=abc\nfull avg10=0 total=9\ngarbage\n"),
            Totals {
                some: None,
                full: Some(9)
            }
        );
    }
}
