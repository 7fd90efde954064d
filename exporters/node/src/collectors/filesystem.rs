//! filesystem collector: size, free space and inodes of each mount point from statfs(2), with
//! mount points listed by /proc/1/mountinfo (or /proc/self/mountinfo when PID 1 is not
//! visible).
//!
//! statfs on a hung network mount can block for ever, so each call runs on its own thread.
//! When it has not returned within `--collector.filesystem.mount-timeout`, the mount point is
//! reported with `node_filesystem_device_error` 1 and skipped by later scrapes until that call
//! returns.

use std::collections::{HashSet, VecDeque};
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Arg;
use exporter_core::collector::BuildError;
use exporter_core::{cli, AnyCollector, BlockingCollector, CollectError, Desc, MetricSink};
use tracing::{debug, info, warn};

use super::filter::NameFilter;
use super::mountinfo::{read_mountinfo, Mount};
use super::NodeConfig;

const LABELS: &[&str] = &["device", "mountpoint", "fstype", "device_error"];
const SIZE: Desc = Desc::gauge(
    "node_filesystem_size_bytes",
    "Size of the filesystem in bytes.",
    LABELS,
);
const FREE: Desc = Desc::gauge(
    "node_filesystem_free_bytes",
    "Free space of the filesystem in bytes.",
    LABELS,
);
const AVAIL: Desc = Desc::gauge(
    "node_filesystem_avail_bytes",
    "Free space of the filesystem available to unprivileged users, in bytes.",
    LABELS,
);
const FILES: Desc = Desc::gauge(
    "node_filesystem_files",
    "Number of inodes of the filesystem.",
    LABELS,
);
const FILES_FREE: Desc = Desc::gauge(
    "node_filesystem_files_free",
    "Number of free inodes of the filesystem.",
    LABELS,
);
const READONLY: Desc = Desc::gauge(
    "node_filesystem_readonly",
    "Whether the filesystem is mounted read-only (1) or not (0).",
    LABELS,
);
const DEVICE_ERROR: Desc = Desc::gauge(
    "node_filesystem_device_error",
    "Whether statfs on the mount point failed or timed out (1) or not (0).",
    LABELS,
);
const MOUNT_INFO: Desc = Desc::gauge(
    "node_filesystem_mount_info",
    "Device numbers of a mounted filesystem; the value is always 1.",
    &["device", "major", "minor", "mountpoint"],
);

const MOUNT_POINTS_EXCLUDED: &str =
    "^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)";
const FS_TYPES_EXCLUDED: &str = "^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|erofs|sysfs|tracefs)$";
const TIMEOUT_ERROR: &str = "mountpoint timeout";
/// Stack of a statfs thread: it only makes one system call.
const STATFS_STACK_BYTES: usize = 64 * 1024;

pub fn args() -> Vec<Arg> {
    let flag = |name: &'static str, help: &'static str| Arg::new(name).long(name).help(help);
    vec![
        flag("collector.filesystem.mount-points-exclude", "Regular expression of mount points to exclude (mutually exclusive with mount-points-include)")
            .default_value(MOUNT_POINTS_EXCLUDED),
        flag("collector.filesystem.mount-points-include", "Regular expression of mount points to include (mutually exclusive with mount-points-exclude)"),
        flag("collector.filesystem.fs-types-exclude", "Regular expression of filesystem types to exclude (mutually exclusive with fs-types-include)")
            .default_value(FS_TYPES_EXCLUDED),
        flag("collector.filesystem.fs-types-include", "Regular expression of filesystem types to include (mutually exclusive with fs-types-exclude)"),
        flag("collector.filesystem.mount-timeout", "How long to wait for statfs on a mount point before reporting it as unresponsive")
            .default_value("5s")
            .hide(true),
        flag("collector.filesystem.stat-workers", "Accepted for compatibility: every statfs call runs on its own thread")
            .default_value("4")
            .hide(true),
        flag("collector.filesystem.ignored-mount-points", "Deprecated name of --collector.filesystem.mount-points-exclude").hide(true),
        flag("collector.filesystem.ignored-fs-types", "Deprecated name of --collector.filesystem.fs-types-exclude").hide(true),
    ]
}

/// Number of threads that make the statfs calls of one scrape.
const STATFS_RUNNERS: usize = 2;

/// Progress of one statfs call, shared with the runner thread that makes it.
#[derive(Default)]
struct CallState {
    started: AtomicBool,
    done: AtomicBool,
}

/// A statfs call waiting for a runner thread.
struct StatJob {
    index: usize,
    path: PathBuf,
    mount_point: Vec<u8>,
    call: Arc<CallState>,
}

/// Mount points whose statfs call has not returned yet, shared with the threads making them.
#[derive(Default)]
struct StuckMounts {
    mount_points: Mutex<HashSet<Vec<u8>>>,
}

struct Filesystem {
    procfs: PathBuf,
    rootfs: PathBuf,
    mount_points: NameFilter,
    fs_types: NameFilter,
    timeout: Duration,
    stuck: Arc<StuckMounts>,
    /// The statfs call; tests replace it to simulate a hung mount.
    stat: fn(&Path) -> StatOutcome,
}

pub fn build(config: &NodeConfig) -> Result<AnyCollector, BuildError> {
    let mount_points = filter_with_deprecated(config, "mount-points", "ignored-mount-points")?;
    let fs_types = filter_with_deprecated(config, "fs-types", "ignored-fs-types")?;
    let timeout_text = config
        .string("collector.filesystem.mount-timeout")
        .unwrap_or_default();
    let timeout = cli::parse_duration(&timeout_text).map_err(|e| {
        format!("invalid --collector.filesystem.mount-timeout {timeout_text:?}: {e}")
    })?;
    Ok(AnyCollector::blocking(Filesystem {
        procfs: config.procfs.clone(),
        rootfs: config.rootfs.clone(),
        mount_points,
        fs_types,
        timeout,
        stuck: Arc::new(StuckMounts::default()),
        stat: statfs,
    }))
}

/// Builds a filter, honouring the deprecated `ignored-*` flag when the exclude flag is not given.
fn filter_with_deprecated(
    config: &NodeConfig,
    name: &str,
    old: &str,
) -> Result<NameFilter, BuildError> {
    let prefix = format!("collector.filesystem.{name}");
    let old_flag = format!("collector.filesystem.{old}");
    match config.string(&old_flag).filter(|value| !value.is_empty()) {
        None => NameFilter::from_flags(config, &prefix),
        Some(old_value) => {
            let exclude_flag = format!("{prefix}-exclude");
            if config.matches.value_source(&exclude_flag)
                == Some(clap::parser::ValueSource::CommandLine)
            {
                return Err(
                    format!("--{old_flag} and --{exclude_flag} are mutually exclusive").into(),
                );
            }
            warn!(flag = %old_flag, replacement = %exclude_flag, "Deprecated flag in use");
            let include = config
                .string(&format!("{prefix}-include"))
                .unwrap_or_default();
            if !include.is_empty() {
                return Err(
                    format!("--{old_flag} and --{prefix}-include are mutually exclusive").into(),
                );
            }
            NameFilter::new(&old_value, "")
        }
    }
}

/// Result of statfs on one mount point.
enum StatOutcome {
    Stats(libc::statfs),
    Failed(String),
    TimedOut,
}

impl BlockingCollector for Filesystem {
    fn collect(&self, sink: &mut MetricSink) -> Result<(), CollectError> {
        let mounts = read_mountinfo(&self.procfs)?;
        let mut seen = HashSet::new();
        let mut pending = Vec::new();
        for mount in mounts {
            let mount_point = self.strip_rootfs(&mount.mount_point);
            let label = String::from_utf8_lossy(&mount_point).into_owned();
            if self.mount_points.ignored(&label) || self.fs_types.ignored(&mount.fs_type) {
                continue;
            }
            if !seen.insert((mount.source.clone(), label.clone(), mount.fs_type.clone())) {
                continue;
            }
            pending.push((mount, mount_point, label));
        }

        let outcomes = self.stat_all(&pending);
        for ((mount, _, label), outcome) in pending.iter().zip(outcomes) {
            add_mount(sink, mount, label, outcome);
        }
        Ok(())
    }
}

impl Filesystem {
    /// Removes the `--path.rootfs` prefix, so that a containerised exporter reports host paths.
    fn strip_rootfs(&self, mount_point: &[u8]) -> Vec<u8> {
        let root = self.rootfs.as_os_str().as_bytes();
        if root == b"/" || root.is_empty() {
            return mount_point.to_vec();
        }
        let root = root.strip_suffix(b"/").unwrap_or(root);
        match mount_point.strip_prefix(root) {
            Some([]) => b"/".to_vec(),
            // Only a whole path component matches: /host must not strip /hostile.
            Some(rest) if rest.starts_with(b"/") => rest.to_vec(),
            _ => mount_point.to_vec(),
        }
    }

    /// Runs statfs on every mount point on a few runner threads and waits at most the mount
    /// timeout. Mount points still stuck from an earlier scrape are not called again. A hung mount
    /// point holds up only the runner it is on, so the other runner works through the rest.
    fn stat_all(&self, mounts: &[(Mount, Vec<u8>, String)]) -> Vec<StatOutcome> {
        let (sender, receiver) = mpsc::channel();
        let mut outcomes: Vec<Option<StatOutcome>> = Vec::with_capacity(mounts.len());
        let mut flags = Vec::with_capacity(mounts.len());
        let mut queue = VecDeque::new();
        for (index, (_, mount_point, label)) in mounts.iter().enumerate() {
            let call = Arc::new(CallState::default());
            flags.push(Arc::clone(&call));
            if self.is_stuck(mount_point) {
                debug!(mountpoint = %label, "Skipped a mount point whose statfs has not returned");
                outcomes.push(Some(StatOutcome::TimedOut));
                continue;
            }
            let path = self.rootfs.join(Path::new(std::ffi::OsStr::from_bytes(
                mount_point.strip_prefix(b"/").unwrap_or(mount_point),
            )));
            queue.push_back(StatJob {
                index,
                path,
                mount_point: mount_point.clone(),
                call,
            });
            outcomes.push(None);
        }
        let mut waiting = queue.len();
        let runners = waiting.min(STATFS_RUNNERS);
        let queue = Arc::new(Mutex::new(queue));
        for _ in 0..runners {
            if let Err(e) = self.spawn_runner(Arc::clone(&queue), sender.clone()) {
                warn!(error = %e, "Failed to start a statfs thread");
            }
        }
        drop(sender);

        let deadline = Instant::now() + self.timeout;
        while waiting > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            match receiver.recv_timeout(left) {
                Ok((index, outcome)) => {
                    outcomes[index] = Some(outcome);
                    waiting -= 1;
                }
                Err(_) => break,
            }
        }
        if waiting > 0 {
            // Calls that never started are dropped, because a runner stuck in statfs would find them later.
            if let Ok(mut queue) = queue.lock() {
                queue.clear();
            }
            self.mark_stuck(mounts, &flags, &mut outcomes, &receiver);
        }
        outcomes
            .into_iter()
            .map(|o| o.unwrap_or(StatOutcome::TimedOut))
            .collect()
    }

    fn spawn_runner(
        &self,
        queue: Arc<Mutex<VecDeque<StatJob>>>,
        sender: mpsc::Sender<(usize, StatOutcome)>,
    ) -> Result<(), String> {
        let stuck = Arc::clone(&self.stuck);
        let stat = self.stat;
        std::thread::Builder::new()
            .name("statfs".into())
            .stack_size(STATFS_STACK_BYTES)
            .spawn(move || loop {
                let job = match queue.lock() {
                    Ok(mut queue) => queue.pop_front(),
                    Err(_) => None,
                };
                let Some(job) = job else {
                    break;
                };
                job.call.started.store(true, Ordering::SeqCst);
                let outcome = stat(&job.path);
                if let Ok(mut set) = stuck.mount_points.lock() {
                    job.call.done.store(true, Ordering::SeqCst);
                    if set.remove(&job.mount_point) {
                        info!(mountpoint = %String::from_utf8_lossy(&job.mount_point), "statfs returned again on a mount point");
                    }
                }
                let _ = sender.send((job.index, outcome));
            })
            .map(|_| ())
            .map_err(|e| format!("failed to start a statfs thread: {e}"))
    }

    fn is_stuck(&self, mount_point: &[u8]) -> bool {
        self.stuck
            .mount_points
            .lock()
            .map(|set| set.contains(mount_point))
            .unwrap_or(false)
    }

    /// Marks every mount point whose statfs has not returned as stuck. The check of `done` and
    /// the insertion happen under the lock that the statfs thread takes before it sets `done`,
    /// so a call that returns at this moment never leaves its mount point marked.
    fn mark_stuck(
        &self,
        mounts: &[(Mount, Vec<u8>, String)],
        flags: &[Arc<CallState>],
        outcomes: &mut [Option<StatOutcome>],
        receiver: &mpsc::Receiver<(usize, StatOutcome)>,
    ) {
        if let Ok(mut set) = self.stuck.mount_points.lock() {
            for (index, (_, mount_point, label)) in mounts.iter().enumerate() {
                let call = &flags[index];
                let in_flight =
                    call.started.load(Ordering::SeqCst) && !call.done.load(Ordering::SeqCst);
                if outcomes[index].is_none() && in_flight {
                    debug!(mountpoint = %label, timeout = ?self.timeout, "statfs timed out; skipping the mount point until it returns");
                    set.insert(mount_point.clone());
                }
            }
        }
        while let Ok((index, outcome)) = receiver.try_recv() {
            outcomes[index] = Some(outcome);
        }
    }
}

fn statfs(path: &Path) -> StatOutcome {
    let Ok(c_path) = CString::new(path.as_os_str().as_bytes()) else {
        return StatOutcome::Failed("path contains a NUL byte".into());
    };
    // SAFETY: statfs writes into `buf`, which is a zeroed `libc::statfs`, and reads `c_path`,
    // a NUL-terminated string that outlives the call.
    let mut buf: libc::statfs = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::statfs(c_path.as_ptr(), &mut buf) };
    if rc == 0 {
        StatOutcome::Stats(buf)
    } else {
        StatOutcome::Failed(errno_text(std::io::Error::last_os_error()))
    }
}

/// Formats an OS error as Go's syscall.Errno does: the C library's text, lower case, without
/// the error number.
fn errno_text(error: std::io::Error) -> String {
    let text = error.to_string();
    let text = text.split(" (os error").next().unwrap_or(&text);
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Adds the samples of one mount point. A mount point whose statfs failed or timed out gets
/// only device_error and readonly, with the error text in the device_error label.
fn add_mount(sink: &mut MetricSink, mount: &Mount, mount_point: &str, outcome: StatOutcome) {
    let read_only = if mount.read_only() { 1.0 } else { 0.0 };
    let (stats, error, read_only) = match outcome {
        StatOutcome::Stats(stats) => (Some(stats), String::new(), read_only),
        StatOutcome::Failed(error) => (None, error, read_only),
        StatOutcome::TimedOut => (None, TIMEOUT_ERROR.to_owned(), 0.0),
    };
    let labels = [
        mount.source.as_str(),
        mount_point,
        mount.fs_type.as_str(),
        error.as_str(),
    ];
    sink.add(
        &DEVICE_ERROR,
        &labels,
        if stats.is_some() { 0.0 } else { 1.0 },
    );
    sink.add(&READONLY, &labels, read_only);
    let Some(stats) = stats else {
        return;
    };

    let block_size = stats.f_bsize as f64;
    sink.add(&SIZE, &labels, stats.f_blocks as f64 * block_size);
    sink.add(&FREE, &labels, stats.f_bfree as f64 * block_size);
    sink.add(&AVAIL, &labels, stats.f_bavail as f64 * block_size);
    sink.add(&FILES, &labels, stats.f_files as f64);
    sink.add(&FILES_FREE, &labels, stats.f_ffree as f64);

    let (major, minor) = (mount.major.to_string(), mount.minor.to_string());
    let info_labels = [mount.source.as_str(), &major, &minor, mount_point];
    sink.add(&MOUNT_INFO, &info_labels, 1.0);
}

#[cfg(test)]
mod tests {
    use super::*;
    use exporter_core::{MetricFamily, Value};
    use std::os::unix::ffi::OsStrExt;

    fn collector(procfs: &Path, stat: fn(&Path) -> StatOutcome) -> Filesystem {
        Filesystem {
            procfs: procfs.to_path_buf(),
            rootfs: PathBuf::from("/"),
            mount_points: NameFilter::new(MOUNT_POINTS_EXCLUDED, "").unwrap(),
            fs_types: NameFilter::new(FS_TYPES_EXCLUDED, "").unwrap(),
            timeout: Duration::from_millis(200),
            stuck: Arc::new(StuckMounts::default()),
            stat,
        }
    }

    fn write_mountinfo(procfs: &Path, lines: &[Vec<u8>]) {
        std::fs::create_dir_all(procfs.join("1")).unwrap();
        std::fs::write(procfs.join("1/mountinfo"), lines.concat()).unwrap();
    }

    fn line(mount_point: &[u8], fs_type: &str) -> Vec<u8> {
        let mut line = b"25 1 8:3 / ".to_vec();
        line.extend_from_slice(mount_point);
        line.extend_from_slice(format!(" rw,relatime - {fs_type} /dev/sdz rw\n").as_bytes());
        line
    }

    fn collect(fs: &Filesystem) -> Vec<MetricFamily> {
        let mut sink = MetricSink::new();
        fs.collect(&mut sink).unwrap();
        sink.finish()
    }

    fn sample(families: &[MetricFamily], name: &str, mount_point: &str) -> Option<(f64, String)> {
        let family = families.iter().find(|f| f.name == name)?;
        family.samples.iter().find_map(|s| {
            let label = |key: &str| {
                s.labels
                    .iter()
                    .find(|(k, _)| k == key)
                    .map(|(_, v)| v.clone())
            };
            if label("mountpoint")? != mount_point {
                return None;
            }
            match s.value {
                Value::Number(v) => Some((v, label("device_error").unwrap_or_default())),
                _ => None,
            }
        })
    }

    #[test]
    fn filesystem_escaped_and_invalid_utf8_mounts() {
        let procfs = tempfile::tempdir().unwrap();
        let data = tempfile::tempdir().unwrap();
        let spaced = data.path().join("my disk");
        let invalid = data
            .path()
            .join(std::ffi::OsStr::from_bytes(b"bad\xffname"));
        std::fs::create_dir(&spaced).unwrap();
        std::fs::create_dir(&invalid).unwrap();
        let base = data.path().as_os_str().as_bytes();
        write_mountinfo(
            procfs.path(),
            &[
                line(&[base, b"/my\\040disk"].concat(), "ext4"),
                line(&[base, b"/bad\xffname"].concat(), "ext4"),
                line(b"/proc", "proc"),
            ],
        );
        let families = collect(&collector(procfs.path(), statfs));

        let spaced_label = format!("{}/my disk", data.path().display());
        let (size, error) = sample(&families, "node_filesystem_size_bytes", &spaced_label).unwrap();
        assert!(size > 0.0);
        assert_eq!(error, "");
        let invalid_label = format!("{}/bad\u{fffd}name", data.path().display());
        assert!(sample(&families, "node_filesystem_size_bytes", &invalid_label).is_some());
        assert!(sample(&families, "node_filesystem_size_bytes", "/proc").is_none());
    }

    #[test]
    fn filesystem_statfs_error_sets_device_error() {
        let procfs = tempfile::tempdir().unwrap();
        write_mountinfo(procfs.path(), &[line(b"/nonexistent/mount/point", "ext4")]);
        let families = collect(&collector(procfs.path(), statfs));
        let (value, error) = sample(
            &families,
            "node_filesystem_device_error",
            "/nonexistent/mount/point",
        )
        .unwrap();
        assert_eq!(value, 1.0);
        assert_eq!(error, "no such file or directory");
        assert!(sample(
            &families,
            "node_filesystem_size_bytes",
            "/nonexistent/mount/point"
        )
        .is_none());
    }

    #[test]
    fn rootfs_prefix_is_stripped() {
        let mut fs = collector(Path::new("/proc"), statfs);
        fs.rootfs = PathBuf::from("/host");
        assert_eq!(fs.strip_rootfs(b"/host/data"), b"/data");
        assert_eq!(fs.strip_rootfs(b"/host"), b"/");
        assert_eq!(fs.strip_rootfs(b"/other"), b"/other");
        assert_eq!(fs.strip_rootfs(b"/hostile"), b"/hostile");
    }

    fn hanging_statfs(path: &Path) -> StatOutcome {
        if path.ends_with("hung") {
            std::thread::sleep(Duration::from_millis(800));
        }
        statfs(Path::new("/"))
    }

    #[test]
    fn filesystem_hung_mount_times_out_and_recovers() {
        let procfs = tempfile::tempdir().unwrap();
        write_mountinfo(
            procfs.path(),
            &[line(b"/srv/hung", "nfs"), line(b"/srv/fine", "ext4")],
        );
        let fs = collector(procfs.path(), hanging_statfs);

        let started = Instant::now();
        let families = collect(&fs);
        assert!(started.elapsed() < Duration::from_millis(700));
        let (value, error) =
            sample(&families, "node_filesystem_device_error", "/srv/hung").unwrap();
        assert_eq!(value, 1.0);
        assert_eq!(error, TIMEOUT_ERROR);
        assert!(sample(&families, "node_filesystem_size_bytes", "/srv/fine").is_some());

        // While the first call still hangs, the mount point is skipped without a new call.
        let started = Instant::now();
        let families = collect(&fs);
        assert!(started.elapsed() < Duration::from_millis(100));
        let (_, error) = sample(&families, "node_filesystem_device_error", "/srv/hung").unwrap();
        assert_eq!(error, TIMEOUT_ERROR);

        std::thread::sleep(Duration::from_millis(900));
        assert!(!fs.is_stuck(b"/srv/hung"));
    }
}
