//! The sync server over HTTP on loopback port 0, with its SQLite database in a temporary
//! folder: pushes apply once, pulls page the log, credentials are checked on every request.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;

use clientela_core::hlc::Clock;
use clientela_core::sync::{
    ApiError, Change, ChangeOp, FieldChange, PullResponse, PushOutcome, PushRequest, PushResponse,
};
use clientela_server::{serve, Backend, Db, Role};
use reqwest::StatusCode;
use rstest::rstest;
use serde_json::json;
use tokio::sync::oneshot;
use uuid::Uuid;

/// A running server; dropping it stops the server.
struct TestServer {
    address: SocketAddr,
    db: Db,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl TestServer {
    /// A server on a new database on `backend`.
    async fn start(backend: Backend, dir: &Path) -> Self {
        Self::serve(common::database(backend, dir).await.0).await
    }

    async fn serve(db: Db) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, db.clone(), async {
            let _ = stopped.await;
        }));
        Self {
            address,
            db,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Stops the server and waits until it has.
    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    async fn push(&self, secret: &str, changes: Vec<Change>) -> PushResponse {
        let response = reqwest::Client::new()
            .post(self.url("/v1/sync/push"))
            .bearer_auth(secret)
            .json(&PushRequest { changes })
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    async fn pull(&self, secret: &str, after: i64) -> PullResponse {
        let response = reqwest::Client::new()
            .get(self.url(&format!("/v1/sync/pull?after={after}")))
            .bearer_auth(secret)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A company with its head-office secret.
async fn company(db: &Db, name: &str) -> (String, String) {
    let company = db.add_company(name).await.unwrap();
    let (_, secret) = db
        .add_credential(&company, Role::HeadOffice, None, "oficina central")
        .await
        .unwrap();
    (company, secret)
}

/// A desktop making changes with its own node id and clock.
struct Node {
    id: Uuid,
    clock: Clock,
    seq: i64,
}

impl Node {
    fn new() -> Self {
        let id = Uuid::now_v7();
        Self {
            id,
            clock: Clock::new(id, None),
            seq: 0,
        }
    }

    fn change(&mut self, customer: Uuid, op: ChangeOp, set: &[(&str, &str)]) -> Change {
        let set: Vec<(&str, serde_json::Value)> = set
            .iter()
            .map(|(name, value)| (*name, json!(value)))
            .collect();
        self.change_values(customer, op, &set)
    }

    fn change_values(
        &mut self,
        customer: Uuid,
        op: ChangeOp,
        set: &[(&str, serde_json::Value)],
    ) -> Change {
        self.seq += 1;
        let hlc = self.clock.tick(chrono::Utc::now()).to_string();
        let fields: BTreeMap<String, FieldChange> = set
            .iter()
            .map(|(name, value)| {
                let field = FieldChange {
                    value: value.clone(),
                    stamp: hlc.clone(),
                    base: None,
                };
                ((*name).to_owned(), field)
            })
            .collect();
        Change {
            id: format!("{}:{}", self.id, self.seq),
            entity: "customer".into(),
            entity_id: customer.to_string(),
            op,
            hlc,
            fields,
        }
    }
}

fn applied(outcome: &PushOutcome) -> i64 {
    match outcome {
        PushOutcome::Applied { seq } => *seq,
        other => panic!("expected applied, got {other:?}"),
    }
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test]
async fn a_pushed_change_is_pulled_with_its_sequence(#[case] backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(backend, dir.path()).await;
    let (_, secret) = company(&server.db, "Salones Norte").await;
    let mut node = Node::new();
    let customer = Uuid::now_v7();
    let change = node.change(customer, ChangeOp::Upsert, &[("firstName", "Celia")]);

    let pushed = server.push(&secret, vec![change.clone()]).await;
    let seq = applied(&pushed.results[0].outcome);

    let pulled = server.pull(&secret, 0).await;
    assert_eq!(pulled.changes.len(), 1);
    assert_eq!(pulled.changes[0].seq, seq);
    assert_eq!(pulled.changes[0].change, change);
    assert_eq!(pulled.last_seq, seq);
    assert!(!pulled.more);
    assert!(server.pull(&secret, seq).await.changes.is_empty());
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test]
async fn a_push_retried_after_a_lost_response_is_applied_once(#[case] backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(backend, dir.path()).await;
    let (_, secret) = company(&server.db, "Salones Norte").await;
    let mut node = Node::new();
    let change = node.change(
        Uuid::now_v7(),
        ChangeOp::Upsert,
        &[("notes", "Prefiere tardes")],
    );

    let first = server.push(&secret, vec![change.clone()]).await;
    // The response was lost on the way; the desktop sends the same batch again.
    let again = server.push(&secret, vec![change]).await;

    let seq = applied(&first.results[0].outcome);
    assert_eq!(again.results[0].outcome, PushOutcome::Duplicate { seq });
    assert_eq!(server.pull(&secret, 0).await.changes.len(), 1);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test]
async fn a_deletion_wins_over_a_later_edit_and_leaves_no_earlier_data_in_the_log(
    #[case] backend: Backend,
) {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(backend, dir.path()).await;
    let (_, secret) = company(&server.db, "Salones Norte").await;
    let (mut office, mut branch) = (Node::new(), Node::new());
    let diego = Uuid::now_v7();
    let created = office.change(diego, ChangeOp::Upsert, &[("firstName", "Diego")]);
    server.push(&secret, vec![created]).await;

    let deleted = office.change(diego, ChangeOp::Delete, &[]);
    let delete_seq = applied(&server.push(&secret, vec![deleted.clone()]).await.results[0].outcome);
    let offline_edit = branch.change(diego, ChangeOp::Upsert, &[("notes", "Reprogramar cita")]);
    let late = server.push(&secret, vec![offline_edit]).await;

    match &late.results[0].outcome {
        PushOutcome::Refused { code, message } => {
            assert_eq!(code, "deleted");
            assert!(message.contains("deleted on"), "{message}");
        }
        other => panic!("expected the edit refused, got {other:?}"),
    }
    let log = server.pull(&secret, 0).await;
    assert_eq!(log.changes.len(), 1, "only the deletion stays");
    assert_eq!(log.changes[0].seq, delete_seq);
    assert_eq!(log.changes[0].change, deleted);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test]
async fn a_restarted_server_keeps_every_acknowledged_change(#[case] backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let (db, place) = common::database(backend, dir.path()).await;
    let server = TestServer::serve(db).await;
    let (_, secret) = company(&server.db, "Salones Norte").await;
    let mut node = Node::new();
    let changes: Vec<Change> = (0..3)
        .map(|_| node.change(Uuid::now_v7(), ChangeOp::Upsert, &[("firstName", "Ana")]))
        .collect();
    server.push(&secret, changes.clone()).await;
    server.stop().await;

    let restarted = TestServer::serve(place.open().await).await;
    let log = restarted.pull(&secret, 0).await;
    let pulled: Vec<Change> = log.changes.into_iter().map(|c| c.change).collect();
    assert_eq!(pulled, changes);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test]
async fn pulls_come_in_pages_that_end_with_more_false(#[case] backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(backend, dir.path()).await;
    let (_, secret) = company(&server.db, "Salones Norte").await;
    let mut node = Node::new();
    let changes: Vec<Change> = (0..5)
        .map(|_| node.change(Uuid::now_v7(), ChangeOp::Upsert, &[("firstName", "Ana")]))
        .collect();
    server.push(&secret, changes).await;

    let client = reqwest::Client::new();
    let mut after = 0;
    let mut pages = 0;
    loop {
        let page: PullResponse = client
            .get(server.url(&format!("/v1/sync/pull?after={after}&limit=2")))
            .bearer_auth(&secret)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        pages += 1;
        after = page.last_seq;
        if !page.more {
            break;
        }
    }
    assert_eq!(pages, 3);
}

/// Who may read and write what, one row per case.
#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test]
async fn access_rules(#[case] backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(backend, dir.path()).await;
    let (north, north_secret) = company(&server.db, "Salones Norte").await;
    let (_, south_secret) = company(&server.db, "Estudios Sur").await;
    let (_, branch_secret) = server
        .db
        .add_credential(
            &north,
            Role::Branch,
            Some(&Uuid::now_v7().to_string()),
            "Centro",
        )
        .await
        .unwrap();
    let (revoked_id, revoked_secret) = server
        .db
        .add_credential(&north, Role::HeadOffice, None, "old laptop")
        .await
        .unwrap();
    let mut node = Node::new();
    let change = node.change(Uuid::now_v7(), ChangeOp::Upsert, &[("firstName", "Celia")]);
    server.push(&north_secret, vec![change]).await;
    // Works until revoked, refused at the very next request.
    assert_eq!(server.pull(&revoked_secret, 0).await.changes.len(), 1);
    server.db.revoke_credential(&revoked_id).await.unwrap();

    let cases: [(&str, Option<&str>, StatusCode, usize); 6] = [
        (
            "head office of the company",
            Some(&north_secret),
            StatusCode::OK,
            1,
        ),
        (
            "another company's head office",
            Some(&south_secret),
            StatusCode::OK,
            0,
        ),
        (
            "a branch the customer is not assigned to",
            Some(&branch_secret),
            StatusCode::OK,
            0,
        ),
        (
            "a revoked credential",
            Some(&revoked_secret),
            StatusCode::UNAUTHORIZED,
            0,
        ),
        (
            "an unknown secret",
            Some("clt_0000"),
            StatusCode::UNAUTHORIZED,
            0,
        ),
        ("no credential", None, StatusCode::UNAUTHORIZED, 0),
    ];
    for (who, secret, status, visible) in cases {
        let mut request = reqwest::Client::new().get(server.url("/v1/sync/pull?after=0"));
        if let Some(secret) = secret {
            request = request.bearer_auth(secret);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), status, "{who}");
        if status == StatusCode::OK {
            let page: PullResponse = response.json().await.unwrap();
            assert_eq!(page.changes.len(), visible, "{who}");
        } else {
            let error: ApiError = response.json().await.unwrap();
            assert!(!error.code.is_empty() && !error.message.is_empty(), "{who}");
        }
    }
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test]
async fn bad_input_gets_a_4xx_naming_the_field(#[case] backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(backend, dir.path()).await;
    let (_, secret) = company(&server.db, "Salones Norte").await;
    let client = reqwest::Client::new();

    let cases = [
        ("/v1/sync/push", json!({ "cambios": [] }), "changes"),
        ("/v1/sync/push", json!({ "changes": [{ "id": 7 }] }), "id"),
        ("/v1/sync/push", json!({ "changes": "none" }), "changes"),
    ];
    for (path, body, field) in cases {
        let response = client
            .post(server.url(path))
            .bearer_auth(&secret)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}"
        );
        let error: ApiError = response.json().await.unwrap();
        assert_eq!(error.code, "invalidInput");
        assert!(error.message.contains(field), "{body}: {}", error.message);
    }

    let response = client
        .post(server.url("/v1/sync/push"))
        .bearer_auth(&secret)
        .header("content-type", "application/json")
        .body("{ not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let error: ApiError = response.json().await.unwrap();
    assert!(error.message.contains("JSON"), "{}", error.message);

    let response = client
        .get(server.url("/v1/sync/pull?limit=0"))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let error: ApiError = response.json().await.unwrap();
    assert!(error.message.contains("limit"), "{}", error.message);

    // A well-formed request with a wrong change is refused per change, naming the field.
    let mut node = Node::new();
    let mut change = node.change(Uuid::now_v7(), ChangeOp::Upsert, &[("notes", "x")]);
    change.id = "not-an-id".into();
    let pushed = server.push(&secret, vec![change]).await;
    match &pushed.results[0].outcome {
        PushOutcome::Refused { code, message } => {
            assert_eq!(code, "invalidChange");
            assert!(message.starts_with("id:"), "{message}");
        }
        other => panic!("expected refused, got {other:?}"),
    }
    assert!(server.pull(&secret, 0).await.changes.is_empty());
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test]
async fn connected_desktops_hear_of_new_changes_at_once(#[case] backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(backend, dir.path()).await;
    let (_, secret) = company(&server.db, "Salones Norte").await;
    let (_, other_secret) = company(&server.db, "Estudios Sur").await;
    let (heads, mut heard) = tokio::sync::mpsc::unbounded_channel();
    let url = server.url("");
    let listener = clientela_core::sync::SyncClient::new(&url, &secret).unwrap();
    tokio::spawn(async move {
        let mut on_head = move |head| {
            let _ = heads.send(head);
        };
        let _ = listener.watch(&mut on_head).await;
    });
    assert_eq!(
        heard.recv().await,
        Some(0),
        "the head when the socket opens"
    );

    // Another company's change says nothing to this one.
    let mut node = Node::new();
    let elsewhere = node.change(Uuid::now_v7(), ChangeOp::Upsert, &[("firstName", "Eva")]);
    server.push(&other_secret, vec![elsewhere]).await;
    let change = node.change(Uuid::now_v7(), ChangeOp::Upsert, &[("firstName", "Ana")]);
    let seq = applied(&server.push(&secret, vec![change]).await.results[0].outcome);

    assert_eq!(heard.recv().await, Some(seq));
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test]
async fn a_revoked_credential_cannot_listen_either(#[case] backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(backend, dir.path()).await;
    let (company_id, _) = company(&server.db, "Salones Norte").await;
    let (id, secret) = server
        .db
        .add_credential(&company_id, Role::HeadOffice, None, "old laptop")
        .await
        .unwrap();
    server.db.revoke_credential(&id).await.unwrap();
    let client = clientela_core::sync::SyncClient::new(&server.url(""), &secret).unwrap();
    let refused = client.watch(&mut |_| {}).await.unwrap_err();
    assert_eq!(refused.code(), "syncUnauthorized");
}

/// A branch reads its own local customers and the global ones assigned to it, and changes
/// only its own local customers; every other case, one row each.
#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test]
async fn branch_access_rules(#[case] backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(backend, dir.path()).await;
    let (company_id, office) = company(&server.db, "Salones Norte").await;
    let (a, b) = (Uuid::now_v7().to_string(), Uuid::now_v7().to_string());
    let (_, secret_a) = server
        .db
        .add_credential(&company_id, Role::Branch, Some(&a), "Centro")
        .await
        .unwrap();
    let (_, secret_b) = server
        .db
        .add_credential(&company_id, Role::Branch, Some(&b), "Sur")
        .await
        .unwrap();
    let global = json!({ "kind": "global" });
    let local = |branch: &str| json!({ "kind": "local", "branch": branch });
    let everywhere = json!({ "kind": "allBranches" });
    let only = |branch: &str| json!({ "kind": "branches", "branches": [branch] });

    let mut head = Node::new();
    let (mut desk_a, mut desk_b) = (Node::new(), Node::new());
    let ids: Vec<Uuid> = (0..5).map(|_| Uuid::now_v7()).collect();
    let [g_all, g_a, g_b, local_a, local_b] = ids[..] else {
        unreachable!()
    };
    let customer = |origin: &serde_json::Value, assignment: &serde_json::Value| {
        vec![
            ("firstName", json!("Ana")),
            ("origin", origin.clone()),
            ("assignment", assignment.clone()),
        ]
    };
    let office_changes = vec![
        head.change_values(g_all, ChangeOp::Upsert, &customer(&global, &everywhere)),
        head.change_values(g_a, ChangeOp::Upsert, &customer(&global, &only(&a))),
        head.change_values(g_b, ChangeOp::Upsert, &customer(&global, &only(&b))),
    ];
    for result in server.push(&office, office_changes).await.results {
        applied(&result.outcome);
    }
    let mine_a = desk_a.change_values(local_a, ChangeOp::Upsert, &customer(&local(&a), &only(&a)));
    applied(&server.push(&secret_a, vec![mine_a]).await.results[0].outcome);
    let mine_b = desk_b.change_values(local_b, ChangeOp::Upsert, &customer(&local(&b), &only(&b)));
    applied(&server.push(&secret_b, vec![mine_b]).await.results[0].outcome);

    let seen = |page: PullResponse| -> Vec<Uuid> {
        page.changes
            .iter()
            .map(|c| c.change.entity_id.parse().unwrap())
            .collect()
    };
    let reads: [(&str, &str, Vec<Uuid>); 3] = [
        (
            "head office",
            &office,
            vec![g_all, g_a, g_b, local_a, local_b],
        ),
        ("branch A", &secret_a, vec![g_all, g_a, local_a]),
        ("branch B", &secret_b, vec![g_all, g_b, local_b]),
    ];
    for (who, secret, expected) in reads {
        assert_eq!(seen(server.pull(secret, 0).await), expected, "{who} reads");
    }

    let writes: [(&str, Change, Option<&str>); 6] = [
        (
            "A edits its own local customer",
            desk_a.change(local_a, ChangeOp::Upsert, &[("notes", "x")]),
            None,
        ),
        (
            "A edits a global customer",
            desk_a.change(g_all, ChangeOp::Upsert, &[("notes", "x")]),
            Some("branchEditsOff"),
        ),
        (
            "A deletes a global customer",
            desk_a.change(g_a, ChangeOp::Delete, &[]),
            Some("globalDelete"),
        ),
        (
            "A edits B's local customer",
            desk_a.change(local_b, ChangeOp::Upsert, &[("notes", "x")]),
            Some("forbidden"),
        ),
        (
            "A creates a customer local to B",
            desk_a.change_values(
                Uuid::now_v7(),
                ChangeOp::Upsert,
                &customer(&local(&b), &only(&b)),
            ),
            Some("forbidden"),
        ),
        (
            "A deletes its own local customer",
            desk_a.change(local_a, ChangeOp::Delete, &[]),
            None,
        ),
    ];
    for (what, change, refusal) in writes {
        let outcome = server
            .push(&secret_a, vec![change])
            .await
            .results
            .remove(0)
            .outcome;
        match (refusal, outcome) {
            (None, PushOutcome::Applied { .. }) => {}
            (Some(code), PushOutcome::Refused { code: got, .. }) => assert_eq!(got, code, "{what}"),
            (expected, got) => panic!("{what}: expected {expected:?}, got {got:?}"),
        }
    }

    // Head office assigns B's customer to A as well: A reads it from then on.
    let both = json!({ "kind": "branches", "branches": [a, b] });
    let reassigned = head.change_values(g_b, ChangeOp::Upsert, &[("assignment", both)]);
    applied(&server.push(&office, vec![reassigned]).await.results[0].outcome);
    assert!(seen(server.pull(&secret_a, 0).await).contains(&g_b));
    assert!(!seen(server.pull(&secret_a, 0).await).contains(&local_b));
}

/// Two server instances share one PostgreSQL database: a desktop listening to instance 2
/// hears of a change pushed through instance 1, and pulls it from instance 2.
#[tokio::test]
async fn instances_sharing_postgres_pass_change_notifications_to_each_other() {
    let url = common::fresh_postgres_database().await;
    let first = TestServer::serve(Db::connect(&url).await.unwrap()).await;
    let second = TestServer::serve(Db::connect(&url).await.unwrap()).await;
    let (_, secret) = company(&first.db, "Salones Norte").await;

    let (heads, mut heard) = tokio::sync::mpsc::unbounded_channel();
    let listener = clientela_core::sync::SyncClient::new(&second.url(""), &secret).unwrap();
    tokio::spawn(async move {
        let mut on_head = move |head| {
            let _ = heads.send(head);
        };
        let _ = listener.watch(&mut on_head).await;
    });
    assert_eq!(heard.recv().await, Some(0), "instance 2 answers at once");

    let mut node = Node::new();
    let change = node.change(Uuid::now_v7(), ChangeOp::Upsert, &[("firstName", "Ana")]);
    let seq = applied(&first.push(&secret, vec![change.clone()]).await.results[0].outcome);

    assert_eq!(heard.recv().await, Some(seq), "told through PostgreSQL");
    let pulled = second.pull(&secret, 0).await;
    assert_eq!(pulled.changes[0].change, change);
}

/// Spellings that would name the same thing twice, and values that could harm every
/// device, are refused per change with the field named; one row per case.
#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test]
async fn hostile_changes_are_refused_naming_the_field(#[case] backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(backend, dir.path()).await;
    let (_, secret) = company(&server.db, "Salones Norte").await;
    let mut node = Node::new();
    let w = Uuid::now_v7();
    let branch = Uuid::now_v7().to_string();
    let local = json!({ "kind": "local", "branch": branch });
    let created = node.change_values(w, ChangeOp::Upsert, &[("origin", local)]);
    applied(&server.push(&secret, vec![created]).await.results[0].outcome);

    let mut deep = json!("x");
    for _ in 0..20 {
        deep = json!([deep]);
    }
    let fresh = |node: &mut Node| node.change(Uuid::now_v7(), ChangeOp::Upsert, &[("notes", "x")]);
    let mut cases: Vec<(&str, Change, &str)> = Vec::new();
    let mut c = fresh(&mut node);
    c.entity_id = c.entity_id.to_uppercase();
    cases.push(("an upper-case customer id", c, "entityId:"));
    let mut c = fresh(&mut node);
    c.id = format!("{}:007", node.id);
    cases.push(("a change id with leading zeros", c, "id:"));
    let mut c = fresh(&mut node);
    c.id = format!("{}:-5", node.id);
    cases.push(("a negative sequence", c, "id:"));
    let mut c = fresh(&mut node);
    c.hlc = format!("1-0-{}", node.id.simple());
    cases.push(("a stamp not in its fixed width", c, "hlc:"));
    let mut c = fresh(&mut node);
    c.hlc = format!("999999999999999-000000-{}", node.id.simple());
    cases.push(("a stamp centuries ahead", c, "hlc:"));
    cases.push((
        "a value nested 21 levels deep",
        node.change_values(Uuid::now_v7(), ChangeOp::Upsert, &[("notes", deep)]),
        "fields.notes.value:",
    ));
    cases.push((
        "a local origin without its branch",
        node.change_values(
            Uuid::now_v7(),
            ChangeOp::Upsert,
            &[("origin", json!({ "kind": "local" }))],
        ),
        "origin:",
    ));
    cases.push((
        "branches that are not a list",
        node.change_values(
            Uuid::now_v7(),
            ChangeOp::Upsert,
            &[("assignment", json!({ "kind": "branches", "branches": "x" }))],
        ),
        "assignment:",
    ));
    cases.push((
        "a local customer made global",
        node.change_values(
            w,
            ChangeOp::Upsert,
            &[("origin", json!({ "kind": "global" }))],
        ),
        "origin:",
    ));
    for (what, change, field) in cases {
        match server
            .push(&secret, vec![change])
            .await
            .results
            .remove(0)
            .outcome
        {
            PushOutcome::Refused { code, message } => {
                assert_eq!(code, "invalidChange", "{what}");
                assert!(message.starts_with(field), "{what}: {message}");
            }
            other => panic!("{what}: expected refused, got {other:?}"),
        }
    }
    assert_eq!(
        server.pull(&secret, 0).await.changes.len(),
        1,
        "only the first change"
    );
}

/// Desktops push at the same moment, one of them twice (a retry racing its original): every
/// push is answered, and every change is stored once.
#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test]
async fn pushes_at_the_same_moment_all_succeed_and_apply_once(#[case] backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(backend, dir.path()).await;
    let (_, secret) = company(&server.db, "Salones Norte").await;
    let mut node = Node::new();
    let twice = node.change(Uuid::now_v7(), ChangeOp::Upsert, &[("notes", "x")]);
    let mut batches: Vec<Vec<Change>> = (0..10)
        .map(|_| vec![node.change(Uuid::now_v7(), ChangeOp::Upsert, &[("notes", "y")])])
        .collect();
    batches.extend((0..10).map(|_| vec![twice.clone()]));

    let client = reqwest::Client::new();
    let pushes = batches.into_iter().map(|changes| {
        client
            .post(server.url("/v1/sync/push"))
            .bearer_auth(&secret)
            .json(&PushRequest { changes })
            .send()
    });
    let answers = futures_util::future::join_all(pushes).await;
    let mut applied_twice = 0;
    for answer in answers {
        let answer = answer.unwrap();
        assert_eq!(answer.status(), StatusCode::OK);
        let body: PushResponse = answer.json().await.unwrap();
        if body.results[0].id == twice.id
            && matches!(body.results[0].outcome, PushOutcome::Applied { .. })
        {
            applied_twice += 1;
        }
    }
    assert_eq!(applied_twice, 1);
    assert_eq!(server.pull(&secret, 0).await.changes.len(), 11);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test]
async fn a_revoked_credential_loses_its_open_socket(#[case] backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(backend, dir.path()).await;
    let (company_id, office) = company(&server.db, "Salones Norte").await;
    let (id, secret) = server
        .db
        .add_credential(&company_id, Role::HeadOffice, None, "old laptop")
        .await
        .unwrap();
    let listener = clientela_core::sync::SyncClient::new(&server.url(""), &secret).unwrap();
    let (heads, mut heard) = tokio::sync::mpsc::unbounded_channel();
    let watching = tokio::spawn(async move {
        let mut on_head = move |head| {
            let _ = heads.send(head);
        };
        listener.watch(&mut on_head).await
    });
    assert_eq!(heard.recv().await, Some(0));

    server.db.revoke_credential(&id).await.unwrap();
    let mut node = Node::new();
    let change = node.change(Uuid::now_v7(), ChangeOp::Upsert, &[("notes", "x")]);
    server.push(&office, vec![change]).await;

    // The server closes the socket instead of telling the revoked laptop.
    watching.await.unwrap().unwrap();
    assert_eq!(heard.recv().await, None);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[tokio::test]
async fn a_wrong_method_is_answered_in_json(#[case] backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(backend, dir.path()).await;
    let response = reqwest::Client::new()
        .delete(server.url("/v1/sync/pull"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    let error: ApiError = response.json().await.unwrap();
    assert_eq!(error.code, "methodNotAllowed");
}
