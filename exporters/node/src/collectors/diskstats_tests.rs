use super::*;
use crate::collectors::test_support::{collect, samples, write_tree};

const DISKSTATS: &str = "\
   8       0 sda 100 2 800 40 50 3 400 60 1 70 110
   8       1 sda1 10 0 80 4 5 0 40 6 0 7 11
 259       0 nvme0n1 200 4 1600 80 100 6 800 120 2 140 220 9 1 72 5
 252       0 dm-0 300 6 2400 120 150 9 1200 180 3 210 330 10 2 80 6 4 9
   7       0 loop0 1 0 2 0 0 0 0 0 0 0 0
   8      16 sdb 1 2 3
   8      32 sdc 1 2 x 4 5 6 7 8 9 10 11
";

const SDA_UDEV: &str = "\
S:disk/by-id/ata-EXAMPLE
E:ID_ATA=1
E:ID_MODEL=EXAMPLE_DISK
E:ID_REVISION=1.0
E:ID_SERIAL=EXAMPLE_DISK_S123
E:ID_SERIAL_SHORT=S123
E:ID_PATH=pci-0000:00:1f.2-ata-1
E:ID_WWN=0x5000c500abcdef01
E:ID_ATA_WRITE_CACHE=1
E:ID_ATA_WRITE_CACHE_ENABLED=0
E:ID_ATA_ROTATION_RATE_RPM=5400
E:ID_FS_TYPE=LVM2_member
E:ID_FS_USAGE=raid
E:ID_FS_UUID=abc-def
E:ID_FS_VERSION=LVM2 001
";

const DM_UDEV: &str = "\
E:DM_NAME=vg0-root
E:DM_UUID=LVM-abc
E:DM_VG_NAME=vg0
E:DM_LV_NAME=root
E:ID_SERIAL=virtio-only
";

fn tree() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write_tree(
        dir.path(),
        &[
            ("proc/diskstats", DISKSTATS),
            ("udev/b8:0", SDA_UDEV),
            ("udev/b252:0", DM_UDEV),
            ("sys/block/sda/queue/rotational", "1\n"),
            ("sys/block/nvme0n1/queue/rotational", "0\n"),
        ],
    );
    dir
}

fn collector(dir: &tempfile::TempDir, filter: DeviceFilter) -> DiskstatsCollector {
    DiskstatsCollector {
        procfs: dir.path().join("proc"),
        sysfs: dir.path().join("sys"),
        udev_data: Some(dir.path().join("udev")),
        filter,
    }
}

fn default_filter() -> DeviceFilter {
    DeviceFilter {
        exclude: Some(Regex::new(DEFAULT_EXCLUDE).unwrap()),
        include: None,
    }
}

fn count(got: &std::collections::BTreeMap<String, f64>, device: &str) -> usize {
    let label = format!("{{device=\"{device}\"}}");
    got.keys()
        .filter(|k| k.starts_with("node_disk_") && k.ends_with(&label))
        .count()
}

#[test]
fn fourteen_field_line() {
    let dir = tree();
    let got = samples(&collector(&dir, default_filter()));
    assert_eq!(
        got[r#"node_disk_reads_completed_total{device="sda"}"#],
        100.0
    );
    assert_eq!(
        got[r#"node_disk_read_bytes_total{device="sda"}"#],
        800.0 * 512.0
    );
    assert_eq!(
        got[r#"node_disk_write_time_seconds_total{device="sda"}"#],
        0.06
    );
    assert_eq!(got[r#"node_disk_io_now{device="sda"}"#], 1.0);
    assert_eq!(
        got[r#"node_disk_io_time_weighted_seconds_total{device="sda"}"#],
        0.11
    );
    assert!(!got.contains_key(r#"node_disk_discards_completed_total{device="sda"}"#));
    assert_eq!(count(&got, "sda") - 3, 11, "11 counters plus 3 ATA gauges");
}

#[test]
fn eighteen_field_line() {
    let dir = tree();
    let got = samples(&collector(&dir, default_filter()));
    assert_eq!(count(&got, "nvme0n1"), 15);
    assert_eq!(
        got[r#"node_disk_discarded_sectors_total{device="nvme0n1"}"#],
        72.0
    );
    assert_eq!(
        got[r#"node_disk_discard_time_seconds_total{device="nvme0n1"}"#],
        0.005
    );
    assert!(!got.contains_key(r#"node_disk_flush_requests_total{device="nvme0n1"}"#));
}

#[test]
fn twenty_field_line() {
    let dir = tree();
    let got = samples(&collector(&dir, default_filter()));
    assert_eq!(count(&got, "dm-0"), 17);
    assert_eq!(got[r#"node_disk_flush_requests_total{device="dm-0"}"#], 4.0);
    assert_eq!(
        got[r#"node_disk_flush_requests_time_seconds_total{device="dm-0"}"#],
        9.0 * 0.001
    );
}

#[test]
fn short_and_malformed_lines_are_skipped() {
    let dir = tree();
    let got = samples(&collector(&dir, default_filter()));
    assert_eq!(count(&got, "sdb"), 0);
    assert_eq!(count(&got, "sdc"), 0);
}

#[test]
fn default_exclude_drops_partitions_and_loop() {
    let dir = tree();
    let got = samples(&collector(&dir, default_filter()));
    assert_eq!(count(&got, "sda1"), 0);
    assert_eq!(count(&got, "loop0"), 0);
}

#[test]
fn include_filter() {
    let dir = tree();
    let filter = DeviceFilter {
        exclude: None,
        include: Some(Regex::new("^sda").unwrap()),
    };
    let got = samples(&collector(&dir, filter));
    assert_eq!(count(&got, "sda1"), 11);
    assert_eq!(count(&got, "nvme0n1"), 0);
}

#[test]
fn udev_info_families() {
    let dir = tree();
    let got = samples(&collector(&dir, default_filter()));
    let sda = r#"node_disk_info{device="sda",major="8",minor="0",path="pci-0000:00:1f.2-ata-1",wwn="0x5000c500abcdef01",model="EXAMPLE_DISK",serial="S123",revision="1.0",rotational="1"}"#;
    assert_eq!(got[sda], 1.0);
    let fs = r#"node_disk_filesystem_info{device="sda",type="LVM2_member",usage="raid",uuid="abc-def",version="LVM2 001"}"#;
    assert_eq!(got[fs], 1.0);
    assert_eq!(
        got[r#"node_disk_ata_rotation_rate_rpm{device="sda"}"#],
        5400.0
    );
    assert_eq!(
        got[r#"node_disk_ata_write_cache_enabled{device="sda"}"#],
        0.0
    );
    let dm = r#"node_disk_device_mapper_info{device="dm-0",name="vg0-root",uuid="LVM-abc",vg_name="vg0",lv_name="root",lv_layer=""}"#;
    assert_eq!(got[dm], 1.0);
    let dm_info = r#"node_disk_info{device="dm-0",major="252",minor="0",path="",wwn="",model="",serial="virtio-only",revision="",rotational="0"}"#;
    assert_eq!(got[dm_info], 1.0);
}

#[test]
fn without_udev_database() {
    let dir = tree();
    let mut diskstats = collector(&dir, default_filter());
    diskstats.udev_data = None;
    let got = samples(&diskstats);
    let nvme = r#"node_disk_info{device="nvme0n1",major="259",minor="0",path="",wwn="",model="",serial="",revision="",rotational="0"}"#;
    assert_eq!(got[nvme], 1.0);
    assert!(!got.keys().any(|k| k.starts_with("node_disk_ata")));
}

#[test]
fn missing_diskstats_is_no_data() {
    let dir = tempfile::tempdir().unwrap();
    let (outcome, _) = collect(&collector(&dir, default_filter()));
    assert!(matches!(outcome, Err(CollectError::NoData(_))));
}
