//! Configuration errors: each names the file, the job, the query and the key.

use std::path::Path;

use sql_exporter::config::{self, ConfigError, Format};

const URL: &str = "postgres://u@127.0.0.1:5432/db";

fn error(text: &str, format: Format) -> String {
    let path = match format {
        Format::Toml => "conf.toml",
        Format::Yaml => "conf.yml",
    };
    match config::parse(Path::new(path), text, format) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.to_string(),
    }
}

fn yaml_job(job_extra: &str, query_extra: &str) -> String {
    format!(
        "jobs:\n- name: j1\n  connections: ['{URL}']\n{job_extra}  queries:\n  - name: q1\n    values: [v]\n    query: select 1 as v\n{query_extra}"
    )
}

fn assert_names(message: &str, parts: &[&str]) {
    for part in parts {
        assert!(message.contains(part), "{part:?} missing in: {message}");
    }
}

#[test]
fn unknown_query_key_is_named() {
    let message = error(
        &yaml_job("  interval: 1m\n", "    lables: [x]\n"),
        Format::Yaml,
    );
    assert_names(
        &message,
        &[
            "conf.yml",
            "job \"j1\"",
            "query \"q1\"",
            "key \"lables\"",
            "unknown key",
        ],
    );
}

#[test]
fn unknown_job_key_in_toml_is_named() {
    let text = format!("[[jobs]]\nname = \"j1\"\ninterval = \"1m\"\nconnection = [\"{URL}\"]\n");
    let message = error(&text, Format::Toml);
    assert_names(
        &message,
        &[
            "conf.toml",
            "job \"j1\"",
            "key \"connection\"",
            "unknown key",
        ],
    );
}

#[test]
fn missing_interval_is_rejected() {
    let message = error(&yaml_job("", ""), Format::Yaml);
    assert_names(
        &message,
        &["conf.yml", "job \"j1\"", "key \"interval\"", "missing"],
    );
}

#[test]
fn bare_number_interval_is_rejected() {
    let message = error(&yaml_job("  interval: 60\n", ""), Format::Yaml);
    assert_names(
        &message,
        &["job \"j1\"", "key \"interval\"", "bare number", "60s"],
    );
    let toml = format!(
        "[[jobs]]\nname = \"j1\"\ninterval = 60\nconnections = [\"{URL}\"]\n[[jobs.queries]]\nname = \"q1\"\nvalues = [\"v\"]\nquery = \"select 1 as v\"\n"
    );
    assert_names(
        &error(&toml, Format::Toml),
        &["conf.toml", "key \"interval\"", "bare number"],
    );
}

#[test]
fn builtin_label_collision_is_rejected() {
    for label in ["driver", "host", "database", "user", "col", "sql_job"] {
        let extra = format!("    labels: [{label}]\n");
        let message = error(&yaml_job("  interval: 1m\n", &extra), Format::Yaml);
        assert_names(
            &message,
            &[
                "job \"j1\"",
                "query \"q1\"",
                "key \"labels\"",
                label,
                "collides",
            ],
        );
    }
}

#[test]
fn iterator_label_collision_is_rejected() {
    let job =
        "  interval: 1m\n  iterator:\n    sql: select 1\n    placeholder: p\n    label: host\n";
    let message = error(&yaml_job(job, ""), Format::Yaml);
    assert_names(
        &message,
        &["job \"j1\"", "iterator", "key \"label\"", "collides"],
    );
}

#[test]
fn same_name_with_other_help_is_rejected() {
    let text = format!(
        "jobs:\n- name: a\n  interval: 1m\n  connections: ['{URL}']\n  queries:\n  - name: q\n    help: One.\n    values: [v]\n    query: select 1 as v\n- name: b\n  interval: 1m\n  connections: ['{URL}']\n  queries:\n  - name: q\n    help: Two.\n    values: [v]\n    query: select 1 as v\n"
    );
    let message = error(&text, Format::Yaml);
    assert_names(
        &message,
        &["job \"b\"", "query \"q\"", "key \"help\"", "job \"a\""],
    );
}

#[test]
fn same_name_with_other_labels_is_rejected() {
    let text = format!(
        "jobs:\n- name: a\n  interval: 1m\n  connections: ['{URL}']\n  queries:\n  - name: q\n    values: [v]\n    query: select 1 as v\n  - name: q\n    labels: [k]\n    values: [v]\n    query: select 'x' as k, 1 as v\n"
    );
    let message = error(&text, Format::Yaml);
    assert_names(
        &message,
        &["job \"a\"", "query \"q\"", "key \"labels\"", "other labels"],
    );
}

#[test]
fn same_name_in_two_jobs_accepted() {
    let text = format!(
        "jobs:\n- name: a\n  interval: 1m\n  connections: ['{URL}']\n  queries:\n  - name: q\n    values: [v]\n    query: select 1 as v\n- name: b\n  interval: 1m\n  connections: ['{URL}']\n  queries:\n  - name: q\n    values: [v]\n    query: select 2 as v\n"
    );
    let parsed = config::parse(Path::new("conf.yml"), &text, Format::Yaml).unwrap();
    assert_eq!(parsed.jobs.len(), 2);
}

#[test]
fn unknown_query_ref_is_rejected() {
    let text = format!(
        "jobs:\n- name: j1\n  interval: 1m\n  connections: ['{URL}']\n  queries:\n  - name: q1\n    values: [v]\n    query_ref: nope\nqueries:\n  other: select 1 as v\n"
    );
    let message = error(&text, Format::Yaml);
    assert_names(&message, &["query \"q1\"", "key \"query_ref\"", "nope"]);
}

#[test]
fn query_ref_takes_shared_query() {
    let text = format!(
        "jobs:\n- name: j1\n  interval: 1m\n  connections: ['{URL}']\n  queries:\n  - name: q1\n    values: [v]\n    query_ref: shared\nqueries:\n  shared: select 7 as v\n"
    );
    let parsed = config::parse(Path::new("conf.yml"), &text, Format::Yaml).unwrap();
    assert_eq!(parsed.jobs[0].queries[0].sql, "select 7 as v");
}

#[test]
fn invalid_cron_and_connection_are_rejected() {
    let cron = error(
        &yaml_job("  cron_schedule: '61 * * * *'\n", ""),
        Format::Yaml,
    );
    assert_names(&cron, &["job \"j1\"", "key \"cron_schedule\""]);
    let text = yaml_job("  interval: 1m\n", "").replace(URL, "oracle://x@y/z");
    let message = error(&text, Format::Yaml);
    assert_names(
        &message,
        &["job \"j1\"", "key \"connections\"", "unsupported driver"],
    );
}

#[test]
fn syntax_error_names_file() {
    let message = error("jobs: [\n", Format::Yaml);
    assert_names(&message, &["conf.yml"]);
    assert!(matches!(
        config::parse(Path::new("x.toml"), "[[jobs]\n", Format::Toml),
        Err(ConfigError::Syntax { .. })
    ));
}

#[test]
fn missing_file_is_reported() {
    let missing = Path::new("/nonexistent/sql-exporter.toml");
    let message = config::load(missing).unwrap_err().to_string();
    assert_names(&message, &["/nonexistent/sql-exporter.toml", "cannot read"]);
}

#[test]
fn repository_queries_toml_is_valid() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../queries.toml");
    let parsed = config::load(&path).unwrap();
    let job = &parsed.jobs[0];
    assert_eq!(job.name, "sectracker");
    assert_eq!(job.schedule.period().map(|p| p.as_secs()), Some(3600));
    let names: Vec<&str> = job.queries.iter().map(|q| q.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "users",
            "delta",
            "matching",
            "cves",
            "derivations",
            "evaluations"
        ]
    );
    for query in &job.queries {
        assert!(!query.help.is_empty(), "{} has no help", query.name);
    }
}

#[test]
fn cron_timeout_and_buckets_are_read() {
    let text = format!(
        "[configuration]\nhistogram_buckets = [0.1, 1, 10]\n\n[[jobs]]\nname = \"nightly\"\ncron_schedule = \"@every 10m\"\nconnections = [\"{URL}\"]\n\n[[jobs.queries]]\nname = \"q\"\nvalues = [\"v\"]\nquery = \"select 1 as v\"\n\n[[jobs]]\nname = \"hourly\"\ncron_schedule = \"5 * * * *\"\nquery_timeout = \"5s\"\nconnections = [\"{URL}\"]\n\n[[jobs.queries]]\nname = \"q\"\nvalues = [\"v\"]\nquery = \"select 1 as v\"\n"
    );
    let parsed = config::parse(Path::new("conf.toml"), &text, Format::Toml).unwrap();
    assert_eq!(parsed.histogram_buckets, [0.1, 1.0, 10.0]);
    let nightly = &parsed.jobs[0];
    assert_eq!(
        nightly.schedule.period(),
        Some(std::time::Duration::from_secs(600))
    );
    assert_eq!(nightly.query_timeout, std::time::Duration::from_secs(60));
    let hourly = &parsed.jobs[1];
    assert_eq!(hourly.schedule.period(), None);
    assert_eq!(hourly.query_timeout, std::time::Duration::from_secs(5));
}

#[test]
fn short_interval_bounds_default_timeout() {
    let parsed = config::parse(
        Path::new("conf.yml"),
        &yaml_job("  interval: 15s\n", ""),
        Format::Yaml,
    )
    .unwrap();
    assert_eq!(
        parsed.jobs[0].query_timeout,
        std::time::Duration::from_secs(15)
    );
}
