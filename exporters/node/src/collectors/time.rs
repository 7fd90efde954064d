//! The time collector: the system clock and its time zone offset from localtime_r(3), and the
//! available and current clocksource of each clocksource device in
//! /sys/devices/system/clocksource/clocksourceN.

use std::ffi::CStr;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use exporter_core::collector::BuildError;
use exporter_core::{AnyCollector, BlockingCollector, CollectError, Desc, MetricSink};

use super::{attr, NodeConfig};

const NOW: Desc = Desc::gauge(
    "node_time_seconds",
    "System time in seconds since the Unix epoch.",
    &[],
);
const ZONE_OFFSET: Desc = Desc::gauge(
    "node_time_zone_offset_seconds",
    "Offset of the local time zone from UTC in seconds.",
    &["time_zone"],
);
const CLOCKSOURCE_AVAILABLE: Desc = Desc::gauge(
    "node_time_clocksource_available_info",
    "A clocksource the kernel can use; the value is always 1.",
    &["device", "clocksource"],
);
const CLOCKSOURCE_CURRENT: Desc = Desc::gauge(
    "node_time_clocksource_current_info",
    "The clocksource the kernel uses; the value is always 1.",
    &["device", "clocksource"],
);

pub fn build(config: &NodeConfig) -> Result<AnyCollector, BuildError> {
    Ok(AnyCollector::blocking(TimeCollector {
        sysfs: config.sysfs.clone(),
    }))
}

pub struct TimeCollector {
    pub sysfs: PathBuf,
}

extern "C" {
    /// tzset(3) from the C library, which the libc crate does not declare.
    fn tzset();
}

/// Returns the abbreviation and UTC offset in seconds of the local time zone at `seconds` since
/// the epoch, from the TZ variable or /etc/localtime as the C library reads them.
fn local_zone(seconds: i64) -> Result<(String, i64), CollectError> {
    let time = seconds as libc::time_t;
    // SAFETY: an all-zero `tm` is a valid value for localtime_r to overwrite.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: tzset has no preconditions; localtime_r writes only to `tm`, which outlives the
    // call, and returns null on failure.
    let result = unsafe {
        tzset();
        libc::localtime_r(&time, &mut tm)
    };
    if result.is_null() {
        return Err(CollectError::failed(
            "localtime_r failed to convert the system time",
        ));
    }
    let zone = if tm.tm_zone.is_null() {
        String::new()
    } else {
        // SAFETY: tm_zone points to a NUL-terminated string that the C library keeps alive
        // until the next tzset call, and it is copied right away.
        unsafe { CStr::from_ptr(tm.tm_zone) }
            .to_string_lossy()
            .into_owned()
    };
    Ok((zone, tm.tm_gmtoff))
}

impl TimeCollector {
    fn add_clocksources(&self, sink: &mut MetricSink) -> Result<(), CollectError> {
        let dir = self.sysfs.join("devices/system/clocksource");
        let devices = attr::numbered_entries(&dir, "clocksource")?;
        // The device label is the position in the sorted list, as node_exporter numbers them.
        for (index, (_, path)) in devices.iter().enumerate() {
            let device = index.to_string();
            let available = attr::read_attr(&path.join("available_clocksource"))?;
            for clocksource in available.as_deref().unwrap_or("").split_whitespace() {
                sink.add(&CLOCKSOURCE_AVAILABLE, &[&device, clocksource], 1.0);
            }
            if let Some(current) = attr::read_attr(&path.join("current_clocksource"))? {
                sink.add(&CLOCKSOURCE_CURRENT, &[&device, &current], 1.0);
            }
        }
        Ok(())
    }
}

impl BlockingCollector for TimeCollector {
    fn collect(&self, sink: &mut MetricSink) -> Result<(), CollectError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|e| CollectError::failed(format!("system clock is before 1970: {e}")))?;
        sink.add(&NOW, &[], now.as_secs_f64());
        let (zone, offset) = local_zone(now.as_secs() as i64)?;
        sink.add(&ZONE_OFFSET, &[&zone], offset as f64);
        self.add_clocksources(sink)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::test_support::{samples, write_tree};

    #[test]
    fn clocksources_and_clock() {
        let dir = tempfile::tempdir().unwrap();
        let base = "devices/system/clocksource/clocksource0";
        write_tree(
            dir.path(),
            &[
                (
                    &format!("{base}/available_clocksource"),
                    "tsc hpet acpi_pm \n",
                ),
                (&format!("{base}/current_clocksource"), "tsc\n"),
            ],
        );
        let got = samples(&TimeCollector {
            sysfs: dir.path().to_owned(),
        });
        let available = r#"node_time_clocksource_available_info{device="0",clocksource="hpet"}"#;
        assert_eq!(got[available], 1.0);
        let current = r#"node_time_clocksource_current_info{device="0",clocksource="tsc"}"#;
        assert_eq!(got[current], 1.0);
        assert_eq!(
            got.keys().filter(|k| k.contains("available_info")).count(),
            3
        );
        assert!(got["node_time_seconds"] > 1.6e9);
        assert!(got
            .keys()
            .any(|k| k.starts_with("node_time_zone_offset_seconds{")));
    }
}
