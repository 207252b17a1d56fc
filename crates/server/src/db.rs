//! The server's database: companies, credentials, the change log and tombstones.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use clientela_core::hlc::{Clock, Stamp};
use clientela_core::sync::{Change, ChangeOp, FieldChange, Session, SessionRole};
use sha2::{Digest, Sha256};
use sqlx::any::AnyPoolOptions;
use sqlx::AnyPool;
use sqlx::Row;
use uuid::Uuid;

use crate::Error;

/// File name of the database inside the data folder.
pub const DATABASE_FILE: &str = "clientela-server.db";

/// Which database the server runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// One file in a data folder: no set-up at all.
    Sqlite,
    /// Shared by several server instances.
    Postgres,
}

/// The server's database.
#[derive(Debug, Clone)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
    /// Told the company and its new last sequence whenever a push adds to a log.
    grown: tokio::sync::broadcast::Sender<(String, i64)>,
    author: Arc<Author>,
}

/// This instance as the author of the changes the integrator API makes: a node id of its
/// own (new at every start, so ids never repeat), a clock, and a change counter.
#[derive(Debug)]
struct Author {
    node: Uuid,
    clock: Mutex<Clock>,
    seq: AtomicI64,
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
    /// Opens (creating if needed) the SQLite database in `data_dir` and migrates it.
    pub async fn open(data_dir: &Path) -> Result<Self, Error> {
        std::fs::create_dir_all(data_dir).map_err(|e| Error::DataDir(data_dir.into(), e))?;
        let file = data_dir.join(DATABASE_FILE);
        let path: String = file
            .to_string_lossy()
            .chars()
            .map(|c| match c {
                ' ' => "%20".to_owned(),
                '%' => "%25".to_owned(),
                '?' => "%3F".to_owned(),
                '#' => "%23".to_owned(),
                c => c.to_string(),
            })
            .collect();
        Self::connect_as(&format!("sqlite://{path}?mode=rwc"), Backend::Sqlite).await
    }

    /// Connects to the PostgreSQL database at `url` (`postgres://…`) and migrates it.
    pub async fn connect(url: &str) -> Result<Self, Error> {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(Error::invalid("database URL", "use a postgres:// URL"));
        }
        Self::connect_as(url, Backend::Postgres).await
    }

    async fn connect_as(url: &str, backend: Backend) -> Result<Self, Error> {
        sqlx::any::install_default_drivers();
        let mut options = AnyPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10));
        if backend == Backend::Sqlite {
            options = options.after_connect(|conn, _| {
                Box::pin(async move {
                    // An acknowledged push must survive a power cut, not only a crash.
                    sqlx::raw_sql(
                        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                         PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;",
                    )
                    .execute(conn)
                    .await?;
                    Ok(())
                })
            });
        }
        let pool = options.connect(url).await?;
        match backend {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite").run(&pool).await?,
            Backend::Postgres => sqlx::migrate!("./migrations/postgres").run(&pool).await?,
        }
        crate::records::rebuild_if_missing(&pool).await?;
        // Listeners that fall this far behind get the latest sequence instead.
        let (grown, _) = tokio::sync::broadcast::channel(256);
        if backend == Backend::Postgres {
            relay_notifications(url, grown.clone()).await?;
        }
        let node = Uuid::now_v7();
        let author = Arc::new(Author {
            node,
            clock: Mutex::new(Clock::new(node, None)),
            seq: AtomicI64::new(0),
        });
        Ok(Self {
            pool,
            backend,
            grown,
            author,
        })
    }

    /// A change this server makes on a caller's behalf. Its stamp is later than `beat`
    /// (the newest stamp of the entity as stored), so the change wins over what it edits.
    pub(crate) fn authored_change(
        &self,
        entity: &str,
        entity_id: &str,
        op: ChangeOp,
        values: BTreeMap<String, serde_json::Value>,
        beat: Option<&str>,
    ) -> Change {
        let hlc = {
            let mut clock = self
                .author
                .clock
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if let Some(stamp) = beat.and_then(|s| s.parse::<Stamp>().ok()) {
                clock.observe(stamp);
            }
            clock.tick(Utc::now()).to_string()
        };
        let seq = self.author.seq.fetch_add(1, Ordering::Relaxed) + 1;
        let fields = values
            .into_iter()
            .map(|(name, value)| {
                let field = FieldChange {
                    value,
                    stamp: hlc.clone(),
                    base: None,
                };
                (name, field)
            })
            .collect();
        Change {
            id: format!("{}:{seq}", self.author.node),
            entity: entity.to_owned(),
            entity_id: entity_id.to_owned(),
            op,
            hlc,
            fields,
        }
    }

    /// The database this server runs on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Follows every company's log growth: `(company, last sequence)`.
    pub fn watch(&self) -> tokio::sync::broadcast::Receiver<(String, i64)> {
        self.grown.subscribe()
    }

    /// Tells this instance's listeners, and on PostgreSQL every instance's, that a
    /// company's log grew.
    pub(crate) async fn announce(&self, company: &str, seq: i64) -> Result<(), Error> {
        match self.backend {
            // Nobody listening is fine.
            Backend::Sqlite => drop(self.grown.send((company.to_owned(), seq))),
            // Comes back to this instance too, through `relay_notifications`.
            Backend::Postgres => {
                sqlx::query("SELECT pg_notify($1, $2)")
                    .bind(CHANNEL)
                    .bind(format!("{company} {seq}"))
                    .execute(&self.pool)
                    .await?;
            }
        }
        Ok(())
    }

    /// Adds a company; returns its id.
    pub async fn add_company(&self, name: &str) -> Result<String, Error> {
        let name = name.trim();
        if name.is_empty() {
            return Err(Error::invalid("name", "the company needs a name"));
        }
        let id = Uuid::now_v7().to_string();
        sqlx::query("INSERT INTO companies (id, name, created_at) VALUES ($1, $2, $3)")
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
        // Branch ids are compared as text everywhere: keep the one spelling devices use.
        let branch = branch
            .map(|b| {
                Uuid::parse_str(b.trim())
                    .map(|u| u.hyphenated().to_string())
                    .map_err(|_| Error::invalid("branch", "not a branch id (a UUID)"))
            })
            .transpose()?;
        let known: Option<i64> = sqlx::query_scalar("SELECT 1 FROM companies WHERE id = $1")
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
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
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
            "UPDATE credentials SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
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
            "SELECT id, role, branch_id, name, \
             CAST(CASE WHEN revoked_at IS NULL THEN 0 ELSE 1 END AS BIGINT) AS revoked \
             FROM credentials WHERE company_id = $1 ORDER BY id",
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
                    revoked: r.try_get::<i64, _>("revoked")? != 0,
                })
            })
            .collect()
    }

    /// The caller a secret belongs to; `None` when it is unknown or revoked.
    pub async fn caller(&self, secret: &str) -> Result<Option<Caller>, Error> {
        let row = sqlx::query(
            "SELECT id, company_id, role, branch_id FROM credentials \
             WHERE secret_hash = $1 AND revoked_at IS NULL",
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
    /// True while the credential exists and is not revoked.
    pub async fn is_active(&self, credential: &str) -> Result<bool, Error> {
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT CAST(1 AS BIGINT) FROM credentials WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(credential)
        .fetch_optional(&self.pool)
        .await?;
        Ok(found.is_some())
    }

    /// Who `caller` is, for the desktop's sign-in.
    pub async fn session(&self, caller: &Caller) -> Result<Session, Error> {
        let row = sqlx::query(
            "SELECT c.name, k.name AS company_name FROM credentials c \
             JOIN companies k ON k.id = c.company_id WHERE c.id = $1",
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

/// What a company has on the server, for the admin command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Customers not deleted.
    pub customers: i64,
    /// Changes in the log.
    pub changes: i64,
    /// Tombstones.
    pub deleted: i64,
}

impl Db {
    pub async fn stats(&self, company: &str) -> Result<Stats, Error> {
        let count = |table: &'static str| {
            let sql = format!("SELECT CAST(count(*) AS BIGINT) FROM {table} WHERE company_id = $1");
            let pool = self.pool.clone();
            async move {
                sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql))
                    .bind(company)
                    .fetch_one(&pool)
                    .await
            }
        };
        Ok(Stats {
            customers: count("customer_access").await?,
            changes: count("change_log").await?,
            deleted: count("tombstones").await?,
        })
    }
}

impl Db {
    /// The branches head office has made, as their latest changes name them: the ids that
    /// branch credentials need.
    pub async fn branches(&self, company: &str) -> Result<Vec<(String, String)>, Error> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT l.entity_id, l.body FROM change_log l WHERE l.company_id = $1 \
             AND l.entity = 'branch' AND l.seq = (SELECT max(m.seq) FROM change_log m \
               WHERE m.company_id = l.company_id AND m.entity = 'branch' \
               AND m.entity_id = l.entity_id) ORDER BY l.seq",
        )
        .bind(company)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, body)| {
                let name = serde_json::from_str::<clientela_core::sync::Change>(&body)
                    .ok()
                    .and_then(|c| c.fields.get("name")?.value.as_str().map(str::to_owned))
                    .unwrap_or_default();
                (id, name)
            })
            .collect())
    }
}

/// The PostgreSQL channel on which instances tell each other that a log grew.
const CHANNEL: &str = "clientela_log";

/// Passes PostgreSQL notifications from every instance to this instance's listeners, for
/// as long as the server runs; a dropped connection is re-established by `PgListener`.
async fn relay_notifications(
    url: &str,
    grown: tokio::sync::broadcast::Sender<(String, i64)>,
) -> Result<(), Error> {
    let mut listener = sqlx::postgres::PgListener::connect(url).await?;
    listener.listen(CHANNEL).await?;
    tokio::spawn(async move {
        loop {
            match listener.recv().await {
                Ok(notice) => {
                    let Some((company, seq)) = notice.payload().split_once(' ') else {
                        continue;
                    };
                    if let Ok(seq) = seq.parse() {
                        let _ = grown.send((company.to_owned(), seq));
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "change notifications from PostgreSQL stopped");
                    return;
                }
            }
        }
    });
    Ok(())
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
