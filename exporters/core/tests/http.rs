//! The shared server over real HTTP. The exposition is parsed back by promtool, by the Python
//! client library's parser and by a Prometheus server that scrapes it. The other tests cover
//! content negotiation, gzip, basic authentication, TLS, the request limit, the scrape deadline,
//! systemd sockets, and a process that exits cleanly on SIGTERM with a scrape in flight.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use exporter_core::cli::{ExporterInfo, WebOptions};
use exporter_core::{
    async_trait, AnyCollector, CollectError, Collector, CollectorSet, Desc, Histogram, MetricSink,
    MetricType, Scrape, Server, Summary,
};
use tokio::sync::{oneshot, Notify};

const INFO: ExporterInfo = ExporterInfo {
    name: "test_exporter",
    binary: "test-exporter",
    description: "Exporter under test",
    default_listen: "127.0.0.1:0",
};

const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0;q=0.5,\
    application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";

const TEMPERATURE: Desc = Desc::gauge(
    "test_temperature_celsius",
    "Temperature with a \\ backslash and a\nline feed in its help.",
    &["sensor"],
);
const REQUESTS: Desc = Desc::counter("test_requests_total", "Requests served.", &["path"]);
const LATENCY: Desc = Desc::new(
    "test_latency_seconds",
    "Request latency.",
    MetricType::Histogram,
    &["path"],
);
const SIZES: Desc = Desc::new(
    "test_size_bytes",
    "Response sizes.",
    MetricType::Summary,
    &[],
);

/// Writes samples with every kind of value and awkward label values.
struct Fixed;

#[async_trait]
impl Collector for Fixed {
    async fn collect(&self, _scrape: &Scrape, sink: &mut MetricSink) -> Result<(), CollectError> {
        sink.add(&TEMPERATURE, &["quote \" and \\ and\nnewline"], 21.5);
        sink.add(&TEMPERATURE, &["nan"], f64::NAN);
        sink.add(&TEMPERATURE, &["hot"], f64::INFINITY);
        sink.add(&TEMPERATURE, &["cold"], f64::NEG_INFINITY);
        sink.add(&REQUESTS, &["/b"], 2.0);
        sink.add(&REQUESTS, &["/a"], 1e21);
        sink.add(&REQUESTS, &["/a"], 7.0);
        sink.add_histogram(
            &LATENCY,
            &["/a"],
            Histogram {
                buckets: vec![(0.1, 3.0), (1.0, 5.0)],
                sum: 2.5,
                count: 6.0,
            },
        );
        sink.add_summary(
            &SIZES,
            &[],
            Summary {
                quantiles: vec![(0.5, 100.0), (0.99, 900.0)],
                sum: 5000.0,
                count: 20.0,
            },
        );
        Ok(())
    }
}

struct Failing;

#[async_trait]
impl Collector for Failing {
    async fn collect(&self, _scrape: &Scrape, _sink: &mut MetricSink) -> Result<(), CollectError> {
        Err(CollectError::failed("the source is broken"))
    }
}

/// Signals when a scrape has started and then waits until released.
struct Blocking {
    entered: Arc<Notify>,
    release: Arc<Notify>,
}

#[async_trait]
impl Collector for Blocking {
    async fn collect(&self, _scrape: &Scrape, _sink: &mut MetricSink) -> Result<(), CollectError> {
        self.entered.notify_one();
        self.release.notified().await;
        Ok(())
    }
}

struct Sleeping(Duration);

#[async_trait]
impl Collector for Sleeping {
    async fn collect(&self, _scrape: &Scrape, _sink: &mut MetricSink) -> Result<(), CollectError> {
        tokio::time::sleep(self.0).await;
        Ok(())
    }
}

fn web_options() -> WebOptions {
    WebOptions {
        listen_addresses: vec!["127.0.0.1:0".to_owned()],
        systemd_socket: false,
        telemetry_path: "/metrics".to_owned(),
        config_file: None,
        max_requests: 40,
        disable_exporter_metrics: false,
        enable_openmetrics: false,
        shutdown_grace: Duration::from_secs(5),
    }
}

/// A running in-process server; dropping it stops the server.
struct Running {
    address: SocketAddr,
    _stop: oneshot::Sender<()>,
}

async fn start(web: WebOptions, collectors: Vec<(&'static str, AnyCollector)>) -> Running {
    let set = CollectorSet::from_collectors("test", collectors);
    let bound = Server::new(INFO, web)
        .metrics(Arc::new(set))
        .bind()
        .await
        .unwrap();
    let address = bound.local_addresses()[0];
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(bound.serve_until(async move {
        let _ = stopped.await;
        "test"
    }));
    Running {
        address,
        _stop: stop,
    }
}

fn fixed() -> Vec<(&'static str, AnyCollector)> {
    vec![
        ("fixed", AnyCollector::asynchronous(Fixed)),
        ("failing", AnyCollector::asynchronous(Failing)),
    ]
}

async fn get(url: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let client = reqwest::Client::new();
    let mut request = client.get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

/// Parses an exposition with prometheus_client's parser (`tests/parse_exposition.py`).
fn parse_with_python(body: &str) -> Vec<serde_json::Value> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/parse_exposition.py");
    let mut child = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "prometheus_client could not parse the exposition (pip install prometheus-client):\n{}\n{body}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn promtool_check(body: &str) -> (bool, String) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool is missing: install the Debian package prometheus");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), report)
}

#[tokio::test]
async fn text_exposition_passes_promtool() {
    let server = start(web_options(), fixed()).await;
    let response = get(&format!("http://{}/metrics", server.address), &[]).await;
    assert_eq!(response.status(), 200);
    let body = response.text().await.unwrap();
    let (ok, report) = promtool_check(&body);
    assert!(ok, "promtool rejected the exposition:\n{report}\n{body}");
}

#[tokio::test]
async fn text_exposition_parses_back() {
    let server = start(web_options(), fixed()).await;
    let body = get(&format!("http://{}/metrics", server.address), &[])
        .await
        .text()
        .await
        .unwrap();
    let samples = parse_with_python(&body);

    let find = |name: &str, label: &str, value: &str| {
        samples
            .iter()
            .find(|s| s["name"] == name && s["labels"][label] == value)
            .map(|s| s["value"].as_str().unwrap().parse::<f64>().unwrap())
    };
    let value = |v: Option<f64>| v.expect("sample missing from the parsed exposition");

    assert_eq!(
        value(find(
            "test_temperature_celsius",
            "sensor",
            "quote \" and \\ and\nnewline"
        )),
        21.5
    );
    assert!(value(find("test_temperature_celsius", "sensor", "nan")).is_nan());
    assert_eq!(
        value(find("test_temperature_celsius", "sensor", "hot")),
        f64::INFINITY
    );
    assert_eq!(
        value(find("test_temperature_celsius", "sensor", "cold")),
        f64::NEG_INFINITY
    );

    assert_eq!(
        value(find("test_requests_total", "path", "/a")),
        1e21,
        "the first of two duplicates stays"
    );

    assert_eq!(
        value(find("test_scrape_collector_success", "collector", "fixed")),
        1.0
    );
    assert_eq!(
        value(find(
            "test_scrape_collector_success",
            "collector",
            "failing"
        )),
        0.0
    );

    assert!(find(
        "test_exporter_build_info",
        "version",
        env!("CARGO_PKG_VERSION")
    )
    .is_some());
    assert!(samples
        .iter()
        .any(|s| s["name"] == "process_resident_memory_bytes"));

    let bucket = samples
        .iter()
        .find(|s| s["name"] == "test_latency_seconds_bucket" && s["labels"]["le"] == "+Inf")
        .unwrap();
    assert_eq!(
        bucket["value"].as_str().unwrap().parse::<f64>().unwrap(),
        6.0
    );

    let quantile = samples
        .iter()
        .find(|s| s["name"] == "test_size_bytes" && s["labels"]["quantile"] == "0.99")
        .unwrap();
    assert_eq!(
        quantile["value"].as_str().unwrap().parse::<f64>().unwrap(),
        900.0
    );
}

#[tokio::test]
async fn families_are_sorted() {
    let server = start(web_options(), fixed()).await;
    let body = get(&format!("http://{}/metrics", server.address), &[])
        .await
        .text()
        .await
        .unwrap();
    let names: Vec<&str> = body
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    let a = body.find("test_requests_total{path=\"/a\"}").unwrap();
    let b = body.find("test_requests_total{path=\"/b\"}").unwrap();
    assert!(a < b);
}

#[tokio::test]
async fn prometheus_accept_gets_text_by_default() {
    let server = start(web_options(), fixed()).await;
    let response = get(
        &format!("http://{}/metrics", server.address),
        &[("Accept", PROMETHEUS_ACCEPT)],
    )
    .await;
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    let body = response.text().await.unwrap();
    assert!(!body.contains("# EOF"));
    assert!(body.contains("\ntest_requests_total{path=\"/a\"} 1e+21\n"));
}

#[tokio::test]
async fn openmetrics_served_when_enabled() {
    let mut web = web_options();
    web.enable_openmetrics = true;
    let server = start(web, fixed()).await;
    let response = get(
        &format!("http://{}/metrics", server.address),
        &[("Accept", PROMETHEUS_ACCEPT)],
    )
    .await;
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(content_type.starts_with("application/openmetrics-text; version=1.0.0"));
    let body = response.text().await.unwrap();
    assert!(body.ends_with("# EOF\n"));
    assert!(body.contains("# TYPE test_requests counter\n"));
    assert!(body.contains("\ntest_requests_total{path=\"/b\"} 2\n"));

    let plain = get(&format!("http://{}/metrics", server.address), &[]).await;
    let plain_type = plain.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(plain_type.starts_with("text/plain"));
}

#[tokio::test]
async fn gzip_when_accepted() {
    let server = start(web_options(), fixed()).await;
    let url = format!("http://{}/metrics", server.address);
    let response = get(&url, &[("Accept-Encoding", "gzip")]).await;
    assert_eq!(response.headers()["content-encoding"], "gzip");
    let compressed = response.bytes().await.unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(&compressed[..])
        .read_to_string(&mut text)
        .unwrap();
    assert!(text.contains("test_temperature_celsius{sensor=\"hot\"} +Inf"));

    let identity = get(&url, &[]).await;
    assert!(identity.headers().get("content-encoding").is_none());
}

#[tokio::test]
async fn routes_answer() {
    let server = start(web_options(), fixed()).await;
    let base = format!("http://{}", server.address);
    let landing = get(&format!("{base}/"), &[]).await.text().await.unwrap();
    assert!(landing.contains("href=\"metrics\""), "{landing}");
    assert_eq!(get(&format!("{base}/-/healthy"), &[]).await.status(), 200);
    assert_eq!(get(&format!("{base}/-/ready"), &[]).await.status(), 200);
    assert_eq!(get(&format!("{base}/other"), &[]).await.status(), 404);
}

#[tokio::test]
async fn over_request_limit_gets_503() {
    let entered = Arc::new(Notify::new());
    let release = Arc::new(Notify::new());
    let mut web = web_options();
    web.max_requests = 1;
    let collector = Blocking {
        entered: Arc::clone(&entered),
        release: Arc::clone(&release),
    };
    let server = start(
        web,
        vec![("blocking", AnyCollector::asynchronous(collector))],
    )
    .await;

    let url = format!("http://{}/metrics", server.address);
    let first = tokio::spawn({
        let url = url.clone();
        async move { get(&url, &[]).await.status() }
    });
    entered.notified().await;

    let started = Instant::now();
    let second = get(&url, &[]).await;
    assert_eq!(second.status(), 503);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "the 503 must come at once"
    );
    release.notify_one();
    assert_eq!(first.await.unwrap(), 200);
    // Stores a wake-up for the next scrape's collector before it starts waiting.
    release.notify_one();
    assert_eq!(get(&url, &[]).await.status(), 200, "the permit is returned");
}

#[tokio::test]
async fn scrape_timeout_header_bounds_collectors() {
    let server = start(
        web_options(),
        vec![(
            "slow",
            AnyCollector::asynchronous(Sleeping(Duration::from_secs(30))),
        )],
    )
    .await;
    let started = Instant::now();
    let response = get(
        &format!("http://{}/metrics", server.address),
        &[("X-Prometheus-Scrape-Timeout-Seconds", "1")],
    )
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(response.status(), 200);
    let body = response.text().await.unwrap();
    assert!(
        body.contains("test_scrape_collector_success{collector=\"slow\"} 0"),
        "{body}"
    );
}

#[tokio::test]
async fn collect_filter_params() {
    let server = start(web_options(), fixed()).await;
    let base = format!("http://{}/metrics", server.address);
    let only = get(&format!("{base}?collect[]=fixed"), &[])
        .await
        .text()
        .await
        .unwrap();
    assert!(only.contains("collector=\"fixed\""));
    assert!(!only.contains("collector=\"failing\""));
    let without = get(&format!("{base}?exclude%5B%5D=fixed"), &[])
        .await
        .text()
        .await
        .unwrap();
    assert!(!without.contains("collector=\"fixed\""));
    assert!(without.contains("collector=\"failing\""));
    let both = get(&format!("{base}?collect[]=fixed&exclude[]=failing"), &[]).await;
    assert_eq!(both.status(), 400);
    let unknown = get(&format!("{base}?collect[]=nope"), &[]).await;
    assert_eq!(unknown.status(), 400);
    assert!(unknown.text().await.unwrap().contains("nope"));
}

fn write_file(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

fn basic_auth_config(dir: &Path, user: &str, password: &str) -> PathBuf {
    let hash = bcrypt::hash(password, 4).unwrap();
    let path = dir.join("web.yml");
    write_file(&path, &format!("basic_auth_users:\n  {user}: {hash}\n"));
    path
}

#[tokio::test]
async fn basic_auth_accepts_and_rejects() {
    let dir = tempfile::tempdir().unwrap();
    let mut web = web_options();
    web.config_file = Some(basic_auth_config(dir.path(), "alice", "wonderland"));
    let server = start(web, fixed()).await;
    let url = format!("http://{}/metrics", server.address);
    let client = reqwest::Client::new();

    let ok = client
        .get(&url)
        .basic_auth("alice", Some("wonderland"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let wrong = client
        .get(&url)
        .basic_auth("alice", Some("looking-glass"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    assert_eq!(wrong.headers()["www-authenticate"], "Basic");
    let unknown = client
        .get(&url)
        .basic_auth("bob", Some("wonderland"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 401);
    let missing = client.get(&url).send().await.unwrap();
    assert_eq!(missing.status(), 401);
    assert!(missing.headers().contains_key("www-authenticate"));
}

#[tokio::test]
async fn changed_web_config_applies_without_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = basic_auth_config(dir.path(), "alice", "first");
    let mut web = web_options();
    web.config_file = Some(path.clone());
    let server = start(web, fixed()).await;
    let url = format!("http://{}/metrics", server.address);
    let client = reqwest::Client::new();
    let status = |password: &'static str| {
        let request = client.get(&url).basic_auth("alice", Some(password));
        async move { request.send().await.unwrap().status() }
    };
    assert_eq!(status("first").await, 200);

    let hash = bcrypt::hash("second", 4).unwrap();
    write_file(
        &path,
        &format!("basic_auth_users:\n  alice: {hash}\n# changed\n"),
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while status("second").await != 200 {
        assert!(
            Instant::now() < deadline,
            "the new password was not picked up"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(status("first").await, 401);

    write_file(&path, "basic_auth_users: [not, a, map]\n");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(
        status("second").await,
        200,
        "an invalid file keeps the previous settings"
    );
}

#[tokio::test]
async fn invalid_web_config_stops_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("web.yml");
    write_file(&path, "tls_server_config:\n  cert_file: a.crt\n");
    let mut web = web_options();
    web.config_file = Some(path.clone());
    let error = Server::new(INFO, web)
        .bind()
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(error.contains(&path.display().to_string()), "{error}");
    assert!(error.contains("key_file"), "{error}");
}

#[tokio::test]
async fn tls_handshake_with_generated_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    write_file(&dir.path().join("server.crt"), &certified.cert.pem());
    write_file(
        &dir.path().join("server.key"),
        &certified.key_pair.serialize_pem(),
    );
    let config = dir.path().join("web.yml");
    write_file(
        &config,
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  min_version: TLS12\n",
    );
    let mut web = web_options();
    web.config_file = Some(config);
    let server = start(web, fixed()).await;

    let root = reqwest::Certificate::from_pem(certified.cert.pem().as_bytes()).unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(root)
        .resolve("localhost", server.address)
        .build()
        .unwrap();
    let url = format!("https://localhost:{}/metrics", server.address.port());
    let response = client.get(&url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response
        .text()
        .await
        .unwrap()
        .contains("test_requests_total"));

    let plain = reqwest::get(format!("http://{}/metrics", server.address)).await;
    assert!(
        plain.is_err() || plain.unwrap().status() != 200,
        "plain HTTP must not be served"
    );
}

/// Path of the `sleepy` example, which `cargo test` builds beside the test binaries.
fn sleepy_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile = exe.parent().unwrap().parent().unwrap();
    let path = profile.join("examples").join("sleepy");
    assert!(
        path.exists(),
        "{} is missing: run the tests with cargo test",
        path.display()
    );
    path
}

#[test]
fn sigterm_lets_scrape_in_flight_finish() {
    let mut child = Command::new(sleepy_binary())
        .args(["--sleep", "1500ms", "--web.listen-address", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let address = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_owned();

    let scrape = std::thread::spawn(move || {
        let mut stream = std::net::TcpStream::connect(&address).unwrap();
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
    });
    std::thread::sleep(Duration::from_millis(500));
    // SAFETY: kill only sends a signal to the child started above.
    let sent = unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert_eq!(sent, 0);

    let response = scrape.join().unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("sleepy_awake 1"), "{response}");
    let status = child.wait().unwrap();
    assert!(status.success(), "exit status {status}");
    let mut log = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    assert!(log.contains("signal=SIGTERM"), "{log}");
}

#[test]
fn unknown_flag_is_rejected() {
    let output = Command::new(sleepy_binary())
        .arg("--web.listen-adress=:1")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--web.listen-adress"), "{stderr}");
}

#[test]
fn help_lists_flags_with_defaults() {
    let output = Command::new(sleepy_binary())
        .arg("--help")
        .output()
        .unwrap();
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for flag in [
        "--web.listen-address",
        "--web.telemetry-path",
        "--web.config.file",
        "--web.max-requests",
        "--web.systemd-socket",
        "--web.disable-exporter-metrics",
        "--web.enable-openmetrics",
        "--log.level",
        "--log.format",
    ] {
        assert!(help.contains(flag), "{flag} is missing from --help");
    }
    assert!(help.contains("[default: 40]"), "{help}");
    assert!(help.contains("[default: /metrics]"), "{help}");
}

/// Counts its calls and reports a generation that the test sets.
struct Generational {
    calls: Arc<std::sync::atomic::AtomicUsize>,
    generation: Arc<std::sync::atomic::AtomicU64>,
}

#[async_trait]
impl exporter_core::Gatherer for Generational {
    async fn gather(
        &self,
        _scrape: &Scrape,
        sink: &mut MetricSink,
    ) -> Result<(), exporter_core::GatherError> {
        use std::sync::atomic::Ordering;
        let call = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        sink.add(&REQUESTS, &["/calls"], call as f64);
        Ok(())
    }

    fn generation(&self) -> Option<u64> {
        Some(self.generation.load(std::sync::atomic::Ordering::SeqCst))
    }
}

#[tokio::test]
async fn unchanged_generation_reuses_response() {
    use std::sync::atomic::Ordering;
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let generation = Arc::new(std::sync::atomic::AtomicU64::new(1));
    let gatherer = Generational {
        calls: Arc::clone(&calls),
        generation: Arc::clone(&generation),
    };
    let bound = Server::new(INFO, web_options())
        .metrics(Arc::new(gatherer))
        .bind()
        .await
        .unwrap();
    let url = format!("http://{}/metrics", bound.local_addresses()[0]);
    let (_stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(bound.serve_until(async move {
        let _ = stopped.await;
        "test"
    }));

    for _ in 0..5 {
        let body = get(&url, &[]).await.text().await.unwrap();
        assert!(
            body.contains("test_requests_total{path=\"/calls\"} 1\n"),
            "{body}"
        );
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    let gzipped = get(&url, &[("Accept-Encoding", "gzip")]).await;
    assert_eq!(gzipped.headers()["content-encoding"], "gzip");
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "gzip is cached apart from plain text"
    );

    generation.store(2, Ordering::SeqCst);
    let body = get(&url, &[]).await.text().await.unwrap();
    assert!(
        body.contains("test_requests_total{path=\"/calls\"} 3\n"),
        "{body}"
    );

    tokio::time::sleep(Duration::from_millis(1100)).await;
    let body = get(&url, &[]).await.text().await.unwrap();
    assert!(
        body.contains("test_requests_total{path=\"/calls\"} 3\n"),
        "an aged response is served while a newer one is encoded: {body}"
    );
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let body = get(&url, &[]).await.text().await.unwrap();
        if body.contains("test_requests_total{path=\"/calls\"} 4\n") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the aged response was not refreshed: {body}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[test]
fn systemd_socket_activation_serves() {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let fd = listener.as_raw_fd();
    // systemd passes sockets from fd 3 on and sets LISTEN_PID to the receiving process. A shell
    // that execs the exporter keeps its PID, which the shell reads as $$.
    let mut command = Command::new("sh");
    command
        .args([
            "-c",
            "LISTEN_PID=$$ LISTEN_FDS=1 exec \"$0\" --web.systemd-socket",
        ])
        .arg(sleepy_binary())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: the closure only calls dup2 and fcntl, which are async-signal-safe, on the
    // listener's descriptor, which stays open in the parent until the child has started.
    unsafe {
        command.pre_exec(move || {
            if fd == 3 {
                let flags = libc::fcntl(3, libc::F_GETFD);
                if flags < 0 || libc::fcntl(3, libc::F_SETFD, flags & !libc::FD_CLOEXEC) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            } else if libc::dup2(fd, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = command.spawn().unwrap();
    drop(listener);

    let mut response = String::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(mut stream) = std::net::TcpStream::connect(address) {
            stream
                .set_read_timeout(Some(Duration::from_secs(2)))
                .unwrap();
            stream
                .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .unwrap();
            // If the exporter does not accept on the socket, the read times out with an empty response.
            let _ = stream.read_to_string(&mut response);
            if !response.is_empty() {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // SAFETY: kill only sends a signal to the child started above.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();

    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("sleepy_awake 1"), "{response}");
    assert!(status.success(), "exit status {status}");
}

/// Returns a free TCP port on loopback.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_exporter() {
    let server = start(web_options(), fixed()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("prometheus.yml");
    write_file(
        &config,
        &format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: test\n    \
             static_configs: [{{targets: ['{}']}}]\n",
            server.address
        ),
    );
    let port = free_port();
    let mut prometheus = Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus is missing: install the Debian package prometheus");

    let targets = format!("http://127.0.0.1:{port}/api/v1/targets");
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last = String::new();
    let mut healthy = false;
    while Instant::now() < deadline && !healthy {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let Ok(response) = reqwest::get(&targets).await else {
            continue;
        };
        last = response.text().await.unwrap_or_default();
        healthy = last.contains("\"health\":\"up\"");
    }
    let query = format!("http://127.0.0.1:{port}/api/v1/query?query=test_requests_total");
    let mut result = String::new();
    if healthy {
        // The first scrape's samples are queryable once it has been appended.
        for _ in 0..20 {
            result = reqwest::get(&query).await.unwrap().text().await.unwrap();
            if result.contains("\"/b\"") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    let _ = prometheus.kill();
    let _ = prometheus.wait();

    assert!(healthy, "Prometheus did not report the target up: {last}");
    assert!(result.contains("\"path\":\"/b\""), "{result}");
}
