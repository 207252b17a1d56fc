//! The import wizard's steps over the local store: open a customer file, analyse it
//! against the company's branches, and write it all or nothing.

use std::ops::ControlFlow;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::text::fold;
use crate::import::{
    analyze_with_progress, check_mapping, guess_mapping, guess_mapping_by_values, read_table_with,
    read_vcard, Analysis, AnalyzeError, ColumnMapping, Counts, DateOrder, ImportOptions,
    MappingError, Merge, Problem, ReadOptions, SourceTable, TableSummary,
};
use crate::store::{ImportItem, ImportPlacement, ImportSummary, Store, StoredMatches};
use crate::{Error, Result};

/// Rows of the file shown in the wizard's first step.
const PREVIEW_ROWS: usize = 20;

/// A customer file read into rows, with the column mapping the importer proposes.
#[derive(Debug, Clone)]
pub struct OpenedFile {
    pub table: SourceTable,
    pub mapping: Vec<ColumnMapping>,
}

/// What the wizard shows once a file is read.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct FilePreview {
    pub summary: TableSummary,
    pub mapping: Vec<ColumnMapping>,
    /// Why the proposed mapping cannot be used yet (e.g. a header appears twice).
    pub mapping_error: Option<MappingError>,
}

/// The analysis the wizard shows before anything is written.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ImportReview {
    pub counts: Counts,
    pub problems: Vec<Problem>,
    pub merges: Vec<Merge>,
    /// Branch names of the file that match no branch; create or map them first.
    pub unknown_branches: Vec<String>,
    pub suggested_date_order: Option<DateOrder>,
    /// Stored customers the file matches, and the values it would not overwrite.
    pub stored: StoredMatches,
}

/// How the person set up the import in the wizard.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ImportSettings {
    pub mapping: Vec<ColumnMapping>,
    /// Phones without a country code in rows naming no branch are read in this country.
    pub region: String,
    pub date_order: DateOrder,
    pub placement: ImportPlacement,
}

/// Where a running import is.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub enum ImportPhase {
    Analyzing,
    Writing,
}

/// Progress of a running import.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ImportProgress {
    pub phase: ImportPhase,
    pub done: u32,
    pub total: u32,
}

/// Reads a customer file: vCard by its extension or content, else a delimited text file.
pub fn open_file(bytes: &[u8], file_name: &str, options: ReadOptions) -> Result<OpenedFile> {
    let is_vcard = Path::new(file_name)
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("vcf") || e.eq_ignore_ascii_case("vcard"))
        || bytes
            .windows(11)
            .take(64)
            .any(|w| w.eq_ignore_ascii_case(b"BEGIN:VCARD"));
    if is_vcard {
        let vcard = read_vcard(bytes, file_name)?;
        return Ok(OpenedFile {
            table: vcard.table,
            mapping: vcard.mapping,
        });
    }
    let table = read_table_with(bytes, file_name, options)?;
    let mapping = if table.has_header_row {
        guess_mapping(&table.headers)
    } else {
        guess_mapping_by_values(&table)
    };
    Ok(OpenedFile { table, mapping })
}

impl OpenedFile {
    /// The wizard's first step.
    pub fn preview(&self) -> FilePreview {
        FilePreview {
            summary: self.table.summary(PREVIEW_ROWS),
            mapping: self.mapping.clone(),
            mapping_error: check_mapping(&self.mapping, self.table.headers.len()).err(),
        }
    }
}

impl Store {
    /// Analysis options with the company's branches and their countries.
    pub async fn import_options(
        &self,
        region: &str,
        date_order: DateOrder,
    ) -> Result<ImportOptions> {
        let branch_regions = self
            .branches()
            .await?
            .into_iter()
            .map(|b| (fold(&b.name), b.country))
            .collect();
        Ok(ImportOptions {
            default_region: region.to_owned(),
            branch_regions,
            date_order,
        })
    }

    /// Analyses `table` as the wizard's preview step shows it.
    pub async fn review_import(
        &self,
        table: &SourceTable,
        settings: &ImportSettings,
    ) -> Result<ImportReview> {
        let analysis = self
            .analyze(table, settings, &AtomicBool::new(false), &mut |_| {})
            .await?;
        let items = items_of(&analysis);
        let unknown_branches = self.unknown_branches(&items, &settings.placement).await?;
        let stored = self.stored_matches(&items).await?;
        Ok(ImportReview {
            stored,
            counts: analysis.counts,
            problems: analysis.problems,
            merges: analysis.merges,
            unknown_branches,
            suggested_date_order: analysis.suggested_date_order,
        })
    }

    /// Analyses and writes `table`; nothing is written if it fails or is cancelled.
    pub async fn run_import(
        &self,
        table: &SourceTable,
        settings: &ImportSettings,
        now: DateTime<Utc>,
        cancel: &AtomicBool,
        progress: &mut (dyn FnMut(ImportProgress) + Send),
    ) -> Result<ImportSummary> {
        let analysis = self.analyze(table, settings, cancel, progress).await?;
        let items = items_of(&analysis);
        let mut on_write = |done, total| {
            progress(ImportProgress {
                phase: ImportPhase::Writing,
                done,
                total,
            });
        };
        self.import_customers(&items, &settings.placement, now, cancel, &mut on_write)
            .await
    }

    async fn analyze(
        &self,
        table: &SourceTable,
        settings: &ImportSettings,
        cancel: &AtomicBool,
        progress: &mut (dyn FnMut(ImportProgress) + Send),
    ) -> Result<Analysis> {
        let options = self
            .import_options(&settings.region, settings.date_order)
            .await?;
        let total = u32::try_from(table.row_count()).unwrap_or(u32::MAX);
        let mut on_row = |done| {
            if cancel.load(Ordering::Relaxed) {
                return ControlFlow::Break(());
            }
            progress(ImportProgress {
                phase: ImportPhase::Analyzing,
                done,
                total,
            });
            ControlFlow::Continue(())
        };
        let analysis = crate::runtime::blocking(|| {
            analyze_with_progress(table, &settings.mapping, &options, &mut on_row)
        });
        analysis.map_err(|e| match e {
            AnalyzeError::Mapping(e) => Error::ImportMapping(e),
            AnalyzeError::Cancelled => Error::Cancelled,
        })
    }
}

/// The customers of an analysis as the store writes them.
fn items_of(analysis: &Analysis) -> Vec<ImportItem<'_>> {
    analysis
        .customers
        .iter()
        .map(|c| ImportItem {
            row: c.rows.first().copied().unwrap_or(0),
            fields: &c.fields,
            branches: &c.branches,
        })
        .collect()
}
