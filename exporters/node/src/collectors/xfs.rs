//! xfs collector: per-filesystem counters from /sys/fs/xfs/<device>/stats/stats. Each line is a
//! group keyword followed by its counters, in the order of the kernel's fs/xfs/xfs_stats.c.

use std::path::PathBuf;

use exporter_core::collector::BuildError;
use exporter_core::{AnyCollector, BlockingCollector, CollectError, Desc, MetricSink};
use tracing::debug;

use super::sysfs::{list_dir, read_text};
use super::NodeConfig;

const DEVICE: &[&str] = &["device"];

const fn counter(name: &'static str, help: &'static str) -> Desc {
    Desc::counter(name, help, DEVICE)
}

/// Group keyword, the number of values the group must have (0 for "7 or 8", the vnodes group
/// before and after it gained a free count), and (position, family) pairs.
type Group = (&'static str, usize, &'static [(usize, Desc)]);

const GROUPS: &[Group] = &[
    (
        "extent_alloc",
        4,
        &[
            (
                0,
                counter(
                    "node_xfs_extent_allocation_extents_allocated_total",
                    "Extents allocated.",
                ),
            ),
            (
                1,
                counter(
                    "node_xfs_extent_allocation_blocks_allocated_total",
                    "Blocks allocated.",
                ),
            ),
            (
                2,
                counter(
                    "node_xfs_extent_allocation_extents_freed_total",
                    "Extents freed.",
                ),
            ),
            (
                3,
                counter(
                    "node_xfs_extent_allocation_blocks_freed_total",
                    "Blocks freed.",
                ),
            ),
        ],
    ),
    (
        "abt",
        4,
        &[
            (
                0,
                counter(
                    "node_xfs_allocation_btree_lookups_total",
                    "Allocation B-tree lookups.",
                ),
            ),
            (
                1,
                counter(
                    "node_xfs_allocation_btree_compares_total",
                    "Allocation B-tree compares.",
                ),
            ),
            (
                2,
                counter(
                    "node_xfs_allocation_btree_records_inserted_total",
                    "Allocation B-tree records inserted.",
                ),
            ),
            (
                3,
                counter(
                    "node_xfs_allocation_btree_records_deleted_total",
                    "Allocation B-tree records deleted.",
                ),
            ),
        ],
    ),
    (
        "blk_map",
        7,
        &[
            (
                0,
                counter(
                    "node_xfs_block_mapping_reads_total",
                    "Block map operations for reads.",
                ),
            ),
            (
                1,
                counter(
                    "node_xfs_block_mapping_writes_total",
                    "Block map operations for writes.",
                ),
            ),
            (
                2,
                counter(
                    "node_xfs_block_mapping_unmaps_total",
                    "Block unmaps (deletes).",
                ),
            ),
            (
                3,
                counter(
                    "node_xfs_block_mapping_extent_list_insertions_total",
                    "Extent list insertions.",
                ),
            ),
            (
                4,
                counter(
                    "node_xfs_block_mapping_extent_list_deletions_total",
                    "Extent list deletions.",
                ),
            ),
            (
                5,
                counter(
                    "node_xfs_block_mapping_extent_list_lookups_total",
                    "Extent list lookups.",
                ),
            ),
            (
                6,
                counter(
                    "node_xfs_block_mapping_extent_list_compares_total",
                    "Extent list compares.",
                ),
            ),
        ],
    ),
    (
        "bmbt",
        4,
        &[
            (
                0,
                counter(
                    "node_xfs_block_map_btree_lookups_total",
                    "Block map B-tree lookups.",
                ),
            ),
            (
                1,
                counter(
                    "node_xfs_block_map_btree_compares_total",
                    "Block map B-tree compares.",
                ),
            ),
            (
                2,
                counter(
                    "node_xfs_block_map_btree_records_inserted_total",
                    "Block map B-tree records inserted.",
                ),
            ),
            (
                3,
                counter(
                    "node_xfs_block_map_btree_records_deleted_total",
                    "Block map B-tree records deleted.",
                ),
            ),
        ],
    ),
    (
        "dir",
        4,
        &[
            (
                0,
                counter(
                    "node_xfs_directory_operation_lookup_total",
                    "Directory lookups that missed the dentry cache.",
                ),
            ),
            (
                1,
                counter(
                    "node_xfs_directory_operation_create_total",
                    "Directory entries created.",
                ),
            ),
            (
                2,
                counter(
                    "node_xfs_directory_operation_remove_total",
                    "Directory entries removed.",
                ),
            ),
            (
                3,
                counter(
                    "node_xfs_directory_operation_getdents_total",
                    "getdents operations on directories.",
                ),
            ),
        ],
    ),
    (
        "ig",
        7,
        &[
            (
                0,
                counter(
                    "node_xfs_inode_operation_attempts_total",
                    "Lookups of an inode in the inode cache.",
                ),
            ),
            (
                1,
                counter(
                    "node_xfs_inode_operation_found_total",
                    "Inode cache lookups that found the inode.",
                ),
            ),
            (
                2,
                counter(
                    "node_xfs_inode_operation_recycled_total",
                    "Inode cache hits on an inode being recycled.",
                ),
            ),
            (
                3,
                counter(
                    "node_xfs_inode_operation_missed_total",
                    "Inode cache lookups that missed.",
                ),
            ),
            (
                4,
                counter(
                    "node_xfs_inode_operation_duplicates_total",
                    "Inode cache insertions that found the inode already added.",
                ),
            ),
            (
                5,
                counter(
                    "node_xfs_inode_operation_reclaims_total",
                    "Inodes reclaimed from the inode cache.",
                ),
            ),
            (
                6,
                counter(
                    "node_xfs_inode_operation_attribute_changes_total",
                    "Explicit changes of inode attributes.",
                ),
            ),
        ],
    ),
    // The kernel writes the write count first.
    (
        "rw",
        2,
        &[
            (
                0,
                counter(
                    "node_xfs_write_calls_total",
                    "write(2) calls on files of the filesystem.",
                ),
            ),
            (
                1,
                counter(
                    "node_xfs_read_calls_total",
                    "read(2) calls on files of the filesystem.",
                ),
            ),
        ],
    ),
    (
        "vnodes",
        0,
        &[
            (
                0,
                counter("node_xfs_vnode_active_total", "Vnodes not on free lists."),
            ),
            (
                1,
                counter("node_xfs_vnode_allocate_total", "vn_alloc calls."),
            ),
            (2, counter("node_xfs_vnode_get_total", "vn_get calls.")),
            (3, counter("node_xfs_vnode_hold_total", "vn_hold calls.")),
            (4, counter("node_xfs_vnode_release_total", "vn_rele calls.")),
            (
                5,
                counter("node_xfs_vnode_reclaim_total", "vn_reclaim calls."),
            ),
            (
                6,
                counter("node_xfs_vnode_remove_total", "vn_remove calls."),
            ),
        ],
    ),
];

struct Xfs {
    base: PathBuf,
}

pub fn build(config: &NodeConfig) -> Result<AnyCollector, BuildError> {
    Ok(AnyCollector::blocking(Xfs {
        base: config.sys("fs/xfs"),
    }))
}

/// Parses a stats file into (family, value) pairs. A group missing from the file reports
/// zeros, as node_exporter does. A group with a non-numeric value or the wrong number of values
/// is left out and logged.
pub fn parse_stats(text: &str) -> Vec<(&'static Desc, f64)> {
    let mut samples = Vec::new();
    for (keyword, expected, fields) in GROUPS {
        let parsed = text.lines().find_map(|line| {
            let mut parts = line.split_whitespace();
            (parts.next() == Some(*keyword)).then(|| {
                parts
                    .map(str::parse::<u64>)
                    .collect::<Result<Vec<u64>, _>>()
            })
        });
        let values = match parsed {
            None => vec![0; fields.len()],
            Some(Ok(values)) if has_expected_count(values.len(), *expected) => values,
            Some(_) => {
                debug!(group = keyword, "Skipped a malformed XFS stats group");
                continue;
            }
        };
        for (position, desc) in fields.iter() {
            samples.push((desc, values[*position] as f64));
        }
    }
    samples
}

fn has_expected_count(count: usize, expected: usize) -> bool {
    match expected {
        0 => count == 7 || count == 8,
        expected => count == expected,
    }
}

impl BlockingCollector for Xfs {
    fn collect(&self, sink: &mut MetricSink) -> Result<(), CollectError> {
        for (device, dir) in list_dir(&self.base)? {
            let path = dir.join("stats/stats");
            if !path.is_file() {
                continue;
            }
            let text = read_text(&path)?;
            for (desc, value) in parse_stats(&text) {
                sink.add(desc, &[&device], value);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(samples: &[(&'static Desc, f64)], name: &str) -> Option<f64> {
        samples
            .iter()
            .find(|(desc, _)| desc.name == name)
            .map(|(_, v)| *v)
    }

    #[test]
    fn stats_read_write_order() {
        let samples = parse_stats("rw 28 3\nextent_alloc 1 872 0 0\n");
        assert_eq!(value(&samples, "node_xfs_write_calls_total"), Some(28.0));
        assert_eq!(value(&samples, "node_xfs_read_calls_total"), Some(3.0));
        assert_eq!(
            value(
                &samples,
                "node_xfs_extent_allocation_blocks_allocated_total"
            ),
            Some(872.0)
        );
    }

    #[test]
    fn stats_vnodes_with_seven_or_eight() {
        let seven = parse_stats("vnodes 1 2 3 4 5 6 7\n");
        let eight = parse_stats("vnodes 1 2 3 4 5 6 7 8\n");
        assert_eq!(value(&seven, "node_xfs_vnode_remove_total"), Some(7.0));
        assert_eq!(value(&eight, "node_xfs_vnode_remove_total"), Some(7.0));
    }

    #[test]
    fn stats_malformed_group_is_skipped() {
        let samples = parse_stats("abt 1 2\ndir 1 x 3 4\n");
        let lookups = value(&samples, "node_xfs_allocation_btree_lookups_total");
        assert_eq!(lookups, None);
        let dir_lookups = value(&samples, "node_xfs_directory_operation_lookup_total");
        assert_eq!(dir_lookups, None);
    }

    #[test]
    fn stats_missing_group_reports_zero() {
        let samples = parse_stats("rw 1 2\n");
        assert_eq!(value(&samples, "node_xfs_vnode_active_total"), Some(0.0));
    }
}
