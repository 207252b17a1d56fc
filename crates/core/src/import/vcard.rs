//! vCard 2.1 and 3.0 files (phones, Outlook, Apple and Google contacts).
//!
//! Each card becomes one row of a [`SourceTable`] with a fixed mapping, so vCards go through
//! the same analysis as spreadsheets; the row number is the card's position ("contacto N").
//! Handles line folding (CRLF + space or TAB), quoted-printable with soft line breaks and a
//! `CHARSET`, the `\,` `\;` `\n` escapes, Apple's `item1.` groups and `PREF` primaries.

use super::decode::decode;
use super::mapping::{ColumnMapping, Target};
use super::problem::column_letter;
use super::table::{Delimiter, FileError, SourceTable};

/// A vCard file as a table, with the mapping that reads it.
#[derive(Debug, Clone)]
pub struct VcardTable {
    pub table: SourceTable,
    pub mapping: Vec<ColumnMapping>,
}

/// The columns a card is spread over, with their headers and fields.
const COLUMNS: [(&str, Target); 17] = [
    ("N given", Target::FirstName),
    ("N additional", Target::MiddleName),
    ("N family", Target::LastName),
    ("FN", Target::FullName),
    ("EMAIL TYPE", Target::EmailLabel),
    ("EMAIL", Target::Email),
    ("TEL TYPE", Target::PhoneLabel),
    ("TEL", Target::Phone),
    ("BDAY", Target::Birthday),
    ("ADR street", Target::Street),
    ("ADR locality", Target::City),
    ("ADR region", Target::Region),
    ("ADR code", Target::Postcode),
    ("ADR country", Target::Country),
    ("ORG", Target::Company),
    ("NOTE", Target::Notes),
    ("CATEGORIES", Target::Tags),
];

/// Reads a `.vcf` file: one row per card, numbered from 1.
pub fn read_vcard(bytes: &[u8], file_name: &str) -> Result<VcardTable, FileError> {
    let decoded = decode(bytes, None)?;
    let headers = COLUMNS.iter().map(|(h, _)| (*h).to_owned()).collect();
    let mut table = SourceTable::new(file_name, decoded.encoding, Delimiter::Semicolon, headers);
    let mut card: Option<Card> = None;
    let mut position = 0;
    for line in unfold(&decoded.text) {
        let Some(property) = Property::parse(&line) else {
            continue;
        };
        match property.name.as_str() {
            "BEGIN" if property.raw_value.trim().eq_ignore_ascii_case("vcard") => {
                // A card left open by a broken file still counts: keep what it said.
                if let Some(open) = card.take() {
                    table.push_row(position, open.cells().iter().map(String::as_str));
                }
                position += 1;
                card = Some(Card::default());
            }
            "END" => {
                if let Some(done) = card.take() {
                    table.push_row(position, done.cells().iter().map(String::as_str));
                }
            }
            _ => {
                if let Some(card) = card.as_mut() {
                    card.add(&property);
                }
            }
        }
    }
    if let Some(open) = card.take() {
        table.push_row(position, open.cells().iter().map(String::as_str));
    }
    if position == 0 {
        return Err(FileError::NoContacts);
    }
    Ok(VcardTable {
        table,
        mapping: mapping(),
    })
}

fn mapping() -> Vec<ColumnMapping> {
    COLUMNS
        .iter()
        .enumerate()
        .map(|(i, (header, target))| ColumnMapping {
            column: i as u32,
            letter: column_letter(i),
            header: (*header).to_owned(),
            target: Some(*target),
            guessed: false,
        })
        .collect()
}

fn is_card_boundary(line: &str) -> bool {
    let line = line.trim().to_ascii_uppercase();
    line == "END:VCARD" || line == "BEGIN:VCARD"
}

/// Joins folded lines (a line starting with a space or TAB continues the previous one, minus
/// that one character) and quoted-printable soft breaks (a line ending in `=`).
fn unfold(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut soft_break = false;
    // CRLF, LF, and the classic Mac's lone CR all end a line.
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    for physical in text.split('\n') {
        match lines.last_mut() {
            // A soft break never swallows the line that ends or starts a card.
            Some(last) if soft_break && !is_card_boundary(physical) => last.push_str(physical),
            Some(last) if physical.starts_with([' ', '\t']) => last.push_str(&physical[1..]),
            _ => lines.push(physical.to_owned()),
        }
        let last = lines
            .last_mut()
            .expect("a line was just pushed or extended");
        soft_break = is_quoted_printable(last) && last.ends_with('=');
        if soft_break {
            last.pop();
        }
    }
    lines
}

fn is_quoted_printable(line: &str) -> bool {
    let head = line.split_once(':').map_or(line, |(head, _)| head);
    head.to_ascii_uppercase().contains("QUOTED-PRINTABLE")
}

/// One content line: `item1.EMAIL;TYPE=INTERNET,pref:ana@example.com`.
struct Property {
    /// Upper-case name without the group prefix.
    name: String,
    /// Upper-case parameter values and bare types: `INTERNET`, `PREF`, `CELL`, …
    types: Vec<String>,
    charset: Option<String>,
    quoted_printable: bool,
    raw_value: String,
}

impl Property {
    fn parse(line: &str) -> Option<Self> {
        let (head, raw_value) = line.split_once(':')?;
        let mut parts = head.split(';');
        let name = parts
            .next()?
            .rsplit('.')
            .next()?
            .trim()
            .to_ascii_uppercase();
        let mut property = Self {
            name,
            types: Vec::new(),
            charset: None,
            quoted_printable: false,
            raw_value: raw_value.into(),
        };
        for param in parts {
            let (key, value) = param.split_once('=').unwrap_or(("TYPE", param));
            let key = key.trim().to_ascii_uppercase();
            let value = value.trim().trim_matches('"');
            match key.as_str() {
                "CHARSET" => property.charset = Some(value.to_owned()),
                "ENCODING" => {
                    property.quoted_printable |= value.eq_ignore_ascii_case("quoted-printable")
                }
                _ if value.eq_ignore_ascii_case("quoted-printable") => {
                    property.quoted_printable = true
                }
                _ => property
                    .types
                    .extend(value.split(',').map(|t| t.trim().to_ascii_uppercase())),
            }
        }
        Some(property)
    }

    /// The value decoded (quoted-printable, charset) and split into its `;` components, each
    /// unescaped.
    fn components(&self) -> Vec<String> {
        let value = if self.quoted_printable {
            let bytes = decode_quoted_printable(&self.raw_value);
            let label = self.charset.as_deref().unwrap_or("UTF-8");
            let encoding =
                encoding_rs::Encoding::for_label(label.as_bytes()).unwrap_or(encoding_rs::UTF_8);
            encoding.decode_without_bom_handling(&bytes).0.into_owned()
        } else {
            self.raw_value.clone()
        };
        split_unescaped(&value, ';')
            .into_iter()
            .map(|c| unescape(&c))
            .collect()
    }

    /// The whole value as one text (`;` kept), unescaped.
    fn text(&self) -> String {
        self.components().join(";")
    }

    fn has_type(&self, wanted: &str) -> bool {
        self.types.iter().any(|t| t == wanted)
    }

    /// A label for the value's column: `* home` for a preferred home address.
    fn label(&self, known: &[(&str, &str)]) -> String {
        let label = known
            .iter()
            .find(|(t, _)| self.has_type(t))
            .map_or("", |(_, label)| label);
        if self.has_type("PREF") {
            format!("* {label}")
        } else {
            label.to_owned()
        }
    }
}

/// The values of one card, gathered before it becomes a row.
#[derive(Debug, Default)]
struct Card {
    name: [String; 3],
    full_name: String,
    emails: Vec<(String, String)>,
    phones: Vec<(String, String)>,
    birthday: String,
    address: [String; 5],
    company: String,
    notes: Vec<String>,
    categories: Vec<String>,
}

impl Card {
    fn add(&mut self, p: &Property) {
        match p.name.as_str() {
            "N" => {
                let parts = p.components();
                let part = |i: usize| parts.get(i).cloned().unwrap_or_default();
                self.name = [part(1), part(2), part(0)];
            }
            "FN" => self.full_name = p.text(),
            "EMAIL" => self.emails.push((p.label(EMAIL_TYPES), p.text())),
            "TEL" => self.phones.push((p.label(PHONE_TYPES), p.text())),
            "BDAY" => self.birthday = iso_birthday(&p.text()),
            "ADR" if self.address.iter().all(String::is_empty) => {
                let parts = p.components();
                let part = |i: usize| parts.get(i).cloned().unwrap_or_default();
                self.address = [part(2), part(3), part(4), part(5), part(6)];
            }
            "ORG" => self.company = p.components().into_iter().next().unwrap_or_default(),
            "NOTE" => self.notes.push(p.text()),
            "CATEGORIES" => self.categories.push(p.text()),
            _ => {}
        }
    }

    fn cells(self) -> Vec<String> {
        let [given, additional, family] = self.name;
        let (email_labels, emails): (Vec<_>, Vec<_>) = self.emails.into_iter().unzip();
        let (phone_labels, phones): (Vec<_>, Vec<_>) = self.phones.into_iter().unzip();
        let notes = self.notes.join("\n");
        let mut cells = vec![
            given,
            additional,
            family,
            self.full_name,
            email_labels.join(" ::: "),
            emails.join(" ::: "),
            phone_labels.join(" ::: "),
            phones.join(" ::: "),
            self.birthday,
        ];
        cells.extend(self.address);
        cells.extend([self.company, notes, self.categories.join(",")]);
        cells
    }
}

const EMAIL_TYPES: &[(&str, &str)] = &[("HOME", "home"), ("WORK", "work"), ("OTHER", "other")];
const PHONE_TYPES: &[(&str, &str)] = &[
    ("CELL", "mobile"),
    ("HOME", "home"),
    ("WORK", "work"),
    ("FAX", "fax"),
];

/// vCard's basic date `19790831` in the extended form the importer reads.
fn iso_birthday(value: &str) -> String {
    let date = value.split('T').next().unwrap_or_default();
    if date.len() == 8 && date.bytes().all(|b| b.is_ascii_digit()) {
        format!("{}-{}-{}", &date[..4], &date[4..6], &date[6..])
    } else {
        date.to_owned()
    }
}

fn decode_quoted_printable(value: &str) -> Vec<u8> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'=', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// Splits on `separator` except where a backslash escapes it.
fn split_unescaped(value: &str, separator: char) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        let current = parts.last_mut().expect("never empty");
        match c {
            '\\' => {
                current.push('\\');
                current.extend(chars.next());
            }
            c if c == separator => parts.push(String::new()),
            c => current.push(c),
        }
    }
    parts
}

/// Resolves `\n`, `\,`, `\;` and `\\`.
fn unescape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match (c, c == '\\') {
            (_, true) => match chars.next() {
                Some('n' | 'N') => out.push('\n'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            },
            (c, false) => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card_count(text: &str) -> usize {
        read_vcard(text.as_bytes(), "x.vcf")
            .unwrap()
            .table
            .row_count()
    }

    #[test]
    fn a_card_without_end_is_kept_at_the_end_of_the_file_and_before_the_next_card() {
        let text = "BEGIN:VCARD\r\nFN:Ana\r\nBEGIN:VCARD\r\nFN:Eva\r\nEND:VCARD\r\n\
                    BEGIN:VCARD\r\nFN:Luz\r\n";
        assert_eq!(card_count(text), 3);
    }

    #[test]
    fn a_soft_break_before_end_does_not_swallow_the_end_of_the_card() {
        let text = "BEGIN:VCARD\r\nFN:Ana\r\nNOTE;ENCODING=QUOTED-PRINTABLE:Nota rota=\r\n\
                    END:VCARD\r\nBEGIN:VCARD\r\nFN:Eva\r\nEND:VCARD\r\n";
        assert_eq!(card_count(text), 2);
    }

    #[test]
    fn unfold_joins_folded_lines_and_keeps_the_space_that_belongs_to_the_text() {
        let lines = unfold("NOTE:de la sucursal\r\n  Centro\r\n\tok\r\nEND:VCARD");
        assert_eq!(lines, ["NOTE:de la sucursal Centrook", "END:VCARD"]);
    }

    #[test]
    fn unfold_joins_quoted_printable_soft_breaks() {
        let lines = unfold("FN;ENCODING=QUOTED-PRINTABLE:Ib=C3=\r\n=A1=C3=B1ez\r\nEND:VCARD");
        assert_eq!(
            lines,
            ["FN;ENCODING=QUOTED-PRINTABLE:Ib=C3=A1=C3=B1ez", "END:VCARD"]
        );
    }

    #[test]
    fn quoted_printable_decodes_a_character_split_over_two_escapes() {
        assert_eq!(
            decode_quoted_printable("Ib=C3=A1=C3=B1ez"),
            "Ibáñez".as_bytes()
        );
    }

    #[test]
    fn components_split_on_unescaped_semicolons_only() {
        let p = Property::parse("ADR:;;Calle Ficticia 0\\, 3º izda.;Madrid;;28000;España").unwrap();
        assert_eq!(
            p.components(),
            [
                "",
                "",
                "Calle Ficticia 0, 3º izda.",
                "Madrid",
                "",
                "28000",
                "España"
            ]
        );
    }

    #[test]
    fn property_reads_group_types_and_preference() {
        let p = Property::parse("item1.EMAIL;type=INTERNET;type=pref:ana@example.com").unwrap();
        assert_eq!(p.name, "EMAIL");
        assert_eq!(p.label(EMAIL_TYPES), "* ");
        let p = Property::parse("TEL;TYPE=CELL:600 000 292").unwrap();
        assert_eq!(p.label(PHONE_TYPES), "mobile");
    }
}
