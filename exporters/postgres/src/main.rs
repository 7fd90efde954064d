//! postgres-exporter: Prometheus exporter for PostgreSQL server metrics.

use std::process::ExitCode;
use std::sync::Arc;

use exporter_core::{cli, logging, CollectorSet, ExporterInfo, Server};
use tracing::error;

const INFO: ExporterInfo = ExporterInfo {
    name: "postgres_exporter",
    binary: "postgres-exporter",
    description: "Prometheus exporter for PostgreSQL server metrics",
    default_listen: ":9187",
};

#[tokio::main]
async fn main() -> ExitCode {
    let matches = cli::parse(cli::command(&INFO));
    logging::init(cli::log_options(&matches));
    let web = cli::web_options(&matches);
    let set = CollectorSet::from_collectors("pg", Vec::new());
    match Server::new(INFO, web).metrics(Arc::new(set)).run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!(error = %e, "Server failed");
            ExitCode::FAILURE
        }
    }
}
