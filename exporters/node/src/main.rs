//! node-exporter: host metrics from /proc and /sys, compatible with Prometheus node_exporter.

use std::process::ExitCode;
use std::sync::Arc;

use exporter_core::{cli, logging, CollectorSet, ExporterInfo, Server};
use tracing::{error, info};

use node_exporter::collectors::{self, NodeConfig, COLLECTORS};

const INFO: ExporterInfo = ExporterInfo {
    name: "node_exporter",
    binary: "node-exporter",
    description: "Prometheus exporter for hardware and OS metrics exposed by the Linux kernel",
    default_listen: ":9100",
};

fn main() -> ExitCode {
    let command = cli::command(&INFO)
        .args(collectors::path_args())
        .args(exporter_core::collector::collector_args(COLLECTORS))
        .args(collectors::option_args());
    let matches = cli::parse(command);
    logging::init(cli::log_options(&matches));

    let web = cli::web_options(&matches);
    let enabled = exporter_core::collector::enabled_collectors(COLLECTORS, &matches);
    let config = NodeConfig::from_matches(matches);
    let set = match CollectorSet::build("node", COLLECTORS, &enabled, &config) {
        Ok(set) => set,
        Err(e) => {
            error!(error = %e, "Invalid collector options");
            return ExitCode::FAILURE;
        }
    };
    info!(collectors = %enabled.join(","), "Enabled collectors");

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            error!(error = %e, "Failed to start the tokio runtime");
            return ExitCode::FAILURE;
        }
    };
    let server = Server::new(INFO, web).metrics(Arc::new(set));
    match runtime.block_on(server.run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!(error = %e, "Server failed");
            ExitCode::FAILURE
        }
    }
}
