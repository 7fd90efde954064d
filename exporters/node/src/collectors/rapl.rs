//! rapl collector: energy counters of Intel and AMD RAPL zones under /sys/class/powercap/<zone>/
//! (name, energy_uj), kernel Documentation/power/powercap/powercap.rst.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::LazyLock;

use clap::{Arg, ArgAction};
use exporter_core::collector::BuildError;
use exporter_core::metric::LabelName;
use exporter_core::{
    AnyCollector, BlockingCollector, CollectError, Desc, MetricSink, MetricType, Value,
};
use regex::Regex;

use super::sysfs::{list_dir, read_attr};
use super::NodeConfig;

const JOULES: Desc = Desc::counter(
    "node_rapl_joules_total",
    "Energy consumed by the RAPL zone in joules.",
    &["index", "path", "rapl_zone"],
);

static INVALID_NAME_CHARS: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new("_*[^0-9A-Za-z_]+_*").ok());

pub fn args() -> Vec<Arg> {
    vec![Arg::new("collector.rapl.enable-zone-label")
        .long("collector.rapl.enable-zone-label")
        .action(ArgAction::SetTrue)
        .help("Report every zone in node_rapl_joules_total with a rapl_zone label instead of one family per zone name")]
}

struct Rapl {
    class: PathBuf,
    zone_label: bool,
}

pub fn build(config: &NodeConfig) -> Result<AnyCollector, BuildError> {
    Ok(AnyCollector::blocking(Rapl {
        class: config.sys("class/powercap"),
        zone_label: config.flag("collector.rapl.enable-zone-label"),
    }))
}

/// Splits a zone name such as `package-0` into its name and index. Names without an index get
/// the number of earlier zones of the same name.
fn name_and_index(name: &str, seen: &mut HashMap<String, u32>) -> (String, u32) {
    let (base, index) = match name.split_once('-') {
        Some((base, digits)) if !digits.contains('-') => match digits.parse() {
            Ok(index) => (base.to_owned(), index),
            Err(_) => (name.to_owned(), seen.get(name).copied().unwrap_or(0)),
        },
        _ => (name.to_owned(), seen.get(name).copied().unwrap_or(0)),
    };
    seen.insert(base.clone(), index + 1);
    (base, index)
}

impl BlockingCollector for Rapl {
    fn collect(&self, sink: &mut MetricSink) -> Result<(), CollectError> {
        let mut seen = HashMap::new();
        for (_, dir) in list_dir(&self.class)? {
            let Some(raw_name) = read_attr(&dir.join("name")) else {
                continue;
            };
            let (name, index) = name_and_index(&raw_name, &mut seen);
            let energy_path = dir.join("energy_uj");
            let microjoules = match std::fs::read_to_string(&energy_path) {
                Ok(text) => text.trim().parse::<u64>().map_err(|e| {
                    CollectError::failed(format!("invalid {}: {e}", energy_path.display()))
                })?,
                Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                    return Err(CollectError::no_data(format!(
                        "{} is readable only by root",
                        energy_path.display()
                    )));
                }
                Err(e) => return Err(super::util::io_error(&energy_path, e)),
            };
            let joules = microjoules as f64 / 1_000_000.0;
            let (index, path) = (index.to_string(), dir.to_string_lossy().into_owned());
            if self.zone_label {
                sink.add(&JOULES, &[&index, &path, &name], joules);
                continue;
            }
            let part = INVALID_NAME_CHARS
                .as_ref()
                .map_or(name.clone(), |re| re.replace_all(&name, "_").into_owned());
            let labels: Vec<(LabelName, String)> = vec![
                (Cow::Borrowed("index"), index),
                (Cow::Borrowed("path"), path),
            ];
            let help = format!("Energy consumed by RAPL {name} zones in joules.");
            sink.add_dynamic(
                format!("node_rapl_{part}_joules_total"),
                help,
                MetricType::Counter,
                labels,
                Value::Number(joules),
                None,
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_names_and_indexes() {
        let mut seen = HashMap::new();
        assert_eq!(
            name_and_index("package-0", &mut seen),
            ("package".to_owned(), 0)
        );
        assert_eq!(name_and_index("core", &mut seen), ("core".to_owned(), 0));
        assert_eq!(name_and_index("core", &mut seen), ("core".to_owned(), 1));
        assert_eq!(
            name_and_index("package-1", &mut seen),
            ("package".to_owned(), 1)
        );
    }

    #[test]
    fn rapl_zone_families() {
        let class = tempfile::tempdir().unwrap();
        let zone = class.path().join("intel-rapl:0");
        std::fs::create_dir(&zone).unwrap();
        std::fs::create_dir(class.path().join("intel-rapl")).unwrap();
        std::fs::write(zone.join("name"), "package-0\n").unwrap();
        std::fs::write(zone.join("energy_uj"), "2500000\n").unwrap();
        let mut sink = MetricSink::new();
        Rapl {
            class: class.path().to_path_buf(),
            zone_label: false,
        }
        .collect(&mut sink)
        .unwrap();
        let families = sink.finish();
        let package = families
            .iter()
            .find(|f| f.name == "node_rapl_package_joules_total")
            .unwrap();
        assert_eq!(package.samples[0].value, Value::Number(2.5));
    }
}
