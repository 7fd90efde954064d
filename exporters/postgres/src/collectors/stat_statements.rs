//! `stat_statements`: calls, time, rows and block I/O time of the most expensive statements,
//! from the pg_stat_statements extension. Without the extension the collector fails with the
//! server's error.
//!
//! PostgreSQL 13 renamed `total_time` to `total_exec_time`, and PostgreSQL 17 renamed
//! `blk_read_time`/`blk_write_time` to `shared_blk_read_time`/`shared_blk_write_time`. Only
//! statements above the 10th percentile of total time are read, at most `limit` of them.

use std::collections::HashSet;

use exporter_core::{CollectError, Desc, MetricSink};
use tracing::warn;

use super::{as_strs, emit_values, split_row, CollectorConfig, PgCollector, ValueColumn};
use crate::connection::Session;

/// Options set with `--collector.stat_statements.*`.
#[derive(Clone, Debug)]
pub struct StatStatementsOptions {
    /// Add `pg_stat_statements_query_id` with the statement text.
    pub include_query: bool,
    /// Maximum number of characters of statement text.
    pub query_length: u32,
    /// Maximum number of statements.
    pub limit: u32,
    pub exclude_databases: Vec<String>,
    pub exclude_users: Vec<String>,
}

impl Default for StatStatementsOptions {
    fn default() -> StatStatementsOptions {
        StatStatementsOptions {
            include_query: false,
            query_length: 120,
            limit: 100,
            exclude_databases: Vec::new(),
            exclude_users: Vec::new(),
        }
    }
}

const LABELS: &[&str] = &["user", "datname", "queryid"];

const COLUMNS: &[ValueColumn] = &[
    ValueColumn::new(Desc::counter(
        "pg_stat_statements_calls_total",
        "Number of times the statement was executed.",
        LABELS,
    )),
    ValueColumn::new(Desc::counter(
        "pg_stat_statements_seconds_total",
        "Seconds spent executing the statement.",
        LABELS,
    )),
    ValueColumn::new(Desc::counter(
        "pg_stat_statements_rows_total",
        "Number of rows retrieved or affected by the statement.",
        LABELS,
    )),
    ValueColumn::new(Desc::counter(
        "pg_stat_statements_block_read_seconds_total",
        "Seconds the statement spent reading blocks.",
        LABELS,
    )),
    ValueColumn::new(Desc::counter(
        "pg_stat_statements_block_write_seconds_total",
        "Seconds the statement spent writing blocks.",
        LABELS,
    )),
];

const QUERY_ID: Desc = Desc::counter(
    "pg_stat_statements_query_id",
    "Statement text of a query ID; the value is always 1.",
    &["queryid", "query"],
);

pub struct StatStatements {
    options: StatStatementsOptions,
}

impl StatStatements {
    pub fn new(config: &CollectorConfig) -> StatStatements {
        StatStatements {
            options: config.stat_statements.clone(),
        }
    }

    /// Builds the query for PostgreSQL `major`.
    pub fn query(&self, major: u32) -> String {
        let options = &self.options;
        let (read_time, write_time) = if major >= 17 {
            ("shared_blk_read_time", "shared_blk_write_time")
        } else {
            ("blk_read_time", "blk_write_time")
        };
        let text = if options.include_query {
            format!("LEFT(s.query, {}) AS query,", options.query_length)
        } else {
            String::new()
        };
        let mut filters = String::new();
        if !options.exclude_databases.is_empty() {
            filters.push_str(&format!(
                " AND d.datname NOT IN ({})",
                quote_list(&options.exclude_databases)
            ));
        }
        if !options.exclude_users.is_empty() {
            filters.push_str(&format!(
                " AND pg_get_userbyid(s.userid) NOT IN ({})",
                quote_list(&options.exclude_users)
            ));
        }
        format!(
            "SELECT pg_get_userbyid(s.userid) AS user, d.datname, s.queryid::text AS queryid, {text}
       s.calls, s.total_exec_time / 1000.0 AS seconds_total, s.rows,
       s.{read_time} / 1000.0, s.{write_time} / 1000.0
  FROM pg_stat_statements({include}) AS s
  JOIN pg_database d ON d.oid = s.dbid
 WHERE s.total_exec_time > (SELECT percentile_cont(0.1) WITHIN GROUP (ORDER BY total_exec_time)
                              FROM pg_stat_statements(false)){filters}
 ORDER BY seconds_total DESC
 LIMIT {limit}",
            include = options.include_query,
            limit = options.limit.max(1),
        )
    }
}

/// Quotes names as SQL string literals, doubling single quotes.
fn quote_list(names: &[String]) -> String {
    names
        .iter()
        .map(|name| format!("'{}'", name.replace('\'', "''")))
        .collect::<Vec<_>>()
        .join(", ")
}

#[async_trait::async_trait]
impl PgCollector for StatStatements {
    async fn update(&self, session: &Session, sink: &mut MetricSink) -> Result<(), CollectError> {
        let query = self.query(session.version.major);
        let rows = session.cells("pg_stat_statements", &query).await?;
        let mut seen = HashSet::new();
        let mut texts = HashSet::new();
        for row in rows {
            let (labels, mut values) = split_row(&row, LABELS.len(), "unknown");
            if !seen.insert(labels.clone()) {
                warn!(collector = "stat_statements", user = %labels[0], datname = %labels[1], queryid = %labels[2], "Skipped a repeated statement row");
                continue;
            }
            if self.options.include_query {
                let text = values[0].label_or("unknown");
                values = &values[1..];
                if texts.insert(labels[2].clone()) {
                    sink.add(&QUERY_ID, &[&labels[2], &text], 1.0);
                }
            }
            emit_values(sink, &as_strs(&labels), values, COLUMNS);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_follows_version_and_options() {
        let mut config = CollectorConfig::default();
        config.stat_statements.include_query = true;
        config.stat_statements.query_length = 40;
        config.stat_statements.limit = 7;
        config.stat_statements.exclude_users = vec!["o'brien".to_owned()];
        let collector = StatStatements::new(&config);
        let q16 = collector.query(16);
        assert!(q16.contains("blk_read_time"));
        assert!(!q16.contains("shared_blk_read_time"));
        assert!(q16.contains("LEFT(s.query, 40)"));
        assert!(q16.contains("pg_stat_statements(true)"));
        assert!(q16.contains("LIMIT 7"));
        assert!(q16.contains("NOT IN ('o''brien')"));
        assert!(collector.query(17).contains("shared_blk_read_time"));
    }
}
