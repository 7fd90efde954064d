//! powersupplyclass collector: batteries, mains adapters and USB supplies under
//! /sys/class/power_supply/<name>/, with the attributes of the kernel's
//! Documentation/ABI/testing/sysfs-class-power. Micro-units are converted to base units and
//! temperatures from tenths of a degree to degrees Celsius.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use clap::Arg;
use exporter_core::collector::BuildError;
use exporter_core::metric::LabelName;
use exporter_core::{AnyCollector, BlockingCollector, CollectError, MetricSink, MetricType, Value};
use regex::Regex;
use tracing::debug;

use super::sysfs::{list_dir, lossy};
use super::NodeConfig;

/// Numeric attribute files, the family name suffix after `node_power_supply_`, and the divisor
/// to base units.
const NUMERIC: &[(&str, &str, f64)] = &[
    ("authentic", "authentic", 1.0),
    ("calibrate", "calibrate", 1.0),
    ("capacity", "capacity", 1.0),
    ("capacity_alert_max", "capacity_alert_max", 1.0),
    ("capacity_alert_min", "capacity_alert_min", 1.0),
    ("cycle_count", "cyclecount", 1.0),
    ("online", "online", 1.0),
    ("present", "present", 1.0),
    ("time_to_empty_now", "time_to_empty_seconds", 1.0),
    ("time_to_full_now", "time_to_full_seconds", 1.0),
    ("current_boot", "current_boot", 1e6),
    ("current_max", "current_max", 1e6),
    ("current_now", "current_ampere", 1e6),
    ("energy_empty", "energy_empty", 1e6),
    ("energy_empty_design", "energy_empty_design", 1e6),
    ("energy_full", "energy_full", 1e6),
    ("energy_full_design", "energy_full_design", 1e6),
    ("energy_now", "energy_watthour", 1e6),
    ("voltage_boot", "voltage_boot", 1e6),
    ("voltage_max", "voltage_max", 1e6),
    ("voltage_max_design", "voltage_max_design", 1e6),
    ("voltage_min", "voltage_min", 1e6),
    ("voltage_min_design", "voltage_min_design", 1e6),
    ("voltage_now", "voltage_volt", 1e6),
    ("voltage_ocv", "voltage_ocv", 1e6),
    ("charge_control_limit", "charge_control_limit", 1e6),
    ("charge_control_limit_max", "charge_control_limit_max", 1e6),
    ("charge_counter", "charge_counter", 1e6),
    ("charge_empty", "charge_empty", 1e6),
    ("charge_empty_design", "charge_empty_design", 1e6),
    ("charge_full", "charge_full", 1e6),
    ("charge_full_design", "charge_full_design", 1e6),
    ("charge_now", "charge_ampere", 1e6),
    ("charge_term_current", "charge_term_current", 1e6),
    ("constant_charge_current", "constant_charge_current", 1e6),
    (
        "constant_charge_current_max",
        "constant_charge_current_max",
        1e6,
    ),
    ("constant_charge_voltage", "constant_charge_voltage", 1e6),
    (
        "constant_charge_voltage_max",
        "constant_charge_voltage_max",
        1e6,
    ),
    ("precharge_current", "precharge_current", 1e6),
    ("input_current_limit", "input_current_limit", 1e6),
    ("power_now", "power_watt", 1e6),
    ("temp", "temp_celsius", 10.0),
    ("temp_alert_max", "temp_alert_max_celsius", 10.0),
    ("temp_alert_min", "temp_alert_min_celsius", 10.0),
    ("temp_ambient", "temp_ambient_celsius", 10.0),
    ("temp_ambient_max", "temp_ambient_max_celsius", 10.0),
    ("temp_ambient_min", "temp_ambient_min_celsius", 10.0),
    ("temp_max", "temp_max_celsius", 10.0),
    ("temp_min", "temp_min_celsius", 10.0),
];

/// Text attribute files that become labels of `node_power_supply_info` when not empty.
const TEXT: &[&str] = &[
    "capacity_level",
    "charge_type",
    "health",
    "manufacturer",
    "model_name",
    "serial_number",
    "status",
    "technology",
    "type",
    "usb_type",
    "scope",
];

pub fn args() -> Vec<Arg> {
    vec![Arg::new("collector.powersupply.ignored-supplies")
        .long("collector.powersupply.ignored-supplies")
        .default_value("^$")
        .help("Regular expression of power supply names to ignore")]
}

struct PowerSupplyClass {
    class: PathBuf,
    ignored: Regex,
}

pub fn build(config: &NodeConfig) -> Result<AnyCollector, BuildError> {
    let pattern = config
        .string("collector.powersupply.ignored-supplies")
        .unwrap_or_default();
    let ignored = Regex::new(&pattern).map_err(|e| {
        format!("invalid --collector.powersupply.ignored-supplies {pattern:?}: {e}")
    })?;
    Ok(AnyCollector::blocking(PowerSupplyClass {
        class: config.sys("class/power_supply"),
        ignored,
    }))
}

/// Reads the regular files of one supply as (file name, trimmed text). Attributes the device
/// cannot report right now fail with EINVAL, ENODATA, ENODEV or EOPNOTSUPP and are skipped.
pub fn read_supply(dir: &Path) -> Result<Vec<(String, String)>, CollectError> {
    let mut attributes = Vec::new();
    for (name, path) in list_dir(dir)? {
        let is_file = std::fs::symlink_metadata(&path)
            .map(|m| m.file_type().is_file())
            .unwrap_or(false);
        if !is_file {
            continue;
        }
        match std::fs::read(&path) {
            Ok(bytes) => attributes.push((name, lossy(&bytes).trim().to_owned())),
            Err(e) => {
                debug!(path = %path.display(), error = %e, "Skipped an unreadable power supply attribute")
            }
        }
    }
    Ok(attributes)
}

impl BlockingCollector for PowerSupplyClass {
    fn collect(&self, sink: &mut MetricSink) -> Result<(), CollectError> {
        for (supply, dir) in list_dir(&self.class)? {
            if self.ignored.is_match(&supply) {
                continue;
            }
            match read_supply(&dir) {
                Ok(attributes) => add_supply(sink, &supply, &attributes),
                Err(e) => debug!(supply, error = %e, "Skipped an unreadable power supply"),
            }
        }
        Ok(())
    }
}

fn add_supply(sink: &mut MetricSink, supply: &str, attributes: &[(String, String)]) {
    let get = |file: &str| {
        attributes
            .iter()
            .find(|(name, _)| name == file)
            .map(|(_, v)| v.as_str())
    };
    for (file, suffix, divisor) in NUMERIC {
        let Some(value) = get(file).and_then(|text| text.parse::<i64>().ok()) else {
            continue;
        };
        let name = format!("node_power_supply_{suffix}");
        let help =
            format!("Value of /sys/class/power_supply/<power_supply>/{file}, in base units.");
        let labels = vec![(Cow::Borrowed("power_supply"), supply.to_owned())];
        sink.add_dynamic(
            name,
            help,
            MetricType::Gauge,
            labels,
            Value::Number(value as f64 / divisor),
            None,
        );
    }

    let mut labels: Vec<(LabelName, String)> =
        vec![(Cow::Borrowed("power_supply"), supply.to_owned())];
    for file in TEXT {
        if let Some(text) = get(file).filter(|t| !t.is_empty()) {
            labels.push((Cow::Borrowed(*file), text.to_owned()));
        }
    }
    let help = "Text attributes of a power supply as labels; the value is always 1.";
    sink.add_dynamic(
        "node_power_supply_info",
        help,
        MetricType::Gauge,
        labels,
        Value::Number(1.0),
        None,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn battery_units_and_info() {
        let class = tempfile::tempdir().unwrap();
        let battery = class.path().join("BAT0");
        std::fs::create_dir(&battery).unwrap();
        std::fs::write(battery.join("voltage_now"), "12000000\n").unwrap();
        std::fs::write(battery.join("temp"), "315\n").unwrap();
        std::fs::write(battery.join("capacity"), "87\n").unwrap();
        std::fs::write(battery.join("model_name"), b"LNV-\xff\n").unwrap();
        std::fs::write(battery.join("status"), "Discharging\n").unwrap();
        std::fs::create_dir(class.path().join("ignored0")).unwrap();
        let collector = PowerSupplyClass {
            class: class.path().to_path_buf(),
            ignored: Regex::new("^ignored").unwrap(),
        };

        let mut sink = MetricSink::new();
        collector.collect(&mut sink).unwrap();
        let families = sink.finish();

        let value = |name: &str| {
            families
                .iter()
                .find(|f| f.name == name)
                .map(|f| f.samples[0].value.clone())
        };
        assert_eq!(
            value("node_power_supply_voltage_volt"),
            Some(Value::Number(12.0))
        );
        assert_eq!(
            value("node_power_supply_temp_celsius"),
            Some(Value::Number(31.5))
        );
        assert_eq!(
            value("node_power_supply_capacity"),
            Some(Value::Number(87.0))
        );
        let info = families
            .iter()
            .find(|f| f.name == "node_power_supply_info")
            .unwrap();
        assert_eq!(info.samples.len(), 1);
        let model = info.samples[0]
            .labels
            .iter()
            .find(|(k, _)| k == "model_name")
            .unwrap();
        assert_eq!(model.1, "LNV-\u{fffd}");
    }
}
