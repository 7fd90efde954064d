//! Command-line flags shared by the exporters, named as in Prometheus's exporter-toolkit, and the
//! parsing of Go-style single-dash long flags (`-web.listen-address :9237`).

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Arg, ArgAction, ArgMatches, Command};

use crate::logging::{LogFormat, LogLevel};

/// Facts about one exporter that the shared code needs.
#[derive(Clone, Copy, Debug)]
pub struct ExporterInfo {
    /// Name of the Go exporter that this one replaces, such as `node_exporter`; it prefixes the
    /// `_build_info` metric and appears in `--version`.
    pub name: &'static str,
    /// Name of the binary, such as `node-exporter`.
    pub binary: &'static str,
    /// One line for the landing page and `--help`.
    pub description: &'static str,
    /// Default of `--web.listen-address`, such as `:9100`.
    pub default_listen: &'static str,
}

/// Version of this build, from Cargo.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Options of the HTTP server and of the exporter's own metrics.
#[derive(Clone, Debug)]
pub struct WebOptions {
    pub listen_addresses: Vec<String>,
    pub systemd_socket: bool,
    pub telemetry_path: String,
    pub config_file: Option<PathBuf>,
    pub max_requests: usize,
    pub disable_exporter_metrics: bool,
    pub enable_openmetrics: bool,
    /// How long in-flight requests may run on after SIGTERM or SIGINT.
    pub shutdown_grace: Duration,
}

/// Options of the log output.
#[derive(Clone, Copy, Debug)]
pub struct LogOptions {
    pub level: LogLevel,
    pub format: LogFormat,
}

/// Returns a command with the flags that every exporter has: web, exporter metrics and logging.
pub fn command(info: &ExporterInfo) -> Command {
    Command::new(info.binary)
        .about(info.description)
        .version(version_line(info))
        .max_term_width(100)
        .arg(
            Arg::new("web.listen-address")
                .long("web.listen-address")
                .action(ArgAction::Append)
                .default_value(info.default_listen)
                .help("Address to listen on for HTTP requests; repeat the flag to listen on several"),
        )
        .arg(
            Arg::new("web.systemd-socket")
                .long("web.systemd-socket")
                .action(ArgAction::SetTrue)
                .help("Use the sockets passed by systemd socket activation instead of --web.listen-address"),
        )
        .arg(
            Arg::new("web.telemetry-path")
                .long("web.telemetry-path")
                .default_value("/metrics")
                .help("Path under which to expose metrics"),
        )
        .arg(
            Arg::new("web.config.file")
                .long("web.config.file")
                .value_parser(clap::value_parser!(PathBuf))
                .help("Path to a web configuration file (exporter-toolkit format) that enables TLS or basic authentication"),
        )
        .arg(
            Arg::new("web.max-requests")
                .long("web.max-requests")
                .default_value("40")
                .value_parser(clap::value_parser!(usize))
                .help("Maximum number of scrapes served at once; more get HTTP 503 (0 means no limit)"),
        )
        .arg(
            Arg::new("web.disable-exporter-metrics")
                .long("web.disable-exporter-metrics")
                .action(ArgAction::SetTrue)
                .help("Leave out the exporter's own metrics (process_* and the build info)"),
        )
        .arg(
            Arg::new("web.enable-openmetrics")
                .long("web.enable-openmetrics")
                .action(ArgAction::SetTrue)
                .help("Serve OpenMetrics 1.0.0 to clients whose Accept header asks for it"),
        )
        .arg(
            Arg::new("web.shutdown-timeout")
                .long("web.shutdown-timeout")
                .default_value("10s")
                .value_parser(parse_duration)
                .help("How long in-flight requests may run on after SIGTERM or SIGINT"),
        )
        .arg(
            Arg::new("log.level")
                .long("log.level")
                .default_value("info")
                .value_parser(["debug", "info", "warn", "error"])
                .help("Only log messages with the given severity or above"),
        )
        .arg(
            Arg::new("log.format")
                .long("log.format")
                .default_value("logfmt")
                .value_parser(["logfmt", "json"])
                .help("Output format of log messages"),
        )
}

fn version_line(info: &ExporterInfo) -> String {
    format!(
        "{VERSION} ({}, revision {}, built with rustc {})",
        info.name,
        option_env!("EXPORTER_REVISION").unwrap_or("unknown"),
        rustc_version()
    )
}

/// Returns the rustc version that built the binary, recorded by the build script.
pub fn rustc_version() -> &'static str {
    env!("EXPORTER_RUSTC_VERSION")
}

/// Reads the shared web options from parsed flags.
pub fn web_options(matches: &ArgMatches) -> WebOptions {
    WebOptions {
        listen_addresses: matches
            .get_many::<String>("web.listen-address")
            .map(|values| values.cloned().collect())
            .unwrap_or_default(),
        systemd_socket: matches.get_flag("web.systemd-socket"),
        telemetry_path: matches
            .get_one::<String>("web.telemetry-path")
            .cloned()
            .unwrap_or_else(|| "/metrics".to_owned()),
        config_file: matches.get_one::<PathBuf>("web.config.file").cloned(),
        max_requests: matches
            .get_one::<usize>("web.max-requests")
            .copied()
            .unwrap_or(40),
        disable_exporter_metrics: matches.get_flag("web.disable-exporter-metrics"),
        enable_openmetrics: matches.get_flag("web.enable-openmetrics"),
        shutdown_grace: matches
            .get_one::<Duration>("web.shutdown-timeout")
            .copied()
            .unwrap_or(Duration::from_secs(10)),
    }
}

/// Reads the log options from parsed flags.
pub fn log_options(matches: &ArgMatches) -> LogOptions {
    let level = match matches.get_one::<String>("log.level").map(String::as_str) {
        Some("debug") => LogLevel::Debug,
        Some("warn") => LogLevel::Warn,
        Some("error") => LogLevel::Error,
        _ => LogLevel::Info,
    };
    let format = match matches.get_one::<String>("log.format").map(String::as_str) {
        Some("json") => LogFormat::Json,
        _ => LogFormat::Logfmt,
    };
    LogOptions { level, format }
}

/// Parses the process arguments. On an error, `--help` or `--version` it prints and exits as clap
/// does, with status 2 for an unknown or invalid flag.
pub fn parse(command: Command) -> ArgMatches {
    parse_from(command, std::env::args_os())
}

/// Parses `args`, which start with the program name, after rewriting Go-style single-dash long
/// flags of `command` to the double-dash form.
pub fn parse_from(command: Command, args: impl IntoIterator<Item = OsString>) -> ArgMatches {
    let command = add_negations(command);
    let args = normalize_single_dash(&command, args);
    command.get_matches_from(args)
}

/// Like [`parse_from`], but returns the error instead of exiting.
pub fn try_parse_from(
    command: Command,
    args: impl IntoIterator<Item = OsString>,
) -> Result<ArgMatches, clap::Error> {
    let command = add_negations(command);
    let args = normalize_single_dash(&command, args);
    command.try_get_matches_from(args)
}

/// Gives every boolean flag `--x` a hidden `--no-x` that turns it off again, as kingpin, the flag
/// parser of the Go exporters, does. The later of the two on the command line wins.
fn add_negations(mut command: Command) -> Command {
    let longs: Vec<String> = command
        .get_arguments()
        .filter_map(|arg| arg.get_long().map(str::to_owned))
        .collect();
    let switches: Vec<(String, String)> = command
        .get_arguments()
        .filter(|arg| matches!(arg.get_action(), ArgAction::SetTrue))
        .filter_map(|arg| Some((arg.get_id().to_string(), arg.get_long()?.to_owned())))
        .filter(|(_, long)| !long.starts_with("no-"))
        .filter(|(_, long)| !longs.contains(&format!("no-{long}")))
        .collect();
    for (id, long) in switches {
        let negation = format!("no-{long}");
        command = command.mut_arg(id.clone(), |arg| arg.overrides_with(negation.clone()));
        command = command.arg(
            Arg::new(negation.clone())
                .long(negation)
                .action(ArgAction::SetTrue)
                .overrides_with(id)
                .hide(true),
        );
    }
    command
}

/// Rewrites `-name` and `-name=value` to `--name…` when `name` is a long flag of `command`, so that
/// the command lines of Go exporters (`-config.file path`) keep working.
fn normalize_single_dash(
    command: &Command,
    args: impl IntoIterator<Item = OsString>,
) -> Vec<OsString> {
    let longs: Vec<&str> = command
        .get_arguments()
        .filter_map(|arg| arg.get_long())
        .chain(["help", "version"])
        .collect();
    let mut out = Vec::new();
    let mut after_separator = false;
    for arg in args {
        if after_separator {
            out.push(arg);
            continue;
        }
        let rewritten = arg.to_str().and_then(|text| {
            if text == "--" {
                return None;
            }
            let rest = text
                .strip_prefix('-')
                .filter(|rest| !rest.starts_with('-'))?;
            let name = rest.split_once('=').map_or(rest, |(name, _)| name);
            // An unknown `-name` becomes `--name` too, so that clap's error names the whole flag
            // rather than its first letter as a short flag.
            let flag_like = name.starts_with(|c: char| c.is_ascii_alphabetic());
            (name.len() > 1 && (longs.contains(&name) || flag_like))
                .then(|| OsString::from(format!("-{text}")))
        });
        if arg == "--" {
            after_separator = true;
        }
        out.push(rewritten.unwrap_or(arg));
    }
    out
}

/// Parses a Go or Prometheus duration such as `500ms`, `10s`, `1m30s`, `1h` or `2d`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let invalid = || {
        format!("invalid duration {text:?}: expected a number with a unit (ms, s, m, h, d), such as 10s")
    };
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let mut total = 0f64;
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(invalid());
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(invalid)?;
        let number: f64 = rest[..digits].parse().map_err(|_| invalid())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let seconds = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "d" => 86400.0,
            "w" => 604800.0,
            "y" => 31536000.0,
            _ => return Err(invalid()),
        };
        total += number * seconds;
        rest = &rest[unit_len..];
    }
    Ok(Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> ExporterInfo {
        ExporterInfo {
            name: "test_exporter",
            binary: "test-exporter",
            description: "Test exporter",
            default_listen: ":9999",
        }
    }

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn single_dash_long_flags_are_accepted() {
        let matches = parse_from(
            command(&info()),
            args(&[
                "x",
                "-web.listen-address",
                "127.0.0.1:1",
                "-log.level=debug",
            ]),
        );
        let options = web_options(&matches);
        assert_eq!(options.listen_addresses, ["127.0.0.1:1"]);
        assert!(matches!(log_options(&matches).level, LogLevel::Debug));
    }

    #[test]
    fn unknown_flag_is_an_error_naming_it() {
        let error = try_parse_from(command(&info()), args(&["x", "--web.nope"])).unwrap_err();
        assert_eq!(error.kind(), clap::error::ErrorKind::UnknownArgument);
        assert!(error.to_string().contains("--web.nope"), "{error}");
    }

    #[test]
    fn unknown_single_dash_flag_is_named_whole() {
        let error = try_parse_from(command(&info()), args(&["x", "-bogus"])).unwrap_err();
        assert!(error.to_string().contains("--bogus"), "{error}");
    }

    #[test]
    fn boolean_flags_have_negations() {
        let on = ["x", "--web.enable-openmetrics"];
        let off = [
            "x",
            "--web.enable-openmetrics",
            "--no-web.enable-openmetrics",
        ];
        let again = [
            "x",
            "--no-web.enable-openmetrics",
            "--web.enable-openmetrics",
        ];
        assert!(web_options(&parse_from(command(&info()), args(&on))).enable_openmetrics);
        assert!(!web_options(&parse_from(command(&info()), args(&off))).enable_openmetrics);
        assert!(web_options(&parse_from(command(&info()), args(&again))).enable_openmetrics);
        let systemd = ["x", "--no-web.systemd-socket"];
        assert!(!web_options(&parse_from(command(&info()), args(&systemd))).systemd_socket);
    }

    #[test]
    fn listen_address_repeats() {
        let matches = parse_from(
            command(&info()),
            args(&["x", "--web.listen-address=:1", "--web.listen-address=:2"]),
        );
        assert_eq!(web_options(&matches).listen_addresses, [":1", ":2"]);
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("").is_err());
    }
}
