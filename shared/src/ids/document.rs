use super::{gb11643, mask_middle};
use serde::{Deserialize, Serialize};
use std::fmt;

/// 证件类型: the identity documents the manual's hand-add form and the feeds carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IdType {
    /// 居民身份证 — 18 chars, GB 11643 check character.
    ResidentId,
    /// 港澳台居民居住证 — resident-ID format with address code 810000/820000/830000.
    HmtResidencePermit,
    /// 港澳居民来往内地通行证 (回乡证) — H or M, 8 digits, optional 2-digit renewal count.
    HomeReturnPermit,
    /// 台湾居民来往大陆通行证 (台胞证) — 8 digits.
    TaiwanCompatriotPermit,
    /// 外国人永久居留身份证 — 2017: 3 letters + 12 digits; 2023: 18 digits starting with 9.
    ForeignPermanentResidence,
    /// 护照 — 5 to 17 letters and digits.
    Passport,
}

impl IdType {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ResidentId => "resident_id",
            Self::HmtResidencePermit => "hmt_residence_permit",
            Self::HomeReturnPermit => "home_return_permit",
            Self::TaiwanCompatriotPermit => "taiwan_compatriot_permit",
            Self::ForeignPermanentResidence => "foreign_permanent_residence",
            Self::Passport => "passport",
        }
    }
}

impl fmt::Display for IdType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdError {
    #[error("the ID number has the wrong length or characters for a {0}")]
    Format(IdType),
    #[error("the ID number's check character does not match (GB 11643)")]
    CheckDigit,
    #[error("the ID number's birth date is not a real date")]
    BirthDate,
    #[error("a residence permit's address code must be 810000, 820000 or 830000")]
    PermitRegion,
    #[error("a resident ID must not carry a Hong Kong/Macau/Taiwan permit address code")]
    ResidentRegion,
}

/// A validated identity document: its type and normalised number (uppercase, no spaces).
///
/// Deliberately not `Serialize`: the raw number must not be written anywhere. Turn it into a
/// [`super::PersonKey`] and [`IdDocument::masked`] at the edge.
#[derive(Clone, PartialEq, Eq)]
pub struct IdDocument {
    id_type: IdType,
    number: String,
}

impl fmt::Debug for IdDocument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdDocument({}, {})", self.id_type, self.masked())
    }
}

impl IdDocument {
    pub fn parse(id_type: IdType, raw: &str) -> Result<Self, IdError> {
        let number: String = raw
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_uppercase();
        let format = || IdError::Format(id_type);
        // Lengths below are in bytes and the checks slice by byte: refuse anything non-ASCII first.
        if !number.is_ascii() {
            return Err(format());
        }
        let all = |s: &str, f: fn(&u8) -> bool| s.bytes().all(|b| f(&b));
        match id_type {
            IdType::ResidentId | IdType::HmtResidencePermit => {
                if number.len() != 18 || !all(&number[..17], u8::is_ascii_digit) {
                    return Err(format());
                }
                if !gb11643::has_valid_check(&number) {
                    return Err(IdError::CheckDigit);
                }
                if !gb11643::has_valid_birth_date(&number) {
                    return Err(IdError::BirthDate);
                }
                let permit = matches!(&number[..6], "810000" | "820000" | "830000");
                match (id_type, permit) {
                    (IdType::HmtResidencePermit, false) => return Err(IdError::PermitRegion),
                    (IdType::ResidentId, true) => return Err(IdError::ResidentRegion),
                    _ => {}
                }
                if number.starts_with('0') || number.starts_with('9') {
                    return Err(format());
                }
            }
            IdType::HomeReturnPermit => {
                let ok = (number.len() == 9 || number.len() == 11)
                    && matches!(number.as_bytes()[0], b'H' | b'M')
                    && all(&number[1..], u8::is_ascii_digit);
                if !ok {
                    return Err(format());
                }
            }
            IdType::TaiwanCompatriotPermit => {
                if number.len() != 8 || !all(&number, u8::is_ascii_digit) {
                    return Err(format());
                }
            }
            IdType::ForeignPermanentResidence => {
                let old = number.len() == 15
                    && all(&number[..3], u8::is_ascii_uppercase)
                    && all(&number[3..], u8::is_ascii_digit);
                let new = number.len() == 18
                    && number.starts_with('9')
                    && all(&number[..17], u8::is_ascii_digit);
                if new && !gb11643::has_valid_check(&number) {
                    return Err(IdError::CheckDigit);
                }
                if !old && !new {
                    return Err(format());
                }
            }
            IdType::Passport => {
                if !(5..=17).contains(&number.len()) || !all(&number, u8::is_ascii_alphanumeric) {
                    return Err(format());
                }
            }
        }
        Ok(Self { id_type, number })
    }

    pub fn id_type(&self) -> IdType {
        self.id_type
    }

    /// The normalised number. Only for hashing ([`super::PersonKeyer`]); never store or log it.
    pub(crate) fn number(&self) -> &str {
        &self.number
    }

    /// The display form every response and export uses, e.g. `4403**********1237`.
    pub fn masked(&self) -> String {
        mask_middle(&self.number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resident_ids() {
        let doc = IdDocument::parse(IdType::ResidentId, " 11010519491231002x ").unwrap();
        assert_eq!(doc.masked(), "1101**********002X");
        assert_eq!(
            IdDocument::parse(IdType::ResidentId, "110105194912310021"),
            Err(IdError::CheckDigit)
        );
        assert_eq!(
            IdDocument::parse(IdType::ResidentId, "1101051949123100"),
            Err(IdError::Format(IdType::ResidentId))
        );
        assert!(!format!("{doc:?}").contains("19491231"));
        for id_type in [
            IdType::ResidentId,
            IdType::ForeignPermanentResidence,
            IdType::HomeReturnPermit,
            IdType::Passport,
        ] {
            assert_eq!(
                IdDocument::parse(id_type, "4403051990070224é"),
                Err(IdError::Format(id_type))
            );
            assert_eq!(
                IdDocument::parse(id_type, "AB\u{e9}12345678901"),
                Err(IdError::Format(id_type))
            );
        }
    }

    #[test]
    fn hmt_residence_permits_need_their_region() {
        // 810000 + 19900101 + 123 → check digit computed by the standard.
        let number = with_check("81000019900101123");
        assert!(IdDocument::parse(IdType::HmtResidencePermit, &number).is_ok());
        assert_eq!(
            IdDocument::parse(IdType::ResidentId, &number),
            Err(IdError::ResidentRegion)
        );
        let mainland = with_check("44030819900101123");
        assert_eq!(
            IdDocument::parse(IdType::HmtResidencePermit, &mainland),
            Err(IdError::PermitRegion)
        );
    }

    #[test]
    fn permits_and_passports() {
        assert!(IdDocument::parse(IdType::HomeReturnPermit, "H1234567801").is_ok());
        assert!(IdDocument::parse(IdType::HomeReturnPermit, "M12345678").is_ok());
        assert!(IdDocument::parse(IdType::HomeReturnPermit, "X1234567801").is_err());
        assert!(IdDocument::parse(IdType::TaiwanCompatriotPermit, "12345678").is_ok());
        assert!(IdDocument::parse(IdType::TaiwanCompatriotPermit, "1234567").is_err());
        assert!(IdDocument::parse(IdType::ForeignPermanentResidence, "USA440319800101").is_ok());
        assert!(
            IdDocument::parse(
                IdType::ForeignPermanentResidence,
                &with_check("93308119800101123")
            )
            .is_ok()
        );
        let valid = with_check("93308119800101123");
        let wrong_check = format!(
            "{}{}",
            &valid[..17],
            if valid.ends_with('0') { '1' } else { '0' }
        );
        assert_eq!(
            IdDocument::parse(IdType::ForeignPermanentResidence, &wrong_check),
            Err(IdError::CheckDigit)
        );
        assert!(IdDocument::parse(IdType::Passport, "E12345678").is_ok());
        assert!(IdDocument::parse(IdType::Passport, "E12-345").is_err());
    }

    fn with_check(first17: &str) -> String {
        let c = gb11643::check_char(first17.as_bytes()).unwrap();
        format!("{first17}{c}")
    }
}
