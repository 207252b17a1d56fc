//! Tags that head office puts on customers; one tag per name, ignoring case and accents.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{Row, SqliteConnection};

use super::{time, Store};
use crate::domain::text::{fold, trim};
use crate::domain::TagId;
use crate::{Error, Result};

/// A stored tag and how many active customers carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Tag {
    pub id: TagId,
    pub name: String,
    pub customers: u32,
}

impl Store {
    /// Every tag, by name.
    pub async fn tags(&self) -> Result<Vec<Tag>> {
        let rows = sqlx::query(
            "SELECT t.id, t.name, count(ct.customer) AS customers FROM tags t \
             LEFT JOIN customer_tags ct ON ct.tag_id = t.id AND ct.customer NOT IN \
               (SELECT c.rid FROM deletion_requests d JOIN customers c ON c.id = d.customer_id) \
             GROUP BY t.id ORDER BY t.name_key",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let id: String = row.try_get("id")?;
                Ok(Tag {
                    id: id.parse().map_err(|_| Error::not_found("tag", &id))?,
                    name: row.try_get("name")?,
                    customers: u32::try_from(row.try_get::<i64, _>("customers")?).unwrap_or(0),
                })
            })
            .collect()
    }

    /// Adds a tag.
    pub async fn create_tag(&self, name: &str, now: DateTime<Utc>) -> Result<Tag> {
        let mut conn = self.pool().acquire().await?;
        let name = checked_name(name)?;
        if find(&mut conn, &name).await?.is_some() {
            return Err(Error::TagNameTaken);
        }
        let id = insert(&mut conn, &name, now).await?;
        Ok(Tag {
            id,
            name,
            customers: 0,
        })
    }

    /// Renames a tag; every customer carrying it shows the new name.
    pub async fn rename_tag(&self, id: TagId, name: &str) -> Result<()> {
        let name = checked_name(name)?;
        let done = sqlx::query("UPDATE tags SET name = ?, name_key = ? WHERE id = ?")
            .bind(&name)
            .bind(fold(&name))
            .bind(id.to_string())
            .execute(self.pool())
            .await
            .map_err(|e| match &e {
                sqlx::Error::Database(db) if db.is_unique_violation() => Error::TagNameTaken,
                _ => Error::Database(e),
            })?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found("tag", id));
        }
        Ok(())
    }
}

fn checked_name(name: &str) -> Result<String> {
    let name = trim(name);
    if name.is_empty() {
        return Err(Error::InvalidInput {
            field: "name",
            reason: "empty".into(),
        });
    }
    Ok(name.to_owned())
}

async fn find(conn: &mut SqliteConnection, name: &str) -> Result<Option<TagId>> {
    let id: Option<String> = sqlx::query_scalar("SELECT id FROM tags WHERE name_key = ?")
        .bind(fold(name))
        .fetch_optional(conn)
        .await?;
    Ok(id.and_then(|s| s.parse().ok()))
}

async fn insert(conn: &mut SqliteConnection, name: &str, now: DateTime<Utc>) -> Result<TagId> {
    let id = TagId::new();
    sqlx::query("INSERT INTO tags (id, name, name_key, created_at) VALUES (?, ?, ?, ?)")
        .bind(id.to_string())
        .bind(name)
        .bind(fold(name))
        .bind(time::to_db(now))
        .execute(conn)
        .await?;
    Ok(id)
}

/// The id of the tag called `name`, created if it does not exist yet.
pub(crate) async fn ensure(
    conn: &mut SqliteConnection,
    name: &str,
    now: DateTime<Utc>,
) -> Result<TagId> {
    match find(conn, name).await? {
        Some(id) => Ok(id),
        None => insert(conn, name, now).await,
    }
}
