//! Customer files in: CSV and TSV from any spreadsheet, Excel "Unicode text", vCard; and
//! customers out as CSV. Pure functions over bytes: no database, no window, no network.
//!
//! The flow, as the UI drives it:
//! 1. [`read_table`] decodes the dropped file and splits it into rows ([`SourceTable`]);
//!    the UI shows [`SourceTable::summary`] and may re-read with other [`ReadOptions`].
//! 2. [`guess_mapping`] proposes a field for each column; the user corrects it, and
//!    [`check_mapping`] says whether it can be used (duplicate headers must be confirmed).
//! 3. [`analyze`] turns rows into customers, merges duplicates inside the file and lists every
//!    problem by row and column, before anything is written.
//!
//! vCard files skip step 2: [`read_vcard`] gives a table and its mapping at once.

mod analyze;
mod birthday;
mod cell;
mod decode;
mod export;
mod mapping;
mod merge;
mod problem;
mod row;
mod table;
mod vcard;

pub use analyze::{analyze, analyze_with_progress, Analysis, AnalyzeError, Counts, ImportOptions};
pub use birthday::DateOrder;
pub use decode::TextEncoding;
pub use export::{export_csv, ExportRow};
pub use mapping::{
    check_mapping, guess_mapping, guess_mapping_by_values, guess_target, ColumnMapping,
    MappingError, Target,
};
pub use merge::{ImportedCustomer, Merge};
pub use problem::{column_letter, ColumnRef, Problem, ProblemCode, Severity};
pub use table::{
    read_table, read_table_with, Delimiter, FileError, PreviewRow, ReadOptions, SourceRow,
    SourceTable, TableSummary,
};
pub use vcard::{read_vcard, VcardTable};
