//! The uname collector: the kernel's identity from the uname(2) system call.

use exporter_core::collector::BuildError;
use exporter_core::{AnyCollector, BlockingCollector, CollectError, Desc, MetricSink};

use super::NodeConfig;

const INFO: Desc = Desc::gauge(
    "node_uname_info",
    "Kernel identity from the uname system call; the value is always 1.",
    &[
        "sysname",
        "release",
        "version",
        "machine",
        "nodename",
        "domainname",
    ],
);

pub fn build(_config: &NodeConfig) -> Result<AnyCollector, BuildError> {
    Ok(AnyCollector::blocking(UnameCollector))
}

pub struct UnameCollector;

/// Returns a field of `utsname` as a string, replacing bytes that are not UTF-8.
fn field(chars: &[libc::c_char]) -> String {
    let bytes: Vec<u8> = chars
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

impl BlockingCollector for UnameCollector {
    fn collect(&self, sink: &mut MetricSink) -> Result<(), CollectError> {
        // SAFETY: an all-zero `utsname` is valid, and uname writes only into it.
        let mut names: libc::utsname = unsafe { std::mem::zeroed() };
        // SAFETY: `names` is a valid, writable utsname for the duration of the call.
        if unsafe { libc::uname(&mut names) } != 0 {
            let error = std::io::Error::last_os_error();
            return Err(CollectError::failed(format!("uname failed: {error}")));
        }
        let labels = [
            field(&names.sysname),
            field(&names.release),
            field(&names.version),
            field(&names.machine),
            field(&names.nodename),
            field(&names.domainname),
        ];
        let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
        sink.add(&INFO, &labels, 1.0);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::test_support::samples;

    #[test]
    fn field_stops_at_nul() {
        let chars: Vec<libc::c_char> = b"Linux\0junk".iter().map(|&b| b as libc::c_char).collect();
        assert_eq!(field(&chars), "Linux");
    }

    #[test]
    fn uname_matches_running_kernel() {
        let got = samples(&UnameCollector);
        assert_eq!(got.len(), 1);
        let key = got.keys().next().unwrap();
        assert!(
            key.starts_with(r#"node_uname_info{sysname="Linux",release=""#),
            "{key}"
        );
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
        assert!(
            key.contains(&format!("release=\"{}\"", release.trim())),
            "{key}"
        );
    }
}
