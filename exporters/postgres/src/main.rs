//! postgres-exporter: Prometheus exporter for PostgreSQL server metrics, compatible with
//! prometheus-community/postgres_exporter 0.20.

use std::process::ExitCode;
use std::sync::Arc;

use exporter_core::collector::{collector_args, enabled_collectors};
use exporter_core::{cli, logging, CollectorSet, ExporterInfo, Server};
use tracing::{error, info, warn};

use postgres_exporter::collectors::COLLECTORS;
use postgres_exporter::dsn::{self, Dsn};
use postgres_exporter::endpoints::{MetricsEndpoint, ProbeEndpoint};
use postgres_exporter::exporter::Exporter;
use postgres_exporter::{config, flags};

const INFO: ExporterInfo = ExporterInfo {
    name: "postgres_exporter",
    binary: "postgres-exporter",
    description: "Prometheus exporter for PostgreSQL server metrics",
    default_listen: ":9187",
};

fn main() -> ExitCode {
    let command = flags::add_flags(cli::command(&INFO)).args(collector_args(COLLECTORS));
    let matches = cli::parse(command);
    logging::init(cli::log_options(&matches));

    let settings = match flags::Settings::from_matches(&matches) {
        Ok(settings) => settings,
        Err(e) => {
            error!(error = %e, "Invalid flags");
            return ExitCode::FAILURE;
        }
    };
    if settings.dump_maps {
        flags::dump_maps(&settings);
        return ExitCode::SUCCESS;
    }
    settings.warn_deprecated();

    let auth_config = match config::load(&settings.config_file) {
        Ok(config) => Some(config),
        Err(e) => {
            warn!(error = %e, "Error loading config");
            None
        }
    };
    let dsns = match data_sources() {
        Ok(dsns) => dsns,
        Err(e) => {
            error!(error = %e, "Failed reading data sources");
            return ExitCode::FAILURE;
        }
    };

    let enabled = enabled_collectors(COLLECTORS, &matches);
    let collectors = match CollectorSet::build("pg", COLLECTORS, &enabled, &settings.collectors) {
        Ok(set) => set,
        Err(e) => {
            error!(error = %e, "Invalid collector options");
            return ExitCode::FAILURE;
        }
    };
    info!(collectors = %enabled.join(","), "Enabled collectors");

    let config_loaded = auth_config.is_some();
    let exporter = Arc::new(Exporter::new(settings.exporter.clone(), collectors));
    let metrics = MetricsEndpoint::new(Arc::clone(&exporter), dsns, config_loaded);
    let probe = ProbeEndpoint::new(exporter, auth_config.unwrap_or_default());
    serve(
        Server::new(INFO, cli::web_options(&matches))
            .metrics(Arc::new(metrics))
            .endpoint("/probe", Arc::new(probe)),
    )
}

/// Reads and parses the DSNs of `DATA_SOURCE_*`. A DSN that does not parse is logged (without
/// its password) and left out, so that the exporter still serves `pg_up 0`.
fn data_sources() -> Result<Vec<Dsn>, dsn::DsnError> {
    let texts = dsn::from_environment(|name| std::env::var(name).ok())?;
    if texts.is_empty() {
        warn!("No data source configured: set DATA_SOURCE_NAME or DATA_SOURCE_URI");
    }
    let mut dsns = Vec::new();
    for text in texts {
        match Dsn::parse(&text) {
            Ok(dsn) => {
                info!(dsn = %dsn, "Data source");
                dsns.push(dsn);
            }
            Err(e) => error!(error = %e, "Skipped an invalid data source"),
        }
    }
    Ok(dsns)
}

fn serve(server: Server) -> ExitCode {
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
    match runtime.block_on(server.run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!(error = %e, "Server failed");
            ExitCode::FAILURE
        }
    }
}
