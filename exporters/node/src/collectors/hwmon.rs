//! hwmon collector: temperatures, voltages, fans, currents, power and energy of the chips under
//! /sys/class/hwmon/hwmon*, with the file names and units of the kernel's
//! Documentation/hwmon/sysfs-interface.rst. Family names are built from the sensor type and
//! attribute, so a new attribute of a known sensor type appears without a code change.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use clap::Arg;
use exporter_core::collector::BuildError;
use exporter_core::metric::LabelName;
use exporter_core::{
    AnyCollector, BlockingCollector, CollectError, Desc, MetricSink, MetricType, Value,
};
use regex::Regex;
use tracing::debug;

use super::filter::NameFilter;
use super::sysfs::{list_dir, lossy, name_lossy};
use super::NodeConfig;

const CHIP_NAMES: Desc = Desc::gauge(
    "node_hwmon_chip_names",
    "Human-readable name of a hwmon chip from its name file; the value is always 1.",
    &["chip", "chip_name"],
);
const SENSOR_LABEL: Desc = Desc::gauge(
    "node_hwmon_sensor_label",
    "Label of a hwmon sensor from its label file; the value is always 1.",
    &["chip", "sensor", "label"],
);

/// Sensor types whose attribute files are read; others, such as `name`, are ignored.
const SENSOR_TYPES: &[&str] = &[
    "vrm",
    "beep_enable",
    "update_interval",
    "in",
    "cpu",
    "fan",
    "pwm",
    "temp",
    "curr",
    "power",
    "energy",
    "humidity",
    "intrusion",
    "freq",
];

static FILE_NAME: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"^([^0-9]+)([0-9]*)?(_(.+))?$").ok());
static INVALID_NAME_CHARS: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new("[^a-z0-9:_]").ok());

pub fn args() -> Vec<Arg> {
    let flag = |name: &'static str, help: &'static str| Arg::new(name).long(name).help(help);
    vec![
        flag("collector.hwmon.chip-include", "Regular expression of hwmon chips to include (mutually exclusive with chip-exclude)"),
        flag("collector.hwmon.chip-exclude", "Regular expression of hwmon chips to exclude (mutually exclusive with chip-include)"),
        flag("collector.hwmon.sensor-include", "Regular expression of hwmon sensors, written chip;sensor, to include (mutually exclusive with sensor-exclude)"),
        flag("collector.hwmon.sensor-exclude", "Regular expression of hwmon sensors, written chip;sensor, to exclude (mutually exclusive with sensor-include)"),
    ]
}

struct Hwmon {
    class: PathBuf,
    chips: NameFilter,
    sensors: NameFilter,
}

pub fn build(config: &NodeConfig) -> Result<AnyCollector, BuildError> {
    Ok(AnyCollector::blocking(Hwmon {
        class: config.sys("class/hwmon"),
        chips: NameFilter::from_flags(config, "collector.hwmon.chip")?,
        sensors: NameFilter::from_flags(config, "collector.hwmon.sensor")?,
    }))
}

/// Lower-cases a name and replaces characters invalid in a metric name with `_`.
pub fn clean_name(name: &str) -> String {
    let lower = name.to_lowercase();
    let replaced = match INVALID_NAME_CHARS.as_ref() {
        Some(re) => re.replace_all(&lower, "_").into_owned(),
        None => lower,
    };
    replaced.trim_matches('_').to_owned()
}

/// Splits a sensor file name such as `temp1_crit_alarm` into type, number and attribute.
pub fn split_file_name(name: &str) -> Option<(String, u32, String)> {
    let captures = FILE_NAME.as_ref()?.captures(name)?;
    let kind = captures.get(1)?.as_str().to_owned();
    let number = match captures.get(2).map(|m| m.as_str()).unwrap_or("") {
        "" => 0,
        digits => digits.parse().ok()?,
    };
    let attribute = captures
        .get(4)
        .map(|m| m.as_str().to_owned())
        .unwrap_or_default();
    Some((kind, number, attribute))
}

/// Reads up to 128 bytes with one read call, as sysfs attributes are small. Attributes of
/// absent sensors fail with EINVAL or EIO, so the caller skips a file that cannot be read.
fn read_attribute(path: &Path) -> Option<String> {
    let mut file = std::fs::File::open(path).ok()?;
    let mut buf = [0u8; 128];
    match file.read(&mut buf) {
        Ok(n) => Some(lossy(&buf[..n]).trim_matches('\n').to_owned()),
        Err(e) => {
            debug!(path = %path.display(), error = %e, "Skipped an unreadable hwmon attribute");
            None
        }
    }
}

/// Sensor name (`temp1`) to attribute (`input`, `max`, `label`, or "" for `pwm1`) to text.
type SensorData = BTreeMap<String, BTreeMap<String, String>>;

fn read_sensors(dir: &Path, data: &mut SensorData) -> Result<(), CollectError> {
    for (name, path) in list_dir(dir)? {
        let Some((kind, number, attribute)) = split_file_name(&name) else {
            continue;
        };
        if !SENSOR_TYPES.contains(&kind.as_str()) {
            continue;
        }
        if let Some(value) = read_attribute(&path) {
            data.entry(format!("{kind}{number}"))
                .or_default()
                .insert(attribute, value);
        }
    }
    Ok(())
}

/// Derives the chip label: the device's bus and name (`platform_coretemp_0`), else the name
/// file, else the hwmon directory's own name.
fn chip_base_name(dir: &Path) -> Option<String> {
    if let Ok(device) = std::fs::canonicalize(dir.join("device")) {
        let name = device
            .file_name()
            .map(name_lossy)
            .map(|n| clean_name(&n))
            .unwrap_or_default();
        let bus = device
            .parent()
            .and_then(Path::file_name)
            .map(name_lossy)
            .map(|n| clean_name(&n))
            .unwrap_or_default();
        if !bus.is_empty() && !name.is_empty() {
            return Some(format!("{bus}_{name}"));
        }
        if !name.is_empty() {
            return Some(name);
        }
    }
    if let Ok(raw) = std::fs::read(dir.join("name")) {
        let name = clean_name(&lossy(&raw));
        if !name.is_empty() {
            return Some(name);
        }
    }
    let real = std::fs::canonicalize(dir).ok()?;
    let name = clean_name(&name_lossy(real.file_name()?));
    (!name.is_empty()).then_some(name)
}

struct Chip {
    dir: PathBuf,
    base: String,
    name_file: Option<String>,
}

impl BlockingCollector for Hwmon {
    fn collect(&self, sink: &mut MetricSink) -> Result<(), CollectError> {
        let mut chips = Vec::new();
        for (_, dir) in list_dir(&self.class)? {
            if !dir.is_dir() {
                continue;
            }
            let Some(base) = chip_base_name(&dir) else {
                debug!(dir = %dir.display(), "Skipped a hwmon directory without a usable name");
                continue;
            };
            let name_file = std::fs::read(dir.join("name"))
                .ok()
                .map(|raw| lossy(&raw).trim().to_owned());
            chips.push(Chip {
                dir,
                base,
                name_file,
            });
        }

        let mut base_counts: HashMap<&str, usize> = HashMap::new();
        let mut name_counts: HashMap<(&str, Option<&str>), usize> = HashMap::new();
        for chip in &chips {
            *base_counts.entry(&chip.base).or_default() += 1;
            *name_counts
                .entry((&chip.base, chip.name_file.as_deref()))
                .or_default() += 1;
        }

        let mut last_error = None;
        for chip in &chips {
            let name = unique_chip_name(chip, &base_counts, &name_counts);
            if self.chips.ignored(&name) {
                continue;
            }
            if let Err(e) = self.collect_chip(sink, &chip.dir, &name) {
                last_error = Some(e);
            }
        }
        last_error.map_or(Ok(()), Err)
    }
}

/// Makes chip names unique: chips sharing a base name get their name file, or when that is
/// shared too, their hwmon directory name, as a suffix.
fn unique_chip_name(
    chip: &Chip,
    base_counts: &HashMap<&str, usize>,
    name_counts: &HashMap<(&str, Option<&str>), usize>,
) -> String {
    if base_counts.get(chip.base.as_str()).copied().unwrap_or(0) <= 1 {
        return chip.base.clone();
    }
    let mut suffix = chip
        .name_file
        .as_deref()
        .map(clean_name)
        .unwrap_or_default();
    let shared = name_counts
        .get(&(chip.base.as_str(), chip.name_file.as_deref()))
        .copied()
        .unwrap_or(0)
        > 1;
    if suffix.is_empty() || shared {
        suffix = chip
            .dir
            .file_name()
            .map(name_lossy)
            .map(|n| clean_name(&n))
            .unwrap_or_default();
    }
    format!("{}_{suffix}", chip.base)
}

impl Hwmon {
    fn collect_chip(
        &self,
        sink: &mut MetricSink,
        dir: &Path,
        chip: &str,
    ) -> Result<(), CollectError> {
        let mut data = SensorData::new();
        read_sensors(dir, &mut data)?;
        if dir.join("device").exists() {
            read_sensors(&dir.join("device"), &mut data)?;
        }
        if let Some(name) = std::fs::read(dir.join("name"))
            .ok()
            .map(|raw| clean_name(&lossy(&raw)))
        {
            if !name.is_empty() {
                sink.add(&CHIP_NAMES, &[chip, &name], 1.0);
            }
        }
        for (sensor, attributes) in &data {
            if self.sensors.ignored(&format!("{chip};{sensor}")) {
                continue;
            }
            if let Some(label) = attributes.get("label") {
                sink.add(&SENSOR_LABEL, &[chip, sensor, label], 1.0);
            }
            let kind = split_file_name(sensor)
                .map(|(kind, _, _)| kind)
                .unwrap_or_default();
            for sample in sensor_samples(&kind, sensor, attributes) {
                add_sample(sink, chip, sample);
            }
        }
        Ok(())
    }
}

/// One sample of a sensor: family name, type, sensor label value and value.
struct SensorSample {
    name: String,
    kind: MetricType,
    sensor: String,
    value: f64,
}

fn add_sample(sink: &mut MetricSink, chip: &str, sample: SensorSample) {
    let help = format!(
        "Value of the hwmon attribute behind {}, converted to base units.",
        sample.name
    );
    let labels: Vec<(LabelName, String)> = vec![
        (Cow::Borrowed("chip"), chip.to_owned()),
        (Cow::Borrowed("sensor"), sample.sensor),
    ];
    sink.add_dynamic(
        sample.name,
        help,
        sample.kind,
        labels,
        Value::Number(sample.value),
        None,
    );
}

/// Returns the samples of one sensor. Most attributes become `node_hwmon_<type>_<attribute>`
/// plus a unit suffix, scaled from the kernel's milli- and micro-units to base units.
fn sensor_samples(
    kind: &str,
    sensor: &str,
    attributes: &BTreeMap<String, String>,
) -> Vec<SensorSample> {
    let sample = |name: &str, kind: MetricType, value: f64| SensorSample {
        name: name.to_owned(),
        kind,
        sensor: sensor.to_owned(),
        value,
    };
    let bare = attributes.get("").and_then(|text| parse_float(text));
    match kind {
        "beep_enable" => {
            let on = attributes.get("").is_some_and(|text| text == "1");
            let value = if on { 1.0 } else { 0.0 };
            return vec![sample("node_hwmon_beep_enabled", MetricType::Gauge, value)];
        }
        "vrm" => {
            let name = "node_hwmon_voltage_regulator_version";
            return bare
                .map(|v| sample(name, MetricType::Gauge, v))
                .into_iter()
                .collect();
        }
        "update_interval" => {
            let name = "node_hwmon_update_interval_seconds";
            return bare
                .map(|v| sample(name, MetricType::Gauge, v * 0.001))
                .into_iter()
                .collect();
        }
        _ => {}
    }

    let mut samples = Vec::new();
    for (attribute, text) in attributes {
        if attribute == "label" {
            continue;
        }
        let Some(raw) = parse_float(text) else {
            continue;
        };
        let mut name = format!("node_hwmon_{kind}");
        if attribute == "input" {
            if attributes.contains_key("") {
                name.push_str("_input");
            }
        } else if !attribute.is_empty() {
            name.push('_');
            name.push_str(&clean_name(attribute));
        }
        if kind == "freq" {
            // Only a labelled frequency is exported, with the label as its sensor name.
            if let (true, Some(label)) = (attribute == "input", attributes.get("label")) {
                let mut freq = sample(&format!("{name}_freq_mhz"), MetricType::Gauge, raw / 1e6);
                freq.sensor = clean_name(label);
                samples.push(freq);
            }
            if attribute == "input" {
                continue;
            }
        }
        let (suffix, scale, metric_type) = unit(kind, attribute);
        samples.push(sample(&format!("{name}{suffix}"), metric_type, raw * scale));
    }
    samples
}

/// Returns the name suffix, the scale to base units and the type of a sensor attribute.
fn unit(kind: &str, attribute: &str) -> (&'static str, f64, MetricType) {
    let gauge = MetricType::Gauge;
    match (kind, attribute) {
        (_, "fault" | "alarm") => ("", 1.0, gauge),
        (_, "beep") => ("_enabled", 1.0, gauge),
        ("in" | "cpu", _) => ("_volts", 0.001, gauge),
        ("temp", attribute) if attribute != "type" => ("_celsius", 0.001, gauge),
        ("curr", _) => ("_amps", 0.001, gauge),
        ("energy", _) => ("_joule_total", 1e-6, MetricType::Counter),
        ("power", "accuracy") => ("", 1e-6, gauge),
        ("power", "average_interval" | "average_interval_min" | "average_interval_max") => {
            ("_seconds", 0.001, gauge)
        }
        ("power", _) => ("_watt", 1e-6, gauge),
        ("humidity", _) => ("", 1e-6, gauge),
        ("fan", "input" | "min" | "max" | "target") => ("_rpm", 1.0, gauge),
        _ => ("", 1.0, gauge),
    }
}

/// Parses a number as Go's strconv.ParseFloat does for the values sysfs writes: no spaces.
fn parse_float(text: &str) -> Option<f64> {
    if text.is_empty() || text.contains(char::is_whitespace) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn collect(class: &Path) -> Vec<exporter_core::MetricFamily> {
        let hwmon = Hwmon {
            class: class.to_path_buf(),
            chips: NameFilter::default(),
            sensors: NameFilter::default(),
        };
        let mut sink = MetricSink::new();
        hwmon.collect(&mut sink).unwrap();
        sink.finish()
    }

    fn value(families: &[exporter_core::MetricFamily], name: &str, sensor: &str) -> Option<f64> {
        let family = families.iter().find(|f| f.name == name)?;
        let sample = family
            .samples
            .iter()
            .find(|s| s.labels.iter().any(|(k, v)| k == "sensor" && v == sensor))?;
        match sample.value {
            Value::Number(v) => Some(v),
            _ => None,
        }
    }

    #[test]
    fn split_file_name_cases() {
        assert_eq!(
            split_file_name("temp1_crit_alarm"),
            Some(("temp".into(), 1, "crit_alarm".into()))
        );
        assert_eq!(
            split_file_name("pwm2"),
            Some(("pwm".into(), 2, String::new()))
        );
        assert_eq!(
            split_file_name("beep_enable"),
            Some(("beep_enable".into(), 0, String::new()))
        );
    }

    #[test]
    fn clean_name_replaces_invalid() {
        assert_eq!(clean_name("Core 0\n"), "core_0");
        assert_eq!(clean_name("asus-nb-wmi"), "asus_nb_wmi");
    }

    #[test]
    fn hwmon_units_and_einval_sensor() {
        let class = tempfile::tempdir().unwrap();
        let chip = class.path().join("hwmon0");
        fs::create_dir(&chip).unwrap();
        fs::write(chip.join("name"), "k10temp\n").unwrap();
        fs::write(chip.join("temp1_input"), "45500\n").unwrap();
        fs::write(chip.join("temp1_label"), "Tctl\n").unwrap();
        fs::write(chip.join("in0_input"), "1200\n").unwrap();
        fs::write(chip.join("fan1_input"), "900\n").unwrap();
        fs::write(chip.join("power1_average"), "15000000\n").unwrap();
        // The kernel returns EINVAL when reading this attribute on hosts without a security
        // module, like an absent sensor does.
        let einval = Path::new("/proc/self/attr/current");
        let error = fs::read(einval).unwrap_err();
        assert_eq!(error.raw_os_error(), Some(libc::EINVAL));
        std::os::unix::fs::symlink(einval, chip.join("temp2_input")).unwrap();

        let families = collect(class.path());
        assert_eq!(
            value(&families, "node_hwmon_temp_celsius", "temp1"),
            Some(45.5)
        );
        assert_eq!(value(&families, "node_hwmon_in_volts", "in0"), Some(1.2));
        assert_eq!(value(&families, "node_hwmon_fan_rpm", "fan1"), Some(900.0));
        assert_eq!(
            value(&families, "node_hwmon_power_average_watt", "power1"),
            Some(15.0)
        );
        assert_eq!(value(&families, "node_hwmon_temp_celsius", "temp2"), None);
        assert_eq!(
            value(&families, "node_hwmon_sensor_label", "temp1"),
            Some(1.0)
        );
        assert_eq!(value(&families, "node_hwmon_chip_names", "temp1"), None);
        let chips = families
            .iter()
            .find(|f| f.name == "node_hwmon_chip_names")
            .unwrap();
        assert_eq!(chips.samples[0].labels[0].1, "k10temp");
        assert_eq!(chips.samples[0].labels[1].1, "k10temp");
    }

    #[test]
    fn hwmon_missing_class_is_no_data() {
        let hwmon = Hwmon {
            class: PathBuf::from("/nonexistent/class/hwmon"),
            chips: NameFilter::default(),
            sensors: NameFilter::default(),
        };
        let mut sink = MetricSink::new();
        assert!(matches!(
            hwmon.collect(&mut sink),
            Err(CollectError::NoData(_))
        ));
    }
}
