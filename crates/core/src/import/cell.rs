//! One cell's text: what a spreadsheet put around the value, and several values in one cell.

use crate::domain::contact::split_google_values;
use crate::domain::text;

/// The characters that make a spreadsheet read a cell as a formula, plus TAB and CR, which
/// some spreadsheets skip before looking (OWASP "CSV injection").
pub(crate) fn starts_like_formula(s: &str) -> bool {
    s.starts_with(['=', '+', '-', '@', '\t', '\r'])
}

/// The value of a raw cell: the apostrophe our export puts before formula-like text is removed
/// (exactly one), then white space around the value is trimmed.
pub(crate) fn cell_value(raw: &str) -> &str {
    let unescaped = match raw.strip_prefix('\'') {
        Some(rest) if starts_like_formula(rest) => rest,
        _ => raw,
    };
    text::trim(unescaped)
}

/// Appends `value` to `out` with every line break (CRLF, CR, LF) stored as `\n`.
pub(crate) fn push_with_lf(out: &mut String, value: &str) {
    if !value.contains('\r') {
        out.push_str(value);
        return;
    }
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\r' {
            chars.next_if_eq(&'\n');
            out.push('\n');
        } else {
            out.push(c);
        }
    }
}

/// Splits Google's ` ::: ` and, for lists such as tags or branches, `,` `;` `|` too.
pub(crate) fn split_list(cell: &str) -> impl Iterator<Item = &str> {
    let google = cell.contains(':') && cell.contains(":::");
    let separators: &[char] = if google { &[] } else { &[',', ';', '|'] };
    split_google_values(cell)
        .flat_map(move |part| part.split(separators))
        .map(text::trim)
        .filter(|v| !v.is_empty())
}

/// Splits a cell holding several email addresses (` ::: `, `;` or `,`).
pub(crate) fn split_emails(cell: &str) -> impl Iterator<Item = &str> {
    split_google_values(cell)
        .flat_map(|part| part.split([';', ',']))
        .map(text::trim)
        .filter(|v| !v.is_empty())
}

/// A Google contact label: `* Home` marks the primary value; the label itself is `Home`.
pub(crate) fn read_label(label: &str) -> (Option<&str>, bool) {
    let label = text::trim(label);
    let (label, primary) = match label.strip_prefix('*') {
        Some(rest) => (text::trim(rest), true),
        None => (label, false),
    };
    ((!label.is_empty()).then_some(label), primary)
}

/// Google's own groups (`* myContacts`, `* starred`, `System Group: …`) are not tags; a
/// person's own `*VIP*` is.
pub(crate) fn is_system_label(label: &str) -> bool {
    label.starts_with("* ")
        || label.starts_with("System Group:")
        || label.eq_ignore_ascii_case("mycontacts")
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case::formula_kept("=2+3", "=2+3")]
    #[case::escaped_formula("'=2+3", "=2+3")]
    #[case::escaped_phone("'+34600000361", "+34600000361")]
    #[case::escaped_minus("'-10% en la próxima cita", "-10% en la próxima cita")]
    #[case::escaped_at("'@cumpleaños", "@cumpleaños")]
    #[case::escaped_tab_then_trimmed("'\t=2+3", "=2+3")]
    #[case::apostrophe_before_apostrophe_kept("''=2+3", "''=2+3")]
    #[case::plain_apostrophe_kept("'Pepe'", "'Pepe'")]
    #[case::tab_trimmed("\t=2+3", "=2+3")]
    #[case::nbsp_trimmed("email\u{a0} ", "email")]
    fn cell_value_unescapes_then_trims(#[case] raw: &str, #[case] value: &str) {
        assert_eq!(cell_value(raw), value);
    }

    #[test]
    fn push_with_lf_stores_every_line_break_as_lf() {
        let mut out = String::new();
        push_with_lf(&mut out, "a\r\nb\rc\nd\r\n\r\ne");
        assert_eq!(out, "a\nb\nc\nd\n\ne");
    }

    #[rstest]
    #[case::google("* myContacts ::: Clientas VIP", &["* myContacts", "Clientas VIP"])]
    #[case::google_keeps_commas("VIP ::: Coloración, mechas", &["VIP", "Coloración, mechas"])]
    #[case::commas("VIP, Alergias", &["VIP", "Alergias"])]
    #[case::semicolons(" Centro ; Norte ;", &["Centro", "Norte"])]
    fn split_list_reads_every_separator(#[case] cell: &str, #[case] expected: &[&str]) {
        assert_eq!(split_list(cell).collect::<Vec<_>>(), expected);
    }

    #[rstest]
    #[case::google_group("* myContacts", true)]
    #[case::google_starred("* starred", true)]
    #[case::old_google_group("System Group: My Contacts", true)]
    #[case::own_tag_with_stars("*VIP*", false)]
    #[case::own_tag("Clientas VIP", false)]
    fn only_google_groups_are_system_labels(#[case] label: &str, #[case] system: bool) {
        assert_eq!(is_system_label(label), system);
    }

    #[rstest]
    #[case::primary_marker("* Home", (Some("Home"), true))]
    #[case::plain("Work", (Some("Work"), false))]
    #[case::only_marker("*", (None, true))]
    #[case::empty("", (None, false))]
    fn read_label_finds_google_primary_marker(
        #[case] label: &str,
        #[case] expected: (Option<&str>, bool),
    ) {
        assert_eq!(read_label(label), expected);
    }
}
