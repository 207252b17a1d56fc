//! The integrator API's work: customers and appointments read from their records, and
//! changed through the change log with the same checks and access rules as a desktop's
//! push, so every desktop and branch hears of them like of any other change.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, SecondsFormat, Timelike, Utc};
use clientela_core::domain::contact::is_known_region;
use clientela_core::domain::search::{escape_like, search_words};
use clientela_core::domain::text::fold;
use clientela_core::domain::validate::normalize_customer;
use clientela_core::domain::{
    Address, Assignment, Birthday, CustomerFields, Email, Gender, Origin, Phone,
};
use clientela_core::sync::{ChangeOp, PushOutcome, Record};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use sqlx::AnyConnection;
use uuid::Uuid;

use crate::access;
use crate::db::{Caller, Db, Role};
use crate::log::{is_canonical_uuid, push_in};
use crate::records::{self, customer_fields};
use crate::Error;

/// Where a phone number without its country code is read, unless the request says.
pub const DEFAULT_REGION: &str = "ES";
/// Most customers one bulk import takes.
pub const MAX_IMPORT: usize = 1000;
/// Most customers one list page returns.
pub const MAX_PAGE: u32 = 500;

/// A customer's fields as a request writes them; in an update, a field left out keeps its
/// value.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CustomerInput {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub emails: Option<Vec<EmailInput>>,
    pub phones: Option<Vec<PhoneInput>>,
    /// `1988-02-29`, or `--05-14` without a year; `null` clears it.
    #[serde(default, deserialize_with = "present")]
    pub birthday: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub gender: Option<Option<Gender>>,
    pub address: Option<AddressInput>,
    pub company: Option<String>,
    pub notes: Option<String>,
    pub external_id: Option<String>,
    pub tags: Option<Vec<String>>,
    /// Head office only; a branch's customers are assigned to it.
    pub assignment: Option<Assignment>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EmailInput {
    pub address: String,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub primary: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PhoneInput {
    pub number: String,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub primary: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AddressInput {
    pub street: Option<String>,
    pub city: Option<String>,
    pub postcode: Option<String>,
    pub region: Option<String>,
    pub country: Option<String>,
}

impl From<EmailInput> for Email {
    fn from(e: EmailInput) -> Self {
        Self {
            address: e.address,
            label: e.label,
            primary: e.primary,
        }
    }
}

impl From<PhoneInput> for Phone {
    fn from(p: PhoneInput) -> Self {
        Self {
            number: p.number,
            label: p.label,
            primary: p.primary,
        }
    }
}

/// A field that is present, even as `null`, is `Some`.
fn present<'de, T: Deserialize<'de>, D: Deserializer<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

impl CustomerInput {
    /// Writes the given fields over `fields`; `path` prefixes the names of bad values.
    fn apply_to(self, fields: &mut CustomerFields, path: &str) -> Result<(), Error> {
        let set = |target: &mut String, value: Option<String>| {
            if let Some(value) = value {
                *target = value;
            }
        };
        set(&mut fields.first_name, self.first_name);
        set(&mut fields.last_name, self.last_name);
        set(&mut fields.company, self.company);
        set(&mut fields.notes, self.notes);
        set(&mut fields.external_id, self.external_id);
        if let Some(emails) = self.emails {
            fields.emails = emails.into_iter().map(Email::from).collect();
        }
        if let Some(phones) = self.phones {
            fields.phones = phones.into_iter().map(Phone::from).collect();
        }
        if let Some(birthday) = self.birthday {
            fields.birthday = match birthday {
                None => None,
                Some(text) => {
                    let this_year = u16::try_from(Utc::now().year()).unwrap_or(u16::MAX);
                    let birthday = Birthday::parse_iso(text.trim())
                        .filter(|b| b.year.is_none_or(|y| (1900..=this_year).contains(&y)));
                    Some(birthday.ok_or_else(|| {
                        Error::invalid(
                            format!("{path}birthday"),
                            "not a date from 1900 to today written 1988-02-29, or --05-14 \
                             without a year",
                        )
                    })?)
                }
            };
        }
        if let Some(gender) = self.gender {
            fields.gender = gender;
        }
        if let Some(address) = self.address {
            let a = &mut fields.address;
            set(&mut a.street, address.street);
            set(&mut a.city, address.city);
            set(&mut a.postcode, address.postcode);
            set(&mut a.region, address.region);
            set(&mut a.country, address.country);
        }
        if let Some(tags) = self.tags {
            fields.tags = tags;
        }
        refuse_nul(fields, path)
    }
}

/// No text of a customer holds a NUL character: nothing types one, and PostgreSQL cannot
/// store one.
fn refuse_nul(fields: &CustomerFields, path: &str) -> Result<(), Error> {
    let Ok(Value::Object(values)) = serde_json::to_value(fields) else {
        return Ok(());
    };
    match values
        .iter()
        .find(|(_, v)| v.to_string().contains("\\u0000"))
    {
        Some((name, _)) => Err(Error::invalid(
            format!("{path}{name}"),
            "contains a NUL character",
        )),
        None => Ok(()),
    }
}

/// Checks and normalises `fields` as the desktop's form does, naming every bad field.
fn normalized(fields: &CustomerFields, region: &str, path: &str) -> Result<CustomerFields, Error> {
    let mut fields = normalize_customer(fields, region).map_err(|problems| {
        Error::InvalidFields(
            problems
                .into_iter()
                .map(|p| (format!("{path}{}", p.field), code_name(&p.code)))
                .collect(),
        )
    })?;
    fields.settle_primaries();
    Ok(fields)
}

fn code_name(code: &impl Serialize) -> String {
    serde_json::to_value(code)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "invalid".into())
}

/// A customer as the API shows it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomerView {
    pub id: String,
    pub first_name: String,
    pub last_name: String,
    pub emails: Vec<Email>,
    pub phones: Vec<Phone>,
    pub birthday: Option<String>,
    pub gender: Option<Gender>,
    pub address: Address,
    pub company: String,
    pub notes: String,
    pub external_id: String,
    pub tags: Vec<String>,
    pub assignment: Value,
    pub origin: Value,
}

impl CustomerView {
    fn of(id: &str, record: &Record) -> Self {
        let f = customer_fields(record);
        Self {
            id: id.to_owned(),
            first_name: f.first_name,
            last_name: f.last_name,
            emails: f.emails,
            phones: f.phones,
            birthday: f.birthday.map(|b| b.to_iso()),
            gender: f.gender,
            address: f.address,
            company: f.company,
            notes: f.notes,
            external_id: f.external_id,
            tags: f.tags,
            assignment: record
                .values
                .get(ASSIGNMENT)
                .cloned()
                .unwrap_or_else(|| serde_json::json!({ "kind": "branches", "branches": [] })),
            origin: record
                .values
                .get(ORIGIN)
                .cloned()
                .unwrap_or_else(|| serde_json::json!({ "kind": "global" })),
        }
    }
}

const ASSIGNMENT: &str = "assignment";
const ORIGIN: &str = "origin";

/// Filters of the customer list; every one given must hold.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CustomerQuery {
    /// Words of the name, email or phone, in any case and with or without accents.
    pub search: Option<String>,
    /// Customers of this branch: its local ones and the global ones assigned to it.
    pub branch: Option<String>,
    pub tag: Option<String>,
    pub external_id: Option<String>,
    pub limit: Option<u32>,
    /// The `next` of the previous page.
    pub after: Option<String>,
}

/// One page of customers, in name order.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomerPage {
    pub customers: Vec<CustomerView>,
    /// Pass as `after` for the next page; absent on the last one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// `POST /v1/customers/import`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImportRequest {
    pub customers: Vec<CustomerInput>,
}

/// What a bulk import did with one customer of the request.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportResult {
    pub external_id: String,
    pub id: String,
    /// `created`, `updated`, `unchanged` or `refused`.
    pub outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// `POST /v1/appointments`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AppointmentInput {
    pub customer_id: String,
    pub branch_id: String,
    /// RFC 3339, with its offset.
    pub starts_at: String,
    pub ends_at: String,
}

/// An appointment as the API shows it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppointmentView {
    pub id: String,
    pub customer_id: String,
    pub branch_id: String,
    pub starts_at: String,
    pub ends_at: String,
    /// `booked`, `cancelled` or `completed`.
    pub status: String,
}

impl AppointmentView {
    fn of(id: &str, record: &Record) -> Self {
        let text = |name: &str| text_of(record, name);
        Self {
            id: id.to_owned(),
            customer_id: text("customerId"),
            branch_id: text("branchId"),
            starts_at: text("startsAt"),
            ends_at: text("endsAt"),
            status: text("status"),
        }
    }
}

/// A branch as the API shows it; `POST /v1/branches` takes the same without `id`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BranchView {
    pub id: String,
    pub name: String,
    /// ISO 3166-1 alpha-2, such as `ES`: phone numbers of its customers without a country
    /// code are read there.
    pub country: String,
    /// IANA name, such as `Europe/Madrid`.
    pub time_zone: String,
}

/// `POST /v1/branches`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BranchInput {
    pub name: String,
    pub country: String,
    pub time_zone: String,
}

impl BranchView {
    fn of(id: &str, record: &Record) -> Self {
        let text = |name: &str| text_of(record, name);
        Self {
            id: id.to_owned(),
            name: text("name"),
            country: text("country"),
            time_zone: text("timeZone"),
        }
    }
}

/// A text field of a record; empty when the log never set it.
fn text_of(record: &Record, name: &str) -> String {
    record
        .values
        .get(name)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// Where an appointment goes next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppointmentStep {
    Cancel,
    Complete,
}

impl Db {
    /// One customer that `caller` may read.
    pub async fn api_customer(&self, caller: &Caller, id: &str) -> Result<CustomerView, Error> {
        let mut conn = self.pool().acquire().await?;
        let record = readable_customer(&mut conn, caller, id).await?;
        Ok(CustomerView::of(id, &record))
    }

    /// A page of the customers `caller` may read that match `query`, in name order.
    pub async fn api_customers(
        &self,
        caller: &Caller,
        query: CustomerQuery,
    ) -> Result<CustomerPage, Error> {
        let texts = [
            ("search", &query.search),
            ("branch", &query.branch),
            ("tag", &query.tag),
            ("externalId", &query.external_id),
            ("after", &query.after),
        ];
        if let Some((name, _)) = texts
            .iter()
            .find(|(_, v)| v.as_deref().is_some_and(|v| v.contains('\0')))
        {
            return Err(Error::invalid(*name, "contains a NUL character"));
        }
        let limit = query.limit.unwrap_or(100);
        if limit == 0 || limit > MAX_PAGE {
            return Err(Error::invalid("limit", format!("must be 1 to {MAX_PAGE}")));
        }
        let mut binds = vec![caller.company.clone()];
        let mut param = |value: String| {
            binds.push(value);
            format!("${}", binds.len())
        };
        let mut sql = String::from(
            "SELECT r.id, r.fields, r.stamps, r.sort_name FROM records r \
             WHERE r.company_id = $1 AND r.entity = 'customer'",
        );
        let backend = self.backend();
        if let Some(own) = caller
            .branch
            .clone()
            .filter(|_| caller.role == Role::Branch)
        {
            let own = param(own);
            sql += &format!(" AND {}", access::customer_of_branch(backend, "r.id", &own));
        }
        if let Some(branch) = query.branch {
            if !is_canonical_uuid(&branch) {
                return Err(Error::invalid("branch", "not a branch id"));
            }
            let branch = param(branch);
            sql += &format!(
                " AND {}",
                access::customer_of_branch(backend, "r.id", &branch)
            );
        }
        for word in query
            .search
            .as_deref()
            .map(search_words)
            .unwrap_or_default()
        {
            if !word.is_empty() {
                let like = param(format!("%{}%", escape_like(&word)));
                sql += &format!(" AND r.search_text LIKE {like} ESCAPE '\\'");
            }
        }
        if let Some(tag) = query.tag.filter(|t| !t.trim().is_empty()) {
            let keys = records::tag_keys(&[tag]);
            let like = param(format!("%{}%", escape_like(&keys)));
            sql += &format!(" AND r.tag_keys LIKE {like} ESCAPE '\\'");
        }
        if let Some(external_id) = query.external_id {
            let external_id = param(external_id.trim().to_owned());
            sql += &format!(" AND r.external_id = {external_id}");
        }
        if let Some(after) = query.after {
            let not_listed = || Error::invalid("after", "not the id of a listed customer");
            if !is_canonical_uuid(&after) {
                return Err(not_listed());
            }
            let mut conn = self.pool().acquire().await?;
            if !access::may_read_customer(&mut conn, caller, &after).await? {
                return Err(not_listed());
            }
            let sort_name: Option<String> = sqlx::query_scalar(
                "SELECT sort_name FROM records \
                 WHERE company_id = $1 AND entity = 'customer' AND id = $2",
            )
            .bind(&caller.company)
            .bind(&after)
            .fetch_optional(&mut *conn)
            .await?;
            let sort_name = sort_name.ok_or_else(not_listed)?;
            let (name, id) = (param(sort_name), param(after));
            sql +=
                &format!(" AND (r.sort_name > {name} OR (r.sort_name = {name} AND r.id > {id}))");
        }
        sql += &format!(" ORDER BY r.sort_name, r.id LIMIT {}", limit + 1);

        let mut statement =
            sqlx::query_as::<_, (String, String, String, String)>(sqlx::AssertSqlSafe(sql));
        for value in &binds {
            statement = statement.bind(value);
        }
        let rows = statement.fetch_all(self.pool()).await?;
        let more = rows.len() > limit as usize;
        let mut customers = Vec::with_capacity(rows.len());
        for (id, fields, stamps, _) in rows.into_iter().take(limit as usize) {
            customers.push(CustomerView::of(&id, &records::decode(&fields, &stamps)?));
        }
        let next = more
            .then(|| customers.last().map(|c| c.id.clone()))
            .flatten();
        Ok(CustomerPage { customers, next })
    }

    /// Creates a customer: global for head office, local to the branch for a branch.
    pub async fn api_create_customer(
        &self,
        caller: &Caller,
        input: CustomerInput,
        region: &str,
    ) -> Result<CustomerView, Error> {
        let mut tx = self.begin_write(&caller.company).await?;
        let (id, values) = new_customer(&mut tx, caller, input, region, "").await?;
        let change = self.authored_change("customer", &id, ChangeOp::Upsert, values, None);
        self.write_one(tx, caller, change).await?;
        self.api_customer(caller, &id).await
    }

    /// Changes the given fields of a customer; the others keep their values.
    pub async fn api_update_customer(
        &self,
        caller: &Caller,
        id: &str,
        input: CustomerInput,
        region: &str,
    ) -> Result<CustomerView, Error> {
        let mut tx = self.begin_write(&caller.company).await?;
        let record = readable_customer(&mut tx, caller, id).await?;
        if let Some(values) =
            changed_values(&mut tx, caller, id, &record, input, region, "").await?
        {
            let beat = record.latest_stamp();
            let change = self.authored_change("customer", id, ChangeOp::Upsert, values, beat);
            self.write_one(tx, caller, change).await?;
        }
        self.api_customer(caller, id).await
    }

    /// Deletes a customer for good. One with a booked appointment that is not over is
    /// refused: cancel or complete the appointment first (DESIGN.md, rule 8).
    pub async fn api_delete_customer(&self, caller: &Caller, id: &str) -> Result<(), Error> {
        let mut tx = self.begin_write(&caller.company).await?;
        readable_customer(&mut tx, caller, id).await?;
        let now = Utc::now();
        let appointments: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT id, fields, stamps FROM records \
             WHERE company_id = $1 AND entity = 'appointment' AND customer_id = $2",
        )
        .bind(&caller.company)
        .bind(id)
        .fetch_all(&mut *tx)
        .await?;
        for (appointment, fields, stamps) in appointments {
            let view = AppointmentView::of(&appointment, &records::decode(&fields, &stamps)?);
            // An end that cannot be read holds the deletion, as one in the future would.
            let ends = DateTime::parse_from_rfc3339(&view.ends_at).map(|t| t.to_utc());
            if view.status == "booked" && ends.ok().is_none_or(|ends| ends > now) {
                return Err(Error::Conflict {
                    code: "futureAppointment",
                    message: format!(
                        "the customer has an appointment on {} at branch {}; cancel or \
                         complete it first",
                        view.starts_at, view.branch_id
                    ),
                });
            }
        }
        let change = self.authored_change("customer", id, ChangeOp::Delete, BTreeMap::new(), None);
        self.write_one(tx, caller, change).await
    }

    /// Creates or updates each customer by its external id: sending the same request
    /// again changes nothing. Every customer is checked before any is written.
    pub async fn api_import(
        &self,
        caller: &Caller,
        request: ImportRequest,
        region: &str,
    ) -> Result<Vec<ImportResult>, Error> {
        if request.customers.len() > MAX_IMPORT {
            return Err(Error::invalid(
                "customers",
                format!("more than {MAX_IMPORT} in one request"),
            ));
        }
        let mut tx = self.begin_write(&caller.company).await?;
        let mut seen = std::collections::HashSet::new();
        let mut planned = Vec::with_capacity(request.customers.len());
        for (i, input) in request.customers.into_iter().enumerate() {
            let path = format!("customers.{i}.");
            let external_id = input.external_id.as_deref().map(str::trim).unwrap_or("");
            if external_id.is_empty() {
                return Err(Error::invalid(
                    format!("{path}externalId"),
                    "a bulk import finds customers by external id; it is missing",
                ));
            }
            let external_id = external_id.to_owned();
            if !seen.insert(external_id.clone()) {
                return Err(Error::invalid(
                    format!("{path}externalId"),
                    "the same external id is already earlier in this request",
                ));
            }
            let plan = match customer_by_external_id(&mut tx, caller, &external_id).await? {
                Some((id, _)) if !access::may_read_customer(&mut tx, caller, &id).await? => {
                    // Another branch's customer: say no more than that the id is taken.
                    return Err(Error::Conflict {
                        code: "externalIdTaken",
                        message: format!("{path}externalId: another customer has it"),
                    });
                }
                Some((id, record)) => {
                    let values =
                        changed_values(&mut tx, caller, &id, &record, input, region, &path).await?;
                    let beat = record.latest_stamp().map(str::to_owned);
                    (id, values.map(|v| (v, beat)), false)
                }
                None => {
                    let (id, values) = new_customer(&mut tx, caller, input, region, &path).await?;
                    (id, Some((values, None)), true)
                }
            };
            planned.push((external_id, plan));
        }

        let mut changes = Vec::new();
        for (_, (id, values, _)) in &planned {
            if let Some((values, beat)) = values {
                let change = self.authored_change(
                    "customer",
                    id,
                    ChangeOp::Upsert,
                    values.clone(),
                    beat.as_deref(),
                );
                changes.push(change);
            }
        }
        let pushed = push_in(&mut tx, caller, &changes).await?;
        self.commit_and_announce(tx, &caller.company, &pushed)
            .await?;
        let mut outcomes = pushed.into_iter();
        let mut results = Vec::with_capacity(planned.len());
        for (external_id, (id, values, created)) in planned {
            let mut result = ImportResult {
                external_id,
                id,
                outcome: "unchanged",
                code: None,
                message: None,
            };
            if values.is_some() {
                match outcomes.next().map(|r| r.outcome) {
                    Some(PushOutcome::Refused { code, message }) => {
                        result.outcome = "refused";
                        result.code = Some(code);
                        result.message = Some(message);
                    }
                    _ if created => result.outcome = "created",
                    _ => result.outcome = "updated",
                }
            }
            results.push(result);
        }
        Ok(results)
    }

    /// Every branch of the company, by name; branches see them all, as in sync.
    pub async fn api_branches(&self, caller: &Caller) -> Result<Vec<BranchView>, Error> {
        let rows: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT id, fields, stamps FROM records WHERE company_id = $1 AND entity = 'branch'",
        )
        .bind(&caller.company)
        .fetch_all(self.pool())
        .await?;
        let mut branches = rows
            .iter()
            .map(|(id, fields, stamps)| Ok(BranchView::of(id, &records::decode(fields, stamps)?)))
            .collect::<Result<Vec<_>, Error>>()?;
        branches.sort_by_cached_key(|b| fold(&b.name));
        Ok(branches)
    }

    /// Adds a branch, as head office does on its desktop. Names are unique ignoring case and
    /// accents.
    pub async fn api_create_branch(
        &self,
        caller: &Caller,
        input: BranchInput,
    ) -> Result<BranchView, Error> {
        if caller.role == Role::Branch {
            return Err(Error::Refused {
                code: "forbidden".into(),
                message: "only head office adds branches".into(),
            });
        }
        let checked = clientela_core::store::BranchInput {
            name: input.name,
            country: input.country,
            time_zone: input.time_zone,
        }
        .validated()
        .map_err(|e| match e {
            clientela_core::Error::InvalidInput { field, reason } => Error::invalid(field, reason),
            other => Error::invalid("body", other.to_string()),
        })?;
        if [&checked.name, &checked.country, &checked.time_zone]
            .iter()
            .any(|t| t.contains('\0'))
        {
            return Err(Error::invalid("name", "contains a NUL character"));
        }
        let mut tx = self.begin_write(&caller.company).await?;
        let names: Vec<(String,)> = sqlx::query_as(
            "SELECT fields FROM records WHERE company_id = $1 AND entity = 'branch'",
        )
        .bind(&caller.company)
        .fetch_all(&mut *tx)
        .await?;
        let key = fold(&checked.name);
        let taken = names.iter().any(|(fields,)| {
            serde_json::from_str::<Value>(fields)
                .ok()
                .and_then(|v| v["name"].as_str().map(fold))
                .is_some_and(|name| name == key)
        });
        if taken {
            return Err(Error::Conflict {
                code: "branchNameTaken",
                message: "name: another branch has it (ignoring case and accents)".into(),
            });
        }
        let id = Uuid::now_v7().to_string();
        let values = BTreeMap::from([
            ("name".to_owned(), Value::from(checked.name.clone())),
            ("country".to_owned(), Value::from(checked.country.clone())),
            (
                "timeZone".to_owned(),
                Value::from(checked.time_zone.clone()),
            ),
        ]);
        let change = self.authored_change("branch", &id, ChangeOp::Upsert, values, None);
        self.write_one(tx, caller, change).await?;
        Ok(BranchView {
            id,
            name: checked.name,
            country: checked.country,
            time_zone: checked.time_zone,
        })
    }

    /// Books an appointment of a customer at a branch.
    pub async fn api_create_appointment(
        &self,
        caller: &Caller,
        input: AppointmentInput,
    ) -> Result<AppointmentView, Error> {
        if !is_canonical_uuid(&input.customer_id) {
            return Err(Error::invalid("customerId", "not a customer id"));
        }
        if !is_canonical_uuid(&input.branch_id) {
            return Err(Error::invalid("branchId", "not a branch id"));
        }
        let time = |field: &str, text: &str| {
            let time = DateTime::parse_from_rfc3339(text.trim())
                .map(|t| t.to_utc())
                .map_err(|_| {
                    Error::invalid(
                        field,
                        "not an RFC 3339 time such as 2027-01-14T10:30:00+01:00",
                    )
                })?;
            // Leap seconds and far years have no stored form every node reads back.
            if time.nanosecond() >= 1_000_000_000 || !(2000..=2100).contains(&time.year()) {
                return Err(Error::invalid(
                    field,
                    "not a time between the years 2000 and 2100",
                ));
            }
            Ok(time)
        };
        if let Some(own) = caller
            .branch
            .as_deref()
            .filter(|_| caller.role == Role::Branch)
        {
            if own != input.branch_id {
                return Err(Error::Refused {
                    code: "forbidden".into(),
                    message: "a branch books appointments only at itself".into(),
                });
            }
        }
        let starts = time("startsAt", &input.starts_at)?;
        let ends = time("endsAt", &input.ends_at)?;
        if ends <= starts {
            return Err(Error::invalid("endsAt", "not after startsAt"));
        }
        if ends - starts > chrono::Duration::hours(24) {
            return Err(Error::invalid(
                "endsAt",
                "more than 24 hours after startsAt",
            ));
        }
        let mut tx = self.begin_write(&caller.company).await?;
        match readable_customer(&mut tx, caller, &input.customer_id).await {
            Err(Error::NotFound(_)) => {
                return Err(Error::invalid("customerId", "no such customer"));
            }
            other => other?,
        };
        if records::load(&mut tx, &caller.company, "branch", &input.branch_id)
            .await?
            .is_none()
        {
            return Err(Error::invalid("branchId", "no such branch"));
        }
        // Booked where the customer is known: a branch sees its appointments' customers.
        let at_branch = Caller {
            role: Role::Branch,
            branch: Some(input.branch_id.clone()),
            ..caller.clone()
        };
        if !access::may_read_customer(&mut tx, &at_branch, &input.customer_id).await? {
            return Err(Error::invalid(
                "branchId",
                "the customer is neither assigned to this branch nor one of its own",
            ));
        }
        let stored_time = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Millis, true);
        let values = BTreeMap::from([
            ("customerId".to_owned(), Value::from(input.customer_id)),
            ("branchId".to_owned(), Value::from(input.branch_id)),
            ("startsAt".to_owned(), Value::from(stored_time(starts))),
            ("endsAt".to_owned(), Value::from(stored_time(ends))),
            ("status".to_owned(), Value::from("booked")),
        ]);
        let id = Uuid::now_v7().to_string();
        let change = self.authored_change("appointment", &id, ChangeOp::Upsert, values, None);
        self.write_one(tx, caller, change).await?;
        self.api_appointment(caller, &id).await
    }

    /// One appointment that `caller` may read: head office every one, a branch its own.
    pub async fn api_appointment(
        &self,
        caller: &Caller,
        id: &str,
    ) -> Result<AppointmentView, Error> {
        let mut conn = self.pool().acquire().await?;
        let record = records::load(&mut conn, &caller.company, "appointment", id)
            .await?
            .ok_or(Error::NotFound("appointment"))?;
        let view = AppointmentView::of(id, &record);
        match caller
            .branch
            .as_deref()
            .filter(|_| caller.role == Role::Branch)
        {
            Some(own) if own != view.branch_id => Err(Error::NotFound("appointment")),
            _ => Ok(view),
        }
    }

    /// Cancels or completes a booked appointment; doing it again changes nothing.
    pub async fn api_step_appointment(
        &self,
        caller: &Caller,
        id: &str,
        step: AppointmentStep,
    ) -> Result<AppointmentView, Error> {
        let target = match step {
            AppointmentStep::Cancel => "cancelled",
            AppointmentStep::Complete => "completed",
        };
        let mut tx = self.begin_write(&caller.company).await?;
        let record = records::load(&mut tx, &caller.company, "appointment", id)
            .await?
            .ok_or(Error::NotFound("appointment"))?;
        let view = AppointmentView::of(id, &record);
        let own = caller
            .branch
            .as_deref()
            .filter(|_| caller.role == Role::Branch);
        if own.is_some_and(|own| own != view.branch_id) {
            return Err(Error::NotFound("appointment"));
        }
        if view.status == target {
            return Ok(view);
        }
        if view.status != "booked" {
            return Err(Error::Conflict {
                code: "invalidState",
                message: format!("the appointment is {}, not booked", view.status),
            });
        }
        let values = BTreeMap::from([("status".to_owned(), Value::from(target))]);
        let beat = record.latest_stamp();
        let change = self.authored_change("appointment", id, ChangeOp::Upsert, values, beat);
        self.write_one(tx, caller, change).await?;
        self.api_appointment(caller, id).await
    }

    /// Logs one change this server made for `caller` and commits; a refusal becomes the
    /// error, and nothing is written.
    async fn write_one(
        &self,
        mut tx: sqlx::Transaction<'static, sqlx::Any>,
        caller: &Caller,
        change: clientela_core::sync::Change,
    ) -> Result<(), Error> {
        let results = push_in(&mut tx, caller, std::slice::from_ref(&change)).await?;
        if let Some(PushOutcome::Refused { code, message }) = results.first().map(|r| &r.outcome) {
            return Err(Error::Refused {
                code: code.clone(),
                message: message.clone(),
            });
        }
        self.commit_and_announce(tx, &caller.company, &results)
            .await
    }
}

/// The record of a customer `caller` may read; others are not found, so that a branch
/// cannot even learn that another branch's customer exists.
async fn readable_customer(
    conn: &mut AnyConnection,
    caller: &Caller,
    id: &str,
) -> Result<Record, Error> {
    let record = records::load(conn, &caller.company, "customer", id).await?;
    match record {
        Some(record) if access::may_read_customer(conn, caller, id).await? => Ok(record),
        _ => Err(Error::NotFound("customer")),
    }
}

async fn customer_by_external_id(
    conn: &mut AnyConnection,
    caller: &Caller,
    external_id: &str,
) -> Result<Option<(String, Record)>, Error> {
    let row: Option<(String, String, String)> = sqlx::query_as(
        "SELECT id, fields, stamps FROM records \
         WHERE company_id = $1 AND entity = 'customer' AND external_id = $2",
    )
    .bind(&caller.company)
    .bind(external_id)
    .fetch_optional(conn)
    .await?;
    row.map(|(id, fields, stamps)| Ok((id, records::decode(&fields, &stamps)?)))
        .transpose()
}

/// A new customer's id and every field of it, checked.
async fn new_customer(
    conn: &mut AnyConnection,
    caller: &Caller,
    input: CustomerInput,
    region: &str,
    path: &str,
) -> Result<(String, BTreeMap<String, Value>), Error> {
    let own = caller
        .branch
        .clone()
        .filter(|_| caller.role == Role::Branch);
    let (origin, assignment) = match (&own, input.assignment.clone()) {
        (Some(_), Some(_)) => {
            return Err(Error::invalid(
                format!("{path}assignment"),
                "a branch's customers are its own; head office assigns customers",
            ))
        }
        (Some(branch), None) => {
            let branch = branch.parse().map_err(|_| Error::NotFound("branch"))?;
            (Origin::Local(branch), Assignment::Branches(vec![branch]))
        }
        (None, assignment) => (
            Origin::Global,
            assignment.unwrap_or(Assignment::AllBranches),
        ),
    };
    check_assignment(conn, caller, &assignment, path).await?;
    let mut fields = CustomerFields::default();
    input.apply_to(&mut fields, path)?;
    let fields = normalized(&fields, region, path)?;
    let id = Uuid::now_v7().to_string();
    check_external_id(conn, caller, &id, &fields.external_id, path).await?;
    Ok((id, values_of(&fields, Some(&assignment), Some(origin))?))
}

/// The fields `input` changes on stored customer `id`, checked; `None` when it changes
/// nothing.
async fn changed_values(
    conn: &mut AnyConnection,
    caller: &Caller,
    id: &str,
    record: &Record,
    mut input: CustomerInput,
    region: &str,
    path: &str,
) -> Result<Option<BTreeMap<String, Value>>, Error> {
    let assignment = input.assignment.take();
    if let Some(assignment) = &assignment {
        if caller.role == Role::Branch {
            return Err(Error::invalid(
                format!("{path}assignment"),
                "only head office assigns customers to branches",
            ));
        }
        check_assignment(conn, caller, assignment, path).await?;
    }
    let mut fields = customer_fields(record);
    input.apply_to(&mut fields, path)?;
    let fields = normalized(&fields, region, path)?;
    check_external_id(conn, caller, id, &fields.external_id, path).await?;
    let stored_assignment = record
        .values
        .get(ASSIGNMENT)
        .and_then(|v| serde_json::from_value(v.clone()).ok());
    let mut new = values_of(&fields, None, None)?;
    if let Some(assignment) = assignment.or(stored_assignment) {
        new.insert(ASSIGNMENT.into(), to_value(&assignment)?);
    }
    let changed: BTreeMap<String, Value> = new
        .into_iter()
        .filter(|(name, value)| record.values.get(name) != Some(value))
        .collect();
    Ok((!changed.is_empty()).then_some(changed))
}

/// Every branch an assignment names must exist.
async fn check_assignment(
    conn: &mut AnyConnection,
    caller: &Caller,
    assignment: &Assignment,
    path: &str,
) -> Result<(), Error> {
    let Assignment::Branches(ids) = assignment else {
        return Ok(());
    };
    for (i, branch) in ids.iter().enumerate() {
        let known = records::load(conn, &caller.company, "branch", &branch.to_string()).await?;
        if known.is_none() {
            return Err(Error::invalid(
                format!("{path}assignment.branches.{i}"),
                "no such branch",
            ));
        }
    }
    Ok(())
}

/// An external id names one customer of the company.
async fn check_external_id(
    conn: &mut AnyConnection,
    caller: &Caller,
    id: &str,
    external_id: &str,
    path: &str,
) -> Result<(), Error> {
    if external_id.is_empty() {
        return Ok(());
    }
    match customer_by_external_id(conn, caller, external_id).await? {
        Some((owner, _)) if owner != id => Err(Error::Conflict {
            code: "externalIdTaken",
            message: format!("{path}externalId: another customer has it"),
        }),
        _ => Ok(()),
    }
}

/// Every field of a customer as a change carries it, as a desktop sends them.
fn values_of(
    fields: &CustomerFields,
    assignment: Option<&Assignment>,
    origin: Option<Origin>,
) -> Result<BTreeMap<String, Value>, Error> {
    let Value::Object(map) = to_value(fields)? else {
        return Ok(BTreeMap::new());
    };
    let mut values: BTreeMap<String, Value> = map.into_iter().collect();
    if let Some(assignment) = assignment {
        values.insert(ASSIGNMENT.into(), to_value(assignment)?);
    }
    if let Some(origin) = origin {
        values.insert(ORIGIN.into(), to_value(&origin)?);
    }
    Ok(values)
}

fn to_value(value: &impl Serialize) -> Result<Value, Error> {
    serde_json::to_value(value).map_err(|e| Error::invalid("customer", e.to_string()))
}

/// The region a request's phone numbers without country code are read in.
pub fn region_of(requested: Option<&str>) -> Result<String, Error> {
    let region = requested
        .unwrap_or(DEFAULT_REGION)
        .trim()
        .to_ascii_uppercase();
    if !is_known_region(&region) {
        return Err(Error::invalid(
            "region",
            "not a two-letter country code whose phone numbers are known, such as ES",
        ));
    }
    Ok(region)
}
