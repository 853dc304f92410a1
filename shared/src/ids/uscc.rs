//! 统一社会信用代码 (USCC), GB 32100-2015: 18 characters over a 31-symbol alphabet (digits and
//! uppercase letters without I, O, Z, S, V); the last is a MOD 31 check character.
//!
//! Some codes issued in the pilot period before the standard settled fail the check yet are real
//! and still in the registry. They are accepted only when listed in [`UsccPolicy`]'s exceptions,
//! and every such acceptance is logged as a warning.

use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::fmt;

const ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
const WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UsccError {
    #[error("a unified social credit code has 18 characters")]
    Length,
    #[error("a unified social credit code uses digits and the letters A-Y except I, O, S, V")]
    Alphabet,
    #[error("the unified social credit code's check character does not match (GB 32100)")]
    CheckCharacter,
    #[error("in a URL, write the unified social credit code in capitals, without spaces")]
    NotCanonical,
}

/// The form of a code in a URL (the OpenAPI document declares it for every `{uscc}`).
pub const USCC_PATTERN: &str = "^[0-9A-HJ-NPQRTUWXY]{18}$";

/// A unified social credit code, normalised to uppercase.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Uscc(String);

impl Uscc {
    /// Strict parse: the check character must match.
    pub fn parse(raw: &str) -> Result<Self, UsccError> {
        let code = Self::normalise(raw)?;
        if Some(code.as_bytes()[17]) != check_character(&code.as_bytes()[..17]) {
            return Err(UsccError::CheckCharacter);
        }
        Ok(Self(code))
    }

    fn normalise(raw: &str) -> Result<String, UsccError> {
        let code = raw.trim().to_ascii_uppercase();
        if code.len() != 18 {
            return Err(UsccError::Length);
        }
        if !code.bytes().all(|b| ALPHABET.contains(&b)) {
            return Err(UsccError::Alphabet);
        }
        Ok(code)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Uscc {
    type Error = UsccError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Uscc> for String {
    fn from(value: Uscc) -> Self {
        value.0
    }
}

impl fmt::Display for Uscc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The check character for 17 leading characters of the alphabet.
pub fn check_character(first17: &[u8]) -> Option<u8> {
    let mut sum = 0u32;
    for (b, w) in first17.iter().zip(WEIGHTS) {
        let value = ALPHABET.iter().position(|a| a == b)? as u32;
        sum += value * w;
    }
    Some(ALPHABET[((31 - sum % 31) % 31) as usize])
}

/// How codes from the outside world are accepted: strictly, except for the known pilot-era codes.
#[derive(Debug, Clone, Default)]
pub struct UsccPolicy {
    pilot_exceptions: HashSet<String>,
}

impl UsccPolicy {
    pub fn with_pilot_exceptions<I: IntoIterator<Item = String>>(codes: I) -> Self {
        Self {
            pilot_exceptions: codes
                .into_iter()
                .map(|c| c.trim().to_ascii_uppercase())
                .collect(),
        }
    }

    /// Parses `raw`; a known pilot-era code with a failing check is accepted with a warning.
    pub fn parse(&self, raw: &str) -> Result<Uscc, UsccError> {
        match Uscc::parse(raw) {
            Err(UsccError::CheckCharacter) => {
                let code = Uscc::normalise(raw)?;
                if self.pilot_exceptions.contains(&code) {
                    tracing::warn!(uscc = %code, "accepting a known pilot-era USCC whose check character fails");
                    Ok(Uscc(code))
                } else {
                    Err(UsccError::CheckCharacter)
                }
            }
            other => other,
        }
    }

    /// A code as a URL carries it: exactly its canonical form, so that one enterprise has one
    /// URL (bodies, typed by people, are normalised by [`Self::parse`] instead).
    pub fn parse_path(&self, raw: &str) -> Result<Uscc, UsccError> {
        let uscc = self.parse(raw)?;
        if uscc.as_str() == raw {
            Ok(uscc)
        } else {
            Err(UsccError::NotCanonical)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_codes() {
        // Published codes of well-known companies.
        assert!(Uscc::parse("91440300708461136T").is_ok()); // Huawei
        assert!(Uscc::parse("914403001922038216").is_ok()); // Tencent (Shenzhen)
        assert!(Uscc::parse(" 91440300708461136t ").is_ok());
    }

    #[test]
    fn invalid_codes() {
        assert_eq!(
            Uscc::parse("91440300708461136X"),
            Err(UsccError::CheckCharacter)
        );
        assert_eq!(Uscc::parse("9144030070846113"), Err(UsccError::Length));
        assert_eq!(Uscc::parse("91440300708461136I"), Err(UsccError::Alphabet));
    }

    #[test]
    fn pilot_exceptions_only_when_listed() {
        let policy = UsccPolicy::with_pilot_exceptions(["91440300708461136X".to_string()]);
        assert!(policy.parse("91440300708461136X").is_ok());
        assert_eq!(
            policy.parse("914403001922038210"),
            Err(UsccError::CheckCharacter)
        );
    }
}
