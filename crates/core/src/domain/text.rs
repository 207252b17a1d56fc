//! Text folding for search and matching: "José" and "jose" are the same key.

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// Lower-cases `s`, strips accents and collapses every run of white space to one space.
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending_space = false;
    for c in s.nfd().filter(|c| !is_combining_mark(*c)) {
        if c.is_whitespace() {
            pending_space = !out.is_empty();
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        // Letters that NFD does not split into base + mark.
        match c {
            'ß' => out.push_str("ss"),
            'ø' | 'Ø' => out.push('o'),
            'ł' | 'Ł' => out.push('l'),
            'æ' | 'Æ' => out.push_str("ae"),
            'œ' | 'Œ' => out.push_str("oe"),
            'đ' | 'Đ' => out.push('d'),
            _ => out.extend(c.to_lowercase()),
        }
    }
    out
}

/// Trims every Unicode white space (NBSP and TAB included) from both ends.
pub fn trim(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fold_ignores_case_and_accents() {
        assert_eq!(fold("José Güell Façanés"), "jose guell facanes");
        assert_eq!(fold("ÍÑIGO"), "inigo");
        assert_eq!(fold("Łukasz  Wróbel"), "lukasz wrobel");
    }

    #[test]
    fn fold_collapses_white_space() {
        assert_eq!(fold("  Ana\u{a0}\tMaría "), "ana maria");
    }

    #[test]
    fn trim_removes_nbsp_tab_and_bom() {
        assert_eq!(trim("\u{feff}\t email\u{a0}"), "email");
    }
}
