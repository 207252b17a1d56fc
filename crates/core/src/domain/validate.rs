//! Checks what a person typed into the customer form, field by field, and returns the
//! record in its stored form (DESIGN.md, rule 1 and the import rules).

use serde::{Deserialize, Serialize};

use super::contact::{normalize_email, normalize_phone};
use super::customer::CustomerFields;
use super::text::trim;

/// Why a field of the form is not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub enum FieldProblemCode {
    /// Neither first nor last name is filled in.
    MissingName,
    /// No email and no phone.
    MissingContact,
    InvalidEmail,
    InvalidPhone,
    /// The same email or phone twice.
    Duplicate,
}

/// One problem, on the field named by its path in the form (`firstName`, `emails.1`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct FieldProblem {
    pub field: String,
    pub code: FieldProblemCode,
}

impl FieldProblem {
    fn new(field: impl Into<String>, code: FieldProblemCode) -> Self {
        Self {
            field: field.into(),
            code,
        }
    }
}

/// Normalises `draft` (trims text, lower-cases emails, writes phones in E.164 read in
/// `region` when they lack a country code) and checks the rules a customer must meet.
///
/// Empty email and phone rows are dropped; every problem is reported, not only the first.
pub fn normalize_customer(
    draft: &CustomerFields,
    region: &str,
) -> Result<CustomerFields, Vec<FieldProblem>> {
    let mut problems = Vec::new();
    let mut out = CustomerFields {
        first_name: trim(&draft.first_name).to_owned(),
        last_name: trim(&draft.last_name).to_owned(),
        emails: Vec::new(),
        phones: Vec::new(),
        birthday: draft.birthday,
        gender: draft.gender,
        address: draft.address.clone(),
        company: trim(&draft.company).to_owned(),
        notes: draft.notes.trim_end().to_owned(),
        external_id: trim(&draft.external_id).to_owned(),
        tags: Vec::new(),
    };
    for part in [
        &mut out.address.street,
        &mut out.address.city,
        &mut out.address.postcode,
        &mut out.address.region,
        &mut out.address.country,
    ] {
        *part = trim(part).to_owned();
    }

    for (i, email) in draft.emails.iter().enumerate() {
        if trim(&email.address).is_empty() {
            continue;
        }
        match normalize_email(&email.address) {
            Ok(address) if out.emails.iter().any(|e| e.address == address) => problems.push(
                FieldProblem::new(format!("emails.{i}"), FieldProblemCode::Duplicate),
            ),
            Ok(address) => out.emails.push(super::Email {
                address,
                ..email.clone()
            }),
            Err(_) => problems.push(FieldProblem::new(
                format!("emails.{i}"),
                FieldProblemCode::InvalidEmail,
            )),
        }
    }
    for (i, phone) in draft.phones.iter().enumerate() {
        if trim(&phone.number).is_empty() {
            continue;
        }
        match normalize_phone(&phone.number, region) {
            Ok(number) if out.phones.iter().any(|p| p.number == number) => problems.push(
                FieldProblem::new(format!("phones.{i}"), FieldProblemCode::Duplicate),
            ),
            Ok(number) => out.phones.push(super::Phone {
                number,
                ..phone.clone()
            }),
            Err(_) => problems.push(FieldProblem::new(
                format!("phones.{i}"),
                FieldProblemCode::InvalidPhone,
            )),
        }
    }
    for tag in &draft.tags {
        let tag = trim(tag);
        if !tag.is_empty()
            && !out
                .tags
                .iter()
                .any(|t| super::text::fold(t) == super::text::fold(tag))
        {
            out.tags.push(tag.to_owned());
        }
    }

    if out.first_name.is_empty() && out.last_name.is_empty() {
        problems.push(FieldProblem::new(
            "firstName",
            FieldProblemCode::MissingName,
        ));
    }
    let has_contact_problem = problems.iter().any(|p| p.field != "firstName");
    if out.emails.is_empty() && out.phones.is_empty() && !has_contact_problem {
        problems.push(FieldProblem::new(
            "emails.0",
            FieldProblemCode::MissingContact,
        ));
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    out.settle_primaries();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Email, Phone};

    fn draft(first: &str, email: &str, phone: &str) -> CustomerFields {
        CustomerFields {
            first_name: first.into(),
            emails: vec![Email {
                address: email.into(),
                label: None,
                primary: false,
            }],
            phones: vec![Phone {
                number: phone.into(),
                label: None,
                primary: false,
            }],
            ..Default::default()
        }
    }

    fn codes(result: Result<CustomerFields, Vec<FieldProblem>>) -> Vec<(String, FieldProblemCode)> {
        result
            .unwrap_err()
            .into_iter()
            .map(|p| (p.field, p.code))
            .collect()
    }

    #[test]
    fn form_values_come_back_normalised_with_one_primary_each() {
        let out = normalize_customer(
            &draft("  Ana ", " Ana@Example.COM\u{a0}", "600 00 03 11"),
            "ES",
        )
        .unwrap();
        assert_eq!(out.first_name, "Ana");
        assert_eq!(out.emails[0].address, "ana@example.com");
        assert!(out.emails[0].primary);
        assert_eq!(out.phones[0].number, "+34600000311");
        assert!(out.phones[0].primary);
    }

    #[test]
    fn customer_needs_a_name() {
        let problems = codes(normalize_customer(&draft(" ", "a@example.com", ""), "ES"));
        assert_eq!(
            problems,
            vec![("firstName".into(), FieldProblemCode::MissingName)]
        );
    }

    #[test]
    fn customer_needs_a_contact() {
        let problems = codes(normalize_customer(&draft("Ana", "", ""), "ES"));
        assert_eq!(
            problems,
            vec![("emails.0".into(), FieldProblemCode::MissingContact)]
        );
    }

    #[test]
    fn every_bad_field_is_reported_at_once() {
        let problems = codes(normalize_customer(
            &draft("", "ana@@example.com", "60000"),
            "ES",
        ));
        assert_eq!(
            problems,
            vec![
                ("emails.0".into(), FieldProblemCode::InvalidEmail),
                ("phones.0".into(), FieldProblemCode::InvalidPhone),
                ("firstName".into(), FieldProblemCode::MissingName),
            ]
        );
    }

    #[test]
    fn the_same_phone_twice_is_refused() {
        let mut d = draft("Ana", "", "600000311");
        d.phones.push(Phone {
            number: "+34 600 00 03 11".into(),
            label: None,
            primary: false,
        });
        let problems = codes(normalize_customer(&d, "ES"));
        assert_eq!(
            problems,
            vec![("phones.1".into(), FieldProblemCode::Duplicate)]
        );
    }
}
