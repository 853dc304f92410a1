//! Who is calling: bearer JWTs issued by the 深i企 identity provider after face verification,
//! verified on every request (signature, issuer, audience, expiry against the injected clock)
//! into a typed [`Identity`]. The token carries the person's ID document; it is hashed into a
//! [`PersonKey`] and masked here, and the raw number goes no further. The provider's keys, and
//! how they follow its rotations, are [`keys`].

use crate::app::Core;
use crate::http::ApiError;
use crate::ids::{IdDocument, IdType, PersonKey, PersonKeyer, PersonName};
use crate::rekey::KeyEpoch;
use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::Validation;
use keys::ProviderKeys;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

pub mod keys;
pub use keys::{IdentityConfigError, KeySource};

/// Seconds of clock skew tolerated between the provider and us.
const LEEWAY_SECONDS: i64 = 60;
/// The longest name a token may carry: room for transliterated foreign names (passports).
const MAX_TOKEN_NAME_CHARS: usize = 100;
/// The role claim that marks platform operators (运营专人).
pub const OPERATOR_ROLE: &str = "operator";

/// The claims the identity provider puts in its tokens.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    /// RFC 7519 allows one audience or several.
    pub aud: Audience,
    pub sub: String,
    pub exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// When the provider issued the token (epoch seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    pub name: String,
    pub id_type: IdType,
    pub id_number: String,
    /// When the provider last verified the person's face (epoch seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub face_verified_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

/// A caller whose token verified, not yet keyed: what routes open to anyone verified need (no
/// person-key secret). The ID document stays in here; only its masked form comes out.
pub struct Verified {
    document: IdDocument,
    pub name: String,
    pub face_verified_at: Option<DateTime<Utc>>,
    pub operator: bool,
}

impl Verified {
    pub fn masked_id(&self) -> String {
        self.document.masked()
    }

    /// The caller as a person of this service: the ID document turned into the person key of
    /// the generation in force (and, during a re-key, of the one being replaced).
    pub fn identify(self, keyer: &PersonKeyer, epoch: KeyEpoch) -> Result<Identity, ApiError> {
        let at = |generation| {
            keyer.at(generation).ok_or_else(|| {
                ApiError::unavailable(crate::rekey::RekeyError::MissingGeneration(generation))
            })
        };
        let in_force = at(epoch.in_force())?;
        let previous = match epoch.previous() {
            Some(generation) => Some(at(generation)?.key(&self.document)),
            None => None,
        };
        Ok(Identity {
            person: in_force.key(&self.document),
            previous,
            keyer: in_force,
            masked_id: self.document.masked(),
            id_type: self.document.id_type(),
            name: self.name,
            face_verified_at: self.face_verified_at,
            operator: self.operator,
        })
    }
}

/// A verified caller.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The person key of the generation in force.
    pub person: PersonKey,
    /// During a re-key ([`crate::rekey`]): the key of the generation being replaced. The
    /// person's items may still be under it, so reads of their own look under both
    /// ([`Identity::keys`]); writes wait until the re-key is done.
    pub previous: Option<PersonKey>,
    /// The keyer in force, for the ID numbers this request keys (an employee added by hand).
    pub keyer: PersonKeyer,
    pub name: String,
    pub id_type: IdType,
    pub masked_id: String,
    pub face_verified_at: Option<DateTime<Utc>>,
    pub operator: bool,
}

impl Identity {
    /// The person's keys: the one in force, then (during a re-key) the one being replaced.
    pub fn keys(&self) -> impl Iterator<Item = &PersonKey> {
        std::iter::once(&self.person).chain(self.previous.as_ref())
    }

    /// What `read` finds under each of the person's keys, together: a person's own items, read
    /// under both keys while a re-key moves them (the same requests concurrently).
    pub async fn gather<'a, T, E, F, Fut>(&'a self, read: F) -> Result<Vec<T>, E>
    where
        F: Fn(&'a PersonKey) -> Fut,
        Fut: std::future::Future<Output = Result<Vec<T>, E>>,
    {
        let found = futures::future::try_join_all(self.keys().map(read)).await?;
        Ok(found.into_iter().flatten().collect())
    }

    /// Whether `key` is one of this person's.
    pub fn is(&self, key: &PersonKey) -> bool {
        self.keys().any(|k| k == key)
    }

    /// Whether the face was verified no longer than `window` before `now` (and not in the future
    /// beyond the skew leeway).
    pub fn face_verified_within(&self, now: DateTime<Utc>, window: Duration) -> bool {
        self.face_verified_at
            .is_some_and(|at| at <= now + Duration::seconds(LEEWAY_SECONDS) && now - at <= window)
    }
}

pub struct IdentityVerifier {
    issuer: String,
    audience: String,
    keys: ProviderKeys,
    /// Clock skew tolerated between the provider and us.
    leeway: Duration,
}

impl std::fmt::Debug for IdentityVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityVerifier")
            .field("issuer", &self.issuer)
            .finish()
    }
}

impl IdentityVerifier {
    /// A verifier of the tokens `issuer` issues for `audience`, with the keys from `source` (a
    /// JWKS URL is read now: `now` starts its clock of re-reads).
    pub async fn load(
        issuer: String,
        audience: String,
        source: KeySource,
        now: DateTime<Utc>,
    ) -> Result<Self, IdentityConfigError> {
        Ok(Self {
            issuer,
            audience,
            keys: ProviderKeys::load(source, now).await?,
            leeway: Duration::seconds(LEEWAY_SECONDS),
        })
    }

    /// The same verifier tolerating `leeway` of clock skew (expiry, not-before, issued-at).
    pub fn with_leeway(self, leeway: Duration) -> Self {
        Self { leeway, ..self }
    }

    /// Verifies `token` as of `now`, and keys the person it names at `keyer`'s generation.
    pub async fn identify(
        &self,
        token: &str,
        now: DateTime<Utc>,
        keyer: &PersonKeyer,
    ) -> Result<Identity, ApiError> {
        self.verify(token, now)
            .await?
            .identify(keyer, KeyEpoch::Settled(keyer.in_force()))
    }

    /// Verifies `token` as of `now`.
    pub async fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<Verified, ApiError> {
        let invalid = |why: &str| {
            ApiError::unauthorized(
                "invalid_token",
                format!("the bearer token is not valid: {why}"),
            )
        };
        let header = jsonwebtoken::decode_header(token).map_err(|_| invalid("malformed"))?;
        let keys = self.keys.for_token(&header, now).await;
        if keys.requires_kid && header.kid.is_none() {
            return Err(invalid("it names no key (kid)"));
        }
        let (algorithm, key) = keys
            .find(&header)
            .ok_or_else(|| invalid("unknown key or algorithm"))?;
        let mut validation = Validation::new(algorithm);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        // Expiry is checked below against the injected clock, not the system time.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        let claims = jsonwebtoken::decode::<Claims>(token, key, &validation)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidIssuer => invalid("wrong issuer"),
                jsonwebtoken::errors::ErrorKind::InvalidAudience => invalid("wrong audience"),
                jsonwebtoken::errors::ErrorKind::InvalidSignature => invalid("bad signature"),
                _ => invalid("malformed"),
            })?
            .claims;
        let now_s = now.timestamp();
        let leeway = self.leeway.num_seconds();
        if claims.exp.saturating_add(leeway) < now_s {
            return Err(ApiError::unauthorized(
                "token_expired",
                "the bearer token has expired; log in again",
            ));
        }
        if claims
            .nbf
            .is_some_and(|nbf| nbf.saturating_sub(leeway) > now_s)
        {
            return Err(invalid("not valid yet"));
        }
        if claims
            .iat
            .is_some_and(|iat| iat.saturating_sub(leeway) > now_s)
        {
            return Err(invalid("issued in the future"));
        }
        let document = IdDocument::parse(claims.id_type, &claims.id_number).map_err(|e| {
            ApiError::unauthorized(
                "invalid_identity",
                format!("the token's ID document is not valid: {e}"),
            )
        })?;
        // The name is shown and exported as the person's: the same rules as a typed one.
        let name = PersonName::parse(&claims.name, MAX_TOKEN_NAME_CHARS).map_err(|e| {
            ApiError::unauthorized(
                "invalid_identity",
                format!("the token's name is not valid: {e}"),
            )
        })?;
        Ok(Verified {
            document,
            name: name.into_string(),
            face_verified_at: claims
                .face_verified_at
                .and_then(|s| DateTime::from_timestamp(s, 0)),
            operator: claims.roles.iter().any(|r| r == OPERATOR_ROLE),
        })
    }
}

/// A state callers can be verified on: it has the token verifier and the core (for the clock).
/// Any function's state is one when it holds both (axum's `FromRef`).
pub trait VerifyingState: Send + Sync {
    fn verifier(&self) -> Arc<IdentityVerifier>;
    fn core(&self) -> Core;
}

impl<S> VerifyingState for S
where
    S: Send + Sync,
    Arc<IdentityVerifier>: FromRef<S>,
    Core: FromRef<S>,
{
    fn verifier(&self) -> Arc<IdentityVerifier> {
        Arc::from_ref(self)
    }
    fn core(&self) -> Core {
        Core::from_ref(self)
    }
}

/// A state callers can be known on as people of this service: it also has the person keyer.
pub trait PersonState: VerifyingState {
    fn keyer(&self) -> PersonKeyer;
}

impl<S> PersonState for S
where
    S: VerifyingState,
    PersonKeyer: FromRef<S>,
{
    fn keyer(&self) -> PersonKeyer {
        PersonKeyer::from_ref(self)
    }
}

/// The caller, from the bearer token.
impl<S: VerifyingState> FromRequestParts<S> for Verified {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or_else(|| {
                ApiError::unauthorized(
                    "unauthenticated",
                    "log in first: send Authorization: Bearer <token>",
                )
            })?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| {
                h.strip_prefix("Bearer ")
                    .or_else(|| h.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                ApiError::unauthorized(
                    "unauthenticated",
                    "the Authorization header must be `Bearer <token>`",
                )
            })?;
        let now = state.core().clock.now();
        state.verifier().verify(token, now).await
    }
}

/// The caller as a person of this service, keyed as the epoch says. During a re-key a request
/// that would write is refused here (503 `rekeying`): while keys move, only the re-key job and
/// the records reads leave (a detail view, an export's sending) write items naming a person, and
/// those copy the key generation of the item they name people from.
impl<S: PersonState> FromRequestParts<S> for Identity {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let verified = Verified::from_request_parts(parts, state).await?;
        let core = state.core();
        let epoch = core.key_epoch.read(&core.store, core.clock.now()).await?;
        if epoch.is_migrating() && !parts.method.is_safe() {
            return Err(ApiError::rekeying());
        }
        verified.identify(&state.keyer(), epoch)
    }
}
