//! GB 11643-1999 citizen identity number: 6-digit address code, 8-digit birth date, 3-digit
//! sequence, and a check character computed ISO 7064 MOD 11-2 over the first 17 digits.
//! The 2023 foreigner permanent residence ID reuses the same check.

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK: &[u8; 11] = b"10X98765432";

/// The check character for 17 leading digits, or `None` if they are not 17 ASCII digits.
pub fn check_char(first17: &[u8]) -> Option<char> {
    if first17.len() != 17 || !first17.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let sum: u32 = first17
        .iter()
        .zip(WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    Some(CHECK[(sum % 11) as usize] as char)
}

/// Whether `number` (18 chars, uppercase X allowed last) carries a valid check character.
pub fn has_valid_check(number: &str) -> bool {
    let bytes = number.as_bytes();
    bytes.len() == 18 && check_char(&bytes[..17]) == Some(bytes[17] as char)
}

/// Whether the embedded birth date (positions 7-14) is a real calendar date, from 1900 on and
/// not after today (Shenzhen's date, by the system clock: nobody is born in the future, whatever
/// time a test injects elsewhere).
pub fn has_valid_birth_date(number: &str) -> bool {
    let today = crate::clock::business_time(chrono::Utc::now()).date_naive();
    number
        .get(6..14)
        .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y%m%d").ok())
        .is_some_and(|d| d.format("%Y").to_string().as_str() >= "1900" && d <= today)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_numbers_check() {
        // The standard's own worked example.
        assert!(has_valid_check("11010519491231002X"));
        assert!(has_valid_check("440305199007022423"));
        assert!(!has_valid_check("440305199007022424"));
        assert!(!has_valid_check("44030519900702242"));
    }

    #[test]
    fn birth_dates() {
        assert!(has_valid_birth_date("11010519491231002X"));
        assert!(!has_valid_birth_date("110105194913310020"));
        assert!(!has_valid_birth_date("110105180001010020"));
        // A date that does not exist yet.
        assert!(!has_valid_birth_date("110105209901010020"));
    }
}
