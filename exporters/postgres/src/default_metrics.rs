//! The metrics that postgres_exporter computes outside its collectors: `pg_static` from
//! `SELECT version()`, and the `pg_stat_database_conflicts` namespace. Both are left out with
//! `--disable-default-metrics` and on auto-discovered databases.

use std::collections::HashMap;

use exporter_core::metric::LabelName;
use exporter_core::{MetricSink, MetricType, Value};

use crate::connection::Session;
use crate::namespace::{ColumnMapping, Namespace, Usage};

/// Adds `pg_static{version, short_version}` with `labels` (the `server` label and constant
/// labels).
pub fn add_static(sink: &mut MetricSink, session: &Session, labels: &[(String, String)]) {
    let mut all: Vec<(LabelName, String)> = vec![
        (LabelName::Borrowed("version"), session.version_text.clone()),
        (
            LabelName::Borrowed("short_version"),
            session.version.short(),
        ),
    ];
    all.extend(
        labels
            .iter()
            .map(|(k, v)| (LabelName::Owned(k.clone()), v.clone())),
    );
    sink.add_dynamic(
        "pg_static",
        "Version of the server; the value is always 1.",
        MetricType::Untyped,
        all,
        Value::Number(1.0),
        None,
    );
}

/// Columns of `pg_stat_database_conflicts` known to postgres_exporter; columns added by later
/// versions (`confl_active_logicalslot` in PostgreSQL 16) are reported as untyped families.
const CONFLICT_COLUMNS: &[(&str, Usage, &str)] = &[
    ("datid", Usage::Label, "OID of the database."),
    ("datname", Usage::Label, "Name of the database."),
    (
        "confl_tablespace",
        Usage::Counter,
        "Number of queries cancelled on this standby because a tablespace was dropped.",
    ),
    (
        "confl_lock",
        Usage::Counter,
        "Number of queries cancelled on this standby because of lock timeouts.",
    ),
    (
        "confl_snapshot",
        Usage::Counter,
        "Number of queries cancelled on this standby because of old snapshots.",
    ),
    (
        "confl_bufferpin",
        Usage::Counter,
        "Number of queries cancelled on this standby because of pinned buffers.",
    ),
    (
        "confl_deadlock",
        Usage::Counter,
        "Number of queries cancelled on this standby because of deadlocks.",
    ),
];

/// Returns the `pg_stat_database_conflicts` namespace.
pub fn conflicts_namespace() -> Namespace {
    let columns: HashMap<String, ColumnMapping> = CONFLICT_COLUMNS
        .iter()
        .map(|(name, usage, help)| {
            (
                (*name).to_owned(),
                ColumnMapping {
                    usage: *usage,
                    description: (*help).to_owned(),
                    mapping: HashMap::new(),
                },
            )
        })
        .collect();
    Namespace {
        name: "pg_stat_database_conflicts".to_owned(),
        query: None,
        columns,
        master: true,
        cache_seconds: 0,
        run_on_server: None,
    }
}
