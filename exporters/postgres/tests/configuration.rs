//! Configuration as postgres_exporter accepts it: DSN forms and `DATA_SOURCE_*` variables,
//! queries.yaml, constant labels, the metric prefix, default metrics and auto-discovery.

mod common;

use common::{Cluster, Exporter};

const MAJOR: u32 = 15;

const QUERIES: &str = r#"
pg_custom:
  query: "SELECT current_database() AS datname, 7 AS hits, 2.5 AS unmapped"
  master: false
  metrics:
    - datname:
        usage: "LABEL"
        description: "Database of the row"
    - hits:
        usage: "GAUGE"
        description: "A fixed number"
pg_master_only:
  query: "SELECT 1 AS one"
  master: true
  cache_seconds: 60
  metrics:
    - one:
        usage: "COUNTER"
        description: "Always one"
pg_types:
  query: "SELECT '0/10'::pg_lsn AS lsn, DATE '2000-01-02' AS day, 12.5::numeric AS amount, true AS flag,
          ARRAY[1, 5]::float8[] AS wait, ARRAY[2, 3]::bigint[] AS wait_bucket, 7.5 AS wait_sum, 4 AS wait_count"
  master: true
  metrics:
    - wait:
        usage: "HISTOGRAM"
        description: "A histogram"
    - lsn:
        usage: "GAUGE"
        description: "A WAL position"
    - day:
        usage: "GAUGE"
        description: "A date"
    - amount:
        usage: "GAUGE"
        description: "A numeric"
    - flag:
        usage: "GAUGE"
        description: "A boolean"
pg_future:
  query: "SELECT 1 AS one"
  runonserver: ">=99.0.0"
  metrics:
    - one:
        usage: "GAUGE"
        description: "Never run"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unix_socket_key_value_dsn() {
    let cluster = Cluster::start(MAJOR);
    let dsn = format!(
        "host={} port={} user=postgres dbname=postgres",
        cluster.socket_dir(),
        cluster.port
    );
    let exporter = Exporter::start(&[], &[("DATA_SOURCE_NAME", &dsn)]);
    let m = exporter.scrape().await;
    assert_eq!(m.value("pg_up", &[]), Some(1.0), "{}", exporter.log());
    let server = format!("{}:{}", cluster.socket_dir(), cluster.port);
    assert_eq!(m.family("pg_static")[0].labels["server"], server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_source_uri_with_password_file() {
    let cluster = Cluster::start_with(MAJOR, true);
    let admin = common::connect(&format!(
        "host={} port={} user=postgres dbname=postgres",
        cluster.socket_dir(),
        cluster.port
    ))
    .await;
    admin
        .batch_execute("CREATE ROLE \"mon user\" LOGIN PASSWORD 'p@ss:word' IN ROLE pg_monitor")
        .await
        .unwrap();
    let pass_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(pass_file.path(), "p@ss:word\n").unwrap();
    let uri = format!("{}/postgres?sslmode=disable", cluster.host_port());
    let pass_path = pass_file.path().display().to_string();
    let exporter = Exporter::start(
        &[],
        &[
            ("DATA_SOURCE_URI", &uri),
            ("DATA_SOURCE_USER", "mon user"),
            ("DATA_SOURCE_PASS_FILE", &pass_path),
        ],
    );
    let m = exporter.scrape().await;
    assert_eq!(m.value("pg_up", &[]), Some(1.0), "{}", exporter.log());
    assert!(!exporter.log().contains("p@ss:word"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_queries_prefix_and_constant_labels() {
    let cluster = Cluster::start(MAJOR);
    let queries = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(queries.path(), QUERIES).unwrap();
    let query_flag = format!("--extend.query-path={}", queries.path().display());
    let exporter = Exporter::start(
        &[
            &query_flag,
            "--metric-prefix=db",
            "--constantLabels=env=test,team=sec",
        ],
        &[("DATA_SOURCE_NAME", &cluster.dsn("postgres"))],
    );

    let m = exporter.scrape().await;
    let env = ("env", "test");
    assert_eq!(m.value("pg_up", &[env, ("team", "sec")]), Some(1.0));
    assert_eq!(
        m.value("db_custom_hits", &[("datname", "postgres"), env]),
        Some(7.0)
    );
    assert_eq!(m.types["db_custom_hits"], "gauge");
    assert_eq!(
        m.value("db_custom_unmapped", &[("datname", "postgres")]),
        Some(2.5)
    );
    assert_eq!(m.types["db_custom_unmapped"], "untyped");
    assert_eq!(m.value("db_master_only_one", &[env]), Some(1.0));
    assert!(!m.has("db_future_one"));
    assert_eq!(m.value("db_types_lsn", &[]), Some(16.0));
    assert_eq!(m.value("db_types_day", &[]), Some(946_771_200.0));
    assert_eq!(m.value("db_types_amount", &[]), Some(12.5));
    assert_eq!(m.value("db_types_flag", &[]), Some(1.0));
    assert_eq!(m.value("db_types_wait_bucket", &[("le", "5")]), Some(3.0));
    assert_eq!(m.value("db_types_wait_count", &[]), Some(4.0));
    assert_eq!(m.types["db_types_wait"], "histogram");
    assert!(m.has("db_stat_database_conflicts_confl_lock"));
    assert!(m.value("pg_static", &[env]).is_some());

    let load = m.family("pg_exporter_user_queries_load_error");
    assert_eq!(load.len(), 1);
    assert_eq!(load[0].value, 0.0);
    assert_eq!(load[0].labels["hashsum"].len(), 64);

    // Collectors keep the pg namespace and no constant labels, as in postgres_exporter.
    assert!(m
        .value("pg_database_size_bytes", &[("datname", "postgres")])
        .is_some());
    assert_eq!(m.value("pg_scrape_collector_success", &[env]), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_queries_file_is_reported() {
    let cluster = Cluster::start(MAJOR);
    let queries = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(queries.path(), "pg_bad: [unclosed\n").unwrap();
    let query_flag = format!("--extend.query-path={}", queries.path().display());
    let exporter = Exporter::start(
        &[&query_flag],
        &[("DATA_SOURCE_NAME", &cluster.dsn("postgres"))],
    );
    let m = exporter.scrape().await;
    assert_eq!(m.value("pg_up", &[]), Some(1.0));
    assert_eq!(
        m.family("pg_exporter_user_queries_load_error")[0].value,
        1.0
    );
    assert!(m.has("pg_stat_database_conflicts_confl_lock"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disable_default_metrics_from_environment() {
    let cluster = Cluster::start(MAJOR);
    let exporter = Exporter::start(
        &[],
        &[
            ("DATA_SOURCE_NAME", &cluster.dsn("postgres")),
            ("PG_EXPORTER_DISABLE_DEFAULT_METRICS", "true"),
        ],
    );
    let m = exporter.scrape().await;
    assert_eq!(m.value("pg_up", &[]), Some(1.0));
    assert!(!m.has("pg_static"));
    assert!(!m.has("pg_stat_database_conflicts_confl_lock"));
    assert_eq!(m.success("database"), Some(1.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_discovery_runs_user_queries_per_database() {
    let cluster = Cluster::start(MAJOR);
    let admin = common::connect(&cluster.dsn("postgres")).await;
    for db in ["app_one", "app_two", "app_skipped"] {
        admin
            .batch_execute(&format!("CREATE DATABASE {db}"))
            .await
            .unwrap();
    }

    let queries = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(queries.path(), QUERIES).unwrap();
    let query_flag = format!("--extend.query-path={}", queries.path().display());
    let exporter = Exporter::start(
        &[
            &query_flag,
            "--auto-discover-databases",
            "--exclude-databases=app_skipped",
        ],
        &[("DATA_SOURCE_NAME", &cluster.dsn("postgres"))],
    );

    let m = exporter.scrape().await;
    for db in ["postgres", "app_one", "app_two"] {
        assert_eq!(
            m.value("pg_custom_hits", &[("datname", db)]),
            Some(7.0),
            "{db}: {}",
            exporter.log()
        );
    }
    assert_eq!(
        m.value("pg_custom_hits", &[("datname", "app_skipped")]),
        None
    );
    assert_eq!(m.family("pg_master_only_one").len(), 1);
    assert_eq!(m.family("pg_static").len(), 1);
    assert_eq!(
        m.value("pg_database_size_bytes", &[("datname", "app_skipped")]),
        None
    );
    assert!(m
        .value("pg_database_size_bytes", &[("datname", "app_one")])
        .is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telemetry_path_from_environment() {
    let cluster = Cluster::start(MAJOR);
    let exporter = Exporter::start(
        &[],
        &[
            ("DATA_SOURCE_NAME", &cluster.dsn("postgres")),
            ("PG_EXPORTER_WEB_TELEMETRY_PATH", "/pg"),
        ],
    );
    let (status, body) = exporter.get("/pg").await;
    assert_eq!(status, 200);
    assert_eq!(common::Metrics::parse(&body).value("pg_up", &[]), Some(1.0));
    let (status, _) = exporter.get("/metrics").await;
    assert_eq!(status, 404);
}
