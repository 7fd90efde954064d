//! thermal_zone collector: temperatures of /sys/class/thermal/thermal_zone<N>/ and the throttle
//! states of /sys/class/thermal/cooling_device<N>/ (kernel Documentation/driver-api/thermal/
//! sysfs-api.rst).

use std::path::PathBuf;

use exporter_core::collector::BuildError;
use exporter_core::{AnyCollector, BlockingCollector, CollectError, Desc, MetricSink};
use tracing::debug;

use super::sysfs::{list_dir, read_attr, read_i64};
use super::NodeConfig;

const ZONE_TEMP: Desc = Desc::gauge(
    "node_thermal_zone_temp",
    "Temperature of the thermal zone in degrees Celsius.",
    &["zone", "type"],
);
const CUR_STATE: Desc = Desc::gauge(
    "node_cooling_device_cur_state",
    "Current throttle state of the cooling device.",
    &["name", "type"],
);
const MAX_STATE: Desc = Desc::gauge(
    "node_cooling_device_max_state",
    "Maximum throttle state of the cooling device.",
    &["name", "type"],
);

struct ThermalZone {
    class: PathBuf,
}

pub fn build(config: &NodeConfig) -> Result<AnyCollector, BuildError> {
    Ok(AnyCollector::blocking(ThermalZone {
        class: config.sys("class/thermal"),
    }))
}

/// Returns the number after `prefix` when the rest of `name` is decimal digits.
fn numbered<'a>(name: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = name.strip_prefix(prefix)?;
    (!rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit())).then_some(rest)
}

impl BlockingCollector for ThermalZone {
    fn collect(&self, sink: &mut MetricSink) -> Result<(), CollectError> {
        for (name, dir) in list_dir(&self.class)? {
            if let Some(zone) = numbered(&name, "thermal_zone") {
                let kind = read_attr(&dir.join("type")).unwrap_or_default();
                // NOTE: node_exporter reports 0 for a zone whose temp cannot be read, as a
                // disabled zone fails with EINVAL. Such a zone is left out here instead.
                match read_i64(&dir.join("temp")) {
                    Some(millidegrees) => {
                        sink.add(&ZONE_TEMP, &[zone, &kind], millidegrees as f64 / 1000.0)
                    }
                    None => debug!(
                        zone,
                        "Skipped a thermal zone whose temperature cannot be read"
                    ),
                }
            } else if let Some(device) = numbered(&name, "cooling_device") {
                let kind = read_attr(&dir.join("type"));
                let max = read_i64(&dir.join("max_state"));
                let cur = read_i64(&dir.join("cur_state"));
                let (Some(kind), Some(max), Some(cur)) = (kind, max, cur) else {
                    debug!(
                        device,
                        "Skipped a cooling device whose state cannot be read"
                    );
                    continue;
                };
                sink.add(&CUR_STATE, &[device, &kind], cur as f64);
                sink.add(&MAX_STATE, &[device, &kind], max as f64);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use exporter_core::Value;

    #[test]
    fn zones_and_cooling_devices() {
        let class = tempfile::tempdir().unwrap();
        let zone = class.path().join("thermal_zone3");
        let cooling = class.path().join("cooling_device1");
        std::fs::create_dir_all(&zone).unwrap();
        std::fs::create_dir_all(&cooling).unwrap();
        std::fs::create_dir_all(class.path().join("thermal_zoneX")).unwrap();
        std::fs::write(zone.join("type"), "acpitz\n").unwrap();
        std::fs::write(zone.join("temp"), "41500\n").unwrap();
        std::fs::write(cooling.join("type"), "Fan\n").unwrap();
        std::fs::write(cooling.join("max_state"), "3\n").unwrap();
        std::fs::write(cooling.join("cur_state"), "1\n").unwrap();
        let mut sink = MetricSink::new();
        ThermalZone {
            class: class.path().to_path_buf(),
        }
        .collect(&mut sink)
        .unwrap();
        let families = sink.finish();
        let temp = families
            .iter()
            .find(|f| f.name == "node_thermal_zone_temp")
            .unwrap();
        assert_eq!(temp.samples.len(), 1);
        assert_eq!(temp.samples[0].value, Value::Number(41.5));
        let max = families
            .iter()
            .find(|f| f.name == "node_cooling_device_max_state")
            .unwrap();
        assert_eq!(max.samples[0].value, Value::Number(3.0));
    }
}
