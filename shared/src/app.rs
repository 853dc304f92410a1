//! The state every handler shares, built once per execution environment (Lambda init or local
//! start): SDK clients, the table, keys and settings. Cloning it is cheap.

use crate::clock::{SharedClock, SystemClock};
use crate::config::{self, ConfigError, Settings};
use crate::identity::{IdentityConfigError, IdentityVerifier, KeySource};
use crate::ids::{PersonKeyer, UsccPolicy};
use crate::store::Store;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub verifier: Arc<IdentityVerifier>,
    pub keyer: PersonKeyer,
    pub links: Arc<crate::authorize::LinkSigner>,
    pub uscc_policy: Arc<UsccPolicy>,
    pub clock: SharedClock,
    pub settings: Arc<Settings>,
    /// S3, SQS and SES for exports: only the export function (and the local stack) has them.
    pub exports: Option<Arc<crate::export::ExportServices>>,
}

#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Identity(#[from] IdentityConfigError),
    #[error("PERSON_KEY_SECRET / LINK_SIGNING_SECRET must be at least 32 bytes")]
    Secret,
}

/// The secrets and identity-provider settings, separate from AWS clients so tests can build them.
#[derive(Debug, Clone)]
pub struct Secrets {
    pub person_key_secret: String,
    pub link_signing_secret: String,
    pub jwt_issuer: String,
    pub jwt_audience: String,
    pub jwt_keys: KeySource,
}

impl Secrets {
    pub fn from_env() -> Result<Self, ConfigError> {
        let jwt_keys = match (
            config::optional("JWT_PUBLIC_KEY_PEM"),
            config::optional("JWT_JWKS"),
        ) {
            (Some(pem), _) => KeySource::Pem(pem),
            (None, Some(jwks)) => KeySource::Jwks(jwks),
            (None, None) => return Err(ConfigError::Missing("JWT_PUBLIC_KEY_PEM or JWT_JWKS")),
        };
        Ok(Self {
            person_key_secret: config::required("PERSON_KEY_SECRET")?,
            link_signing_secret: config::required("LINK_SIGNING_SECRET")?,
            jwt_issuer: config::required("JWT_ISSUER")?,
            jwt_audience: config::required("JWT_AUDIENCE")?,
            jwt_keys,
        })
    }
}

impl AppState {
    pub fn new(
        dynamodb: aws_sdk_dynamodb::Client,
        table: impl Into<String>,
        secrets: Secrets,
        settings: Settings,
        clock: SharedClock,
    ) -> Result<Self, InitError> {
        let keyer = PersonKeyer::new(secrets.person_key_secret.as_bytes())
            .map_err(|_| InitError::Secret)?;
        let verifier = IdentityVerifier::new(
            secrets.jwt_issuer,
            secrets.jwt_audience,
            secrets.jwt_keys,
            keyer.clone(),
        )?;
        let links = crate::authorize::LinkSigner::new(secrets.link_signing_secret.as_bytes())
            .ok_or(InitError::Secret)?;
        Ok(Self {
            store: Store::new(dynamodb, table),
            verifier: Arc::new(verifier),
            keyer,
            links: Arc::new(links),
            uscc_policy: Arc::new(config::uscc_policy()),
            clock,
            settings: Arc::new(settings),
            exports: None,
        })
    }

    /// The same state, able to run exports.
    pub fn with_exports(self, services: crate::export::ExportServices) -> Self {
        Self {
            exports: Some(Arc::new(services)),
            ..self
        }
    }

    /// Everything from the environment, as a Lambda's init does it.
    pub async fn from_env() -> Result<Self, InitError> {
        let aws = aws_config::load_from_env().await;
        let table = config::required("TABLE_NAME")?;
        Self::new(
            aws_sdk_dynamodb::Client::new(&aws),
            table,
            Secrets::from_env()?,
            Settings::from_env()?,
            Arc::new(SystemClock),
        )
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
