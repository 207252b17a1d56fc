//! The database a test's server runs on: a SQLite file in the test's folder, or a fresh
//! database in the PostgreSQL cluster that `scripts/test.sh` starts (its URL in
//! `CLIENTELA_TEST_PG_URL`).

use std::path::Path;

use clientela_server::{Backend, Db};
use sqlx::Connection;

/// Where a test's database is, to open it again as a restarted server would.
#[derive(Debug, Clone)]
pub enum Place {
    Folder(std::path::PathBuf),
    Url(String),
}

impl Place {
    pub async fn open(&self) -> Db {
        match self {
            Place::Folder(dir) => Db::open(dir).await.unwrap(),
            Place::Url(url) => Db::connect(url).await.unwrap(),
        }
    }
}

/// A new, empty database on `backend`, and where it is.
pub async fn database(backend: Backend, dir: &Path) -> (Db, Place) {
    let place = match backend {
        Backend::Sqlite => Place::Folder(dir.to_owned()),
        Backend::Postgres => Place::Url(fresh_postgres_database().await),
    };
    (place.open().await, place)
}

/// The URL of a new database in the test cluster.
pub async fn fresh_postgres_database() -> String {
    let base = std::env::var("CLIENTELA_TEST_PG_URL").unwrap_or_else(|_| {
        panic!(
            "CLIENTELA_TEST_PG_URL is not set: it must hold the URL of a PostgreSQL server \
             for the tests. Run them through scripts/test.sh, which starts one."
        )
    });
    let name = format!("t_{}", uuid::Uuid::now_v7().simple());
    let mut admin = sqlx::PgConnection::connect(&base).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .unwrap();
    let (before, after) = base
        .split_once("/postgres")
        .expect("CLIENTELA_TEST_PG_URL names the postgres database");
    format!("{before}/{name}{after}")
}
