//! The collectors of postgres_exporter 0.20, one module per statistics view, and the table from
//! which `--collector.<name>` and `--no-collector.<name>` are derived.
//!
//! Each collector implements [`PgCollector`]: it receives the scrape's database session and
//! writes samples into a sink. The shared collector runner of exporter-core runs them
//! concurrently and reports `pg_scrape_collector_duration_seconds` and `_success`. The session
//! reaches them through [`with_session`], because the runner's interface carries no database.

use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use exporter_core::collector::BuildError;
use exporter_core::{
    AnyCollector, CollectError, Collector, CollectorEntry, Desc, MetricSink, Scrape,
};

use crate::connection::{QueryError, Session};
use crate::value::Cell;

mod buffercache_summary;
mod database;
mod database_wraparound;
mod locks;
mod long_running_transactions;
mod postmaster;
mod process_idle;
mod replication;
mod replication_slots;
mod roles;
mod settings;
mod stat_activity;
mod stat_activity_autovacuum;
mod stat_archiver;
mod stat_bgwriter;
mod stat_checkpointer;
mod stat_database;
mod stat_progress_vacuum;
mod stat_replication;
mod stat_statements;
mod stat_user_tables;
mod stat_wal_receiver;
mod statio_user_indexes;
mod statio_user_tables;
mod wal;
mod xlog_location;

pub use stat_statements::StatStatementsOptions;

/// Options that collectors read when they are built.
#[derive(Clone, Debug, Default)]
pub struct CollectorConfig {
    /// Databases left out by the database collector (`--exclude-databases`).
    pub exclude_databases: Vec<String>,
    pub stat_statements: StatStatementsOptions,
}

/// A collector of one statistics view.
#[async_trait]
pub trait PgCollector: Send + Sync + 'static {
    async fn update(&self, session: &Session, sink: &mut MetricSink) -> Result<(), CollectError>;
}

tokio::task_local! {
    static SESSION: Arc<Session>;
}

/// Runs `future`, in which the collectors of [`COLLECTORS`] read `session`.
pub async fn with_session<F: Future>(session: Arc<Session>, future: F) -> F::Output {
    SESSION.scope(session, future).await
}

struct WithSession<T>(T);

#[async_trait]
impl<T: PgCollector> Collector for WithSession<T> {
    async fn collect(&self, _scrape: &Scrape, sink: &mut MetricSink) -> Result<(), CollectError> {
        let session = SESSION
            .try_with(Arc::clone)
            .map_err(|_| CollectError::failed("no database session for this scrape"))?;
        self.0.update(&session, sink).await
    }
}

fn build<T: PgCollector>(collector: T) -> Result<AnyCollector, BuildError> {
    Ok(AnyCollector::asynchronous(WithSession(collector)))
}

impl From<QueryError> for CollectError {
    fn from(error: QueryError) -> CollectError {
        CollectError::failed(error)
    }
}

macro_rules! entry {
    ($name:literal, $default:literal, $module:ident :: $kind:ident) => {
        CollectorEntry {
            name: $name,
            enabled_by_default: $default,
            build: |config| build($module::$kind::new(config)),
        }
    };
}

/// Every collector of postgres_exporter 0.20 with its default state.
pub static COLLECTORS: &[CollectorEntry<CollectorConfig>] = &[
    entry!(
        "buffercache_summary",
        false,
        buffercache_summary::BuffercacheSummary
    ),
    entry!("database", true, database::Database),
    entry!(
        "database_wraparound",
        false,
        database_wraparound::DatabaseWraparound
    ),
    entry!("locks", true, locks::Locks),
    entry!(
        "long_running_transactions",
        false,
        long_running_transactions::LongRunningTransactions
    ),
    entry!("postmaster", false, postmaster::Postmaster),
    entry!("process_idle", false, process_idle::ProcessIdle),
    entry!("replication", true, replication::Replication),
    entry!(
        "replication_slots",
        true,
        replication_slots::ReplicationSlots
    ),
    entry!("roles", true, roles::Roles),
    entry!("settings", true, settings::Settings),
    entry!("stat_activity", true, stat_activity::StatActivity),
    entry!(
        "stat_activity_autovacuum",
        false,
        stat_activity_autovacuum::StatActivityAutovacuum
    ),
    entry!("stat_archiver", true, stat_archiver::StatArchiver),
    entry!("stat_bgwriter", true, stat_bgwriter::StatBgwriter),
    entry!(
        "stat_checkpointer",
        false,
        stat_checkpointer::StatCheckpointer
    ),
    entry!("stat_database", true, stat_database::StatDatabase),
    entry!(
        "stat_progress_vacuum",
        true,
        stat_progress_vacuum::StatProgressVacuum
    ),
    entry!("stat_replication", true, stat_replication::StatReplication),
    entry!("stat_statements", false, stat_statements::StatStatements),
    entry!("stat_user_tables", true, stat_user_tables::StatUserTables),
    entry!(
        "stat_wal_receiver",
        false,
        stat_wal_receiver::StatWalReceiver
    ),
    entry!(
        "statio_user_indexes",
        false,
        statio_user_indexes::StatioUserIndexes
    ),
    entry!(
        "statio_user_tables",
        true,
        statio_user_tables::StatioUserTables
    ),
    entry!("wal", true, wal::Wal),
    entry!("xlog_location", false, xlog_location::XlogLocation),
];

/// Treatment of a NULL in a value column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnNull {
    /// Report 0, as postgres_exporter does for most statistics.
    Zero,
    /// Leave the series out of this scrape.
    Omit,
}

/// One value column of a query: the family it feeds, a factor applied to the value (such as
/// 0.001 for milliseconds to seconds), and what a NULL becomes.
pub struct ValueColumn {
    pub desc: Desc,
    pub scale: f64,
    pub on_null: OnNull,
}

impl ValueColumn {
    pub const fn new(desc: Desc) -> ValueColumn {
        ValueColumn {
            desc,
            scale: 1.0,
            on_null: OnNull::Zero,
        }
    }

    pub const fn scaled(desc: Desc, scale: f64) -> ValueColumn {
        ValueColumn {
            desc,
            scale,
            on_null: OnNull::Zero,
        }
    }

    pub const fn omit_null(desc: Desc) -> ValueColumn {
        ValueColumn {
            desc,
            scale: 1.0,
            on_null: OnNull::Omit,
        }
    }
}

/// Adds one sample per column of `columns`, reading the values from `values` in the same order.
pub fn emit_values(
    sink: &mut MetricSink,
    labels: &[&str],
    values: &[Cell],
    columns: &[ValueColumn],
) {
    for (column, cell) in columns.iter().zip(values) {
        let value = match (cell.number(), column.on_null) {
            (Some(value), _) => value * column.scale,
            (None, OnNull::Zero) => 0.0,
            (None, OnNull::Omit) => continue,
        };
        sink.add(&column.desc, labels, value);
    }
}

/// Splits a row into its first `label_count` cells as label text (NULL as `null_label`) and the
/// remaining cells.
pub fn split_row<'a>(
    row: &'a [Cell],
    label_count: usize,
    null_label: &str,
) -> (Vec<String>, &'a [Cell]) {
    let count = label_count.min(row.len());
    let labels = row[..count]
        .iter()
        .map(|c| c.label_or(null_label))
        .collect();
    (labels, &row[count..])
}

/// Borrows label strings for [`MetricSink::add`].
pub fn as_strs(labels: &[String]) -> Vec<&str> {
    labels.iter().map(String::as_str).collect()
}
