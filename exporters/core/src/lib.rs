//! Code that the three exporters share: the HTTP server with exporter-toolkit's flags and web
//! configuration, the text and OpenMetrics encoders, the exporter's own metrics, logging, and
//! the collector framework.

pub mod cli;
pub mod client_tls;
pub mod collector;
pub mod encode;
pub mod logging;
pub mod metric;
pub mod process;
pub mod server;
pub mod sink;
mod tls;
pub mod web_config;

pub use cli::{ExporterInfo, LogOptions, WebOptions};
pub use collector::{
    AnyCollector, BlockingCollector, CollectError, Collector, CollectorEntry, CollectorSet,
    GatherError, Gatherer, Scrape,
};
pub use metric::{Desc, Histogram, MetricFamily, MetricType, Sample, Summary, Value};
pub use server::Server;
pub use sink::MetricSink;

pub use async_trait::async_trait;
