//! What both benchmarks share: the generated customer file, its branches, a work folder
//! that removes itself, and the product's import of the file.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use chrono::Utc;
use clientela_core::domain::Assignment;
use clientela_core::import::{DateOrder, ReadOptions};
use clientela_core::importer::{open_file, ImportPhase, ImportProgress, ImportSettings};
use clientela_core::store::{BranchInput, ImportPlacement, ImportSummary, Store};

pub type Error = Box<dyn std::error::Error>;

/// The branches `make_big_csv.py` names, with their countries.
pub const BRANCHES: [(&str, &str, &str); 9] = [
    ("Madrid Centro", "ES", "Europe/Madrid"),
    ("Madrid Chamberí", "ES", "Europe/Madrid"),
    ("Barcelona Gràcia", "ES", "Europe/Madrid"),
    ("Sevilla Triana", "ES", "Europe/Madrid"),
    ("A Coruña", "ES", "Europe/Madrid"),
    ("València Russafa", "ES", "Europe/Madrid"),
    ("München Schwabing", "DE", "Europe/Berlin"),
    ("Köln Ehrenfeld", "DE", "Europe/Berlin"),
    ("Düsseldorf Altstadt", "DE", "Europe/Berlin"),
];

/// The number of rows to generate: the first argument, 100,000 without one.
pub fn rows_arg() -> Result<u32, Error> {
    Ok(std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(100_000))
}

/// A work folder under the system's temporary folder, removed however the run ends.
pub struct WorkDir(pub PathBuf);

impl WorkDir {
    pub fn new(name: &str) -> Result<Self, Error> {
        let path = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
        std::fs::create_dir_all(&path)?;
        Ok(Self(path))
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn corpus() -> PathBuf {
    std::env::var_os("CLIENTELA_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"))
}

pub fn generate(work: &Path, rows: u32) -> Result<PathBuf, Error> {
    let out = work.join("customers_big.csv");
    let status = Command::new("python3")
        .arg(corpus().join("make_big_csv.py"))
        .args(["-n", &rows.to_string(), "-o"])
        .arg(&out)
        .stdout(Stdio::null())
        .status()?;
    if !status.success() {
        return Err("make_big_csv.py failed".into());
    }
    Ok(out)
}

/// A store at `path` with the branches the generated file names.
pub async fn store_with_branches(path: &Path) -> Result<Store, Error> {
    let store = Store::open(path).await?;
    for (name, country, zone) in BRANCHES {
        let input = BranchInput {
            name: name.into(),
            country: country.into(),
            time_zone: zone.into(),
        };
        store.create_branch(&input, Utc::now()).await?;
    }
    Ok(store)
}

/// Phase times of one product import.
pub struct ImportTimes {
    pub read: Duration,
    pub analyse: Duration,
    pub write: Duration,
    pub total: Duration,
}

/// The product's import: read, detect, map, analyse, write.
pub async fn import_file(store: &Store, csv: &Path) -> Result<(ImportTimes, ImportSummary), Error> {
    let started = Instant::now();
    let bytes = tokio::fs::read(csv).await?;
    let opened = open_file(&bytes, "customers_big.csv", ReadOptions::default())?;
    let settings = ImportSettings {
        mapping: opened.mapping,
        region: "ES".into(),
        date_order: DateOrder::DayMonth,
        placement: ImportPlacement {
            default_assignment: Assignment::AllBranches,
            branch_map: Vec::new(),
        },
    };
    let read = started.elapsed();
    let mut analysed = None;
    let mut on_progress = |p: ImportProgress| {
        if matches!(p.phase, ImportPhase::Writing) && analysed.is_none() {
            analysed = Some(started.elapsed());
        }
    };
    let cancel = AtomicBool::new(false);
    let summary = store
        .run_import(
            &opened.table,
            &settings,
            Utc::now(),
            &cancel,
            &mut on_progress,
        )
        .await?;
    let total = started.elapsed();
    let analysed = analysed.unwrap_or(total);
    let times = ImportTimes {
        read,
        analyse: analysed - read,
        write: total - analysed,
        total,
    };
    Ok((times, summary))
}

pub fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// VmHWM: the most resident memory this process has used.
pub fn peak_rss_mib() -> Result<u64, Error> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or("no VmHWM in /proc/self/status")?;
    Ok(kib / 1024)
}
