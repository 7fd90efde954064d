//! sql-exporter: Prometheus exporter that runs SQL queries on a schedule and serves their results.

use std::process::ExitCode;
use std::sync::Arc;

use exporter_core::{cli, logging, CollectorSet, ExporterInfo, Server};
use tracing::error;

const INFO: ExporterInfo = ExporterInfo {
    name: "sql_exporter",
    binary: "sql-exporter",
    description: "Prometheus exporter that runs SQL queries on a schedule and serves their results",
    default_listen: ":9237",
};

#[tokio::main]
async fn main() -> ExitCode {
    let matches = cli::parse(cli::command(&INFO));
    logging::init(cli::log_options(&matches));
    let web = cli::web_options(&matches);
    let set = CollectorSet::from_collectors("sql", Vec::new());
    match Server::new(INFO, web).metrics(Arc::new(set)).run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!(error = %e, "Server failed");
            ExitCode::FAILURE
        }
    }
}
