//! The bonding collector: configured and active slaves of each bonding master, from
//! /sys/class/net/bonding_masters, `<master>/bonding/slaves` and each slave's
//! `bonding_slave/mii_status` (Documentation/networking/bonding.rst).

use std::path::{Path, PathBuf};

use exporter_core::collector::BuildError;
use exporter_core::{AnyCollector, BlockingCollector, CollectError, Desc, MetricSink};

use super::net_common::{read_text, NetError};
use super::util::io_error;
use super::NodeConfig;

const SLAVES: Desc = Desc::gauge(
    "node_bonding_slaves",
    "Slave interfaces configured in a bonding interface.",
    &["master"],
);
const ACTIVE: Desc = Desc::gauge(
    "node_bonding_active",
    "Slave interfaces of a bonding interface whose MII status is up.",
    &["master"],
);

struct BondingCollector {
    class_net: PathBuf,
}

pub fn build(config: &NodeConfig) -> Result<AnyCollector, BuildError> {
    Ok(AnyCollector::blocking(BondingCollector {
        class_net: config.sys("class/net"),
    }))
}

impl BlockingCollector for BondingCollector {
    fn collect(&self, sink: &mut MetricSink) -> Result<(), CollectError> {
        let masters = read_text(&self.class_net.join("bonding_masters"))?;
        let mut counts = Vec::new();
        for master in masters.split_whitespace() {
            counts.push((master, count_slaves(&self.class_net.join(master))?));
        }
        for (master, (slaves, active)) in counts {
            sink.add(&SLAVES, &[master], slaves as f64);
            sink.add(&ACTIVE, &[master], active as f64);
        }
        Ok(())
    }
}

/// Returns the number of slaves of the master at `master_dir` and how many are up. A slave's
/// directory is `lower_<slave>` on current kernels and `slave_<slave>` on older ones.
fn count_slaves(master_dir: &Path) -> Result<(u64, u64), CollectError> {
    let slaves = read_required(&master_dir.join("bonding/slaves"))?;
    let (mut configured, mut active) = (0, 0);
    for slave in slaves.split_whitespace() {
        let lower = master_dir.join(format!("lower_{slave}/bonding_slave/mii_status"));
        let state = match std::fs::read_to_string(&lower) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                read_required(&master_dir.join(format!("slave_{slave}/bonding_slave/mii_status")))?
            }
            other => other.map_err(|e| io_error(&lower, e))?,
        };
        configured += 1;
        if state.trim() == "up" {
            active += 1;
        }
    }
    Ok((configured, active))
}

/// Reads a file that bonding_masters promises to exist, so that a missing one is a failure.
fn read_required(path: &Path) -> Result<String, CollectError> {
    std::fs::read_to_string(path).map_err(|source| {
        NetError::Read {
            path: path.to_owned(),
            source,
        }
        .into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::net_common::testing::{collect, config, value, write};

    #[test]
    fn bonding_counts_active_slaves() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "sys/class/net/bonding_masters", "bond0 dmz\n");
        write(dir.path(), "sys/class/net/bond0/bonding/slaves", "\n");
        write(
            dir.path(),
            "sys/class/net/dmz/bonding/slaves",
            "eth0 eth4\n",
        );
        write(
            dir.path(),
            "sys/class/net/dmz/lower_eth0/bonding_slave/mii_status",
            "up\n",
        );
        write(
            dir.path(),
            "sys/class/net/dmz/slave_eth4/bonding_slave/mii_status",
            "down\n",
        );

        let (result, families) = collect(&build(&config(dir.path(), &[])).unwrap());
        assert!(result.is_ok());

        assert_eq!(
            value(&families, "node_bonding_slaves", &[("master", "dmz")]),
            Some(2.0)
        );
        assert_eq!(
            value(&families, "node_bonding_active", &[("master", "dmz")]),
            Some(1.0)
        );
        assert_eq!(
            value(&families, "node_bonding_slaves", &[("master", "bond0")]),
            Some(0.0)
        );
    }

    #[test]
    fn bonding_missing_slave_status_fails() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "sys/class/net/bonding_masters", "bond0\n");
        write(dir.path(), "sys/class/net/bond0/bonding/slaves", "eth9\n");

        let (result, families) = collect(&build(&config(dir.path(), &[])).unwrap());
        assert!(matches!(result, Err(CollectError::Failed(_))));
        assert!(families.is_empty());
    }

    #[test]
    fn bonding_without_masters_is_no_data() {
        let dir = tempfile::tempdir().unwrap();
        let (result, _) = collect(&build(&config(dir.path(), &[])).unwrap());
        assert!(matches!(result, Err(CollectError::NoData(_))));
    }
}
