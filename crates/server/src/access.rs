//! Who sees and changes which customer. Head office sees and changes everything of its
//! company. A branch sees its own local customers and the global customers assigned to it
//! (or to all branches), changes only its own local customers, and never deletes a global
//! one. Branch edits of global customers (overrides, behind a company setting) are not
//! offered yet, so they are refused with a reason.

use clientela_core::sync::{Change, ChangeOp, PushOutcome};
use serde::Deserialize;
use sqlx::AnyConnection;

use crate::db::{Backend, Caller, Role};
use crate::log::is_canonical_uuid;
use crate::records;
use crate::Error;

/// The origin and assignment of a customer as the server keeps them.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Access {
    origin_branch: Option<String>,
}

/// `origin` as a change carries it.
#[derive(Deserialize)]
#[serde(tag = "kind", content = "branch", rename_all = "camelCase")]
enum Origin {
    Global,
    Local(String),
}

/// `assignment` as a change carries it.
#[derive(Deserialize)]
#[serde(tag = "kind", content = "branches", rename_all = "camelCase")]
enum Assignment {
    AllBranches,
    Branches(Vec<String>),
}

/// `Some(refusal)` when `caller` may not make `change`, or the change would give a
/// customer a malformed or different origin, or a malformed assignment.
pub(crate) async fn refusal(
    conn: &mut AnyConnection,
    caller: &Caller,
    change: &Change,
) -> Result<Option<PushOutcome>, Error> {
    if change.entity == "customer" {
        if let Err(reason) = check_shape(change) {
            return Ok(Some(refused("invalidChange", &reason)));
        }
    }
    let stored = if change.entity == "customer" {
        stored(conn, &caller.company, &change.entity_id).await?
    } else {
        None
    };
    // Where a customer belongs is fixed when it is made: a new one without an origin is
    // global.
    let said = origin_of(change).map(|o| match o {
        Origin::Global => None,
        Origin::Local(branch) => Some(branch),
    });
    if let (Some(access), Some(said)) = (&stored, &said) {
        if access.origin_branch != *said {
            return Ok(Some(refused(
                "invalidChange",
                "origin: a customer's origin cannot change",
            )));
        }
    }

    if change.entity == "appointment" {
        return appointment_refusal(conn, caller, change).await;
    }
    let Some(branch) = caller
        .branch
        .as_deref()
        .filter(|_| caller.role == Role::Branch)
    else {
        return Ok(None);
    };
    if change.entity != "customer" {
        return Ok(Some(refused(
            "forbidden",
            "a branch changes only its own customers",
        )));
    }
    let origin = match stored {
        Some(access) => access.origin_branch,
        None => said.flatten(),
    };
    Ok(match (origin.as_deref(), change.op) {
        (Some(own), _) if own == branch => None,
        (Some(_), _) => Some(refused(
            "forbidden",
            "the customer belongs to another branch",
        )),
        (None, ChangeOp::Delete) => Some(refused(
            "globalDelete",
            "only head office can delete a global customer",
        )),
        (None, ChangeOp::Upsert) => Some(refused(
            "branchEditsOff",
            "this company does not let branches change global customers",
        )),
    })
}

/// An appointment keeps its customer and branch; a branch books and changes appointments
/// only at itself.
async fn appointment_refusal(
    conn: &mut AnyConnection,
    caller: &Caller,
    change: &Change,
) -> Result<Option<PushOutcome>, Error> {
    let stored = records::load(conn, &caller.company, "appointment", &change.entity_id).await?;
    let text = |values: &std::collections::BTreeMap<String, serde_json::Value>, name: &str| {
        values.get(name).and_then(|v| v.as_str()).map(str::to_owned)
    };
    let mut branch = None;
    for name in ["customerId", "branchId"] {
        let said = change.fields.get(name).map(|f| f.value.as_str());
        if let Some(said) = said {
            if !said.is_some_and(is_canonical_uuid) {
                return Ok(Some(refused(
                    "invalidChange",
                    &format!("{name}: not an id"),
                )));
            }
        }
        let kept = stored.as_ref().and_then(|r| text(&r.values, name));
        if let (Some(Some(said)), Some(kept)) = (said, &kept) {
            if said != kept {
                return Ok(Some(refused(
                    "invalidChange",
                    &format!("{name}: an appointment's {name} cannot change"),
                )));
            }
        }
        if name == "branchId" {
            branch = kept.or(said.flatten().map(str::to_owned));
        }
    }
    let own = caller
        .branch
        .as_deref()
        .filter(|_| caller.role == Role::Branch);
    let Some(own) = own else {
        return Ok(None);
    };
    if branch.as_deref() != Some(own) {
        return Ok(Some(refused(
            "forbidden",
            "a branch books and changes appointments only at itself",
        )));
    }
    // And only for its own customers.
    let customer = stored
        .as_ref()
        .and_then(|r| text(&r.values, "customerId"))
        .or_else(|| {
            let said = change.fields.get("customerId")?;
            said.value.as_str().map(str::to_owned)
        });
    Ok(match customer {
        Some(customer) if may_read_customer(conn, caller, &customer).await? => None,
        _ => Some(refused(
            "forbidden",
            "a branch books appointments only for its own customers",
        )),
    })
}

/// Whether `caller` may read customer `customer`: head office reads every customer of its
/// company; a branch its own local customers and the global ones assigned to it.
pub(crate) async fn may_read_customer(
    conn: &mut AnyConnection,
    caller: &Caller,
    customer: &str,
) -> Result<bool, Error> {
    let Some(branch) = caller
        .branch
        .as_deref()
        .filter(|_| caller.role == Role::Branch)
    else {
        return Ok(true);
    };
    let row: Option<(Option<String>, i64, String)> = sqlx::query_as(
        "SELECT origin_branch, all_branches, branches FROM customer_access \
         WHERE company_id = $1 AND customer_id = $2",
    )
    .bind(&caller.company)
    .bind(customer)
    .fetch_optional(conn)
    .await?;
    Ok(match row {
        None => false,
        Some((Some(origin), _, _)) => origin == branch,
        Some((None, all, branches)) => {
            all == 1
                || serde_json::from_str::<Vec<String>>(&branches)
                    .is_ok_and(|ids| ids.iter().any(|id| id == branch))
        }
    })
}

/// The SQL condition that customer `id_column` belongs to the branch bound as `param`: its
/// local customer, or a global one assigned to it.
pub(crate) fn customer_of_branch(backend: Backend, id_column: &str, param: &str) -> String {
    let assigned = match backend {
        Backend::Sqlite => {
            format!("EXISTS (SELECT 1 FROM json_each(a.branches) WHERE value = {param})")
        }
        Backend::Postgres => format!("a.branches::jsonb ? {param}"),
    };
    format!(
        "EXISTS (SELECT 1 FROM customer_access a WHERE a.company_id = $1 \
         AND a.customer_id = {id_column} AND (a.origin_branch = {param} \
         OR (a.origin_branch IS NULL AND (a.all_branches = 1 OR {assigned}))))"
    )
}

/// `origin` and `assignment`, when a change carries them, must be well formed, with branch
/// ids in their one accepted spelling.
fn check_shape(change: &Change) -> Result<(), String> {
    if let Some(field) = change.fields.get("origin") {
        match serde_json::from_value::<Origin>(field.value.clone()) {
            Ok(Origin::Global) => {}
            Ok(Origin::Local(branch)) if is_canonical_uuid(&branch) => {}
            _ => return Err("origin: not {kind: global} or {kind: local, branch: <id>}".into()),
        }
    }
    if let Some(field) = change.fields.get("assignment") {
        match serde_json::from_value::<Assignment>(field.value.clone()) {
            Ok(Assignment::AllBranches) => {}
            Ok(Assignment::Branches(ids)) if ids.iter().all(|id| is_canonical_uuid(id)) => {}
            _ => {
                return Err(
                    "assignment: not {kind: allBranches} or {kind: branches, branches: [<id>]}"
                        .into(),
                )
            }
        }
    }
    Ok(())
}

/// Keeps the customer's origin and assignment after `change` was applied.
pub(crate) async fn record(
    conn: &mut AnyConnection,
    company: &str,
    change: &Change,
) -> Result<(), Error> {
    if change.entity != "customer" {
        return Ok(());
    }
    if change.op == ChangeOp::Delete {
        sqlx::query("DELETE FROM customer_access WHERE company_id = $1 AND customer_id = $2")
            .bind(company)
            .bind(&change.entity_id)
            .execute(&mut *conn)
            .await?;
        return Ok(());
    }
    let origin = match origin_of(change) {
        Some(Origin::Local(branch)) => Some(branch),
        _ => None,
    };
    sqlx::query(
        "INSERT INTO customer_access (company_id, customer_id, origin_branch, all_branches, \
         branches, assignment_stamp) VALUES ($1, $2, $3, 0, '[]', '') \
         ON CONFLICT (company_id, customer_id) DO NOTHING",
    )
    .bind(company)
    .bind(&change.entity_id)
    .bind(origin)
    .execute(&mut *conn)
    .await?;

    let Some(field) = change.fields.get("assignment") else {
        return Ok(());
    };
    let Ok(assignment) = serde_json::from_value::<Assignment>(field.value.clone()) else {
        return Ok(());
    };
    let (all, branches) = match assignment {
        Assignment::AllBranches => (true, Vec::new()),
        Assignment::Branches(ids) => (false, ids),
    };
    // The later assignment wins, as on every device.
    sqlx::query(
        "UPDATE customer_access SET all_branches = $1, branches = $2, assignment_stamp = $3 \
         WHERE company_id = $4 AND customer_id = $5 AND assignment_stamp < $6",
    )
    .bind(i64::from(all))
    .bind(serde_json::to_string(&branches).unwrap_or_else(|_| "[]".into()))
    .bind(&field.stamp)
    .bind(company)
    .bind(&change.entity_id)
    .bind(&field.stamp)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The SQL condition on a `change_log l` row that `caller` may read; its branch id is bound
/// as `$4` (NULL for head office). A branch reads branch records, deletions (an id only),
/// its customers, and the appointments booked at it.
pub(crate) fn visible(backend: Backend, caller: &Caller) -> &'static str {
    if caller.role != Role::Branch || caller.branch.is_none() {
        return "(CAST($4 AS TEXT) IS NULL)";
    }
    match backend {
        Backend::Sqlite => {
            "(l.entity = 'branch' \
             OR (l.entity = 'appointment' AND EXISTS (SELECT 1 FROM records r \
               WHERE r.company_id = l.company_id AND r.entity = 'appointment' \
               AND r.id = l.entity_id AND json_extract(r.fields, '$.branchId') = $4)) \
             OR (l.entity = 'customer' AND (json_extract(l.body, '$.op') = 'delete' \
               OR EXISTS (SELECT 1 FROM customer_access a \
                 WHERE a.company_id = l.company_id AND a.customer_id = l.entity_id \
                 AND (a.origin_branch = $4 OR (a.origin_branch IS NULL AND (a.all_branches = 1 \
                   OR EXISTS (SELECT 1 FROM json_each(a.branches) WHERE value = $4))))))))"
        }
        Backend::Postgres => {
            "(l.entity = 'branch' \
             OR (l.entity = 'appointment' AND EXISTS (SELECT 1 FROM records r \
               WHERE r.company_id = l.company_id AND r.entity = 'appointment' \
               AND r.id = l.entity_id AND (r.fields::jsonb ->> 'branchId') = $4)) \
             OR (l.entity = 'customer' AND ((l.body::jsonb ->> 'op') = 'delete' \
               OR EXISTS (SELECT 1 FROM customer_access a \
                 WHERE a.company_id = l.company_id AND a.customer_id = l.entity_id \
                 AND (a.origin_branch = $4 OR (a.origin_branch IS NULL AND (a.all_branches = 1 \
                   OR a.branches::jsonb ? $4)))))))"
        }
    }
}

async fn stored(
    conn: &mut AnyConnection,
    company: &str,
    customer: &str,
) -> Result<Option<Access>, Error> {
    let row: Option<(Option<String>,)> = sqlx::query_as(
        "SELECT origin_branch FROM customer_access WHERE company_id = $1 AND customer_id = $2",
    )
    .bind(company)
    .bind(customer)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|(origin_branch,)| Access { origin_branch }))
}

fn origin_of(change: &Change) -> Option<Origin> {
    let field = change.fields.get("origin")?;
    serde_json::from_value(field.value.clone()).ok()
}

fn refused(code: &str, message: &str) -> PushOutcome {
    PushOutcome::Refused {
        code: code.to_owned(),
        message: message.to_owned(),
    }
}
