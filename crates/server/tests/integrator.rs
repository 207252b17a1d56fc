//! The integrator API over HTTP on loopback port 0, on SQLite and on PostgreSQL: customers
//! and appointments through `/v1/...`, the same access rules as sync, bad input named, and
//! what the API writes reaching a head-office desktop through sync.

mod common;

use std::path::Path;

use chrono::{Duration, Utc};
use clientela_core::domain::{Assignment, BranchId, CustomerFields, CustomerId, Email};
use clientela_core::store::{BranchInput, Store};
use clientela_core::sync::{sync_once, SyncClient};
use clientela_server::{serve, Backend, Db, Role};
use reqwest::{Method, StatusCode};
use rstest::rstest;
use serde_json::{json, Value};
use tokio::sync::oneshot;

/// A server on a new database, with a company whose branches a head-office desktop made.
struct Api {
    url: String,
    db: Db,
    company: String,
    head_office: String,
    /// A head-office desktop of the company, synced with the server.
    desktop: Store,
    desktop_client: SyncClient,
    centro: BranchId,
    norte: BranchId,
    _stop: oneshot::Sender<()>,
}

impl Api {
    async fn start(backend: Backend, dir: &Path) -> Self {
        let (db, _) = common::database(backend, dir).await;
        let company = db.add_company("Clientela API").await.unwrap();
        let (_, head_office) = db
            .add_credential(&company, Role::HeadOffice, None, "integrator")
            .await
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(serve(listener, db.clone(), async {
            let _ = stopped.await;
        }));

        let (_, desktop_secret) = db
            .add_credential(&company, Role::HeadOffice, None, "oficina")
            .await
            .unwrap();
        let desktop = Store::open(&dir.join("desktop.db")).await.unwrap();
        let desktop_client = SyncClient::new(&url, &desktop_secret).unwrap();
        let mut branches = Vec::new();
        for name in ["Centro", "Norte"] {
            let input = BranchInput {
                name: name.into(),
                country: "ES".into(),
                time_zone: "Europe/Madrid".into(),
            };
            branches.push(desktop.create_branch(&input, Utc::now()).await.unwrap().id);
        }
        sync_once(&desktop, &desktop_client, Utc::now())
            .await
            .unwrap();
        Self {
            url,
            db,
            company,
            head_office,
            desktop,
            desktop_client,
            centro: branches[0],
            norte: branches[1],
            _stop: stop,
        }
    }

    async fn branch_secret(&self, branch: BranchId) -> String {
        let (_, secret) = self
            .db
            .add_credential(
                &self.company,
                Role::Branch,
                Some(&branch.to_string()),
                "branch",
            )
            .await
            .unwrap();
        secret
    }

    /// Sends a request as `secret`; returns the status and the JSON body (null if none).
    async fn call(
        &self,
        secret: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = reqwest::Client::new()
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(secret);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        // The WebSocket route answers a plain request in plain text.
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, json)
    }

    async fn ho(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.call(&self.head_office, method, path, body).await
    }

    async fn sync_desktop(&self) {
        sync_once(&self.desktop, &self.desktop_client, Utc::now())
            .await
            .unwrap();
    }
}

fn ids(page: &Value) -> Vec<String> {
    page["customers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

fn jose() -> Value {
    json!({
        "firstName": "José",
        "lastName": "Güell Façanés",
        "emails": [{ "address": "  Jose.Guell@Example.COM " }],
        "phones": [{ "number": "600 111 222", "label": "móvil" }],
        "birthday": "--05-14",
        "tags": ["VIP"],
        "externalId": "ERP-1",
    })
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_is_created_found_changed_and_deleted(#[case] backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let api = Api::start(backend, dir.path()).await;

    let (status, created) = api.ho(Method::POST, "/v1/customers", Some(jose())).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["emails"][0]["address"], "jose.guell@example.com");
    assert_eq!(created["emails"][0]["primary"], true);
    assert_eq!(created["phones"][0]["number"], "+34600111222");
    assert_eq!(created["birthday"], "--05-14");
    assert_eq!(created["origin"], json!({ "kind": "global" }));
    assert_eq!(created["assignment"], json!({ "kind": "allBranches" }));
    let (status, read) = api
        .ho(Method::GET, &format!("/v1/customers/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read, created);

    for query in [
        "search=jose",
        "search=GUELL%20facanes",
        "search=600%20111",
        "tag=vip",
    ] {
        let (status, page) = api
            .ho(Method::GET, &format!("/v1/customers?{query}"), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{query}: {page}");
        assert_eq!(ids(&page), vec![id.clone()], "{query}");
    }
    let (_, page) = api
        .ho(Method::GET, "/v1/customers?externalId=ERP-1", None)
        .await;
    assert_eq!(ids(&page), vec![id.clone()]);
    let (_, page) = api
        .ho(Method::GET, "/v1/customers?search=maria", None)
        .await;
    assert!(ids(&page).is_empty());

    // Only the fields sent change.
    let patch = json!({ "notes": "Alergia al látex", "birthday": null });
    let (status, updated) = api
        .ho(Method::PATCH, &format!("/v1/customers/{id}"), Some(patch))
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["notes"], "Alergia al látex");
    assert_eq!(updated["birthday"], Value::Null);
    assert_eq!(updated["firstName"], "José");
    assert_eq!(updated["phones"], created["phones"]);

    // A head-office desktop hears of all of it through sync.
    api.sync_desktop().await;
    let customer_id: CustomerId = id.parse().unwrap();
    let on_desktop = api.desktop.customer(customer_id).await.unwrap();
    assert_eq!(on_desktop.fields.first_name, "José");
    assert_eq!(on_desktop.fields.notes, "Alergia al látex");
    assert_eq!(on_desktop.fields.birthday, None);
    assert_eq!(on_desktop.fields.phones[0].number, "+34600111222");

    // And what the desktop changes, the API shows.
    let mut fields = on_desktop.fields.clone();
    fields.company = "Güell SL".into();
    api.desktop
        .update_customer(
            customer_id,
            &fields,
            &on_desktop.assignment,
            "ES",
            Utc::now(),
        )
        .await
        .unwrap();
    api.sync_desktop().await;
    let (_, read) = api
        .ho(Method::GET, &format!("/v1/customers/{id}"), None)
        .await;
    assert_eq!(read["company"], "Güell SL");
    assert_eq!(read["notes"], "Alergia al látex");

    let (status, _) = api
        .ho(Method::DELETE, &format!("/v1/customers/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, gone) = api
        .ho(Method::GET, &format!("/v1/customers/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{gone}");
    let (_, page) = api.ho(Method::GET, "/v1/customers", None).await;
    assert!(ids(&page).is_empty());
    api.sync_desktop().await;
    assert!(api.desktop.customer(customer_id).await.is_err());
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_import_sent_twice_changes_nothing_the_second_time(#[case] backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let api = Api::start(backend, dir.path()).await;
    let customers: Vec<Value> = (1..=5)
        .map(|i| {
            json!({
                "externalId": format!("ERP-{i}"),
                "firstName": format!("Cliente {i}"),
                "phones": [{ "number": format!("61100000{i}") }],
                "assignment": { "kind": "branches", "branches": [api.centro.to_string()] },
            })
        })
        .collect();
    let request = json!({ "customers": customers });

    let (status, first) = api
        .ho(Method::POST, "/v1/customers/import", Some(request.clone()))
        .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let outcomes: Vec<&str> = first["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, vec!["created"; 5]);
    let head = api.db.last_seq(&api.company).await.unwrap();

    let (status, second) = api
        .ho(Method::POST, "/v1/customers/import", Some(request))
        .await;
    assert_eq!(status, StatusCode::OK);
    for (a, b) in first["results"]
        .as_array()
        .unwrap()
        .iter()
        .zip(second["results"].as_array().unwrap())
    {
        assert_eq!(b["outcome"], "unchanged");
        assert_eq!(
            a["id"], b["id"],
            "the same external id is the same customer"
        );
    }
    assert_eq!(api.db.last_seq(&api.company).await.unwrap(), head);

    // One changed value is one update.
    let request = json!({ "customers": [{ "externalId": "ERP-3", "notes": "nuevo" }] });
    let (_, third) = api
        .ho(Method::POST, "/v1/customers/import", Some(request))
        .await;
    assert_eq!(third["results"][0]["outcome"], "updated");
    let id = third["results"][0]["id"].as_str().unwrap();
    let (_, read) = api
        .ho(Method::GET, &format!("/v1/customers/{id}"), None)
        .await;
    assert_eq!(read["notes"], "nuevo");
    assert_eq!(read["firstName"], "Cliente 3");

    // Pages of two, in name order, cover every customer once.
    let mut seen = Vec::new();
    let mut path = "/v1/customers?limit=2&branch=".to_owned() + &api.centro.to_string();
    loop {
        let (status, page) = api.ho(Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        seen.extend(
            page["customers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["firstName"].as_str().unwrap().to_owned()),
        );
        match page["next"].as_str() {
            Some(next) => path = format!("/v1/customers?limit=2&after={next}"),
            None => break,
        }
    }
    let expected: Vec<String> = (1..=5).map(|i| format!("Cliente {i}")).collect();
    assert_eq!(seen, expected);
    let (_, norte) = api
        .ho(
            Method::GET,
            &format!("/v1/customers?branch={}", api.norte),
            None,
        )
        .await;
    assert!(ids(&norte).is_empty());
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_a_4xx_naming_the_field(#[case] backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let api = Api::start(backend, dir.path()).await;
    let (_, created) = api.ho(Method::POST, "/v1/customers", Some(jose())).await;
    let id = created["id"].as_str().unwrap().to_owned();
    let unknown = uuid::Uuid::now_v7().to_string();
    let later = (Utc::now() + Duration::days(3)).to_rfc3339();
    let earlier = (Utc::now() + Duration::days(2)).to_rfc3339();

    let cases: Vec<(Method, String, Option<Value>, StatusCode, &str)> = vec![
        (
            Method::POST,
            "/v1/customers".into(),
            Some(json!({ "firstName": "Ana", "fax": "1" })),
            StatusCode::UNPROCESSABLE_ENTITY,
            "fax",
        ),
        (
            Method::POST,
            "/v1/customers".into(),
            Some(json!({ "firstName": 5 })),
            StatusCode::UNPROCESSABLE_ENTITY,
            "firstName",
        ),
        (
            Method::POST,
            "/v1/customers".into(),
            Some(json!({ "firstName": "Ana", "emails": [{ "address": "ana@" }] })),
            StatusCode::UNPROCESSABLE_ENTITY,
            "emails.0",
        ),
        (
            Method::POST,
            "/v1/customers".into(),
            Some(json!({ "lastName": "Sola" })),
            StatusCode::UNPROCESSABLE_ENTITY,
            "missingContact",
        ),
        (
            Method::POST,
            "/v1/customers".into(),
            Some(json!({ "firstName": "Ana", "phones": [{ "number": "1" }] })),
            StatusCode::UNPROCESSABLE_ENTITY,
            "phones.0",
        ),
        (
            Method::POST,
            "/v1/customers".into(),
            Some(
                json!({ "firstName": "Ana", "phones": [{ "number": "611000000" }],
                "birthday": "31/02/1990" }),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "birthday",
        ),
        (
            Method::POST,
            "/v1/customers".into(),
            Some(
                json!({ "firstName": "Ana", "phones": [{ "number": "611000000" }],
                "assignment": { "kind": "branches", "branches": [unknown.clone()] } }),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "assignment.branches.0",
        ),
        (
            Method::POST,
            "/v1/customers".into(),
            Some(
                json!({ "firstName": "Ana", "phones": [{ "number": "611000000" }],
                "externalId": "ERP-1" }),
            ),
            StatusCode::CONFLICT,
            "externalId",
        ),
        (
            Method::POST,
            "/v1/customers?region=XX".into(),
            Some(jose()),
            StatusCode::UNPROCESSABLE_ENTITY,
            "region",
        ),
        (
            Method::POST,
            "/v1/customers".into(),
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
            "body",
        ),
        (
            Method::GET,
            "/v1/customers?limit=0".into(),
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
            "limit",
        ),
        (
            Method::GET,
            "/v1/customers?colour=red".into(),
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
            "colour",
        ),
        (
            Method::GET,
            "/v1/customers?after=nobody".into(),
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
            "after",
        ),
        (
            Method::GET,
            format!("/v1/customers/{unknown}"),
            None,
            StatusCode::NOT_FOUND,
            "customer",
        ),
        (
            Method::GET,
            "/v1/customers/not-an-id".into(),
            None,
            StatusCode::NOT_FOUND,
            "customer",
        ),
        (
            Method::PATCH,
            format!("/v1/customers/{id}"),
            Some(json!({ "emails": [{ "address": "x@y.es", "primary": "yes" }] })),
            StatusCode::UNPROCESSABLE_ENTITY,
            "emails[0].primary",
        ),
        (
            Method::POST,
            "/v1/customers/import".into(),
            Some(
                json!({ "customers": [{ "externalId": "A", "firstName": "Ana",
                "phones": [{ "number": "611000001" }] }, { "firstName": "Eva" }] }),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "customers.1.externalId",
        ),
        (
            Method::POST,
            "/v1/customers/import".into(),
            Some(
                json!({ "customers": [{ "externalId": "B", "firstName": "Ana",
                "emails": [{ "address": "no" }] }] }),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "customers.0.emails.0",
        ),
        (
            Method::POST,
            "/v1/appointments".into(),
            Some(
                json!({ "customerId": id.clone(), "branchId": api.centro.to_string(),
                "startsAt": later.clone(), "endsAt": earlier.clone() }),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "endsAt",
        ),
        (
            Method::POST,
            "/v1/appointments".into(),
            Some(
                json!({ "customerId": id.clone(), "branchId": api.centro.to_string(),
                "startsAt": "mañana", "endsAt": later.clone() }),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "startsAt",
        ),
        (
            Method::POST,
            "/v1/appointments".into(),
            Some(
                json!({ "customerId": unknown.clone(), "branchId": api.centro.to_string(),
                "startsAt": earlier.clone(), "endsAt": later.clone() }),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "customerId",
        ),
        (
            Method::POST,
            "/v1/appointments".into(),
            Some(
                json!({ "customerId": id.clone(), "branchId": unknown.clone(),
                "startsAt": earlier.clone(), "endsAt": later.clone() }),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "branchId",
        ),
        (
            Method::POST,
            "/v1/appointments".into(),
            Some(
                json!({ "customerId": id.clone(), "branchId": api.centro.to_string(),
                "startsAt": "9999-12-31T22:00:00-05:00", "endsAt": "9999-12-31T23:00:00-05:00" }),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "startsAt",
        ),
        (
            Method::POST,
            "/v1/appointments".into(),
            Some(
                json!({ "customerId": id.clone(), "branchId": api.centro.to_string(),
                "startsAt": "2030-01-01T10:00:00Z", "endsAt": "2030-01-01T10:00:60Z" }),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "endsAt",
        ),
        (
            Method::POST,
            "/v1/customers".into(),
            Some(json!({ "firstName": "a\u{0}b", "emails": [{ "address": "nul@x.es" }] })),
            StatusCode::UNPROCESSABLE_ENTITY,
            "firstName",
        ),
        (
            Method::POST,
            "/v1/customers".into(),
            Some(json!(["Ana", "Ruiz", [{ "address": "ana@x.es" }]])),
            StatusCode::UNPROCESSABLE_ENTITY,
            "not a JSON object",
        ),
        (
            Method::GET,
            "/v1/customers?search=a%00b".into(),
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
            "search",
        ),
        (
            Method::POST,
            "/v1/customers".into(),
            Some(
                json!({ "firstName": "Ana", "phones": [{ "number": "611000000" }],
                "birthday": "0000-01-01" }),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "birthday",
        ),
        (
            Method::POST,
            format!("/v1/appointments/{unknown}/cancel"),
            None,
            StatusCode::NOT_FOUND,
            "appointment",
        ),
    ];
    for (method, path, body, status, named) in cases {
        let (got, error) = api.ho(method.clone(), &path, body.clone()).await;
        assert_eq!(got, status, "{method} {path} {body:?}: {error}");
        let message = error["message"].as_str().unwrap_or_default();
        let code = error["code"].as_str().unwrap_or_default();
        assert!(
            message.contains(named) || code.contains(named),
            "{method} {path}: {error} does not name {named}"
        );
    }
    // None of it changed the customer.
    let (_, read) = api
        .ho(Method::GET, &format!("/v1/customers/{id}"), None)
        .await;
    assert_eq!(read, created);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_branch_reaches_only_its_own_customers_through_the_api(#[case] backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let api = Api::start(backend, dir.path()).await;
    let centro = api.branch_secret(api.centro).await;
    let norte = api.branch_secret(api.norte).await;
    let mut global = jose();
    global["assignment"] = json!({ "kind": "branches", "branches": [api.centro.to_string()] });
    let (_, global) = api.ho(Method::POST, "/v1/customers", Some(global)).await;
    let global = global["id"].as_str().unwrap().to_owned();

    let local = json!({ "firstName": "Eva", "phones": [{ "number": "622000000" }] });
    let (status, local) = api
        .call(&centro, Method::POST, "/v1/customers", Some(local))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{local}");
    assert_eq!(
        local["origin"],
        json!({ "kind": "local", "branch": api.centro.to_string() })
    );
    let local = local["id"].as_str().unwrap().to_owned();

    // Centro sees both; Norte neither, not even that they exist.
    let (_, page) = api.call(&centro, Method::GET, "/v1/customers", None).await;
    let mut seen = ids(&page);
    seen.sort();
    let mut both = vec![global.clone(), local.clone()];
    both.sort();
    assert_eq!(seen, both);
    let (_, page) = api.call(&norte, Method::GET, "/v1/customers", None).await;
    assert!(ids(&page).is_empty());
    for id in [&global, &local] {
        for method in [Method::GET, Method::PATCH, Method::DELETE] {
            let body = (method == Method::PATCH).then(|| json!({ "notes": "x" }));
            let (status, _) = api
                .call(&norte, method.clone(), &format!("/v1/customers/{id}"), body)
                .await;
            assert_eq!(status, StatusCode::NOT_FOUND, "Norte {method} {id}");
        }
    }
    let (_, page) = api
        .call(&norte, Method::GET, "/v1/customers?externalId=ERP-1", None)
        .await;
    assert!(ids(&page).is_empty());
    let after_global = format!("/v1/customers?after={global}");
    let (status, _) = api.call(&norte, Method::GET, &after_global, None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let taken = json!({ "customers": [{ "externalId": "ERP-1", "firstName": "Otro",
        "phones": [{ "number": "644000000" }] }] });
    let (status, error) = api
        .call(&norte, Method::POST, "/v1/customers/import", Some(taken))
        .await;
    let code = error["code"].as_str();
    assert_eq!(
        (status, code),
        (StatusCode::CONFLICT, Some("externalIdTaken"))
    );
    assert!(
        !error.to_string().contains(&global),
        "{error} names the customer"
    );

    // Centro changes its own customer, not the global one.
    let (status, _) = api
        .call(
            &centro,
            Method::PATCH,
            &format!("/v1/customers/{local}"),
            Some(json!({ "notes": "nota" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, error) = api
        .call(
            &centro,
            Method::PATCH,
            &format!("/v1/customers/{global}"),
            Some(json!({ "notes": "nota" })),
        )
        .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("branchEditsOff"))
    );
    let (status, error) = api
        .call(
            &centro,
            Method::DELETE,
            &format!("/v1/customers/{global}"),
            None,
        )
        .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("globalDelete"))
    );
    let (status, error) = api
        .call(
            &centro,
            Method::POST,
            "/v1/customers",
            Some(
                json!({ "firstName": "Eva", "phones": [{ "number": "633000000" }],
                "assignment": { "kind": "allBranches" } }),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");

    // Appointments: Centro books at Centro only.
    let starts = Utc::now() + Duration::days(1);
    let booking = |branch: BranchId| {
        json!({ "customerId": local, "branchId": branch.to_string(),
            "startsAt": starts.to_rfc3339(), "endsAt": (starts + Duration::hours(1)).to_rfc3339() })
    };
    let (status, error) = api
        .call(
            &centro,
            Method::POST,
            "/v1/appointments",
            Some(booking(api.norte)),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{error}");
    // Not even head office books a customer at a branch the customer is unknown to.
    let at_norte = Some(booking(api.norte));
    let (status, error) = api.ho(Method::POST, "/v1/appointments", at_norte).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    let (status, booked) = api
        .call(
            &centro,
            Method::POST,
            "/v1/appointments",
            Some(booking(api.centro)),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{booked}");
    let appointment = booked["id"].as_str().unwrap();
    let (status, _) = api
        .call(
            &norte,
            Method::GET,
            &format!("/v1/appointments/{appointment}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_appointment_booked_through_the_api_holds_a_deletion_until_cancelled(
    #[case] backend: Backend,
) {
    let dir = tempfile::tempdir().unwrap();
    let api = Api::start(backend, dir.path()).await;
    let (_, created) = api.ho(Method::POST, "/v1/customers", Some(jose())).await;
    let id = created["id"].as_str().unwrap().to_owned();
    let starts = Utc::now() + Duration::days(10);
    let booking = json!({
        "customerId": id, "branchId": api.centro.to_string(),
        "startsAt": starts.to_rfc3339(), "endsAt": (starts + Duration::minutes(45)).to_rfc3339(),
    });
    let (status, booked) = api
        .ho(Method::POST, "/v1/appointments", Some(booking))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{booked}");
    assert_eq!(booked["status"], "booked");
    let appointment = booked["id"].as_str().unwrap().to_owned();

    // Through the API, the deletion is refused while the appointment stands.
    let (status, error) = api
        .ho(Method::DELETE, &format!("/v1/customers/{id}"), None)
        .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (StatusCode::CONFLICT, Some("futureAppointment"))
    );

    // On the desktop, the appointment blocks Centro and the deletion waits.
    api.sync_desktop().await;
    let customer: CustomerId = id.parse().unwrap();
    let appointments = api.desktop.appointments_of(customer).await.unwrap();
    assert_eq!(appointments.len(), 1);
    assert_eq!(appointments[0].branch, api.centro);
    api.desktop
        .delete_customer(customer, Utc::now())
        .await
        .unwrap();
    let pending = api.desktop.pending_deletions(Utc::now()).await.unwrap();
    assert_eq!(pending.len(), 1);
    assert!(api.desktop.customer(customer).await.is_ok());

    // Cancelled through the API: the desktop's deletion completes by itself and reaches
    // the server.
    let cancel = format!("/v1/appointments/{appointment}/cancel");
    let (status, cancelled) = api.ho(Method::POST, &cancel, None).await;
    assert_eq!(
        (status, cancelled["status"].as_str()),
        (StatusCode::OK, Some("cancelled"))
    );
    let (status, again) = api.ho(Method::POST, &cancel, None).await;
    assert_eq!(
        (status, again["status"].as_str()),
        (StatusCode::OK, Some("cancelled"))
    );
    let (status, error) = api
        .ho(
            Method::POST,
            &format!("/v1/appointments/{appointment}/complete"),
            None,
        )
        .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (StatusCode::CONFLICT, Some("invalidState"))
    );

    api.sync_desktop().await;
    assert!(api
        .desktop
        .pending_deletions(Utc::now())
        .await
        .unwrap()
        .is_empty());
    assert!(api.desktop.customer(customer).await.is_err());
    api.sync_desktop().await;
    let (status, _) = api
        .ho(Method::GET, &format!("/v1/customers/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Its appointment left the server's log with it.
    let history = format!("/v1/sync/history?entity=appointment&id={appointment}");
    let (status, changes) = api.ho(Method::GET, &history, None).await;
    assert_eq!((status, changes), (StatusCode::OK, json!([])));
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_appointment_booked_on_a_desktop_reaches_the_api(#[case] backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let api = Api::start(backend, dir.path()).await;
    let fields = CustomerFields {
        first_name: "Ana".into(),
        emails: vec![Email {
            address: "ana@example.es".into(),
            label: None,
            primary: true,
        }],
        ..Default::default()
    };
    let customer = api
        .desktop
        .create_customer(&fields, &Assignment::AllBranches, "ES", Utc::now())
        .await
        .unwrap();
    let starts = (Utc::now() + Duration::days(2)).naive_utc();
    let new = clientela_core::store::NewAppointment {
        customer: customer.id,
        branch: api.norte,
        starts_local: starts,
        minutes: 30,
    };
    let booked = api.desktop.add_appointment(&new, Utc::now()).await.unwrap();
    api.sync_desktop().await;

    let (status, seen) = api
        .ho(
            Method::GET,
            &format!("/v1/appointments/{}", booked.id),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{seen}");
    assert_eq!(seen["customerId"], customer.id.to_string());
    assert_eq!(seen["branchId"], api.norte.to_string());
    assert_eq!(seen["status"], "booked");
    let (status, error) = api
        .ho(
            Method::DELETE,
            &format!("/v1/customers/{}", customer.id),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{error}");
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_describes_routes_the_server_has(#[case] backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let api = Api::start(backend, dir.path()).await;
    let response = reqwest::get(format!("{}/v1/openapi.json", api.url))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let document: Value = response.json().await.unwrap();
    assert!(document["openapi"].as_str().unwrap().starts_with("3."));
    let paths = document["paths"].as_object().unwrap();
    let mut operations = 0;
    for (path, item) in paths {
        let concrete = path.replace("{id}", &uuid::Uuid::now_v7().to_string());
        for method in item.as_object().unwrap().keys() {
            let Ok(method) = method.to_uppercase().parse::<Method>() else {
                continue;
            };
            if !["GET", "POST", "PATCH", "DELETE", "PUT"].contains(&method.as_str()) {
                continue;
            }
            operations += 1;
            let (status, body) = api.ho(method.clone(), &concrete, None).await;
            assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            assert_ne!(
                body["message"].as_str(),
                Some("route not found"),
                "{method} {path} is in the document but not on the server"
            );
        }
    }
    // Sync (push, pull, history, session, health, events) and the integrator API.
    assert!(operations >= 14, "only {operations} operations described");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_database_from_before_records_gets_them_from_its_log() {
    use sqlx::Connection;
    let dir = tempfile::tempdir().unwrap();
    let api = Api::start(Backend::Sqlite, dir.path()).await;
    let (_, created) = api.ho(Method::POST, "/v1/customers", Some(jose())).await;
    let id = created["id"].as_str().unwrap().to_owned();

    let file = dir.path().join(clientela_server::db::DATABASE_FILE);
    let mut raw = sqlx::SqliteConnection::connect(&format!("sqlite://{}", file.display()))
        .await
        .unwrap();
    sqlx::query("DELETE FROM records")
        .execute(&mut raw)
        .await
        .unwrap();
    raw.close().await.unwrap();

    let reopened = Db::open(dir.path()).await.unwrap();
    let caller = reopened.caller(&api.head_office).await.unwrap().unwrap();
    let customer = reopened.api_customer(&caller, &id).await.unwrap();
    assert_eq!(customer.first_name, "José");
    assert_eq!(customer.phones[0].number, "+34600111222");
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn requests_at_the_same_moment_never_make_a_customer_twice(#[case] backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let api = std::sync::Arc::new(Api::start(backend, dir.path()).await);
    let customers: Vec<Value> = (0..20)
        .map(|i| {
            json!({ "externalId": format!("RACE-{i}"), "firstName": "R",
            "emails": [{ "address": format!("race{i}@x.es") }] })
        })
        .collect();
    let request = json!({ "customers": customers });
    let imports = (0..4).map(|_| {
        let (api, request) = (api.clone(), request.clone());
        tokio::spawn(async move {
            api.ho(Method::POST, "/v1/customers/import", Some(request))
                .await
        })
    });
    for import in futures_util::future::join_all(imports).await {
        assert_eq!(import.unwrap().0, StatusCode::OK);
    }
    let (_, page) = api.ho(Method::GET, "/v1/customers?limit=500", None).await;
    assert_eq!(ids(&page).len(), 20);

    let one = json!({ "externalId": "CONC-1", "firstName": "C",
        "emails": [{ "address": "conc@x.es" }] });
    let creates = (0..6).map(|_| {
        let (api, one) = (api.clone(), one.clone());
        tokio::spawn(async move { api.ho(Method::POST, "/v1/customers", Some(one)).await })
    });
    let statuses: Vec<StatusCode> = futures_util::future::join_all(creates)
        .await
        .into_iter()
        .map(|r| r.unwrap().0)
        .collect();
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::CREATED)
            .count(),
        1
    );
    assert!(statuses
        .iter()
        .all(|s| *s == StatusCode::CREATED || *s == StatusCode::CONFLICT));

    // A booking and a deletion at the same moment: one of them waits for the other, so
    // either the customer stays with its appointment or both are gone.
    for round in 0..8 {
        let mut customer = jose();
        customer["externalId"] = json!(format!("DEL-{round}"));
        customer["emails"] = json!([{ "address": format!("del{round}@x.es") }]);
        customer["phones"] = json!([]);
        let (_, created) = api.ho(Method::POST, "/v1/customers", Some(customer)).await;
        let id = created["id"].as_str().unwrap().to_owned();
        let starts = Utc::now() + Duration::days(5);
        let booking = json!({ "customerId": id, "branchId": api.centro.to_string(),
            "startsAt": starts.to_rfc3339(),
            "endsAt": (starts + Duration::hours(1)).to_rfc3339() });
        let book = {
            let api = api.clone();
            tokio::spawn(async move {
                api.ho(Method::POST, "/v1/appointments", Some(booking))
                    .await
            })
        };
        let delete = {
            let (api, path) = (api.clone(), format!("/v1/customers/{id}"));
            tokio::spawn(async move { api.ho(Method::DELETE, &path, None).await })
        };
        let (booked, deleted) = (book.await.unwrap(), delete.await.unwrap());
        let (exists, _) = api
            .ho(Method::GET, &format!("/v1/customers/{id}"), None)
            .await;
        if booked.0 == StatusCode::CREATED {
            let appointment = booked.1["id"].as_str().unwrap();
            let (kept, _) = api
                .ho(
                    Method::GET,
                    &format!("/v1/appointments/{appointment}"),
                    None,
                )
                .await;
            if deleted.0 == StatusCode::NO_CONTENT {
                // The deletion went first and the booking after it? Then it could not
                // have been booked.
                panic!("round {round}: both the booking and the deletion succeeded");
            }
            assert_eq!(
                (exists, kept),
                (StatusCode::OK, StatusCode::OK),
                "round {round}"
            );
        } else {
            assert_eq!(deleted.0, StatusCode::NO_CONTENT, "round {round}");
            assert_eq!(exists, StatusCode::NOT_FOUND, "round {round}");
        }
    }
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_branch_desktop_gets_the_appointments_booked_at_it_and_no_others(
    #[case] backend: Backend,
) {
    use clientela_core::sync::Syncer;
    let dir = tempfile::tempdir().unwrap();
    let api = Api::start(backend, dir.path()).await;
    let mut customer = jose();
    customer["assignment"] = json!({ "kind": "allBranches" });
    let (_, customer) = api.ho(Method::POST, "/v1/customers", Some(customer)).await;
    let id: CustomerId = customer["id"].as_str().unwrap().parse().unwrap();
    let starts = Utc::now() + Duration::days(3);
    let booking = json!({ "customerId": id.to_string(), "branchId": api.centro.to_string(),
        "startsAt": starts.to_rfc3339(), "endsAt": (starts + Duration::hours(1)).to_rfc3339() });
    let (status, booked) = api
        .ho(Method::POST, "/v1/appointments", Some(booking))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{booked}");

    let mut seen = Vec::new();
    for branch in [api.centro, api.norte] {
        let store = Store::open(&dir.path().join(format!("{branch}.db")))
            .await
            .unwrap();
        let syncer = Syncer::default();
        let secret = api.branch_secret(branch).await;
        syncer.sign_in(&store, &api.url, &secret).await.unwrap();
        syncer
            .round(&store, Utc::now(), &mut |_, _| {})
            .await
            .unwrap();
        seen.push(store.appointments_of(id).await.unwrap().len());
    }
    assert_eq!(seen, vec![1, 0], "Centro sees its appointment; Norte none");

    // A branch cannot push an appointment for a customer it does not see.
    let hidden = {
        let mut c = jose();
        c["externalId"] = json!("ERP-2");
        c["emails"] = json!([{ "address": "oculto@example.es" }]);
        c["assignment"] = json!({ "kind": "branches", "branches": [api.centro.to_string()] });
        let (_, c) = api.ho(Method::POST, "/v1/customers", Some(c)).await;
        c["id"].as_str().unwrap().to_owned()
    };
    let norte = api.branch_secret(api.norte).await;
    let booking = json!({ "customerId": hidden, "branchId": api.norte.to_string(),
        "startsAt": starts.to_rfc3339(), "endsAt": (starts + Duration::hours(1)).to_rfc3339() });
    let (status, _) = api
        .call(&norte, Method::POST, "/v1/appointments", Some(booking))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    // Nor through sync, as a desktop would push it.
    let node = uuid::Uuid::now_v7();
    let hlc = clientela_core::hlc::Clock::new(node, None)
        .tick(Utc::now())
        .to_string();
    let field = |value: Value| json!({ "value": value, "stamp": hlc });
    let change = json!({
        "id": format!("{node}:1"), "entity": "appointment",
        "entityId": uuid::Uuid::now_v7().to_string(), "op": "upsert", "hlc": hlc,
        "fields": {
            "customerId": field(json!(hidden)), "branchId": field(json!(api.norte.to_string())),
            "startsAt": field(json!("2030-01-01T10:00:00.000Z")),
            "endsAt": field(json!("2030-01-01T11:00:00.000Z")), "status": field(json!("booked")),
        },
    });
    let push = json!({ "changes": [change] });
    let (status, pushed) = api
        .call(&norte, Method::POST, "/v1/sync/push", Some(push))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(pushed["results"][0]["code"], "forbidden", "{pushed}");
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_office_adds_a_branch_that_desktops_receive(#[case] backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let api = Api::start(backend, dir.path()).await;
    let sur = json!({ "name": "Sevilla Triana", "country": "es", "timeZone": "Europe/Madrid" });
    let (status, added) = api.ho(Method::POST, "/v1/branches", Some(sur)).await;
    assert_eq!(status, StatusCode::CREATED, "{added}");
    assert_eq!(added["country"], "ES");
    let (_, listed) = api.ho(Method::GET, "/v1/branches", None).await;
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["Centro", "Norte", "Sevilla Triana"]);

    let refused = [
        (
            json!({ "name": "SEVILLA triána", "country": "ES", "timeZone": "Europe/Madrid" }),
            StatusCode::CONFLICT,
            "branchNameTaken",
        ),
        (
            json!({ "name": "Lisboa", "country": "PT", "timeZone": "Europe/Lisbon ", "x": 1 }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "x",
        ),
        (
            json!({ "name": "Lisboa", "country": "PT", "timeZone": "Europa/Lisboa" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "timeZone",
        ),
        (
            json!({ "name": "Lisboa", "country": "Portugal", "timeZone": "Europe/Lisbon" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "country",
        ),
        (
            json!({ "name": " ", "country": "PT", "timeZone": "Europe/Lisbon" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "name",
        ),
    ];
    for (body, status, named) in refused {
        let (got, error) = api
            .ho(Method::POST, "/v1/branches", Some(body.clone()))
            .await;
        assert_eq!(got, status, "{body}: {error}");
        let said = format!("{} {}", error["code"], error["message"]);
        assert!(
            said.contains(named),
            "{body}: {error} does not name {named}"
        );
    }
    let centro = api.branch_secret(api.centro).await;
    let lisboa = json!({ "name": "Lisboa", "country": "PT", "timeZone": "Europe/Lisbon" });
    let (status, _) = api
        .call(&centro, Method::POST, "/v1/branches", Some(lisboa))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    api.sync_desktop().await;
    let on_desktop = api.desktop.branches().await.unwrap();
    let triana = on_desktop
        .iter()
        .find(|b| b.name == "Sevilla Triana")
        .unwrap();
    assert_eq!(triana.id.to_string(), added["id"].as_str().unwrap());
    assert_eq!(triana.time_zone, "Europe/Madrid");
}
