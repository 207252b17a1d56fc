//! Branches: one location each, with a country (for phone numbers) and a time zone (for
//! appointment times).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::outbox::{self, Op};
use super::{time, Store};
use crate::domain::text::{fold, trim};
use crate::domain::BranchId;
use crate::{Error, Result};

/// A stored branch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Branch {
    pub id: BranchId,
    pub name: String,
    /// ISO 3166-1 alpha-2, e.g. `ES`.
    pub country: String,
    /// IANA name, e.g. `Europe/Madrid`.
    pub time_zone: String,
    /// Customers assigned to this branch, global and local.
    pub customers: u32,
}

/// What the branch form sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct BranchInput {
    pub name: String,
    pub country: String,
    pub time_zone: String,
}

impl BranchInput {
    /// Trims the input and checks name, country code and time zone.
    pub fn validated(&self) -> Result<BranchInput> {
        let name = trim(&self.name).to_owned();
        // Import files list several branches in one cell split on these.
        if name.contains([',', ';', '|']) {
            return Err(Error::InvalidInput {
                field: "name",
                reason: "contains , ; or |".into(),
            });
        }
        if name.is_empty() {
            return Err(Error::InvalidInput {
                field: "name",
                reason: "empty".into(),
            });
        }
        let country = trim(&self.country).to_ascii_uppercase();
        if !crate::domain::contact::is_known_region(&country) {
            return Err(Error::InvalidInput {
                field: "country",
                reason: "not a two-letter country code".into(),
            });
        }
        let time_zone = trim(&self.time_zone).to_owned();
        if time_zone.parse::<chrono_tz::Tz>().is_err() {
            return Err(Error::InvalidInput {
                field: "timeZone",
                reason: "unknown time zone".into(),
            });
        }
        Ok(BranchInput {
            name,
            country,
            time_zone,
        })
    }
}

const SELECT_BRANCHES: &str = "SELECT b.id, b.name, b.country, b.time_zone, \
     (SELECT count(*) FROM customers c LEFT JOIN deletion_requests d ON d.customer_id = c.id \
      WHERE d.customer_id IS NULL AND (c.all_branches = 1 OR c.origin_branch_id = b.id \
      OR EXISTS (SELECT 1 FROM customer_branches cb \
                 WHERE cb.customer = c.rid AND cb.branch_id = b.id))) AS customers \
     FROM branches b";

impl Store {
    /// Every branch, by name.
    pub async fn branches(&self) -> Result<Vec<Branch>> {
        let sql = format!("{SELECT_BRANCHES} ORDER BY b.name_key");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(branch_from_row).collect()
    }

    /// One branch.
    pub async fn branch(&self, id: BranchId) -> Result<Branch> {
        let sql = format!("{SELECT_BRANCHES} WHERE b.id = ?");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.to_string())
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| Error::not_found("branch", id))?;
        branch_from_row(&row)
    }

    /// Adds a branch; its name must differ from every other branch's, ignoring case and
    /// accents.
    #[tracing::instrument(skip_all)]
    pub async fn create_branch(&self, input: &BranchInput, now: DateTime<Utc>) -> Result<Branch> {
        let input = input.validated()?;
        let id = BranchId::new();
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "INSERT INTO branches (id, name, name_key, country, time_zone, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(id.to_string())
        .bind(&input.name)
        .bind(fold(&input.name))
        .bind(&input.country)
        .bind(&input.time_zone)
        .bind(time::to_db(now))
        .bind(time::to_db(now))
        .execute(&mut *tx)
        .await
        .map_err(unique_name)?;
        let stamp = self.stamp(now);
        outbox::push(
            &mut tx,
            "branch",
            &id.to_string(),
            Op::Upsert,
            &input,
            stamp,
            now,
        )
        .await?;
        tx.commit().await?;
        tracing::info!(branch.id = %id, "branch created");
        self.branch(id).await
    }

    /// Renames a branch or changes its country or time zone.
    #[tracing::instrument(skip_all, fields(branch.id = %id))]
    pub async fn update_branch(
        &self,
        id: BranchId,
        input: &BranchInput,
        now: DateTime<Utc>,
    ) -> Result<Branch> {
        let input = input.validated()?;
        let mut tx = self.pool().begin().await?;
        let done = sqlx::query(
            "UPDATE branches SET name = ?, name_key = ?, country = ?, time_zone = ?, \
             updated_at = ? WHERE id = ?",
        )
        .bind(&input.name)
        .bind(fold(&input.name))
        .bind(&input.country)
        .bind(&input.time_zone)
        .bind(time::to_db(now))
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(unique_name)?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found("branch", id));
        }
        let stamp = self.stamp(now);
        outbox::push(
            &mut tx,
            "branch",
            &id.to_string(),
            Op::Upsert,
            &input,
            stamp,
            now,
        )
        .await?;
        tx.commit().await?;
        self.branch(id).await
    }
}

fn branch_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<Branch> {
    let id: String = row.try_get("id")?;
    Ok(Branch {
        id: id.parse().map_err(|_| Error::not_found("branch", &id))?,
        name: row.try_get("name")?,
        country: row.try_get("country")?,
        time_zone: row.try_get("time_zone")?,
        customers: u32::try_from(row.try_get::<i64, _>("customers")?).unwrap_or(u32::MAX),
    })
}

fn unique_name(e: sqlx::Error) -> Error {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => Error::BranchNameTaken,
        _ => Error::Database(e),
    }
}
