//! Times are stored as fixed-width UTC text so SQL can compare them as strings.

use chrono::{DateTime, SecondsFormat, Utc};

use crate::{Error, Result};

/// The stored form of `t`: `2027-01-14T09:30:00.000Z`.
pub(crate) fn to_db(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Reads a stored time.
pub(crate) fn from_db(s: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| Error::InvalidInput {
            field: "stored time",
            reason: "not an RFC 3339 time".into(),
        })
}
