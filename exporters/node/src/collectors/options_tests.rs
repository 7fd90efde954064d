//! Tests of the option flags of the cpu, diskstats, stat and vmstat collectors, parsed from
//! command lines as node-exporter parses them.

use super::test_support::{config, samples, write_tree};
use super::{cpu, diskstats, stat, vmstat};

fn build_error(
    result: Result<exporter_core::AnyCollector, exporter_core::collector::BuildError>,
) -> String {
    match result {
        Ok(_) => panic!("expected the options to be rejected"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn diskstats_include_and_exclude_conflict() {
    let config = config(&[
        "--collector.diskstats.device-include=^sd",
        "--collector.diskstats.device-exclude=^loop",
    ]);
    let message = build_error(diskstats::build(&config));
    assert!(message.contains("mutually exclusive"), "{message}");
}

#[test]
fn diskstats_include_replaces_default_exclude() {
    let config = config(&["--collector.diskstats.device-include=^sda"]);
    assert!(diskstats::build(&config).is_ok());
}

#[test]
fn diskstats_deprecated_flag_conflicts() {
    let config = config(&[
        "--collector.diskstats.ignored-devices=^loop",
        "--collector.diskstats.device-exclude=^ram",
    ]);
    let message = build_error(diskstats::build(&config));
    assert!(message.contains("ignored-devices"), "{message}");
}

#[test]
fn diskstats_invalid_regex_rejected() {
    let config = config(&["--collector.diskstats.device-exclude=(sd"]);
    let message = build_error(diskstats::build(&config));
    assert!(
        message.contains("not a valid regular expression"),
        "{message}"
    );
}

#[test]
fn cpu_invalid_flags_filter_rejected() {
    let config = config(&["--collector.cpu.info.flags-include=[avx"]);
    let message = build_error(cpu::build(&config));
    assert!(message.contains("flags-include"), "{message}");
}

#[test]
fn cpu_bugs_filter_implies_info() {
    let dir = tempfile::tempdir().unwrap();
    write_tree(
        dir.path(),
        &[
            ("proc/stat", "cpu0 1 2 3 4\n"),
            (
                "proc/cpuinfo",
                "processor : 0\nbugs : spectre_v1 mds\ncpu MHz : 1000.0\n",
            ),
        ],
    );
    let procfs = format!("--path.procfs={}", dir.path().join("proc").display());
    let sysfs = format!("--path.sysfs={}", dir.path().join("sys").display());
    let args = [
        procfs.as_str(),
        &sysfs,
        "--collector.cpu.info.bugs-include=^mds$",
    ];
    let cpu = cpu::build(&config(&args)).unwrap();
    let exporter_core::AnyCollector::Blocking(cpu) = cpu else {
        panic!("the cpu collector is a blocking collector");
    };
    let got = samples(cpu.as_ref());
    assert_eq!(got[r#"node_cpu_bug_info{bug="mds"}"#], 1.0);
    assert!(!got.contains_key(r#"node_cpu_bug_info{bug="spectre_v1"}"#));
    assert!(got.keys().any(|k| k.starts_with("node_cpu_info{")));
    let frequency = r#"node_cpu_frequency_hertz{package="",core="",cpu="0"}"#;
    assert_eq!(got[frequency], 1e9, "cpufreq is enabled by default");
}

#[test]
fn cpu_frequency_follows_cpufreq_collector() {
    let dir = tempfile::tempdir().unwrap();
    write_tree(
        dir.path(),
        &[
            ("proc/stat", "cpu0 1 2 3 4\n"),
            ("proc/cpuinfo", "processor : 0\ncpu MHz : 1000.0\n"),
        ],
    );
    let procfs = format!("--path.procfs={}", dir.path().join("proc").display());
    let args = [
        procfs.as_str(),
        "--collector.cpu.info",
        "--no-collector.cpufreq",
    ];
    let exporter_core::AnyCollector::Blocking(cpu) = cpu::build(&config(&args)).unwrap() else {
        panic!("the cpu collector is a blocking collector");
    };
    let got = samples(cpu.as_ref());
    assert!(!got
        .keys()
        .any(|k| k.starts_with("node_cpu_frequency_hertz")));
}

#[test]
fn cpu_guest_flag_pair() {
    assert!(!super::net_common::bool_value(
        &config(&["--no-collector.cpu.guest"]),
        "collector.cpu.guest",
        true
    ));
    assert!(super::net_common::bool_value(
        &config(&[]),
        "collector.cpu.guest",
        true
    ));
}

#[test]
fn stat_softirq_flag() {
    let on = config(&["--collector.stat.softirq"]);
    assert!(super::net_common::bool_value(
        &on,
        "collector.stat.softirq",
        false
    ));
    assert!(stat::build(&on).is_ok());
    assert!(!super::net_common::bool_value(
        &config(&[]),
        "collector.stat.softirq",
        false
    ));
}

#[test]
fn vmstat_fields_default() {
    let config = config(&[]);
    let fields = config.string("collector.vmstat.fields");
    assert_eq!(fields.as_deref(), Some(vmstat::DEFAULT_FIELDS));
    assert_eq!(vmstat::DEFAULT_FIELDS, "^(oom_kill|pgpg|pswp|pg.*fault).*");
}

#[test]
fn go_style_single_dash_flag() {
    let config = config(&["-collector.stat.softirq"]);
    assert!(super::net_common::bool_value(
        &config,
        "collector.stat.softirq",
        false
    ));
}
