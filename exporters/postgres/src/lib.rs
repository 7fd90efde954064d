//! postgres-exporter: Prometheus metrics from PostgreSQL 13 to 18, compatible with
//! prometheus-community/postgres_exporter 0.20.

pub mod collectors;
pub mod connection;
pub mod dsn;
pub mod value;
