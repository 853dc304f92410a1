//! The identity provider's verification keys, and how they follow its rotations.
//!
//! A provider rotates its signing keys by publishing the next key in its JWK set beside the
//! current one, then signing with it, then dropping the old one. A verifier configured with one
//! fixed key fails every login on the day the provider switches, until someone redeploys. So with
//! a JWKS URL ([`KeySource::JwksUrl`]) the keys are read at init and kept, and read again:
//! - when a token names a key (`kid`) this copy does not know — at most once per
//!   [`REFETCH_COOLDOWN`], so a flood of tokens with made-up `kid`s costs the provider one request
//!   per execution environment per cooldown, not one per token;
//! - when this copy is older than [`MAX_AGE`], so a key the provider dropped stops verifying.
//!
//! A failed fetch keeps the keys this copy has: a provider's outage must not log everyone out.

use chrono::{DateTime, Duration, Utc};
use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Header};
use std::sync::{Arc, RwLock};

/// How long a JWK set read from the provider is trusted before it is read again.
pub const MAX_AGE: Duration = Duration::hours(1);
/// The least time between two reads prompted by an unknown `kid`.
pub const REFETCH_COOLDOWN: Duration = Duration::seconds(30);
/// A JWK set is a few keys; anything larger is not one.
const MAX_JWKS_BYTES: usize = 64 * 1024;
/// How long one read of the JWK set may take, inside a request that waits for it.
const FETCH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

#[derive(Debug, thiserror::Error)]
pub enum IdentityConfigError {
    #[error("JWT_PUBLIC_KEY_PEM is neither an EC nor an RSA public key in PEM")]
    Pem,
    #[error("the JWK set has no usable keys: {0}")]
    Jwks(String),
    #[error("the JWK set at {url} could not be read: {why}")]
    JwksUnreachable { url: String, why: String },
}

/// Where the provider's verification keys come from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// One public key in PEM (EC P-256 → ES256, RSA → RS256).
    Pem(String),
    /// A JWK set document, fixed at deployment; keys are picked by `kid`.
    Jwks(String),
    /// The provider's JWKS URL: read at init and followed through rotations.
    JwksUrl(String),
}

struct VerificationKey {
    kid: Option<String>,
    algorithm: Algorithm,
    key: DecodingKey,
}

/// The keys as read at one moment.
pub(super) struct KeySet {
    keys: Vec<VerificationKey>,
    /// Keys from a JWK set are chosen by `kid` only: a token must name its key.
    pub(super) requires_kid: bool,
}

impl KeySet {
    fn from_pem(pem: &str) -> Result<Self, IdentityConfigError> {
        let pem = pem.as_bytes();
        let (algorithm, key) = match DecodingKey::from_ec_pem(pem) {
            Ok(key) => (Algorithm::ES256, key),
            Err(_) => (
                Algorithm::RS256,
                DecodingKey::from_rsa_pem(pem).map_err(|_| IdentityConfigError::Pem)?,
            ),
        };
        Ok(Self {
            keys: vec![VerificationKey {
                kid: None,
                algorithm,
                key,
            }],
            requires_kid: false,
        })
    }

    fn from_jwks(json: &[u8]) -> Result<Self, IdentityConfigError> {
        let set: JwkSet =
            serde_json::from_slice(json).map_err(|e| IdentityConfigError::Jwks(e.to_string()))?;
        let mut keys = Vec::new();
        for jwk in &set.keys {
            let algorithm = match &jwk.algorithm {
                AlgorithmParameters::EllipticCurve(_) => Algorithm::ES256,
                AlgorithmParameters::RSA(_) => Algorithm::RS256,
                _ => continue,
            };
            let key =
                DecodingKey::from_jwk(jwk).map_err(|e| IdentityConfigError::Jwks(e.to_string()))?;
            keys.push(VerificationKey {
                kid: jwk.common.key_id.clone(),
                algorithm,
                key,
            });
        }
        if keys.is_empty() {
            return Err(IdentityConfigError::Jwks("no EC or RSA keys".into()));
        }
        Ok(Self {
            requires_kid: true,
            keys,
        })
    }

    /// The key that verifies a token with this header, with its algorithm.
    pub(super) fn find(&self, header: &Header) -> Option<(Algorithm, &DecodingKey)> {
        self.keys
            .iter()
            .find(|k| {
                k.algorithm == header.alg
                    && (header.kid.is_none() || k.kid.is_none() || k.kid == header.kid)
            })
            .map(|k| (k.algorithm, &k.key))
    }

    pub(super) fn len(&self) -> usize {
        self.keys.len()
    }
}

/// The provider's keys: fixed, or followed at its JWKS URL.
pub(super) struct ProviderKeys {
    current: RwLock<Arc<KeySet>>,
    remote: Option<RemoteJwks>,
}

struct RemoteJwks {
    url: hyper::Uri,
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Empty<Bytes>>,
    /// Held while reading, so that concurrent requests wait for one read instead of each making
    /// their own.
    reading: tokio::sync::Mutex<()>,
    times: std::sync::Mutex<Reads>,
}

struct Reads {
    /// When the keys in use were read.
    read_at: DateTime<Utc>,
    /// When a read was last tried, successful or not (the cooldown counts from here).
    tried_at: DateTime<Utc>,
}

impl ProviderKeys {
    /// The keys from `source`; a JWKS URL is read now, and a configuration that yields no key
    /// fails here, at init, not in a request.
    pub(super) async fn load(
        source: KeySource,
        now: DateTime<Utc>,
    ) -> Result<Self, IdentityConfigError> {
        let (set, remote) = match source {
            KeySource::Pem(pem) => (KeySet::from_pem(&pem)?, None),
            KeySource::Jwks(json) => (KeySet::from_jwks(json.as_bytes())?, None),
            KeySource::JwksUrl(url) => {
                let unreachable = |why: String| IdentityConfigError::JwksUnreachable {
                    url: url.clone(),
                    why,
                };
                let uri: hyper::Uri = url.parse().map_err(|e| unreachable(format!("{e}")))?;
                let remote = RemoteJwks::new(uri).map_err(unreachable)?;
                let set = remote.read().await.map_err(unreachable)?;
                tracing::info!(url = %url, keys = set.len(), "read the identity provider's keys");
                *remote.times() = Reads {
                    read_at: now,
                    tried_at: now,
                };
                (set, Some(remote))
            }
        };
        Ok(Self {
            current: RwLock::new(Arc::new(set)),
            remote,
        })
    }

    fn current(&self) -> Arc<KeySet> {
        // A poisoned lock still holds a whole `Arc`: writers only swap it.
        self.current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// The keys to verify a token with `header` against, as of `now`: this copy, or a fresh read
    /// when the token names a key this copy lacks or this copy is too old — at most one read per
    /// cooldown, and one at a time.
    pub(super) async fn for_token(&self, header: &Header, now: DateTime<Utc>) -> Arc<KeySet> {
        let keys = self.current();
        let Some(remote) = &self.remote else {
            return keys;
        };
        if !remote.due(&keys, header, now) {
            return keys;
        }
        let _reading = remote.reading.lock().await;
        // Another request may have read the set while this one waited.
        let keys = self.current();
        if !remote.due(&keys, header, now) {
            return keys;
        }
        remote.times().tried_at = now;
        match remote.read().await {
            Ok(set) => {
                tracing::info!(keys = set.len(), "re-read the identity provider's keys");
                let set = Arc::new(set);
                *self
                    .current
                    .write()
                    .unwrap_or_else(|poisoned| poisoned.into_inner()) = set.clone();
                remote.times().read_at = now;
                set
            }
            Err(why) => {
                tracing::warn!(
                    why = %why,
                    "the identity provider's keys could not be re-read; keeping the last ones"
                );
                keys
            }
        }
    }
}

impl RemoteJwks {
    fn new(url: hyper::Uri) -> Result<Self, String> {
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
            .map_err(|e| format!("no TLS roots: {e}"))?
            .https_or_http()
            .enable_http1()
            .build();
        Ok(Self {
            url,
            client: Client::builder(TokioExecutor::new()).build(https),
            reading: tokio::sync::Mutex::new(()),
            times: std::sync::Mutex::new(Reads {
                read_at: DateTime::<Utc>::MIN_UTC,
                tried_at: DateTime::<Utc>::MIN_UTC,
            }),
        })
    }

    fn times(&self) -> std::sync::MutexGuard<'_, Reads> {
        // Two timestamps cannot be left half-written.
        self.times
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether a token with `header` warrants reading the set again: the key is unknown or the
    /// copy too old, and the last try lies a cooldown back.
    fn due(&self, keys: &KeySet, header: &Header, now: DateTime<Utc>) -> bool {
        let times = self.times();
        let wanted = keys.find(header).is_none() || now - times.read_at >= MAX_AGE;
        wanted && now - times.tried_at >= REFETCH_COOLDOWN
    }

    async fn read(&self) -> Result<KeySet, String> {
        let response = tokio::time::timeout(FETCH_TIMEOUT, self.client.get(self.url.clone()))
            .await
            .map_err(|_| format!("no answer within {FETCH_TIMEOUT:?}"))?
            .map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("answered {}", response.status()));
        }
        let body = tokio::time::timeout(
            FETCH_TIMEOUT,
            Limited::new(response.into_body(), MAX_JWKS_BYTES).collect(),
        )
        .await
        .map_err(|_| format!("body not read within {FETCH_TIMEOUT:?}"))?
        .map_err(|e| e.to_string())?
        .to_bytes();
        KeySet::from_jwks(&body).map_err(|e| e.to_string())
    }
}
