//! Helpers of the integration tests: throwaway PostgreSQL databases on the local server
//! (127.0.0.1:5432, user postgres, trust authentication), configurations and exposition text.

#![allow(dead_code)]

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use exporter_core::MetricSink;
use sql_exporter::cache::Cache;
use sql_exporter::config::{self, Config, Format};
use sql_exporter::job::JobRunner;
use tokio_postgres::{Client, NoTls};

pub const ADMIN_DSN: &str = "host=127.0.0.1 port=5432 user=postgres dbname=postgres";

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Returns a database name that no other test of any process uses at the same time.
pub fn unique_name(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    format!("{prefix}_{}_{n}", std::process::id())
}

pub async fn admin() -> Client {
    let (client, connection) = tokio_postgres::connect(ADMIN_DSN, NoTls)
        .await
        .expect("PostgreSQL on 127.0.0.1:5432 accepts user postgres");
    tokio::spawn(connection);
    client
}

/// A database created for one test and dropped when the value goes out of scope.
pub struct TestDb {
    pub name: String,
}

impl TestDb {
    pub async fn create(prefix: &str) -> TestDb {
        let name = unique_name(prefix);
        admin()
            .await
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .await
            .unwrap();
        TestDb { name }
    }

    /// Creates a database holding the sample tracker data of testdata/tracker-sample.sql.
    pub async fn tracker() -> TestDb {
        let db = TestDb::create("tracker").await;
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/tracker-sample.sql");
        let sql = std::fs::read_to_string(path).unwrap();
        db.client().await.batch_execute(&sql).await.unwrap();
        db
    }

    pub async fn client(&self) -> Client {
        let dsn = format!(
            "host=127.0.0.1 port=5432 user=postgres dbname={}",
            self.name
        );
        let (client, connection) = tokio_postgres::connect(&dsn, NoTls).await.unwrap();
        tokio::spawn(connection);
        client
    }

    /// URL over TCP, as the tests' configurations use it.
    pub fn url(&self) -> String {
        format!(
            "postgres://postgres@127.0.0.1:5432/{}?sslmode=disable",
            self.name
        )
    }

    /// URL over the server's Unix socket.
    pub fn socket_url(&self) -> String {
        format!(
            "postgres://postgres@/{}?host=/var/run/postgresql",
            self.name
        )
    }

    /// Terminates every backend connected to this database, and only those.
    pub async fn terminate_backends(&self) -> u64 {
        let rows = admin()
            .await
            .query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = $1 AND pid <> pg_backend_pid()",
                &[&self.name],
            )
            .await
            .unwrap();
        rows.len() as u64
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs outside the test's runtime, so a runtime of its own does the work.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                admin().await.batch_execute(&sql).await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test database {}", self.name);
        }
    }
}

pub fn parse(text: &str, format: Format) -> Config {
    let name = match format {
        Format::Toml => "test.toml",
        Format::Yaml => "test.yml",
    };
    config::parse(Path::new(name), text, format).unwrap_or_else(|e| panic!("{e}"))
}

pub fn build(config: Config) -> (Arc<Cache>, Vec<Arc<JobRunner>>) {
    sql_exporter::build(config).unwrap()
}

/// Returns the cache's exposition in the text format, sorted.
pub fn exposition(cache: &Cache) -> String {
    let mut sink = MetricSink::new();
    cache.write_to(&mut sink);
    let mut text = String::new();
    exporter_core::encode::encode_text(&sink.finish(), &mut text);
    text
}

/// Returns the sample lines of `family` (without HELP and TYPE lines).
pub fn samples(text: &str, family: &str) -> Vec<String> {
    text.lines()
        .filter(|line| {
            line.strip_prefix(family)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .map(str::to_owned)
        .collect()
}

/// Returns the value of the only sample of `family` whose line contains `needle`.
pub fn value(text: &str, family: &str, needle: &str) -> Option<f64> {
    samples(text, family)
        .iter()
        .find(|line| line.contains(needle))
        .and_then(|line| line.rsplit(' ').next()?.parse().ok())
}
