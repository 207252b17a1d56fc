//! The sync protocol's messages, as the desktop's sync client and the server exchange them
//! (JSON over HTTP, version 1).
//!
//! Desktops push the changes of their outbox; each change has an id unique in the company
//! (the author's node id and outbox seq), so a push retried after a lost response is
//! recognised and applied once. The server appends every accepted change to its change log
//! under an increasing sequence number; desktops pull the log after the last sequence they
//! have seen, a page at a time.

mod client;
mod record;
mod syncer;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use client::{sync_once, sync_with_progress, SyncClient, SyncError, SyncReport};
pub use record::Record;
pub use syncer::{SyncState, Syncer};

/// Most changes one push may carry.
pub const MAX_PUSH: usize = 500;
/// Most changes one pull returns.
pub const MAX_PULL: u32 = 1000;

/// What a change does to its entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ChangeOp {
    /// Creates the entity or changes some of its fields.
    Upsert,
    /// Deletes the entity for good; its id becomes a tombstone.
    Delete,
}

/// One change to one entity, as its author made it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Change {
    /// Unique in the company: `<author node id>:<outbox seq>`.
    pub id: String,
    /// `customer`, `branch`, `tag` or `appointment`.
    pub entity: String,
    pub entity_id: String,
    pub op: ChangeOp,
    /// The author's clock stamp for the change.
    pub hlc: String,
    /// The changed fields; empty for a delete.
    #[serde(default)]
    pub fields: BTreeMap<String, FieldChange>,
}

/// One field's new value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FieldChange {
    pub value: serde_json::Value,
    /// The stamp of this value; the highest stamp wins on every node.
    pub stamp: String,
    /// The stamp the field had on the author's device when it was changed: when another
    /// node's value arrived in between, the two edits were concurrent and the loser is kept
    /// as a conflict.
    #[serde(default)]
    pub base: Option<String>,
}

/// `POST /v1/sync/push`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PushRequest {
    pub changes: Vec<Change>,
}

/// The answer to a push: one result per change, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PushResponse {
    pub results: Vec<PushResult>,
}

/// What the server did with one pushed change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PushResult {
    pub id: String,
    #[serde(flatten)]
    pub outcome: PushOutcome,
}

/// Applied now, applied before (a retried push), or refused with a reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "status")]
pub enum PushOutcome {
    Applied { seq: i64 },
    Duplicate { seq: i64 },
    Refused { code: String, message: String },
}

/// `GET /v1/sync/pull?after=<seq>&limit=<n>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PullResponse {
    pub changes: Vec<LoggedChange>,
    /// The sequence to pull after next time.
    pub last_seq: i64,
    /// More changes wait after `last_seq`.
    pub more: bool,
    /// The last sequence in the log now, to show progress of a long first download.
    pub head: i64,
}

/// `GET /v1/session`: who the credential is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    pub company: String,
    pub company_name: String,
    pub role: SessionRole,
    /// The credential's name ("oficina central", "Centro").
    pub name: String,
    /// The branch of a branch credential.
    pub branch: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub enum SessionRole {
    HeadOffice,
    Branch,
}

/// A change as the server's log holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoggedChange {
    pub seq: i64,
    /// The name of the credential that pushed it ("oficina central", "Centro").
    pub author: String,
    pub change: Change,
}

/// An error as the server returns it, with a stable code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiError {
    pub code: String,
    pub message: String,
}

/// Reads `<node>:<seq>`; `None` when the id is not of that form.
pub fn parse_change_id(id: &str) -> Option<(uuid::Uuid, i64)> {
    let (node, seq) = id.split_once(':')?;
    Some((uuid::Uuid::parse_str(node).ok()?, seq.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_outcomes_read_as_a_status_with_their_details() {
        let result = PushResult {
            id: "x".into(),
            outcome: PushOutcome::Refused {
                code: "deleted".into(),
                message: "gone".into(),
            },
        };
        let json = serde_json::to_value(&result).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "id": "x", "status": "refused", "code": "deleted", "message": "gone"
            })
        );
    }

    #[test]
    fn change_ids_are_a_node_and_a_sequence() {
        let node = uuid::Uuid::now_v7();
        assert_eq!(parse_change_id(&format!("{node}:42")), Some((node, 42)));
        assert_eq!(parse_change_id("42"), None);
        assert_eq!(parse_change_id(&format!("{node}:x")), None);
    }
}
