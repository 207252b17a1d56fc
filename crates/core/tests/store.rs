//! The local store on a real SQLite file: customers, filters, appointments and the
//! deletion rule end to end.

use chrono::{DateTime, Duration, NaiveDateTime, TimeZone, Utc};
use clientela_core::domain::{Assignment, CustomerFields, Email, Phone};
use clientela_core::store::{BranchInput, CustomerFilter, NewAppointment, SortKey, Store};
use clientela_core::Error;

struct TestStore {
    store: Store,
    _dir: tempfile::TempDir,
}

async fn store() -> TestStore {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("clientela.db")).await.unwrap();
    TestStore { store, _dir: dir }
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 4, 12, 0, 0).unwrap()
}

fn person(first: &str, last: &str, email: &str, phone: &str) -> CustomerFields {
    CustomerFields {
        first_name: first.into(),
        last_name: last.into(),
        emails: vec![Email {
            address: email.into(),
            label: None,
            primary: true,
        }],
        phones: vec![Phone {
            number: phone.into(),
            label: None,
            primary: true,
        }],
        ..Default::default()
    }
}

fn branch(name: &str) -> BranchInput {
    BranchInput {
        name: name.into(),
        country: "ES".into(),
        time_zone: "Europe/Madrid".into(),
    }
}

/// Ana Rey, a global customer in every branch.
async fn ana(s: &Store) -> clientela_core::domain::Customer {
    let fields = person("Ana", "Rey", "ana@example.com", "");
    s.create_customer(&fields, &Assignment::AllBranches, "ES", now())
        .await
        .unwrap()
}

fn filter(search: &str) -> CustomerFilter {
    CustomerFilter {
        search: search.into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn customer_survives_closing_and_reopening_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clientela.db");
    let store = Store::open(&path).await.unwrap();
    let created = store
        .create_customer(
            &person("José", "Güell", "Jose@Example.org ", "600 000 103"),
            &Assignment::AllBranches,
            "ES",
            now(),
        )
        .await
        .unwrap();
    store.close().await;

    let reopened = Store::open(&path).await.unwrap();
    let loaded = reopened.customer(created.id).await.unwrap();
    assert_eq!(loaded.fields.emails[0].address, "jose@example.org");
    assert_eq!(loaded.fields.phones[0].number, "+34600000103");
    assert_eq!(loaded, created);
}

#[tokio::test]
async fn search_ignores_case_and_accents_and_finds_phones() {
    let t = store().await;
    let s = &t.store;
    for (first, last, email, phone) in [
        (
            "José",
            "Güell Façanés",
            "jose.guell@example.org",
            "600000103",
        ),
        ("Begoña", "Ibáñez", "begona@example.com", "600000102"),
    ] {
        s.create_customer(
            &person(first, last, email, phone),
            &Assignment::AllBranches,
            "ES",
            now(),
        )
        .await
        .unwrap();
    }

    let page = s.list_customers(&filter("jose"), 0, 50).await.unwrap();
    assert_eq!(page.rows.len(), 1);
    assert_eq!(page.rows[0].last_name, "Güell Façanés");
    assert_eq!(s.count_customers(&filter("IBAÑEZ")).await.unwrap(), 1);
    assert_eq!(s.count_customers(&filter("600 000 102")).await.unwrap(), 1);
    assert_eq!(s.count_customers(&filter("%")).await.unwrap(), 0);
}

#[tokio::test]
async fn branch_tag_and_booking_filters_combine() {
    let t = store().await;
    let s = &t.store;
    let centro = s.create_branch(&branch("Centro"), now()).await.unwrap();
    let norte = s.create_branch(&branch("Norte"), now()).await.unwrap();
    let mut tagged = person("Ana", "Prieto", "ana@example.com", "600000311");
    tagged.tags = vec!["VIP".into()];
    let ana = s
        .create_customer(&tagged, &Assignment::Branches(vec![centro.id]), "ES", now())
        .await
        .unwrap();
    s.create_customer(
        &person("Bea", "Prieto", "bea@example.com", "600000312"),
        &Assignment::Branches(vec![norte.id]),
        "ES",
        now(),
    )
    .await
    .unwrap();
    for day in 1..=2 {
        book(s, ana.id, centro.id, day).await;
    }

    let vip = s
        .tags()
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.name == "VIP")
        .unwrap();
    let combined = CustomerFilter {
        search: "prieto".into(),
        branch: Some(centro.id),
        tag: Some(vip.id),
        min_bookings: Some(2),
        sort: SortKey::Bookings,
        ..Default::default()
    };
    let page = s.list_customers(&combined, 0, 50).await.unwrap();
    assert_eq!(s.count_customers(&combined).await.unwrap(), 1);
    assert_eq!(page.rows[0].first_name, "Ana");
    assert_eq!(page.rows[0].bookings, 2);
    assert_eq!(page.rows[0].branches, vec!["Centro"]);
    assert_eq!(page.rows[0].tags, vec!["VIP"]);

    let by_norte = CustomerFilter {
        branch: Some(norte.id),
        ..Default::default()
    };
    assert_eq!(
        s.list_customers(&by_norte, 0, 50).await.unwrap().rows[0].first_name,
        "Bea"
    );
}

async fn book(
    s: &Store,
    customer: clientela_core::domain::CustomerId,
    branch: clientela_core::domain::BranchId,
    days: i64,
) -> clientela_core::store::Appointment {
    let start: NaiveDateTime = (now() + Duration::days(days)).naive_utc();
    s.add_appointment(
        &NewAppointment {
            customer,
            branch,
            starts_local: start,
            minutes: 45,
        },
        now(),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn invalid_form_is_refused_with_every_field_named_and_nothing_written() {
    let t = store().await;
    let err = t
        .store
        .create_customer(
            &person("", "", "bad@@example.com", "1"),
            &Assignment::AllBranches,
            "ES",
            now(),
        )
        .await
        .unwrap_err();
    let Error::InvalidCustomer(problems) = err else {
        panic!("expected field problems")
    };
    let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(fields, ["emails.0", "phones.0", "firstName"]);
    assert_eq!(t.store.count_customers(&filter("")).await.unwrap(), 0);
    assert_eq!(
        t.store.outbox_len().await.unwrap(),
        0,
        "a refused change leaves no outbox entry"
    );
}

#[tokio::test]
async fn every_change_lands_in_the_outbox_in_the_same_transaction() {
    let t = store().await;
    let s = &t.store;
    let c = ana(s).await;
    let mut changed = c.fields.clone();
    changed.notes = "Prefiere tardes".into();
    s.update_customer(c.id, &changed, &Assignment::AllBranches, "ES", now())
        .await
        .unwrap();
    assert_eq!(s.outbox_len().await.unwrap(), 2);
}

#[tokio::test]
async fn customer_without_future_appointments_is_deleted_leaving_only_a_tombstone() {
    let t = store().await;
    let s = &t.store;
    let centro = s.create_branch(&branch("Centro"), now()).await.unwrap();
    let c = s
        .create_customer(
            &person("Ana", "Rey", "ana@example.com", ""),
            &Assignment::Branches(vec![centro.id]),
            "ES",
            now(),
        )
        .await
        .unwrap();
    let outcome = s.delete_customer(c.id, now()).await.unwrap();
    assert!(outcome.completed);
    assert_eq!(outcome.cleared.len(), 1);
    assert!(matches!(
        s.customer(c.id).await,
        Err(Error::NotFound { .. })
    ));
    assert_eq!(s.count_customers(&filter("")).await.unwrap(), 0);
    assert_eq!(
        s.outbox_len().await.unwrap(),
        2,
        "branch creation and the delete; no personal data"
    );
}

#[tokio::test]
async fn future_appointment_blocks_its_branch_until_cancelled() {
    let t = store().await;
    let s = &t.store;
    let centro = s.create_branch(&branch("Centro"), now()).await.unwrap();
    let norte = s.create_branch(&branch("Norte"), now()).await.unwrap();
    let c = ana(s).await;
    let appointment = book(s, c.id, centro.id, 10).await;

    let outcome = s.delete_customer(c.id, now()).await.unwrap();
    assert!(!outcome.completed);
    assert_eq!(
        outcome.cleared.iter().map(|b| b.id).collect::<Vec<_>>(),
        vec![norte.id]
    );
    assert_eq!(outcome.blocked[0].branch.id, centro.id);
    assert_eq!(outcome.blocked[0].starts_at, appointment.starts_at);

    let pending = s.pending_deletions(now()).await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].blocked[0].branch.name, "Centro");
    assert_eq!(
        s.count_customers(&filter("")).await.unwrap(),
        0,
        "not active any more"
    );
    let in_norte = CustomerFilter {
        branch: Some(norte.id),
        ..Default::default()
    };
    assert_eq!(s.count_customers(&in_norte).await.unwrap(), 0);
    assert!(
        !s.retry_deletion(c.id, now()).await.unwrap(),
        "still blocked"
    );

    s.cancel_appointment(appointment.id, now()).await.unwrap();
    assert!(
        s.pending_deletions(now()).await.unwrap().is_empty(),
        "completes by itself"
    );
    assert!(matches!(
        s.customer(c.id).await,
        Err(Error::NotFound { .. })
    ));
}

#[tokio::test]
async fn blocked_deletion_completes_once_the_appointment_is_over() {
    let t = store().await;
    let s = &t.store;
    let centro = s.create_branch(&branch("Centro"), now()).await.unwrap();
    let c = ana(s).await;
    book(s, c.id, centro.id, 1).await;
    s.delete_customer(c.id, now()).await.unwrap();

    assert_eq!(
        s.retry_deletions(now() + Duration::hours(1)).await.unwrap(),
        0
    );
    assert_eq!(
        s.retry_deletions(now() + Duration::days(2)).await.unwrap(),
        1
    );
    assert!(s.pending_deletions(now()).await.unwrap().is_empty());
}

#[tokio::test]
async fn branch_names_are_unique_ignoring_case_and_accents() {
    let t = store().await;
    t.store
        .create_branch(&branch("Málaga Centro"), now())
        .await
        .unwrap();
    let err = t
        .store
        .create_branch(&branch("malaga centro"), now())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::BranchNameTaken));
}

#[tokio::test]
async fn branch_with_unknown_time_zone_is_refused() {
    let t = store().await;
    let bad = BranchInput {
        time_zone: "Europe/Atlantis".into(),
        ..branch("Sur")
    };
    assert!(matches!(
        t.store.create_branch(&bad, now()).await,
        Err(Error::InvalidInput {
            field: "timeZone",
            ..
        })
    ));
}

#[tokio::test]
async fn appointment_time_is_read_in_the_branch_time_zone() {
    let t = store().await;
    let s = &t.store;
    let canarias = s
        .create_branch(
            &BranchInput {
                name: "Las Palmas".into(),
                country: "ES".into(),
                time_zone: "Atlantic/Canary".into(),
            },
            now(),
        )
        .await
        .unwrap();
    let c = ana(s).await;
    let local = NaiveDateTime::parse_from_str("2027-01-14 10:30", "%Y-%m-%d %H:%M").unwrap();
    let a = s
        .add_appointment(
            &NewAppointment {
                customer: c.id,
                branch: canarias.id,
                starts_local: local,
                minutes: 30,
            },
            now(),
        )
        .await
        .unwrap();
    assert_eq!(
        a.starts_at,
        Utc.with_ymd_and_hms(2027, 1, 14, 10, 30, 0).unwrap(),
        "UTC+0 in winter"
    );
    assert_eq!(a.ends_at - a.starts_at, Duration::minutes(30));
}

#[tokio::test]
async fn editing_keeps_bookings_and_appointments() {
    let t = store().await;
    let s = &t.store;
    let centro = s.create_branch(&branch("Centro"), now()).await.unwrap();
    let c = ana(s).await;
    book(s, c.id, centro.id, 3).await;
    let mut changed = c.fields.clone();
    changed.last_name = "Rey Soto".into();
    let updated = s
        .update_customer(c.id, &changed, &Assignment::AllBranches, "ES", now())
        .await
        .unwrap();
    assert_eq!(updated.bookings, 1);
    assert_eq!(s.appointments_of(c.id).await.unwrap().len(), 1);
    assert_eq!(updated.fields.last_name, "Rey Soto");
}

#[tokio::test]
async fn deleted_customer_leaves_no_personal_data_in_the_database_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clientela.db");
    let s = Store::open(&path).await.unwrap();
    let mut fields = person(
        "Zacarías",
        "Olmedilla",
        "zacarias.olmedilla@example.com",
        "",
    );
    fields.notes = "Alergia al níquel".into();
    let c = s
        .create_customer(&fields, &Assignment::AllBranches, "ES", now())
        .await
        .unwrap();
    fields.notes = "Prefiere tardes".into();
    s.update_customer(c.id, &fields, &Assignment::AllBranches, "ES", now())
        .await
        .unwrap();
    assert!(s.delete_customer(c.id, now()).await.unwrap().completed);
    s.close().await;

    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        for secret in [
            "Olmedilla",
            "zacarias.olmedilla",
            "níquel",
            "Prefiere tardes",
        ] {
            let found = bytes.windows(secret.len()).any(|w| w == secret.as_bytes());
            assert!(!found, "{secret:?} is still in the database files");
        }
    }
}

#[tokio::test]
async fn customer_awaiting_deletion_can_no_longer_be_changed_or_booked() {
    let t = store().await;
    let s = &t.store;
    let centro = s.create_branch(&branch("Centro"), now()).await.unwrap();
    let norte = s.create_branch(&branch("Norte"), now()).await.unwrap();
    let c = ana(s).await;
    book(s, c.id, centro.id, 5).await;
    s.delete_customer(c.id, now()).await.unwrap();

    let again = s
        .update_customer(c.id, &c.fields, &Assignment::AllBranches, "ES", now())
        .await;
    assert!(matches!(again, Err(Error::DeletionPending)));
    let start = (now() + Duration::days(9)).naive_utc();
    let booking = NewAppointment {
        customer: c.id,
        branch: norte.id,
        starts_local: start,
        minutes: 30,
    };
    assert!(matches!(
        s.add_appointment(&booking, now()).await,
        Err(Error::DeletionPending)
    ));
}

#[tokio::test]
async fn retrying_the_deletion_of_an_unknown_customer_says_not_found() {
    let t = store().await;
    let unknown = clientela_core::domain::CustomerId::new();
    assert!(matches!(
        t.store.retry_deletion(unknown, now()).await,
        Err(Error::NotFound { .. })
    ));
}

#[tokio::test]
async fn cancelling_an_appointment_twice_changes_nothing_the_second_time() {
    let t = store().await;
    let s = &t.store;
    let centro = s.create_branch(&branch("Centro"), now()).await.unwrap();
    let c = ana(s).await;
    let a = book(s, c.id, centro.id, 5).await;
    s.cancel_appointment(a.id, now()).await.unwrap();
    let queued = s.outbox_len().await.unwrap();
    s.cancel_appointment(a.id, now()).await.unwrap();
    assert_eq!(s.outbox_len().await.unwrap(), queued);
}

#[tokio::test]
async fn search_finds_an_email_with_accents() {
    let t = store().await;
    let s = &t.store;
    s.create_customer(
        &person("Ana", "Rey", "ana@peluquería.es", ""),
        &Assignment::AllBranches,
        "ES",
        now(),
    )
    .await
    .unwrap();
    assert_eq!(s.count_customers(&filter("peluquería")).await.unwrap(), 1);
    assert_eq!(
        s.count_customers(&filter("ana@peluqueria.es"))
            .await
            .unwrap(),
        1
    );
}

#[tokio::test]
async fn branch_with_a_list_separator_or_unknown_country_is_refused() {
    let t = store().await;
    for bad in [
        BranchInput {
            name: "Madrid, Centro".into(),
            ..branch("x")
        },
        BranchInput {
            name: "Sur|Este".into(),
            ..branch("x")
        },
        BranchInput {
            country: "XX".into(),
            ..branch("Sur")
        },
        BranchInput {
            country: "UK".into(),
            ..branch("Londres")
        },
    ] {
        let refused = t.store.create_branch(&bad, now()).await;
        assert!(
            matches!(refused, Err(Error::InvalidInput { .. })),
            "{bad:?}"
        );
    }
}

#[tokio::test]
async fn outbox_names_the_changed_fields_without_copying_personal_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clientela.db");
    let s = Store::open(&path).await.unwrap();
    let mut fields = person("Zacarías", "Olmedilla", "zacarias@example.com", "600000999");
    let c = s
        .create_customer(&fields, &Assignment::AllBranches, "ES", now())
        .await
        .unwrap();
    fields.notes = "Alergia al níquel".into();
    s.update_customer(c.id, &fields, &Assignment::AllBranches, "ES", now())
        .await
        .unwrap();
    s.close().await;

    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let payloads: Vec<String> = sqlx::query_scalar("SELECT payload FROM outbox ORDER BY seq")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(payloads.len(), 2);
    assert!(
        payloads[1].contains("\"notes\""),
        "the update names its field: {}",
        payloads[1]
    );
    for payload in &payloads {
        for secret in ["Olmedilla", "zacarias@", "600000999", "níquel"] {
            assert!(!payload.contains(secret), "{secret} copied into the outbox");
        }
    }
}

#[tokio::test]
async fn an_external_id_already_in_use_is_refused_and_nothing_is_written() {
    let s = store().await;
    let mut first = person("Ana", "Rey", "ana@example.com", "");
    first.external_id = "EXT-1".into();
    s.store
        .create_customer(&first, &Assignment::AllBranches, "ES", now())
        .await
        .unwrap();

    let mut second = person("Eva", "Sanz", "eva@example.com", "");
    second.external_id = "EXT-1".into();
    let refused = s
        .store
        .create_customer(&second, &Assignment::AllBranches, "ES", now())
        .await
        .unwrap_err();

    assert!(matches!(refused, Error::ExternalIdTaken), "{refused:?}");
    assert_eq!(s.store.count_customers(&filter("")).await.unwrap(), 1);
    assert_eq!(s.store.count_customers(&filter("eva")).await.unwrap(), 0);
}

#[tokio::test]
async fn assignment_to_a_branch_that_does_not_exist_is_refused_as_not_found() {
    let s = store().await;
    let ghost = clientela_core::domain::BranchId::new();
    let refused = s
        .store
        .create_customer(
            &person("Ana", "Rey", "ana@example.com", ""),
            &Assignment::Branches(vec![ghost]),
            "ES",
            now(),
        )
        .await
        .unwrap_err();
    assert_eq!(refused.code(), "notFound");
}
