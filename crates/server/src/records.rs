//! The current state of every entity, folded from the change log as each change is logged
//! (the highest stamp wins per field, as on every desktop). The integrator API reads it.

use clientela_core::domain::search::{search_text, sort_name};
use clientela_core::domain::text::fold;
use clientela_core::domain::CustomerFields;
use clientela_core::sync::{Change, ChangeOp, Record};
use sqlx::{AnyConnection, AnyPool};

use crate::Error;

/// Folds the whole change log into records when a log exists without them: a database
/// from before records were kept. Runs once, at start-up.
pub(crate) async fn rebuild_if_missing(pool: &AnyPool) -> Result<(), Error> {
    let has_records: Option<i64> = sqlx::query_scalar("SELECT 1 FROM records LIMIT 1")
        .fetch_optional(pool)
        .await?;
    let has_log: Option<i64> = sqlx::query_scalar("SELECT 1 FROM change_log LIMIT 1")
        .fetch_optional(pool)
        .await?;
    if has_records.is_some() || has_log.is_none() {
        return Ok(());
    }
    tracing::info!("keeping records of the change log for the first time");
    let mut tx = pool.begin().await?;
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT company_id, body FROM change_log ORDER BY seq")
            .fetch_all(&mut *tx)
            .await?;
    for (company, body) in rows {
        let change: Change = serde_json::from_str(&body)
            .map_err(|e| Error::invalid("change_log.body", e.to_string()))?;
        apply(&mut tx, &company, &change).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The record of `entity` `id`, if the log holds one.
pub(crate) async fn load(
    conn: &mut AnyConnection,
    company: &str,
    entity: &str,
    id: &str,
) -> Result<Option<Record>, Error> {
    let row: Option<(String, String)> = sqlx::query_as(
        "SELECT fields, stamps FROM records WHERE company_id = $1 AND entity = $2 AND id = $3",
    )
    .bind(company)
    .bind(entity)
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.map(|(fields, stamps)| decode(&fields, &stamps))
        .transpose()
}

pub(crate) fn decode(fields: &str, stamps: &str) -> Result<Record, Error> {
    let broken = |e: serde_json::Error| Error::invalid("records", e.to_string());
    Ok(Record {
        values: serde_json::from_str(fields).map_err(broken)?,
        stamps: serde_json::from_str(stamps).map_err(broken)?,
    })
}

/// Folds a logged `change` into its entity's record; a deletion removes the record, and a
/// customer's deletion its appointments too.
pub(crate) async fn apply(
    conn: &mut AnyConnection,
    company: &str,
    change: &Change,
) -> Result<(), Error> {
    if change.op == ChangeOp::Delete {
        sqlx::query("DELETE FROM records WHERE company_id = $1 AND entity = $2 AND id = $3")
            .bind(company)
            .bind(&change.entity)
            .bind(&change.entity_id)
            .execute(&mut *conn)
            .await?;
        if change.entity == "customer" {
            sqlx::query(
                "DELETE FROM records WHERE company_id = $1 AND entity = 'appointment' \
                 AND customer_id = $2",
            )
            .bind(company)
            .bind(&change.entity_id)
            .execute(&mut *conn)
            .await?;
        }
        return Ok(());
    }
    let mut record = load(conn, company, &change.entity, &change.entity_id)
        .await?
        .unwrap_or_default();
    if !record.apply(change) {
        return Ok(());
    }
    let derived = Derived::of(&change.entity, &record);
    sqlx::query(
        "INSERT INTO records (company_id, entity, id, fields, stamps, external_id, sort_name, \
         search_text, tag_keys, customer_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         ON CONFLICT (company_id, entity, id) DO UPDATE SET fields = excluded.fields, \
         stamps = excluded.stamps, external_id = excluded.external_id, \
         sort_name = excluded.sort_name, search_text = excluded.search_text, \
         tag_keys = excluded.tag_keys, customer_id = excluded.customer_id",
    )
    .bind(company)
    .bind(&change.entity)
    .bind(&change.entity_id)
    .bind(to_json(&record.values)?)
    .bind(to_json(&record.stamps)?)
    .bind(derived.external_id)
    .bind(derived.sort_name)
    .bind(derived.search_text)
    .bind(derived.tag_keys)
    .bind(derived.customer_id)
    .execute(conn)
    .await?;
    Ok(())
}

fn to_json(value: &impl serde::Serialize) -> Result<String, Error> {
    serde_json::to_string(value).map_err(|e| Error::invalid("records", e.to_string()))
}

/// The columns the API filters and sorts on, worked out from a record.
#[derive(Default)]
struct Derived {
    external_id: Option<String>,
    sort_name: String,
    search_text: String,
    tag_keys: String,
    customer_id: Option<String>,
}

impl Derived {
    fn of(entity: &str, record: &Record) -> Self {
        match entity {
            "customer" => {
                let fields = customer_fields(record);
                let sort_name = sort_name(&fields);
                // PostgreSQL text holds no NUL; a device may still have sent one.
                let text = |s: &str| s.replace('\0', "");
                Self {
                    external_id: Some(text(&fields.external_id)).filter(|e| !e.is_empty()),
                    search_text: text(&search_text(&fields, &sort_name)),
                    sort_name: text(&sort_name),
                    tag_keys: text(&tag_keys(&fields.tags)),
                    customer_id: None,
                }
            }
            "appointment" => Self {
                customer_id: record
                    .values
                    .get("customerId")
                    .and_then(|v| v.as_str())
                    .map(str::to_owned),
                ..Self::default()
            },
            _ => Self::default(),
        }
    }
}

/// A customer record's fields; a field the log never set, or set to something else than a
/// customer field holds, reads as empty.
pub(crate) fn customer_fields(record: &Record) -> CustomerFields {
    let mut fields = CustomerFields::default();
    let serde_json::Value::Object(mut all) =
        serde_json::to_value(&fields).unwrap_or(serde_json::Value::Null)
    else {
        return fields;
    };
    let known = |name: &String| all.contains_key(name);
    let given: serde_json::Map<String, serde_json::Value> = record
        .values
        .iter()
        .filter(|(name, _)| known(name))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    let mut whole = all.clone();
    whole.extend(given);
    // Nearly always every value reads; field by field only to leave out one that does not.
    if let Ok(read) = serde_json::from_value(serde_json::Value::Object(whole)) {
        return read;
    }
    for (name, value) in &record.values {
        if !all.contains_key(name) {
            continue;
        }
        let mut one = all.clone();
        one.insert(name.clone(), value.clone());
        if serde_json::from_value::<CustomerFields>(serde_json::Value::Object(one)).is_ok() {
            all.insert(name.clone(), value.clone());
        }
    }
    if let Ok(read) = serde_json::from_value(serde_json::Value::Object(all)) {
        fields = read;
    }
    fields
}

/// Tags folded and written `|a|b|`, so a tag filter is one LIKE on both backends.
pub(crate) fn tag_keys(tags: &[String]) -> String {
    if tags.is_empty() {
        return String::new();
    }
    let folded: Vec<String> = tags.iter().map(|t| fold(t).replace('|', " ")).collect();
    format!("|{}|", folded.join("|"))
}
