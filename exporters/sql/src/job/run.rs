//! One run of a job's queries on one connection, and the conversion of their results into the
//! cache.

use std::time::Instant;

use exporter_core::collector::error_chain;
use tracing::{error, warn};

use super::{JobRunner, RunError, LOGGED_ROW_ERRORS};
use crate::config::Query;
use crate::driver::{Cell, Connection, ResultSet};
use crate::dsn::Target;
use crate::rows::{Converted, Iteration};

impl JobRunner {
    pub(super) async fn run_connection(&self, index: usize) -> usize {
        let target = &self.targets[index];
        let mut slot = self.connections[index].lock().await;
        let succeeded = match self.run_queries(index, &mut slot).await {
            Ok(succeeded) => succeeded,
            Err(e) => {
                warn!(
                    job = self.job.name,
                    target = target.redacted(),
                    error = error_chain(&e),
                    "Job run failed on connection"
                );
                for query in &self.job.queries {
                    self.cache
                        .set_failed(target, &self.job.name, &query.name, true);
                }
                // The query is not known yet, so the failure is counted under an empty name.
                self.cache.count_failure(&self.job.name, "");
                0
            }
        };
        if !self.job.keepalive {
            if let Some(conn) = slot.take() {
                conn.close().await;
            }
        }
        succeeded
    }

    async fn run_queries(
        &self,
        index: usize,
        slot: &mut Option<Connection>,
    ) -> Result<usize, RunError> {
        let mut kept = slot.as_ref().is_some_and(|c| !c.is_closed());
        self.ensure_connected(index, slot).await?;
        let values = match &self.job.iterator {
            Some(iterator) => {
                let result = self
                    .query(index, slot, &mut kept, &iterator.sql)
                    .await
                    .map_err(|e| RunError::Iterator(Box::new(e)))?;
                Some(iterator_values(&result))
            }
            None => None,
        };
        let mut succeeded = 0;
        for (query_index, query) in self.job.queries.iter().enumerate() {
            if self
                .run_query(
                    index,
                    query_index,
                    query,
                    slot,
                    &mut kept,
                    values.as_deref(),
                )
                .await
            {
                succeeded += 1;
            }
        }
        Ok(succeeded)
    }

    /// Runs one query (once per iterator value when it contains the placeholder) and updates
    /// the cache; returns whether it succeeded.
    async fn run_query(
        &self,
        target_index: usize,
        query_index: usize,
        query: &Query,
        slot: &mut Option<Connection>,
        kept: &mut bool,
        iterator_values: Option<&[String]>,
    ) -> bool {
        let job = &self.job.name;
        let target = &self.targets[target_index];
        self.cache.count_query(job, &query.name);

        let started = Instant::now();
        let outcome = self
            .fetch(target_index, query, slot, kept, iterator_values)
            .await;
        let converted = match outcome {
            Ok(converted) => converted,
            Err(e) => {
                warn!(
                    job,
                    query = query.name,
                    target = target.redacted(),
                    error = error_chain(&e),
                    "Query failed"
                );
                self.fail(target, query);
                return false;
            }
        };
        self.cache
            .observe_duration(job, &query.name, started.elapsed().as_secs_f64());

        if converted.rows == 0 && !query.allow_zero_rows {
            warn!(
                job,
                query = query.name,
                target = target.redacted(),
                problems = converted.errors.len(),
                "Query returned no usable rows"
            );
            log_row_errors(job, query, target, &converted.errors);
            self.fail(target, query);
            return false;
        }
        let clean = converted.errors.is_empty();
        if !clean {
            log_row_errors(job, query, target, &converted.errors);
            self.fail(target, query);
        }
        let key = (self.index, query_index, target_index);
        self.cache
            .store(key, &query.metric_name, &query.help, converted.samples);
        if clean {
            self.cache.set_failed(target, job, &query.name, false);
        }
        clean
    }

    async fn fetch(
        &self,
        target_index: usize,
        query: &Query,
        slot: &mut Option<Connection>,
        kept: &mut bool,
        iterator_values: Option<&[String]>,
    ) -> Result<Converted, RunError> {
        let target = &self.targets[target_index];
        let mut converted = Converted::default();
        let iterated = self
            .job
            .iterator
            .as_ref()
            .map(|it| (format!("{{{{{}}}}}", it.placeholder), it))
            .filter(|(placeholder, _)| query.sql.contains(placeholder.as_str()));
        match (iterated, iterator_values) {
            (Some((placeholder, iterator)), Some(values)) => {
                for value in values {
                    let sql = query.sql.replace(&placeholder, value);
                    let result = self.query(target_index, slot, kept, &sql).await?;
                    let iteration = Iteration {
                        label: &iterator.label,
                        value,
                    };
                    converted.add_rows(query, target, &self.job.name, &result, Some(iteration));
                }
            }
            _ => {
                let result = self.query(target_index, slot, kept, &query.sql).await?;
                converted.add_rows(query, target, &self.job.name, &result, None);
            }
        }
        Ok(converted)
    }

    fn fail(&self, target: &Target, query: &Query) {
        self.cache
            .set_failed(target, &self.job.name, &query.name, true);
        self.cache.count_failure(&self.job.name, &query.name);
    }
}

/// Returns the first column of each row as text; NULL becomes an empty string.
fn iterator_values(result: &ResultSet) -> Vec<String> {
    let first = result.columns.values().min().copied().unwrap_or(0);
    result
        .rows
        .iter()
        .filter_map(|row| match row.get(first)? {
            Cell::Text(text) => Some(text.clone()),
            Cell::Int(i) => Some(i.to_string()),
            Cell::Float(f) => Some(f.to_string()),
            _ => Some(String::new()),
        })
        .collect()
}

fn log_row_errors(job: &str, query: &Query, target: &Target, errors: &[String]) {
    for message in errors.iter().take(LOGGED_ROW_ERRORS) {
        error!(
            job,
            query = query.name,
            target = target.redacted(),
            error = message,
            "Rejected a result value"
        );
    }
    if errors.len() > LOGGED_ROW_ERRORS {
        error!(
            job,
            query = query.name,
            target = target.redacted(),
            more = errors.len() - LOGGED_ROW_ERRORS,
            "Rejected more result values"
        );
    }
}
