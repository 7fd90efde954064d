//! Test harness: throwaway PostgreSQL clusters on loopback, the exporter binary on a free port,
//! and a parser for the text exposition format.
//!
//! Clusters use the binaries that `scripts/install-postgres-versions` puts under
//! `target/postgres/<major>/`, run as the unprivileged user that script creates, because initdb
//! and postgres refuse to run as root.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Read;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const TEST_USER: &str = "pgexporter-test";
pub const INSTALL_SCRIPT: &str = "scripts/install-postgres-versions";

/// Every major version the exporter supports.
pub const MAJORS: [u32; 6] = [13, 14, 15, 16, 17, 18];

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Returns a TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Returns the user and group IDs that clusters run as: the test user when the tests run as
/// root, else the current user, whom initdb accepts.
fn user_ids() -> (u32, u32) {
    let current = |flag: &str| -> u32 {
        let output = Command::new("id").arg(flag).output().unwrap();
        String::from_utf8_lossy(&output.stdout)
            .trim()
            .parse()
            .unwrap()
    };
    if current("-u") != 0 {
        return (current("-u"), current("-g"));
    }
    let id = |flag: &str| -> u32 {
        let output = Command::new("id")
            .arg(flag)
            .arg(TEST_USER)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "user {TEST_USER} does not exist: run {INSTALL_SCRIPT} as root first"
        );
        String::from_utf8_lossy(&output.stdout)
            .trim()
            .parse()
            .unwrap()
    };
    (id("-u"), id("-g"))
}

/// A PostgreSQL cluster in a temporary directory, stopped when dropped.
pub struct Cluster {
    pub major: u32,
    pub port: u16,
    root: PathBuf,
    dir: tempfile::TempDir,
    uid: u32,
    gid: u32,
}

impl Cluster {
    /// Returns a cluster of PostgreSQL `major` in a new empty directory, not yet initialized.
    fn new_unstarted(major: u32) -> Cluster {
        let root = workspace_root()
            .join("target/postgres")
            .join(major.to_string());
        assert!(
            root.join("bin/postgres").exists(),
            "PostgreSQL {major} is not installed under {}: run {INSTALL_SCRIPT} (as root) before the tests",
            root.display()
        );
        let (uid, gid) = user_ids();
        let dir = tempfile::Builder::new().prefix("pgexp-").tempdir().unwrap();
        std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).unwrap();
        Cluster {
            major,
            port: free_port(),
            root,
            dir,
            uid,
            gid,
        }
    }

    /// Creates a streaming standby of `primary` with pg_basebackup, replicating through the
    /// physical slot `slot`, and starts it. The npm package ships no pg_basebackup, so the
    /// Debian one is used: start `primary` with [`basebackup_major`] so the versions match.
    pub fn start_standby(primary: &Cluster, slot: &str) -> Cluster {
        let standby = Cluster::new_unstarted(primary.major);
        let basebackup = basebackup_path(primary.major);
        assert!(
            basebackup.exists(),
            "{} is missing: install the Debian package postgresql-client",
            basebackup.display()
        );
        let port = primary.port.to_string();
        let data = standby.data_dir();
        let output = Command::new(&basebackup)
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                "postgres",
                "-D",
                &data,
            ])
            .args(["-R", "-X", "stream", "-S", slot, "--no-sync"])
            .current_dir(standby.dir.path())
            .uid(standby.uid)
            .gid(standby.gid)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "pg_basebackup failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        standby.pg_ctl("start");
        standby
    }

    /// Creates and starts a cluster of PostgreSQL `major` with trust authentication, or with
    /// scram-sha-256 for TCP connections when `password_auth` is set.
    pub fn start_with(major: u32, password_auth: bool) -> Cluster {
        let cluster = Cluster::new_unstarted(major);
        let host_auth = if password_auth {
            "scram-sha-256"
        } else {
            "trust"
        };
        cluster.run_tool(
            "initdb",
            &[
                "-D",
                &cluster.data_dir(),
                "-U",
                "postgres",
                "--auth-local=trust",
                &format!("--auth-host={host_auth}"),
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        cluster.pg_ctl("start");
        cluster
    }

    pub fn start(major: u32) -> Cluster {
        Cluster::start_with(major, false)
    }

    fn data_dir(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn run_tool(&self, tool: &str, args: &[&str]) {
        let output = Command::new(self.root.join("bin").join(tool))
            .args(args)
            .env("LD_LIBRARY_PATH", self.root.join("lib"))
            .env_remove("PGDATA")
            .current_dir(self.dir.path())
            .uid(self.uid)
            .gid(self.gid)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{tool} {args:?} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Runs `pg_ctl start`, `stop` or `restart`, waiting for it to finish.
    pub fn pg_ctl(&self, action: &str) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off \
             -c shared_preload_libraries=pg_stat_statements -c max_connections=40",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("server.log").display().to_string();
        let data = self.data_dir();
        let mut args = vec!["-D", &data, "-w", "-t", "60"];
        if action != "stop" {
            args.extend(["-o", &options, "-l", &log]);
        }
        if action != "start" {
            args.extend(["-m", "fast"]);
        }
        args.push(action);
        self.run_tool("pg_ctl", &args);
    }

    /// Returns a DSN for the superuser and database `db`.
    pub fn dsn(&self, db: &str) -> String {
        format!(
            "postgresql://postgres@127.0.0.1:{}/{db}?sslmode=disable",
            self.port
        )
    }

    /// Writes a server certificate and key into the data directory and turns TLS on with a
    /// configuration reload.
    pub async fn enable_tls(&self, certificate_pem: &str, key_pem: &str) {
        let data = self.dir.path().join("data");
        for (name, content) in [("server.crt", certificate_pem), ("server.key", key_pem)] {
            let path = data.join(name);
            std::fs::write(&path, content).unwrap();
            std::os::unix::fs::chown(&path, Some(self.uid), Some(self.gid)).unwrap();
            std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
                .unwrap();
        }
        let admin = connect(&format!(
            "host={} port={} user=postgres dbname=postgres",
            self.socket_dir(),
            self.port
        ))
        .await;
        admin
            .batch_execute("ALTER SYSTEM SET ssl = on")
            .await
            .unwrap();
        admin
            .batch_execute("SELECT pg_reload_conf()")
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    /// Directory of the cluster's Unix socket, where local connections use trust auth.
    pub fn socket_dir(&self) -> String {
        self.dir.path().display().to_string()
    }

    pub fn host_port(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.data_dir();
        let _ = Command::new(self.root.join("bin/pg_ctl"))
            .args(["-D", &data, "-m", "immediate", "-w", "stop"])
            .env("LD_LIBRARY_PATH", self.root.join("lib"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .uid(self.uid)
            .gid(self.gid)
            .status();
    }
}

/// Connects to `dsn` with tokio-postgres and returns the client; the connection task runs on
/// the current runtime.
pub async fn connect(dsn: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(dsn, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("connect to {dsn}: {e}"));
    tokio::spawn(connection);
    client
}

/// A running exporter process, killed when dropped. Its output is collected in `log`.
pub struct Exporter {
    child: Child,
    pub port: u16,
    log: Arc<Mutex<String>>,
}

impl Exporter {
    /// Starts the exporter binary with `args` and environment `env` and waits until it serves.
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> Exporter {
        let port = free_port();
        let mut command = Command::new(env!("CARGO_BIN_EXE_postgres-exporter"));
        command
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--config.file=/nonexistent/postgres_exporter.yml")
            .args(args)
            .env_remove("DATA_SOURCE_NAME")
            .env_remove("DATA_SOURCE_URI")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (key, value) in env {
            command.env(key, value);
        }

        let mut child = command.spawn().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        // The logfmt logger of exporter-core writes to standard output and the JSON logger to
        // standard error, so both are collected.
        let stdout: Box<dyn Read + Send> = Box::new(child.stdout.take().unwrap());
        let stderr: Box<dyn Read + Send> = Box::new(child.stderr.take().unwrap());
        for mut stream in [stdout, stderr] {
            let sink = Arc::clone(&log);
            std::thread::spawn(move || {
                let mut buffer = [0u8; 4096];
                while let Ok(n) = stream.read(&mut buffer) {
                    if n == 0 {
                        break;
                    }
                    let text = String::from_utf8_lossy(&buffer[..n]).into_owned();
                    sink.lock().unwrap().push_str(&text);
                }
            });
        }

        let exporter = Exporter { child, port, log };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "exporter did not start: {}",
                exporter.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        exporter
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits up to five seconds for `text` to appear in the log, which the logger may write a
    /// moment after the response, and returns the log.
    pub fn wait_for_log(&self, text: &str) -> String {
        let started = Instant::now();
        loop {
            let log = self.log();
            if log.contains(text) || started.elapsed() > Duration::from_secs(5) {
                return log;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// GETs `path` and returns the status and body.
    pub async fn get(&self, path: &str) -> (u16, String) {
        let response = reqwest::Client::new()
            .get(self.url(path))
            .timeout(Duration::from_secs(120))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }

    /// Scrapes `/metrics`, asserting HTTP 200, and parses the body.
    pub async fn scrape(&self) -> Metrics {
        let (status, body) = self.get("/metrics").await;
        assert_eq!(status, 200, "{body}");
        Metrics::parse(&body)
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One sample of a parsed exposition.
#[derive(Clone, Debug)]
pub struct Sample {
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// A parsed text exposition: samples and `# TYPE` of each family.
#[derive(Debug, Default)]
pub struct Metrics {
    pub samples: BTreeMap<String, Vec<Sample>>,
    pub types: BTreeMap<String, String>,
}

impl Metrics {
    /// Parses the text format 0.0.4; label values may contain escaped quotes.
    pub fn parse(body: &str) -> Metrics {
        let mut metrics = Metrics::default();
        for line in body.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap();
                metrics.types.insert(name.to_owned(), kind.to_owned());
                continue;
            }
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let (name, labels, rest) = match line.find('{') {
                Some(open) => {
                    let close = line.rfind('}').unwrap();
                    (
                        &line[..open],
                        parse_labels(&line[open + 1..close]),
                        &line[close + 1..],
                    )
                }
                None => {
                    let (name, rest) = line.split_once(' ').unwrap();
                    (name, BTreeMap::new(), rest)
                }
            };
            let value_text = rest.split_whitespace().next().unwrap();
            let value = match value_text {
                "NaN" => f64::NAN,
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                other => other.parse().unwrap(),
            };
            metrics
                .samples
                .entry(name.to_owned())
                .or_default()
                .push(Sample { labels, value });
        }
        metrics
    }

    pub fn family(&self, name: &str) -> &[Sample] {
        self.samples.get(name).map(Vec::as_slice).unwrap_or(&[])
    }

    pub fn has(&self, name: &str) -> bool {
        !self.family(name).is_empty()
    }

    /// Returns the value of the sample of `name` whose labels include `labels`.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.family(name)
            .iter()
            .find(|s| {
                labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|s| s.value)
    }

    /// Returns `pg_scrape_collector_success` of `collector`.
    pub fn success(&self, collector: &str) -> Option<f64> {
        self.value("pg_scrape_collector_success", &[("collector", collector)])
    }
}

fn parse_labels(text: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let mut chars = text.chars().peekable();
    loop {
        let name: String = chars.by_ref().take_while(|c| *c != '=').collect();
        let name = name.trim_start_matches(',').trim().to_owned();
        if name.is_empty() {
            break;
        }
        assert_eq!(chars.next(), Some('"'));
        let mut value = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some('n') => value.push('\n'),
                    Some(other) => value.push(other),
                    None => break,
                },
                '"' => break,
                other => value.push(other),
            }
        }
        labels.insert(name, value);
    }
    labels
}

/// Every collector that is off by default, as `--collector.<name>` flags.
pub const EXTRA_COLLECTORS: &[&str] = &[
    "--collector.buffercache_summary",
    "--collector.database_wraparound",
    "--collector.long_running_transactions",
    "--collector.postmaster",
    "--collector.process_idle",
    "--collector.stat_activity_autovacuum",
    "--collector.stat_checkpointer",
    "--collector.stat_statements",
    "--collector.stat_wal_receiver",
    "--collector.statio_user_indexes",
    "--collector.xlog_location",
];

fn basebackup_path(major: u32) -> PathBuf {
    PathBuf::from(format!("/usr/lib/postgresql/{major}/bin/pg_basebackup"))
}

/// Returns the newest PostgreSQL major version from 13 to 18 whose pg_basebackup Debian's
/// postgresql-client package installed, so that a standby test can use server binaries of the
/// same version. Falls back to 15, whose absence the standby test then reports.
pub fn basebackup_major() -> u32 {
    (13..=18)
        .rev()
        .find(|major| basebackup_path(*major).exists())
        .unwrap_or(15)
}
