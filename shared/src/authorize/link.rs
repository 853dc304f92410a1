//! Share links (manual §2, method 1): the applicant sends the legal rep a link over WeChat; the
//! legal rep opens it and grants. A link is a signed, expiring token naming a stored link item;
//! the item is consumed by the decision (a conditional write), so a link works once.
//!
//! Token: `base64url(JSON {id, uscc, exp}) . base64url(HMAC-SHA256(secret, payload))`. The
//! signature is checked before any read, so forged links cost nothing.

use crate::ids::Uscc;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// What a signed link is for: a token made for one purpose never passes as another.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkKind {
    /// An applicant's link to the legal rep (manual §2, method 1).
    #[default]
    ShareLink,
    /// An enterprise's invitation to employees (manual §4.2).
    Invitation,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkClaims {
    #[serde(default)]
    pub kind: LinkKind,
    pub id: String,
    pub uscc: Uscc,
    pub exp: i64,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LinkError {
    #[error("the link is malformed or its signature does not match")]
    Invalid,
    #[error("the link has expired; ask for a new one")]
    Expired,
}

pub struct LinkSigner {
    mac: Hmac<Sha256>,
}

impl LinkSigner {
    pub fn new(secret: &[u8]) -> Option<Self> {
        (secret.len() >= 32).then(|| Self {
            mac: Hmac::new_from_slice(secret).expect("HMAC takes any key length"),
        })
    }

    pub fn sign(&self, claims: &LinkClaims) -> String {
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).expect("claims serialise"));
        let mut mac = self.mac.clone();
        mac.update(payload.as_bytes());
        format!(
            "{payload}.{}",
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        )
    }

    /// The claims of a token this signer made for `kind`, unexpired at `now`.
    pub fn verify(
        &self,
        token: &str,
        kind: LinkKind,
        now: DateTime<Utc>,
    ) -> Result<LinkClaims, LinkError> {
        let (payload, signature) = token.split_once('.').ok_or(LinkError::Invalid)?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| LinkError::Invalid)?;
        let mut mac = self.mac.clone();
        mac.update(payload.as_bytes());
        mac.verify_slice(&signature)
            .map_err(|_| LinkError::Invalid)?;
        let bytes = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| LinkError::Invalid)?;
        let claims: LinkClaims = serde_json::from_slice(&bytes).map_err(|_| LinkError::Invalid)?;
        if claims.kind != kind {
            return Err(LinkError::Invalid);
        }
        if claims.exp <= now.timestamp() {
            return Err(LinkError::Expired);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn sign_verify_expire_and_forge() {
        let signer = LinkSigner::new(&[7u8; 32]).unwrap();
        let now = Utc.with_ymd_and_hms(2022, 4, 1, 0, 0, 0).unwrap();
        let claims = LinkClaims {
            kind: LinkKind::ShareLink,
            id: "L1".into(),
            uscc: Uscc::parse("91440300708461136T").unwrap(),
            exp: now.timestamp() + 60,
        };
        let token = signer.sign(&claims);
        assert_eq!(
            signer.verify(&token, LinkKind::ShareLink, now),
            Ok(claims.clone())
        );
        assert_eq!(
            signer.verify(
                &token,
                LinkKind::ShareLink,
                now + chrono::Duration::seconds(61)
            ),
            Err(LinkError::Expired)
        );
        let other = LinkSigner::new(&[8u8; 32]).unwrap();
        assert_eq!(
            other.verify(&token, LinkKind::ShareLink, now),
            Err(LinkError::Invalid)
        );
        let (payload, sig) = token.split_once('.').unwrap();
        let forged_payload = URL_SAFE_NO_PAD.encode(
            serde_json::to_vec(&LinkClaims {
                exp: claims.exp + 9999,
                ..claims
            })
            .unwrap(),
        );
        assert_eq!(
            signer.verify(&format!("{forged_payload}.{sig}"), LinkKind::ShareLink, now),
            Err(LinkError::Invalid)
        );
        assert_eq!(
            signer.verify(payload, LinkKind::ShareLink, now),
            Err(LinkError::Invalid)
        );
        assert_eq!(
            signer.verify(&token, LinkKind::Invitation, now),
            Err(LinkError::Invalid),
            "a share link is no invitation"
        );
        assert!(LinkSigner::new(b"short").is_none());
    }
}
