//! postgres-exporter: Prometheus metrics from PostgreSQL 13 to 18, compatible with
//! prometheus-community/postgres_exporter 0.20.

pub mod collectors;
pub mod config;
pub mod connection;
pub mod default_metrics;
pub mod dsn;
pub mod endpoints;
pub mod exporter;
pub mod flags;
pub mod namespace;
pub mod tls;
pub mod user_queries;
pub mod value;
