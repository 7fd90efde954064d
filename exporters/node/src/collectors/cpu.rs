//! The cpu collector: seconds per CPU and mode from /proc/stat, thermal throttle counts from
//! /sys/devices/system/cpu/cpuN/thermal_throttle, isolated CPUs from
//! /sys/devices/system/cpu/isolated, online state from /sys/devices/system/cpu/cpuN/online, and
//! with `--collector.cpu.info` the families of [`super::cpuinfo`].
//!
//! The kernel's per-CPU counters can step backwards (iowait is documented to do so in proc(5),
//! and a CPU that is unplugged and plugged back restarts at 0). The collector keeps the last value
//! of each counter and exports the larger one, so that the counters never decrease. When idle
//! drops by 3 seconds or more, the CPU is taken to have been replugged and its cache restarts.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use clap::Arg;
use exporter_core::collector::BuildError;
use exporter_core::{AnyCollector, BlockingCollector, CollectError, Desc, MetricSink};
use regex::Regex;
use tracing::{debug, info, warn};

use super::attr;
use super::cpuinfo::{self, InfoOptions};
use super::net_common::{bool_args, bool_value};
use super::procstat::{self, CpuTimes};
use super::{util, NodeConfig};

const SECONDS: Desc = Desc::counter(
    "node_cpu_seconds_total",
    "Seconds each CPU spent in each mode, from /proc/stat.",
    &["cpu", "mode"],
);
const GUEST: Desc = Desc::counter(
    "node_cpu_guest_seconds_total",
    "Seconds each CPU spent running guests (virtual machines); also counted in user and nice.",
    &["cpu", "mode"],
);
const CORE_THROTTLES: Desc = Desc::counter(
    "node_cpu_core_throttles_total",
    "Times the kernel throttled a CPU core because of its temperature.",
    &["package", "core"],
);
const PACKAGE_THROTTLES: Desc = Desc::counter(
    "node_cpu_package_throttles_total",
    "Times the kernel throttled a CPU package because of its temperature.",
    &["package"],
);
const ISOLATED: Desc = Desc::gauge(
    "node_cpu_isolated",
    "CPUs listed in /sys/devices/system/cpu/isolated, which the scheduler keeps tasks off.",
    &["cpu"],
);
const ONLINE: Desc = Desc::gauge(
    "node_cpu_online",
    "Whether each CPU is online (1) or offline (0).",
    &["cpu"],
);

/// Drop of the idle counter, in seconds, from which a CPU counts as replugged.
const IDLE_JUMP_BACK_SECONDS: f64 = 3.0;

/// Returns the option flags of the cpu collector.
pub fn args() -> Vec<Arg> {
    let mut args = Vec::new();
    args.extend(bool_args(
        "collector.cpu.guest",
        true,
        "Export node_cpu_guest_seconds_total",
    ));
    args.extend(bool_args(
        "collector.cpu.info",
        false,
        "Export node_cpu_info and the other families read from /proc/cpuinfo",
    ));
    args.push(
        Arg::new("collector.cpu.info.flags-include")
            .long("collector.cpu.info.flags-include")
            .help("Regular expression of the CPU flags to export as node_cpu_flag_info; implies --collector.cpu.info"),
    );
    args.push(
        Arg::new("collector.cpu.info.bugs-include")
            .long("collector.cpu.info.bugs-include")
            .help("Regular expression of the CPU bugs to export as node_cpu_bug_info; implies --collector.cpu.info"),
    );
    args
}

pub fn build(config: &NodeConfig) -> Result<AnyCollector, BuildError> {
    let compile = |name: &str| -> Result<Option<Regex>, BuildError> {
        match config.string(name).filter(|s| !s.is_empty()) {
            Some(pattern) => Regex::new(&pattern)
                .map(Some)
                .map_err(|e| format!("--{name} is not a valid regular expression: {e}").into()),
            None => Ok(None),
        }
    };
    let flags_include = compile("collector.cpu.info.flags-include")?;
    let bugs_include = compile("collector.cpu.info.bugs-include")?;
    let mut info_enabled = bool_value(config, "collector.cpu.info", false);
    if !info_enabled && (flags_include.is_some() || bugs_include.is_some()) {
        info!("Enabled --collector.cpu.info because a flags-include or bugs-include filter is set");
        info_enabled = true;
    }
    let frequency =
        exporter_core::collector::enabled_collectors(super::COLLECTORS, &config.matches)
            .contains(&"cpufreq");
    let info = info_enabled.then_some(InfoOptions {
        flags_include,
        bugs_include,
        frequency,
    });
    let guest = bool_value(config, "collector.cpu.guest", true);
    let collector = CpuCollector::new(config.procfs.clone(), config.sysfs.clone(), guest, info);
    Ok(AnyCollector::blocking(collector))
}

pub struct CpuCollector {
    procfs: PathBuf,
    sysfs: PathBuf,
    guest: bool,
    info: Option<InfoOptions>,
    /// CPUs of /sys/devices/system/cpu/isolated, read once at start-up as node_exporter does.
    isolated: Vec<u32>,
    /// Last exported times of each CPU, which keep the counters from going backwards.
    last: Mutex<BTreeMap<u32, CpuTimes>>,
}

impl CpuCollector {
    pub fn new(
        procfs: PathBuf,
        sysfs: PathBuf,
        guest: bool,
        info: Option<InfoOptions>,
    ) -> CpuCollector {
        CpuCollector {
            isolated: read_isolated(&sysfs),
            procfs,
            sysfs,
            guest,
            info,
            last: Mutex::new(BTreeMap::new()),
        }
    }

    fn add_times(&self, sink: &mut MetricSink) -> Result<(), CollectError> {
        let text = util::read_file(&self.procfs.join("stat"))?;
        let current = procstat::parse(&text).cpus;
        let mut last = self
            .last
            .lock()
            .map_err(|_| CollectError::failed("the CPU times cache is poisoned"))?;
        update_guarded(&mut last, &current);
        for (cpu, times) in last.iter() {
            let cpu = cpu.to_string();
            let modes = [
                ("user", times.user),
                ("nice", times.nice),
                ("system", times.system),
                ("idle", times.idle),
                ("iowait", times.iowait),
                ("irq", times.irq),
                ("softirq", times.softirq),
                ("steal", times.steal),
            ];
            for (mode, seconds) in modes {
                sink.add(&SECONDS, &[&cpu, mode], seconds);
            }
            if self.guest {
                sink.add(&GUEST, &[&cpu, "user"], times.guest);
                sink.add(&GUEST, &[&cpu, "nice"], times.guest_nice);
            }
        }
        Ok(())
    }

    fn add_throttles(&self, sink: &mut MetricSink) -> Result<(), CollectError> {
        let mut packages: HashMap<u64, u64> = HashMap::new();
        let mut cores: HashMap<(u64, u64), u64> = HashMap::new();
        for (_, dir) in attr::numbered_entries(&self.sysfs.join("devices/system/cpu"), "cpu")? {
            let package = attr::read_u64_attr(&dir.join("topology/physical_package_id"));
            let core = attr::read_u64_attr(&dir.join("topology/core_id"));
            let (Ok(Some(package)), Ok(Some(core))) = (package, core) else {
                debug!(cpu = %dir.display(), "CPU has no readable topology, skipped");
                continue;
            };
            // Cores and packages are shared by several logical CPUs, so each count is read from
            // the first CPU that has it.
            let throttle = |file: &str| {
                attr::read_u64_attr(&dir.join("thermal_throttle").join(file))
                    .ok()
                    .flatten()
            };
            if let Entry::Vacant(slot) = cores.entry((package, core)) {
                if let Some(count) = throttle("core_throttle_count") {
                    slot.insert(count);
                }
            }
            if let Entry::Vacant(slot) = packages.entry(package) {
                if let Some(count) = throttle("package_throttle_count") {
                    slot.insert(count);
                }
            }
        }
        for (package, count) in packages {
            sink.add(&PACKAGE_THROTTLES, &[&package.to_string()], count as f64);
        }
        for ((package, core), count) in cores {
            let labels = [package.to_string(), core.to_string()];
            sink.add(&CORE_THROTTLES, &[&labels[0], &labels[1]], count as f64);
        }
        Ok(())
    }

    fn add_online(&self, sink: &mut MetricSink) -> Result<(), CollectError> {
        let cpus = attr::numbered_entries(&self.sysfs.join("devices/system/cpu"), "cpu")?;
        // Without an online file on the first CPU the kernel has no CPU hotplug support.
        let Some((_, first)) = cpus.first() else {
            return Ok(());
        };
        if !first.join("online").exists() {
            return Ok(());
        }
        for (number, dir) in &cpus {
            let online = attr::read_attr(&dir.join("online")).ok().flatten();
            let value = if online.as_deref() == Some("1") {
                1.0
            } else {
                0.0
            };
            sink.add(&ONLINE, &[number], value);
        }
        Ok(())
    }
}

/// Reads the isolated CPUs. Unlike node_exporter, which then fails to start, an unreadable or
/// invalid file is logged and leaves node_cpu_isolated empty, so the other CPU metrics still work.
fn read_isolated(sysfs: &Path) -> Vec<u32> {
    let path = sysfs.join("devices/system/cpu/isolated");
    let parsed = match attr::read_attr(&path) {
        Ok(Some(text)) => attr::parse_cpu_list(&text),
        Ok(None) => Ok(Vec::new()),
        Err(e) => Err(e.to_string()),
    };
    parsed.unwrap_or_else(|error| {
        warn!(path = %path.display(), error, "Failed to read the isolated CPUs, node_cpu_isolated is left out");
        Vec::new()
    })
}

/// Merges the `current` times into `last`, keeping each counter at its maximum, and removes CPUs
/// that are gone from `current`.
pub fn update_guarded(last: &mut BTreeMap<u32, CpuTimes>, current: &BTreeMap<u32, CpuTimes>) {
    for (cpu, new) in current {
        let mut guarded = last.get(cpu).copied().unwrap_or_default();
        if guarded.idle - new.idle >= IDLE_JUMP_BACK_SECONDS {
            debug!(
                cpu,
                old = guarded.idle,
                new = new.idle,
                "CPU idle counter dropped by 3 seconds or more, likely a hotplug; restarting its counters"
            );
            guarded = CpuTimes::default();
        }
        for (mode, guarded_value, new_value) in paired_modes(&mut guarded, new) {
            if new_value >= *guarded_value {
                *guarded_value = new_value;
            } else {
                debug!(
                    cpu,
                    mode,
                    old = *guarded_value,
                    new = new_value,
                    "CPU counter went backwards, keeping the old value"
                );
            }
        }
        last.insert(*cpu, guarded);
    }
    last.retain(|cpu, _| current.contains_key(cpu));
}

fn paired_modes<'a>(
    guarded: &'a mut CpuTimes,
    new: &CpuTimes,
) -> [(&'static str, &'a mut f64, f64); 10] {
    [
        ("user", &mut guarded.user, new.user),
        ("nice", &mut guarded.nice, new.nice),
        ("system", &mut guarded.system, new.system),
        ("idle", &mut guarded.idle, new.idle),
        ("iowait", &mut guarded.iowait, new.iowait),
        ("irq", &mut guarded.irq, new.irq),
        ("softirq", &mut guarded.softirq, new.softirq),
        ("steal", &mut guarded.steal, new.steal),
        ("guest", &mut guarded.guest, new.guest),
        ("guest_nice", &mut guarded.guest_nice, new.guest_nice),
    ]
}

impl BlockingCollector for CpuCollector {
    fn collect(&self, sink: &mut MetricSink) -> Result<(), CollectError> {
        if let Some(options) = &self.info {
            let text = attr::read_lossy(&self.procfs.join("cpuinfo"))?;
            cpuinfo::add_info(&cpuinfo::parse(&text), options, sink);
        }
        self.add_times(sink)?;
        for cpu in &self.isolated {
            sink.add(&ISOLATED, &[&cpu.to_string()], 1.0);
        }
        self.add_throttles(sink)?;
        self.add_online(sink)
    }
}

#[cfg(test)]
#[path = "cpu_tests.rs"]
mod tests;
