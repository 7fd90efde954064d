//! The entropy collector: the entropy pool of the kernel's random number generator, from
//! /proc/sys/kernel/random/entropy_avail and poolsize.

use std::path::PathBuf;

use exporter_core::collector::BuildError;
use exporter_core::{AnyCollector, BlockingCollector, CollectError, Desc, MetricSink};

use super::{attr, NodeConfig};

const AVAILABLE: Desc = Desc::gauge(
    "node_entropy_available_bits",
    "Bits of entropy available in the kernel's pool.",
    &[],
);
const POOL_SIZE: Desc = Desc::gauge(
    "node_entropy_pool_size_bits",
    "Size of the kernel's entropy pool in bits.",
    &[],
);

pub fn build(config: &NodeConfig) -> Result<AnyCollector, BuildError> {
    Ok(AnyCollector::blocking(EntropyCollector {
        procfs: config.procfs.clone(),
    }))
}

pub struct EntropyCollector {
    pub procfs: PathBuf,
}

impl BlockingCollector for EntropyCollector {
    fn collect(&self, sink: &mut MetricSink) -> Result<(), CollectError> {
        let dir = self.procfs.join("sys/kernel/random");
        for (file, desc) in [("entropy_avail", &AVAILABLE), ("poolsize", &POOL_SIZE)] {
            let path = dir.join(file);
            let Some(bits) = attr::read_u64_attr(&path)? else {
                return Err(CollectError::no_data(format!(
                    "{} does not exist",
                    path.display()
                )));
            };
            sink.add(desc, &[], bits as f64);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::test_support::{collect, samples, write_tree};

    #[test]
    fn available_and_pool_size() {
        let dir = tempfile::tempdir().unwrap();
        write_tree(
            dir.path(),
            &[
                ("sys/kernel/random/entropy_avail", "256\n"),
                ("sys/kernel/random/poolsize", "256\n"),
            ],
        );
        let got = samples(&EntropyCollector {
            procfs: dir.path().to_owned(),
        });
        assert_eq!(got["node_entropy_available_bits"], 256.0);
        assert_eq!(got["node_entropy_pool_size_bits"], 256.0);
    }

    #[test]
    fn missing_pool_size_is_no_data() {
        let dir = tempfile::tempdir().unwrap();
        write_tree(dir.path(), &[("sys/kernel/random/entropy_avail", "3\n")]);
        let (outcome, got) = collect(&EntropyCollector {
            procfs: dir.path().to_owned(),
        });
        assert!(matches!(outcome, Err(CollectError::NoData(_))));
        assert_eq!(got["node_entropy_available_bits"], 3.0);
    }

    #[test]
    fn garbage_value_fails() {
        let dir = tempfile::tempdir().unwrap();
        write_tree(dir.path(), &[("sys/kernel/random/entropy_avail", "lots\n")]);
        let (outcome, _) = collect(&EntropyCollector {
            procfs: dir.path().to_owned(),
        });
        assert!(matches!(outcome, Err(CollectError::Failed(_))));
    }
}
