//! From bytes to text: which encoding a customer file is in.
//!
//! A byte-order mark decides first (UTF-8, UTF-16LE as in Excel's "Unicode text", UTF-16BE).
//! Without one, text that is valid UTF-8 is UTF-8; anything else is a legacy single-byte file,
//! Windows-1252 unless `chardetng` recognises Central European text.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::table::FileError;

/// A text encoding the importer reads; the UI shows the detected one and may override it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub enum TextEncoding {
    Utf8,
    Utf16Le,
    Utf16Be,
    /// Western European Windows (Excel's "CSV" on a Spanish or German Windows).
    Windows1252,
    /// Central European Windows (Polish, Czech, …).
    Windows1250,
}

impl TextEncoding {
    fn encoding(self) -> &'static encoding_rs::Encoding {
        match self {
            TextEncoding::Utf8 => encoding_rs::UTF_8,
            TextEncoding::Utf16Le => encoding_rs::UTF_16LE,
            TextEncoding::Utf16Be => encoding_rs::UTF_16BE,
            TextEncoding::Windows1252 => encoding_rs::WINDOWS_1252,
            TextEncoding::Windows1250 => encoding_rs::WINDOWS_1250,
        }
    }
}

/// A text with at least one NUL character in this many is taken for a binary file.
const MAX_NUL_SHARE: usize = 1000;

/// The text of a file and the encoding it was read in.
#[derive(Debug)]
pub(crate) struct Decoded<'a> {
    pub text: Cow<'a, str>,
    pub encoding: TextEncoding,
}

/// Decodes `bytes`, detecting the encoding unless `forced`, and drops the byte-order mark.
pub(crate) fn decode(bytes: &[u8], forced: Option<TextEncoding>) -> Result<Decoded<'_>, FileError> {
    if bytes.is_empty() {
        return Err(FileError::Empty);
    }
    if is_workbook(bytes) {
        return Err(FileError::Workbook);
    }
    let bom = sniff_bom(bytes);
    let encoding = forced
        .or(bom.map(|(encoding, _)| encoding))
        .or_else(|| sniff_utf16_without_bom(bytes))
        .unwrap_or_else(|| guess_without_bom(bytes));
    let body = match bom {
        Some((bom_encoding, len)) if bom_encoding == encoding => &bytes[len..],
        _ => bytes,
    };
    let mut text = decode_body(body, encoding);
    // Binary files are full of NUL characters; a text file may carry a stray one (a
    // damaged export), which holds no data and should not refuse the whole file.
    let nuls = text.matches('\0').count();
    if nuls > 0 {
        if nuls * MAX_NUL_SHARE >= text.len() {
            return Err(FileError::NotText);
        }
        text = Cow::Owned(text.replace('\0', ""));
    }
    if text.trim().is_empty() {
        return Err(FileError::Empty);
    }
    Ok(Decoded { text, encoding })
}

/// Excel and OpenDocument workbooks (zip) and old Excel files (OLE).
fn is_workbook(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0])
}

fn sniff_bom(bytes: &[u8]) -> Option<(TextEncoding, usize)> {
    match bytes {
        [0xEF, 0xBB, 0xBF, ..] => Some((TextEncoding::Utf8, 3)),
        [0xFF, 0xFE, ..] => Some((TextEncoding::Utf16Le, 2)),
        [0xFE, 0xFF, ..] => Some((TextEncoding::Utf16Be, 2)),
        _ => None,
    }
}

/// UTF-16 written without a mark: mostly-Latin text has a zero in every other byte.
fn sniff_utf16_without_bom(bytes: &[u8]) -> Option<TextEncoding> {
    let sample = &bytes[..bytes.len().min(4096) & !1];
    let pairs = sample.len() / 2;
    if pairs < 2 {
        return None;
    }
    let zeros_at = |offset: usize| {
        sample
            .iter()
            .skip(offset)
            .step_by(2)
            .filter(|b| **b == 0)
            .count()
    };
    let (even, odd) = (zeros_at(0), zeros_at(1));
    let mostly = |n: usize| n * 10 >= pairs * 3;
    let hardly = |n: usize| n * 20 <= pairs;
    match (mostly(even), mostly(odd)) {
        (false, true) if hardly(even) => Some(TextEncoding::Utf16Le),
        (true, false) if hardly(odd) => Some(TextEncoding::Utf16Be),
        _ => None,
    }
}

fn guess_without_bom(bytes: &[u8]) -> TextEncoding {
    if std::str::from_utf8(bytes).is_ok() {
        return TextEncoding::Utf8;
    }
    let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
    detector.feed(bytes, true);
    let guess = detector.guess(None, chardetng::Utf8Detection::Deny);
    if guess == encoding_rs::WINDOWS_1250 || guess == encoding_rs::ISO_8859_2 {
        TextEncoding::Windows1250
    } else {
        TextEncoding::Windows1252
    }
}

fn decode_body(body: &[u8], encoding: TextEncoding) -> Cow<'_, str> {
    match encoding {
        TextEncoding::Utf8 => String::from_utf8_lossy(body),
        // A file cut off mid-character (a copy that stopped short) ends in half a UTF-16
        // unit: it holds no character, so it is dropped rather than read as a broken one.
        TextEncoding::Utf16Le | TextEncoding::Utf16Be => {
            let whole = &body[..body.len() & !1];
            encoding.encoding().decode_without_bom_handling(whole).0
        }
        other => other.encoding().decode_without_bom_handling(body).0,
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    fn utf16le(s: &str) -> Vec<u8> {
        s.encode_utf16().flat_map(u16::to_le_bytes).collect()
    }

    fn utf16be(s: &str) -> Vec<u8> {
        s.encode_utf16().flat_map(u16::to_be_bytes).collect()
    }

    #[rstest]
    #[case::utf8_with_bom(b"\xEF\xBB\xBFemail\r\n".to_vec(), TextEncoding::Utf8)]
    #[case::utf8_without_bom("nombre\r\nNúria\r\n".as_bytes().to_vec(), TextEncoding::Utf8)]
    #[case::utf16le_with_bom(
        [&[0xFF, 0xFE][..], &utf16le("Łukasz\tWróbel\r\n")].concat(),
        TextEncoding::Utf16Le
    )]
    #[case::utf16be_with_bom(
        [&[0xFE, 0xFF][..], &utf16be("Zoë\tÅström\r\n")].concat(),
        TextEncoding::Utf16Be
    )]
    #[case::utf16le_without_bom(
        utf16le("nombre\temail\r\nAna\tana@example.com\r\n"),
        TextEncoding::Utf16Le
    )]
    #[case::cp1252(b"Nombre;Tel\xe9fono\r\nBego\xf1a;600\r\n".to_vec(), TextEncoding::Windows1252)]
    fn decode_detects_the_encoding(#[case] bytes: Vec<u8>, #[case] expected: TextEncoding) {
        assert_eq!(decode(&bytes, None).unwrap().encoding, expected);
    }

    #[test]
    fn utf16_cut_off_mid_character_reads_without_a_broken_character() {
        let mut bytes = [&[0xFF, 0xFE][..], &utf16le("nombre\tteléfono\r\nAna\t600")].concat();
        bytes.push(b'1');
        let decoded = decode(&bytes, None).unwrap();
        assert_eq!(decoded.text, "nombre\tteléfono\r\nAna\t600");
    }

    #[test]
    fn decode_drops_the_byte_order_mark() {
        let text = decode(b"\xEF\xBB\xBFemail", None).unwrap().text;
        assert_eq!(text, "email");
        let utf16 = [&[0xFF, 0xFE][..], &utf16le("email")].concat();
        assert_eq!(decode(&utf16, None).unwrap().text, "email");
    }

    #[test]
    fn decode_reads_windows_1252_accents_and_dashes() {
        let text = decode(b"Jos\xe9 \x96 \xabVIP\xbb", None).unwrap().text;
        assert_eq!(text, "José – «VIP»");
    }

    #[test]
    fn decode_honours_a_forced_encoding() {
        let decoded = decode("Begoña".as_bytes(), Some(TextEncoding::Windows1252)).unwrap();
        assert_eq!(
            decoded.text, "BegoÃ±a",
            "the user asked for it, so it is what they get"
        );
    }

    #[test]
    fn a_stray_nul_in_a_text_file_is_dropped_not_a_reason_to_refuse_it() {
        let mut bytes = b"nombre;email\r\n".to_vec();
        for i in 0..200 {
            bytes.extend(format!("Cliente {i};c{i}@example.com\r\n").as_bytes());
        }
        bytes.insert(40, 0);
        let decoded = decode(&bytes, None).unwrap();
        assert!(!decoded.text.contains('\0'));
        assert!(decoded.text.contains("Cliente 199;c199@example.com"));
    }

    #[rstest]
    #[case::no_bytes(b"".to_vec(), FileError::Empty)]
    #[case::only_bom(b"\xEF\xBB\xBF".to_vec(), FileError::Empty)]
    #[case::only_blank_lines(b"\r\n \r\n".to_vec(), FileError::Empty)]
    #[case::image(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec(), FileError::NotText)]
    #[case::xlsx(b"PK\x03\x04\x14\0\x06\0".to_vec(), FileError::Workbook)]
    #[case::xls(vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1], FileError::Workbook)]
    fn decode_refuses_files_that_are_not_text(#[case] bytes: Vec<u8>, #[case] error: FileError) {
        assert_eq!(decode(&bytes, None).unwrap_err(), error);
    }
}
