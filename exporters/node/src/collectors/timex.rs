//! The timex collector: the state of the kernel's clock discipline (NTP) from adjtimex(2), in
//! read-only mode.

use exporter_core::collector::BuildError;
use exporter_core::{AnyCollector, BlockingCollector, CollectError, Desc, MetricSink};

use super::NodeConfig;

/// `adjtimex` returns this state when the clock is not synchronized.
const TIME_ERROR: libc::c_int = 5;
/// Status bit for offsets and jitter in nanoseconds rather than microseconds.
const STA_NANO: libc::c_int = 0x2000;
/// Frequencies are in parts per million with a 16-bit binary fraction (adjtimex(2), NOTES).
const PPM_16_FRACTION: f64 = 1_000_000.0 * 65536.0;
const MICROSECONDS: f64 = 1e6;

const fn gauge(name: &'static str, help: &'static str) -> Desc {
    Desc::gauge(name, help, &[])
}
const fn counter(name: &'static str, help: &'static str) -> Desc {
    Desc::counter(name, help, &[])
}

const SYNC_STATUS: Desc = gauge(
    "node_timex_sync_status",
    "Whether the clock is synchronized to a reliable server (1) or not (0).",
);
const OFFSET: Desc = gauge(
    "node_timex_offset_seconds",
    "Offset between the local clock and the reference clock in seconds.",
);
const FREQUENCY: Desc = gauge(
    "node_timex_frequency_adjustment_ratio",
    "Frequency adjustment of the local clock as a ratio.",
);
const MAX_ERROR: Desc = gauge(
    "node_timex_maxerror_seconds",
    "Upper bound of the clock error in seconds.",
);
const ESTIMATED_ERROR: Desc = gauge(
    "node_timex_estimated_error_seconds",
    "The kernel's estimate of the clock error in seconds.",
);
const STATUS: Desc = gauge(
    "node_timex_status",
    "Status bits of the clock discipline (STA_* in adjtimex(2)).",
);
const CONSTANT: Desc = gauge(
    "node_timex_loop_time_constant",
    "Time constant of the phase-locked loop.",
);
const TICK: Desc = gauge(
    "node_timex_tick_seconds",
    "Length of one clock tick in seconds.",
);
const PPS_FREQUENCY: Desc = gauge(
    "node_timex_pps_frequency_hertz",
    "Frequency from the pulse-per-second signal.",
);
const PPS_JITTER: Desc = gauge(
    "node_timex_pps_jitter_seconds",
    "Jitter of the pulse-per-second signal in seconds.",
);
const PPS_SHIFT: Desc = gauge(
    "node_timex_pps_shift_seconds",
    "Calibration interval of the pulse-per-second signal, as a power of 2 seconds.",
);
const PPS_STABILITY: Desc = gauge(
    "node_timex_pps_stability_hertz",
    "Stability of the pulse-per-second signal: the average of recent frequency changes.",
);
const PPS_JITTER_COUNT: Desc = counter(
    "node_timex_pps_jitter_total",
    "Pulse-per-second events that exceeded the jitter limit.",
);
const PPS_CALIBRATIONS: Desc = counter(
    "node_timex_pps_calibration_total",
    "Pulse-per-second calibration intervals.",
);
const PPS_ERRORS: Desc = counter(
    "node_timex_pps_error_total",
    "Pulse-per-second calibration errors.",
);
const PPS_STABILITY_EXCEEDED: Desc = counter(
    "node_timex_pps_stability_exceeded_total",
    "Pulse-per-second events that exceeded the stability limit.",
);
const TAI_OFFSET: Desc = gauge(
    "node_timex_tai_offset_seconds",
    "Offset of International Atomic Time (TAI) from UTC in seconds.",
);

pub fn build(_config: &NodeConfig) -> Result<AnyCollector, BuildError> {
    Ok(AnyCollector::blocking(TimexCollector))
}

pub struct TimexCollector;

impl BlockingCollector for TimexCollector {
    fn collect(&self, sink: &mut MetricSink) -> Result<(), CollectError> {
        // SAFETY: an all-zero `timex` has modes 0, which makes adjtimex read without changing.
        let mut timex: libc::timex = unsafe { std::mem::zeroed() };
        // SAFETY: `timex` is a valid, writable struct for the duration of the call.
        let state = unsafe { libc::adjtimex(&mut timex) };
        if state < 0 {
            let error = std::io::Error::last_os_error();
            if error.kind() == std::io::ErrorKind::PermissionDenied {
                return Err(CollectError::no_data(format!(
                    "adjtimex is not permitted: {error}"
                )));
            }
            return Err(CollectError::failed(format!("adjtimex failed: {error}")));
        }
        let divisor = if timex.status & STA_NANO != 0 {
            1e9
        } else {
            MICROSECONDS
        };
        let synced = if state == TIME_ERROR { 0.0 } else { 1.0 };
        let values = [
            (&SYNC_STATUS, synced),
            (&OFFSET, timex.offset as f64 / divisor),
            (&FREQUENCY, 1.0 + timex.freq as f64 / PPM_16_FRACTION),
            (&MAX_ERROR, timex.maxerror as f64 / MICROSECONDS),
            (&ESTIMATED_ERROR, timex.esterror as f64 / MICROSECONDS),
            (&STATUS, timex.status as f64),
            (&CONSTANT, timex.constant as f64),
            (&TICK, timex.tick as f64 / MICROSECONDS),
            (&PPS_FREQUENCY, timex.ppsfreq as f64 / PPM_16_FRACTION),
            (&PPS_JITTER, timex.jitter as f64 / divisor),
            (&PPS_SHIFT, timex.shift as f64),
            (&PPS_STABILITY, timex.stabil as f64 / PPM_16_FRACTION),
            (&PPS_JITTER_COUNT, timex.jitcnt as f64),
            (&PPS_CALIBRATIONS, timex.calcnt as f64),
            (&PPS_ERRORS, timex.errcnt as f64),
            (&PPS_STABILITY_EXCEEDED, timex.stbcnt as f64),
            (&TAI_OFFSET, timex.tai as f64),
        ];
        for (desc, value) in values {
            sink.add(desc, &[], value);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::test_support::samples;

    #[test]
    fn reads_clock_state() {
        let got = samples(&TimexCollector);
        assert_eq!(got.len(), 17);
        assert!(got["node_timex_tick_seconds"] > 0.0);
        let ratio = got["node_timex_frequency_adjustment_ratio"];
        assert!((0.99..1.01).contains(&ratio), "{ratio}");
    }
}
