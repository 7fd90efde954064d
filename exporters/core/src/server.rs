//! The HTTP server.

use std::sync::Arc;

use crate::cli::{ExporterInfo, WebOptions};
use crate::collector::Gatherer;

/// Builder of the HTTP server of an exporter.
pub struct Server {
    info: ExporterInfo,
    web: WebOptions,
    endpoints: Vec<(String, Arc<dyn Gatherer>, bool)>,
    text_routes: Vec<(String, String)>,
}

impl Server {
    pub fn new(info: ExporterInfo, web: WebOptions) -> Server {
        Server {
            info,
            web,
            endpoints: Vec::new(),
            text_routes: Vec::new(),
        }
    }

    /// Serves `gatherer` at the telemetry path, with the exporter's own metrics.
    pub fn metrics(mut self, gatherer: Arc<dyn Gatherer>) -> Server {
        let path = self.web.telemetry_path.clone();
        self.endpoints.push((path, gatherer, true));
        self
    }

    /// Serves `gatherer` at another path, such as `/probe`, without the exporter's own metrics.
    pub fn endpoint(mut self, path: &str, gatherer: Arc<dyn Gatherer>) -> Server {
        self.endpoints.push((path.to_owned(), gatherer, false));
        self
    }

    /// Answers GET `path` with a fixed `text/plain` body, such as `/healthz`.
    pub fn text_route(mut self, path: &str, body: &str) -> Server {
        self.text_routes.push((path.to_owned(), body.to_owned()));
        self
    }

    /// Serves until SIGTERM or SIGINT.
    pub async fn run(self) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let _ = (&self.info, &self.endpoints, &self.text_routes);
        todo!("server")
    }
}
