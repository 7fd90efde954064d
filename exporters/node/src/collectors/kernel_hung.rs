//! The kernel_hung collector: tasks the hung task detector has reported since boot, from
//! /proc/sys/kernel/hung_task_detect_count (Linux 6.15 and later).

use std::path::PathBuf;

use exporter_core::collector::BuildError;
use exporter_core::{AnyCollector, BlockingCollector, CollectError, Desc, MetricSink};

use super::{attr, NodeConfig};

const HUNG_TASKS: Desc = Desc::counter(
    "node_kernel_hung_tasks_total",
    "Tasks the kernel detected as hung since boot.",
    &[],
);

pub fn build(config: &NodeConfig) -> Result<AnyCollector, BuildError> {
    Ok(AnyCollector::blocking(KernelHungCollector {
        procfs: config.procfs.clone(),
    }))
}

pub struct KernelHungCollector {
    pub procfs: PathBuf,
}

impl BlockingCollector for KernelHungCollector {
    fn collect(&self, sink: &mut MetricSink) -> Result<(), CollectError> {
        let path = self.procfs.join("sys/kernel/hung_task_detect_count");
        match attr::read_u64_attr(&path)? {
            Some(count) => {
                sink.add(&HUNG_TASKS, &[], count as f64);
                Ok(())
            }
            None => Err(CollectError::no_data(format!(
                "{} does not exist",
                path.display()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::test_support::{collect, samples, write_tree};

    #[test]
    fn hung_task_count() {
        let dir = tempfile::tempdir().unwrap();
        write_tree(dir.path(), &[("sys/kernel/hung_task_detect_count", "2\n")]);
        let got = samples(&KernelHungCollector {
            procfs: dir.path().to_owned(),
        });
        assert_eq!(got["node_kernel_hung_tasks_total"], 2.0);
    }

    #[test]
    fn old_kernel_is_no_data() {
        let dir = tempfile::tempdir().unwrap();
        let (outcome, _) = collect(&KernelHungCollector {
            procfs: dir.path().to_owned(),
        });
        assert!(matches!(outcome, Err(CollectError::NoData(_))));
    }
}
