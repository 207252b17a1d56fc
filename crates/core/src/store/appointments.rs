//! Appointments: bookings of a customer at a branch. They count as bookings and block
//! deletion while booked and not over (DESIGN.md, rule 8).

use chrono::{DateTime, Duration, NaiveDateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{Row, SqliteConnection};

use super::outbox::{self, Op};
use super::{id_in, time, Store};
use crate::domain::deletion::{AppointmentSlot, AppointmentStatus};
use crate::domain::{AppointmentId, BranchId, CustomerId};
use crate::{Error, Result};

/// A stored appointment, with what the UI needs to show it in the branch's time zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Appointment {
    pub id: AppointmentId,
    pub customer: CustomerId,
    pub branch: BranchId,
    pub branch_name: String,
    pub time_zone: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub status: AppointmentStatus,
}

/// A booking as head office types it: local time at the branch and a length.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct NewAppointment {
    pub customer: CustomerId,
    pub branch: BranchId,
    /// Wall-clock time at the branch, e.g. `2027-01-14T10:30`.
    pub starts_local: NaiveDateTime,
    pub minutes: u32,
}

impl Store {
    /// Books an appointment.
    #[tracing::instrument(skip_all, fields(customer.id = %new.customer, branch.id = %new.branch))]
    pub async fn add_appointment(
        &self,
        new: &NewAppointment,
        now: DateTime<Utc>,
    ) -> Result<Appointment> {
        if new.minutes == 0 || new.minutes > 24 * 60 {
            return Err(Error::InvalidInput {
                field: "minutes",
                reason: "not 1 to 1440".into(),
            });
        }
        let branch = self.branch(new.branch).await?;
        let zone: chrono_tz::Tz = branch.time_zone.parse().map_err(|_| Error::InvalidInput {
            field: "timeZone",
            reason: "unknown time zone".into(),
        })?;
        let starts_at = zone
            .from_local_datetime(&new.starts_local)
            .earliest()
            .ok_or(Error::InvalidInput {
                field: "startsLocal",
                reason: "that time does not exist at the branch (clock change)".into(),
            })?
            .with_timezone(&Utc);
        let ends_at = starts_at + Duration::minutes(i64::from(new.minutes));

        let id = AppointmentId::new();
        let mut tx = self.pool().begin().await?;
        let customer_exists: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM customers WHERE id = ?")
                .bind(new.customer.to_string())
                .fetch_optional(&mut *tx)
                .await?;
        if customer_exists.is_none() {
            return Err(Error::not_found("customer", new.customer));
        }
        super::deletions::refuse_if_pending(&mut tx, new.customer).await?;
        sqlx::query(
            "INSERT INTO appointments (id, branch_id, customer_id, starts_at, ends_at, status, \
             created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'booked', ?, ?)",
        )
        .bind(id.to_string())
        .bind(new.branch.to_string())
        .bind(new.customer.to_string())
        .bind(time::to_db(starts_at))
        .bind(time::to_db(ends_at))
        .bind(time::to_db(now))
        .bind(time::to_db(now))
        .execute(&mut *tx)
        .await?;
        recount_bookings(&mut tx, new.customer).await?;
        let payload = serde_json::json!({
            "customer": new.customer, "branch": new.branch,
            "startsAt": time::to_db(starts_at), "endsAt": time::to_db(ends_at), "status": "booked",
        });
        let stamp = self.stamp(now);
        outbox::push(
            &mut tx,
            "appointment",
            &id.to_string(),
            Op::Upsert,
            &payload,
            stamp,
            now,
        )
        .await?;
        tx.commit().await?;
        self.appointment(id).await
    }

    /// Cancels an appointment; a deletion it was blocking completes if nothing else blocks.
    #[tracing::instrument(skip_all, fields(appointment.id = %id))]
    pub async fn cancel_appointment(&self, id: AppointmentId, now: DateTime<Utc>) -> Result<()> {
        let appointment = self.appointment(id).await?;
        if appointment.status == AppointmentStatus::Cancelled {
            return Ok(());
        }
        let mut tx = self.pool().begin().await?;
        sqlx::query("UPDATE appointments SET status = 'cancelled', updated_at = ? WHERE id = ?")
            .bind(time::to_db(now))
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        recount_bookings(&mut tx, appointment.customer).await?;
        let payload = serde_json::json!({ "status": "cancelled" });
        let stamp = self.stamp(now);
        outbox::push(
            &mut tx,
            "appointment",
            &id.to_string(),
            Op::Upsert,
            &payload,
            stamp,
            now,
        )
        .await?;
        tx.commit().await?;
        self.retry_deletion(appointment.customer, now).await?;
        Ok(())
    }

    /// One appointment.
    pub async fn appointment(&self, id: AppointmentId) -> Result<Appointment> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{SELECT_APPOINTMENTS} WHERE a.id = ?"
        )))
        .bind(id.to_string())
        .fetch_optional(self.pool())
        .await?
        .ok_or_else(|| Error::not_found("appointment", id))?;
        appointment_from_row(&row)
    }

    /// A customer's appointments in every branch, latest first.
    pub async fn appointments_of(&self, customer: CustomerId) -> Result<Vec<Appointment>> {
        let sql =
            format!("{SELECT_APPOINTMENTS} WHERE a.customer_id = ? ORDER BY a.starts_at DESC");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(customer.to_string())
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(appointment_from_row).collect()
    }
}

const SELECT_APPOINTMENTS: &str = "SELECT a.id, a.customer_id, a.branch_id, b.name, \
     b.time_zone, a.starts_at, a.ends_at, a.status FROM appointments a \
     JOIN branches b ON b.id = a.branch_id";

fn appointment_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<Appointment> {
    let status: String = row.try_get("status")?;
    Ok(Appointment {
        id: id_in(row, "id")?,
        customer: id_in(row, "customer_id")?,
        branch: id_in(row, "branch_id")?,
        branch_name: row.try_get("name")?,
        time_zone: row.try_get("time_zone")?,
        starts_at: time::from_db(&row.try_get::<String, _>("starts_at")?)?,
        ends_at: time::from_db(&row.try_get::<String, _>("ends_at")?)?,
        status: AppointmentStatus::parse(&status).ok_or(Error::InvalidInput {
            field: "status",
            reason: "unknown appointment status".into(),
        })?,
    })
}

/// Keeps the customer's booking count (appointments not cancelled) up to date.
async fn recount_bookings(conn: &mut SqliteConnection, customer: CustomerId) -> Result<()> {
    sqlx::query(
        "UPDATE customers SET bookings = (SELECT count(*) FROM appointments \
         WHERE customer_id = ?1 AND status != 'cancelled') WHERE id = ?1",
    )
    .bind(customer.to_string())
    .execute(conn)
    .await?;
    Ok(())
}

/// The appointments of one customer as the deletion rule sees them.
pub(crate) async fn slots_of(
    conn: &mut SqliteConnection,
    customer: CustomerId,
) -> Result<Vec<AppointmentSlot>> {
    let rows = sqlx::query(
        "SELECT id, branch_id, starts_at, ends_at, status FROM appointments WHERE customer_id = ?",
    )
    .bind(customer.to_string())
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|row| {
            let status: String = row.try_get("status")?;
            Ok(AppointmentSlot {
                id: id_in(row, "id")?,
                branch: id_in(row, "branch_id")?,
                starts_at: time::from_db(&row.try_get::<String, _>("starts_at")?)?,
                ends_at: time::from_db(&row.try_get::<String, _>("ends_at")?)?,
                status: AppointmentStatus::parse(&status).unwrap_or(AppointmentStatus::Booked),
            })
        })
        .collect()
}
