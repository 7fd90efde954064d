//! The udp_queues collector: bytes queued in the send and receive buffers of all UDP sockets,
//! summed from the `tx_queue:rx_queue` column of /proc/net/udp and /proc/net/udp6.

use std::path::PathBuf;

use exporter_core::collector::BuildError;
use exporter_core::{AnyCollector, BlockingCollector, CollectError, Desc, MetricSink};
use tracing::debug;

use super::net_common::{parse_hex, read_text};
use super::NodeConfig;

const QUEUES: Desc = Desc::gauge(
    "node_udp_queues",
    "Bytes of kernel memory held by queued UDP datagrams, summed over sockets.",
    &["queue", "ip"],
);

struct UdpQueuesCollector {
    files: [(PathBuf, &'static str); 2],
}

pub fn build(config: &NodeConfig) -> Result<AnyCollector, BuildError> {
    Ok(AnyCollector::blocking(UdpQueuesCollector {
        files: [
            (config.proc("net/udp"), "v4"),
            (config.proc("net/udp6"), "v6"),
        ],
    }))
}

impl BlockingCollector for UdpQueuesCollector {
    fn collect(&self, sink: &mut MetricSink) -> Result<(), CollectError> {
        let mut found = 0;
        for (path, ip) in &self.files {
            let text = match read_text(path) {
                Ok(text) => text,
                Err(CollectError::NoData(reason)) => {
                    debug!(collector = "udp_queues", reason, "Skipped a missing file");
                    continue;
                }
                Err(e) => return Err(e),
            };
            found += 1;
            let (tx, rx) = sum_queues(&text);
            sink.add(&QUEUES, &["tx", ip], tx as f64);
            sink.add(&QUEUES, &["rx", ip], rx as f64);
        }
        if found == 0 {
            return Err(CollectError::no_data(
                "neither /proc/net/udp nor udp6 exists",
            ));
        }
        Ok(())
    }
}

/// Sums the transmit and receive queue sizes over the socket lines after the header. A line
/// without a valid `tx:rx` fifth column is skipped.
fn sum_queues(text: &str) -> (u64, u64) {
    let (mut tx_total, mut rx_total) = (0u64, 0u64);
    for line in text.lines().skip(1).filter(|line| !line.trim().is_empty()) {
        let queues = line.split_whitespace().nth(4).and_then(|column| {
            let (tx, rx) = column.split_once(':')?;
            Some((parse_hex(tx)?, parse_hex(rx)?))
        });
        match queues {
            Some((tx, rx)) => {
                tx_total = tx_total.saturating_add(tx);
                rx_total = rx_total.saturating_add(rx);
            }
            None => debug!(collector = "udp_queues", line, "Skipped a malformed line"),
        }
    }
    (tx_total, rx_total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::net_common::testing::{collect, config, count, value, write};

    const HEADER: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";

    #[test]
    fn udp_queues_sums_sockets() {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "{HEADER}   0: 00000000:0016 00000000:0000 0A 00000015:00000001 00:00000000 00000000 0 0 1\n   1: 00000000:0017 00000000:0000 07 00000001:00000010 00:00000000 00000000 0 0 2\n   2: broken\n"
        );
        write(dir.path(), "proc/net/udp", &text);

        let (result, families) = collect(&build(&config(dir.path(), &[])).unwrap());
        assert!(result.is_ok());

        assert_eq!(
            value(
                &families,
                "node_udp_queues",
                &[("queue", "tx"), ("ip", "v4")]
            ),
            Some(22.0)
        );
        assert_eq!(
            value(
                &families,
                "node_udp_queues",
                &[("queue", "rx"), ("ip", "v4")]
            ),
            Some(17.0)
        );
        assert_eq!(count(&families, "node_udp_queues"), 2);
    }

    #[test]
    fn udp_queues_without_files_is_no_data() {
        let dir = tempfile::tempdir().unwrap();
        let (result, _) = collect(&build(&config(dir.path(), &[])).unwrap());
        assert!(matches!(result, Err(CollectError::NoData(_))));
    }
}
