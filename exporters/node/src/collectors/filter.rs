//! Include and exclude regular expressions of collector options, such as
//! `--collector.filesystem.mount-points-exclude` and `--collector.hwmon.chip-include`.

use clap::parser::ValueSource;
use exporter_core::collector::BuildError;
use regex::Regex;

use super::NodeConfig;

/// A name filter from an exclude and an include pattern. Patterns match anywhere in the name,
/// as Go's `regexp.MatchString` does, unless they are anchored.
#[derive(Debug, Default)]
pub struct NameFilter {
    exclude: Option<Regex>,
    include: Option<Regex>,
}

impl NameFilter {
    /// Compiles a filter. An empty pattern means "not set".
    pub fn new(exclude: &str, include: &str) -> Result<NameFilter, BuildError> {
        let compile = |pattern: &str| -> Result<Option<Regex>, BuildError> {
            if pattern.is_empty() {
                return Ok(None);
            }
            Regex::new(pattern)
                .map(Some)
                .map_err(|e| format!("invalid regular expression {pattern:?}: {e}").into())
        };
        Ok(NameFilter {
            exclude: compile(exclude)?,
            include: compile(include)?,
        })
    }

    /// Builds the filter of flags `<prefix>-exclude` and `<prefix>-include`. The two are
    /// mutually exclusive, but an include alone replaces the default of the exclude flag.
    pub fn from_flags(config: &NodeConfig, prefix: &str) -> Result<NameFilter, BuildError> {
        let exclude_flag = format!("{prefix}-exclude");
        let include_flag = format!("{prefix}-include");
        let mut exclude = config.string(&exclude_flag).unwrap_or_default();
        let include = config.string(&include_flag).unwrap_or_default();
        let exclude_given =
            config.matches.value_source(&exclude_flag) == Some(ValueSource::CommandLine);
        if !include.is_empty() && !exclude_given {
            exclude.clear();
        }
        if !include.is_empty() && !exclude.is_empty() {
            return Err(
                format!("--{exclude_flag} and --{include_flag} are mutually exclusive").into(),
            );
        }
        NameFilter::new(&exclude, &include)
    }

    /// Reports whether `name` is filtered out.
    pub fn ignored(&self, name: &str) -> bool {
        let excluded = self.exclude.as_ref().is_some_and(|re| re.is_match(name));
        let not_included = self.include.as_ref().is_some_and(|re| !re.is_match(name));
        excluded || not_included
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclude_matches_anywhere() {
        let filter = NameFilter::new("dev", "").unwrap();
        assert!(filter.ignored("/dev/shm"));
        assert!(!filter.ignored("/home"));
    }

    #[test]
    fn include_keeps_only_matches() {
        let filter = NameFilter::new("", "^/home$").unwrap();
        assert!(!filter.ignored("/home"));
        assert!(filter.ignored("/"));
    }

    fn config(args: &[&str]) -> NodeConfig {
        let command = clap::Command::new("node-exporter")
            .args(super::super::path_args())
            .args(super::super::option_args());
        let argv = std::iter::once("node-exporter").chain(args.iter().copied());
        NodeConfig::from_matches(command.get_matches_from(argv))
    }

    #[test]
    fn flags_default_exclude_applies() {
        let filter =
            NameFilter::from_flags(&config(&[]), "collector.filesystem.mount-points").unwrap();
        assert!(filter.ignored("/proc"));
        assert!(!filter.ignored("/home"));
    }

    #[test]
    fn flags_include_replaces_default_exclude() {
        let args = ["--collector.filesystem.mount-points-include=^/proc$"];
        let filter =
            NameFilter::from_flags(&config(&args), "collector.filesystem.mount-points").unwrap();
        assert!(!filter.ignored("/proc"));
        assert!(filter.ignored("/home"));
    }

    #[test]
    fn flags_include_and_exclude_conflict() {
        let args = [
            "--collector.hwmon.chip-include=coretemp",
            "--collector.hwmon.chip-exclude=nvme",
        ];
        let result = NameFilter::from_flags(&config(&args), "collector.hwmon.chip");
        assert!(result.is_err());
    }

    #[test]
    fn invalid_pattern_is_rejected() {
        assert!(NameFilter::new("(", "").is_err());
    }
}
