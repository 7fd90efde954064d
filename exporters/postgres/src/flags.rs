//! The flags of postgres_exporter 0.20 and their `PG_EXPORTER_*` environment variables.

use std::path::PathBuf;
use std::time::Duration;

use clap::builder::FalseyValueParser;
use clap::{Arg, ArgAction, ArgMatches, Command};
use tracing::warn;

use crate::collectors::{CollectorConfig, StatStatementsOptions};
use crate::exporter::Options;

/// Error in the flags; it stops the start-up.
#[derive(Debug, thiserror::Error)]
pub enum FlagError {
    #[error("invalid --collection-timeout {value:?}: {reason}")]
    Timeout { value: String, reason: String },
    #[error("--metric-prefix must not be empty")]
    EmptyPrefix,
}

fn flag(name: &'static str, env: &'static str, help: &'static str) -> Arg {
    Arg::new(name)
        .long(name)
        .env(env)
        .action(ArgAction::SetTrue)
        .value_parser(FalseyValueParser::new())
        .help(help)
}

/// Returns the hidden `--no-<name>` flag that turns off the boolean flag `name`, as kingpin,
/// the flag parser of postgres_exporter, offers for every boolean flag.
fn negation(negated: &'static str, name: &'static str) -> Arg {
    Arg::new(negated)
        .long(negated)
        .action(ArgAction::SetTrue)
        .overrides_with(name)
        .hide(true)
}

/// Reads a boolean flag that has a negation: a later `--no-<name>` on the command line, or one
/// given while the environment variable turns the flag on, wins.
fn bool_flag(matches: &ArgMatches, name: &str) -> bool {
    matches.get_flag(name) && !matches.get_flag(&format!("no-{name}"))
}

fn option(
    name: &'static str,
    env: Option<&'static str>,
    default: &'static str,
    help: &'static str,
) -> Arg {
    let arg = Arg::new(name).long(name).default_value(default).help(help);
    match env {
        Some(env) => arg.env(env),
        None => arg,
    }
}

/// Adds the exporter's flags to `command`.
pub fn add_flags(command: Command) -> Command {
    // Kingpin, the flag parser of postgres_exporter, lets a repeated flag replace the earlier
    // value instead of rejecting the command line.
    command
        .args_override_self(true)
        .mut_arg("web.telemetry-path", |arg| arg.env("PG_EXPORTER_WEB_TELEMETRY_PATH"))
        .arg(option("config.file", None, "postgres_exporter.yml", "Path to the configuration file with auth_modules for /probe"))
        .arg(flag("disable-default-metrics", "PG_EXPORTER_DISABLE_DEFAULT_METRICS", "Leave out pg_static and pg_stat_database_conflicts"))
        .arg(flag("auto-discover-databases", "PG_EXPORTER_AUTO_DISCOVER_DATABASES", "Also run user queries on every other database of the server (deprecated)"))
        .arg(negation("no-disable-default-metrics", "disable-default-metrics"))
        .arg(negation("no-auto-discover-databases", "auto-discover-databases"))
        .arg(negation("no-collector.stat_statements.include_query", "collector.stat_statements.include_query"))
        .arg(option("extend.query-path", Some("PG_EXPORTER_EXTEND_QUERY_PATH"), "", "Path to a YAML file of custom queries (deprecated)"))
        .arg(Arg::new("dumpmaps").long("dumpmaps").action(ArgAction::SetTrue).help("Print the column mappings of the namespace queries and exit"))
        .arg(option("constantLabels", Some("PG_EXPORTER_CONSTANT_LABELS"), "", "Labels added to pg_up, pg_static and namespace metrics, as label=value separated by commas (deprecated)"))
        .arg(option("exclude-databases", Some("PG_EXPORTER_EXCLUDE_DATABASES"), "", "Comma-separated databases to leave out of auto-discovery and the database collector (deprecated)"))
        .arg(option("include-databases", Some("PG_EXPORTER_INCLUDE_DATABASES"), "", "Comma-separated databases that auto-discovery is limited to (deprecated)"))
        .arg(option("metric-prefix", Some("PG_EXPORTER_METRIC_PREFIX"), "pg", "Prefix that replaces \"pg\" in the names of namespace metrics"))
        .arg(option("collection-timeout", Some("PG_EXPORTER_COLLECTION_TIMEOUT"), "1m", "Maximum duration of a scrape, such as 30s; queries still running then are cancelled"))
        .arg(Arg::new("collector.stat_statements.include_query").long("collector.stat_statements.include_query").action(ArgAction::SetTrue).help("Report the statement text of each query ID in pg_stat_statements_query_id"))
        .arg(option("collector.stat_statements.query_length", None, "120", "Maximum number of characters of statement text").value_parser(clap::value_parser!(u32).range(1..)))
        .arg(option("collector.stat_statements.limit", None, "100", "Maximum number of statements reported").value_parser(clap::value_parser!(u32).range(1..)))
        .arg(option("collector.stat_statements.exclude_databases", None, "", "Comma-separated databases whose statements are left out"))
        .arg(option("collector.stat_statements.exclude_users", None, "", "Comma-separated users whose statements are left out"))
}

/// Settings read from the flags.
#[derive(Clone, Debug)]
pub struct Settings {
    pub config_file: PathBuf,
    pub dump_maps: bool,
    pub exporter: Options,
    pub collectors: CollectorConfig,
}

impl Settings {
    pub fn from_matches(matches: &ArgMatches) -> Result<Settings, FlagError> {
        let text = |name: &str| matches.get_one::<String>(name).cloned().unwrap_or_default();
        let timeout_text = text("collection-timeout");
        let collection_timeout =
            exporter_core::cli::parse_duration(&timeout_text).map_err(|reason| {
                FlagError::Timeout {
                    value: timeout_text.clone(),
                    reason,
                }
            })?;
        if collection_timeout < Duration::from_millis(1) {
            return Err(FlagError::Timeout {
                value: timeout_text,
                reason: "must be at least 1ms".to_owned(),
            });
        }
        let metric_prefix = text("metric-prefix");
        if metric_prefix.is_empty() {
            return Err(FlagError::EmptyPrefix);
        }
        let exclude_databases = split_list(&text("exclude-databases"));
        let query_path = text("extend.query-path");
        let exporter = Options {
            disable_default_metrics: bool_flag(matches, "disable-default-metrics"),
            auto_discover_databases: bool_flag(matches, "auto-discover-databases"),
            include_databases: split_list(&text("include-databases")),
            exclude_databases: exclude_databases.clone(),
            constant_labels: parse_constant_labels(&text("constantLabels")),
            metric_prefix,
            collection_timeout,
            user_queries_path: (!query_path.is_empty()).then(|| PathBuf::from(query_path)),
        };
        let collectors = CollectorConfig {
            exclude_databases,
            stat_statements: StatStatementsOptions {
                include_query: bool_flag(matches, "collector.stat_statements.include_query"),
                query_length: matches
                    .get_one::<u32>("collector.stat_statements.query_length")
                    .copied()
                    .unwrap_or(120),
                limit: matches
                    .get_one::<u32>("collector.stat_statements.limit")
                    .copied()
                    .unwrap_or(100),
                exclude_databases: split_list(&text("collector.stat_statements.exclude_databases")),
                exclude_users: split_list(&text("collector.stat_statements.exclude_users")),
            },
        };
        Ok(Settings {
            config_file: PathBuf::from(text("config.file")),
            dump_maps: matches.get_flag("dumpmaps"),
            exporter,
            collectors,
        })
    }

    /// Logs a warning for each deprecated feature in use, as postgres_exporter does.
    pub fn warn_deprecated(&self) {
        let options = &self.exporter;
        if let Some(path) = &options.user_queries_path {
            warn!(file = %path.display(), "The extended queries.yaml config is deprecated");
        }
        if options.auto_discover_databases
            || !options.exclude_databases.is_empty()
            || !options.include_databases.is_empty()
        {
            warn!("Scraping additional databases via auto discovery is deprecated");
        }
        if !options.constant_labels.is_empty() {
            warn!("Constant labels on all metrics is deprecated");
        }
    }
}

/// Prints the column mappings of the built-in namespaces and of the queries file.
pub fn dump_maps(settings: &Settings) {
    let mut namespaces = vec![crate::default_metrics::conflicts_namespace()];
    if let Some(path) = &settings.exporter.user_queries_path {
        match crate::user_queries::load(path) {
            Ok(loaded) => namespaces.extend(loaded.namespaces),
            Err(e) => eprintln!("{e}"),
        }
    }
    for namespace in namespaces {
        println!("{}", namespace.name);
        let mut columns: Vec<_> = namespace.columns.iter().collect();
        columns.sort_by(|a, b| a.0.cmp(b.0));
        for (column, mapping) in columns {
            println!("  {column:<40} {:?} {}", mapping.usage, mapping.description);
        }
        println!();
    }
}

/// Splits a comma-separated list, dropping empty items.
pub fn split_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Parses `label=value,label=value`; malformed pairs are logged and left out.
pub fn parse_constant_labels(text: &str) -> Vec<(String, String)> {
    let mut labels = Vec::new();
    for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some((key, value))
                if !key.trim().is_empty() && !value.trim().is_empty() && !value.contains('=') =>
            {
                labels.push((key.trim().to_owned(), value.trim().to_owned()));
            }
            _ => warn!(input = pair, "Invalid constant label: expected label=value"),
        }
    }
    labels
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Settings {
        let command = add_flags(exporter_core::cli::command(&exporter_core::ExporterInfo {
            name: "postgres_exporter",
            binary: "postgres-exporter",
            description: "test",
            default_listen: ":9187",
        }));
        let matches =
            exporter_core::cli::try_parse_from(command, args.iter().map(Into::into)).unwrap();
        Settings::from_matches(&matches).unwrap()
    }

    #[test]
    fn defaults_match_postgres_exporter() {
        let settings = parse(&["x"]);
        assert_eq!(settings.exporter.metric_prefix, "pg");
        assert_eq!(
            settings.exporter.collection_timeout,
            Duration::from_secs(60)
        );
        assert_eq!(settings.collectors.stat_statements.limit, 100);
        assert_eq!(settings.config_file, PathBuf::from("postgres_exporter.yml"));
        assert!(!settings.exporter.disable_default_metrics);
    }

    #[test]
    fn go_style_flags_parse() {
        let settings = parse(&[
            "x",
            "-constantLabels=env=prod,team=db",
            "-collection-timeout",
            "5s",
            "--disable-default-metrics",
            "--collector.stat_statements.limit=3",
        ]);
        assert_eq!(settings.exporter.constant_labels.len(), 2);
        assert_eq!(settings.exporter.collection_timeout, Duration::from_secs(5));
        assert!(settings.exporter.disable_default_metrics);
        assert_eq!(settings.collectors.stat_statements.limit, 3);
    }

    #[test]
    fn negated_flags_turn_off() {
        let settings = parse(&[
            "x",
            "--disable-default-metrics",
            "--no-disable-default-metrics",
        ]);
        assert!(!settings.exporter.disable_default_metrics);
        let settings = parse(&[
            "x",
            "--no-disable-default-metrics",
            "--disable-default-metrics",
        ]);
        assert!(settings.exporter.disable_default_metrics);
        let settings = parse(&["x", "-no-auto-discover-databases"]);
        assert!(!settings.exporter.auto_discover_databases);
    }

    #[test]
    fn constant_labels_skip_malformed_pairs() {
        let labels = parse_constant_labels("a=1, b ,c=,=d,e=2");
        assert_eq!(
            labels,
            [
                ("a".to_owned(), "1".to_owned()),
                ("e".to_owned(), "2".to_owned())
            ]
        );
    }
}
