//! When a job runs: at a fixed interval, or at the times of a cron expression in local time.
//!
//! Cron expressions follow robfig/cron's `ParseStandard`, which justwatchcom uses: five fields
//! (minute, hour, day of month, month, day of week), the shortcuts `@yearly`, `@annually`,
//! `@monthly`, `@weekly`, `@daily`, `@midnight` and `@hourly`, and `@every <duration>`.

use std::time::Duration;

use chrono::{DateTime, Local};
use croner::Cron;

#[derive(Clone, Debug)]
pub enum Schedule {
    /// Runs at start-up and then once per period after each run ends.
    Interval(Duration),
    /// `@every <duration>`: like an interval, but the first run waits one period, as in
    /// robfig/cron.
    Every(Duration),
    /// Runs at the matching minutes; the text is kept for logs.
    Cron(Box<Cron>, String),
}

impl Schedule {
    /// Parses a `cron_schedule` value.
    pub fn cron(text: &str) -> Result<Schedule, String> {
        let trimmed = text.trim();
        if let Some(every) = trimmed.strip_prefix("@every ") {
            let period = exporter_core::cli::parse_duration(every.trim())?;
            if period < Duration::from_secs(1) {
                return Err(format!("@every needs at least 1s, got {every:?}"));
            }
            return Ok(Schedule::Every(period));
        }
        let pattern = match trimmed {
            "@midnight" => "@daily",
            other => other,
        };
        if !pattern.starts_with('@') && pattern.split_whitespace().count() != 5 {
            return Err(format!(
                "invalid cron expression {text:?}: expected 5 fields (minute hour day-of-month month day-of-week) or a shortcut such as @daily"
            ));
        }
        let cron = Cron::new(pattern)
            .parse()
            .map_err(|e| format!("invalid cron expression {text:?}: {e}"))?;
        Ok(Schedule::Cron(Box::new(cron), text.to_owned()))
    }

    /// Returns the interval, or `None` for a cron schedule.
    pub fn period(&self) -> Option<Duration> {
        match self {
            Schedule::Interval(period) | Schedule::Every(period) => Some(*period),
            Schedule::Cron(..) => None,
        }
    }

    /// Returns how long to wait from `now` until the next run. An interval schedule waits its
    /// period; `None` means the cron expression matches no future time.
    pub fn wait_after(&self, now: DateTime<Local>) -> Option<Duration> {
        match self {
            Schedule::Interval(period) | Schedule::Every(period) => Some(*period),
            Schedule::Cron(cron, _) => {
                let next = cron.find_next_occurrence(&now, false).ok()?;
                (next - now).to_std().ok()
            }
        }
    }

    /// Reports whether the job runs once right after start-up, as justwatchcom's interval jobs do.
    pub fn runs_at_start(&self) -> bool {
        matches!(self, Schedule::Interval(_))
    }

    pub fn describe(&self) -> String {
        match self {
            Schedule::Interval(period) | Schedule::Every(period) => {
                format!("every {}s", period.as_secs_f64())
            }
            Schedule::Cron(_, text) => text.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn cron_waits_until_next_match() {
        let schedule = Schedule::cron("30 * * * *").unwrap();
        let now = Local.with_ymd_and_hms(2026, 1, 5, 10, 10, 0).unwrap();
        assert_eq!(schedule.wait_after(now), Some(Duration::from_secs(20 * 60)));
    }

    #[test]
    fn shortcuts_parse() {
        for text in [
            "@daily",
            "@midnight",
            "@hourly",
            "@weekly",
            "@monthly",
            "@yearly",
        ] {
            assert!(Schedule::cron(text).is_ok(), "{text}");
        }
        let every = Schedule::cron("@every 5m").unwrap();
        assert_eq!(every.period(), Some(Duration::from_secs(300)));
        assert!(!every.runs_at_start());
    }

    #[test]
    fn invalid_cron_is_rejected() {
        assert!(Schedule::cron("* * *").is_err());
        assert!(Schedule::cron("0 0 * * * *").is_err());
        assert!(Schedule::cron("61 * * * *").is_err());
        assert!(Schedule::cron("@sometimes").is_err());
    }
}
