//! `clientela-bench`: imports the corpus's big generated file through the product's import
//! code and compares the time with `sqlite3 .import` of the same file into a bare table, in
//! the same run; then times filtered Active Customers pages at that size.
//!
//! Run it with `scripts/bench.sh` (release build). Figures are ratios, so they mean the
//! same on a faster or slower machine.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use clientela_bench::{
    generate, import_file, median, ms, peak_rss_mib, rows_arg, store_with_branches, Error, WorkDir,
};
use clientela_core::store::{CustomerFilter, SortKey, Store};

/// Each side runs this many times; the median counts.
const RUNS: usize = 3;
/// Filtered pages timed for the percentile.
const PAGES: usize = 200;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let rows = rows_arg()?;
    let dir = WorkDir::new("clientela-bench")?;
    let work = dir.0.as_path();
    let csv = generate(work, rows)?;
    println!(
        "file: {} data rows, {} bytes",
        rows,
        std::fs::metadata(&csv)?.len()
    );

    let mut reference = Vec::new();
    let mut ours = Vec::new();
    let mut store: Option<Store> = None;
    for run in 0..RUNS {
        // Closing checkpoints the previous run's WAL, so no run's leftover work lands in
        // the next one's time.
        if let Some(old) = store.take() {
            old.close().await;
        }
        reference.push(sqlite_import(work, &csv, run)?);
        let (elapsed, s) = product_import(work, &csv, run).await?;
        ours.push(elapsed);
        store = Some(s);
    }
    let (reference, ours) = (median(&mut reference), median(&mut ours));
    let stored = work.join(format!("clientela-{}.db", RUNS - 1));
    let mut floor = (0..RUNS)
        .map(|run| sqlite_floor(work, &stored, run))
        .collect::<Result<Vec<_>, _>>()?;
    let floor = median(&mut floor);
    let store = store.ok_or("no run")?;
    let customers = store.count_customers(&CustomerFilter::default()).await?;
    println!("customers stored: {customers}");
    println!(
        "sqlite3 .import (bare table): {:>8.3} s",
        reference.as_secs_f64()
    );
    println!(
        "clientela import:             {:>8.3} s",
        ours.as_secs_f64()
    );
    println!(
        "import ratio: {:.2} (target <= 1.0, goal 0.5)",
        ours.as_secs_f64() / reference.as_secs_f64()
    );

    println!(
        "SQLite alone copying the rows the import stored: {:>6.3} s (floor ratio {:.2}: the \
         least an import storing these rows in this schema takes here)",
        floor.as_secs_f64(),
        floor.as_secs_f64() / reference.as_secs_f64()
    );

    if std::env::args().nth(2).as_deref() == Some("--import-only") {
        return Ok(());
    }
    let times = list_times(&store).await?;
    println!("Active Customers at {customers} customers, {PAGES} filtered views:");
    println!(
        "  page of 100 rows: p50 {:.1} ms, p95 {:.1} ms; count on filter change: p95 {:.1} ms",
        ms(times.page_p50),
        ms(times.page_p95),
        ms(times.count_p95)
    );
    println!(
        "peak memory of this process (import + list): {} MiB",
        peak_rss_mib()?
    );
    store.close().await;
    Ok(())
}

/// `sqlite3 .import` of the file into a bare table: the reference.
fn sqlite_import(work: &Path, csv: &Path, run: usize) -> Result<Duration, Error> {
    let db = work.join(format!("reference-{run}.db"));
    let script = format!(
        ".mode csv\n.separator ;\n.import '{}' customers\n",
        csv.display()
    );
    let started = Instant::now();
    let mut child = Command::new("sqlite3")
        .arg(&db)
        .stdin(Stdio::piped())
        .spawn()?;
    std::io::Write::write_all(child.stdin.as_mut().ok_or("no stdin")?, script.as_bytes())?;
    drop(child.stdin.take());
    if !child.wait()?.success() {
        return Err("sqlite3 .import failed".into());
    }
    Ok(started.elapsed())
}

/// SQLite by itself writing what the product's import stored: the same rows, copied with
/// `INSERT … SELECT` into an empty database with the product's schema (its indexes, link
/// tables and outbox), the commit not waiting for a checkpoint, as the product's does. No
/// file to read, nothing to check or normalise: a floor for any import of these rows.
fn sqlite_floor(work: &Path, stored: &Path, run: usize) -> Result<Duration, Error> {
    let sqlite = |db: &Path, script: &str| -> Result<String, Error> {
        let out = Command::new("sqlite3").arg(db).arg(script).output()?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned().into());
        }
        Ok(String::from_utf8(out.stdout)?)
    };
    let tables = [
        "branches",
        "tags",
        "customers",
        "customer_branches",
        "customer_tags",
        "outbox",
    ];
    let schema = sqlite(
        stored,
        "SELECT sql || ';' FROM sqlite_schema WHERE sql IS NOT NULL \
         AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_sqlx%'",
    )?;
    let db = work.join(format!("floor-{run}.db"));
    sqlite(
        &db,
        &format!("PRAGMA page_size = 16384; PRAGMA journal_mode = WAL; {schema}"),
    )?;
    let copies: String = tables
        .iter()
        .map(|t| format!("INSERT INTO {t} SELECT * FROM p.{t};"))
        .collect();
    let script = format!(
        "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = OFF; PRAGMA cache_size = -65536; \
         PRAGMA wal_autocheckpoint = 0; ATTACH '{}' AS p; BEGIN; {copies} COMMIT;",
        stored.display()
    );
    let started = Instant::now();
    sqlite(&db, &script)?;
    Ok(started.elapsed())
}

/// The product's import: read, detect, map, analyse, write, on a fresh store.
async fn product_import(work: &Path, csv: &Path, run: usize) -> Result<(Duration, Store), Error> {
    let store = store_with_branches(&work.join(format!("clientela-{run}.db"))).await?;
    let (times, summary) = import_file(&store, csv).await?;
    println!(
        "  run {run}: {} created; read {:.2} s, analyse {:.2} s, write {:.2} s",
        summary.created,
        times.read.as_secs_f64(),
        times.analyse.as_secs_f64(),
        times.write.as_secs_f64()
    );
    Ok((times.total, store))
}

/// Percentiles of the two queries the list makes: the count when the filter changes, and a
/// page of 100 rows somewhere in the filtered list as the person scrolls.
struct ListTimes {
    page_p50: Duration,
    page_p95: Duration,
    count_p95: Duration,
}

async fn list_times(store: &Store) -> Result<ListTimes, Error> {
    let branches = store.branches().await?;
    let tags = store.tags().await?;
    let searches = ["maria", "garcia", "lopez", "60012", "example.com", "jose m"];

    let mut pages = Vec::with_capacity(PAGES);
    let mut counts = Vec::with_capacity(PAGES);
    for i in 0..PAGES {
        let filter = CustomerFilter {
            search: if i % 3 == 0 {
                searches[i % searches.len()].into()
            } else {
                String::new()
            },
            branch: (i % 2 == 0).then(|| branches[i % branches.len()].id),
            tag: (i % 5 == 0)
                .then(|| tags.get(i % tags.len().max(1)).map(|t| t.id))
                .flatten(),
            sort: if i % 4 == 0 {
                SortKey::Bookings
            } else {
                SortKey::Name
            },
            ..Default::default()
        };
        let started = Instant::now();
        let matching = store.count_customers(&filter).await?;
        counts.push(started.elapsed());

        // Somewhere in the filtered list, as scrolling does.
        let offset = u32::try_from(i * 7919).unwrap_or(0) % matching.max(1);
        let started = Instant::now();
        store.list_customers(&filter, offset, 100).await?;
        pages.push(started.elapsed());
    }
    pages.sort();
    counts.sort();
    Ok(ListTimes {
        page_p50: pages[PAGES / 2],
        page_p95: pages[PAGES * 95 / 100],
        count_p95: counts[PAGES * 95 / 100],
    })
}
