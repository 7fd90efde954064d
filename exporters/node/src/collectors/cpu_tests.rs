use std::collections::BTreeMap;

use super::*;
use crate::collectors::test_support::{samples, write_tree};

fn stat(idle: u64, iowait: u64) -> String {
    format!("cpu  1 1 1 1\ncpu0 500 20 300 {idle} {iowait} 0 7 0 40 10\nctxt 5\n")
}

fn tree(stat_text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write_tree(
        dir.path(),
        &[
            ("proc/stat", stat_text),
            ("sys/devices/system/cpu/isolated", "1,3-4\n"),
            (
                "sys/devices/system/cpu/cpu0/topology/physical_package_id",
                "0\n",
            ),
            ("sys/devices/system/cpu/cpu0/topology/core_id", "0\n"),
            (
                "sys/devices/system/cpu/cpu0/thermal_throttle/core_throttle_count",
                "5\n",
            ),
            (
                "sys/devices/system/cpu/cpu0/thermal_throttle/package_throttle_count",
                "9\n",
            ),
            (
                "sys/devices/system/cpu/cpu1/topology/physical_package_id",
                "0\n",
            ),
            ("sys/devices/system/cpu/cpu1/topology/core_id", "0\n"),
            (
                "sys/devices/system/cpu/cpu1/thermal_throttle/core_throttle_count",
                "77\n",
            ),
            ("sys/devices/system/cpu/cpu0/online", "1\n"),
            ("sys/devices/system/cpu/cpu1/online", "0\n"),
            (
                "sys/devices/system/cpu/cpu2/topology/physical_package_id",
                "1\n",
            ),
            ("sys/devices/system/cpu/cpu2/topology/core_id", "0\n"),
            (
                "sys/devices/system/cpu/cpu3/topology/physical_package_id",
                "1\n",
            ),
            ("sys/devices/system/cpu/cpu3/topology/core_id", "0\n"),
            (
                "sys/devices/system/cpu/cpu3/thermal_throttle/core_throttle_count",
                "4\n",
            ),
        ],
    );
    dir
}

fn collector(dir: &tempfile::TempDir, guest: bool) -> CpuCollector {
    CpuCollector::new(dir.path().join("proc"), dir.path().join("sys"), guest, None)
}

#[test]
fn seconds_per_mode() {
    let dir = tree(&stat(9000, 30));
    let got = samples(&collector(&dir, true));
    assert_eq!(got[r#"node_cpu_seconds_total{cpu="0",mode="user"}"#], 5.0);
    assert_eq!(got[r#"node_cpu_seconds_total{cpu="0",mode="idle"}"#], 90.0);
    assert_eq!(
        got[r#"node_cpu_seconds_total{cpu="0",mode="softirq"}"#],
        0.07
    );
    assert_eq!(
        got[r#"node_cpu_guest_seconds_total{cpu="0",mode="user"}"#],
        0.4
    );
    assert_eq!(
        got[r#"node_cpu_guest_seconds_total{cpu="0",mode="nice"}"#],
        0.1
    );
}

#[test]
fn guest_can_be_turned_off() {
    let dir = tree(&stat(9000, 30));
    let got = samples(&collector(&dir, false));
    assert!(!got.keys().any(|k| k.starts_with("node_cpu_guest")));
}

#[test]
fn backwards_iowait_keeps_old_value() {
    let dir = tree(&stat(9000, 30));
    let cpu = collector(&dir, true);
    samples(&cpu);
    std::fs::write(dir.path().join("proc/stat"), stat(9100, 10)).unwrap();
    let got = samples(&cpu);
    assert_eq!(got[r#"node_cpu_seconds_total{cpu="0",mode="iowait"}"#], 0.3);
    assert_eq!(got[r#"node_cpu_seconds_total{cpu="0",mode="idle"}"#], 91.0);
}

#[test]
fn idle_jump_back_restarts_counters() {
    let mut last = BTreeMap::new();
    let before = CpuTimes {
        idle: 100.0,
        user: 50.0,
        ..CpuTimes::default()
    };
    update_guarded(&mut last, &BTreeMap::from([(0, before)]));
    let after = CpuTimes {
        idle: 2.0,
        user: 1.0,
        ..CpuTimes::default()
    };
    update_guarded(&mut last, &BTreeMap::from([(0, after)]));
    assert_eq!(last[&0], after);
}

#[test]
fn small_idle_drop_is_held() {
    let mut last = BTreeMap::new();
    let before = CpuTimes {
        idle: 100.0,
        ..CpuTimes::default()
    };
    update_guarded(&mut last, &BTreeMap::from([(0, before)]));
    let after = CpuTimes {
        idle: 98.0,
        ..CpuTimes::default()
    };
    update_guarded(&mut last, &BTreeMap::from([(0, after)]));
    assert_eq!(last[&0].idle, 100.0);
}

#[test]
fn offline_cpu_is_forgotten() {
    let mut last = BTreeMap::new();
    let times = CpuTimes::default();
    update_guarded(&mut last, &BTreeMap::from([(0, times), (1, times)]));
    update_guarded(&mut last, &BTreeMap::from([(0, times)]));
    assert_eq!(last.len(), 1);
}

#[test]
fn throttles_isolated_and_online() {
    let dir = tree(&stat(9000, 30));
    let got = samples(&collector(&dir, true));
    assert_eq!(
        got[r#"node_cpu_core_throttles_total{package="0",core="0"}"#],
        5.0
    );
    assert_eq!(got[r#"node_cpu_package_throttles_total{package="0"}"#], 9.0);
    assert_eq!(
        got[r#"node_cpu_core_throttles_total{package="1",core="0"}"#], 4.0,
        "read from the sibling"
    );
    assert!(!got.contains_key(r#"node_cpu_package_throttles_total{package="1"}"#));
    assert_eq!(got[r#"node_cpu_isolated{cpu="3"}"#], 1.0);
    assert_eq!(
        got.keys()
            .filter(|k| k.starts_with("node_cpu_isolated"))
            .count(),
        3
    );
    assert_eq!(got[r#"node_cpu_online{cpu="0"}"#], 1.0);
    assert_eq!(got[r#"node_cpu_online{cpu="1"}"#], 0.0);
    assert_eq!(
        got[r#"node_cpu_online{cpu="2"}"#], 0.0,
        "a CPU without an online file"
    );
}

#[test]
fn missing_stat_is_no_data() {
    let dir = tempfile::tempdir().unwrap();
    let cpu = collector(&dir, true);
    let mut sink = MetricSink::new();
    let outcome = cpu.collect(&mut sink);
    assert!(matches!(outcome, Err(CollectError::NoData(_))));
}

#[test]
fn invalid_isolated_list_is_skipped() {
    let dir = tree(&stat(9000, 30));
    std::fs::write(dir.path().join("sys/devices/system/cpu/isolated"), "1-x\n").unwrap();
    let got = samples(&collector(&dir, true));
    assert!(!got.keys().any(|k| k.starts_with("node_cpu_isolated")));
    assert!(got.keys().any(|k| k.starts_with("node_cpu_seconds_total")));
}
