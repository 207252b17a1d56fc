//! Birthdays as spreadsheets and contact exports write them.
//!
//! Accepted: `dd/mm/yyyy` and `d/m/yyyy` (or month first, as the user chooses), `dd.mm.yyyy`,
//! `dd-mm-yyyy`, ISO `yyyy-mm-dd`, a yearless `--mm-dd` and `dd/mm`. Outlook's empty date
//! `0/0/00` means no birthday. A two-digit year is refused rather than guessed.

use serde::{Deserialize, Serialize};

use crate::domain::Birthday;

/// The order of day and month in dates such as `03/04/1990`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub enum DateOrder {
    /// `dd/mm/yyyy`, as in Spain and Germany.
    #[default]
    DayMonth,
    /// `mm/dd/yyyy`, as in the United States.
    MonthDay,
}

/// Why a birthday cell was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BirthdayProblem {
    Invalid,
    TwoDigitYear,
}

/// Reads a birthday cell; `Ok(None)` when the cell says there is none.
pub(crate) fn parse_birthday(
    cell: &str,
    order: DateOrder,
    this_year: u16,
) -> Result<Option<Birthday>, BirthdayProblem> {
    // "1985-03-07 00:00:00" or "1985-03-07T00:00": the time of a birthday means nothing.
    let date = cell.split(' ').next().unwrap_or_default();
    let date = match date.split_once('T') {
        Some((day, _)) if day.len() == 10 && day.as_bytes()[4] == b'-' => day,
        _ => date,
    };
    if date.is_empty() {
        return Ok(None);
    }
    if let Some(yearless) = date.strip_prefix("--") {
        return parse_yearless_iso(yearless).map(Some);
    }
    let parts = Parts::split(date).ok_or(BirthdayProblem::Invalid)?;
    if parts.all_zero() {
        return Ok(None);
    }
    let (day, month, year) = parts.day_month_year(order)?;
    let birthday = match year {
        Some(year) if !(1900..=this_year).contains(&year) => None,
        _ => Birthday::new(year, month, day),
    };
    birthday.map(Some).ok_or(BirthdayProblem::Invalid)
}

/// Which order a date can only be read in: `25/12/1985` is day first, `12/25/1985` month first.
pub(crate) fn order_evidence(cell: &str) -> Option<DateOrder> {
    let parts = Parts::split(cell.split(' ').next()?)?;
    if parts.first.len() > 2 {
        return None;
    }
    let (a, b) = (
        parts.first.parse::<u8>().ok()?,
        parts.second.parse::<u8>().ok()?,
    );
    match (a > 12, b > 12) {
        (true, false) => Some(DateOrder::DayMonth),
        (false, true) => Some(DateOrder::MonthDay),
        _ => None,
    }
}

/// `05-14` or `0514` after vCard's and Google's `--`.
fn parse_yearless_iso(s: &str) -> Result<Birthday, BirthdayProblem> {
    let (month, day) = match s.split_once('-') {
        Some(parts) => parts,
        // `--0514`: two digits of month, then the day. Anything else is not a date.
        None if s.len() >= 2 && s.is_char_boundary(2) => s.split_at(2),
        None => return Err(BirthdayProblem::Invalid),
    };
    let month = number(month)?;
    let day = number(day)?;
    Birthday::new(None, month, day).ok_or(BirthdayProblem::Invalid)
}

/// The two or three numbers of a date written with `/`, `.` or `-`.
struct Parts<'a> {
    first: &'a str,
    second: &'a str,
    third: Option<&'a str>,
}

impl<'a> Parts<'a> {
    fn split(date: &'a str) -> Option<Self> {
        let mut parts = date.split(['/', '.', '-']);
        let first = parts.next()?;
        let second = parts.next()?;
        let third = parts.next();
        let all_digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
        let digits_only = all_digits(first) && all_digits(second) && third.is_none_or(all_digits);
        (digits_only && parts.next().is_none()).then_some(Self {
            first,
            second,
            third,
        })
    }

    fn all_zero(&self) -> bool {
        [Some(self.first), Some(self.second), self.third]
            .into_iter()
            .flatten()
            .all(|p| p.bytes().all(|b| b == b'0'))
    }

    fn day_month_year(&self, order: DateOrder) -> Result<(u8, u8, Option<u16>), BirthdayProblem> {
        if let (4, Some(day)) = (self.first.len(), self.third) {
            return Ok((number(day)?, number(self.second)?, Some(year(self.first)?)));
        }
        let (day, month) = match order {
            DateOrder::DayMonth => (self.first, self.second),
            DateOrder::MonthDay => (self.second, self.first),
        };
        let year = match self.third {
            None => None,
            Some(y) if y.len() == 4 => Some(year(y)?),
            Some(y) if y.len() <= 2 => return Err(BirthdayProblem::TwoDigitYear),
            Some(_) => return Err(BirthdayProblem::Invalid),
        };
        Ok((number(day)?, number(month)?, year))
    }
}

fn number(s: &str) -> Result<u8, BirthdayProblem> {
    s.parse().map_err(|_| BirthdayProblem::Invalid)
}

fn year(s: &str) -> Result<u16, BirthdayProblem> {
    s.parse().map_err(|_| BirthdayProblem::Invalid)
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[test]
    fn a_word_in_the_birthday_column_is_invalid_not_empty() {
        assert!(parse_birthday("Tuesday", DateOrder::DayMonth, 2026).is_err());
        let with_time = parse_birthday("1985-03-07T00:00", DateOrder::DayMonth, 2026);
        assert_eq!(with_time.unwrap().unwrap().to_iso(), "1985-03-07");
    }

    #[test]
    fn yearless_birthday_with_non_ascii_text_is_invalid_not_a_crash() {
        for cell in ["--1º", "--5ª", "--1é", "--€1"] {
            assert!(
                parse_birthday(cell, DateOrder::DayMonth, 2026).is_err(),
                "{cell}"
            );
        }
    }

    const THIS_YEAR: u16 = 2026;

    fn iso(cell: &str, order: DateOrder) -> Result<Option<String>, BirthdayProblem> {
        parse_birthday(cell, order, THIS_YEAR).map(|b| b.map(|b| b.to_iso()))
    }

    #[rstest]
    #[case::day_first("03/04/1990", "1990-04-03")]
    #[case::christmas("25/12/1985", "1985-12-25")]
    #[case::iso("1990-04-03", "1990-04-03")]
    #[case::german_dots("15.07.1978", "1978-07-15")]
    #[case::single_digits("5/9/1995", "1995-09-05")]
    #[case::dashes("07-03-1985", "1985-03-07")]
    #[case::leap_day("1988-02-29", "1988-02-29")]
    #[case::with_time("1985-03-07 00:00:00", "1985-03-07")]
    #[case::yearless_google("--05-14", "--05-14")]
    #[case::yearless_compact("--0514", "--05-14")]
    #[case::yearless_day_month("14/05", "--05-14")]
    fn parse_birthday_reads_day_first_dates(#[case] cell: &str, #[case] expected: &str) {
        assert_eq!(
            iso(cell, DateOrder::DayMonth),
            Ok(Some(expected.to_owned()))
        );
    }

    #[rstest]
    #[case::empty("")]
    #[case::outlook_empty_date("0/0/00")]
    #[case::zero_iso("0000-00-00")]
    fn parse_birthday_treats_empty_dates_as_no_birthday(#[case] cell: &str) {
        assert_eq!(iso(cell, DateOrder::DayMonth), Ok(None));
    }

    #[rstest]
    #[case::us_order_outlier("12/25/1985", BirthdayProblem::Invalid)]
    #[case::not_a_leap_year("29/02/1991", BirthdayProblem::Invalid)]
    #[case::april_has_30_days("31/04/1980", BirthdayProblem::Invalid)]
    #[case::two_digit_year("7/3/85", BirthdayProblem::TwoDigitYear)]
    #[case::future("01/01/2999", BirthdayProblem::Invalid)]
    #[case::words("mañana", BirthdayProblem::Invalid)]
    #[case::four_parts("1/2/3/4", BirthdayProblem::Invalid)]
    fn parse_birthday_refuses_dates_it_cannot_trust(
        #[case] cell: &str,
        #[case] problem: BirthdayProblem,
    ) {
        assert_eq!(iso(cell, DateOrder::DayMonth), Err(problem));
    }

    #[test]
    fn month_first_order_reads_us_dates() {
        assert_eq!(
            iso("12/25/1985", DateOrder::MonthDay),
            Ok(Some("1985-12-25".into()))
        );
        assert_eq!(
            iso("1990-04-03", DateOrder::MonthDay),
            Ok(Some("1990-04-03".into()))
        );
    }

    #[rstest]
    #[case("25/12/1985", Some(DateOrder::DayMonth))]
    #[case("12/25/1985", Some(DateOrder::MonthDay))]
    #[case("03/04/1990", None)]
    #[case("1990-04-03", None)]
    fn order_evidence_names_the_only_possible_order(
        #[case] cell: &str,
        #[case] expected: Option<DateOrder>,
    ) {
        assert_eq!(order_evidence(cell), expected);
    }
}
