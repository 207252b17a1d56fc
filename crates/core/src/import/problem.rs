//! What the importer reports about a row: an error (the row is not imported) or a warning
//! (one value is dropped, the rest of the row is imported).
//!
//! Problems carry codes and positions, never sentences: the UI words them in the user's
//! language. `Display` is for logs and leaves the offending value out, as it may be personal.

use serde::{Deserialize, Serialize};

/// Whether the row was refused or imported without one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub enum Severity {
    /// The row is not imported.
    Error,
    /// The value is dropped; the rest of the row is imported.
    Warning,
}

/// The reason for a problem; the UI words it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub enum ProblemCode {
    /// Neither first name nor last name (nor full name) is filled in.
    MissingName,
    /// No email and no phone is filled in.
    MissingContact,
    /// A bad email, dropped because the row has another contact.
    InvalidEmail,
    /// A bad email that was the row's only contact.
    InvalidEmailNoOtherContact,
    /// A bad phone number, dropped because the row has another contact.
    InvalidPhone,
    /// A bad phone number that was the row's only contact.
    InvalidPhoneNoOtherContact,
    /// A phone shown by Excel as `4,93E+12`: its digits are lost.
    PhoneScientificNotation,
    /// A birthday that is not a date in the expected order.
    InvalidDate,
    /// A birthday with a two-digit year, which cannot be read safely.
    TwoDigitYear,
    /// A gender value that is not recognised.
    InvalidGender,
    /// A quoted field opened and never closed before the end of the file.
    UnclosedQuote,
    /// A row has values beyond the last named column; they are not imported.
    ExtraCells,
}

/// A column of the source file, as the spreadsheet names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ColumnRef {
    /// Zero-based position.
    pub index: u32,
    /// The spreadsheet letter: `A`, `B`, …, `AA`.
    pub letter: String,
    /// The header text, trimmed.
    pub header: String,
}

impl ColumnRef {
    /// The column at `index` whose header is `header`.
    pub fn new(index: usize, header: &str) -> Self {
        Self {
            index: u32::try_from(index).unwrap_or(u32::MAX),
            letter: column_letter(index),
            header: header.to_owned(),
        }
    }
}

/// One problem found in one row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    /// The spreadsheet row ("fila"; the header is 1), or the vCard's position ("contacto").
    pub row: u32,
    pub severity: Severity,
    pub code: ProblemCode,
    /// The column of the offending value; `None` when the problem is about several columns.
    pub column: Option<ColumnRef>,
    /// The columns a row-wide problem is about, e.g. both name columns for `MissingName`.
    pub columns: Vec<ColumnRef>,
    /// The offending value as written, when there is one.
    pub value: Option<String>,
}

impl Problem {
    /// A problem with one value in one column.
    pub fn in_column(
        row: u32,
        severity: Severity,
        code: ProblemCode,
        column: ColumnRef,
        value: &str,
    ) -> Self {
        Self {
            row,
            severity,
            code,
            column: Some(column),
            columns: Vec::new(),
            value: Some(value.into()),
        }
    }

    /// A row-wide problem about several columns, e.g. the name columns being empty.
    pub fn across(row: u32, code: ProblemCode, columns: Vec<ColumnRef>) -> Self {
        Self {
            row,
            severity: Severity::Error,
            code,
            column: None,
            columns,
            value: None,
        }
    }

    /// True when the row is not imported.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "row {}", self.row)?;
        if let Some(column) = &self.column {
            write!(f, ", column {}", column.letter)?;
        }
        write!(f, ": {:?} ({:?})", self.code, self.severity)
    }
}

/// The spreadsheet name of the zero-based column `index`: 0 is `A`, 25 is `Z`, 26 is `AA`.
pub fn column_letter(index: usize) -> String {
    let mut letters = Vec::new();
    let mut n = index + 1;
    while n > 0 {
        let rem = (n - 1) % 26;
        letters.push(b'A' + rem as u8);
        n = (n - 1) / 26;
    }
    letters.reverse();
    String::from_utf8(letters).expect("ASCII letters")
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case(0, "A")]
    #[case(2, "C")]
    #[case(25, "Z")]
    #[case(26, "AA")]
    #[case(27, "AB")]
    #[case(51, "AZ")]
    #[case(52, "BA")]
    #[case(701, "ZZ")]
    #[case(702, "AAA")]
    fn column_letter_counts_like_a_spreadsheet(#[case] index: usize, #[case] letter: &str) {
        assert_eq!(column_letter(index), letter);
    }

    #[test]
    fn display_leaves_the_value_out_of_logs() {
        let problem = Problem::in_column(
            6,
            Severity::Warning,
            ProblemCode::InvalidEmail,
            ColumnRef::new(2, "email"),
            "raul.vega@example .com",
        );
        let shown = problem.to_string();
        assert_eq!(shown, "row 6, column C: InvalidEmail (Warning)");
        assert!(
            !shown.contains("raul"),
            "a log line must not carry personal data"
        );
    }
}
