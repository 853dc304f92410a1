//! What each function is given at init (Lambda init or local start), built once and cloned
//! cheaply into every request. Each function gets only what it uses:
//!
//! | state | what it holds | functions |
//! |---|---|---|
//! | [`Core`] | the table, the clock, the settings, the USCC policy (nothing secret) | relabel, and inside every other |
//! | [`VerifiedState`] | the core and the verifier of callers' tokens (the provider's public keys) | query-sites |
//! | [`ApiState`] | the same and the person keyer (the person-key secret) | query-nucleic, query-vaccine |
//! | [`LinkState`] | the API state, the person keyer and the link signer (the link-signing secret) | authorize, invite-join |
//! | [`crate::export::ExportState`] | the API state and the export queue (SQS) | export |
//! | [`crate::export::WorkerState`] | the core, S3 and SES (nothing secret) | export-worker |
//! | [`crate::sync::SyncContext`] | the core's table and clock, the person keyer, S3 | sync |
//! | [`crate::rekey::RekeyContext`] | the table, the clock, the person keyer (every generation) | rekey |
//!
//! Extractors take the part they need through axum's `FromRef`, so the identity and tenant
//! guards run on any of these states.

use crate::clock::{SharedClock, SystemClock};
use crate::config::{self, ConfigError, Settings, Vars};
use crate::identity::{IdentityConfigError, IdentityVerifier, KeySource};
use crate::ids::{PersonKeyer, UsccPolicy};
use crate::store::Store;
use axum::extract::FromRef;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Identity(#[from] IdentityConfigError),
    #[error("{0} must be at least 32 bytes")]
    Secret(&'static str),
    #[error("the secret {variable} names could not be read: {why}")]
    SecretUnreadable { variable: &'static str, why: String },
}

/// The table, the clock, the settings: what every function has, none of it secret.
#[derive(Clone)]
pub struct Core {
    pub store: Store,
    pub clock: SharedClock,
    pub settings: Arc<Settings>,
    pub uscc_policy: Arc<UsccPolicy>,
    /// This execution environment's copy of the data's freshness (see [`crate::freshness`]).
    pub freshness: crate::freshness::FreshnessCache,
    /// This execution environment's copy of the person-key epoch (see [`crate::rekey::epoch`]).
    pub key_epoch: crate::rekey::EpochCache,
}

impl Core {
    pub fn new(
        dynamodb: aws_sdk_dynamodb::Client,
        table: impl Into<String>,
        settings: Settings,
        clock: SharedClock,
    ) -> Self {
        Self {
            store: Store::new(dynamodb, table),
            clock,
            settings: Arc::new(settings),
            uscc_policy: Arc::new(UsccPolicy::default()),
            freshness: Default::default(),
            key_epoch: Default::default(),
        }
    }

    /// From the environment (`TABLE_NAME` and the optional settings), as a Lambda's init does it.
    pub fn from_env(aws: &aws_config::SdkConfig, env: &dyn Vars) -> Result<Self, InitError> {
        Ok(Self {
            uscc_policy: Arc::new(config::uscc_policy(env)),
            ..Self::new(
                aws_sdk_dynamodb::Client::new(aws),
                config::required(env, "TABLE_NAME")?,
                Settings::from_env(env)?,
                Arc::new(SystemClock),
            )
        })
    }
}

/// The identity provider: who issues tokens, for whom, and the keys that verify them.
#[derive(Debug, Clone)]
pub struct IdentityConfig {
    pub issuer: String,
    pub audience: String,
    pub keys: KeySource,
    /// Clock skew tolerated between the provider and us (`JWT_LEEWAY_SECONDS`, default 60).
    pub leeway: chrono::Duration,
}

impl IdentityConfig {
    pub fn from_env(env: &dyn Vars) -> Result<Self, ConfigError> {
        // The provider's JWKS URL is what follows its key rotations; a fixed set or key is for
        // providers that publish none.
        let keys = if let Some(url) = config::optional(env, "JWT_JWKS_URL") {
            KeySource::JwksUrl(url)
        } else if let Some(jwks) = config::optional(env, "JWT_JWKS") {
            KeySource::Jwks(jwks)
        } else if let Some(pem) = config::optional(env, "JWT_PUBLIC_KEY_PEM") {
            KeySource::Pem(pem)
        } else {
            return Err(ConfigError::Missing(
                "JWT_JWKS_URL (or JWT_JWKS, or JWT_PUBLIC_KEY_PEM)",
            ));
        };
        let leeway = match config::optional(env, "JWT_LEEWAY_SECONDS") {
            None => chrono::Duration::seconds(60),
            Some(raw) => raw
                .trim()
                .parse::<u16>()
                .map(|s| chrono::Duration::seconds(s.into()))
                .map_err(|e| ConfigError::Invalid("JWT_LEEWAY_SECONDS", e.to_string()))?,
        };
        Ok(Self {
            issuer: config::required(env, "JWT_ISSUER")?,
            audience: config::required(env, "JWT_AUDIENCE")?,
            keys,
            leeway,
        })
    }
}

/// The person keyer from the secret `PERSON_KEY_SECRET_ARN` names (API functions and sync:
/// whoever turns an ID document into a person key).
pub async fn person_keyer_from_env(
    aws: &aws_config::SdkConfig,
    env: &dyn Vars,
) -> Result<PersonKeyer, InitError> {
    const VARIABLE: &str = "PERSON_KEY_SECRET_ARN";
    person_keyer(&crate::secrets::read(aws, env, VARIABLE).await?)
}

/// The person keyer from the person-key secret's value.
pub fn person_keyer(secret: &crate::secrets::Secret) -> Result<PersonKeyer, InitError> {
    PersonKeyer::from_secret(secret.expose()).map_err(|_| InitError::Secret(secret.variable()))
}

/// The state of the routes open to anyone verified (query-sites): whose token it is matters,
/// not which person of this service, so it holds no person-key secret.
#[derive(Clone, FromRef)]
pub struct VerifiedState {
    pub core: Core,
    pub verifier: Arc<IdentityVerifier>,
}

impl VerifiedState {
    /// The core and a verifier of `identity`'s tokens (reading its JWKS URL, if it has one).
    pub async fn new(core: Core, identity: IdentityConfig) -> Result<Self, InitError> {
        Self::load(core, identity, false).await
    }

    /// [`Self::new`], opening the DynamoDB connection ([`Store::warm_up`]) while the provider's
    /// keys are read when `warm_up`.
    async fn load(core: Core, identity: IdentityConfig, warm_up: bool) -> Result<Self, InitError> {
        let now = core.clock.now();
        let warming = async {
            if warm_up {
                core.store.warm_up().await;
            }
        };
        let (verifier, ()) = tokio::join!(
            IdentityVerifier::load(identity.issuer, identity.audience, identity.keys, now),
            warming
        );
        Ok(Self {
            verifier: Arc::new(verifier?.with_leeway(identity.leeway)),
            core,
        })
    }

    /// Everything from the environment, as a Lambda's init does it.
    pub async fn from_env(aws: &aws_config::SdkConfig, env: &dyn Vars) -> Result<Self, InitError> {
        Self::load(
            Core::from_env(aws, env)?,
            IdentityConfig::from_env(env)?,
            warm_up(env),
        )
        .await
    }
}

/// Whether an HTTP function's init opens its DynamoDB connection (`DYNAMODB_WARM_UP`, on unless
/// `0`; off only to measure what it saves: `make coldstart`, docs/build.md).
fn warm_up(env: &dyn Vars) -> bool {
    config::optional(env, "DYNAMODB_WARM_UP").as_deref() != Some("0")
}

/// The state of the functions that answer for people and enterprises (query-nucleic,
/// query-vaccine): the verifier and the person keyer.
#[derive(Clone, FromRef)]
pub struct ApiState {
    pub core: Core,
    pub verifier: Arc<IdentityVerifier>,
    pub keyer: PersonKeyer,
}

impl ApiState {
    pub async fn new(
        core: Core,
        identity: IdentityConfig,
        keyer: PersonKeyer,
    ) -> Result<Self, InitError> {
        let verified = VerifiedState::new(core, identity).await?;
        Ok(Self {
            core: verified.core,
            verifier: verified.verifier,
            keyer,
        })
    }

    /// Everything from the environment, as a Lambda's init does it: the provider's keys, the
    /// person-key secret and the DynamoDB warm-up at once (each is a round trip; deployed, a TLS
    /// handshake too).
    pub async fn from_env(aws: &aws_config::SdkConfig, env: &dyn Vars) -> Result<Self, InitError> {
        let core = Core::from_env(aws, env)?;
        let identity = IdentityConfig::from_env(env)?;
        let (verified, keyer) = tokio::try_join!(
            VerifiedState::load(core, identity, warm_up(env)),
            person_keyer_from_env(aws, env)
        )?;
        Ok(Self {
            core: verified.core,
            verifier: verified.verifier,
            keyer,
        })
    }
}

/// The state of the functions that also key people by their ID document and sign links
/// (authorize: share links; invite-join: invitations).
#[derive(Clone, FromRef)]
pub struct LinkState {
    pub core: Core,
    pub verifier: Arc<IdentityVerifier>,
    pub keyer: PersonKeyer,
    pub links: Arc<crate::authorize::LinkSigner>,
}

impl LinkState {
    pub fn new(api: ApiState, link_secret: &crate::secrets::Secret) -> Result<Self, InitError> {
        let links = crate::authorize::LinkSigner::new(link_secret.expose().as_bytes())
            .ok_or(InitError::Secret(link_secret.variable()))?;
        Ok(Self {
            core: api.core,
            verifier: api.verifier,
            keyer: api.keyer,
            links: Arc::new(links),
        })
    }

    /// Everything from the environment, as a Lambda's init does it.
    pub async fn from_env(aws: &aws_config::SdkConfig, env: &dyn Vars) -> Result<Self, InitError> {
        let (api, link_secret) = tokio::try_join!(
            ApiState::from_env(aws, env),
            crate::secrets::read(aws, env, "LINK_SIGNING_SECRET_ARN")
        )?;
        Self::new(api, &link_secret)
    }
}

/// How a scheduled job reports a failure to its caller (Step Functions, EventBridge Scheduler):
/// the state machines retry `Retryable` errors (throttling, timeouts) and stop on `Fatal` ones.
pub fn job_failure(
    retryable: bool,
    error: impl std::fmt::Display,
) -> lambda_http::lambda_runtime::Diagnostic {
    lambda_http::lambda_runtime::Diagnostic {
        error_type: if retryable { "Retryable" } else { "Fatal" }.into(),
        error_message: error.to_string(),
    }
}
