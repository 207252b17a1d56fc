//! The server's database: companies, credentials, the change log and tombstones.

use std::path::Path;
use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use clientela_core::sync::{Session, SessionRole};
use sha2::{Digest, Sha256};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};
use uuid::Uuid;

use crate::Error;

/// File name of the database inside the data folder.
pub const DATABASE_FILE: &str = "clientela-server.db";

/// The server's database.
#[derive(Debug, Clone)]
pub struct Db {
    pool: SqlitePool,
    /// Told the company and its new last sequence whenever a push adds to a log.
    grown: tokio::sync::broadcast::Sender<(String, i64)>,
}

/// What a credential may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    HeadOffice,
    Branch,
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Role::HeadOffice => "headOffice",
            Role::Branch => "branch",
        }
    }
}

/// The caller of a request, once its secret is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub credential: String,
    pub company: String,
    pub role: Role,
    pub branch: Option<String>,
}

/// A credential as the admin command lists it (never its secret).
#[derive(Debug, Clone)]
pub struct CredentialInfo {
    pub id: String,
    pub role: Role,
    pub branch: Option<String>,
    pub name: String,
    pub revoked: bool,
}

impl Db {
    /// Opens (creating if needed) the database in `data_dir` and migrates it.
    pub async fn open(data_dir: &Path) -> Result<Self, Error> {
        std::fs::create_dir_all(data_dir).map_err(|e| Error::DataDir(data_dir.into(), e))?;
        let options = SqliteConnectOptions::new()
            .filename(data_dir.join(DATABASE_FILE))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // An acknowledged push must survive a power cut, not only a crash.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        // Listeners that fall this far behind get the latest sequence instead.
        let (grown, _) = tokio::sync::broadcast::channel(256);
        Ok(Self { pool, grown })
    }

    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Follows every company's log growth: `(company, last sequence)`.
    pub fn watch(&self) -> tokio::sync::broadcast::Receiver<(String, i64)> {
        self.grown.subscribe()
    }

    pub(crate) fn announce(&self, company: &str, seq: i64) {
        // Nobody listening is fine.
        let _ = self.grown.send((company.to_owned(), seq));
    }

    /// Adds a company; returns its id.
    pub async fn add_company(&self, name: &str) -> Result<String, Error> {
        let name = name.trim();
        if name.is_empty() {
            return Err(Error::invalid("name", "the company needs a name"));
        }
        let id = Uuid::now_v7().to_string();
        sqlx::query("INSERT INTO companies (id, name, created_at) VALUES (?, ?, ?)")
            .bind(&id)
            .bind(name)
            .bind(now())
            .execute(&self.pool)
            .await?;
        Ok(id)
    }

    /// Adds a credential and returns its id and secret. The secret is shown once: only its
    /// hash is stored.
    pub async fn add_credential(
        &self,
        company: &str,
        role: Role,
        branch: Option<&str>,
        name: &str,
    ) -> Result<(String, String), Error> {
        if (role == Role::Branch) != branch.is_some() {
            return Err(Error::invalid(
                "branch",
                "a branch credential names its branch; a head-office one does not",
            ));
        }
        let known: Option<i64> = sqlx::query_scalar("SELECT 1 FROM companies WHERE id = ?")
            .bind(company)
            .fetch_optional(&self.pool)
            .await?;
        if known.is_none() {
            return Err(Error::NotFound("company"));
        }
        let id = Uuid::now_v7().to_string();
        let secret = new_secret()?;
        sqlx::query(
            "INSERT INTO credentials (id, company_id, role, branch_id, name, secret_hash, \
             created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&id)
        .bind(company)
        .bind(role.as_str())
        .bind(branch)
        .bind(name.trim())
        .bind(hash(&secret))
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok((id, secret))
    }

    /// Revokes a credential; its next request is refused.
    pub async fn revoke_credential(&self, id: &str) -> Result<(), Error> {
        let done = sqlx::query(
            "UPDATE credentials SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
        )
        .bind(now())
        .bind(id)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound("credential"));
        }
        Ok(())
    }

    /// The credentials of a company.
    pub async fn credentials(&self, company: &str) -> Result<Vec<CredentialInfo>, Error> {
        let rows = sqlx::query(
            "SELECT id, role, branch_id, name, revoked_at IS NOT NULL AS revoked \
             FROM credentials WHERE company_id = ? ORDER BY id",
        )
        .bind(company)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(CredentialInfo {
                    id: r.try_get("id")?,
                    role: role_of(&r.try_get::<String, _>("role")?),
                    branch: r.try_get("branch_id")?,
                    name: r.try_get("name")?,
                    revoked: r.try_get("revoked")?,
                })
            })
            .collect()
    }

    /// The caller a secret belongs to; `None` when it is unknown or revoked.
    pub async fn caller(&self, secret: &str) -> Result<Option<Caller>, Error> {
        let row = sqlx::query(
            "SELECT id, company_id, role, branch_id FROM credentials \
             WHERE secret_hash = ? AND revoked_at IS NULL",
        )
        .bind(hash(secret))
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(Caller {
                credential: r.try_get("id")?,
                company: r.try_get("company_id")?,
                role: role_of(&r.try_get::<String, _>("role")?),
                branch: r.try_get("branch_id")?,
            })
        })
        .transpose()
    }
}

impl Db {
    /// Who `caller` is, for the desktop's sign-in.
    pub async fn session(&self, caller: &Caller) -> Result<Session, Error> {
        let row = sqlx::query(
            "SELECT c.name, k.name AS company_name FROM credentials c \
             JOIN companies k ON k.id = c.company_id WHERE c.id = ?",
        )
        .bind(&caller.credential)
        .fetch_one(&self.pool)
        .await?;
        Ok(Session {
            company: caller.company.clone(),
            company_name: row.try_get("company_name")?,
            role: match caller.role {
                Role::HeadOffice => SessionRole::HeadOffice,
                Role::Branch => SessionRole::Branch,
            },
            name: row.try_get("name")?,
            branch: caller.branch.clone(),
        })
    }
}

fn role_of(text: &str) -> Role {
    if text == "branch" {
        Role::Branch
    } else {
        Role::HeadOffice
    }
}

/// 256 random bits, hex, with a prefix that tells what the text is.
fn new_secret() -> Result<String, Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| Error::Random(e.to_string()))?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("clt_{hex}"))
}

fn hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

pub(crate) fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}
