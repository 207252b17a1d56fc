//! `clientela-sync-bench`: the first full download of a company's customers by a fresh
//! desktop, as a ratio to importing the same file locally; and how long a head-office edit
//! takes to be visible on 20 connected desktops (p50, p99), all through a real server on
//! loopback.
//!
//! Run it with `scripts/bench.sh` (release build).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use clientela_bench::{generate, import_file, ms, rows_arg, store_with_branches, Error, WorkDir};
use clientela_core::domain::{Assignment, CustomerFields, CustomerId, Email};
use clientela_core::store::{CustomerFilter, Store};
use clientela_core::sync::{sync_once, SyncClient};
use clientela_server::{serve, Db, Role};
use tokio::sync::mpsc;

/// Desktops listening while head office edits, and edits timed.
const CLIENTS: usize = 20;
const EDITS: usize = 50;
/// An edit not seen everywhere by then means something is broken, not slow.
const GIVE_UP: Duration = Duration::from_secs(30);

#[tokio::main]
async fn main() -> Result<(), Error> {
    let rows = rows_arg()?;
    let dir = WorkDir::new("clientela-sync-bench")?;
    let work = dir.0.as_path();
    let server = Server::start(work).await?;

    first_download(work, &server, rows).await?;
    edit_latency(work, &server).await?;
    Ok(())
}

struct Server {
    db: Db,
    url: String,
}

impl Server {
    async fn start(work: &Path) -> Result<Self, Error> {
        let db = Db::open(&work.join("server")).await?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        tokio::spawn(serve(listener, db.clone(), std::future::pending()));
        Ok(Self { db, url })
    }

    /// A new company with `count` head-office credentials.
    async fn company(&self, name: &str, count: usize) -> Result<Vec<SyncClient>, Error> {
        let company = self.db.add_company(name).await?;
        let mut clients = Vec::with_capacity(count);
        for i in 0..count {
            let (_, secret) = self
                .db
                .add_credential(&company, Role::HeadOffice, None, &format!("desk {i}"))
                .await?;
            clients.push(SyncClient::new(&self.url, &secret)?);
        }
        Ok(clients)
    }
}

/// Head office imports the file and uploads it; a fresh desktop then downloads it all.
async fn first_download(work: &Path, server: &Server, rows: u32) -> Result<(), Error> {
    let csv = generate(work, rows)?;
    let clients = server.company("Primera descarga", 2).await?;

    let office = store_with_branches(&work.join("office.db")).await?;
    let (import, summary) = import_file(&office, &csv).await?;
    let started = Instant::now();
    sync_once(&office, &clients[0], Utc::now()).await?;
    let upload = started.elapsed();

    let fresh = Store::open(&work.join("fresh.db")).await?;
    let started = Instant::now();
    let report = sync_once(&fresh, &clients[1], Utc::now()).await?;
    let download = started.elapsed();
    let stored = fresh.count_customers(&CustomerFilter::default()).await?;
    if stored != summary.created {
        return Err(format!(
            "downloaded {stored} customers, imported {}",
            summary.created
        )
        .into());
    }

    println!("file: {rows} data rows; {} customers", summary.created);
    println!(
        "local import:              {:>8.3} s",
        import.total.as_secs_f64()
    );
    println!("upload by head office:     {:>8.3} s", upload.as_secs_f64());
    println!(
        "first download (fresh):    {:>8.3} s  ({} changes)",
        download.as_secs_f64(),
        report.pulled
    );
    println!(
        "sync ratio: {:.2} (first download / local import of the same rows)",
        download.as_secs_f64() / import.total.as_secs_f64()
    );
    Ok(())
}

/// Head office edits one customer again and again; each of the desktops, woken by the
/// server, pulls and reports when it sees the new value.
async fn edit_latency(work: &Path, server: &Server) -> Result<(), Error> {
    let mut clients = server.company("Latencia", CLIENTS + 1).await?;
    let office_client = clients.remove(0);
    let office = Store::open(&work.join("latency-office.db")).await?;
    let fields = CustomerFields {
        first_name: "Celia".into(),
        last_name: "Rubio".into(),
        emails: vec![Email {
            address: "celia.rubio@example.com".into(),
            label: None,
            primary: true,
        }],
        ..Default::default()
    };
    let celia = office
        .create_customer(&fields, &Assignment::AllBranches, "ES", Utc::now())
        .await?;
    sync_once(&office, &office_client, Utc::now()).await?;

    // Each desktop: a store, a listener, and a loop that syncs when told.
    let (seen_tx, mut seen) = mpsc::unbounded_channel::<(usize, String)>();
    let mut desks = Vec::with_capacity(CLIENTS);
    for (i, client) in clients.into_iter().enumerate() {
        let store = Arc::new(Store::open(&work.join(format!("desk-{i}.db"))).await?);
        sync_once(&store, &client, Utc::now()).await?;
        desks.push(tokio::spawn(desk(
            i,
            store,
            client,
            celia.id,
            seen_tx.clone(),
        )));
    }

    let mut latencies = Vec::with_capacity(CLIENTS * EDITS);
    for edit in 0..EDITS {
        let note = format!("edit {edit}");
        let mut changed = office.customer(celia.id).await?.fields;
        changed.notes = note.clone();
        let started = Instant::now();
        office
            .update_customer(
                celia.id,
                &changed,
                &Assignment::AllBranches,
                "ES",
                Utc::now(),
            )
            .await?;
        sync_once(&office, &office_client, Utc::now()).await?;
        let mut pending = CLIENTS;
        let deadline = tokio::time::Instant::now() + GIVE_UP;
        while pending > 0 {
            let (_, value) = tokio::time::timeout_at(deadline, seen.recv())
                .await
                .map_err(|_| format!("edit {edit} not seen by every desktop in time"))?
                .ok_or("a desktop stopped")?;
            if value == note {
                latencies.push(started.elapsed());
                pending -= 1;
            }
        }
    }
    for d in desks {
        d.abort();
    }

    latencies.sort();
    let at = |p: usize| latencies[(latencies.len() * p / 100).min(latencies.len() - 1)];
    println!(
        "head-office edit visible on {CLIENTS} connected desktops ({} samples): \
         p50 {:.1} ms, p99 {:.1} ms",
        latencies.len(),
        ms(at(50)),
        ms(at(99))
    );
    Ok(())
}

/// One connected desktop: syncs whenever the server says the log grew, then reports the
/// customer's notes as it sees them.
async fn desk(
    i: usize,
    store: Arc<Store>,
    client: SyncClient,
    customer: CustomerId,
    seen: mpsc::UnboundedSender<(usize, String)>,
) {
    let (wake_tx, mut wake) = mpsc::unbounded_channel::<()>();
    let listener = client.clone();
    tokio::spawn(async move {
        let mut on_head = |_| {
            let _ = wake_tx.send(());
        };
        let _ = listener.watch(&mut on_head).await;
    });
    while wake.recv().await.is_some() {
        // Several notices may have queued up; one round takes them all in.
        while wake.try_recv().is_ok() {}
        if sync_once(&store, &client, Utc::now()).await.is_err() {
            continue;
        }
        if let Ok(c) = store.customer(customer).await {
            if seen.send((i, c.fields.notes)).is_err() {
                return;
            }
        }
    }
}
