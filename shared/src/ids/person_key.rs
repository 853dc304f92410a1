//! The person key: HMAC-SHA256 over (ID type, normalised number) with a secret from
//! configuration. It is the only way a person is named in keys, indexes, logs and exports, so a
//! leaked table dump does not reveal ID numbers, and without the secret the 18-digit space cannot
//! be enumerated back into them.

use super::IdDocument;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::fmt;

#[derive(Debug, thiserror::Error)]
#[error("the person-key secret must be at least 32 bytes")]
pub struct PersonKeyError;

/// The keyed hash, 64 lowercase hex characters.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(try_from = "String", into = "String")]
pub struct PersonKey(String);

impl PersonKey {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl PersonKey {
    /// A pseudonym of this person scoped to `scope` (e.g. one enterprise): what the API shows
    /// instead of the person key, so ids seen by two enterprises cannot be linked.
    pub fn pseudonym(&self, scope: &str) -> String {
        use sha2::Digest;
        let digest = Sha256::new()
            .chain_update(scope.as_bytes())
            .chain_update(b":")
            .chain_update(self.0.as_bytes())
            .finalize();
        hex::encode(&digest[..16])
    }
}

impl TryFrom<String> for PersonKey {
    type Error = &'static str;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        if value.len() == 64
            && value
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            Ok(Self(value))
        } else {
            Err("a person key is 64 lowercase hex characters")
        }
    }
}

impl From<PersonKey> for String {
    fn from(value: PersonKey) -> Self {
        value.0
    }
}

impl fmt::Display for PersonKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Holds the secret; built once at init.
#[derive(Clone)]
pub struct PersonKeyer {
    mac: Hmac<Sha256>,
}

impl fmt::Debug for PersonKeyer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PersonKeyer(..)")
    }
}

impl PersonKeyer {
    pub fn new(secret: &[u8]) -> Result<Self, PersonKeyError> {
        if secret.len() < 32 {
            return Err(PersonKeyError);
        }
        let mac = Hmac::<Sha256>::new_from_slice(secret).map_err(|_| PersonKeyError)?;
        Ok(Self { mac })
    }

    pub fn key(&self, document: &IdDocument) -> PersonKey {
        let mut mac = self.mac.clone();
        mac.update(document.id_type().as_str().as_bytes());
        mac.update(b":");
        mac.update(document.number().as_bytes());
        PersonKey(hex::encode(mac.finalize().into_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::IdType;

    #[test]
    fn keys_are_stable_secret_dependent_and_type_scoped() {
        let a = PersonKeyer::new(&[1u8; 32]).unwrap();
        let b = PersonKeyer::new(&[2u8; 32]).unwrap();
        let id = IdDocument::parse(IdType::ResidentId, "11010519491231002X").unwrap();
        let permit = IdDocument::parse(IdType::TaiwanCompatriotPermit, "12345678").unwrap();
        let passport = IdDocument::parse(IdType::Passport, "12345678").unwrap();
        assert_eq!(a.key(&id), a.key(&id));
        assert_ne!(a.key(&id), b.key(&id));
        assert_ne!(a.key(&permit), a.key(&passport));
        assert_eq!(a.key(&id).as_str().len(), 64);
        assert!(!a.key(&id).as_str().contains("19491231"));
        assert!(PersonKeyer::new(b"short").is_err());
    }
}
