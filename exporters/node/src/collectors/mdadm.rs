//! mdadm collector: software RAID arrays from /proc/mdstat, and the member count and degraded
//! disks of each array from /sys/block/md*/md/. The mdstat format is printed by the kernel's
//! drivers/md/md.c (`md_seq_show`).

use std::path::Path;
use std::sync::LazyLock;

use exporter_core::collector::BuildError;
use exporter_core::{AnyCollector, BlockingCollector, CollectError, Desc, MetricSink};
use regex::Regex;
use tracing::debug;

use super::sysfs::{list_dir, parse_u64, read_attr, read_text};
use super::NodeConfig;

const STATE: Desc = Desc::gauge(
    "node_md_state",
    "Whether the md device is in the given state (1) or not (0).",
    &["device", "state"],
);
const DISKS: Desc = Desc::gauge(
    "node_md_disks",
    "Number of active, failed or spare member disks of the md device.",
    &["device", "state"],
);
const DISKS_REQUIRED: Desc = Desc::gauge(
    "node_md_disks_required",
    "Number of member disks the md device needs to be complete.",
    &["device"],
);
const BLOCKS: Desc = Desc::gauge(
    "node_md_blocks",
    "Size of the md device in 1 KiB blocks.",
    &["device"],
);
const BLOCKS_SYNCED: Desc = Desc::gauge(
    "node_md_blocks_synced",
    "Number of 1 KiB blocks synced by the running resync, recovery or check.",
    &["device"],
);
const RAID_DISKS: Desc = Desc::gauge(
    "node_md_raid_disks",
    "Number of member disks of the md device when it is fully functional, from sysfs.",
    &["device"],
);
const DEGRADED: Desc = Desc::gauge(
    "node_md_degraded",
    "Number of missing member disks of the md device, from sysfs.",
    &["device"],
);

/// States reported by `node_md_state`, with the mdstat activity that sets each.
const STATES: [(&str, &str); 5] = [
    ("active", "active"),
    ("inactive", "inactive"),
    ("recovering", "recovering"),
    ("resync", "resyncing"),
    ("check", "checking"),
];

static STATUS_LINE: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"(\d+) blocks .*\[(\d+)/(\d+)\] \[([U_]+)\]").ok());
static SYNC_BLOCKS: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"\((\d+)/(\d+)\)").ok());

/// One array of /proc/mdstat.
#[derive(Debug, Default, PartialEq)]
pub struct MdStat {
    pub name: String,
    /// `active`, `inactive`, or the running sync action: `recovering`, `resyncing`, `checking`
    /// or `reshaping`.
    pub activity: String,
    pub disks_active: u64,
    pub disks_total: u64,
    pub disks_failed: u64,
    pub disks_spare: u64,
    pub blocks_total: u64,
    pub blocks_synced: u64,
}

/// Parses /proc/mdstat. A device whose lines do not parse is skipped and logged.
pub fn parse_mdstat(text: &str) -> Vec<MdStat> {
    let lines: Vec<&str> = text.lines().collect();
    let mut arrays = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty()
            || line.starts_with(' ')
            || line.starts_with('\t')
            || line.starts_with("unused")
            || line.starts_with("Personalities")
        {
            continue;
        }
        let next = |offset: usize| lines.get(i + offset).copied().unwrap_or("");
        match parse_array(line, next(1), next(2), next(3)) {
            Some(array) => arrays.push(array),
            None => debug!(line, "Skipped an unparsable md device in mdstat"),
        }
    }
    arrays
}

fn parse_array(device: &str, status: &str, line2: &str, line3: &str) -> Option<MdStat> {
    let fields: Vec<&str> = device.split_whitespace().collect();
    if fields.len() < 3 {
        return None;
    }
    let (active, total, size) = parse_status(device, status)?;
    let sync_line = if line2.contains("bitmap") {
        line3
    } else {
        line2
    };

    let mut activity = fields[2].to_owned();
    let mut synced = size;
    let action = [
        ("recovery", "recovering"),
        ("reshape", "reshaping"),
        ("check", "checking"),
        ("resync", "resyncing"),
    ]
    .iter()
    .find(|(word, _)| sync_line.contains(word));
    if let Some((_, name)) = action {
        activity = (*name).to_owned();
        if sync_line.contains("PENDING") || sync_line.contains("DELAYED") {
            synced = 0;
        } else {
            let captures = SYNC_BLOCKS.as_ref()?.captures(sync_line)?;
            synced = captures[1].parse().ok()?;
        }
    }

    Some(MdStat {
        name: fields[0].to_owned(),
        activity,
        disks_active: active,
        disks_total: total,
        disks_failed: device.matches("(F)").count() as u64,
        disks_spare: device.matches("(S)").count() as u64,
        blocks_total: size,
        blocks_synced: synced,
    })
}

/// Returns (active disks, required disks, size in blocks) from the line after the device line.
/// raid0 and linear arrays have no `[n/m]` part, so all their listed members count as active.
fn parse_status(device: &str, status: &str) -> Option<(u64, u64, u64)> {
    let size = parse_u64(status.split_whitespace().next()?)?;
    if device.contains("raid0") || device.contains("linear") {
        let members = device.matches('[').count() as u64;
        return Some((members, members, size));
    }
    if device.contains("inactive") {
        return Some((0, 0, size));
    }
    let captures = STATUS_LINE.as_ref()?.captures(status)?;
    let total = captures[2].parse().ok()?;
    let active = captures[3].parse().ok()?;
    Some((active, total, size))
}

/// Member count and degraded disks of one array from /sys/block/<md>/md.
#[derive(Debug, PartialEq)]
pub struct MdRaid {
    pub device: String,
    pub raid_disks: Option<u64>,
    pub degraded: u64,
}

/// Reads /sys/block/md*/md for each array. Containers (imsm, ddf) have no raid_disks, and only
/// redundant levels have a degraded count.
pub fn read_mdraids(block: &Path) -> Result<Vec<MdRaid>, CollectError> {
    let mut raids = Vec::new();
    for (name, path) in list_dir(block)? {
        let md = path.join("md");
        if !name.starts_with("md") || !md.is_dir() {
            continue;
        }
        let level = read_attr(&md.join("level")).unwrap_or_default();
        let raid_disks = match level.as_str() {
            "" | "container" | "imsm" | "ddf" => None,
            _ => read_attr(&md.join("raid_disks"))
                .and_then(|text| text.split_whitespace().next().and_then(parse_u64)),
        };
        let degraded = match level.as_str() {
            "raid1" | "raid4" | "raid5" | "raid6" | "raid10" => read_attr(&md.join("degraded"))
                .and_then(|text| parse_u64(&text))
                .unwrap_or(0),
            _ => 0,
        };
        raids.push(MdRaid {
            device: name,
            raid_disks,
            degraded,
        });
    }
    Ok(raids)
}

struct Mdadm {
    mdstat: std::path::PathBuf,
    block: std::path::PathBuf,
}

pub fn build(config: &NodeConfig) -> Result<AnyCollector, BuildError> {
    Ok(AnyCollector::blocking(Mdadm {
        mdstat: config.proc("mdstat"),
        block: config.sys("block"),
    }))
}

impl BlockingCollector for Mdadm {
    fn collect(&self, sink: &mut MetricSink) -> Result<(), CollectError> {
        let text = read_text(&self.mdstat)?;
        for array in parse_mdstat(&text) {
            add_mdstat(sink, &array);
        }
        for raid in read_mdraids(&self.block)? {
            if let Some(disks) = raid.raid_disks {
                sink.add(&RAID_DISKS, &[&raid.device], disks as f64);
            }
            sink.add(&DEGRADED, &[&raid.device], raid.degraded as f64);
        }
        Ok(())
    }
}

fn add_mdstat(sink: &mut MetricSink, array: &MdStat) {
    let name = array.name.as_str();
    sink.add(&DISKS_REQUIRED, &[name], array.disks_total as f64);
    sink.add(&DISKS, &[name, "active"], array.disks_active as f64);
    sink.add(&DISKS, &[name, "failed"], array.disks_failed as f64);
    sink.add(&DISKS, &[name, "spare"], array.disks_spare as f64);
    for (state, activity) in STATES {
        let value = if array.activity == activity { 1.0 } else { 0.0 };
        sink.add(&STATE, &[name, state], value);
    }
    sink.add(&BLOCKS, &[name], array.blocks_total as f64);
    sink.add(&BLOCKS_SYNCED, &[name], array.blocks_synced as f64);
}

#[cfg(test)]
mod tests {
    use super::*;

    const MDSTAT: &str = "Personalities : [raid0] [raid1] [raid5]
md1 : active raid1 sdb1[1] sda1[0] sdc1[2](S)
      1000 blocks [2/2] [UU]
      [==>..........]  resync = 20.0% (200/1000) finish=1.0min speed=100K/sec

md2 : active raid5 sdd1[0] sde1[1] sdf1[2](F)
      2000 blocks super 1.2 level 5, 512k chunk, algorithm 2 [3/2] [UU_]
      bitmap: 0/1 pages [0KB], 65536KB chunk
      [=>............]  recovery = 10.0% (100/1000) finish=2.0min speed=50K/sec

md3 : active raid5 sdg1[0] sdh1[1] sdi1[2] sdj1[3]
      3000 blocks super 1.2 level 5, 64k chunk, algorithm 2 [4/4] [UUUU]
      [====>........]  reshape = 40.0% (400/1000) finish=3.0min speed=10K/sec

md4 : active raid0 sdk1[0] sdl1[1]
      4000 blocks 64k chunks
md5 : active raid1 sdm1[0] sdn1[1]
      5000 blocks [2/2] [UU]
      resync=DELAYED

unused devices: <none>
";

    fn find<'a>(arrays: &'a [MdStat], name: &str) -> &'a MdStat {
        arrays.iter().find(|a| a.name == name).unwrap()
    }

    #[test]
    fn mdstat_during_resync() {
        let arrays = parse_mdstat(MDSTAT);
        let md1 = find(&arrays, "md1");
        assert_eq!(md1.activity, "resyncing");
        assert_eq!(md1.blocks_synced, 200);
        assert_eq!(md1.blocks_total, 1000);
        assert_eq!(md1.disks_spare, 1);
        assert_eq!(md1.disks_active, 2);
    }

    #[test]
    fn mdstat_recovery_after_bitmap_line() {
        let arrays = parse_mdstat(MDSTAT);
        let md2 = find(&arrays, "md2");
        assert_eq!(md2.activity, "recovering");
        assert_eq!(md2.blocks_synced, 100);
        assert_eq!(md2.disks_failed, 1);
        assert_eq!(md2.disks_total, 3);
        assert_eq!(md2.disks_active, 2);
    }

    #[test]
    fn mdstat_during_reshape() {
        let arrays = parse_mdstat(MDSTAT);
        let md3 = find(&arrays, "md3");
        assert_eq!(md3.activity, "reshaping");
        assert_eq!(md3.blocks_synced, 400);
        assert_eq!(md3.disks_total, 4);
    }

    #[test]
    fn mdstat_raid0_without_status() {
        let arrays = parse_mdstat(MDSTAT);
        let md4 = find(&arrays, "md4");
        assert_eq!(md4.activity, "active");
        assert_eq!(md4.disks_active, 2);
        assert_eq!(md4.disks_total, 2);
        assert_eq!(md4.blocks_synced, 4000);
    }

    #[test]
    fn mdstat_delayed_resync_has_zero_synced() {
        let arrays = parse_mdstat(MDSTAT);
        let md5 = find(&arrays, "md5");
        assert_eq!(md5.activity, "resyncing");
        assert_eq!(md5.blocks_synced, 0);
    }

    #[test]
    fn mdstat_skips_truncated_device() {
        let arrays = parse_mdstat("md9 : active raid1 sda1[0]\n");
        assert!(arrays.is_empty());
    }

    #[test]
    fn mdraid_from_sysfs() {
        let dir = tempfile::tempdir().unwrap();
        let md = dir.path().join("md7/md");
        std::fs::create_dir_all(&md).unwrap();
        std::fs::write(md.join("level"), "raid1\n").unwrap();
        std::fs::write(md.join("raid_disks"), "2\n").unwrap();
        std::fs::write(md.join("degraded"), "1\n").unwrap();
        std::fs::create_dir_all(dir.path().join("sda")).unwrap();
        let raids = read_mdraids(dir.path()).unwrap();
        assert_eq!(
            raids,
            vec![MdRaid {
                device: "md7".into(),
                raid_disks: Some(2),
                degraded: 1
            }]
        );
    }
}
