//! Duplicates inside one file: rows sharing a normalised email or an E.164 phone are the same
//! customer, transitively. Same name alone is not enough (two people may share a name).
//!
//! The first non-empty value of each field wins, in row order; emails, phones, tags and
//! branches are combined without repeats.

use std::collections::hash_map::Entry;
use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::row::push_unique_folded;
use crate::domain::CustomerFields;

/// A customer the file will create, with the rows it came from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ImportedCustomer {
    /// Spreadsheet rows (or vCard positions) merged into this customer, first one first.
    pub rows: Vec<u32>,
    pub fields: CustomerFields,
    /// Branch names as written in the file; the store resolves them.
    pub branches: Vec<String>,
}

/// Rows merged into an earlier row of the same customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Merge {
    /// The first row of the customer, whose values win.
    pub into_row: u32,
    /// The later rows merged into it.
    pub rows: Vec<u32>,
}

impl ImportedCustomer {
    /// Takes in a later row of the same customer.
    fn absorb(&mut self, other: ImportedCustomer) {
        self.rows.extend(other.rows);
        absorb_fields(&mut self.fields, other.fields);
        for branch in &other.branches {
            push_unique_folded(&mut self.branches, branch);
        }
    }

    /// The merge record of this customer, if it came from more than one row.
    pub fn merge(&self) -> Option<Merge> {
        let (&into_row, rest) = self.rows.split_first()?;
        (!rest.is_empty()).then(|| Merge {
            into_row,
            rows: rest.to_vec(),
        })
    }
}

/// Merges each group of rows that share an email or phone into its first row, in place.
pub(crate) fn merge_duplicates(mut customers: Vec<ImportedCustomer>) -> Vec<ImportedCustomer> {
    let roots = group_roots(&customers);
    for (i, &root) in roots.iter().enumerate() {
        // A group's representative is its earliest row, so later rows merge in row order.
        if root != i {
            let duplicate = std::mem::take(&mut customers[i]);
            customers[root].absorb(duplicate);
        }
    }
    let mut position = 0;
    customers.retain(|_| {
        let keep = roots[position] == position;
        position += 1;
        keep
    });
    for customer in &mut customers {
        customer.fields.settle_primaries();
    }
    customers
}

/// For each candidate, the representative of its group of duplicates.
fn group_roots(candidates: &[ImportedCustomer]) -> Vec<usize> {
    let mut sets = DisjointSets::new(candidates.len());
    let mut first_with_key: HashMap<&str, usize> = HashMap::with_capacity(candidates.len() * 2);
    for (i, candidate) in candidates.iter().enumerate() {
        let fields = &candidate.fields;
        let emails = fields.emails.iter().map(|e| e.address.as_str());
        let phones = fields.phones.iter().map(|p| p.number.as_str());
        for key in emails.chain(phones) {
            match first_with_key.entry(key) {
                Entry::Occupied(first) => sets.union(*first.get(), i),
                Entry::Vacant(slot) => {
                    slot.insert(i);
                }
            }
        }
    }
    (0..candidates.len()).map(|i| sets.find(i)).collect()
}

/// First non-empty value per field; lists are combined without repeats.
fn absorb_fields(into: &mut CustomerFields, from: CustomerFields) {
    fill(&mut into.first_name, from.first_name);
    fill(&mut into.last_name, from.last_name);
    fill(&mut into.company, from.company);
    fill(&mut into.notes, from.notes);
    fill(&mut into.external_id, from.external_id);
    into.birthday = into.birthday.or(from.birthday);
    into.gender = into.gender.or(from.gender);
    if into.address.is_empty() {
        into.address = from.address;
    }
    for email in from.emails {
        if !into.emails.iter().any(|e| e.address == email.address) {
            into.emails.push(email);
        }
    }
    for phone in from.phones {
        if !into.phones.iter().any(|p| p.number == phone.number) {
            into.phones.push(phone);
        }
    }
    for tag in &from.tags {
        push_unique_folded(&mut into.tags, tag);
    }
}

fn fill(slot: &mut String, value: String) {
    if slot.is_empty() {
        *slot = value;
    }
}

/// Union-find over candidate positions.
struct DisjointSets {
    parent: Vec<usize>,
}

impl DisjointSets {
    fn new(len: usize) -> Self {
        Self {
            parent: (0..len).collect(),
        }
    }

    fn find(&mut self, mut i: usize) -> usize {
        while self.parent[i] != i {
            self.parent[i] = self.parent[self.parent[i]];
            i = self.parent[i];
        }
        i
    }

    fn union(&mut self, a: usize, b: usize) {
        let (a, b) = (self.find(a), self.find(b));
        // The earlier row stays the representative.
        let (low, high) = if a < b { (a, b) } else { (b, a) };
        self.parent[high] = low;
    }
}
