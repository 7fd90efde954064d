//! Behaviour that operators rely on beyond the metric names. The tests cover `pg_up` across a
//! server restart, the scrape deadline cancelling a blocked query, one connection per target,
//! `/probe` with an auth module, roles without superuser and a missing extension. They also
//! check that passwords stay out of the output and the log.

mod common;

use std::time::{Duration, Instant};

use common::{Cluster, Exporter};

/// The PostgreSQL version of the throwaway clusters of these tests.
const MAJOR: u32 = 16;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_sets_pg_up_without_exporter_restart() {
    let cluster = Cluster::start(MAJOR);
    let exporter = Exporter::start(&[], &[("DATA_SOURCE_NAME", &cluster.dsn("postgres"))]);
    assert_eq!(exporter.scrape().await.value("pg_up", &[]), Some(1.0));

    cluster.pg_ctl("stop");
    for _ in 0..2 {
        let m = exporter.scrape().await;
        assert_eq!(m.value("pg_up", &[]), Some(0.0), "{}", exporter.log());
        assert_eq!(m.value("pg_exporter_last_scrape_error", &[]), Some(1.0));
        assert!(m.has("process_resident_memory_bytes"));
        assert!(!m.has("pg_scrape_collector_success"));
    }

    cluster.pg_ctl("start");
    let m = exporter.scrape().await;
    assert_eq!(m.value("pg_up", &[]), Some(1.0), "{}", exporter.log());
    assert_eq!(m.success("database"), Some(1.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocked_query_is_cancelled_at_deadline() {
    let cluster = Cluster::start(MAJOR);
    let locker = common::connect(&cluster.dsn("postgres")).await;
    locker
        .batch_execute("CREATE TABLE held (id int)")
        .await
        .unwrap();
    locker
        .batch_execute("BEGIN; LOCK TABLE held IN ACCESS EXCLUSIVE MODE;")
        .await
        .unwrap();
    let exporter = Exporter::start(
        &["--collection-timeout=2s"],
        &[("DATA_SOURCE_NAME", &cluster.dsn("postgres"))],
    );

    let started = Instant::now();
    let m = exporter.scrape().await;
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_secs(2), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(6), "{elapsed:?}");
    assert_eq!(
        m.success("stat_user_tables"),
        Some(0.0),
        "{}",
        exporter.log()
    );
    assert_eq!(m.success("database"), Some(1.0));
    assert_eq!(m.value("pg_up", &[]), Some(1.0));

    // The blocked query must not wait on the server after the scrape ended.
    let watcher = common::connect(&cluster.dsn("postgres")).await;
    let mut waiting = i64::MAX;
    for _ in 0..50 {
        let row = watcher
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid()",
                &[],
            )
            .await
            .unwrap();
        waiting = row.get(0);
        if waiting == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        waiting, 0,
        "a query of the exporter still waits on the lock"
    );

    locker.batch_execute("COMMIT").await.unwrap();
    let m = exporter.scrape().await;
    assert_eq!(
        m.success("stat_user_tables"),
        Some(1.0),
        "{}",
        exporter.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_scrapes_share_one_connection() {
    let cluster = Cluster::start(MAJOR);
    let exporter = Exporter::start(
        &["--collector.stat_statements"],
        &[("DATA_SOURCE_NAME", &cluster.dsn("postgres"))],
    );
    let scrapes = (0..8).map(|_| exporter.get("/metrics"));
    for (status, _) in futures_util::future::join_all(scrapes).await {
        assert_eq!(status, 200);
    }
    let watcher = common::connect(&cluster.dsn("postgres")).await;
    let row = watcher
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()",
            &[],
        )
        .await
        .unwrap();
    let connections: i64 = row.get(0);
    assert_eq!(connections, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_uses_auth_module_credentials() {
    let cluster = Cluster::start_with(MAJOR, true);
    let config = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        config.path(),
        "auth_modules:\n  mon:\n    type: userpass\n    userpass:\n      username: monitor\n      password: Pr0be-s3cret\n    options:\n      sslmode: disable\n",
    )
    .unwrap();
    create_role(&cluster, "monitor", "Pr0be-s3cret", "pg_monitor").await;

    let config_flag = format!("--config.file={}", config.path().display());
    let exporter = Exporter::start(&[&config_flag], &[]);
    let target = format!("/probe?target={}/postgres", cluster.host_port());

    let (status, body) = exporter.get(&format!("{target}&auth_module=mon")).await;
    assert_eq!(status, 200, "{body}");
    let m = common::Metrics::parse(&body);
    assert_eq!(m.value("pg_up", &[]), Some(1.0), "{}", exporter.log());
    assert_eq!(m.success("stat_database"), Some(1.0));
    assert!(!m.has("process_resident_memory_bytes"));

    let (status, body) = exporter.get(&target).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(common::Metrics::parse(&body).value("pg_up", &[]), Some(0.0));

    let (status, body) = exporter.get(&format!("{target}&auth_module=nope")).await;
    assert_eq!(status, 400);
    assert!(body.contains("nope"), "{body}");
    let (status, _) = exporter.get("/probe").await;
    assert_eq!(status, 400);

    assert!(
        !exporter.log().contains("Pr0be-s3cret"),
        "{}",
        exporter.log()
    );
}

/// Creates a login role that may connect over TCP with `password`, member of `member_of`.
async fn create_role(cluster: &Cluster, name: &str, password: &str, member_of: &str) {
    let socket = format!(
        "host={} port={} user=postgres dbname=postgres",
        cluster.socket_dir(),
        cluster.port
    );
    let admin = common::connect(&socket).await;
    let mut sql = format!("CREATE ROLE {name} LOGIN PASSWORD '{password}'");
    if !member_of.is_empty() {
        sql.push_str(&format!(" IN ROLE {member_of}"));
    }
    admin.batch_execute(&sql).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_never_appears_in_output() {
    let cluster = Cluster::start_with(MAJOR, true);
    let dsn = format!(
        "postgresql://postgres:Wr0ng-s3cret@{}/postgres?sslmode=disable",
        cluster.host_port()
    );
    let exporter = Exporter::start(&[], &[("DATA_SOURCE_NAME", &dsn)]);
    let (status, body) = exporter.get("/metrics").await;
    assert_eq!(status, 200);
    assert_eq!(common::Metrics::parse(&body).value("pg_up", &[]), Some(0.0));
    assert!(!body.contains("Wr0ng-s3cret"));
    let log = exporter.wait_for_log("password authentication failed");
    assert!(log.contains("password authentication failed"), "{log}");
    assert!(!log.contains("Wr0ng-s3cret"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitoring_roles_cost_only_affected_collectors() {
    let cluster = Cluster::start_with(MAJOR, true);
    create_role(&cluster, "monitor", "m0n", "pg_monitor").await;
    create_role(&cluster, "nobody", "n0b0dy", "").await;

    let monitor = format!(
        "postgresql://monitor:m0n@{}/postgres?sslmode=disable",
        cluster.host_port()
    );
    let exporter = Exporter::start(&[], &[("DATA_SOURCE_NAME", &monitor)]);
    let m = exporter.scrape().await;
    assert_eq!(m.value("pg_up", &[]), Some(1.0));
    for collector in [
        "database",
        "locks",
        "settings",
        "stat_activity",
        "stat_database",
        "wal",
        "replication_slots",
    ] {
        assert_eq!(
            m.success(collector),
            Some(1.0),
            "pg_monitor {collector}: {}",
            exporter.log()
        );
    }
    drop(exporter);

    let nobody = format!(
        "postgresql://nobody:n0b0dy@{}/postgres?sslmode=disable",
        cluster.host_port()
    );
    let exporter = Exporter::start(&[], &[("DATA_SOURCE_NAME", &nobody)]);
    let m = exporter.scrape().await;
    assert_eq!(m.value("pg_up", &[]), Some(1.0));
    assert_eq!(m.success("wal"), Some(0.0), "pg_ls_waldir needs pg_monitor");
    for collector in [
        "database",
        "locks",
        "settings",
        "stat_activity",
        "stat_database",
        "roles",
    ] {
        assert_eq!(
            m.success(collector),
            Some(1.0),
            "no role {collector}: {}",
            exporter.log()
        );
    }
    assert!(m
        .value("pg_database_size_bytes", &[("datname", "postgres")])
        .is_some());
    let log = exporter.wait_for_log("collector=wal");
    assert!(
        log.contains("collector=wal") && log.contains("pg_ls_waldir"),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_pg_stat_statements_fails_only_its_collector() {
    let cluster = Cluster::start(MAJOR);
    let exporter = Exporter::start(
        &["--collector.stat_statements"],
        &[("DATA_SOURCE_NAME", &cluster.dsn("postgres"))],
    );
    let m = exporter.scrape().await;
    assert_eq!(m.value("pg_up", &[]), Some(1.0));
    assert_eq!(m.success("stat_statements"), Some(0.0));
    assert_eq!(m.success("stat_database"), Some(1.0));
    assert!(!m.has("pg_stat_statements_calls_total"));
    let log = exporter.wait_for_log("collector=stat_statements");
    assert!(log.contains("collector=stat_statements"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_timeout_header_bounds_scrape() {
    let cluster = Cluster::start(MAJOR);
    let locker = common::connect(&cluster.dsn("postgres")).await;
    locker
        .batch_execute("CREATE TABLE held (id int)")
        .await
        .unwrap();
    locker
        .batch_execute("BEGIN; LOCK TABLE held IN ACCESS EXCLUSIVE MODE;")
        .await
        .unwrap();
    let exporter = Exporter::start(&[], &[("DATA_SOURCE_NAME", &cluster.dsn("postgres"))]);

    let started = Instant::now();
    let response = reqwest::Client::new()
        .get(exporter.url("/metrics"))
        .header("X-Prometheus-Scrape-Timeout-Seconds", "2")
        .send()
        .await
        .unwrap();
    let elapsed = started.elapsed();
    assert_eq!(response.status().as_u16(), 200);
    assert!(elapsed < Duration::from_secs(4), "{elapsed:?}");
    let m = common::Metrics::parse(&response.text().await.unwrap());
    assert_eq!(m.success("stat_user_tables"), Some(0.0));
    assert_eq!(m.success("settings"), Some(1.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_source_list_with_one_server_down() {
    let first = Cluster::start(MAJOR);
    let second = Cluster::start(MAJOR);
    let list = format!("{},{}", first.dsn("postgres"), second.dsn("postgres"));
    let exporter = Exporter::start(&[], &[("DATA_SOURCE_NAME", &list)]);

    let m = exporter.scrape().await;
    assert_eq!(m.value("pg_up", &[]), Some(1.0));
    assert_eq!(m.family("pg_static").len(), 2);
    assert_eq!(m.value("pg_exporter_last_scrape_error", &[]), Some(0.0));
    let settings = m.family("pg_settings_shared_buffers_bytes");
    assert_eq!(
        settings.len(),
        1,
        "collectors run on the first data source only"
    );

    second.pg_ctl("stop");
    let m = exporter.scrape().await;
    assert_eq!(
        m.value("pg_up", &[]),
        Some(1.0),
        "one server is still reachable"
    );
    assert_eq!(m.value("pg_exporter_last_scrape_error", &[]), Some(1.0));
    assert_eq!(m.family("pg_static").len(), 1);

    first.pg_ctl("stop");
    let m = exporter.scrape().await;
    assert_eq!(m.value("pg_up", &[]), Some(0.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_standby_and_its_primary() {
    let primary = Cluster::start(common::basebackup_major());
    let admin = common::connect(&primary.dsn("postgres")).await;
    admin
        .batch_execute("SELECT pg_create_physical_replication_slot('standby1', true)")
        .await
        .unwrap();
    let standby = Cluster::start_standby(&primary, "standby1");
    let replicating = common::connect(&standby.dsn("postgres")).await;
    // latest_end_lsn, which the collector needs, is NULL until the standby has reported a
    // position to the primary, so the primary writes WAL until it has.
    let mut reported = false;
    for _ in 0..100 {
        admin
            .batch_execute(
                "CREATE TABLE IF NOT EXISTS filler (id int); INSERT INTO filler VALUES (1)",
            )
            .await
            .unwrap();
        let row = replicating
            .query_one(
                "SELECT count(*) FROM pg_stat_wal_receiver
                  WHERE status = 'streaming' AND latest_end_lsn IS NOT NULL",
                &[],
            )
            .await
            .unwrap();
        reported = row.get::<_, i64>(0) == 1;
        if reported {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        reported,
        "the standby does not stream or report its position"
    );

    let exporter = Exporter::start(&[], &[("DATA_SOURCE_NAME", &primary.dsn("postgres"))]);
    let m = exporter.scrape().await;
    let slot = [("slot_name", "standby1"), ("slot_type", "physical")];
    assert_eq!(
        m.value("pg_replication_slots_slot_is_active", &slot),
        Some(1.0)
    );
    assert!(m
        .value(
            "pg_stat_replication_pg_wal_lsn_diff",
            &[("slot_name", "standby1")]
        )
        .is_some());
    assert_eq!(m.value("pg_replication_is_replica", &[]), Some(0.0));
    drop(exporter);

    let exporter = Exporter::start(
        &["--collector.stat_wal_receiver"],
        &[("DATA_SOURCE_NAME", &standby.dsn("postgres"))],
    );
    let m = exporter.scrape().await;
    assert_eq!(m.value("pg_replication_is_replica", &[]), Some(1.0));
    assert!(m.value("pg_replication_lag_seconds", &[]).is_some());
    assert!(m.value("pg_replication_last_replay_seconds", &[]).is_some());
    let receiver = [
        ("slot_name", "standby1"),
        ("status", "streaming"),
        ("upstream_host", "127.0.0.1"),
    ];
    let flushed = m.value("pg_stat_wal_receiver_flushed_lsn", &receiver);
    assert!(flushed.unwrap_or(0.0) > 0.0, "{flushed:?}");
    assert_eq!(m.success("stat_wal_receiver"), Some(1.0));
    assert_eq!(m.success("replication"), Some(1.0));
    assert_eq!(m.success("wal"), Some(1.0));
}
