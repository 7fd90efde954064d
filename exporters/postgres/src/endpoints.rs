//! The two scrape endpoints: the metrics path, which scrapes the configured data sources, and
//! `/probe?target=…&auth_module=…`, which scrapes the target named in the request.

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use exporter_core::metric::LabelName;
use exporter_core::{async_trait, GatherError, Gatherer, MetricSink, MetricType, Scrape, Value};
use tracing::warn;

use crate::config::{AuthModule, Config};
use crate::dsn::Dsn;
use crate::exporter::{Exporter, ScrapeStats};

/// Serves the configured data sources.
pub struct MetricsEndpoint {
    exporter: Arc<Exporter>,
    dsns: Vec<Dsn>,
    stats: Mutex<ScrapeStats>,
    /// Whether `--config.file` loaded, and when, for `postgres_exporter_config_last_reload_*`.
    config_loaded: Option<f64>,
}

impl MetricsEndpoint {
    pub fn new(exporter: Arc<Exporter>, dsns: Vec<Dsn>, config_loaded: bool) -> MetricsEndpoint {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs() as f64);
        MetricsEndpoint {
            exporter,
            dsns,
            stats: Mutex::new(ScrapeStats::default()),
            config_loaded: config_loaded.then_some(now),
        }
    }
}

#[async_trait]
impl Gatherer for MetricsEndpoint {
    async fn gather(&self, scrape: &Scrape, sink: &mut MetricSink) -> Result<(), GatherError> {
        self.exporter
            .scrape(&self.dsns, &self.stats, scrape, sink)
            .await?;
        let reload = [
            (
                "postgres_exporter_config_last_reload_successful",
                "Whether the configuration file loaded (1) or not (0).",
                if self.config_loaded.is_some() {
                    1.0
                } else {
                    0.0
                },
            ),
            (
                "postgres_exporter_config_last_reload_success_timestamp_seconds",
                "Unix time at which the configuration file last loaded.",
                self.config_loaded.unwrap_or(0.0),
            ),
        ];
        for (name, help, value) in reload {
            sink.add_dynamic(
                name,
                help,
                MetricType::Gauge,
                Vec::<(LabelName, String)>::new(),
                Value::Number(value),
                None,
            );
        }
        Ok(())
    }
}

/// Serves `/probe`, building the DSN from the `target` parameter and the auth module named by
/// `auth_module`.
pub struct ProbeEndpoint {
    exporter: Arc<Exporter>,
    config: Config,
}

impl ProbeEndpoint {
    pub fn new(exporter: Arc<Exporter>, config: Config) -> ProbeEndpoint {
        ProbeEndpoint { exporter, config }
    }

    /// Returns the DSN of a probe request, or the reason the request is invalid.
    pub fn target_dsn(&self, scrape: &Scrape) -> Result<Dsn, GatherError> {
        let target = scrape
            .param_values("target")
            .next()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| GatherError::bad_request("target is required"))?;
        let default_module = AuthModule {
            kind: String::new(),
            userpass: Default::default(),
            options: Default::default(),
        };
        let module = match scrape
            .param_values("auth_module")
            .next()
            .filter(|m| !m.is_empty())
        {
            None => &default_module,
            Some(name) => {
                let module = self.config.auth_modules.get(name).ok_or_else(|| {
                    GatherError::bad_request(format!("auth_module {name} not found"))
                })?;
                if module.userpass.username.is_empty() || module.userpass.password.is_empty() {
                    return Err(GatherError::bad_request(format!(
                        "auth_module {name} has no username or password"
                    )));
                }
                module
            }
        };
        module.configure_target(target).map_err(|e| {
            warn!(error = %e, "Invalid probe target");
            GatherError::bad_request(format!("could not configure dsn for target: {e}"))
        })
    }
}

#[async_trait]
impl Gatherer for ProbeEndpoint {
    async fn gather(&self, scrape: &Scrape, sink: &mut MetricSink) -> Result<(), GatherError> {
        let dsn = self.target_dsn(scrape)?;
        let stats = Mutex::new(ScrapeStats::default());
        self.exporter.scrape(&[dsn], &stats, scrape, sink).await
    }
}
