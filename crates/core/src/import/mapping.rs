//! Which customer field each column of a file holds.
//!
//! Headers are recognised in Spanish, English and German, and in the column sets of Google
//! Contacts and Outlook exports, ignoring case, accents, punctuation and the space or BOM
//! around them. A header that appears twice stops the import until the user confirms what each
//! of those columns is: no column is ever dropped silently.

use serde::{Deserialize, Serialize};

use super::problem::column_letter;
use super::table::{looks_like_email, looks_like_phone, SourceTable};
use crate::domain::text;

/// The customer field a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub enum Target {
    FirstName,
    /// Joined to the first name.
    MiddleName,
    LastName,
    /// First and last name in one cell; used when neither is given on its own.
    FullName,
    Email,
    /// A label such as `* Home` for the email column right after it (Google Contacts).
    EmailLabel,
    Phone,
    /// A phone number labelled "mobile".
    Mobile,
    /// A label such as `Mobile` for the phone column right after it (Google Contacts).
    PhoneLabel,
    Birthday,
    Gender,
    Street,
    City,
    Postcode,
    Region,
    Country,
    Company,
    Notes,
    ExternalId,
    Tags,
    Branch,
}

/// One column of the file and the field it is read into.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ColumnMapping {
    /// Zero-based position of the column.
    pub column: u32,
    /// The spreadsheet letter of the column.
    pub letter: String,
    /// The header text.
    pub header: String,
    /// The field, or `None` to leave the column out.
    pub target: Option<Target>,
    /// True when the importer chose the target; false once the user has confirmed it.
    pub guessed: bool,
}

/// Why a mapping cannot be used yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type, thiserror::Error)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum MappingError {
    /// The same header names several columns and the user has not said which is which.
    #[error("header appears in columns {columns:?}; say what each column holds")]
    #[serde(rename_all = "camelCase")]
    DuplicateHeader {
        header: String,
        columns: Vec<String>,
    },
    /// No column is read into any customer field.
    #[error("no column maps to a customer field")]
    NoUsableColumn,
    /// The mapping names a column the file does not have.
    #[error("column {column} is not in the file")]
    UnknownColumn { column: u32 },
}

/// Guesses the target of every column from its header.
pub fn guess_mapping(headers: &[String]) -> Vec<ColumnMapping> {
    headers
        .iter()
        .enumerate()
        .map(|(i, header)| ColumnMapping {
            column: u32::try_from(i).unwrap_or(u32::MAX),
            letter: column_letter(i),
            header: header.clone(),
            target: guess_target(header),
            guessed: true,
        })
        .collect()
}

/// The mapping of a file without a header row: columns whose values are all email addresses
/// or all phone numbers (nine digits or more, so dates are not taken for phones) get that
/// field; the person chooses the rest.
pub fn guess_mapping_by_values(table: &SourceTable) -> Vec<ColumnMapping> {
    const SAMPLE_ROWS: usize = 20;
    let mut mapping = guess_mapping(&table.headers);
    for m in &mut mapping {
        let column = m.column as usize;
        let values: Vec<&str> = table
            .rows()
            .take(SAMPLE_ROWS)
            .map(|r| r.cell(column))
            .filter(|v| !v.is_empty())
            .collect();
        let all = |test: fn(&str) -> bool| !values.is_empty() && values.iter().all(|v| test(v));
        m.target = if all(looks_like_email) {
            Some(Target::Email)
        } else if all(|v| {
            looks_like_phone(v) && v.chars().filter(char::is_ascii_digit).count() >= 9
        }) {
            Some(Target::Phone)
        } else {
            None
        };
    }
    mapping
}

/// Checks a mapping before analysis: duplicate headers must be confirmed by the user, and at
/// least one column must be read.
pub fn check_mapping(mapping: &[ColumnMapping], column_count: usize) -> Result<(), MappingError> {
    if let Some(m) = mapping.iter().find(|m| m.column as usize >= column_count) {
        return Err(MappingError::UnknownColumn { column: m.column });
    }
    if let Some(duplicate) = unconfirmed_duplicate(mapping) {
        return Err(duplicate);
    }
    if mapping.iter().all(|m| m.target.is_none()) {
        return Err(MappingError::NoUsableColumn);
    }
    Ok(())
}

/// The first header that names several columns, at least one of them not confirmed.
fn unconfirmed_duplicate(mapping: &[ColumnMapping]) -> Option<MappingError> {
    let folded: Vec<String> = mapping
        .iter()
        .map(|m| text::fold(text::trim(&m.header)))
        .collect();
    for (i, key) in folded.iter().enumerate() {
        if key.is_empty() || folded[..i].contains(key) {
            continue;
        }
        let same: Vec<&ColumnMapping> = mapping
            .iter()
            .zip(&folded)
            .filter(|(_, k)| *k == key)
            .map(|(m, _)| m)
            .collect();
        if same.len() > 1 && same.iter().any(|m| m.guessed) {
            let columns = same.iter().map(|m| m.letter.clone()).collect();
            return Some(MappingError::DuplicateHeader {
                header: mapping[i].header.clone(),
                columns,
            });
        }
    }
    None
}

/// The target a header names, if it is one the importer knows.
pub fn guess_target(header: &str) -> Option<Target> {
    let folded = text::fold(text::trim(header));
    if let Some(target) = google_numbered(&folded) {
        return Some(target);
    }
    let key = compact(&folded);
    lookup(&key).or_else(|| {
        // "teléfono 2", "E-mail 2 Address": the number only tells columns apart.
        let without_digits: String = key.chars().filter(|c| !c.is_ascii_digit()).collect();
        lookup(&without_digits)
    })
}

/// Only letters and digits: "Correo electrónico" and "correo_electronico" meet.
fn compact(folded: &str) -> String {
    folded.chars().filter(|c| c.is_alphanumeric()).collect()
}

/// Google Contacts' numbered columns: `E-mail 1 - Value`, `Phone 2 - Label`, `Address 1 - City`.
fn google_numbered(folded: &str) -> Option<Target> {
    let (kind, part) = folded.split_once(" - ")?;
    let kind = kind.trim_end_matches(|c: char| c.is_ascii_digit() || c == ' ');
    let target = match (compact(kind).as_str(), compact(part).as_str()) {
        ("email", "value") => Target::Email,
        ("email", "label" | "type") => Target::EmailLabel,
        ("phone", "value") => Target::Phone,
        ("phone", "label" | "type") => Target::PhoneLabel,
        ("address", "street") => Target::Street,
        ("address", "city") => Target::City,
        ("address", "postalcode") => Target::Postcode,
        ("address", "region") => Target::Region,
        ("address", "country") => Target::Country,
        ("organization", "name") => Target::Company,
        _ => return None,
    };
    Some(target)
}

fn lookup(key: &str) -> Option<Target> {
    SYNONYMS
        .iter()
        .find(|(_, keys)| keys.contains(&key))
        .map(|(target, _)| *target)
}

/// Header spellings by target, as compact folded keys (Spanish, English, German; Google,
/// Outlook and Thunderbird exports).
const SYNONYMS: &[(Target, &[&str])] = &[
    (
        Target::FirstName,
        &[
            "nombre",
            "nombrepila",
            "firstname",
            "first",
            "givenname",
            "forename",
            "vorname",
        ],
    ),
    (
        Target::MiddleName,
        &[
            "middlename",
            "additionalname",
            "segundonombre",
            "zweitervorname",
        ],
    ),
    (
        Target::LastName,
        &[
            "apellidos",
            "apellido",
            "primerapellido",
            "segundoapellido",
            "lastname",
            "surname",
            "familyname",
            "nachname",
            "familienname",
        ],
    ),
    (
        Target::FullName,
        &[
            "nombrecompleto",
            "nombreyapellidos",
            "name",
            "fullname",
            "displayname",
            "vollstandigername",
            "kunde",
            "cliente",
            "customer",
        ],
    ),
    (
        Target::Email,
        &[
            "email",
            "correo",
            "correoelectronico",
            "mail",
            "emailaddress",
            "emailadresse",
            "direcciondecorreo",
            "direcciondecorreoelectronico",
            "primaryemail",
            "secondaryemail",
            "emailprincipal",
        ],
    ),
    (
        Target::Phone,
        &[
            "telefono",
            "tel",
            "tfno",
            "telf",
            "phone",
            "phonenumber",
            "telephone",
            "telefon",
            "telefonnummer",
            "numerodetelefono",
            "telefonofijo",
            "homephone",
            "businessphone",
            "workphone",
            "festnetz",
            "primaryphone",
        ],
    ),
    (
        Target::Mobile,
        &[
            "movil",
            "telefonomovil",
            "celular",
            "mobile",
            "mobilephone",
            "cellphone",
            "cell",
            "handy",
            "mobiltelefon",
            "mobilnummer",
            "mobil",
            "handynummer",
            "mobilenumber",
        ],
    ),
    (
        Target::Birthday,
        &[
            "fechadenacimiento",
            "fechanacimiento",
            "nacimiento",
            "cumpleanos",
            "birthday",
            "birthdate",
            "dateofbirth",
            "dob",
            "geburtstag",
            "geburtsdatum",
        ],
    ),
    (
        Target::Gender,
        &["genero", "sexo", "gender", "sex", "geschlecht"],
    ),
    (
        Target::Street,
        &[
            "direccion",
            "domicilio",
            "calle",
            "address",
            "street",
            "streetaddress",
            "homestreet",
            "homeaddress",
            "adresse",
            "strasse",
            "anschrift",
        ],
    ),
    (
        Target::City,
        &[
            "ciudad",
            "localidad",
            "poblacion",
            "municipio",
            "city",
            "town",
            "homecity",
            "stadt",
            "ort",
            "wohnort",
        ],
    ),
    (
        Target::Postcode,
        &[
            "codigopostal",
            "cp",
            "postcode",
            "postalcode",
            "zip",
            "zipcode",
            "homepostalcode",
            "plz",
            "postleitzahl",
        ],
    ),
    (
        Target::Region,
        &[
            "provincia",
            "region",
            "comunidadautonoma",
            "state",
            "county",
            "homestate",
            "bundesland",
        ],
    ),
    (
        Target::Country,
        &[
            "pais",
            "country",
            "countryregion",
            "homecountryregion",
            "land",
        ],
    ),
    (
        Target::Company,
        &[
            "empresa",
            "compania",
            "company",
            "organization",
            "organisation",
            "organizationname",
            "firma",
            "unternehmen",
        ],
    ),
    (
        Target::Notes,
        &[
            "notas",
            "nota",
            "observaciones",
            "comentarios",
            "notes",
            "note",
            "comments",
            "notizen",
            "notiz",
            "bemerkung",
            "bemerkungen",
            "anmerkungen",
        ],
    ),
    (
        Target::ExternalId,
        &[
            "idexterno",
            "id",
            "externalid",
            "codigo",
            "codigocliente",
            "numerocliente",
            "numerodecliente",
            "customerid",
            "customernumber",
            "kundennummer",
            "kundenid",
        ],
    ),
    (
        Target::Tags,
        &[
            "etiquetas",
            "etiqueta",
            "tags",
            "tag",
            "labels",
            "categorias",
            "categories",
            "grupos",
            "groups",
            "groupmembership",
            "kategorien",
            "schlagworte",
        ],
    ),
    (
        Target::Branch,
        &[
            "sucursal",
            "sucursales",
            "tienda",
            "branch",
            "branches",
            "store",
            "location",
            "filiale",
            "filialen",
            "standort",
            "niederlassung",
        ],
    ),
];

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case("Nombre", Target::FirstName)]
    #[case("First Name", Target::FirstName)]
    #[case("Vorname", Target::FirstName)]
    #[case("Apellidos", Target::LastName)]
    #[case("Last Name", Target::LastName)]
    #[case("Nachname", Target::LastName)]
    #[case("Teléfono", Target::Phone)]
    #[case("Telefono", Target::Phone)]
    #[case("Phone", Target::Phone)]
    #[case("Telefon", Target::Phone)]
    #[case("teléfono 2", Target::Phone)]
    #[case("Móvil", Target::Mobile)]
    #[case("Mobile", Target::Mobile)]
    #[case("Handy", Target::Mobile)]
    #[case("Correo electrónico", Target::Email)]
    #[case("Email", Target::Email)]
    #[case("E-mail", Target::Email)]
    #[case("E-Mail", Target::Email)]
    #[case("\u{feff}email", Target::Email)]
    #[case("email\u{a0} ", Target::Email)]
    #[case("Fecha de nacimiento", Target::Birthday)]
    #[case("fecha_nacimiento", Target::Birthday)]
    #[case("Birthday", Target::Birthday)]
    #[case("Geburtstag", Target::Birthday)]
    #[case("Notas", Target::Notes)]
    #[case("Notes", Target::Notes)]
    #[case("Notizen", Target::Notes)]
    #[case("Dirección", Target::Street)]
    #[case("Address", Target::Street)]
    #[case("Adresse", Target::Street)]
    #[case("Sucursal", Target::Branch)]
    #[case("Branch", Target::Branch)]
    #[case("Filiale", Target::Branch)]
    #[case("Etiquetas", Target::Tags)]
    #[case("Tags", Target::Tags)]
    #[case("Labels", Target::Tags)]
    #[case("Empresa", Target::Company)]
    #[case("Company", Target::Company)]
    #[case("Organization Name", Target::Company)]
    #[case("Firma", Target::Company)]
    #[case("Género", Target::Gender)]
    #[case("Gender", Target::Gender)]
    #[case("Geschlecht", Target::Gender)]
    #[case("Código postal", Target::Postcode)]
    #[case("Zip", Target::Postcode)]
    #[case("PLZ", Target::Postcode)]
    #[case("Ciudad", Target::City)]
    #[case("Stadt", Target::City)]
    #[case("Ort", Target::City)]
    #[case("País", Target::Country)]
    #[case("Land", Target::Country)]
    #[case("ID externo", Target::ExternalId)]
    #[case("id_externo", Target::ExternalId)]
    #[case("External ID", Target::ExternalId)]
    #[case("E-mail 1 - Value", Target::Email)]
    #[case("E-mail 2 - Label", Target::EmailLabel)]
    #[case("Phone 1 - Value", Target::Phone)]
    #[case("Phone 2 - Label", Target::PhoneLabel)]
    #[case("Address 1 - Postal Code", Target::Postcode)]
    #[case("Middle Name", Target::MiddleName)]
    fn guess_target_reads_spanish_english_german_and_google_headers(
        #[case] header: &str,
        #[case] target: Target,
    ) {
        assert_eq!(guess_target(header), Some(target), "{header:?}");
    }

    #[rstest]
    #[case("Photo")]
    #[case("Phonetic First Name")]
    #[case("Nickname")]
    #[case("")]
    fn guess_target_leaves_unknown_headers_unmapped(#[case] header: &str) {
        assert_eq!(guess_target(header), None);
    }

    fn headers(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_header_that_appears_twice_stops_the_import_naming_both_columns() {
        let mapping = guess_mapping(&headers(&[
            "nombre",
            "apellidos",
            "teléfono",
            "email",
            "Teléfono",
        ]));
        let expected = MappingError::DuplicateHeader {
            header: "teléfono".into(),
            columns: vec!["C".into(), "E".into()],
        };
        assert_eq!(check_mapping(&mapping, 5), Err(expected));
    }

    #[test]
    fn confirmed_duplicate_columns_are_accepted() {
        let mut mapping = guess_mapping(&headers(&["nombre", "teléfono", "teléfono"]));
        for m in &mut mapping[1..] {
            m.target = Some(Target::Phone);
            m.guessed = false;
        }
        assert_eq!(check_mapping(&mapping, 3), Ok(()));
    }

    #[test]
    fn a_mapping_without_any_field_is_refused() {
        let mapping = guess_mapping(&headers(&["foo", "bar"]));
        assert_eq!(
            check_mapping(&mapping, 2),
            Err(MappingError::NoUsableColumn)
        );
    }

    #[test]
    fn a_mapping_naming_a_missing_column_is_refused() {
        let mut mapping = guess_mapping(&headers(&["email"]));
        mapping[0].column = 3;
        assert_eq!(
            check_mapping(&mapping, 1),
            Err(MappingError::UnknownColumn { column: 3 })
        );
    }

    #[test]
    fn guess_mapping_names_columns_by_letter() {
        let mapping = guess_mapping(&headers(&["nombre", "email"]));
        assert_eq!(mapping[1].letter, "B");
        assert_eq!(mapping[1].target, Some(Target::Email));
        assert!(mapping[1].guessed);
    }
}
