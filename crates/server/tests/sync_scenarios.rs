//! The corpus's sync scenarios, step by step: desktops with their own SQLite stores and
//! skewed clocks, syncing through a real server on loopback.
//!
//! As LOG.md says, every node runs as a head-office desktop working on global customers.

mod common;

use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use clientela_core::domain::{Assignment, CustomerFields, CustomerId, Email, Phone};
use clientela_core::store::{CustomerFilter, Store, SyncIssueKind};
use clientela_core::sync::{sync_once, SyncClient};
use clientela_server::{serve, Backend, Db, Role};
use rstest::rstest;
use serde_json::Value;
use tokio::sync::oneshot;

fn corpus(name: &str) -> Value {
    let dir = std::env::var_os("CLIENTELA_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus")
        });
    let text = std::fs::read_to_string(dir.join(name))
        .unwrap_or_else(|e| panic!("corpus file {name}: {e}"));
    serde_json::from_str(&text).unwrap()
}

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().to_utc()
}

/// The server of one scenario, stopped when dropped.
struct Server {
    url: String,
    db: Db,
    company: String,
    _stop: oneshot::Sender<()>,
}

impl Server {
    async fn start(backend: Backend, dir: &Path) -> Self {
        let (db, _) = common::database(backend, dir).await;
        let company = db.add_company("Clientela scenario").await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(serve(listener, db.clone(), async {
            let _ = stopped.await;
        }));
        Self {
            url,
            db,
            company,
            _stop: stop,
        }
    }

    /// A desktop named like the scenario's node, whose clock reads real time + `offset`.
    async fn desktop(&self, dir: &Path, name: &str, offset: Duration) -> Desktop {
        let (_, secret) = self
            .db
            .add_credential(&self.company, Role::HeadOffice, None, name)
            .await
            .unwrap();
        let store = Store::open(&dir.join(format!("{name}.db"))).await.unwrap();
        Desktop {
            store,
            client: SyncClient::new(&self.url, &secret).unwrap(),
            offset,
        }
    }
}

struct Desktop {
    store: Store,
    client: SyncClient,
    offset: Duration,
}

impl Desktop {
    /// What this desktop's clock reads at real time `t`.
    fn clock(&self, t: &str) -> DateTime<Utc> {
        at(t) + self.offset
    }

    async fn sync(&self, t: &str) {
        sync_once(&self.store, &self.client, self.clock(t))
            .await
            .unwrap();
    }

    async fn create(&self, t: &str, c: &Value) -> CustomerId {
        let fields = CustomerFields {
            first_name: text(c, "nombre"),
            last_name: text(c, "apellidos"),
            emails: vec![Email {
                address: text(c, "email"),
                label: None,
                primary: true,
            }],
            phones: vec![Phone {
                number: text(c, "telefono"),
                label: None,
                primary: true,
            }],
            notes: text(c, "notas"),
            ..Default::default()
        };
        let created = self
            .store
            .create_customer(&fields, &Assignment::AllBranches, "ES", self.clock(t))
            .await
            .unwrap();
        created.id
    }

    /// Applies a scenario `set` ({"telefono": …, "notas": …}) to the customer.
    async fn update(&self, t: &str, id: CustomerId, set: &Value) {
        let customer = self.store.customer(id).await.unwrap();
        let mut fields = customer.fields.clone();
        for (name, value) in set.as_object().unwrap() {
            let value = value.as_str().unwrap().to_owned();
            match name.as_str() {
                "telefono" => fields.phones[0].number = value,
                "email" => fields.emails[0].address = value,
                "notas" => fields.notes = value,
                other => panic!("the scenario sets an unknown field {other}"),
            }
        }
        self.store
            .update_customer(id, &fields, &customer.assignment, "ES", self.clock(t))
            .await
            .unwrap();
    }

    async fn customer_ids(&self) -> Vec<String> {
        let page = self
            .store
            .list_customers(&CustomerFilter::default(), 0, 100)
            .await
            .unwrap();
        let mut ids: Vec<String> = page.rows.iter().map(|r| r.id.to_string()).collect();
        ids.sort();
        ids
    }
}

fn text(value: &Value, key: &str) -> String {
    value[key].as_str().unwrap_or_default().to_owned()
}

/// Runs the initial state: created at head office and synced everywhere, before step 1.
async fn initial_state(
    scenario: &Value,
    office: &Desktop,
    others: &[&Desktop],
    t: &str,
) -> Vec<(String, CustomerId)> {
    let mut ids = Vec::new();
    for c in scenario["initial_state"]["customers"].as_array().unwrap() {
        ids.push((text(c, "id"), office.create(t, c).await));
    }
    office.sync(t).await;
    for node in others {
        node.sync(t).await;
    }
    ids
}

/// Our id for a scenario's customer id (the store makes its own UUIDv7s).
fn ours(ids: &[(String, CustomerId)], theirs: &str) -> CustomerId {
    ids.iter().find(|(t, _)| t == theirs).unwrap().1
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test]
async fn lost_update_offline_edit_keeps_both_fields_and_one_conflict(#[case] backend: Backend) {
    let scenario = corpus("sync-lost-update-offline-edit.json");
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(backend, dir.path()).await;
    let office = server
        .desktop(dir.path(), "oficina_central", Duration::zero())
        .await;
    let north = server
        .desktop(dir.path(), "sucursal_norte", Duration::seconds(-3600))
        .await;
    let ids = initial_state(&scenario, &office, &[&north], "2024-03-04T08:00:00Z").await;

    for step in scenario["steps"].as_array().unwrap() {
        let t = step["t"].as_str().unwrap();
        let node = match step["node"].as_str().unwrap() {
            "oficina_central" => &office,
            "sucursal_norte" => &north,
            other => panic!("unknown node {other}"),
        };
        match step["action"].as_str().unwrap() {
            "go_offline" => {}
            "update" => {
                let id = ours(&ids, step["customer_id"].as_str().unwrap());
                node.update(t, id, &step["set"]).await;
            }
            "go_online_and_sync" => node.sync(t).await,
            "sync_all_nodes" => {
                office.sync(t).await;
                north.sync(t).await;
            }
            other => panic!("unknown action {other}"),
        }
    }

    let expected = &scenario["expected"];
    let want = &expected["customer_every_node"];
    let id = ours(&ids, want["id"].as_str().unwrap());
    let mut notes = Vec::new();
    for node in [&office, &north] {
        assert_eq!(node.customer_ids().await.len(), 1);
        let c = node.store.customer(id).await.unwrap();
        assert_eq!(c.fields.first_name, text(want, "nombre"));
        assert_eq!(c.fields.last_name, text(want, "apellidos"));
        assert_eq!(c.fields.phones[0].number, text(want, "telefono"));
        assert_eq!(c.fields.emails[0].address, text(want, "email"));
        notes.push(c.fields.notes.clone());

        let conflicts = node.store.sync_conflicts().await.unwrap();
        assert_eq!(conflicts.len(), 1, "one unresolved conflict record");
        let conflict = &conflicts[0];
        assert_eq!((conflict.customer, conflict.field.as_str()), (id, "notes"));
        let mut values = [conflict.kept.clone(), conflict.lost.clone()];
        values.sort();
        let mut candidates: Vec<String> = expected["conflicts"][0]["candidates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["value"].to_string())
            .collect();
        candidates.sort();
        assert_eq!(values.to_vec(), candidates);
    }
    assert_eq!(notes[0], notes[1], "the same notas on every node");
    let allowed = &want["notas"]["one_of"];
    assert!(allowed
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v == notes[0].as_str()));
    // Head office sees who made the losing edit.
    let office_conflict = &office.store.sync_conflicts().await.unwrap()[0];
    assert_eq!(office_conflict.lost_author, "sucursal_norte");
}

async fn delete_resurrected(backend: Backend, variant: &str) {
    let scenario = corpus("sync-delete-resurrected.json");
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(backend, dir.path()).await;
    let office = server
        .desktop(dir.path(), "oficina_central", Duration::zero())
        .await;
    let centre = server
        .desktop(dir.path(), "sucursal_centro", Duration::zero())
        .await;
    let south = server
        .desktop(dir.path(), "sucursal_sur", Duration::zero())
        .await;
    let ids = initial_state(
        &scenario,
        &office,
        &[&centre, &south],
        "2024-03-01T07:00:00Z",
    )
    .await;

    for step in scenario["steps"].as_array().unwrap() {
        if step["variant"].as_str() == Some("B only") && variant != "B" {
            continue;
        }
        let t = step["t"].as_str().unwrap();
        let node = match step["node"].as_str().unwrap() {
            "oficina_central" => &office,
            "sucursal_centro" => &centre,
            "sucursal_sur" => &south,
            other => panic!("unknown node {other}"),
        };
        match step["action"].as_str().unwrap() {
            "go_offline" => {}
            "delete" => {
                let id = ours(&ids, step["customer_id"].as_str().unwrap());
                let outcome = node.store.delete_customer(id, node.clock(t)).await.unwrap();
                assert!(outcome.blocked.is_empty());
                node.sync(t).await;
            }
            "sync" | "go_online_and_sync" => node.sync(t).await,
            "update" => {
                let id = ours(&ids, step["customer_id"].as_str().unwrap());
                node.update(t, id, &step["set"]).await;
            }
            // The server keeps tombstones (ids only) for good, so nothing can come back
            // after a purge horizon; there is no purge to run.
            "purge_tombstones_older_than_days" => {}
            "sync_all_nodes" => {
                for n in [&office, &centre, &south] {
                    n.sync(t).await;
                }
            }
            other => panic!("unknown action {other}"),
        }
    }

    let expected = &scenario["expected"]["both_variants"];
    let kept: Vec<String> = expected["customer_ids_every_node"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| ours(&ids, v.as_str().unwrap()).to_string())
        .collect();
    let gone = ours(&ids, expected["absent_every_node"][0].as_str().unwrap());
    for node in [&office, &centre, &south] {
        assert_eq!(node.customer_ids().await, kept);
        assert!(node.store.customer(gone).await.is_err());
    }

    let issues = south.store.sync_issues().await.unwrap();
    if variant == "B" {
        assert_eq!(issues.len(), 1, "{issues:?}");
        let issue = &issues[0];
        assert_eq!(issue.kind, SyncIssueKind::DiscardedEdit);
        assert_eq!(issue.entity_id, gone.to_string());
        assert_eq!(issue.detail, "oficina_central");
        assert_eq!(issue.occurred_at.date_naive().to_string(), "2024-03-02");
        assert_eq!(issue.fields, ["notes"]);
    } else {
        assert!(issues.is_empty(), "{issues:?}");
    }
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test]
async fn delete_resurrected_variant_a_stays_deleted_everywhere(#[case] backend: Backend) {
    delete_resurrected(backend, "A").await;
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test]
async fn delete_resurrected_variant_b_discards_the_offline_edit_and_says_so(
    #[case] backend: Backend,
) {
    delete_resurrected(backend, "B").await;
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test]
async fn offline_edits_survive_a_restart_and_go_out_on_reconnect(#[case] backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(backend, dir.path()).await;
    let office = server
        .desktop(dir.path(), "oficina_central", Duration::zero())
        .await;
    let laptop = server
        .desktop(dir.path(), "portatil", Duration::zero())
        .await;
    let ana = serde_json::json!({
        "nombre": "Ana", "apellidos": "Rey", "email": "ana@example.com",
        "telefono": "+34600000101", "notas": ""
    });
    let id = office.create("2026-12-01T09:00:00Z", &ana).await;
    office.sync("2026-12-01T09:00:00Z").await;
    laptop.sync("2026-12-01T09:01:00Z").await;

    // Offline: an edit, then the app is closed.
    let note = serde_json::json!({ "notas": "Prefiere tardes" });
    laptop.update("2026-12-02T10:00:00Z", id, &note).await;
    laptop.store.close().await;
    assert_eq!(office.store.customer(id).await.unwrap().fields.notes, "");

    // Opened again days later, back online.
    let reopened = Desktop {
        store: Store::open(&dir.path().join("portatil.db")).await.unwrap(),
        client: laptop.client.clone(),
        offset: Duration::zero(),
    };
    assert_eq!(reopened.store.outbox_len().await.unwrap(), 1);
    reopened.sync("2026-12-05T08:00:00Z").await;
    office.sync("2026-12-05T08:01:00Z").await;

    assert_eq!(reopened.store.outbox_len().await.unwrap(), 0);
    let seen = office.store.customer(id).await.unwrap();
    assert_eq!(seen.fields.notes, "Prefiere tardes");
    assert!(office.store.sync_conflicts().await.unwrap().is_empty());
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test]
async fn two_head_office_desktops_and_a_branch_converge_after_offline_edits(
    #[case] backend: Backend,
) {
    use clientela_core::domain::Origin;
    use clientela_core::store::BranchInput;
    use clientela_core::sync::Syncer;
    use clientela_core::Error;

    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(backend, dir.path()).await;
    let office = server
        .desktop(dir.path(), "oficina", Duration::zero())
        .await;
    let laptop = server
        .desktop(dir.path(), "portatil", Duration::zero())
        .await;
    let t0 = "2026-12-01T09:00:00Z";
    let branch = |name: &str| BranchInput {
        name: name.into(),
        country: "ES".into(),
        time_zone: "Europe/Madrid".into(),
    };
    let centro = office
        .store
        .create_branch(&branch("Centro"), at(t0))
        .await
        .unwrap();
    let sur = office
        .store
        .create_branch(&branch("Sur"), at(t0))
        .await
        .unwrap();
    let new = |first: &str, email: &str| CustomerFields {
        first_name: first.into(),
        last_name: "Prueba".into(),
        emails: vec![Email {
            address: email.into(),
            label: None,
            primary: true,
        }],
        ..Default::default()
    };
    let create = |fields: CustomerFields, assignment: Assignment| {
        let store = &office.store;
        async move {
            store
                .create_customer(&fields, &assignment, "ES", at(t0))
                .await
                .unwrap()
                .id
        }
    };
    let for_centro = create(
        new("Ana", "ana@example.com"),
        Assignment::Branches(vec![centro.id]),
    )
    .await;
    let for_sur = create(
        new("Eva", "eva@example.com"),
        Assignment::Branches(vec![sur.id]),
    )
    .await;
    let for_all = create(new("Luz", "luz@example.com"), Assignment::AllBranches).await;
    office.sync(t0).await;
    laptop.sync(t0).await;

    // The Centro branch signs in on its own desktop.
    let (_, secret) = server
        .db
        .add_credential(
            &server.company,
            Role::Branch,
            Some(&centro.id.to_string()),
            "Centro",
        )
        .await
        .unwrap();
    let branch_store = Store::open(&dir.path().join("centro.db")).await.unwrap();
    Syncer::default()
        .sign_in(&branch_store, &server.url, &secret)
        .await
        .unwrap();
    let desk = Desktop {
        store: branch_store,
        client: SyncClient::new(&server.url, &secret).unwrap(),
        offset: Duration::zero(),
    };
    desk.sync(t0).await;
    let mut expected = vec![for_centro.to_string(), for_all.to_string()];
    expected.sort();
    assert_eq!(
        desk.customer_ids().await,
        expected,
        "the branch sees only its customers"
    );
    assert_eq!(
        desk.store.customer(for_all).await.unwrap().origin,
        Origin::Global
    );

    // Everyone offline for a while.
    let t1 = "2026-12-02T10:00:00Z";
    laptop
        .update(
            t1,
            for_centro,
            &serde_json::json!({ "notas": "Prefiere tardes" }),
        )
        .await;
    let mut fields = office.store.customer(for_centro).await.unwrap().fields;
    fields.company = "Talleres Ruiz".into();
    office
        .store
        .update_customer(
            for_centro,
            &fields,
            &Assignment::Branches(vec![centro.id]),
            "ES",
            at(t1),
        )
        .await
        .unwrap();
    let mine = desk
        .store
        .create_customer(
            &new("Sol", "sol@example.com"),
            &Assignment::AllBranches,
            "ES",
            at(t1),
        )
        .await
        .unwrap();
    assert_eq!(mine.origin, Origin::Local(centro.id));
    assert_eq!(mine.assignment, Assignment::Branches(vec![centro.id]));
    // Global customers are read-only in a branch's view, and said so at once.
    let global = desk.store.customer(for_all).await.unwrap();
    let mut changed = global.fields.clone();
    changed.notes = "x".into();
    let edit_result = desk
        .store
        .update_customer(for_all, &changed, &Assignment::AllBranches, "ES", at(t1))
        .await;
    assert!(
        matches!(edit_result, Err(Error::BranchEditsOff)),
        "{edit_result:?}"
    );
    assert!(matches!(
        desk.store.delete_customer(for_all, at(t1)).await,
        Err(Error::GlobalDelete)
    ));

    // Back online, in any order, twice round.
    let t2 = "2026-12-03T08:00:00Z";
    for _ in 0..2 {
        for node in [&desk, &laptop, &office] {
            node.sync(t2).await;
        }
    }
    for node in [&office, &laptop, &desk] {
        let c = node.store.customer(for_centro).await.unwrap();
        assert_eq!(c.fields.notes, "Prefiere tardes");
        assert_eq!(c.fields.company, "Talleres Ruiz");
        let local = node.store.customer(mine.id).await.unwrap();
        assert_eq!(local.origin, Origin::Local(centro.id));
    }
    assert!(
        desk.store.customer(for_sur).await.is_err(),
        "never another branch's customer"
    );
    assert_eq!(office.customer_ids().await, laptop.customer_ids().await);
    assert!(desk.store.sync_issues().await.unwrap().is_empty());

    // The branch deletes its own local customer: gone everywhere.
    desk.store.delete_customer(mine.id, at(t2)).await.unwrap();
    desk.sync(t2).await;
    office.sync(t2).await;
    assert!(office.store.customer(mine.id).await.is_err());
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test]
async fn a_refused_change_is_shown_and_the_desktop_returns_to_the_server(#[case] backend: Backend) {
    use clientela_core::store::{BranchInput, SyncIssueKind};
    use clientela_core::sync::Syncer;

    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(backend, dir.path()).await;
    let office = server
        .desktop(dir.path(), "oficina", Duration::zero())
        .await;
    let t0 = "2026-12-01T09:00:00Z";
    let input = BranchInput {
        name: "Centro".into(),
        country: "ES".into(),
        time_zone: "Europe/Madrid".into(),
    };
    let centro = office.store.create_branch(&input, at(t0)).await.unwrap();
    office.sync(t0).await;

    // A desktop used on its own first, where its customer was made global; then it is
    // connected as the Centro branch, which may not make global customers.
    let store = Store::open(&dir.path().join("centro.db")).await.unwrap();
    let before = serde_json::json!({
        "nombre": "Gema", "apellidos": "Prieto", "email": "gema@example.com",
        "telefono": "+34600000201", "notas": ""
    });
    let (_, secret) = server
        .db
        .add_credential(
            &server.company,
            Role::Branch,
            Some(&centro.id.to_string()),
            "Centro",
        )
        .await
        .unwrap();
    let desk = Desktop {
        store,
        client: SyncClient::new(&server.url, &secret).unwrap(),
        offset: Duration::zero(),
    };
    let gema = desk.create(t0, &before).await;
    Syncer::default()
        .sign_in(&desk.store, &server.url, &secret)
        .await
        .unwrap();
    desk.sync(t0).await;

    let issues = desk.store.sync_issues().await.unwrap();
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert_eq!(issues[0].kind, SyncIssueKind::Refused);
    assert_eq!(issues[0].code, "branchEditsOff");
    assert_eq!(issues[0].entity_id, gema.to_string());
    // The server never had Gema: neither does the desktop now, and nothing waits.
    assert!(desk.store.customer(gema).await.is_err());
    assert_eq!(desk.store.outbox_len().await.unwrap(), 0);
    office.sync(t0).await;
    assert!(office.store.customer(gema).await.is_err());
}
