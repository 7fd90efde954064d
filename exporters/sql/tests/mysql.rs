//! Jobs against the local MariaDB server (127.0.0.1:3306, user root without password).

mod common;

use common::{build, exposition, parse, samples, unique_name, value};
use mysql_async::prelude::Queryable;
use sql_exporter::config::Format;

const ADMIN_URL: &str = "mysql://root@127.0.0.1:3306/test";

/// A MariaDB database created for one test; `drop_database` removes it.
struct MysqlDb {
    name: String,
    pool: mysql_async::Pool,
}

impl MysqlDb {
    async fn create() -> MysqlDb {
        let name = unique_name("sqlexp");
        let pool = mysql_async::Pool::from_url(ADMIN_URL).unwrap();
        let mut conn = pool.get_conn().await.expect("MariaDB on 127.0.0.1:3306");
        conn.query_drop(format!("CREATE DATABASE `{name}`"))
            .await
            .unwrap();
        MysqlDb { name, pool }
    }

    async fn execute(&self, sql: &str) {
        let mut conn = self.pool.get_conn().await.unwrap();
        conn.query_drop(format!("USE `{}`", self.name))
            .await
            .unwrap();
        conn.query_drop(sql).await.unwrap();
    }

    async fn drop_database(self) {
        let mut conn = self.pool.get_conn().await.unwrap();
        conn.query_drop(format!("DROP DATABASE `{}`", self.name))
            .await
            .unwrap();
        drop(conn);
        self.pool.disconnect().await.unwrap();
    }
}

#[tokio::test]
async fn mysql_go_dsn_gives_labelled_series() {
    let db = MysqlDb::create().await;
    db.execute(
        "CREATE TABLE points (amount INT, name VARCHAR(20), price DECIMAL(6,2));
         INSERT INTO points VALUES (1, 'alice', 1.25), (2, 'alice', 1.25), (5, 'bob', 2.50);",
    )
    .await;
    let yaml = format!(
        "jobs:\n- name: maria\n  interval: 1h\n  connections: ['mysql://root@tcp(127.0.0.1:3306)/{}']\n  queries:\n  - name: points\n    labels: [name]\n    values: [amount, price]\n    query: SELECT SUM(amount) AS amount, MAX(price) AS price, name FROM points GROUP BY name\n  - name: slow\n    values: [v]\n    query: SELECT 1 AS v\n",
        db.name
    );
    let (cache, runners) = build(parse(&yaml, Format::Yaml));
    let succeeded = runners[0].run_once().await;
    let text = exposition(&cache);
    db.drop_database().await;

    assert_eq!(succeeded, 2, "{text}");
    assert_eq!(samples(&text, "sql_points").len(), 4, "{text}");
    let find = |col: &str, name: &str| -> Option<f64> {
        let col = format!("col=\"{col}\"");
        let name = format!("name=\"{name}\"");
        samples(&text, "sql_points")
            .iter()
            .find(|l| l.contains(&col) && l.contains(&name))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
    };
    assert_eq!(find("amount", "alice"), Some(3.0));
    assert_eq!(find("amount", "bob"), Some(5.0));
    assert_eq!(find("price", "alice"), Some(1.25));
    assert_eq!(find("price", "bob"), Some(2.5));
    let line = &samples(&text, "sql_points")[0];
    assert!(line.contains("driver=\"mysql\""), "{line}");
    assert!(line.contains("host=\"127.0.0.1:3306\""), "{line}");
    assert!(line.contains("user=\"root\""), "{line}");
}

#[tokio::test]
async fn mysql_timeout_fails_only_its_query() {
    let db = MysqlDb::create().await;
    let yaml = format!(
        "jobs:\n- name: maria\n  interval: 1h\n  query_timeout: 1s\n  connections: ['mysql://root@tcp(127.0.0.1:3306)/{}']\n  queries:\n  - name: slow\n    values: [v]\n    query: SELECT SLEEP(20) AS v\n  - name: fast\n    values: [v]\n    query: SELECT 2 AS v\n",
        db.name
    );
    let (cache, runners) = build(parse(&yaml, Format::Yaml));
    let started = std::time::Instant::now();
    let succeeded = runners[0].run_once().await;
    let elapsed = started.elapsed();
    let text = exposition(&cache);
    db.drop_database().await;

    assert_eq!(succeeded, 1, "{text}");
    assert!(elapsed < std::time::Duration::from_secs(10), "{elapsed:?}");
    assert_eq!(value(&text, "sql_fast", "col=\"v\""), Some(2.0));
    assert_eq!(
        value(&text, "sql_exporter_last_scrape_failed", "query=\"slow\""),
        Some(1.0)
    );
}
