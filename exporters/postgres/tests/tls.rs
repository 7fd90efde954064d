//! TLS to the database: `sslmode=require` encrypts without checking the certificate,
//! `verify-full` checks it against `sslrootcert` and the host name, and a certificate from
//! another authority is rejected.

mod common;

use common::{Cluster, Exporter};

/// Reports whether the exporter's own connection uses TLS, as `pg_tls_on`.
const QUERIES: &str = r#"
pg_tls:
  query: "SELECT ssl::int AS on FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
  metrics:
    - on:
        usage: "GAUGE"
        description: "Whether the exporter's connection uses TLS"
"#;

struct Authority {
    certificate: rcgen::Certificate,
    key: rcgen::KeyPair,
}

fn authority() -> Authority {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let key = rcgen::KeyPair::generate().unwrap();
    let certificate = params.self_signed(&key).unwrap();
    Authority { certificate, key }
}

/// Returns the PEM certificate and key of a server certificate for 127.0.0.1.
fn server_certificate(ca: &Authority) -> (String, String) {
    let params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let certificate = params.signed_by(&key, &ca.certificate, &ca.key).unwrap();
    (certificate.pem(), key.serialize_pem())
}

async fn scrape_with(
    cluster: &Cluster,
    query_flag: &str,
    parameters: &str,
) -> (common::Metrics, String) {
    let dsn = format!(
        "postgresql://postgres@{}/postgres?{parameters}",
        cluster.host_port()
    );
    let exporter = Exporter::start(&[query_flag], &[("DATA_SOURCE_NAME", &dsn)]);
    let metrics = exporter.scrape().await;
    (metrics, exporter.log())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssl_modes_against_tls_server() {
    let cluster = Cluster::start(16);
    let ca = authority();
    let (certificate, key) = server_certificate(&ca);
    cluster.enable_tls(&certificate, &key).await;

    let files = tempfile::tempdir().unwrap();
    let queries = files.path().join("queries.yaml");
    std::fs::write(&queries, QUERIES).unwrap();
    let query_flag = format!("--extend.query-path={}", queries.display());
    let root = files.path().join("root.crt");
    std::fs::write(&root, ca.certificate.pem()).unwrap();
    let other_root = files.path().join("other.crt");
    std::fs::write(&other_root, authority().certificate.pem()).unwrap();

    let (m, log) = scrape_with(&cluster, &query_flag, "sslmode=require").await;
    assert_eq!(m.value("pg_up", &[]), Some(1.0), "{log}");
    assert_eq!(m.value("pg_tls_on", &[]), Some(1.0), "{log}");

    let (m, log) = scrape_with(&cluster, &query_flag, "").await;
    assert_eq!(
        m.value("pg_tls_on", &[]),
        Some(1.0),
        "prefer is the default: {log}"
    );

    let (m, log) = scrape_with(&cluster, &query_flag, "sslmode=disable").await;
    assert_eq!(m.value("pg_tls_on", &[]), Some(0.0), "{log}");

    let verify = format!("sslmode=verify-full&sslrootcert={}", root.display());
    let (m, log) = scrape_with(&cluster, &query_flag, &verify).await;
    assert_eq!(m.value("pg_up", &[]), Some(1.0), "{log}");
    assert_eq!(m.value("pg_tls_on", &[]), Some(1.0), "{log}");

    let wrong = format!("sslmode=verify-ca&sslrootcert={}", other_root.display());
    let (m, log) = scrape_with(&cluster, &query_flag, &wrong).await;
    assert_eq!(m.value("pg_up", &[]), Some(0.0), "{log}");
}
