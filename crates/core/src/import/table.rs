//! Reading a delimited file (CSV, TSV, Excel "Unicode text") into a table of cells.
//!
//! Rows are numbered as a spreadsheet shows them ("fila"): the header is 1, a record with line
//! breaks inside quotes is one row, blank lines count, and an Excel `sep=;` line does not. All
//! cells live in one buffer, so a 100,000-row file costs a handful of allocations.

use csv::{ReaderBuilder, StringRecord};
use serde::{Deserialize, Serialize};

use super::cell::{cell_value, push_with_lf};
use super::decode::{decode, TextEncoding};
use super::mapping::guess_target;
use super::problem::{ColumnRef, Problem, ProblemCode, Severity};

/// Why a file cannot be read as a table at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    #[error("the file is empty")]
    Empty,
    #[error("the file is not text (binary content)")]
    NotText,
    #[error("the file is a spreadsheet workbook; save it as CSV or Unicode text first")]
    Workbook,
    #[error("the file has no header row")]
    NoHeader,
    #[error("the file has no vCard in it")]
    NoContacts,
    #[error("the file is larger than 4 GiB")]
    TooLarge,
}

/// A field delimiter the importer recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub enum Delimiter {
    Semicolon,
    Comma,
    Tab,
    Pipe,
}

impl Delimiter {
    /// Candidates in order of preference when a header is ambiguous.
    const ALL: [Delimiter; 4] = [
        Delimiter::Semicolon,
        Delimiter::Comma,
        Delimiter::Tab,
        Delimiter::Pipe,
    ];

    /// The delimiter byte.
    pub fn byte(self) -> u8 {
        match self {
            Delimiter::Semicolon => b';',
            Delimiter::Comma => b',',
            Delimiter::Tab => b'\t',
            Delimiter::Pipe => b'|',
        }
    }

    fn from_char(c: char) -> Option<Self> {
        Self::ALL.into_iter().find(|d| char::from(d.byte()) == c)
    }
}

/// Choices the user makes after seeing what was detected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ReadOptions {
    /// Read the file in this encoding instead of the detected one.
    pub encoding: Option<TextEncoding>,
    /// Split fields on this delimiter instead of the detected one.
    pub delimiter: Option<Delimiter>,
}

/// A customer file read into rows of cells, ready for mapping and analysis.
#[derive(Debug, Clone)]
pub struct SourceTable {
    /// The name of the dropped file.
    pub file_name: String,
    /// The encoding the file was read in.
    pub encoding: TextEncoding,
    /// The delimiter the fields were split on.
    pub delimiter: Delimiter,
    /// Header texts, trimmed; trailing empty headers are left out. All empty when the
    /// file has no header row.
    pub headers: Vec<String>,
    /// False when the first row held a customer rather than column names.
    pub has_header_row: bool,
    /// Rows that could not be read (an unclosed quote) and stray values past the last column.
    pub problems: Vec<Problem>,
    cells: CellStore,
}

/// One data row of a [`SourceTable`].
#[derive(Debug, Clone, Copy)]
pub struct SourceRow<'a> {
    /// The spreadsheet row number ("fila").
    pub row: u32,
    text: &'a str,
    start: u32,
    ends: &'a [u32],
}

impl<'a> SourceRow<'a> {
    /// The cleaned value of column `index`, or `""` past the last column.
    pub fn cell(&self, index: usize) -> &'a str {
        let Some(&end) = self.ends.get(index) else {
            return "";
        };
        let start = if index == 0 {
            self.start
        } else {
            self.ends[index - 1]
        };
        &self.text[start as usize..end as usize]
    }

    /// Every cell, one per header.
    pub fn cells(&self) -> impl Iterator<Item = &'a str> + '_ {
        (0..self.ends.len()).map(|i| self.cell(i))
    }
}

/// What the UI shows about a file before analysis: detected settings and the first rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct TableSummary {
    pub file_name: String,
    pub encoding: TextEncoding,
    pub delimiter: Delimiter,
    pub headers: Vec<String>,
    /// False when the first row held a customer rather than column names; that row is
    /// then the first data row and every column needs a field chosen by hand.
    pub has_header_row: bool,
    /// Data rows with at least one value.
    pub row_count: u32,
    pub preview: Vec<PreviewRow>,
    pub problems: Vec<Problem>,
}

/// One row of the preview.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct PreviewRow {
    pub row: u32,
    pub cells: Vec<String>,
}

impl SourceTable {
    /// A table with these headers and no rows yet; rows are added with [`Self::push_row`].
    pub(crate) fn new(
        file_name: &str,
        encoding: TextEncoding,
        delimiter: Delimiter,
        headers: Vec<String>,
    ) -> Self {
        let cells = CellStore::new(headers.len());
        Self {
            file_name: file_name.into(),
            encoding,
            delimiter,
            headers,
            has_header_row: true,
            problems: Vec::new(),
            cells,
        }
    }

    /// Data rows, in file order; rows whose cells were all empty are not there.
    pub fn rows(&self) -> impl ExactSizeIterator<Item = SourceRow<'_>> + '_ {
        self.cells.rows.iter().enumerate().map(|(i, &row)| {
            let width = self.headers.len();
            let ends = &self.cells.ends[i * width..(i + 1) * width];
            let start = if i == 0 {
                0
            } else {
                self.cells.ends[i * width - 1]
            };
            SourceRow {
                row,
                text: &self.cells.text,
                start,
                ends,
            }
        })
    }

    /// How many data rows hold at least one value.
    pub fn row_count(&self) -> usize {
        self.cells.rows.len()
    }

    /// The settings, headers, problems and first `preview_rows` rows, for the UI.
    pub fn summary(&self, preview_rows: usize) -> TableSummary {
        let preview = self
            .rows()
            .take(preview_rows)
            .map(|r| PreviewRow {
                row: r.row,
                cells: r.cells().map(String::from).collect(),
            })
            .collect();
        TableSummary {
            file_name: self.file_name.clone(),
            encoding: self.encoding,
            delimiter: self.delimiter,
            headers: self.headers.clone(),
            has_header_row: self.has_header_row,
            row_count: u32::try_from(self.row_count()).unwrap_or(u32::MAX),
            preview,
            problems: self.problems.clone(),
        }
    }

    /// Adds one row of raw cells; a row with no value is skipped. Values past the last header
    /// are not kept, and a non-empty one is reported.
    pub(crate) fn push_row<'c>(&mut self, row: u32, raw_cells: impl IntoIterator<Item = &'c str>) {
        let mut cells = raw_cells.into_iter().map(cell_value);
        let width = self.headers.len();
        self.cells.push(row, cells.by_ref().take(width));
        if let Some((i, extra)) = cells.enumerate().find(|(_, c)| !c.is_empty()) {
            let column = ColumnRef::new(width + i, "");
            let code = ProblemCode::ExtraCells;
            let problem = Problem::in_column(row, Severity::Warning, code, column, extra);
            self.problems.push(problem);
        }
    }

    /// Makes room for about `bytes` of cell text.
    pub(crate) fn reserve(&mut self, bytes: usize) {
        self.cells.text.reserve(bytes);
        let rows_guess = bytes / 64;
        self.cells.ends.reserve(rows_guess * self.headers.len());
        self.cells.rows.reserve(rows_guess);
    }
}

/// All cells of all rows in one string; `ends[r * width + c]` is where cell `c` of row `r` ends.
#[derive(Debug, Clone, Default)]
struct CellStore {
    width: usize,
    text: String,
    ends: Vec<u32>,
    rows: Vec<u32>,
}

impl CellStore {
    fn new(width: usize) -> Self {
        Self {
            width,
            ..Self::default()
        }
    }

    /// Adds a row of `width` cells (missing ones empty), unless every cell is empty.
    fn push<'c>(&mut self, row: u32, cells: impl Iterator<Item = &'c str>) {
        let (text_len, ends_len) = (self.text.len(), self.ends.len());
        let mut cells = cells.fuse();
        for _ in 0..self.width {
            push_with_lf(&mut self.text, cells.next().unwrap_or_default());
            self.ends.push(self.text.len() as u32);
        }
        if self.text.len() == text_len {
            self.ends.truncate(ends_len);
        } else {
            self.rows.push(row);
        }
    }
}

/// Reads a delimited file, detecting its encoding and delimiter.
pub fn read_table(bytes: &[u8], file_name: &str) -> Result<SourceTable, FileError> {
    read_table_with(bytes, file_name, ReadOptions::default())
}

/// Reads a delimited file with the encoding and delimiter the user chose, where they chose.
pub fn read_table_with(
    bytes: &[u8],
    file_name: &str,
    options: ReadOptions,
) -> Result<SourceTable, FileError> {
    let decoded = decode(bytes, options.encoding)?;
    if u32::try_from(decoded.text.len()).is_err() {
        return Err(FileError::TooLarge);
    }
    let (declared, body) = split_sep_line(&decoded.text);
    let delimiter = options
        .delimiter
        .or(declared)
        .unwrap_or_else(|| detect_delimiter(body));
    let mut records = Records::new(body, delimiter);
    let (first, headers) = records.header().ok_or(FileError::NoHeader)?;
    let has_header_row = !looks_like_a_customer(&headers);
    let names = if has_header_row {
        headers
    } else {
        vec![String::new(); headers.len()]
    };
    let mut table = SourceTable::new(file_name, decoded.encoding, delimiter, names);
    table.has_header_row = has_header_row;
    table.reserve(body.len());
    if !has_header_row {
        table.push_row(first.row, first.fields.iter());
    }
    while let Some(record) = records.next_record() {
        match record.open_quote_column {
            Some(column) => table.problems.push(unclosed_quote(&table, &record, column)),
            None => table.push_row(record.row, record.fields.iter()),
        }
    }
    tracing::debug!(rows = table.row_count(), encoding = ?table.encoding, "customer file read");
    Ok(table)
}

fn unclosed_quote(table: &SourceTable, record: &Record, column: usize) -> Problem {
    let header = table.headers.get(column).map_or("", String::as_str);
    let mut value = String::new();
    push_with_lf(
        &mut value,
        cell_value(record.fields.get(column).unwrap_or_default()),
    );
    let column = ColumnRef::new(column, header);
    Problem::in_column(
        record.row,
        Severity::Error,
        ProblemCode::UnclosedQuote,
        column,
        &value,
    )
}

/// A first row that names no known column but holds an email address or a phone number is
/// a customer, not a header: files exported without headers start with their data.
fn looks_like_a_customer(first_row: &[String]) -> bool {
    let names_a_column = first_row.iter().any(|c| guess_target(c).is_some());
    let holds_a_contact = first_row
        .iter()
        .any(|c| looks_like_email(c) || looks_like_phone(c));
    !names_a_column && holds_a_contact
}

pub(crate) fn looks_like_email(cell: &str) -> bool {
    cell.split_once('@')
        .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
}

pub(crate) fn looks_like_phone(cell: &str) -> bool {
    let digits = cell.chars().filter(char::is_ascii_digit).count();
    digits >= 6
        && cell
            .chars()
            .all(|c| c.is_ascii_digit() || " +-./()".contains(c))
}

/// Excel writes `sep=;` as the first line to name the delimiter; that line is not a row.
/// Saved again by a spreadsheet it may come back quoted (`"sep=;"`) or padded with empty
/// cells (`sep=;;;;`).
fn split_sep_line(text: &str) -> (Option<Delimiter>, &str) {
    let (first, rest) = text.split_once('\n').unwrap_or((text, ""));
    let line = first.trim_end_matches('\r');
    let line = line
        .strip_prefix('"')
        .and_then(|l| l.strip_suffix('"'))
        .unwrap_or(line);
    let declared = line
        .get(..4)
        .filter(|p| p.eq_ignore_ascii_case("sep="))
        .and_then(|_| line[4..].chars().next())
        .and_then(Delimiter::from_char);
    match declared {
        Some(d) if line[5..].trim().chars().all(|c| c == d.byte() as char) => (Some(d), rest),
        _ => (None, text),
    }
}

/// The delimiter that splits the first line into the most fields; ties go to the order of
/// [`Delimiter::ALL`].
fn detect_delimiter(body: &str) -> Delimiter {
    let field_count = |d: Delimiter| {
        Records::new(body, d)
            .next_record()
            .map_or(0, |r| r.fields.len())
    };
    let mut best = Delimiter::ALL[0];
    let mut best_count = field_count(best);
    for candidate in &Delimiter::ALL[1..] {
        let count = field_count(*candidate);
        if count > best_count {
            (best, best_count) = (*candidate, count);
        }
    }
    best
}

/// One record as the csv crate read it, with its spreadsheet row number.
struct Record {
    row: u32,
    fields: StringRecord,
    /// The column whose quoted field runs to the end of the file, if any.
    open_quote_column: Option<usize>,
}

/// The records of a body of text, numbered as spreadsheet rows.
struct Records<'a> {
    body: &'a str,
    delimiter: u8,
    reader: csv::Reader<&'a [u8]>,
    row: u32,
}

impl<'a> Records<'a> {
    fn new(body: &'a str, delimiter: Delimiter) -> Self {
        let reader = ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(delimiter.byte())
            .from_reader(body.as_bytes());
        Self {
            body,
            delimiter: delimiter.byte(),
            reader,
            row: 0,
        }
    }

    /// The first record with a value, and its values trimmed, without trailing empty ones.
    fn header(&mut self) -> Option<(Record, Vec<String>)> {
        while let Some(record) = self.next_record() {
            let mut headers: Vec<String> = record
                .fields
                .iter()
                .map(|h| cell_value(h).to_owned())
                .collect();
            while headers.last().is_some_and(String::is_empty) {
                headers.pop();
            }
            if !headers.is_empty() {
                return Some((record, headers));
            }
        }
        None
    }

    fn next_record(&mut self) -> Option<Record> {
        let mut fields = StringRecord::new();
        // The reader is over a `&str`, so it cannot fail on I/O or UTF-8.
        if !self.reader.read_record(&mut fields).ok()? {
            return None;
        }
        let start = fields.position().map_or(0, |p| p.byte() as usize);
        let end = self.reader.position().byte() as usize;
        self.row += 1 + blank_lines_before(self.body, start);
        let open_quote_column = if end >= self.body.len() {
            open_quote_column(&self.body[start..], self.delimiter)
        } else {
            None
        };
        Some(Record {
            row: self.row,
            fields,
            open_quote_column,
        })
    }
}

/// Blank lines between the previous record and the one starting at `start`: the csv crate
/// skips them, a spreadsheet shows them as rows.
fn blank_lines_before(body: &str, start: usize) -> u32 {
    let mut rest = &body.as_bytes()[start..];
    // The csv crate stops after the `\r` of a CRLF; its `\n` ends the previous record.
    if start > 0 && body.as_bytes()[start - 1] == b'\r' && rest.first() == Some(&b'\n') {
        rest = &rest[1..];
    }
    let mut blank = 0;
    let mut i = 0;
    while let Some(&b) = rest.get(i) {
        match b {
            b'\r' => {
                blank += 1;
                i += if rest.get(i + 1) == Some(&b'\n') {
                    2
                } else {
                    1
                };
            }
            b'\n' => {
                blank += 1;
                i += 1;
            }
            _ => break,
        }
    }
    blank
}

/// The column of a quoted field that is still open at the end of `record_text`, if any.
///
/// Follows the csv crate's rules: a quote opens a field only at its start, and `""` inside a
/// quoted field is a literal quote.
fn open_quote_column(record_text: &str, delimiter: u8) -> Option<usize> {
    let bytes = record_text.trim_start_matches(['\r', '\n']).as_bytes();
    let (mut column, mut in_quotes, mut at_field_start) = (0, false, true);
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        i += 1;
        if in_quotes {
            if b == b'"' {
                if bytes.get(i) == Some(&b'"') {
                    i += 1;
                } else {
                    in_quotes = false;
                }
            }
            continue;
        }
        if b == delimiter {
            column += 1;
            at_field_start = true;
            continue;
        }
        in_quotes = b == b'"' && at_field_start;
        at_field_start = false;
    }
    in_quotes.then_some(column)
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    fn rows(table: &SourceTable) -> Vec<(u32, Vec<&str>)> {
        table.rows().map(|r| (r.row, r.cells().collect())).collect()
    }

    #[rstest]
    #[case::semicolon("nombre;email\r\nAna;ana@example.com\r\n", Delimiter::Semicolon)]
    #[case::comma("nombre,email\nAna,ana@example.com\n", Delimiter::Comma)]
    #[case::tab("nombre\temail\nAna\tana@example.com\n", Delimiter::Tab)]
    #[case::pipe("nombre|email\nAna|ana@example.com\n", Delimiter::Pipe)]
    #[case::semicolon_beats_comma_inside_a_header(
        "nombre;notas, comentarios;email\n",
        Delimiter::Semicolon
    )]
    #[case::comma_inside_quotes_does_not_count("\"a,b\";c;d\n", Delimiter::Semicolon)]
    #[case::excel_sep_line("sep=,\nnombre;apellidos,email\n", Delimiter::Comma)]
    fn read_table_detects_the_delimiter(#[case] text: &str, #[case] expected: Delimiter) {
        assert_eq!(
            read_table(text.as_bytes(), "x.csv").unwrap().delimiter,
            expected
        );
    }

    #[test]
    fn a_file_without_a_header_row_keeps_its_first_customer_as_row_one() {
        let text = "Ana;Rey;ana@example.com;600 000 101\nEva;Sanz;;600 000 102\n";
        let table = read_table(text.as_bytes(), "sin-cabecera.csv").unwrap();
        assert!(!table.has_header_row);
        assert_eq!(table.headers, vec![""; 4]);
        assert_eq!(
            rows(&table),
            vec![
                (1, vec!["Ana", "Rey", "ana@example.com", "600 000 101"]),
                (2, vec!["Eva", "Sanz", "", "600 000 102"]),
            ]
        );
    }

    #[rstest]
    #[case::known_names("Nombre;Email\nAna;ana@example.com\n")]
    #[case::no_contact_in_the_first_row("Cliente;Dato\nAna;ana@example.com\n")]
    fn a_first_row_of_column_names_is_the_header(#[case] text: &str) {
        let table = read_table(text.as_bytes(), "x.csv").unwrap();
        assert!(table.has_header_row);
        assert_eq!(table.row_count(), 1);
    }

    #[rstest]
    #[case::plain("sep=;")]
    #[case::padded_by_a_spreadsheet("sep=;;;")]
    #[case::quoted("\"sep=;\"")]
    fn the_sep_line_is_not_a_row(#[case] sep: &str) {
        let text = format!("{sep}\r\nnombre;email\r\nAna;ana@example.com\r\n");
        let table = read_table(text.as_bytes(), "x.csv").unwrap();
        assert_eq!(table.delimiter, Delimiter::Semicolon);
        assert_eq!(table.headers, ["nombre", "email"]);
        assert_eq!(rows(&table), [(2, vec!["Ana", "ana@example.com"])]);
    }

    #[test]
    fn a_chosen_delimiter_overrides_the_detected_one() {
        let options = ReadOptions {
            delimiter: Some(Delimiter::Comma),
            ..ReadOptions::default()
        };
        let table = read_table_with(b"a;b,c\n1;2,3\n", "x.csv", options).unwrap();
        assert_eq!(table.headers, ["a;b", "c"]);
    }

    #[rstest]
    #[case::crlf("h\r\na\r\n\r\nb\r\n")]
    #[case::lf("h\na\n\nb\n")]
    #[case::cr("h\ra\r\rb\r")]
    fn blank_lines_count_as_rows_like_in_a_spreadsheet(#[case] text: &str) {
        let table = read_table(text.as_bytes(), "x.csv").unwrap();
        assert_eq!(rows(&table), [(2, vec!["a"]), (4, vec!["b"])]);
    }

    #[test]
    fn a_multi_line_record_is_one_row_with_lf_line_breaks() {
        let text = "n;notas\r\nA;\"uno\r\ndos\rtres\"\r\nB;x\r\n";
        let table = read_table(text.as_bytes(), "x.csv").unwrap();
        assert_eq!(
            rows(&table),
            [(2, vec!["A", "uno\ndos\ntres"]), (3, vec!["B", "x"])]
        );
    }

    #[test]
    fn rows_of_empty_cells_are_skipped_but_keep_their_row_number() {
        let text = "a;b;;\n1;2;;\n;;;\n  ;\u{a0};\n3;4\n";
        let table = read_table(text.as_bytes(), "x.csv").unwrap();
        assert_eq!(
            table.headers,
            ["a", "b"],
            "trailing empty headers are left out"
        );
        assert_eq!(rows(&table), [(2, vec!["1", "2"]), (5, vec!["3", "4"])]);
        assert!(table.problems.is_empty());
    }

    #[test]
    fn a_value_past_the_last_header_is_a_warning() {
        let table = read_table(b"a;b\n1;2;3\n", "x.csv").unwrap();
        assert_eq!(table.problems.len(), 1);
        let problem = &table.problems[0];
        assert_eq!((problem.row, problem.code), (2, ProblemCode::ExtraCells));
        assert_eq!(
            problem.column.as_ref().map(|c| c.letter.as_str()),
            Some("C")
        );
    }

    #[test]
    fn an_unclosed_quote_refuses_its_row_and_names_its_column() {
        let text = "a,b,c\n1,\"x\"\"y\",3\n4,5,\"open\r\nrest";
        let table = read_table(text.as_bytes(), "x.csv").unwrap();
        assert_eq!(rows(&table), [(2, vec!["1", "x\"y", "3"])]);
        let problem = &table.problems[0];
        assert_eq!((problem.row, problem.code), (3, ProblemCode::UnclosedQuote));
        assert_eq!(
            problem.column.as_ref().map(|c| c.letter.as_str()),
            Some("C")
        );
        assert_eq!(problem.value.as_deref(), Some("open\nrest"));
    }

    #[rstest]
    #[case::closed("a,\"b\"\"\",c", None)]
    #[case::bare_quote_inside_unquoted_field("Luis \"Lucho\",x", None)]
    #[case::open_in_second_field("a,\"b,c", Some(1))]
    #[case::doubled_quote_does_not_close("a,\"b\"\"", Some(1))]
    fn open_quote_column_follows_the_csv_rules(
        #[case] text: &str,
        #[case] expected: Option<usize>,
    ) {
        assert_eq!(open_quote_column(text, b','), expected);
    }

    #[rstest]
    #[case::only_delimiters(";;;\r\n;;\r\n", FileError::NoHeader)]
    #[case::empty("", FileError::Empty)]
    fn read_table_refuses_files_without_a_header(#[case] text: &str, #[case] error: FileError) {
        assert_eq!(read_table(text.as_bytes(), "x.csv").unwrap_err(), error);
    }

    #[test]
    fn summary_shows_settings_headers_and_first_rows() {
        let table = read_table(b"a;b\n1;2\n3;4\n", "x.csv").unwrap();
        let summary = table.summary(1);
        assert_eq!(summary.row_count, 2);
        assert_eq!(
            summary.preview,
            [PreviewRow {
                row: 2,
                cells: vec!["1".into(), "2".into()]
            }]
        );
        assert_eq!(summary.delimiter, Delimiter::Semicolon);
    }
}
