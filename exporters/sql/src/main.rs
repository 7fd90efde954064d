//! sql-exporter: Prometheus exporter that runs SQL queries on a schedule and serves their results.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::parser::ValueSource;
use clap::{Arg, ArgAction};
use exporter_core::logging::LogLevel;
use exporter_core::{cli, logging, ExporterInfo, LogOptions, Server};
use tracing::{error, info};

const INFO: ExporterInfo = ExporterInfo {
    name: "sql_exporter",
    binary: "sql-exporter",
    description: "Prometheus exporter that runs SQL queries on a schedule and serves their results",
    default_listen: ":9237",
};

fn command() -> clap::Command {
    cli::command(&INFO)
        .arg(
            Arg::new("config.file")
                .long("config.file")
                .env("CONFIG")
                .default_value("config.yml")
                .value_parser(clap::value_parser!(PathBuf))
                .help("Configuration file (TOML, or justwatchcom's YAML or JSON)"),
        )
        .arg(
            Arg::new("config.check")
                .long("config.check")
                .action(ArgAction::SetTrue)
                .help("Validate the configuration file, print a summary and exit"),
        )
}

/// Reads the log options; justwatchcom's `LOGLEVEL` variable sets the level when
/// `--log.level` is not given.
fn log_options(matches: &clap::ArgMatches) -> LogOptions {
    let mut options = cli::log_options(matches);
    let from_default = matches.value_source("log.level") == Some(ValueSource::DefaultValue);
    let variable = std::env::var("LOGLEVEL").map(|v| v.to_lowercase());
    if from_default {
        options.level = match variable.as_deref() {
            Ok("debug") => LogLevel::Debug,
            Ok("warn") => LogLevel::Warn,
            Ok("error") => LogLevel::Error,
            _ => options.level,
        };
    }
    options
}

#[tokio::main]
async fn main() -> ExitCode {
    let matches = cli::parse(command());
    logging::init(log_options(&matches));
    let Some(path) = matches.get_one::<PathBuf>("config.file") else {
        return ExitCode::FAILURE;
    };
    let checking = matches.get_flag("config.check");
    let config = match sql_exporter::config::load(path) {
        Ok(config) => config,
        Err(e) if checking => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
        Err(e) => {
            error!(error = %e, "Cannot load configuration");
            return ExitCode::FAILURE;
        }
    };
    if checking {
        let queries: usize = config.jobs.iter().map(|j| j.queries.len()).sum();
        println!(
            "{}: valid, {} jobs, {queries} queries",
            path.display(),
            config.jobs.len()
        );
        return ExitCode::SUCCESS;
    }

    let (cache, runners) = match sql_exporter::build(config) {
        Ok(built) => built,
        Err(e) => {
            error!(error = %e, "Cannot set up jobs");
            return ExitCode::FAILURE;
        }
    };
    let names: Vec<&str> = runners.iter().map(|r| r.name()).collect();
    info!(config = %path.display(), jobs = ?names, "Starting sql-exporter");
    for runner in &runners {
        tokio::spawn(runner.clone().run_forever());
    }

    let web = cli::web_options(&matches);
    let server = Server::new(INFO, web)
        .metrics(cache)
        .text_route("/healthz", "OK");
    match server.run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!(error = %e, "Server failed");
            ExitCode::FAILURE
        }
    }
}
