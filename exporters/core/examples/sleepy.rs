//! A minimal exporter with one collector that sleeps before it reports, for tests of the shared
//! server as a whole process (signals, exit status, flag errors).
//!
//! `cargo run -p exporter-core --example sleepy -- --sleep 2s --web.listen-address 127.0.0.1:9999`

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Arg;
use exporter_core::{
    async_trait, cli, logging, AnyCollector, CollectError, Collector, CollectorSet, Desc,
    ExporterInfo, MetricSink, Scrape, Server,
};

const INFO: ExporterInfo = ExporterInfo {
    name: "sleepy_exporter",
    binary: "sleepy",
    description: "Exporter whose collector sleeps before it reports",
    default_listen: "127.0.0.1:0",
};

const AWAKE: Desc = Desc::gauge(
    "sleepy_awake",
    "Always 1 once the collector has slept.",
    &[],
);

struct Sleeper(Duration);

#[async_trait]
impl Collector for Sleeper {
    async fn collect(&self, _scrape: &Scrape, sink: &mut MetricSink) -> Result<(), CollectError> {
        tokio::time::sleep(self.0).await;
        sink.add(&AWAKE, &[], 1.0);
        Ok(())
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let command = cli::command(&INFO).arg(
        Arg::new("sleep")
            .long("sleep")
            .default_value("0s")
            .value_parser(cli::parse_duration)
            .help("How long the collector sleeps in each scrape"),
    );
    let matches = cli::parse(command);
    logging::init(cli::log_options(&matches));
    let sleep = matches
        .get_one::<Duration>("sleep")
        .copied()
        .unwrap_or_default();
    let set = CollectorSet::from_collectors(
        "sleepy",
        vec![("sleeper", AnyCollector::asynchronous(Sleeper(sleep)))],
    );
    let server = Server::new(INFO, cli::web_options(&matches)).metrics(Arc::new(set));
    let bound = match server.bind().await {
        Ok(bound) => bound,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    // The tests read the port of `127.0.0.1:0` from this line.
    for address in bound.local_addresses() {
        println!("listening on {address}");
    }
    bound
        .serve_until(exporter_core::server::shutdown_signal())
        .await;
    ExitCode::SUCCESS
}
