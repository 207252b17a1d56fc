//! One row of a file becomes one candidate customer, or an error.
//!
//! The rules (DESIGN.md, "Import rules"): a customer needs a name and at least one valid
//! contact, else the row is refused; an invalid optional value is dropped with a warning.

use std::collections::HashMap;

use super::birthday::{order_evidence, parse_birthday, BirthdayProblem, DateOrder};
use super::cell::{is_system_label, read_label, split_emails, split_list};
use super::mapping::{ColumnMapping, Target};
use super::merge::ImportedCustomer;
use super::problem::{ColumnRef, Problem, ProblemCode, Severity};
use super::table::{SourceRow, SourceTable};
use crate::domain::contact::{
    normalize_email, normalize_phone, phone_values, split_google_values, PhoneProblem,
};
use crate::domain::{text, Address, Birthday, CustomerFields, Email, Gender, Phone};

const TARGET_COUNT: usize = Target::Branch as usize + 1;

/// The columns of every target, resolved once per analysis.
pub(crate) struct Plan {
    headers: Vec<String>,
    columns: [Vec<usize>; TARGET_COUNT],
    emails: Vec<ContactColumn>,
    phones: Vec<ContactColumn>,
}

/// An email or phone column, with the Google label column right before it.
struct ContactColumn {
    column: usize,
    label_column: Option<usize>,
    mobile: bool,
}

impl Plan {
    /// Resolves a checked mapping against the file's headers.
    pub(crate) fn new(mapping: &[ColumnMapping], headers: &[String]) -> Self {
        let mut columns: [Vec<usize>; TARGET_COUNT] = std::array::from_fn(|_| Vec::new());
        let mut target_of = vec![None; headers.len()];
        for m in mapping {
            if let Some(target) = m.target {
                columns[target as usize].push(m.column as usize);
                target_of[m.column as usize] = Some(target);
            }
        }
        let contact = |column: usize, label: Target, mobile: bool| {
            let label_column = column
                .checked_sub(1)
                .filter(|&c| target_of[c] == Some(label));
            ContactColumn {
                column,
                label_column,
                mobile,
            }
        };
        let emails = columns[Target::Email as usize]
            .iter()
            .map(|&c| contact(c, Target::EmailLabel, false))
            .collect();
        let phones = target_of
            .iter()
            .enumerate()
            .filter_map(|(c, t)| match t {
                Some(Target::Phone) => Some(contact(c, Target::PhoneLabel, false)),
                Some(Target::Mobile) => Some(contact(c, Target::PhoneLabel, true)),
                _ => None,
            })
            .collect();
        Self {
            headers: headers.to_vec(),
            columns,
            emails,
            phones,
        }
    }

    fn of(&self, target: Target) -> &[usize] {
        &self.columns[target as usize]
    }

    fn column_ref(&self, column: usize) -> ColumnRef {
        ColumnRef::new(column, self.headers.get(column).map_or("", String::as_str))
    }

    fn column_refs(&self, targets: &[Target]) -> Vec<ColumnRef> {
        let mut columns: Vec<usize> = targets.iter().flat_map(|t| self.of(*t)).copied().collect();
        columns.sort_unstable();
        columns.into_iter().map(|c| self.column_ref(c)).collect()
    }
}

/// Reads rows with one plan and one set of options, keeping what it learns along the way.
pub(crate) struct RowReader<'a> {
    plan: &'a Plan,
    default_region: &'a str,
    branch_regions: &'a HashMap<String, String>,
    date_order: DateOrder,
    this_year: u16,
    /// Whether a gender column uses the Spanish letters H/M (M is then "mujer").
    spanish_gender_letters: bool,
    region_of_branch: HashMap<&'a str, Option<&'a str>>,
    folds: Folds<'a>,
    /// How many birthdays could only be read day first, and month first.
    pub order_evidence: (u32, u32),
}

/// An email or phone value that was not usable.
struct Rejected<'a> {
    column: usize,
    value: &'a str,
    kind: RejectedKind,
}

enum RejectedKind {
    Email,
    Phone,
    PhoneScientific,
}

impl<'a> RowReader<'a> {
    /// A reader for `table`; `branch_regions` maps folded branch names to ISO countries.
    pub(crate) fn new(
        plan: &'a Plan,
        table: &SourceTable,
        default_region: &'a str,
        branch_regions: &'a HashMap<String, String>,
        date_order: DateOrder,
    ) -> Self {
        let this_year = u16::try_from(chrono::Datelike::year(&chrono::Utc::now())).unwrap_or(9999);
        let spanish_gender_letters = plan
            .of(Target::Gender)
            .iter()
            .any(|&c| table.rows().any(|r| r.cell(c).eq_ignore_ascii_case("h")));
        Self {
            plan,
            default_region,
            branch_regions,
            date_order,
            this_year,
            spanish_gender_letters,
            region_of_branch: HashMap::new(),
            folds: Folds::default(),
            order_evidence: (0, 0),
        }
    }

    /// Reads one row; its problems go to `problems`. `None` when the row is refused.
    pub(crate) fn read(
        &mut self,
        row: &SourceRow<'a>,
        problems: &mut Vec<Problem>,
    ) -> Option<ImportedCustomer> {
        let mut fields = CustomerFields::default();
        (fields.first_name, fields.last_name) = self.names(row);
        let mut rejected = Vec::new();
        fields.emails = self.emails(row, &mut rejected);
        let region = self.region(row);
        fields.phones = self.phones(row, region, &mut rejected);

        if !self.has_required(row.row, &fields, &rejected, problems) {
            return None;
        }

        self.optional_fields(row, &mut fields, problems);
        let branches = self.branches(row);
        Some(ImportedCustomer {
            rows: vec![row.row],
            fields,
            branches,
        })
    }

    /// Reports what keeps a row out: no name, no contact, or only invalid contacts. Invalid
    /// contacts of an imported row are reported as warnings.
    fn has_required(
        &self,
        row: u32,
        fields: &CustomerFields,
        rejected: &[Rejected<'a>],
        problems: &mut Vec<Problem>,
    ) -> bool {
        let has_name = !fields.first_name.is_empty() || !fields.last_name.is_empty();
        let has_contact = !fields.emails.is_empty() || !fields.phones.is_empty();
        if !has_name {
            let names = [
                Target::FirstName,
                Target::MiddleName,
                Target::LastName,
                Target::FullName,
            ];
            let columns = self.plan.column_refs(&names);
            problems.push(Problem::across(row, ProblemCode::MissingName, columns));
        }
        if !has_contact && rejected.is_empty() {
            let columns = self
                .plan
                .column_refs(&[Target::Email, Target::Phone, Target::Mobile]);
            problems.push(Problem::across(row, ProblemCode::MissingContact, columns));
        }
        for r in rejected {
            problems.push(self.rejected_problem(row, r, has_contact));
        }
        has_name && has_contact
    }

    fn optional_fields(
        &mut self,
        row: &SourceRow<'a>,
        fields: &mut CustomerFields,
        problems: &mut Vec<Problem>,
    ) {
        fields.birthday = self.birthday(row, problems);
        fields.gender = self.gender(row, problems);
        fields.address = Address {
            street: joined(row, self.plan.of(Target::Street), " "),
            city: joined(row, self.plan.of(Target::City), " "),
            postcode: joined(row, self.plan.of(Target::Postcode), " "),
            region: joined(row, self.plan.of(Target::Region), " "),
            country: joined(row, self.plan.of(Target::Country), " "),
        };
        fields.company = joined(row, self.plan.of(Target::Company), " ");
        fields.notes = joined(row, self.plan.of(Target::Notes), "\n");
        fields.external_id = joined(row, self.plan.of(Target::ExternalId), " ");
        fields.tags = self.tags(row);
    }

    /// First and last name; a full-name column is split at its first space when neither is
    /// given on its own.
    fn names(&self, row: &SourceRow<'a>) -> (String, String) {
        let mut first = joined(row, self.plan.of(Target::FirstName), " ");
        let middle = joined(row, self.plan.of(Target::MiddleName), " ");
        if !middle.is_empty() {
            if !first.is_empty() {
                first.push(' ');
            }
            first.push_str(&middle);
        }
        let last = joined(row, self.plan.of(Target::LastName), " ");
        if !first.is_empty() || !last.is_empty() {
            return (first, last);
        }
        let full = joined(row, self.plan.of(Target::FullName), " ");
        match full.split_once(' ') {
            Some((first, last)) => (first.to_owned(), text::trim(last).to_owned()),
            None => (full, String::new()),
        }
    }

    fn emails(&self, row: &SourceRow<'a>, rejected: &mut Vec<Rejected<'a>>) -> Vec<Email> {
        let mut emails: Vec<Email> = Vec::new();
        for contact in &self.plan.emails {
            let labels = contact.label_column.map_or("", |c| row.cell(c));
            for (i, value) in split_emails(row.cell(contact.column)).enumerate() {
                let Ok(address) = normalize_email(value) else {
                    rejected.push(Rejected {
                        column: contact.column,
                        value,
                        kind: RejectedKind::Email,
                    });
                    continue;
                };
                if emails.iter().any(|e| e.address == address) {
                    continue;
                }
                let (label, primary) = label_at(labels, i);
                emails.push(Email {
                    address,
                    label: label.map(String::from),
                    primary,
                });
            }
        }
        emails
    }

    fn phones(
        &self,
        row: &SourceRow<'a>,
        region: &str,
        rejected: &mut Vec<Rejected<'a>>,
    ) -> Vec<Phone> {
        let mut phones: Vec<Phone> = Vec::new();
        for contact in &self.plan.phones {
            let labels = contact.label_column.map_or("", |c| row.cell(c));
            for (i, value) in phone_values(row.cell(contact.column)).enumerate() {
                let number = match normalize_phone(value, region) {
                    Ok(number) => number,
                    Err(problem) => {
                        let kind = match problem {
                            PhoneProblem::ScientificNotation => RejectedKind::PhoneScientific,
                            _ => RejectedKind::Phone,
                        };
                        rejected.push(Rejected {
                            column: contact.column,
                            value,
                            kind,
                        });
                        continue;
                    }
                };
                if phones.iter().any(|p| p.number == number) {
                    continue;
                }
                let (label, primary) = label_at(labels, i);
                let label = label
                    .or(contact.mobile.then_some("mobile"))
                    .map(String::from);
                phones.push(Phone {
                    number,
                    label,
                    primary,
                });
            }
        }
        phones
    }

    fn rejected_problem(&self, row: u32, rejected: &Rejected<'a>, has_contact: bool) -> Problem {
        let severity = if has_contact {
            Severity::Warning
        } else {
            Severity::Error
        };
        let code = match (&rejected.kind, has_contact) {
            (RejectedKind::Email, true) => ProblemCode::InvalidEmail,
            (RejectedKind::Email, false) => ProblemCode::InvalidEmailNoOtherContact,
            (RejectedKind::Phone, true) => ProblemCode::InvalidPhone,
            (RejectedKind::Phone, false) => ProblemCode::InvalidPhoneNoOtherContact,
            (RejectedKind::PhoneScientific, _) => ProblemCode::PhoneScientificNotation,
        };
        Problem::in_column(
            row,
            severity,
            code,
            self.plan.column_ref(rejected.column),
            rejected.value,
        )
    }

    /// The region to read national phone numbers in: the country of the row's first known
    /// branch, else the default region.
    fn region(&mut self, row: &SourceRow<'a>) -> &'a str {
        for &column in self.plan.of(Target::Branch) {
            for name in split_list(row.cell(column)) {
                let regions = self.branch_regions;
                let region = *self
                    .region_of_branch
                    .entry(name)
                    .or_insert_with(|| regions.get(&text::fold(name)).map(String::as_str));
                if let Some(region) = region {
                    return region;
                }
            }
        }
        self.default_region
    }

    fn birthday(&mut self, row: &SourceRow<'a>, problems: &mut Vec<Problem>) -> Option<Birthday> {
        let (column, value) = first_filled(row, self.plan.of(Target::Birthday))?;
        match order_evidence(value) {
            Some(DateOrder::DayMonth) => self.order_evidence.0 += 1,
            Some(DateOrder::MonthDay) => self.order_evidence.1 += 1,
            None => {}
        }
        let code = match parse_birthday(value, self.date_order, self.this_year) {
            Ok(birthday) => return birthday,
            Err(BirthdayProblem::Invalid) => ProblemCode::InvalidDate,
            Err(BirthdayProblem::TwoDigitYear) => ProblemCode::TwoDigitYear,
        };
        let column = self.plan.column_ref(column);
        problems.push(Problem::in_column(
            row.row,
            Severity::Warning,
            code,
            column,
            value,
        ));
        None
    }

    fn gender(&self, row: &SourceRow<'a>, problems: &mut Vec<Problem>) -> Option<Gender> {
        let (column, value) = first_filled(row, self.plan.of(Target::Gender))?;
        let gender = parse_gender(&text::fold(value), self.spanish_gender_letters);
        if gender.is_none() {
            let column = self.plan.column_ref(column);
            let code = ProblemCode::InvalidGender;
            problems.push(Problem::in_column(
                row.row,
                Severity::Warning,
                code,
                column,
                value,
            ));
        }
        gender
    }

    fn tags(&mut self, row: &SourceRow<'a>) -> Vec<String> {
        let cells = self.plan.of(Target::Tags).iter().map(|&c| row.cell(c));
        let tags = cells.flat_map(split_list).filter(|t| !is_system_label(t));
        self.folds.unique(tags)
    }

    fn branches(&mut self, row: &SourceRow<'a>) -> Vec<String> {
        let cells = self.plan.of(Target::Branch).iter().map(|&c| row.cell(c));
        self.folds.unique(cells.flat_map(split_list))
    }
}

/// The folded forms of the short names that repeat down a file (tags, branches), each folded
/// once per analysis rather than once per row.
#[derive(Default)]
struct Folds<'a> {
    id_of_name: HashMap<&'a str, u32>,
    id_of_fold: HashMap<String, u32>,
}

impl<'a> Folds<'a> {
    /// The same id for every spelling that folds to the same text.
    fn id(&mut self, name: &'a str) -> u32 {
        if let Some(&id) = self.id_of_name.get(name) {
            return id;
        }
        let next = u32::try_from(self.id_of_fold.len()).unwrap_or(u32::MAX);
        let id = *self.id_of_fold.entry(text::fold(name)).or_insert(next);
        self.id_of_name.insert(name, id);
        id
    }

    /// `names` without repeats (ignoring case and accents), first spelling kept.
    fn unique(&mut self, names: impl Iterator<Item = &'a str>) -> Vec<String> {
        let mut kept: Vec<String> = Vec::new();
        for name in names {
            let id = self.id(name);
            if !kept
                .iter()
                .any(|k| self.id_of_name.get(k.as_str()) == Some(&id))
            {
                kept.push(name.to_owned());
            }
        }
        kept
    }
}

/// The label of the `i`th value of a cell: labels may be joined with ` ::: ` like the values;
/// a single label applies to every value, its `*` primary mark only to the first.
fn label_at(labels: &str, i: usize) -> (Option<&str>, bool) {
    let mut all = split_google_values(labels);
    match split_google_values(labels).nth(i) {
        Some(label) => read_label(label),
        None => (read_label(all.next().unwrap_or_default()).0, false),
    }
}

/// The non-empty cells of `columns` joined with `separator`.
fn joined(row: &SourceRow<'_>, columns: &[usize], separator: &str) -> String {
    if let [column] = columns {
        return row.cell(*column).to_owned();
    }
    let mut out = String::new();
    for value in columns
        .iter()
        .map(|&c| row.cell(c))
        .filter(|v| !v.is_empty())
    {
        if !out.is_empty() {
            out.push_str(separator);
        }
        out.push_str(value);
    }
    out
}

fn first_filled<'a>(row: &SourceRow<'a>, columns: &[usize]) -> Option<(usize, &'a str)> {
    columns
        .iter()
        .map(|&c| (c, row.cell(c)))
        .find(|(_, v)| !v.is_empty())
}

/// Adds `value` unless an equal one (ignoring case and accents) is already there.
pub(crate) fn push_unique_folded(values: &mut Vec<String>, value: &str) {
    if values.iter().any(|v| v == value) {
        return;
    }
    let folded = text::fold(value);
    if !values.iter().any(|v| text::fold(v) == folded) {
        values.push(value.to_owned());
    }
}

/// Reads a folded gender value in Spanish, English or German.
fn parse_gender(folded: &str, spanish_letters: bool) -> Option<Gender> {
    match folded {
        "f" | "female" | "woman" | "mujer" | "femenino" | "femenina" | "w" | "weiblich"
        | "frau" => Some(Gender::Female),
        "male" | "man" | "hombre" | "masculino" | "h" | "mannlich" | "mann" => Some(Gender::Male),
        "m" if spanish_letters => Some(Gender::Female),
        "m" => Some(Gender::Male),
        "other" | "otro" | "otra" | "x" | "d" | "divers" | "diverso" | "no binario" | "nb"
        | "non-binary" | "nonbinary" => Some(Gender::Other),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case::english_female("F", false, Some(Gender::Female))]
    #[case::english_male("M", false, Some(Gender::Male))]
    #[case::spanish_m_is_mujer("M", true, Some(Gender::Female))]
    #[case::spanish_h("H", true, Some(Gender::Male))]
    #[case::german_weiblich("weiblich", false, Some(Gender::Female))]
    #[case::german_mannlich("männlich", false, Some(Gender::Male))]
    #[case::german_divers("d", false, Some(Gender::Other))]
    #[case::spanish_word("Mujer", false, Some(Gender::Female))]
    #[case::unknown("sí", false, None)]
    fn parse_gender_reads_three_languages(
        #[case] value: &str,
        #[case] spanish: bool,
        #[case] expected: Option<Gender>,
    ) {
        assert_eq!(parse_gender(&text::fold(value), spanish), expected);
    }

    #[rstest]
    #[case::primary_single("* Home", 0, (Some("Home"), true))]
    #[case::single_label_for_second_value("* Home", 1, (Some("Home"), false))]
    #[case::joined_labels("Work ::: * Home", 1, (Some("Home"), true))]
    #[case::no_label("", 0, (None, false))]
    fn label_at_pairs_labels_with_values(
        #[case] labels: &str,
        #[case] i: usize,
        #[case] expected: (Option<&str>, bool),
    ) {
        assert_eq!(label_at(labels, i), expected);
    }

    #[test]
    fn push_unique_folded_ignores_case_and_accents() {
        let mut tags = vec!["Coloración".to_owned()];
        push_unique_folded(&mut tags, "coloracion");
        push_unique_folded(&mut tags, "VIP");
        assert_eq!(tags, ["Coloración", "VIP"]);
    }
}
