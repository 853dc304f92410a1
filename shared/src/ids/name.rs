//! A person's name as an agent, an operator or a token gives it.
//!
//! Names are shown back in lists, audit records, mails and exported spreadsheets. Control
//! characters have no place in a name and do harm there: NUL truncates strings in the tools that
//! read the exports, line breaks forge extra lines in logs and CSV readers, bidirectional
//! overrides make a name display as another. They are refused, not stripped: a name is stored as
//! the person gave it or not at all. Characters that start a formula (`=`, `+`, `-`, `@`) are
//! legitimate in text and are neutralised where they could do harm, in the exported files
//! (`export::worker::cell`).

use std::fmt;

/// A trimmed, non-empty name of at most the caller's number of characters, without `#` (it
/// separates key parts) and without control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonName(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("a name cannot be empty")]
    Empty,
    #[error("a name has at most {0} characters")]
    TooLong(usize),
    #[error("a name cannot contain '#'")]
    Reserved,
    #[error(
        "a name cannot contain control characters (line breaks, tabs, NUL, direction overrides)"
    )]
    ControlCharacter,
}

/// Unicode's control characters (C0, DEL, C1), the line and paragraph separators, and the
/// invisible marks that reorder text (bidirectional embeddings, overrides and isolates).
pub fn is_forbidden_in_text(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}'
                | '\u{200E}'
                | '\u{200F}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}'
        )
}

impl PersonName {
    /// Trims `raw` and checks it; `max_chars` is the form's own limit.
    pub fn parse(raw: &str, max_chars: usize) -> Result<Self, NameError> {
        let name = raw.trim();
        if name.is_empty() {
            return Err(NameError::Empty);
        }
        if name.chars().any(is_forbidden_in_text) {
            return Err(NameError::ControlCharacter);
        }
        if name.chars().count() > max_chars {
            return Err(NameError::TooLong(max_chars));
        }
        if name.contains('#') {
            return Err(NameError::Reserved);
        }
        Ok(Self(name.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for PersonName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for PersonName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_bounded_and_plain_text() {
        assert_eq!(
            PersonName::parse("  李晓丹 ", 30).unwrap().as_str(),
            "李晓丹"
        );
        assert_eq!(
            PersonName::parse("Anne-Marie O'Neil", 30).unwrap().as_str(),
            "Anne-Marie O'Neil"
        );
        // Formula characters are text here; the export neutralises them.
        assert!(PersonName::parse("=HYPERLINK(\"x\")", 30).is_ok());
        assert_eq!(PersonName::parse(" \t ", 30), Err(NameError::Empty));
        assert_eq!(
            PersonName::parse(&"名".repeat(31), 30),
            Err(NameError::TooLong(30))
        );
        assert!(PersonName::parse(&"名".repeat(30), 30).is_ok());
        assert_eq!(PersonName::parse("a#b", 30), Err(NameError::Reserved));
        for bad in [
            "王\0伟",
            "王\n伟",
            "王\r伟",
            "王\t伟",
            "王\u{7f}伟",
            "王\u{85}伟",
            "王\u{2028}伟",
            "abc\u{202E}fed",
            "\u{2066}王伟\u{2069}x",
        ] {
            assert_eq!(
                PersonName::parse(bad, 30),
                Err(NameError::ControlCharacter),
                "{bad:?}"
            );
        }
    }
}
