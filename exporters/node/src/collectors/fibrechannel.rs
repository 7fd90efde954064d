//! The fibrechannel collector: Fibre Channel host adapters from /sys/class/fc_host/<host>/ and
//! their counters from its `statistics/` directory (drivers/scsi/scsi_transport_fc.c).

use std::path::{Path, PathBuf};

use exporter_core::collector::BuildError;
use exporter_core::{AnyCollector, BlockingCollector, CollectError, Desc, MetricSink};

use super::netclass::read_attribute;
use super::util::io_error;
use super::NodeConfig;

const INFO: Desc = Desc::gauge(
    "node_fibrechannel_info",
    "Text properties of a Fibre Channel host from /sys/class/fc_host. The value is always 1.",
    &[
        "fc_host",
        "speed",
        "port_state",
        "port_type",
        "port_id",
        "port_name",
        "fabric_name",
        "symbolic_name",
        "supported_classes",
        "supported_speeds",
        "dev_loss_tmo",
    ],
);

/// Attributes behind the info labels after `fc_host`, in label order.
const INFO_ATTRIBUTES: [&str; 10] = [
    "speed",
    "port_state",
    "port_type",
    "port_id",
    "port_name",
    "fabric_name",
    "symbolic_name",
    "supported_classes",
    "supported_speeds",
    "dev_loss_tmo",
];

/// Attributes written as `0x`-prefixed hexadecimal identifiers, whose labels drop the prefix.
const HEX_IDENTIFIERS: [&str; 3] = ["port_id", "port_name", "fabric_name"];

/// File of `statistics/` and the counter family it feeds.
const COUNTERS: &[(&str, Desc)] = &[
    (
        "dumped_frames",
        Desc::counter(
            "node_fibrechannel_dumped_frames_total",
            "Frames the host dropped for lack of resources.",
            &["fc_host"],
        ),
    ),
    (
        "error_frames",
        Desc::counter(
            "node_fibrechannel_error_frames_total",
            "Frames received with errors.",
            &["fc_host"],
        ),
    ),
    (
        "invalid_crc_count",
        Desc::counter(
            "node_fibrechannel_invalid_crc_total",
            "Frames received with an invalid CRC.",
            &["fc_host"],
        ),
    ),
    (
        "rx_frames",
        Desc::counter(
            "node_fibrechannel_rx_frames_total",
            "Frames received.",
            &["fc_host"],
        ),
    ),
    (
        "rx_words",
        Desc::counter(
            "node_fibrechannel_rx_words_total",
            "Words received.",
            &["fc_host"],
        ),
    ),
    (
        "tx_frames",
        Desc::counter(
            "node_fibrechannel_tx_frames_total",
            "Frames sent.",
            &["fc_host"],
        ),
    ),
    (
        "tx_words",
        Desc::counter(
            "node_fibrechannel_tx_words_total",
            "Words sent.",
            &["fc_host"],
        ),
    ),
    (
        "seconds_since_last_reset",
        Desc::counter(
            "node_fibrechannel_seconds_since_last_reset_total",
            "Seconds since the statistics were last reset.",
            &["fc_host"],
        ),
    ),
    (
        "invalid_tx_word_count",
        Desc::counter(
            "node_fibrechannel_invalid_tx_words_total",
            "Invalid transmission words received.",
            &["fc_host"],
        ),
    ),
    (
        "link_failure_count",
        Desc::counter(
            "node_fibrechannel_link_failure_total",
            "Link failures.",
            &["fc_host"],
        ),
    ),
    (
        "loss_of_sync_count",
        Desc::counter(
            "node_fibrechannel_loss_of_sync_total",
            "Losses of synchronization.",
            &["fc_host"],
        ),
    ),
    (
        "loss_of_signal_count",
        Desc::counter(
            "node_fibrechannel_loss_of_signal_total",
            "Losses of signal.",
            &["fc_host"],
        ),
    ),
    (
        "nos_count",
        Desc::counter(
            "node_fibrechannel_nos_total",
            "Not-operational primitive sequences received.",
            &["fc_host"],
        ),
    ),
    (
        "fcp_packet_aborts",
        Desc::counter(
            "node_fibrechannel_fcp_packet_aborts_total",
            "FCP packets aborted.",
            &["fc_host"],
        ),
    ),
];

/// Value the firmware writes for a counter it does not implement, so such counters are left out.
const UNIMPLEMENTED: u64 = u64::MAX;

struct FibrechannelCollector {
    class_dir: PathBuf,
}

pub fn build(config: &NodeConfig) -> Result<AnyCollector, BuildError> {
    Ok(AnyCollector::blocking(FibrechannelCollector {
        class_dir: config.sys("class/fc_host"),
    }))
}

impl BlockingCollector for FibrechannelCollector {
    fn collect(&self, sink: &mut MetricSink) -> Result<(), CollectError> {
        let entries =
            std::fs::read_dir(&self.class_dir).map_err(|e| io_error(&self.class_dir, e))?;
        let mut hosts: Vec<String> = entries
            .filter_map(Result::ok)
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .collect();
        hosts.sort();
        for host in hosts {
            collect_host(&self.class_dir.join(&host), &host, sink)?;
        }
        Ok(())
    }
}

fn collect_host(dir: &Path, host: &str, sink: &mut MetricSink) -> Result<(), CollectError> {
    let mut values = vec![host.to_owned()];
    for attribute in INFO_ATTRIBUTES {
        let mut value = read_attribute(dir, attribute)?.unwrap_or_default();
        if HEX_IDENTIFIERS.contains(&attribute) && value.len() > 2 {
            value.drain(..2);
        }
        values.push(value);
    }
    let labels: Vec<&str> = values.iter().map(String::as_str).collect();
    sink.add(&INFO, &labels, 1.0);

    // A port whose state is missing or Unknown reports every counter as 0.
    let state_known = read_attribute(dir, "port_state")?.is_some_and(|s| s != "Unknown");
    let statistics = dir.join("statistics");
    for (file, desc) in COUNTERS {
        let value = if state_known {
            match read_attribute(&statistics, file)? {
                Some(text) => parse_counter(&text),
                None => None,
            }
        } else {
            Some(0)
        };
        match value {
            Some(value) if value != UNIMPLEMENTED => sink.add(desc, &[host], value as f64),
            _ => {}
        }
    }
    Ok(())
}

/// Parses a counter, written as `0x`-prefixed hexadecimal by the FC transport class.
fn parse_counter(text: &str) -> Option<u64> {
    let text = text.trim();
    match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::net_common::testing::{collect, config, count, value, write};

    #[test]
    fn fibrechannel_reads_host() {
        let dir = tempfile::tempdir().unwrap();
        let host = "sys/class/fc_host/host0";
        write(dir.path(), &format!("{host}/port_state"), "Online\n");
        write(dir.path(), &format!("{host}/port_id"), "0x000002\n");
        write(dir.path(), &format!("{host}/speed"), "16 Gbit\n");
        write(
            dir.path(),
            &format!("{host}/statistics/rx_frames"),
            "0x30\n",
        );
        write(
            dir.path(),
            &format!("{host}/statistics/dumped_frames"),
            "0xffffffffffffffff\n",
        );
        write(
            dir.path(),
            &format!("{host}/statistics/nos_count"),
            "garbage\n",
        );

        let (result, families) = collect(&build(&config(dir.path(), &[])).unwrap());
        assert!(result.is_ok());

        let labels = [("fc_host", "host0")];
        assert_eq!(
            value(&families, "node_fibrechannel_rx_frames_total", &labels),
            Some(48.0)
        );
        assert_eq!(count(&families, "node_fibrechannel_dumped_frames_total"), 0);
        assert_eq!(count(&families, "node_fibrechannel_nos_total"), 0);
        let info = &families
            .iter()
            .find(|f| f.name == "node_fibrechannel_info")
            .unwrap()
            .samples[0];
        let port_id = &info.labels.iter().find(|(n, _)| n == "port_id").unwrap().1;
        assert_eq!(port_id, "000002");
    }

    #[test]
    fn fibrechannel_unknown_state_zeroes_counters() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "sys/class/fc_host/host1/statistics/rx_frames",
            "0x30\n",
        );

        let (_, families) = collect(&build(&config(dir.path(), &[])).unwrap());
        let labels = [("fc_host", "host1")];
        assert_eq!(
            value(&families, "node_fibrechannel_rx_frames_total", &labels),
            Some(0.0)
        );
        assert_eq!(count(&families, "node_fibrechannel_nos_total"), 1);
    }

    #[test]
    fn fibrechannel_without_class_is_no_data() {
        let dir = tempfile::tempdir().unwrap();
        let (result, _) = collect(&build(&config(dir.path(), &[])).unwrap());
        assert!(matches!(result, Err(CollectError::NoData(_))));
    }
}
