//! What the customer search matches, shared by the desktop's list and the server's API so
//! that a search finds the same customers everywhere.

use super::text::fold;
use super::CustomerFields;

/// The key the list sorts names by.
pub fn sort_name(fields: &CustomerFields) -> String {
    fold(&format!("{} {}", fields.first_name, fields.last_name))
}

/// Text the search box matches: the sort name, emails folded, and phones without the `+`.
pub fn search_text(fields: &CustomerFields, sort_name: &str) -> String {
    let mut text = sort_name.to_owned();
    for email in &fields.emails {
        text.push(' ');
        text.push_str(&fold(&email.address));
    }
    for phone in &fields.phones {
        text.push(' ');
        text.push_str(phone.number.trim_start_matches('+'));
    }
    text
}

/// The words of a search: folded like the stored text; a word that looks like a phone
/// number loses its spaces, dashes and `+` so "600 000 101" finds "+34600000101".
pub fn search_words(search: &str) -> Vec<String> {
    let looks_like_phone = search
        .chars()
        .all(|c| c.is_ascii_digit() || " +-().".contains(c))
        && search.chars().filter(char::is_ascii_digit).count() >= 3;
    if looks_like_phone {
        return vec![search.chars().filter(char::is_ascii_digit).collect()];
    }
    // More words than this add nothing a person types, and would only deepen the query.
    const MAX_WORDS: usize = 12;
    fold(search)
        .split(' ')
        .take(MAX_WORDS)
        .map(str::to_owned)
        .collect()
}

/// `s` with LIKE's wildcards and its escape character escaped with a backslash.
pub fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_like_search_keeps_only_digits() {
        assert_eq!(search_words("600 000-101"), vec!["600000101"]);
        assert_eq!(search_words("+34 600"), vec!["34600"]);
    }

    #[test]
    fn word_search_is_folded_and_split() {
        assert_eq!(search_words("José  GÜELL"), vec!["jose", "guell"]);
    }

    #[test]
    fn like_wildcards_in_search_are_literal() {
        assert_eq!(escape_like("50%_a\\"), "50\\%\\_a\\\\");
    }
}
