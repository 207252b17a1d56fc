//! The import wizard's steps end to end on a real SQLite file: all or nothing, never
//! overwriting a stored value, and bad files refused before anything is written.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use chrono::{DateTime, TimeZone, Utc};
use clientela_core::domain::Assignment;
use clientela_core::import::{DateOrder, ReadOptions};
use clientela_core::importer::{open_file, ImportSettings, OpenedFile};
use clientela_core::store::{BranchInput, CustomerFilter, ImportPlacement, ImportSummary, Store};
use clientela_core::Error;

fn corpus(name: &str) -> Vec<u8> {
    let dir = std::env::var_os("CLIENTELA_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus")
        });
    std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("corpus file {name}: {e}"))
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 4, 12, 0, 0).unwrap()
}

fn settings(opened: &OpenedFile) -> ImportSettings {
    ImportSettings {
        mapping: opened.mapping.clone(),
        region: "ES".into(),
        date_order: DateOrder::DayMonth,
        placement: ImportPlacement {
            default_assignment: Assignment::AllBranches,
            branch_map: Vec::new(),
        },
    }
}

struct Fixture {
    store: Store,
    _dir: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("clientela.db")).await.unwrap();
    Fixture { store, _dir: dir }
}

async fn import(store: &Store, bytes: &[u8], name: &str) -> Result<ImportSummary, Error> {
    let opened = open_file(bytes, name, ReadOptions::default())?;
    let cancel = AtomicBool::new(false);
    store
        .run_import(
            &opened.table,
            &settings(&opened),
            now(),
            &cancel,
            &mut |_| {},
        )
        .await
}

async fn total(store: &Store) -> u32 {
    store
        .count_customers(&CustomerFilter::default())
        .await
        .unwrap()
}

#[tokio::test]
async fn spanish_excel_file_lands_in_active_customers_with_accents_intact() {
    let f = fixture().await;
    let summary = import(&f.store, &corpus("excel-es-semicolon-cp1252.csv"), "x.csv")
        .await
        .unwrap();
    assert_eq!(summary.created, 3);

    let search = CustomerFilter {
        search: "jose".into(),
        ..Default::default()
    };
    let page = f.store.list_customers(&search, 0, 10).await.unwrap();
    assert_eq!(page.rows.len(), 1);
    let jose = f.store.customer(page.rows[0].id).await.unwrap();
    assert_eq!(jose.fields.last_name, "Güell Façanés");
    assert_eq!(jose.fields.notes, "Cliente desde 2019 – «VIP»");
    assert_eq!(jose.fields.phones[0].number, "+34600000103");
}

#[tokio::test]
async fn importing_the_same_file_twice_creates_nobody_new() {
    let f = fixture().await;
    let file = corpus("excel-utf8-bom.csv");
    import(&f.store, &file, "a.csv").await.unwrap();
    let again = import(&f.store, &file, "a.csv").await.unwrap();
    assert_eq!((again.created, again.updated, again.unchanged), (0, 0, 3));
    assert!(again.conflicts.is_empty());
    assert_eq!(total(&f.store).await, 3);
}

#[tokio::test]
async fn a_differing_stored_value_is_reported_not_overwritten() {
    let f = fixture().await;
    import(
        &f.store,
        b"nombre;apellidos;email\nAna;Rey;ana@example.com\n",
        "a.csv",
    )
    .await
    .unwrap();
    let second = b"nombre;apellidos;email;notas\nAnita;Rey;ana@example.com;Prefiere tardes\n";
    let opened = open_file(second, "b.csv", ReadOptions::default()).unwrap();
    let review = f
        .store
        .review_import(&opened.table, &settings(&opened))
        .await
        .unwrap();
    assert_eq!(
        review.stored.matched, 1,
        "the review shows the match before writing"
    );
    assert_eq!(review.stored.conflicts.len(), 1);
    assert_eq!(review.stored.conflicts[0].incoming, "Anita");

    let summary = import(&f.store, second, "b.csv").await.unwrap();

    assert_eq!(summary.updated, 1, "the empty notes are filled in");
    assert_eq!(summary.conflicts.len(), 1);
    let conflict = &summary.conflicts[0];
    assert_eq!((conflict.field.as_str(), conflict.row), ("firstName", 2));
    assert_eq!(
        (conflict.stored.as_str(), conflict.incoming.as_str()),
        ("Ana", "Anita")
    );
    let stored = f.store.customer(conflict.customer).await.unwrap();
    assert_eq!(stored.fields.first_name, "Ana");
    assert_eq!(stored.fields.notes, "Prefiere tardes");
}

#[tokio::test]
async fn cancelled_import_writes_nothing() {
    let f = fixture().await;
    let opened = open_file(
        &corpus("phones-local-formats.csv"),
        "p.csv",
        ReadOptions::default(),
    )
    .unwrap();
    let cancel = AtomicBool::new(true);
    let result = f
        .store
        .run_import(
            &opened.table,
            &settings(&opened),
            now(),
            &cancel,
            &mut |_| {},
        )
        .await;
    assert!(matches!(result, Err(Error::Cancelled)));
    assert_eq!(total(&f.store).await, 0);
    assert_eq!(f.store.outbox_len().await.unwrap(), 0);
}

#[tokio::test]
async fn rows_naming_an_unknown_branch_stop_the_import_before_anything_is_written() {
    let f = fixture().await;
    let file = corpus("duplicates-within-file.csv");
    let opened = open_file(&file, "d.csv", ReadOptions::default()).unwrap();
    let review = f
        .store
        .review_import(&opened.table, &settings(&opened))
        .await
        .unwrap();
    assert_eq!(review.unknown_branches, ["Centro", "Norte", "Sur"]);
    let refused = import(&f.store, &file, "d.csv").await.unwrap_err();
    assert_eq!(refused.code(), "importUnknownBranches");
    assert_eq!(total(&f.store).await, 0);

    for name in ["Centro", "norte", "SUR"] {
        let branch = BranchInput {
            name: name.into(),
            country: "ES".into(),
            time_zone: "Europe/Madrid".into(),
        };
        f.store.create_branch(&branch, now()).await.unwrap();
    }
    let summary = import(&f.store, &file, "d.csv").await.unwrap();
    assert_eq!(summary.created, 3);
    let lorena = f
        .store
        .list_customers(&CustomerFilter::default(), 0, 10)
        .await
        .unwrap();
    let merged = lorena
        .rows
        .iter()
        .find(|r| r.branches.len() == 2)
        .expect("A merged");
    assert_eq!(merged.branches, ["Centro", "norte"]);
}

#[tokio::test]
async fn files_that_are_not_customer_lists_are_refused_with_their_reason() {
    let f = fixture().await;
    let cases: [(&[u8], &str, &str); 4] = [
        (b"", "empty.csv", "importEmpty"),
        (
            b"\x00\x01\x02\x03binary\x00\xff\xfe\x00",
            "blob.csv",
            "importNotText",
        ),
        (b"PK\x03\x04\x14\x00\x06\x00", "book.xlsx", "importWorkbook"),
        (
            b"colour;size\nred;XL\n",
            "shirts.csv",
            "importNoUsableColumn",
        ),
    ];
    for (bytes, name, code) in cases {
        let err = import(&f.store, bytes, name).await.unwrap_err();
        assert_eq!(err.code(), code, "{name}");
    }
    assert_eq!(total(&f.store).await, 0);
}

#[tokio::test]
async fn duplicate_header_stops_the_import_until_the_columns_are_confirmed() {
    let f = fixture().await;
    let file = corpus("duplicate-headers.csv");
    let err = import(&f.store, &file, "dup.csv").await.unwrap_err();
    assert_eq!(err.code(), "importDuplicateHeader");
    assert_eq!(total(&f.store).await, 0);

    let opened = open_file(&file, "dup.csv", ReadOptions::default()).unwrap();
    let mut confirmed = settings(&opened);
    for column in &mut confirmed.mapping {
        column.guessed = false;
    }
    let cancel = AtomicBool::new(false);
    f.store
        .run_import(&opened.table, &confirmed, now(), &cancel, &mut |_| {})
        .await
        .unwrap();
    let rosa = CustomerFilter {
        search: "rosa".into(),
        ..Default::default()
    };
    let row = &f.store.list_customers(&rosa, 0, 1).await.unwrap().rows[0];
    let phones = f.store.customer(row.id).await.unwrap().fields.phones;
    let numbers: Vec<&str> = phones.iter().map(|p| p.number.as_str()).collect();
    assert_eq!(numbers, ["+34600000251", "+34910000251"]);
}

#[tokio::test]
async fn a_row_matching_a_customer_awaiting_deletion_is_not_absorbed_into_it() {
    let f = fixture().await;
    let s = &f.store;
    let centro = BranchInput {
        name: "Centro".into(),
        country: "ES".into(),
        time_zone: "Europe/Madrid".into(),
    };
    let centro = s.create_branch(&centro, now()).await.unwrap();
    import(s, b"nombre;email\nAna;ana@example.com\n", "a.csv")
        .await
        .unwrap();
    let ana = s
        .list_customers(&CustomerFilter::default(), 0, 1)
        .await
        .unwrap()
        .rows[0]
        .id;
    let start = (now() + chrono::Duration::days(3)).naive_utc();
    let booking = clientela_core::store::NewAppointment {
        customer: ana,
        branch: centro.id,
        starts_local: start,
        minutes: 30,
    };
    s.add_appointment(&booking, now()).await.unwrap();
    s.delete_customer(ana, now()).await.unwrap();

    let summary = import(
        s,
        b"nombre;email;notas\nAna;ana@example.com;Nueva nota\n",
        "b.csv",
    )
    .await
    .unwrap();
    assert_eq!((summary.created, summary.updated), (1, 0));
    assert_eq!(total(s).await, 1, "the new row is an active customer again");
}

#[tokio::test]
async fn a_taken_external_id_is_reported_as_a_conflict_instead_of_failing_the_import() {
    let f = fixture().await;
    let s = &f.store;
    import(
        s,
        b"id externo;nombre;email\nX-1;Ana;ana@example.com\n",
        "a.csv",
    )
    .await
    .unwrap();

    let file = b"id externo;nombre;email\nX-1;Eva;eva@example.com\nX-2;Luz;luz@example.com\n\
                 X-2;Sol;sol@example.com\n";
    let summary = import(s, file, "b.csv").await.unwrap();
    assert_eq!(summary.created, 3, "every person is imported");
    let rows: Vec<(u32, &str)> = summary
        .conflicts
        .iter()
        .map(|c| (c.row, c.field.as_str()))
        .collect();
    assert_eq!(rows, [(2, "externalId"), (4, "externalId")]);
    assert_eq!(total(s).await, 4);
}

#[tokio::test]
async fn a_placement_naming_a_branch_that_does_not_exist_is_refused_before_writing() {
    let f = fixture().await;
    let bytes = corpus("excel-es-semicolon-cp1252.csv");
    let opened = open_file(
        &bytes,
        "excel-es-semicolon-cp1252.csv",
        ReadOptions::default(),
    )
    .unwrap();
    let mut settings = settings(&opened);
    let ghost = clientela_core::domain::BranchId::new();
    settings.placement.default_assignment = Assignment::Branches(vec![ghost]);

    let refused = f
        .store
        .run_import(
            &opened.table,
            &settings,
            now(),
            &AtomicBool::new(false),
            &mut |_| {},
        )
        .await
        .unwrap_err();

    assert_eq!(refused.code(), "notFound", "{refused:?}");
    assert_eq!(total(&f.store).await, 0);
}

#[tokio::test]
async fn a_file_without_a_header_row_imports_every_customer_once_mapped() {
    use clientela_core::import::Target;
    let f = fixture().await;
    let bytes = "Ana;Rey;ana@example.com;600 000 101\nEva;Sanz;eva@example.com;600 000 102\n";
    let opened = open_file(bytes.as_bytes(), "sin-cabecera.csv", ReadOptions::default()).unwrap();
    let guessed: Vec<Option<Target>> = opened.mapping.iter().map(|m| m.target).collect();
    assert_eq!(
        guessed,
        [None, None, Some(Target::Email), Some(Target::Phone)]
    );

    let mut settings = settings(&opened);
    settings.mapping[0].target = Some(Target::FirstName);
    settings.mapping[1].target = Some(Target::LastName);
    let summary = f
        .store
        .run_import(
            &opened.table,
            &settings,
            now(),
            &AtomicBool::new(false),
            &mut |_| {},
        )
        .await
        .unwrap();

    assert_eq!(summary.created, 2);
    let ana = CustomerFilter {
        search: "ana rey".into(),
        ..Default::default()
    };
    assert_eq!(f.store.count_customers(&ana).await.unwrap(), 1);
}

#[tokio::test]
async fn exported_customers_import_again_into_another_database_unchanged() {
    let f = fixture().await;
    let bytes = corpus("excel-es-semicolon-cp1252.csv");
    import(&f.store, &bytes, "excel-es-semicolon-cp1252.csv")
        .await
        .unwrap();
    let only_jose = CustomerFilter {
        search: "jose".into(),
        ..Default::default()
    };

    let all = f
        .store
        .export_customers(&CustomerFilter::default())
        .await
        .unwrap();
    let jose = f.store.export_customers(&only_jose).await.unwrap();

    let other = fixture().await;
    let summary = import(&other.store, &all, "clientes.csv").await.unwrap();
    assert_eq!(summary.created, 3);
    let text = String::from_utf8(jose).unwrap();
    assert!(text.contains("Güell") && !text.contains("Begoña"), "{text}");
    assert_eq!(
        jose_of(&f.store, &only_jose).await,
        jose_of(&other.store, &only_jose).await
    );
}

async fn jose_of(store: &Store, filter: &CustomerFilter) -> clientela_core::domain::CustomerFields {
    let page = store.list_customers(filter, 0, 10).await.unwrap();
    store.customer(page.rows[0].id).await.unwrap().fields
}

#[test]
fn a_large_file_read_in_parts_gives_the_rows_in_order_with_merges_across_parts() {
    use clientela_core::import::{analyze, ImportOptions};
    use std::ops::ControlFlow;

    const ROWS: usize = 20_000;
    let mut file = String::from("nombre;apellidos;email;telefono\n");
    for k in 0..ROWS {
        let email = match k {
            // Refused: no valid contact, in the second half.
            15_000 => "no-es-un-email".to_owned(),
            // The first customer again, in the last part.
            k if k == ROWS - 1 => " CLIENTE0@Example.com ".to_owned(),
            k => format!("cliente{k}@example.com"),
        };
        let phone = if k == 15_000 {
            String::new()
        } else {
            format!("6{k:08}")
        };
        file.push_str(&format!("Nombre{k};Apellido;{email};{phone}\n"));
    }
    let opened = open_file(file.as_bytes(), "grande.csv", ReadOptions::default()).unwrap();
    let analysis = analyze(&opened.table, &opened.mapping, &ImportOptions::default()).unwrap();

    assert_eq!(analysis.counts.rows_read as usize, ROWS);
    assert_eq!(analysis.customers.len(), ROWS - 2);
    // Spreadsheet rows: the header is row 1.
    assert_eq!(analysis.customers[0].rows, vec![2, ROWS as u32 + 1]);
    assert_eq!(analysis.customers[0].fields.phones.len(), 2);
    let firsts: Vec<u32> = analysis.customers.iter().map(|c| c.rows[0]).collect();
    assert!(
        firsts.windows(2).all(|w| w[0] < w[1]),
        "customers in row order"
    );
    let errors: Vec<u32> = analysis
        .problems
        .iter()
        .filter(|p| p.is_error())
        .map(|p| p.row)
        .collect();
    assert_eq!(errors, vec![15_002]);

    let mut calls = 0;
    let cancelled = clientela_core::import::analyze_with_progress(
        &opened.table,
        &opened.mapping,
        &ImportOptions::default(),
        &mut |_| {
            calls += 1;
            if calls > 2 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        },
    );
    assert_eq!(
        cancelled.unwrap_err(),
        clientela_core::import::AnalyzeError::Cancelled
    );
}
