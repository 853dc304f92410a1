//! The stand-in identity provider of the local stack and the tests: demo personas and a minter
//! that signs tokens for them with the dev key. Only verification lives in the domain crate;
//! nothing that can mint a token is deployed.

use chrono::{DateTime, Duration, Utc};
use fangyitong::identity::{Audience, Claims, OPERATOR_ROLE};
use fangyitong::ids::IdType;
use jsonwebtoken::{Algorithm, EncodingKey, Header};

/// Mints tokens with a private key: the stand-in identity provider of the local stack and tests.
pub struct TokenMinter {
    issuer: String,
    audience: String,
    key: EncodingKey,
    /// The key's id, named in each token's header (a JWK set picks keys by it).
    kid: Option<String>,
}

impl TokenMinter {
    pub fn from_ec_pem(
        private_pem: &[u8],
        issuer: &str,
        audience: &str,
    ) -> Result<Self, jsonwebtoken::errors::Error> {
        Ok(Self {
            issuer: issuer.into(),
            audience: audience.into(),
            key: EncodingKey::from_ec_pem(private_pem)?,
            kid: None,
        })
    }

    /// The same minter naming its key `kid` in each token's header.
    pub fn with_kid(self, kid: &str) -> Self {
        Self {
            kid: Some(kid.into()),
            ..self
        }
    }

    /// A token for `person`, valid for `ttl` from `now`, face-verified at `face_verified_at`.
    pub fn mint(&self, person: &Persona, now: DateTime<Utc>, ttl: Duration) -> String {
        let claims = Claims {
            iss: self.issuer.clone(),
            aud: Audience::One(self.audience.clone()),
            sub: format!("demo-{}", person.name),
            exp: (now + ttl).timestamp(),
            nbf: None,
            iat: Some(now.timestamp()),
            name: person.name.clone(),
            id_type: person.id_type,
            id_number: person.id_number.clone(),
            face_verified_at: person.face_verified_at.map(|t| t.timestamp()),
            roles: if person.operator {
                vec![OPERATOR_ROLE.into()]
            } else {
                vec![]
            },
        };
        let header = Header {
            kid: self.kid.clone(),
            ..Header::new(Algorithm::ES256)
        };
        jsonwebtoken::encode(&header, &claims, &self.key).expect("ES256 signing with a valid key")
    }
}

/// Someone a [`TokenMinter`] can mint a token for.
#[derive(Debug, Clone)]
pub struct Persona {
    pub name: String,
    pub id_type: IdType,
    pub id_number: String,
    pub face_verified_at: Option<DateTime<Utc>>,
    pub operator: bool,
}
