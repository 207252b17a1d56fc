//! The customer record and the values it is made of (DESIGN.md, rule 1).

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::ids::{BranchId, CustomerId};

/// One email address of a customer, stored trimmed and lower-cased.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Email {
    pub address: String,
    pub label: Option<String>,
    pub primary: bool,
}

/// One phone number of a customer, stored in E.164 form (`+34600000101`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Phone {
    pub number: String,
    pub label: Option<String>,
    pub primary: bool,
}

/// A birthday, with or without the year.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct Birthday {
    pub year: Option<u16>,
    pub month: u8,
    pub day: u8,
}

impl Birthday {
    /// A birthday from its parts, if such a day exists (29 February needs a leap year, or
    /// no year at all).
    pub fn new(year: Option<u16>, month: u8, day: u8) -> Option<Self> {
        let check_year = year.map(i32::from).unwrap_or(2000);
        NaiveDate::from_ymd_opt(check_year, month.into(), day.into())?;
        Some(Self { year, month, day })
    }

    /// Parses the stored form: `1988-02-29`, or `--05-14` without a year.
    pub fn parse_iso(s: &str) -> Option<Self> {
        if let Some(rest) = s.strip_prefix("--") {
            let (m, d) = rest.split_once('-')?;
            return Self::new(None, m.parse().ok()?, d.parse().ok()?);
        }
        let date = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
        use chrono::Datelike;
        Self::new(
            Some(u16::try_from(date.year()).ok()?),
            date.month() as u8,
            date.day() as u8,
        )
    }

    /// The stored form, `yyyy-mm-dd` or `--mm-dd`.
    pub fn to_iso(&self) -> String {
        match self.year {
            Some(y) => format!("{y:04}-{:02}-{:02}", self.month, self.day),
            None => format!("--{:02}-{:02}", self.month, self.day),
        }
    }
}

/// Gender as the customer states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub enum Gender {
    Female,
    Male,
    Other,
}

impl Gender {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Gender::Female => "female",
            Gender::Male => "male",
            Gender::Other => "other",
        }
    }

    /// Reads the stored form.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "female" => Some(Gender::Female),
            "male" => Some(Gender::Male),
            "other" => Some(Gender::Other),
            _ => None,
        }
    }
}

/// A postal address; every part is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    pub street: String,
    pub city: String,
    pub postcode: String,
    pub region: String,
    pub country: String,
}

impl Address {
    /// True when no part is filled in.
    pub fn is_empty(&self) -> bool {
        [
            &self.street,
            &self.city,
            &self.postcode,
            &self.region,
            &self.country,
        ]
        .iter()
        .all(|s| s.is_empty())
    }
}

/// Which branches a global customer belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(tag = "kind", content = "branches", rename_all = "camelCase")]
pub enum Assignment {
    /// Every branch, including branches created later.
    AllBranches,
    /// Only these branches.
    Branches(Vec<BranchId>),
}

/// Where a customer was created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(tag = "kind", content = "branch", rename_all = "camelCase")]
pub enum Origin {
    /// Created by head office (or the import API); shared with the assigned branches.
    Global,
    /// Created inside one branch; belongs to that branch only.
    Local(BranchId),
}

/// What a person types into the add/edit form, or what one import row becomes.
///
/// Values are already normalised: emails trimmed and lower-cased, phones in E.164.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct CustomerFields {
    pub first_name: String,
    pub last_name: String,
    pub emails: Vec<Email>,
    pub phones: Vec<Phone>,
    pub birthday: Option<Birthday>,
    pub gender: Option<Gender>,
    pub address: Address,
    pub company: String,
    pub notes: String,
    pub external_id: String,
    pub tags: Vec<String>,
}

impl CustomerFields {
    /// The primary email, or the first one.
    pub fn primary_email(&self) -> Option<&Email> {
        self.emails
            .iter()
            .find(|e| e.primary)
            .or(self.emails.first())
    }

    /// The primary phone, or the first one.
    pub fn primary_phone(&self) -> Option<&Phone> {
        self.phones
            .iter()
            .find(|p| p.primary)
            .or(self.phones.first())
    }

    /// Marks exactly one email and one phone as primary: the first marked one, else the first.
    pub fn settle_primaries(&mut self) {
        let first_email = self.emails.iter().position(|e| e.primary).unwrap_or(0);
        for (i, e) in self.emails.iter_mut().enumerate() {
            e.primary = i == first_email;
        }
        let first_phone = self.phones.iter().position(|p| p.primary).unwrap_or(0);
        for (i, p) in self.phones.iter_mut().enumerate() {
            p.primary = i == first_phone;
        }
    }
}

/// A stored customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Customer {
    pub id: CustomerId,
    pub origin: Origin,
    pub assignment: Assignment,
    #[serde(flatten)]
    pub fields: CustomerFields,
    pub bookings: u32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}
