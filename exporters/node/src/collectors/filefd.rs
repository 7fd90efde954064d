//! The filefd collector: allocated and maximum file handles from /proc/sys/fs/file-nr, whose
//! three fields are allocated, allocated but unused (always 0 since Linux 2.6) and maximum.

use std::path::PathBuf;

use exporter_core::collector::BuildError;
use exporter_core::{AnyCollector, BlockingCollector, CollectError, Desc, MetricSink};

use super::{util, NodeConfig};

const ALLOCATED: Desc = Desc::gauge(
    "node_filefd_allocated",
    "File handles the kernel has allocated.",
    &[],
);
const MAXIMUM: Desc = Desc::gauge(
    "node_filefd_maximum",
    "Maximum number of file handles the kernel allocates (fs.file-max).",
    &[],
);

pub fn build(config: &NodeConfig) -> Result<AnyCollector, BuildError> {
    Ok(AnyCollector::blocking(FilefdCollector {
        procfs: config.procfs.clone(),
    }))
}

pub struct FilefdCollector {
    pub procfs: PathBuf,
}

/// Error of a file-nr that does not hold three numbers.
#[derive(Debug, thiserror::Error)]
#[error("invalid content {content:?} in {path}: expected three numbers")]
pub struct FileNrError {
    path: PathBuf,
    content: String,
}

impl BlockingCollector for FilefdCollector {
    fn collect(&self, sink: &mut MetricSink) -> Result<(), CollectError> {
        let path = self.procfs.join("sys/fs/file-nr");
        let text = util::read_file(&path)?;
        let fields: Vec<f64> = text
            .split_whitespace()
            .map_while(|f| f.parse().ok())
            .collect();
        if fields.len() < 3 {
            return Err(CollectError::failed(FileNrError {
                path,
                content: text.trim().to_owned(),
            }));
        }
        sink.add(&ALLOCATED, &[], fields[0]);
        sink.add(&MAXIMUM, &[], fields[2]);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::test_support::{collect, samples, write_tree};

    fn collector(text: &str) -> (tempfile::TempDir, FilefdCollector) {
        let dir = tempfile::tempdir().unwrap();
        write_tree(dir.path(), &[("sys/fs/file-nr", text)]);
        let procfs = dir.path().to_owned();
        (dir, FilefdCollector { procfs })
    }

    #[test]
    fn allocated_and_maximum() {
        let (_dir, filefd) = collector("1024\t0\t1631329\n");
        let got = samples(&filefd);
        assert_eq!(got["node_filefd_allocated"], 1024.0);
        assert_eq!(got["node_filefd_maximum"], 1631329.0);
    }

    #[test]
    fn two_fields_fail() {
        let (_dir, filefd) = collector("1024\t0\n");
        let (outcome, _) = collect(&filefd);
        assert!(matches!(outcome, Err(CollectError::Failed(_))));
    }
}
