//! The binary end to end: flags in Go and double-dash style, the CONFIG variable,
//! `--config.check`, and scrapes of /metrics and /healthz over HTTP.

mod common;

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{samples, TestDb};

const BINARY: &str = env!("CARGO_BIN_EXE_sql-exporter");

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// A running exporter, stopped when dropped.
struct Exporter {
    child: Child,
    base: String,
}

impl Exporter {
    fn start(mut command: Command, port: u16) -> Exporter {
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
        let child = command.spawn().unwrap();
        Exporter {
            child,
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    /// Fetches `path` until the exporter responds and `ready` accepts the body, for at most 20s.
    async fn get_when(&self, path: &str, ready: impl Fn(&str) -> bool) -> String {
        let url = format!("{}{path}", self.base);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(response) = reqwest::get(&url).await {
                assert_eq!(response.status(), 200, "{url}");
                let body = response.text().await.unwrap();
                if ready(&body) || Instant::now() > deadline {
                    return body;
                }
            }
            assert!(Instant::now() < deadline, "no answer from {url}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops the process and returns what it logged.
    fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut logs = String::new();
        if let Some(mut out) = self.child.stdout.take() {
            let _ = out.read_to_string(&mut logs);
        }
        if let Some(mut err) = self.child.stderr.take() {
            let _ = err.read_to_string(&mut logs);
        }
        logs
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn binary_serves_cached_results() {
    let db = TestDb::create("http").await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yaml");
    // The password comes from the environment; trust authentication ignores it.
    let url = format!(
        "postgres://postgres:{{{{ SQL_TEST_SECRET }}}}@127.0.0.1:5432/{}?sslmode=disable",
        db.name
    );
    let text = format!(
        "jobs:\n- name: web\n  interval: 1h\n  connections: ['{url}']\n  queries:\n  - name: answer\n    help: The answer.\n    values: [v]\n    query: select 42 as v\n"
    );
    std::fs::write(&config, text).unwrap();

    let port = free_port();
    let mut command = Command::new(BINARY);
    command
        .args(["-web.listen-address", &format!("127.0.0.1:{port}")])
        .args(["-config.file", config.to_str().unwrap()])
        .env("SQL_TEST_SECRET", "hunter2-secret");
    let exporter = Exporter::start(command, port);

    let metrics = exporter
        .get_when("/metrics", |body| body.contains("sql_answer{"))
        .await;
    let health = exporter.get_when("/healthz", |_| true).await;
    let logs = exporter.stop();

    assert_eq!(health.trim(), "OK");
    let lines = samples(&metrics, "sql_answer");
    assert_eq!(lines.len(), 1, "{metrics}");
    assert!(lines[0].ends_with(" 42"), "{}", lines[0]);
    assert!(
        metrics.contains("# HELP sql_answer The answer."),
        "{metrics}"
    );
    assert!(metrics.contains("sql_exporter_build_info{"), "{metrics}");
    assert!(!metrics.contains("hunter2"), "{metrics}");
    assert!(!logs.contains("hunter2"), "{logs}");
}

#[tokio::test]
async fn config_variable_and_double_dash_flags_work() {
    let db = TestDb::create("http_env").await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sql.toml");
    let text = format!(
        "[[jobs]]\nname = \"env\"\ninterval = \"1h\"\nconnections = [\"{}\"]\n[[jobs.queries]]\nname = \"one\"\nvalues = [\"v\"]\nquery = \"select 1 as v\"\n",
        db.url()
    );
    std::fs::write(&config, text).unwrap();

    let port = free_port();
    let mut command = Command::new(BINARY);
    command
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .env("CONFIG", &config);
    let exporter = Exporter::start(command, port);
    let metrics = exporter
        .get_when("/metrics", |body| body.contains("sql_one{"))
        .await;
    exporter.stop();
    assert_eq!(samples(&metrics, "sql_one").len(), 1, "{metrics}");
}

#[test]
fn config_check_validates_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.toml");
    std::fs::write(
        &good,
        "[[jobs]]\nname = \"a\"\ninterval = \"1m\"\nconnections = [\"postgres://u@h/db\"]\n[[jobs.queries]]\nname = \"q\"\nvalues = [\"v\"]\nquery = \"select 1 as v\"\n",
    )
    .unwrap();
    let output = Command::new(BINARY)
        .args(["-config.check", "-config.file"])
        .arg(&good)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stdout).contains("valid"));

    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[[jobs]]\nname = \"a\"\nintervall = \"1m\"\n").unwrap();
    let output = Command::new(BINARY)
        .args(["--config.check", "--config.file"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("bad.toml"), "{stderr}");
    assert!(stderr.contains("\"intervall\""), "{stderr}");
}

#[tokio::test]
async fn scrape_does_not_wait_for_queries() {
    let db = TestDb::create("http_slow").await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("slow.yml");
    let text = format!(
        "jobs:\n- name: slow\n  interval: 1h\n  connections: ['{}']\n  queries:\n  - name: sleepy\n    values: [v]\n    query: select 1 as v from pg_sleep(4)\n",
        db.url()
    );
    std::fs::write(&config, text).unwrap();

    let port = free_port();
    let mut command = Command::new(BINARY);
    command
        .args(["-web.listen-address", &format!("127.0.0.1:{port}")])
        .args(["-config.file", config.to_str().unwrap()]);
    let exporter = Exporter::start(command, port);
    exporter.get_when("/healthz", |_| true).await;

    // The query is still sleeping; the scrape is served from the empty cache at once.
    let started = Instant::now();
    let metrics = exporter.get_when("/metrics", |_| true).await;
    let elapsed = started.elapsed();
    exporter.stop();
    assert!(elapsed < Duration::from_secs(1), "{elapsed:?}");
    assert!(samples(&metrics, "sql_sleepy").is_empty(), "{metrics}");
    assert!(metrics.contains("sql_exporter_build_info"), "{metrics}");
}
