//! Jobs against the local PostgreSQL server, on databases that each test creates and drops.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{build, exposition, parse, samples, value, TestDb};
use sql_exporter::config::Format;

const TRACKER_FAMILIES: [&str; 6] = [
    "sql_cves",
    "sql_delta",
    "sql_derivations",
    "sql_evaluations",
    "sql_matching",
    "sql_users",
];

/// Returns the repository's queries.toml with its connection pointed at `url`.
fn tracker_toml(url: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../queries.toml");
    let text = std::fs::read_to_string(path).unwrap();
    let production = "postgres://postgres@/web-security-tracker?host=/run/postgresql";
    assert!(
        text.contains(production),
        "queries.toml has the tracker's connection"
    );
    text.replace(production, url)
}

#[tokio::test]
async fn queries_toml_yields_six_series() {
    let db = TestDb::tracker().await;
    let (cache, runners) = build(parse(&tracker_toml(&db.url()), Format::Toml));
    assert_eq!(runners[0].run_once().await, 6);
    let text = exposition(&cache);

    for family in TRACKER_FAMILIES {
        let lines = samples(&text, family);
        assert_eq!(lines.len(), 1, "{family}: {lines:?}");
        assert!(lines[0].contains("sql_job=\"sectracker\""), "{}", lines[0]);
        assert!(lines[0].contains("host=\"127.0.0.1:5432\""), "{}", lines[0]);
    }
    assert_eq!(value(&text, "sql_users", "count"), Some(37.0));
    assert_eq!(value(&text, "sql_cves", "count"), Some(18279.0));
    assert_eq!(value(&text, "sql_derivations", "count"), Some(100000.0));
    assert_eq!(value(&text, "sql_evaluations", "count"), Some(48.0));
    // The newest delta ingestion is number 359 (number 360 is a full import).
    let delta = 1735691400.0 + 359.0 * 12.0 * 3600.0;
    assert_eq!(value(&text, "sql_delta", "unix_timestamp"), Some(delta));
    let matching = 1759276800.0 + 2500.0 * 17.0 * 60.0;
    assert_eq!(
        value(&text, "sql_matching", "unix_timestamp"),
        Some(matching)
    );
    for line in samples(&text, "sql_exporter_last_scrape_failed") {
        assert!(line.ends_with(" 0"), "{line}");
    }
}

#[tokio::test]
async fn toml_and_yaml_give_identical_output() {
    let db = TestDb::tracker().await;
    let yaml = format!(
        "jobs:\n- name: sectracker\n  interval: 1h\n  connections: ['{url}']\n  queries:\n{queries}",
        url = db.url(),
        queries = [
            ("users", "Number of registered user accounts.", "count", "select count(*) from auth_user;"),
            ("delta", "Time of the newest delta CVE ingestion, in seconds since the Unix epoch.", "unix_timestamp",
             "select extract(EPOCH from timestamp) AS unix_timestamp\nfrom shared_cveingestion where delta = 't' order by timestamp desc limit 1;\n"),
            ("matching", "Time of the newest derivation cluster proposal, in seconds since the Unix epoch.", "unix_timestamp",
             "select extract(EPOCH from created_at) AS unix_timestamp\nfrom shared_cvederivationclusterproposal order by created_at desc limit 1;\n"),
            ("cves", "Number of published CVE records.", "count", "select count(*) from shared_cverecord where state='PUBLISHED';"),
            ("derivations", "Number of Nix derivations known to the tracker.", "count", "select count(*) from shared_nixderivation;"),
            ("evaluations", "Number of Nixpkgs evaluations known to the tracker.", "count", "select count(*) from shared_nixevaluation;"),
        ]
        .iter()
        .map(|(name, help, value, sql)| {
            format!(
                "  - name: {name}\n    help: {help:?}\n    values: [{value}]\n    query: {sql:?}\n"
            )
        })
        .collect::<String>()
    );
    let (toml_cache, toml_runners) = build(parse(&tracker_toml(&db.url()), Format::Toml));
    let (yaml_cache, yaml_runners) = build(parse(&yaml, Format::Yaml));
    assert_eq!(toml_runners[0].run_once().await, 6);
    assert_eq!(yaml_runners[0].run_once().await, 6);

    let without_durations = |text: String| -> String {
        text.lines()
            .filter(|l| !l.contains("sql_exporter_query_duration_seconds"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(
        without_durations(exposition(&toml_cache)),
        without_durations(exposition(&yaml_cache))
    );
}

#[tokio::test]
async fn nixpkgs_points_case_gives_one_series_per_name() {
    let db = TestDb::create("points").await;
    db.client()
        .await
        .batch_execute(
            "CREATE TABLE points (amount int, name text);
             INSERT INTO points VALUES (1, 'alice'), (2, 'alice'), (5, 'bob'), (7, 'carol');",
        )
        .await
        .unwrap();
    // The nixpkgs module writes its settings as JSON into config.yaml, with help possibly null.
    let json = format!(
        r#"{{"jobs": [{{"name": "points", "interval": "1m", "connections": ["{url}"],
            "startup_sql": [], "queries": [{{"name": "points", "help": null,
            "labels": ["name"], "values": ["amount"],
            "query": "SELECT SUM(amount) as amount, name FROM points GROUP BY name"}}]}}]}}"#,
        url = db.socket_url()
    );
    let (cache, runners) = build(parse(&json, Format::Yaml));
    assert_eq!(runners[0].run_once().await, 1);

    let text = exposition(&cache);
    let lines = samples(&text, "sql_points");
    assert_eq!(lines.len(), 3, "{lines:?}");

    let common = format!(
        "col=\"amount\",database=\"{}\",driver=\"postgres\",host=\"\",",
        db.name
    );
    let expected = [("alice", 3.0), ("bob", 5.0), ("carol", 7.0)];
    for (name, amount) in expected {
        let needle = format!("name=\"{name}\"");
        assert_eq!(value(&text, "sql_points", &needle), Some(amount), "{name}");
    }
    assert!(lines[0].contains(&common), "{}", lines[0]);
}

#[tokio::test]
async fn terminated_connection_recovers_next_run() {
    let db = TestDb::create("terminate").await;
    let yaml = format!(
        "jobs:\n- name: j\n  interval: 1h\n  keepalive: true\n  connections: ['{}']\n  queries:\n  - name: one\n    values: [v]\n    query: select 1 as v\n",
        db.url()
    );
    let (cache, runners) = build(parse(&yaml, Format::Yaml));
    assert_eq!(runners[0].run_once().await, 1);
    assert!(
        db.terminate_backends().await >= 1,
        "the kept connection is open"
    );

    // The kept connection is dead; the run notices and retries the query on a new one.
    assert_eq!(runners[0].run_once().await, 1);
    let text = exposition(&cache);
    assert_eq!(
        value(&text, "sql_exporter_last_scrape_failed", "query=\"one\""),
        Some(0.0)
    );
    assert_eq!(value(&text, "sql_one", "col=\"v\""), Some(1.0));
}

#[tokio::test]
async fn slow_query_times_out_alone() {
    let db = TestDb::create("timeout").await;
    let yaml = format!(
        "jobs:\n- name: j\n  interval: 1h\n  query_timeout: 1s\n  connections: ['{}']\n  queries:\n  - name: slow\n    values: [v]\n    query: select 1 as v from pg_sleep(30)\n  - name: fast\n    values: [v]\n    query: select 2 as v\n",
        db.url()
    );
    let (cache, runners) = build(parse(&yaml, Format::Yaml));
    let started = Instant::now();
    assert_eq!(runners[0].run_once().await, 1);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );

    let text = exposition(&cache);
    assert_eq!(
        value(&text, "sql_exporter_last_scrape_failed", "query=\"slow\""),
        Some(1.0)
    );
    assert_eq!(
        value(&text, "sql_exporter_last_scrape_failed", "query=\"fast\""),
        Some(0.0)
    );
    assert_eq!(value(&text, "sql_fast", "col=\"v\""), Some(2.0));
    assert!(samples(&text, "sql_slow").is_empty());
    assert_eq!(
        value(&text, "sql_exporter_query_failures_total", "query=\"slow\""),
        Some(1.0)
    );
}

#[tokio::test]
async fn connections_close_between_runs() {
    let db = TestDb::create("close").await;
    let yaml = format!(
        "jobs:\n- name: j\n  interval: 1h\n  connections: ['{}']\n  queries:\n  - name: one\n    values: [v]\n    query: select 1 as v\n",
        db.url()
    );
    let (_cache, runners) = build(parse(&yaml, Format::Yaml));
    assert_eq!(runners[0].run_once().await, 1);
    let open = common::admin()
        .await
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1",
            &[&db.name],
        )
        .await
        .unwrap()
        .get::<_, i64>(0);
    assert_eq!(open, 0);

    // DROP DATABASE without FORCE fails while any session is connected.
    let drop = format!("DROP DATABASE \"{}\"", db.name);
    common::admin().await.batch_execute(&drop).await.unwrap();
}

#[tokio::test]
async fn null_and_duplicates_fail_query() {
    let db = TestDb::create("nulls").await;
    let yaml = format!(
        "jobs:\n- name: j\n  interval: 1h\n  connections: ['{}']\n  queries:\n  - name: nothing\n    values: [v]\n    query: select null::int as v\n  - name: twice\n    labels: [k]\n    values: [v]\n    query: select 'a' as k, 1 as v union all select 'a', 2\n  - name: missing\n    values: [v, w]\n    query: select 3 as v\n",
        db.url()
    );
    let (cache, runners) = build(parse(&yaml, Format::Yaml));
    assert_eq!(runners[0].run_once().await, 0);
    let text = exposition(&cache);
    for query in ["nothing", "twice", "missing"] {
        let needle = format!("query=\"{query}\"");
        assert_eq!(
            value(&text, "sql_exporter_last_scrape_failed", &needle),
            Some(1.0),
            "{query}"
        );
    }
    assert!(samples(&text, "sql_nothing").is_empty());
    assert_eq!(samples(&text, "sql_twice").len(), 1);
    assert_eq!(value(&text, "sql_twice", "k=\"a\""), Some(1.0));
    assert_eq!(value(&text, "sql_missing", "col=\"v\""), Some(3.0));
    assert!(value(&text, "sql_missing", "col=\"w\"").is_none());
}

#[tokio::test]
async fn failed_run_keeps_stale_values() {
    let db = TestDb::create("stale").await;
    let client = db.client().await;
    client
        .batch_execute("CREATE TABLE t (v int); INSERT INTO t VALUES (4);")
        .await
        .unwrap();
    let yaml = format!(
        "jobs:\n- name: j\n  interval: 1h\n  connections: ['{}']\n  queries:\n  - name: t\n    values: [v]\n    query: select v from t\n",
        db.url()
    );
    let (cache, runners) = build(parse(&yaml, Format::Yaml));
    assert_eq!(runners[0].run_once().await, 1);
    client.batch_execute("DROP TABLE t").await.unwrap();
    assert_eq!(runners[0].run_once().await, 0);

    let text = exposition(&cache);
    assert_eq!(value(&text, "sql_t", "col=\"v\""), Some(4.0));
    assert_eq!(
        value(&text, "sql_exporter_last_scrape_failed", "query=\"t\""),
        Some(1.0)
    );
    assert_eq!(
        value(&text, "sql_exporter_queries_total", "query=\"t\""),
        Some(2.0)
    );
}

#[tokio::test]
async fn startup_sql_runs_and_failure_is_reported() {
    let db = TestDb::create("startup").await;
    let good = format!(
        "jobs:\n- name: j\n  interval: 1h\n  connections: ['{}']\n  startup_sql: [\"SET application_name = 'probe'\"]\n  queries:\n  - name: app\n    labels: [name]\n    values: [v]\n    query: select current_setting('application_name') as name, 1 as v\n",
        db.url()
    );
    let (cache, runners) = build(parse(&good, Format::Yaml));
    assert_eq!(runners[0].run_once().await, 1);
    assert_eq!(
        value(&exposition(&cache), "sql_app", "name=\"probe\""),
        Some(1.0)
    );

    let bad = good.replace("SET application_name = 'probe'", "SET no_such_setting = 1");
    let (cache, runners) = build(parse(&bad, Format::Yaml));
    assert_eq!(runners[0].run_once().await, 0);
    let text = exposition(&cache);
    assert_eq!(
        value(&text, "sql_exporter_last_scrape_failed", "query=\"app\""),
        Some(1.0)
    );
    assert_eq!(
        value(&text, "sql_exporter_query_failures_total", "query=\"\""),
        Some(1.0)
    );
}

#[tokio::test]
async fn iterator_repeats_query_per_value() {
    let db = TestDb::create("iterator").await;
    db.client()
        .await
        .batch_execute("CREATE TABLE t (k text, v int); INSERT INTO t VALUES ('x', 1), ('y', 2);")
        .await
        .unwrap();
    let yaml = format!(
        "jobs:\n- name: j\n  interval: 1h\n  connections: ['{}']\n  iterator:\n    sql: select k from t order by k\n    placeholder: key\n    label: key\n  queries:\n  - name: per_key\n    values: [v]\n    query: \"select v from t where k = '{{{{key}}}}'\"\n",
        db.url()
    );
    let (cache, runners) = build(parse(&yaml, Format::Yaml));
    assert_eq!(runners[0].run_once().await, 1);
    let text = exposition(&cache);
    assert_eq!(value(&text, "sql_per_key", "key=\"x\""), Some(1.0));
    assert_eq!(value(&text, "sql_per_key", "key=\"y\""), Some(2.0));
}

#[tokio::test]
async fn timestamp_column_sets_sample_time() {
    let db = TestDb::create("timestamp").await;
    let yaml = format!(
        "jobs:\n- name: j\n  interval: 1h\n  connections: ['{}']\n  queries:\n  - name: stamped\n    values: [v]\n    timestamp: at\n    query: select 1.5::numeric as v, timestamptz '2026-01-01 00:00:00+00' as at\n",
        db.url()
    );
    let (cache, runners) = build(parse(&yaml, Format::Yaml));
    assert_eq!(runners[0].run_once().await, 1);
    let lines = samples(&exposition(&cache), "sql_stamped");
    assert_eq!(lines.len(), 1);
    assert!(lines[0].ends_with(" 1.5 1767225600000"), "{}", lines[0]);
}

#[tokio::test]
async fn query_killed_while_running_recovers() {
    let db = TestDb::create("killed").await;
    let yaml = format!(
        "jobs:\n- name: j\n  interval: 1h\n  connections: ['{}']\n  queries:\n  - name: sleepy\n    values: [v]\n    query: select 1 as v from pg_sleep(1.5)\n",
        db.url()
    );
    let (cache, runners) = build(parse(&yaml, Format::Yaml));
    let runner = runners[0].clone();
    let run = tokio::spawn(async move { runner.run_once().await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(db.terminate_backends().await >= 1, "the query is running");
    assert_eq!(run.await.unwrap(), 0);

    let text = exposition(&cache);
    assert_eq!(
        value(&text, "sql_exporter_last_scrape_failed", "query=\"sleepy\""),
        Some(1.0)
    );

    assert_eq!(runners[0].run_once().await, 1);
    let text = exposition(&cache);
    assert_eq!(
        value(&text, "sql_exporter_last_scrape_failed", "query=\"sleepy\""),
        Some(0.0)
    );
    assert_eq!(value(&text, "sql_sleepy", "col=\"v\""), Some(1.0));
}

#[tokio::test]
async fn sslmode_require_and_verify_full() {
    let db = TestDb::create("tls").await;
    let ssl_on: String = common::admin()
        .await
        .query_one("SHOW ssl", &[])
        .await
        .unwrap()
        .get(0);
    // The schemes differ so that the two connections get different `driver` labels.
    let base = format!("postgres://postgres@127.0.0.1:5432/{}", db.name);
    let verified = base.replace("postgres://", "postgresql://");
    let yaml = format!(
        "jobs:\n- name: j\n  interval: 1h\n  connections: ['{base}?sslmode=require', '{verified}?sslmode=verify-full&sslrootcert=/nonexistent/root.crt']\n  queries:\n  - name: tls\n    values: [v]\n    query: select case when ssl then 1 else 0 end as v from pg_stat_ssl where pid = pg_backend_pid()\n"
    );
    let (cache, runners) = build(parse(&yaml, Format::Yaml));
    let succeeded = runners[0].run_once().await;
    let text = exposition(&cache);

    // verify-full cannot read its root certificate, so only the require connection works.
    assert_eq!(
        value(
            &text,
            "sql_exporter_last_scrape_failed",
            "driver=\"postgresql\""
        ),
        Some(1.0)
    );
    assert_eq!(
        value(&text, "sql_exporter_query_failures_total", "query=\"\""),
        Some(1.0)
    );
    if ssl_on == "on" {
        assert_eq!(succeeded, 1, "{text}");
        assert_eq!(value(&text, "sql_tls", "driver=\"postgres\""), Some(1.0));
    } else {
        assert_eq!(succeeded, 0, "{text}");
    }
}

#[tokio::test]
async fn scheduler_runs_every_period() {
    let db = TestDb::create("schedule").await;
    let yaml = format!(
        "jobs:\n- name: j\n  cron_schedule: '@every 1s'\n  connections: ['{}']\n  queries:\n  - name: tick\n    values: [v]\n    query: select 1 as v\n",
        db.url()
    );
    let (cache, runners) = build(parse(&yaml, Format::Yaml));
    let task = tokio::spawn(runners[0].clone().run_forever());

    // @every waits one period before its first run.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = value(&exposition(&cache), "sql_exporter_queries_total", "tick");
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let after = value(&exposition(&cache), "sql_exporter_queries_total", "tick");
    task.abort();

    assert_eq!(before, None);
    let runs = after.unwrap_or(0.0);
    assert!((2.0..=3.0).contains(&runs), "{runs} runs");
}
