//! The infiniband collector: InfiniBand and RDMA devices from /sys/class/infiniband/<device>/,
//! with each port's state, rate and the counters of its `counters/`, `counters_ext/` and
//! `hw_counters/` directories (Documentation/ABI/stable/sysfs-class-infiniband).

use std::path::{Path, PathBuf};

use clap::Arg;
use exporter_core::collector::BuildError;
use exporter_core::{AnyCollector, BlockingCollector, CollectError, Desc, MetricSink};
use exporter_core::{MetricType, Value};

use super::net_common::{device_filter_args, DeviceFilter, NetError};
use super::netclass::read_attribute;
use super::util::io_error;
use super::NodeConfig;

const INFO: Desc = Desc::gauge(
    "node_infiniband_info",
    "Text properties of an InfiniBand device from /sys/class/infiniband. The value is always 1.",
    &["device", "board_id", "firmware_version", "hca_type"],
);
const STATE: Desc = Desc::gauge(
    "node_infiniband_state_id",
    "Logical state of the port (1 down, 2 init, 3 armed, 4 active, 5 active deferred).",
    &["device", "port"],
);
const PHYSICAL_STATE: Desc = Desc::gauge(
    "node_infiniband_physical_state_id",
    "Physical state of the port (2 polling, 3 disabled, 5 link up, 6 link error recovery, ...).",
    &["device", "port"],
);
const RATE: Desc = Desc::gauge(
    "node_infiniband_rate_bytes_per_second",
    "Signalling rate of the port in bytes per second.",
    &["device", "port"],
);
const LIFESPAN: Desc = Desc::gauge(
    "node_infiniband_lifespan_seconds",
    "Period within which two reads of the hardware counters may return the same values.",
    &["device", "port"],
);

/// Directory under the port, counter file, family name without `node_infiniband_`, and the
/// factor that turns the value into the family's unit. The data counters count 32-bit words.
const COUNTERS: &[(&str, &str, &str, u64)] = &[
    (
        "counters_ext",
        "port_multicast_rcv_packets",
        "legacy_multicast_packets_received_total",
        1,
    ),
    (
        "counters_ext",
        "port_multicast_xmit_packets",
        "legacy_multicast_packets_transmitted_total",
        1,
    ),
    (
        "counters_ext",
        "port_rcv_data_64",
        "legacy_data_received_bytes_total",
        4,
    ),
    (
        "counters_ext",
        "port_rcv_packets_64",
        "legacy_packets_received_total",
        1,
    ),
    (
        "counters_ext",
        "port_unicast_rcv_packets",
        "legacy_unicast_packets_received_total",
        1,
    ),
    (
        "counters_ext",
        "port_unicast_xmit_packets",
        "legacy_unicast_packets_transmitted_total",
        1,
    ),
    (
        "counters_ext",
        "port_xmit_data_64",
        "legacy_data_transmitted_bytes_total",
        4,
    ),
    (
        "counters_ext",
        "port_xmit_packets_64",
        "legacy_packets_transmitted_total",
        1,
    ),
    (
        "counters",
        "excessive_buffer_overrun_errors",
        "excessive_buffer_overrun_errors_total",
        1,
    ),
    ("counters", "link_downed", "link_downed_total", 1),
    (
        "counters",
        "link_error_recovery",
        "link_error_recovery_total",
        1,
    ),
    (
        "counters",
        "local_link_integrity_errors",
        "local_link_integrity_errors_total",
        1,
    ),
    (
        "counters",
        "multicast_rcv_packets",
        "multicast_packets_received_total",
        1,
    ),
    (
        "counters",
        "multicast_xmit_packets",
        "multicast_packets_transmitted_total",
        1,
    ),
    (
        "counters",
        "port_rcv_constraint_errors",
        "port_constraint_errors_received_total",
        1,
    ),
    (
        "counters",
        "port_xmit_constraint_errors",
        "port_constraint_errors_transmitted_total",
        1,
    ),
    (
        "counters",
        "port_rcv_data",
        "port_data_received_bytes_total",
        4,
    ),
    (
        "counters",
        "port_xmit_data",
        "port_data_transmitted_bytes_total",
        4,
    ),
    (
        "counters",
        "port_rcv_discards",
        "port_discards_received_total",
        1,
    ),
    (
        "counters",
        "port_xmit_discards",
        "port_discards_transmitted_total",
        1,
    ),
    (
        "counters",
        "port_rcv_errors",
        "port_errors_received_total",
        1,
    ),
    (
        "counters",
        "port_rcv_packets",
        "port_packets_received_total",
        1,
    ),
    (
        "counters",
        "port_xmit_packets",
        "port_packets_transmitted_total",
        1,
    ),
    ("counters", "port_xmit_wait", "port_transmit_wait_total", 1),
    (
        "counters",
        "unicast_rcv_packets",
        "unicast_packets_received_total",
        1,
    ),
    (
        "counters",
        "unicast_xmit_packets",
        "unicast_packets_transmitted_total",
        1,
    ),
    (
        "counters",
        "port_rcv_remote_physical_errors",
        "port_receive_remote_physical_errors_total",
        1,
    ),
    (
        "counters",
        "port_rcv_switch_relay_errors",
        "port_receive_switch_relay_errors_total",
        1,
    ),
    ("counters", "symbol_error", "symbol_error_total", 1),
    ("counters", "VL15_dropped", "vl15_dropped_total", 1),
    (
        "hw_counters",
        "duplicate_request",
        "duplicate_requests_packets_total",
        1,
    ),
    (
        "hw_counters",
        "implied_nak_seq_err",
        "implied_nak_seq_errors_total",
        1,
    ),
    (
        "hw_counters",
        "local_ack_timeout_err",
        "local_ack_timeout_errors_total",
        1,
    ),
    ("hw_counters", "np_cnp_sent", "np_cnp_packets_sent_total", 1),
    (
        "hw_counters",
        "np_ecn_marked_roce_packets",
        "np_ecn_marked_roce_packets_received_total",
        1,
    ),
    (
        "hw_counters",
        "out_of_buffer",
        "out_of_buffer_drops_total",
        1,
    ),
    (
        "hw_counters",
        "out_of_sequence",
        "out_of_sequence_packets_received_total",
        1,
    ),
    (
        "hw_counters",
        "packet_seq_err",
        "packet_sequence_errors_total",
        1,
    ),
    ("hw_counters", "req_cqe_error", "req_cqes_errors_total", 1),
    (
        "hw_counters",
        "req_cqe_flush_error",
        "req_cqes_flush_errors_total",
        1,
    ),
    (
        "hw_counters",
        "req_remote_access_errors",
        "req_remote_access_errors_total",
        1,
    ),
    (
        "hw_counters",
        "req_remote_invalid_request",
        "req_remote_invalid_request_errors_total",
        1,
    ),
    ("hw_counters", "resp_cqe_error", "resp_cqes_errors_total", 1),
    (
        "hw_counters",
        "resp_cqe_flush_error",
        "resp_cqes_flush_errors_total",
        1,
    ),
    (
        "hw_counters",
        "resp_local_length_error",
        "resp_local_length_errors_total",
        1,
    ),
    (
        "hw_counters",
        "resp_remote_access_errors",
        "resp_remote_access_errors_total",
        1,
    ),
    (
        "hw_counters",
        "rnr_nak_retry_err",
        "rnr_nak_retry_packets_received_total",
        1,
    ),
    (
        "hw_counters",
        "roce_adp_retrans",
        "roce_adp_retransmits_total",
        1,
    ),
    (
        "hw_counters",
        "roce_adp_retrans_to",
        "roce_adp_retransmits_timeout_total",
        1,
    ),
    (
        "hw_counters",
        "roce_slow_restart",
        "roce_slow_restart_used_total",
        1,
    ),
    (
        "hw_counters",
        "roce_slow_restart_cnps",
        "roce_slow_restart_cnps_total",
        1,
    ),
    (
        "hw_counters",
        "roce_slow_restart_trans",
        "roce_slow_restart_total",
        1,
    ),
    (
        "hw_counters",
        "rp_cnp_handled",
        "rp_cnp_packets_handled_total",
        1,
    ),
    (
        "hw_counters",
        "rp_cnp_ignored",
        "rp_cnp_ignored_packets_received_total",
        1,
    ),
    (
        "hw_counters",
        "rx_atomic_requests",
        "rx_atomic_requests_total",
        1,
    ),
    (
        "hw_counters",
        "rx_dct_connect",
        "rx_dct_connect_requests_total",
        1,
    ),
    (
        "hw_counters",
        "rx_read_requests",
        "rx_read_requests_total",
        1,
    ),
    (
        "hw_counters",
        "rx_write_requests",
        "rx_write_requests_total",
        1,
    ),
    (
        "hw_counters",
        "rx_icrc_encapsulated",
        "rx_icrc_encapsulated_errors_total",
        1,
    ),
];

struct InfinibandCollector {
    filter: DeviceFilter,
    class_dir: PathBuf,
}

pub fn args() -> Vec<Arg> {
    device_filter_args("infiniband", "InfiniBand")
}

pub fn build(config: &NodeConfig) -> Result<AnyCollector, BuildError> {
    Ok(AnyCollector::blocking(InfinibandCollector {
        filter: DeviceFilter::from_flags(config, "infiniband")?,
        class_dir: config.sys("class/infiniband"),
    }))
}

impl BlockingCollector for InfinibandCollector {
    fn collect(&self, sink: &mut MetricSink) -> Result<(), CollectError> {
        for device in list_dir(&self.class_dir)? {
            if self.filter.ignored(&device) {
                continue;
            }
            let dir = self.class_dir.join(&device);
            let firmware = required(&dir, "fw_ver")?;
            let board_id = read_attribute(&dir, "board_id")?.unwrap_or_default();
            let hca_type = read_attribute(&dir, "hca_type")?.unwrap_or_default();
            sink.add(&INFO, &[&device, &board_id, &firmware, &hca_type], 1.0);
            for port in list_dir(&dir.join("ports"))? {
                collect_port(&dir.join("ports").join(&port), &device, &port, sink)?;
            }
        }
        Ok(())
    }
}

fn collect_port(
    dir: &Path,
    device: &str,
    port: &str,
    sink: &mut MetricSink,
) -> Result<(), CollectError> {
    let labels = [device, port];
    for (file, desc) in [("state", &STATE), ("phys_state", &PHYSICAL_STATE)] {
        let text = required(dir, file)?;
        let id = parse_state(&text).ok_or_else(|| invalid(dir, file, &text))?;
        sink.add(desc, &labels, id as f64);
    }
    let rate = required(dir, "rate")?;
    let bytes = parse_rate(&rate).ok_or_else(|| invalid(dir, "rate", &rate))?;
    sink.add(&RATE, &labels, bytes as f64);

    if let Some(lifespan) = read_counter(&dir.join("hw_counters"), "lifespan")? {
        // The kernel writes milliseconds, and node_exporter divides by 1000 with integer division.
        sink.add(&LIFESPAN, &labels, (lifespan / 1000) as f64);
    }
    for (subdir, file, family, factor) in COUNTERS {
        if let Some(value) = read_counter(&dir.join(subdir), file)? {
            sink.add_dynamic(
                format!("node_infiniband_{family}"),
                format!("InfiniBand port counter {subdir}/{file}."),
                MetricType::Counter,
                vec![
                    ("device".into(), device.to_owned()),
                    ("port".into(), port.to_owned()),
                ],
                Value::Number(value.wrapping_mul(*factor) as f64),
                None,
            );
        }
    }
    Ok(())
}

/// Reads a counter. Counters that are missing, unreadable or not numbers, such as
/// `N/A (no PMA)` of ports without a performance management agent, read as absent.
fn read_counter(dir: &Path, file: &str) -> Result<Option<u64>, CollectError> {
    Ok(read_attribute(dir, file)?.and_then(|text| text.trim().parse().ok()))
}

fn required(dir: &Path, file: &str) -> Result<String, CollectError> {
    let value = read_attribute(dir, file)?;
    value.ok_or_else(|| {
        let path = dir.join(file);
        NetError::Missing { path }.into()
    })
}

fn invalid(dir: &Path, file: &str, text: &str) -> CollectError {
    let path = dir.join(file);
    let value = text.to_owned();
    NetError::InvalidValue { path, value }.into()
}

fn list_dir(dir: &Path) -> Result<Vec<String>, CollectError> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| io_error(dir, e))?
        .filter_map(Result::ok)
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    Ok(names)
}

/// Parses a state such as `4: ACTIVE` into its number.
fn parse_state(text: &str) -> Option<u32> {
    let (id, _name) = text.split_once(':')?;
    id.trim().parse().ok()
}

/// Parses a rate such as `40 Gb/sec (4X QDR)` into bytes per second. The number is rounded to
/// single precision first, as node_exporter's parser does.
fn parse_rate(text: &str) -> Option<u64> {
    let (number, _unit) = text.trim().split_once(' ')?;
    let gigabits: f32 = number.trim().parse().ok()?;
    Some((f64::from(gigabits) * 125_000_000.0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::net_common::testing::{collect, config, count, value, write};

    fn port(root: &Path, device: &str, port: &str) -> String {
        let dir = format!("sys/class/infiniband/{device}/ports/{port}");
        write(root, &format!("{dir}/state"), "4: ACTIVE\n");
        write(root, &format!("{dir}/phys_state"), "5: LinkUp\n");
        write(root, &format!("{dir}/rate"), "40 Gb/sec (4X QDR)\n");
        dir
    }

    #[test]
    fn infiniband_reads_ports() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "sys/class/infiniband/mlx4_0/fw_ver",
            "2.31.5050\n",
        );
        write(
            dir.path(),
            "sys/class/infiniband/mlx4_0/hca_type",
            "MT4099\n",
        );
        let port_dir = port(dir.path(), "mlx4_0", "1");
        write(
            dir.path(),
            &format!("{port_dir}/counters/port_rcv_data"),
            "100\n",
        );
        write(
            dir.path(),
            &format!("{port_dir}/counters/symbol_error"),
            "N/A (no PMA)\n",
        );
        write(
            dir.path(),
            &format!("{port_dir}/hw_counters/lifespan"),
            "2500\n",
        );

        let (result, families) = collect(&build(&config(dir.path(), &[])).unwrap());
        assert!(result.is_ok());

        let labels = [("device", "mlx4_0"), ("port", "1")];
        assert_eq!(
            value(&families, "node_infiniband_state_id", &labels),
            Some(4.0)
        );
        assert_eq!(
            value(&families, "node_infiniband_physical_state_id", &labels),
            Some(5.0)
        );
        assert_eq!(
            value(&families, "node_infiniband_rate_bytes_per_second", &labels),
            Some(5e9)
        );
        assert_eq!(
            value(
                &families,
                "node_infiniband_port_data_received_bytes_total",
                &labels
            ),
            Some(400.0)
        );
        assert_eq!(
            value(&families, "node_infiniband_lifespan_seconds", &labels),
            Some(2.0)
        );
        assert_eq!(count(&families, "node_infiniband_symbol_error_total"), 0);
        let info = [
            ("device", "mlx4_0"),
            ("board_id", ""),
            ("firmware_version", "2.31.5050"),
            ("hca_type", "MT4099"),
        ];
        assert_eq!(value(&families, "node_infiniband_info", &info), Some(1.0));
    }

    #[test]
    fn infiniband_invalid_state_fails() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "sys/class/infiniband/mlx4_0/fw_ver", "1\n");
        let port_dir = port(dir.path(), "mlx4_0", "1");
        write(dir.path(), &format!("{port_dir}/state"), "ACTIVE\n");
        let (result, _) = collect(&build(&config(dir.path(), &[])).unwrap());
        assert!(matches!(result, Err(CollectError::Failed(_))));
    }

    #[test]
    fn infiniband_device_exclude() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "sys/class/infiniband/mlx4_0/fw_ver", "1\n");
        port(dir.path(), "mlx4_0", "1");
        let flags = ["--collector.infiniband.device-exclude=^mlx"];

        let (result, families) = collect(&build(&config(dir.path(), &flags)).unwrap());
        assert!(result.is_ok());

        assert!(families.is_empty());
    }

    #[test]
    fn infiniband_without_class_is_no_data() {
        let dir = tempfile::tempdir().unwrap();
        let (result, _) = collect(&build(&config(dir.path(), &[])).unwrap());
        assert!(matches!(result, Err(CollectError::NoData(_))));
    }

    #[test]
    fn rate_parsing() {
        assert_eq!(parse_rate("10 Gb/sec (4X)"), Some(1_250_000_000));
        assert_eq!(parse_rate("2.5 Gb/sec (1X SDR)"), Some(312_500_000));
        assert_eq!(parse_rate("fast"), None);
    }
}
