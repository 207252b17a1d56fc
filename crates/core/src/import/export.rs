//! Customers to a CSV file that Excel opens correctly and that the importer reads back.
//!
//! UTF-8 with BOM, `;` and CRLF, as Excel expects in Spain and Germany. A cell that a
//! spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, TAB or CR, phones in
//! E.164 included) gets a leading apostrophe, which the importer removes again.

use csv::{QuoteStyle, Terminator, WriterBuilder};

use super::cell::starts_like_formula;
use super::merge::ImportedCustomer;
use crate::domain::{CustomerFields, Gender};

/// One customer to export: its fields and the names of its branches.
#[derive(Debug, Clone, Copy)]
pub struct ExportRow<'a> {
    pub fields: &'a CustomerFields,
    pub branches: &'a [String],
}

impl<'a> From<&'a ImportedCustomer> for ExportRow<'a> {
    fn from(customer: &'a ImportedCustomer) -> Self {
        Self {
            fields: &customer.fields,
            branches: &customer.branches,
        }
    }
}

/// Writes `customers` as CSV; headers are Spanish and read back by the importer.
pub fn export_csv<'a>(customers: impl IntoIterator<Item = ExportRow<'a>>) -> Vec<u8> {
    let customers: Vec<ExportRow<'a>> = customers.into_iter().collect();
    let email_columns = customers
        .iter()
        .map(|c| c.fields.emails.len())
        .max()
        .unwrap_or(0)
        .max(1);
    let phone_columns = customers
        .iter()
        .map(|c| c.fields.phones.len())
        .max()
        .unwrap_or(0)
        .max(1);

    let mut out = "\u{feff}".as_bytes().to_vec();
    let mut writer = WriterBuilder::new()
        .delimiter(b';')
        .terminator(Terminator::CRLF)
        .quote_style(QuoteStyle::Necessary)
        .from_writer(&mut out);
    let write = |writer: &mut csv::Writer<&mut Vec<u8>>, record: Vec<String>| {
        // Writing to a Vec cannot fail.
        for cell in &record {
            let _ = writer.write_field(escape_formula(cell).as_bytes());
        }
        let _ = writer.write_record(None::<&[u8]>);
    };
    write(&mut writer, headers(email_columns, phone_columns));
    for customer in &customers {
        write(&mut writer, record(customer, email_columns, phone_columns));
    }
    drop(writer);
    out
}

fn headers(email_columns: usize, phone_columns: usize) -> Vec<String> {
    let numbered = |name: &'static str, n: usize| {
        (1..=n).map(move |i| {
            if i == 1 {
                name.to_owned()
            } else {
                format!("{name} {i}")
            }
        })
    };
    let mut headers = vec!["nombre".to_owned(), "apellidos".to_owned()];
    headers.extend(numbered("email", email_columns));
    headers.extend(numbered("teléfono", phone_columns));
    headers.extend(
        [
            "fecha de nacimiento",
            "género",
            "dirección",
            "ciudad",
            "código postal",
            "provincia",
            "país",
            "empresa",
            "notas",
            "id externo",
            "etiquetas",
            "sucursales",
        ]
        .map(String::from),
    );
    headers
}

fn record(customer: &ExportRow<'_>, email_columns: usize, phone_columns: usize) -> Vec<String> {
    let f = customer.fields;
    let mut emails: Vec<&str> = f.emails.iter().map(|e| e.address.as_str()).collect();
    if let Some(primary) = f.emails.iter().position(|e| e.primary) {
        emails[..=primary].rotate_right(1);
    }
    let mut phones: Vec<&str> = f.phones.iter().map(|p| p.number.as_str()).collect();
    if let Some(primary) = f.phones.iter().position(|p| p.primary) {
        phones[..=primary].rotate_right(1);
    }
    let padded = |values: Vec<&str>, n: usize| -> Vec<String> {
        (0..n)
            .map(|i| values.get(i).copied().unwrap_or_default().to_owned())
            .collect()
    };

    let mut record = vec![f.first_name.clone(), f.last_name.clone()];
    record.extend(padded(emails, email_columns));
    record.extend(padded(phones, phone_columns));
    record.extend([
        f.birthday.map(|b| b.to_iso()).unwrap_or_default(),
        f.gender.map(spanish_gender).unwrap_or_default().to_owned(),
        f.address.street.clone(),
        f.address.city.clone(),
        f.address.postcode.clone(),
        f.address.region.clone(),
        f.address.country.clone(),
        f.company.clone(),
        f.notes.clone(),
        f.external_id.clone(),
        f.tags.join(", "),
        customer.branches.join(", "),
    ]);
    record
}

fn spanish_gender(gender: Gender) -> &'static str {
    match gender {
        Gender::Female => "mujer",
        Gender::Male => "hombre",
        Gender::Other => "otro",
    }
}

/// Adds the apostrophe that stops a spreadsheet from running the cell as a formula.
fn escape_formula(cell: &str) -> std::borrow::Cow<'_, str> {
    if starts_like_formula(cell) {
        format!("'{cell}").into()
    } else {
        cell.into()
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case::formula("=2+3", "'=2+3")]
    #[case::phone("+34600000361", "'+34600000361")]
    #[case::minus("-10% en la próxima cita", "'-10% en la próxima cita")]
    #[case::at("@cumpleaños en mayo", "'@cumpleaños en mayo")]
    #[case::tab("\tx", "'\tx")]
    #[case::carriage_return("\rx", "'\rx")]
    #[case::plain("Prefiere tardes", "Prefiere tardes")]
    #[case::inner_equals("a=b", "a=b")]
    fn escape_formula_guards_cells_a_spreadsheet_would_run(
        #[case] cell: &str,
        #[case] expected: &str,
    ) {
        assert_eq!(escape_formula(cell), expected);
    }

    #[test]
    fn export_writes_bom_semicolons_and_crlf() {
        let fields = CustomerFields {
            first_name: "Ana".into(),
            notes: "uno\ndos".into(),
            ..CustomerFields::default()
        };
        let csv = export_csv([ExportRow {
            fields: &fields,
            branches: &[],
        }]);
        let text = String::from_utf8(csv).unwrap();
        assert!(text.starts_with("\u{feff}nombre;apellidos;email;teléfono;"));
        assert!(text.contains("\r\nAna;;;;"));
        assert!(
            text.contains("\"uno\ndos\""),
            "a line break inside a value is quoted"
        );
        assert!(text.ends_with("\r\n"));
    }
}
