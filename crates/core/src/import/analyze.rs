//! Analysis: what importing a file would do, before anything is written.

use std::collections::{HashMap, HashSet};
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};

use super::birthday::DateOrder;
use super::mapping::{check_mapping, ColumnMapping, MappingError};
use super::merge::{merge_duplicates, ImportedCustomer, Merge};
use super::problem::{Problem, Severity};
use super::row::{Plan, RowReader};
use super::table::SourceTable;
use crate::domain::text;

/// How often, in rows, the progress callback is called.
const PROGRESS_EVERY: usize = 1024;

/// The user's choices for one import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ImportOptions {
    /// ISO country for phone numbers written without a country code (a preference; "ES").
    pub default_region: String,
    /// Every branch the company has, by name (compared ignoring case and accents), with its
    /// ISO country. Numbers in a row naming a branch are read in that branch's country; branch
    /// names not listed here are reported in [`Analysis::unknown_branches`].
    pub branch_regions: HashMap<String, String>,
    /// The order of day and month in birthdays such as `03/04/1990`.
    pub date_order: DateOrder,
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self {
            default_region: "ES".into(),
            branch_regions: HashMap::new(),
            date_order: DateOrder::DayMonth,
        }
    }
}

/// What importing the file would do: customers, merges and problems.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Analysis {
    pub customers: Vec<ImportedCustomer>,
    /// Errors and warnings, by row.
    pub problems: Vec<Problem>,
    /// Rows merged into an earlier row of the same customer.
    pub merges: Vec<Merge>,
    /// Every branch named in the file, as first written.
    pub branches: Vec<String>,
    /// Branches named in the file that are not in [`ImportOptions::branch_regions`]; the user
    /// creates or maps them before anything is written.
    pub unknown_branches: Vec<String>,
    pub counts: Counts,
    /// Set when the birthdays can mostly only be read in the other day/month order.
    pub suggested_date_order: Option<DateOrder>,
}

/// The summary line of an analysis.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    /// Data rows with at least one value, refused ones included.
    pub rows_read: u32,
    /// Customers the import would create.
    pub customers: u32,
    /// Rows merged into an earlier row.
    pub merged_rows: u32,
    /// Rows refused with an error.
    pub error_rows: u32,
    /// Rows imported with at least one warning.
    pub warning_rows: u32,
}

/// Why an analysis stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnalyzeError {
    #[error(transparent)]
    Mapping(#[from] MappingError),
    #[error("the analysis was cancelled")]
    Cancelled,
}

/// Analyses every row of `table` with the given column mapping.
pub fn analyze(
    table: &SourceTable,
    mapping: &[ColumnMapping],
    options: &ImportOptions,
) -> Result<Analysis, MappingError> {
    match analyze_with_progress(table, mapping, options, &mut |_| ControlFlow::Continue(())) {
        Ok(analysis) => Ok(analysis),
        Err(AnalyzeError::Mapping(e)) => Err(e),
        Err(AnalyzeError::Cancelled) => unreachable!("the callback never breaks"),
    }
}

/// Like [`analyze`], calling `on_progress` with the rows done every so often; the callback
/// cancels the analysis by returning `ControlFlow::Break`.
pub fn analyze_with_progress(
    table: &SourceTable,
    mapping: &[ColumnMapping],
    options: &ImportOptions,
    on_progress: &mut dyn FnMut(u32) -> ControlFlow<()>,
) -> Result<Analysis, AnalyzeError> {
    check_mapping(mapping, table.headers.len())?;
    let plan = Plan::new(mapping, &table.headers);
    let regions: HashMap<String, String> = options
        .branch_regions
        .iter()
        .map(|(name, region)| (text::fold(name), region.clone()))
        .collect();
    let new_reader = || {
        RowReader::new(
            &plan,
            table,
            &options.default_region,
            &regions,
            options.date_order,
        )
    };
    let read = read_rows(table, new_reader, on_progress)?;
    let mut problems = table.problems.clone();
    problems.extend(read.problems);
    problems.sort_by_key(|p| p.row);
    let candidates = read.candidates;

    let customers = merge_duplicates(candidates);
    let (branches, unknown_branches) = branch_names(&customers, &regions);
    let counts = count(table, &customers, &problems);
    tracing::info!(
        rows = counts.rows_read,
        customers = counts.customers,
        merged = counts.merged_rows,
        errors = counts.error_rows,
        warnings = counts.warning_rows,
        "import analysed"
    );
    Ok(Analysis {
        merges: customers
            .iter()
            .filter_map(ImportedCustomer::merge)
            .collect(),
        customers,
        problems,
        branches,
        unknown_branches,
        counts,
        suggested_date_order: suggest_date_order(options.date_order, read.order_evidence),
    })
}

/// Rows below which reading stays on one thread: a thread costs more than it saves.
const PARALLEL_FROM: usize = 8 * PROGRESS_EVERY;
/// Most threads that read rows at once.
const MAX_READERS: usize = 4;

/// The customers read from the rows, with the problems found.
struct ReadRows {
    candidates: Vec<ImportedCustomer>,
    problems: Vec<Problem>,
    order_evidence: (u32, u32),
}

/// Reads every row, in parts side by side on the machine's cores for a large file (each
/// row is read on its own, so the parts never wait for one another). The results come
/// back in row order; progress is reported from the calling thread.
fn read_rows<'a>(
    table: &'a SourceTable,
    new_reader: impl Fn() -> RowReader<'a> + Sync,
    on_progress: &mut dyn FnMut(u32) -> ControlFlow<()>,
) -> Result<ReadRows, AnalyzeError> {
    let total = table.row_count();
    let readers = if total < PARALLEL_FROM {
        1
    } else {
        std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_READERS))
    };
    let part = total.div_ceil(readers).max(1);
    let stop = AtomicBool::new(false);
    let read_part = |first: usize, progress: &mut dyn FnMut(usize) -> bool| {
        let mut reader = new_reader();
        let mut read = ReadRows {
            candidates: Vec::with_capacity(part),
            problems: Vec::new(),
            order_evidence: (0, 0),
        };
        for (done, row) in table.rows().skip(first).take(part).enumerate() {
            if done % PROGRESS_EVERY == 0 && !progress(done) {
                break;
            }
            read.candidates
                .extend(reader.read(&row, &mut read.problems));
        }
        read.order_evidence = reader.order_evidence;
        read
    };
    let parts = std::thread::scope(|scope| {
        let others: Vec<_> = (1..readers)
            .map(|i| {
                let (read_part, stop) = (&read_part, &stop);
                scope.spawn(move || read_part(i * part, &mut |_| !stop.load(Ordering::Relaxed)))
            })
            .collect();
        // This thread reads the first part and speaks for all: the parts go at one pace.
        let mut cancelled = false;
        let first = read_part(0, &mut |done| {
            cancelled = report(on_progress, (done * readers).min(total)).is_err();
            stop.store(cancelled, Ordering::Relaxed);
            !cancelled
        });
        let mut parts = vec![first];
        parts.extend(
            others
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))),
        );
        (parts, cancelled)
    });
    let (parts, cancelled) = parts;
    if cancelled {
        return Err(AnalyzeError::Cancelled);
    }
    report(on_progress, total)?;
    let mut all = ReadRows {
        candidates: Vec::with_capacity(total),
        problems: Vec::new(),
        order_evidence: (0, 0),
    };
    for part in parts {
        all.candidates.extend(part.candidates);
        all.problems.extend(part.problems);
        all.order_evidence.0 += part.order_evidence.0;
        all.order_evidence.1 += part.order_evidence.1;
    }
    Ok(all)
}

fn report(
    on_progress: &mut dyn FnMut(u32) -> ControlFlow<()>,
    done: usize,
) -> Result<(), AnalyzeError> {
    match on_progress(u32::try_from(done).unwrap_or(u32::MAX)) {
        ControlFlow::Continue(()) => Ok(()),
        ControlFlow::Break(()) => Err(AnalyzeError::Cancelled),
    }
}

/// Every branch named, as first written, and those not among the known branches.
fn branch_names(
    customers: &[ImportedCustomer],
    regions: &HashMap<String, String>,
) -> (Vec<String>, Vec<String>) {
    let mut seen_names = HashSet::new();
    let mut seen_folds = HashSet::new();
    let mut all = Vec::new();
    let mut unknown = Vec::new();
    for name in customers.iter().flat_map(|c| &c.branches) {
        if !seen_names.insert(name.as_str()) {
            continue;
        }
        let folded = text::fold(name);
        if !seen_folds.insert(folded.clone()) {
            continue;
        }
        if !regions.contains_key(&folded) {
            unknown.push(name.clone());
        }
        all.push(name.clone());
    }
    (all, unknown)
}

fn count(table: &SourceTable, customers: &[ImportedCustomer], problems: &[Problem]) -> Counts {
    let rows_with = |severity: Severity| {
        let mut rows: Vec<u32> = problems
            .iter()
            .filter(|p| p.severity == severity)
            .map(|p| p.row)
            .collect();
        rows.dedup();
        rows.len()
    };
    // A row refused while reading (an unclosed quote) is not among the table's rows.
    let unread_rows = table.problems.iter().filter(|p| p.is_error()).count();
    let total = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    Counts {
        rows_read: total(table.row_count() + unread_rows),
        customers: total(customers.len()),
        merged_rows: total(customers.iter().map(|c| c.rows.len() - 1).sum()),
        error_rows: total(rows_with(Severity::Error)),
        warning_rows: total(rows_with(Severity::Warning)),
    }
}

/// The other order, when more birthdays can only be read that way than the chosen way.
fn suggest_date_order(
    chosen: DateOrder,
    (day_first, month_first): (u32, u32),
) -> Option<DateOrder> {
    match chosen {
        DateOrder::DayMonth if month_first > day_first => Some(DateOrder::MonthDay),
        DateOrder::MonthDay if day_first > month_first => Some(DateOrder::DayMonth),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::{guess_mapping, read_table, ProblemCode};

    fn run(text: &str, options: &ImportOptions) -> Analysis {
        let table = read_table(text.as_bytes(), "test.csv").unwrap();
        analyze(&table, &guess_mapping(&table.headers), options).unwrap()
    }

    #[test]
    fn the_progress_callback_sees_every_row_and_can_cancel() {
        let table = read_table(
            b"nombre;email\nAna;ana@example.com\nEva;eva@example.com\n",
            "t",
        )
        .unwrap();
        let mapping = guess_mapping(&table.headers);
        let options = ImportOptions::default();

        let mut seen = Vec::new();
        let mut record = |done| {
            seen.push(done);
            ControlFlow::Continue(())
        };
        analyze_with_progress(&table, &mapping, &options, &mut record).unwrap();
        assert_eq!(seen, [0, 2]);

        let mut cancel = |_| ControlFlow::Break(());
        let result = analyze_with_progress(&table, &mapping, &options, &mut cancel);
        assert_eq!(result.unwrap_err(), AnalyzeError::Cancelled);
    }

    #[test]
    fn phones_without_country_code_are_read_in_the_country_of_the_rows_branch() {
        let branch_regions = HashMap::from([("Berlín Mitte".to_owned(), "DE".to_owned())]);
        let options = ImportOptions {
            branch_regions,
            ..ImportOptions::default()
        };
        let text = "nombre;telefono;sucursal\nAna;030 12345678;berlin mitte\nEva;030 12345678;\n";
        let analysis = run(text, &options);

        let phones: Vec<&str> = analysis.customers[0]
            .fields
            .phones
            .iter()
            .map(|p| p.number.as_str())
            .collect();
        assert_eq!(phones, ["+493012345678"]);
        assert_eq!(
            analysis.customers.len(),
            1,
            "in Spain the number is not valid"
        );
        assert_eq!(
            analysis.problems[0].code,
            ProblemCode::InvalidPhoneNoOtherContact
        );
        assert!(
            analysis.unknown_branches.is_empty(),
            "matched ignoring case and accents"
        );
    }

    #[test]
    fn mostly_month_first_birthdays_suggest_that_order() {
        let text =
            "nombre;email;birthday\nAna;a@example.com;12/25/1985\nEva;e@example.com;3/31/1990\n";
        let analysis = run(text, &ImportOptions::default());
        assert_eq!(analysis.suggested_date_order, Some(DateOrder::MonthDay));

        let options = ImportOptions {
            date_order: DateOrder::MonthDay,
            ..ImportOptions::default()
        };
        let analysis = run(text, &options);
        assert!(analysis.problems.is_empty());
        assert_eq!(
            analysis.customers[0].fields.birthday.unwrap().to_iso(),
            "1985-12-25"
        );
    }

    #[test]
    fn a_full_name_column_is_split_at_its_first_space() {
        let text = "Name;Email\nLucía Ferrer Vidal;lucia@example.com\nNuria;nuria@example.com\n";
        let analysis = run(text, &ImportOptions::default());
        let names: Vec<(&str, &str)> = analysis
            .customers
            .iter()
            .map(|c| (c.fields.first_name.as_str(), c.fields.last_name.as_str()))
            .collect();
        assert_eq!(names, [("Lucía", "Ferrer Vidal"), ("Nuria", "")]);
    }

    #[test]
    fn an_unusable_mapping_stops_the_analysis() {
        let table = read_table(b"foo;bar\n1;2\n", "t").unwrap();
        let result = analyze(
            &table,
            &guess_mapping(&table.headers),
            &ImportOptions::default(),
        );
        assert_eq!(result.unwrap_err(), MappingError::NoUsableColumn);
    }
}
