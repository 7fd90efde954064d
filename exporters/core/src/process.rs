//! The exporter's own metrics, named as client_golang's process collector names them, and the
//! `<exporter>_build_info` gauge.

use procfs::process::Process;
use procfs::WithCurrentSystemInfo;

use crate::cli::{rustc_version, ExporterInfo, VERSION};
use crate::metric::Desc;
use crate::sink::MetricSink;

const CPU: Desc = Desc::counter(
    "process_cpu_seconds_total",
    "Total user and system CPU time spent in seconds.",
    &[],
);
const RESIDENT: Desc = Desc::gauge(
    "process_resident_memory_bytes",
    "Resident memory size in bytes.",
    &[],
);
const VIRTUAL: Desc = Desc::gauge(
    "process_virtual_memory_bytes",
    "Virtual memory size in bytes.",
    &[],
);
const VIRTUAL_MAX: Desc = Desc::gauge(
    "process_virtual_memory_max_bytes",
    "Maximum amount of virtual memory available in bytes.",
    &[],
);
const OPEN_FDS: Desc = Desc::gauge("process_open_fds", "Number of open file descriptors.", &[]);
const MAX_FDS: Desc = Desc::gauge(
    "process_max_fds",
    "Maximum number of open file descriptors.",
    &[],
);
const START: Desc = Desc::gauge(
    "process_start_time_seconds",
    "Start time of the process since the Unix epoch in seconds.",
    &[],
);

/// Adds the process metrics of this process. A file of /proc/self that cannot be read costs only
/// the metrics read from it.
pub fn add_process_metrics(sink: &mut MetricSink) {
    let Ok(process) = Process::myself() else {
        return;
    };
    if let Ok(stat) = process.stat() {
        let ticks = procfs::ticks_per_second() as f64;
        sink.add(&CPU, &[], (stat.utime + stat.stime) as f64 / ticks);
        sink.add(&RESIDENT, &[], stat.rss_bytes().get() as f64);
        sink.add(&VIRTUAL, &[], stat.vsize as f64);
        if let Ok(boot) = procfs::boot_time_secs() {
            sink.add(&START, &[], boot as f64 + stat.starttime as f64 / ticks);
        }
    }
    if let Ok(count) = process.fd_count() {
        sink.add(&OPEN_FDS, &[], count as f64);
    }
    if let Ok(limits) = process.limits() {
        sink.add(&MAX_FDS, &[], limit_value(limits.max_open_files.soft_limit));
        sink.add(
            &VIRTUAL_MAX,
            &[],
            limit_value(limits.max_address_space.soft_limit),
        );
    }
}

fn limit_value(limit: procfs::process::LimitValue) -> f64 {
    match limit {
        // client_golang reports an unlimited resource as the largest 64-bit value.
        procfs::process::LimitValue::Unlimited => u64::MAX as f64,
        procfs::process::LimitValue::Value(v) => v as f64,
    }
}

/// Adds `<exporter>_build_info` with the labels client_golang's version collector uses. The Go
/// toolchain labels carry the Rust toolchain and target instead.
pub fn add_build_info(sink: &mut MetricSink, info: &ExporterInfo) {
    let name = format!("{}_build_info", info.name);
    let labels = [
        ("branch", ""),
        ("goarch", go_arch()),
        ("goos", std::env::consts::OS),
        ("goversion", rustc_version()),
        (
            "revision",
            option_env!("EXPORTER_REVISION").unwrap_or("unknown"),
        ),
        ("tags", "rust"),
        ("version", VERSION),
    ];
    sink.add_dynamic(
        name,
        format!(
            "Always 1; the labels give the version and revision of this {} build, the Rust \
             compiler version (goversion) and the target operating system and architecture.",
            info.name
        ),
        crate::metric::MetricType::Gauge,
        labels
            .iter()
            .map(|(k, v)| (std::borrow::Cow::Borrowed(*k), (*v).to_owned()))
            .collect(),
        crate::metric::Value::Number(1.0),
        None,
    );
}

/// Returns the target architecture under Go's name (GOARCH), as dashboards filter on it.
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "x86" => "386",
        "aarch64" => "arm64",
        "powerpc64" => "ppc64",
        "loongarch64" => "loong64",
        other => other,
    }
}

/// Reports whether the process runs with effective user id 0.
pub fn running_as_root() -> bool {
    // SAFETY: geteuid takes no arguments and POSIX defines no error for it.
    unsafe { libc::geteuid() == 0 }
}
