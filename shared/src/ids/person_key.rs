//! The person key: HMAC-SHA256 over (ID type, normalised number) with a secret from
//! configuration. It is the only way a person is named in keys, indexes, logs and exports, so a
//! leaked table dump does not reveal ID numbers, and without the secret the 18-digit space cannot
//! be enumerated back into them.
//!
//! The secret rotates by adding a *generation*: generation 1 keys the ID document, and each
//! later generation keys the previous generation's key with its own secret,
//! `key_n = HMAC(secret_n, key_{n-1})`. So a stored key moves to the next generation without
//! the ID number, which is never stored ([`PersonKeyer::advance`], the re-key job), and a leaked
//! old secret alone keys nothing that is stored once the job has run. Which generation is in
//! force is the table's to say ([`crate::rekey`]), not the secret's.

use super::IdDocument;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::fmt;

#[derive(Debug, thiserror::Error)]
#[error(
    "the person-key secret must be at least 32 bytes, or a JSON array of such secrets (oldest first)"
)]
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

/// A generation of the person key: 1 for the first secret, n for the n-th.
pub type KeyGeneration = u32;

/// Holds the secrets, every generation's; built once at init. It keys at its generation in
/// force, the newest unless [`PersonKeyer::at`] says otherwise.
#[derive(Clone)]
pub struct PersonKeyer {
    /// Oldest first.
    chain: std::sync::Arc<[Hmac<Sha256>]>,
    in_force: KeyGeneration,
}

impl fmt::Debug for PersonKeyer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "PersonKeyer(generation {} of {})",
            self.in_force,
            self.chain.len()
        )
    }
}

impl PersonKeyer {
    /// A keyer of one generation.
    pub fn new(secret: &[u8]) -> Result<Self, PersonKeyError> {
        Self::with_generations(&[secret])
    }

    /// A keyer of every generation in `secrets` (oldest first), in force at the newest.
    pub fn with_generations(secrets: &[&[u8]]) -> Result<Self, PersonKeyError> {
        let chain = secrets
            .iter()
            .map(|secret| {
                if secret.len() < 32 {
                    return Err(PersonKeyError);
                }
                Hmac::<Sha256>::new_from_slice(secret).map_err(|_| PersonKeyError)
            })
            .collect::<Result<Vec<_>, _>>()?;
        if chain.is_empty() {
            return Err(PersonKeyError);
        }
        Ok(Self {
            in_force: chain.len() as KeyGeneration,
            chain: chain.into(),
        })
    }

    /// From the secret's stored value: one secret, or a JSON array of every generation's, oldest
    /// first (how a rotation adds one without losing the others).
    pub fn from_secret(value: &str) -> Result<Self, PersonKeyError> {
        match serde_json::from_str::<Vec<String>>(value.trim()) {
            Ok(secrets) => {
                Self::with_generations(&secrets.iter().map(String::as_bytes).collect::<Vec<_>>())
            }
            Err(_) => Self::new(value.as_bytes()),
        }
    }

    /// The newest generation it holds.
    pub fn newest(&self) -> KeyGeneration {
        self.chain.len() as KeyGeneration
    }

    /// The generation it keys at.
    pub fn in_force(&self) -> KeyGeneration {
        self.in_force
    }

    /// The same secrets keying at `generation` (`None` if it does not hold that one: its
    /// secret was read before the rotation added it).
    pub fn at(&self, generation: KeyGeneration) -> Option<Self> {
        (1..=self.newest()).contains(&generation).then(|| Self {
            chain: self.chain.clone(),
            in_force: generation,
        })
    }

    /// The person key of `document` at the generation in force.
    pub fn key(&self, document: &IdDocument) -> PersonKey {
        let mut mac = self.chain[0].clone();
        mac.update(document.id_type().as_str().as_bytes());
        mac.update(b":");
        mac.update(document.number().as_bytes());
        let first = PersonKey(hex::encode(mac.finalize().into_bytes()));
        (2..=self.in_force).fold(first, |key, generation| self.next(&key, generation))
    }

    /// The key that `key`, of the generation before `generation`, has at `generation`.
    fn next(&self, key: &PersonKey, generation: KeyGeneration) -> PersonKey {
        let mut mac = self.chain[generation as usize - 1].clone();
        mac.update(key.as_str().as_bytes());
        PersonKey(hex::encode(mac.finalize().into_bytes()))
    }

    /// The key that a stored key of the generation before the one in force has now: what the
    /// re-key job writes in its place (`None` at generation 1: nothing comes before it).
    pub fn advance(&self, key: &PersonKey) -> Option<PersonKey> {
        (self.in_force > 1).then(|| self.next(key, self.in_force))
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

    #[test]
    fn a_new_generation_keys_the_previous_key_so_stored_keys_move_without_the_id() {
        let id = IdDocument::parse(IdType::ResidentId, "11010519491231002X").unwrap();
        let first = PersonKeyer::new(&[1u8; 32]).unwrap();
        let both =
            PersonKeyer::from_secret(&format!(r#"["{}", "{}"]"#, "a".repeat(32), "b".repeat(32)))
                .unwrap();
        assert_eq!(both.newest(), 2);
        assert_eq!(both.in_force(), 2);
        let old = both.at(1).unwrap();
        assert_eq!(
            old.key(&id),
            PersonKeyer::new(&[b'a'; 32]).unwrap().key(&id)
        );
        assert_ne!(both.key(&id), old.key(&id));
        assert_eq!(both.advance(&old.key(&id)), Some(both.key(&id)));
        assert_eq!(old.advance(&old.key(&id)), None);
        assert!(both.at(3).is_none() && both.at(0).is_none());
        // A plain secret is one generation; a short one in the array is refused.
        assert_eq!(
            PersonKeyer::from_secret(&"c".repeat(40)).unwrap().newest(),
            1
        );
        assert!(PersonKeyer::from_secret(r#"["short"]"#).is_err());
        assert!(PersonKeyer::from_secret("[]").is_err());
        assert_ne!(first.key(&id), both.key(&id));
    }
}
