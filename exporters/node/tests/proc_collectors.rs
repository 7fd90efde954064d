//! Runs the node-exporter binary on a /proc and /sys tree built in a temporary directory and
//! scrapes it over HTTP on loopback. The tests check one family of each collector in
//! [`COLLECTORS`] and the `collect[]` URL parameter.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const FILES: &[(&str, &str)] = &[
    ("proc/stat", "cpu  10 0 10 100\ncpu0 10 0 10 100 5 0 1 0 0 0\nintr 42 1 2\nctxt 77\nbtime 1600000000\nprocesses 9\nprocs_running 1\nprocs_blocked 0\n"),
    ("proc/meminfo", "MemTotal:       2048 kB\n\nMemFree:        1024 kB\nNotAField 1\n"),
    ("proc/loadavg", "1.50 0.75 0.25 1/100 4242\n"),
    ("proc/vmstat", "pgfault 1000\nnr_dirty 5\noom_kill 2\n"),
    ("proc/diskstats", "   8       0 sda 1 2 3 4 5 6 7 8 9 10 11\n   8       1 sda1 1 2 3 4 5 6 7 8 9 10 11\n"),
    ("proc/sys/fs/file-nr", "512\t0\t9999\n"),
    ("proc/sys/kernel/random/entropy_avail", "256\n"),
    ("proc/sys/kernel/random/poolsize", "256\n"),
    ("proc/sys/kernel/hung_task_detect_count", "0\n"),
    ("proc/pressure/cpu", "some avg10=0.00 avg60=0.00 avg300=0.00 total=2000000\n"),
    ("proc/schedstat", "version 15\ncpu0 0 0 0 0 0 0 3000000000 1000000000 12\n"),
    ("sys/class/watchdog/watchdog0/timeout", "30\n"),
    ("sys/block/sda/queue/rotational", "1\n"),
    ("udev/data/b8:0", "E:ID_MODEL=TEST_DISK\nE:ID_SERIAL_SHORT=XYZ\n"),
    ("etc/os-release", "NAME=\"Test OS\"\nID=testos\nVERSION_ID=3.1\n"),
];

const COLLECTORS: &[&str] = &[
    "cpu",
    "diskstats",
    "entropy",
    "filefd",
    "kernel_hung",
    "loadavg",
    "meminfo",
    "os",
    "pressure",
    "schedstat",
    "stat",
    "vmstat",
    "watchdog",
];

struct Exporter {
    child: Child,
    port: u16,
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn start(root: &Path) -> Exporter {
    let port = free_port();
    let mut command = Command::new(env!("CARGO_BIN_EXE_node-exporter"));
    command
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg(format!("--path.procfs={}", root.join("proc").display()))
        .arg(format!("--path.sysfs={}", root.join("sys").display()))
        .arg(format!("--path.rootfs={}", root.display()))
        .arg(format!(
            "--path.udev.data={}",
            root.join("udev/data").display()
        ))
        .arg("--collector.disable-defaults")
        .args(COLLECTORS.iter().map(|c| format!("--collector.{c}")))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let exporter = Exporter {
        child: command.spawn().unwrap(),
        port,
    };
    for _ in 0..100 {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return exporter;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("node-exporter did not listen on port {port} within 5 seconds");
}

/// Sends a GET request and returns the status code and body.
fn get(port: u16, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .unwrap_or("")
        .to_owned();
    (status, body)
}

fn tree() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (relative, contents) in FILES {
        let path = dir.path().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
    }
    dir
}

fn has_line(body: &str, line: &str) -> bool {
    body.lines().any(|l| l == line)
}

#[test]
fn scrape_of_fixture_tree() {
    let dir = tree();
    let exporter = start(dir.path());
    let (status, body) = get(exporter.port, "/metrics");
    assert_eq!(status, 200);
    let expected = [
        r#"node_cpu_seconds_total{cpu="0",mode="idle"} 1"#,
        r#"node_cpu_seconds_total{cpu="0",mode="iowait"} 0.05"#,
        "node_context_switches_total 77",
        "node_memory_MemTotal_bytes 2.097152e+06",
        "node_load1 1.5",
        "node_vmstat_pgfault 1000",
        r#"node_disk_reads_completed_total{device="sda"} 1"#,
        r#"node_disk_info{device="sda",major="8",minor="0",model="TEST_DISK",path="",revision="",rotational="1",serial="XYZ",wwn=""} 1"#,
        "node_filefd_maximum 9999",
        "node_entropy_available_bits 256",
        "node_kernel_hung_tasks_total 0",
        "node_pressure_cpu_waiting_seconds_total 2",
        r#"node_schedstat_timeslices_total{cpu="0"} 12"#,
        r#"node_watchdog_timeout_seconds{name="watchdog0"} 30"#,
        r#"node_os_version{id="testos",id_like="",name="Test OS"} 3.1"#,
    ];
    for line in expected {
        assert!(has_line(&body, line), "missing line {line}");
    }
    assert!(!body.contains("sda1"), "partitions are excluded by default");
    assert!(!body.contains("node_vmstat_nr_dirty"));
    for collector in COLLECTORS {
        let success = format!(r#"node_scrape_collector_success{{collector="{collector}"}} 1"#);
        assert!(has_line(&body, &success), "missing line {success}");
    }
}

#[test]
fn collect_parameter_limits_collectors() {
    let dir = tree();
    let exporter = start(dir.path());
    let (status, body) = get(exporter.port, "/metrics?collect[]=loadavg");
    assert_eq!(status, 200);
    assert!(has_line(&body, "node_load5 0.75"));
    assert!(!body.contains("node_memory_"));
    let (status, _) = get(exporter.port, "/metrics?collect[]=timex");
    assert_eq!(status, 400, "timex is disabled in this run");
}
