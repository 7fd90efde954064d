//! Every collector against a throwaway cluster of each supported PostgreSQL version: the
//! families and labels of postgres_exporter 0.20, a table with NULL statistics, and
//! pg_stat_statements present.

mod common;

use common::{Cluster, Exporter, EXTRA_COLLECTORS};

/// Collectors on by default, all of which must succeed on a superuser connection.
const DEFAULT_COLLECTORS: &[&str] = &[
    "database",
    "locks",
    "replication",
    "replication_slots",
    "roles",
    "settings",
    "stat_activity",
    "stat_archiver",
    "stat_bgwriter",
    "stat_database",
    "stat_progress_vacuum",
    "stat_replication",
    "stat_user_tables",
    "statio_user_tables",
    "wal",
];

const LOCK_MODES: &[&str] = &[
    "accesssharelock",
    "rowsharelock",
    "rowexclusivelock",
    "shareupdateexclusivelock",
    "sharelock",
    "sharerowexclusivelock",
    "exclusivelock",
    "accessexclusivelock",
    "sireadlock",
];

async fn prepare(cluster: &Cluster) {
    let client = common::connect(&cluster.dsn("postgres")).await;
    let mut statements = vec![
        "CREATE EXTENSION pg_stat_statements",
        "CREATE TABLE never_scanned (id int PRIMARY KEY, note text)",
        "CREATE DATABASE web",
        "SELECT pg_create_physical_replication_slot('standby_slot', true)",
    ];
    if cluster.major >= 16 {
        statements.push("CREATE EXTENSION pg_buffercache");
    }
    for statement in statements {
        client.batch_execute(statement).await.unwrap();
    }
}

async fn check_version(major: u32) {
    let cluster = Cluster::start(major);
    prepare(&cluster).await;
    // Two idle sessions in different states, which process_idle must report as two groups.
    let idle = common::connect(&format!(
        "{}&application_name=idle_app",
        cluster.dsn("postgres")
    ))
    .await;
    let in_transaction = common::connect(&format!(
        "{}&application_name=tx_app",
        cluster.dsn("postgres")
    ))
    .await;
    in_transaction
        .batch_execute("BEGIN; SELECT 1;")
        .await
        .unwrap();
    idle.batch_execute("SELECT 1").await.unwrap();
    let mut args = EXTRA_COLLECTORS.to_vec();
    args.push("--collector.stat_statements.include_query");
    let exporter = Exporter::start(&args, &[("DATA_SOURCE_NAME", &cluster.dsn("postgres"))]);
    let m = exporter.scrape().await;

    assert_eq!(m.value("pg_up", &[]), Some(1.0), "{}", exporter.log());
    let short = m.family("pg_static")[0].labels["short_version"].clone();
    assert!(short.starts_with(&format!("{major}.")), "{short}");
    assert_eq!(
        m.family("pg_static")[0].labels["server"],
        cluster.host_port()
    );
    for collector in DEFAULT_COLLECTORS {
        assert_eq!(
            m.success(collector),
            Some(1.0),
            "{major} {collector}: {}",
            exporter.log()
        );
    }
    for flag in EXTRA_COLLECTORS {
        let collector = flag.trim_start_matches("--collector.");
        assert_eq!(
            m.success(collector),
            Some(1.0),
            "{major} {collector}: {}",
            exporter.log()
        );
    }

    check_default_families(&m, major);
    check_null_statistics(&m);
    check_version_specific(&m, major);
    check_off_by_default(&m, major);
}

fn check_default_families(m: &common::Metrics, major: u32) {
    assert!(
        m.value("pg_database_size_bytes", &[("datname", "web")])
            .unwrap()
            > 0.0
    );
    assert!(m.value("pg_database_connection_limit", &[("datname", "web")]) == Some(-1.0));

    for mode in LOCK_MODES {
        assert!(
            m.value("pg_locks_count", &[("datname", "web"), ("mode", mode)])
                .is_some(),
            "{major}: no pg_locks_count for {mode}"
        );
    }

    assert_eq!(m.value("pg_replication_is_replica", &[]), Some(0.0));
    assert_eq!(m.value("pg_replication_lag_seconds", &[]), Some(0.0));
    assert_eq!(
        m.value(
            "pg_replication_slots_slot_is_active",
            &[("slot_name", "standby_slot"), ("slot_type", "physical")]
        ),
        Some(0.0)
    );
    assert!(m.has("pg_replication_slots_pg_wal_lsn_diff"));
    assert!(m
        .value("pg_roles_connection_limit", &[("rolname", "postgres")])
        .is_some());
    assert_eq!(
        m.value("pg_settings_shared_buffers_bytes", &[]),
        Some(134217728.0),
        "{major}"
    );
    assert_eq!(
        m.value("pg_settings_statement_timeout_seconds", &[]),
        Some(0.0)
    );

    let labels = &m.family("pg_stat_activity_count")[0].labels;
    for label in [
        "datname",
        "state",
        "usename",
        "application_name",
        "backend_type",
        "wait_event_type",
        "wait_event",
    ] {
        assert!(
            labels.contains_key(label),
            "{major}: pg_stat_activity_count lacks {label}"
        );
    }
    assert!(m
        .value(
            "pg_stat_activity_count",
            &[("datname", "web"), ("state", "idle")]
        )
        .is_some());
    assert!(m.has("pg_stat_activity_max_tx_duration"));

    assert!(m.has("pg_stat_archiver_archived_count"));
    assert!(m.has("pg_stat_bgwriter_buffers_alloc_total"));
    assert_eq!(m.types["pg_stat_bgwriter_buffers_alloc_total"], "counter");
    // Before PostgreSQL 15 the statistics collector reports counters with a delay, so only the
    // live backend count is checked for a value.
    assert!(m
        .value("pg_stat_database_xact_commit", &[("datname", "postgres")])
        .is_some());
    assert!(
        m.value("pg_stat_database_numbackends", &[("datname", "postgres")])
            .unwrap()
            >= 1.0
    );
    assert!(m.has("pg_stat_database_conflicts_confl_lock"));

    assert!(m.value("pg_wal_segments", &[]).unwrap() >= 1.0);
    assert!(m.value("pg_wal_size_bytes", &[]).unwrap() > 0.0);
    assert!(m.has("pg_exporter_scrapes_total"));
    assert_eq!(m.value("pg_exporter_last_scrape_error", &[]), Some(0.0));
    assert!(m.has("postgres_exporter_build_info"));
}

/// Checks that the NULL statistics of a table never scanned, vacuumed or analyzed read as 0.
fn check_null_statistics(m: &common::Metrics) {
    let table = [
        ("datname", "postgres"),
        ("schemaname", "public"),
        ("relname", "never_scanned"),
    ];
    assert_eq!(
        m.value("pg_stat_user_tables_last_vacuum", &table),
        Some(0.0)
    );
    assert_eq!(
        m.value("pg_stat_user_tables_last_autoanalyze", &table),
        Some(0.0)
    );
    assert_eq!(m.value("pg_stat_user_tables_n_live_tup", &table), Some(0.0));
    assert!(
        m.value("pg_stat_user_tables_index_size_bytes", &table)
            .unwrap()
            > 0.0
    );
    assert_eq!(
        m.value("pg_statio_user_tables_heap_blocks_read", &table),
        Some(0.0)
    );
    assert!(m
        .value("pg_statio_user_tables_toast_blocks_read", &table)
        .is_some());
}

fn check_version_specific(m: &common::Metrics, major: u32) {
    let before_17 = [
        "pg_stat_bgwriter_checkpoints_timed_total",
        "pg_stat_bgwriter_buffers_backend_total",
        "pg_stat_bgwriter_buffers_backend_fsync_total",
    ];
    for name in before_17 {
        assert_eq!(m.has(name), major < 17, "{major}: {name}");
    }
    assert_eq!(
        m.has("pg_stat_checkpointer_num_timed_total"),
        major >= 17,
        "{major}"
    );
    assert_eq!(
        m.has("pg_stat_database_active_time_seconds_total"),
        major >= 14,
        "{major}"
    );
    assert_eq!(
        m.has("pg_buffercache_summary_buffers_used"),
        major >= 16,
        "{major}"
    );
}

fn check_off_by_default(m: &common::Metrics, major: u32) {
    assert!(m
        .value(
            "pg_database_wraparound_age_datfrozenxid_seconds",
            &[("datname", "web")]
        )
        .is_some());
    assert!(m.has("pg_long_running_transactions"));
    assert!(m.value("pg_postmaster_start_time_seconds", &[]).unwrap() > 1.6e9);
    let statements = m.family("pg_stat_statements_calls_total");
    assert!(
        !statements.is_empty(),
        "{major}: no pg_stat_statements_calls_total"
    );
    assert!(statements[0].labels.contains_key("queryid"));
    assert!(m.has("pg_stat_statements_query_id"));
    assert!(m.has("pg_statio_user_indexes_idx_blks_read_total"));

    let idle = [
        ("state", "idle"),
        ("application_name", "idle_app"),
        ("le", "300"),
    ];
    assert_eq!(
        m.value("pg_process_idle_seconds_bucket", &idle),
        Some(1.0),
        "{major}"
    );
    let in_transaction = [
        ("state", "idle in transaction"),
        ("application_name", "tx_app"),
    ];
    assert_eq!(
        m.value("pg_process_idle_seconds_count", &in_transaction),
        Some(1.0),
        "{major}"
    );
    assert_eq!(m.types["pg_process_idle_seconds"], "histogram");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_13() {
    check_version(13).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_14() {
    check_version(14).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_15() {
    check_version(15).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_16() {
    check_version(16).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_17() {
    check_version(17).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_18() {
    check_version(18).await;
}
