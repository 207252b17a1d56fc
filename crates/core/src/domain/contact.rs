//! Email and phone normalisation, shared by the customer form and the importer.
//!
//! Emails are trimmed of every Unicode white space and lower-cased; phones become E.164
//! (`+34600000101`). Phones are checked against libphonenumber's metadata (the `phonenumber`
//! crate). That parser costs about 6 µs a number, so the common Spanish and German forms take a
//! fast path whose ranges are a subset of the same metadata; a test keeps the two in agreement.

use std::borrow::Cow;

use phonenumber::country;
use phonenumber::Mode;

use super::text;

/// Why a text is not a usable email address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EmailProblem {
    #[error("the email address is empty")]
    Empty,
    #[error("an email address needs exactly one @")]
    NotOneAt,
    #[error("an email address cannot contain white space")]
    InnerWhitespace,
    #[error("the part before the @ is empty or malformed")]
    BadLocalPart,
    #[error("the part after the @ is not a domain name")]
    BadDomain,
}

/// Why a text is not a usable phone number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PhoneProblem {
    #[error("the phone number is empty")]
    Empty,
    #[error("the number is in scientific notation: the spreadsheet has lost its last digits")]
    ScientificNotation,
    #[error("the phone number has too few digits")]
    TooShort,
    #[error("the text is not a valid phone number")]
    Invalid,
    #[error("the default region is not an ISO country code")]
    UnknownRegion,
}

/// Trims, lower-cases and checks an email address: `" Ana.Ruiz@Example.COM\u{a0}"` gives
/// `ana.ruiz@example.com`.
pub fn normalize_email(raw: &str) -> Result<String, EmailProblem> {
    let address = raw.trim_matches(is_email_padding);
    if address.is_empty() {
        return Err(EmailProblem::Empty);
    }
    if address
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || is_invisible(c))
    {
        return Err(EmailProblem::InnerWhitespace);
    }
    let (local, domain) = address.split_once('@').ok_or(EmailProblem::NotOneAt)?;
    if domain.contains('@') {
        return Err(EmailProblem::NotOneAt);
    }
    check_local_part(local)?;
    check_domain(domain)?;
    Ok(address.to_lowercase())
}

/// Format characters that show as nothing: inside an address they make two addresses look
/// the same.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00ad}'
            | '\u{061c}'
            | '\u{180e}'
            | '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206f}'
            | '\u{feff}'
    )
}

/// White space and invisible characters that spreadsheets leave around an address.
fn is_email_padding(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '\u{feff}' | '\u{200b}' | '\u{200c}' | '\u{200d}' | '\u{2060}'
        )
}

fn check_local_part(local: &str) -> Result<(), EmailProblem> {
    let forbidden =
        |c: char| matches!(c, '"' | '(' | ')' | ',' | ':' | ';' | '<' | '>' | '[' | ']');
    let malformed = local.is_empty()
        || local.starts_with('.')
        || local.ends_with('.')
        || local.contains("..")
        || local.contains(forbidden)
        || local.contains('\\');
    if malformed {
        return Err(EmailProblem::BadLocalPart);
    }
    Ok(())
}

fn check_domain(domain: &str) -> Result<(), EmailProblem> {
    let labels: Vec<&str> = domain.split('.').collect();
    let label_ok = |label: &&str| {
        !label.is_empty()
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_alphanumeric() || c == '-')
    };
    let tld_ok = labels.last().is_some_and(|tld| {
        tld.chars().count() >= 2
            && (tld.chars().all(char::is_alphabetic) || tld.starts_with("xn--"))
    });
    if labels.len() < 2 || !labels.iter().all(label_ok) || !tld_ok {
        return Err(EmailProblem::BadDomain);
    }
    Ok(())
}

/// Reads a phone number as written by a person or a spreadsheet and returns it in E.164.
///
/// A number without a country code is read in `default_region` (an ISO code such as `"ES"`).
pub fn normalize_phone(raw: &str, default_region: &str) -> Result<String, PhoneProblem> {
    let raw = text::trim(raw);
    if raw.is_empty() {
        return Err(PhoneProblem::Empty);
    }
    if is_scientific_notation(raw) {
        return Err(PhoneProblem::ScientificNotation);
    }
    // Letters are no part of a number: `600 000 1O1` is a typo, not a keypad word.
    if raw.chars().any(|c| c.is_alphabetic()) {
        return Err(PhoneProblem::Invalid);
    }
    let region: country::Id = default_region
        .to_ascii_uppercase()
        .parse()
        .map_err(|_| PhoneProblem::UnknownRegion)?;
    let Some(dialled) = Dialled::read(raw) else {
        return parse_with_metadata(raw, region);
    };
    if dialled.digits.len() < 6 {
        return Err(PhoneProblem::TooShort);
    }
    match fast_e164(&dialled, region) {
        Some(e164) => Ok(e164),
        None => parse_with_metadata(&dialled.to_string(), region),
    }
}

/// True when `code` is a country whose phone numbers the app knows (ISO 3166 alpha-2, e.g.
/// `ES`); a branch's country and the default region must be one.
pub fn is_known_region(code: &str) -> bool {
    code.len() == 2 && code.to_ascii_uppercase().parse::<country::Id>().is_ok()
}

/// Splits a cell holding several numbers: `600 000 319 / 910 000 320`, Google's ` ::: `, `;`,
/// `|` or one number a line. A slash splits only when each side is a whole number, so the
/// German `030/12345678` stays one number.
pub fn split_phones(cell: &str) -> Vec<&str> {
    phone_values(cell).collect()
}

/// The numbers of a cell, as [`split_phones`] finds them, without collecting them.
pub(crate) fn phone_values(cell: &str) -> impl Iterator<Item = &str> {
    split_google_values(cell)
        .flat_map(|p| p.split([';', '|', '\n']))
        .map(text::trim)
        .filter(|piece| !piece.is_empty())
        .flat_map(|piece| {
            let slash_separates_numbers = piece.contains('/')
                && piece
                    .split('/')
                    .all(|p| p.bytes().filter(u8::is_ascii_digit).count() >= 6);
            piece
                .split(move |c| slash_separates_numbers && c == '/')
                .map(text::trim)
        })
}

/// Splits on Google Contacts' ` ::: `, the separator of several values in one cell.
///
/// Searches for `:` with `memchr` first: most cells hold one value, and building a substring
/// searcher for every cell of a large file costs more than the rest of the split.
pub fn split_google_values(cell: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(cell);
    std::iter::from_fn(move || {
        let current = rest?;
        let mut from = 0;
        while let Some(i) = current[from..].find(':') {
            let at = from + i;
            if current[at..].starts_with(":::") {
                rest = Some(&current[at + 3..]);
                return Some(&current[..at]);
            }
            from = at + 1;
        }
        rest = None;
        Some(current)
    })
}

/// Loads libphonenumber's metadata (about 0.1 s, once per process), so that the first import
/// does not pay for it; call it from a background thread at start-up.
pub fn preload_phone_metadata() {
    let _ = phonenumber::parse(Some(country::Id::ES), "600000000");
}

/// `4,93E+12` or `4.93E+12`: what Excel shows for a long number in a column not formatted as
/// text. The trailing digits are already lost, so the number cannot be recovered.
fn is_scientific_notation(s: &str) -> bool {
    let Some((mantissa, exponent)) = s.split_once(['e', 'E']) else {
        return false;
    };
    let exponent = exponent.strip_prefix('+').unwrap_or(exponent);
    let mantissa_ok = mantissa.split_once([',', '.']).map_or_else(
        || all_digits(mantissa),
        |(whole, fraction)| all_digits(whole) && all_digits(fraction),
    );
    mantissa_ok && all_digits(exponent)
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// A number reduced to what was dialled: its digits, and whether it starts with a country code.
#[derive(Debug, PartialEq, Eq)]
struct Dialled {
    international: bool,
    digits: String,
}

impl Dialled {
    /// Reads numbers made of digits and the usual punctuation; `None` for anything else
    /// (letters, extensions), which is left to the full parser.
    fn read(raw: &str) -> Option<Self> {
        let (international, rest) = if let Some(rest) = raw.strip_prefix("(+") {
            (true, rest)
        } else if let Some(rest) = raw.strip_prefix('+') {
            (true, rest)
        } else if let Some(rest) = raw.strip_prefix("00") {
            (true, rest)
        } else {
            (false, raw)
        };
        // "+49 (0)30 …": the trunk zero is written for callers inside the country only.
        let rest = match rest.split_once("(0)") {
            Some((before, after)) if international => Cow::Owned(format!("{before}{after}")),
            _ => Cow::Borrowed(rest),
        };
        let mut digits = String::with_capacity(rest.len());
        for c in rest.chars() {
            match c {
                '0'..='9' => digits.push(c),
                '-' | '.' | '(' | ')' | '/' => {}
                c if c.is_whitespace() => {}
                _ => return None,
            }
        }
        Some(Self {
            international,
            digits,
        })
    }
}

impl std::fmt::Display for Dialled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.international {
            f.write_str("+")?;
        }
        f.write_str(&self.digits)
    }
}

/// The E.164 form of the common Spanish and German numbers, without the full parser.
///
/// Every range accepted here is valid in libphonenumber's metadata; anything else returns
/// `None` and goes through [`parse_with_metadata`].
fn fast_e164(dialled: &Dialled, region: country::Id) -> Option<String> {
    let (code, national) = if dialled.international {
        let code = ["34", "49"]
            .into_iter()
            .find(|c| dialled.digits.starts_with(c))?;
        (code, &dialled.digits[2..])
    } else {
        match region {
            country::Id::ES => ("34", dialled.digits.as_str()),
            country::Id::DE => ("49", dialled.digits.strip_prefix('0')?),
            _ => return None,
        }
    };
    let common = match code {
        "34" => is_common_spanish(national),
        _ => is_common_german(national),
    };
    common.then(|| format!("+{code}{national}"))
}

/// Spanish mobiles (6…, 71–74…, 78…) and fixed lines in 81, 83, 85, 86, 91, 93, 95.
fn is_common_spanish(n: &str) -> bool {
    let b = n.as_bytes();
    b.len() == 9
        && matches!(
            (b[0], b[1]),
            (b'6', _)
                | (b'7', b'1'..=b'4' | b'8')
                | (b'8', b'1' | b'3' | b'5' | b'6')
                | (b'9', b'1' | b'3' | b'5')
        )
}

/// German mobiles (15x, 16x, 17x) and the fixed lines of Berlin, Hamburg and Munich.
fn is_common_german(n: &str) -> bool {
    let b = n.as_bytes();
    let len = b.len();
    match b {
        [b'3', b'0', ..] | [b'4', b'0', ..] | [b'8', b'9', ..] => (7..=11).contains(&len),
        [b'1', b'5', b'0'..=b'2' | b'5'..=b'9', ..] => len == 11,
        [b'1', b'6', b'0' | b'2' | b'3', ..] | [b'1', b'7', ..] => (10..=11).contains(&len),
        _ => false,
    }
}

/// The full libphonenumber parse and validity check.
fn parse_with_metadata(text: &str, region: country::Id) -> Result<String, PhoneProblem> {
    let number = phonenumber::parse(Some(region), text).map_err(|_| PhoneProblem::Invalid)?;
    if !phonenumber::is_valid(&number) {
        return Err(PhoneProblem::Invalid);
    }
    Ok(number.format().mode(Mode::E164).to_string())
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case::letter_o_for_zero("600 000 1O1")]
    #[case::letter_l_for_one("600 000 l01")]
    #[case::keypad_word("900 FLORES")]
    fn phone_with_letters_is_refused_not_read_as_keypad_digits(#[case] raw: &str) {
        assert_eq!(normalize_phone(raw, "ES"), Err(PhoneProblem::Invalid));
    }

    #[rstest]
    #[case::zero_width_space("ana\u{200b}@example.com")]
    #[case::soft_hyphen("an\u{ad}a@example.com")]
    #[case::right_to_left_override("ana@exa\u{202e}mple.com")]
    fn email_with_invisible_characters_inside_is_refused(#[case] raw: &str) {
        assert!(normalize_email(raw).is_err());
    }

    #[rstest]
    #[case::plain("lucia.ferrer@example.com", "lucia.ferrer@example.com")]
    #[case::upper_case("SONIA.GIL@EXAMPLE.ORG", "sonia.gil@example.org")]
    #[case::surrounding_spaces("  Elena.Castro@Example.COM ", "elena.castro@example.com")]
    #[case::trailing_nbsp("pablo.ramos@example.com\u{a0}", "pablo.ramos@example.com")]
    #[case::leading_tab("\tirene.soto@example.org", "irene.soto@example.org")]
    #[case::bom_and_zero_width("\u{feff}ana@example.com\u{200b}", "ana@example.com")]
    #[case::plus_address("ana+citas@example.es", "ana+citas@example.es")]
    #[case::accented_domain("ana@peluquería.es", "ana@peluquería.es")]
    fn normalize_email_trims_and_lower_cases(#[case] raw: &str, #[case] expected: &str) {
        assert_eq!(normalize_email(raw).as_deref(), Ok(expected));
    }

    #[rstest]
    #[case::empty("   ", EmailProblem::Empty)]
    #[case::inner_space("raul.vega@example .com", EmailProblem::InnerWhitespace)]
    #[case::double_at("sara.nieto@@example.com", EmailProblem::NotOneAt)]
    #[case::two_ats("a@b@example.com", EmailProblem::NotOneAt)]
    #[case::no_at("sara.nieto.example.com", EmailProblem::NotOneAt)]
    #[case::empty_local("@example.com", EmailProblem::BadLocalPart)]
    #[case::double_dot_local("ana..ruiz@example.com", EmailProblem::BadLocalPart)]
    #[case::undotted_domain("ana@localhost", EmailProblem::BadDomain)]
    #[case::empty_label("ana@example..com", EmailProblem::BadDomain)]
    #[case::trailing_dot("ana@example.com.", EmailProblem::BadDomain)]
    #[case::numeric_tld("ana@example.123", EmailProblem::BadDomain)]
    fn normalize_email_refuses_implausible_addresses(
        #[case] raw: &str,
        #[case] problem: EmailProblem,
    ) {
        assert_eq!(normalize_email(raw), Err(problem));
    }

    #[rstest]
    #[case::grouped_in_pairs("600 00 03 11", "ES", "+34600000311")]
    #[case::with_country_code("+34 600 000 312", "ES", "+34600000312")]
    #[case::double_zero_prefix("0034 600000313", "ES", "+34600000313")]
    #[case::country_code_in_parentheses("(+34) 600-000-314", "ES", "+34600000314")]
    #[case::german_from_spain("0049 30 00000316", "ES", "+493000000316")]
    #[case::german_trunk_zero_in_parentheses("+49 (0)30 0000 0317", "ES", "+493000000317")]
    #[case::us_with_country_code("+1 (212) 555-0118", "ES", "+12125550118")]
    #[case::us_in_us_region("(212) 555-0118", "US", "+12125550118")]
    #[case::madrid_fixed_line("910 000 320", "ES", "+34910000320")]
    #[case::german_national("030 00000012", "DE", "+493000000012")]
    #[case::german_with_slash("030/12345678", "DE", "+493012345678")]
    #[case::german_mobile("+49 151 00000281", "ES", "+4915100000281")]
    #[case::dotted("600.000.101", "ES", "+34600000101")]
    #[case::lower_case_region("600000101", "es", "+34600000101")]
    #[case::french_number("+33 1 42 68 53 00", "ES", "+33142685300")]
    fn normalize_phone_gives_e164(#[case] raw: &str, #[case] region: &str, #[case] e164: &str) {
        assert_eq!(normalize_phone(raw, region).as_deref(), Ok(e164));
    }

    #[rstest]
    #[case::comma_scientific("4,93E+12", PhoneProblem::ScientificNotation)]
    #[case::dot_scientific("4.93E+12", PhoneProblem::ScientificNotation)]
    #[case::lower_e("4.93e12", PhoneProblem::ScientificNotation)]
    #[case::too_short("60000", PhoneProblem::TooShort)]
    #[case::spanish_without_prefix_digit("030 00000012", PhoneProblem::Invalid)]
    #[case::words("llamar a recepción", PhoneProblem::Invalid)]
    #[case::empty(" \u{a0}", PhoneProblem::Empty)]
    fn normalize_phone_refuses_unusable_numbers(#[case] raw: &str, #[case] problem: PhoneProblem) {
        assert_eq!(normalize_phone(raw, "ES"), Err(problem));
    }

    #[rstest]
    #[case::one("a", &["a"])]
    #[case::two(" a ::: b", &[" a ", " b"])]
    #[case::colons_that_are_not_separators("10:00 ::: x:y", &["10:00 ", " x:y"])]
    #[case::empty("", &[""])]
    #[case::trailing("a:::", &["a", ""])]
    fn split_google_values_splits_on_triple_colons_only(
        #[case] cell: &str,
        #[case] expected: &[&str],
    ) {
        assert_eq!(split_google_values(cell).collect::<Vec<_>>(), expected);
    }

    #[test]
    fn normalize_phone_refuses_an_unknown_region() {
        assert_eq!(
            normalize_phone("600000101", "Spain"),
            Err(PhoneProblem::UnknownRegion)
        );
    }

    #[rstest]
    #[case::slash_between_numbers("600 000 319 / 910 000 320", &["600 000 319", "910 000 320"])]
    #[case::google_separator("+34 600 000 261 ::: +34 600 000 262", &["+34 600 000 261", "+34 600 000 262"])]
    #[case::semicolon("600000101; 600000102", &["600000101", "600000102"])]
    #[case::german_area_slash("030/12345678", &["030/12345678"])]
    #[case::single("600 000 101", &["600 000 101"])]
    #[case::scientific_comma_kept("4,93E+12", &["4,93E+12"])]
    #[case::empty_parts(" ::: 600000101 ::: ", &["600000101"])]
    fn split_phones_separates_several_numbers(#[case] cell: &str, #[case] expected: &[&str]) {
        assert_eq!(split_phones(cell), expected);
    }

    /// A tiny deterministic generator, so the agreement test needs no extra crate.
    struct XorShift(u64);

    impl XorShift {
        fn digit(&mut self) -> char {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            char::from(b'0' + (self.0 % 10) as u8)
        }
    }

    #[test]
    fn fast_path_agrees_with_libphonenumber_wherever_it_answers() {
        let prefixes = [
            "6", "60", "7", "71", "75", "78", "79", "8", "80", "81", "84", "9", "90", "91", "96",
            "97", "030", "040", "089", "0221", "015", "0151", "0153", "016", "0162", "0164", "017",
            "+34", "+346", "+349", "+4930", "+49151", "+49160",
        ];
        let mut rng = XorShift(0x5eed);
        let mut answered = 0;
        for prefix in prefixes {
            for (len, _sample) in (5..=14).flat_map(|len| (0..8).map(move |s| (len, s))) {
                for region in [country::Id::ES, country::Id::DE] {
                    let mut raw = prefix.to_owned();
                    while raw.trim_start_matches('+').len() < len {
                        raw.push(rng.digit());
                    }
                    let dialled = Dialled::read(&raw).expect("digits only");
                    if let Some(fast) = fast_e164(&dialled, region) {
                        answered += 1;
                        let full = parse_with_metadata(&dialled.to_string(), region);
                        assert_eq!(Ok(fast), full, "{raw} in {region:?}");
                    }
                }
            }
        }
        assert!(
            answered > 100,
            "the fast path should answer the common forms, got {answered}"
        );
    }
}
