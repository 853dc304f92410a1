//! Configuration from the environment, read once at init. A missing or invalid setting fails
//! the cold start with a message naming the variable — never a request later.
//!
//! The AWS endpoint is not configured here: the SDK honours `AWS_ENDPOINT_URL`, which is how the
//! local stack and the tests point everything at moto's server.

use chrono::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    #[error("environment variable {0} is invalid: {1}")]
    Invalid(&'static str, String),
}

/// Business settings every function shares.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How recent a face verification must be for a legal rep's grant (manual §2: "人脸识别认证通过后").
    pub face_verification_window: Duration,
    /// How long a share link to the legal rep stays valid.
    pub share_link_ttl: Duration,
    /// How long after the e-mail approval the paper originals of an offline grant must arrive (manual §9).
    pub offline_originals_due: Duration,
    /// Retention of audit records.
    pub audit_retention: Duration,
    /// Retention of decided (rejected, revoked) authorisation records.
    pub decided_retention: Duration,
    /// Base of the links people open (share links, invitations).
    pub public_base_url: String,
    /// The 14-day "in Shenzhen" window and the booster interval (`IN_SHENZHEN_WINDOW_DAYS`,
    /// `BOOSTER_INTERVAL_DAYS`).
    pub health_rules: crate::health::HealthRules,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            face_verification_window: Duration::minutes(5),
            share_link_ttl: Duration::hours(72),
            offline_originals_due: Duration::days(15),
            audit_retention: crate::retention::AUDIT_RECORD.period(),
            decided_retention: crate::retention::DECIDED_AUTHORISATION.period(),
            public_base_url: "https://fangyitong.example.cn".into(),
            health_rules: crate::health::HealthRules::default(),
        }
    }
}

/// Where settings come from: the process environment in a function, a map where a test checks
/// which variables a function's init reads.
pub trait Vars {
    fn var(&self, name: &'static str) -> Option<String>;
}

/// The process environment.
pub struct ProcessEnv;

impl Vars for ProcessEnv {
    fn var(&self, name: &'static str) -> Option<String> {
        std::env::var(name).ok()
    }
}

impl Vars for std::collections::HashMap<String, String> {
    fn var(&self, name: &'static str) -> Option<String> {
        self.get(name).cloned()
    }
}

pub fn required(env: &dyn Vars, name: &'static str) -> Result<String, ConfigError> {
    optional(env, name).ok_or(ConfigError::Missing(name))
}

pub fn optional(env: &dyn Vars, name: &'static str) -> Option<String> {
    env.var(name).filter(|v| !v.trim().is_empty())
}

fn number(env: &dyn Vars, name: &'static str) -> Result<Option<i64>, ConfigError> {
    optional(env, name)
        .map(|v| {
            v.trim()
                .parse::<i64>()
                .map_err(|e| ConfigError::Invalid(name, e.to_string()))
        })
        .transpose()
}

impl Settings {
    pub fn from_env(env: &dyn Vars) -> Result<Self, ConfigError> {
        let defaults = Self::default();
        Ok(Self {
            face_verification_window: number(env, "FACE_VERIFICATION_WINDOW_SECONDS")?
                .map(Duration::seconds)
                .unwrap_or(defaults.face_verification_window),
            share_link_ttl: number(env, "SHARE_LINK_TTL_HOURS")?
                .map(Duration::hours)
                .unwrap_or(defaults.share_link_ttl),
            offline_originals_due: defaults.offline_originals_due,
            audit_retention: number(env, "AUDIT_RETENTION_DAYS")?
                .map(Duration::days)
                .unwrap_or(defaults.audit_retention),
            decided_retention: number(env, "DECIDED_RETENTION_DAYS")?
                .map(Duration::days)
                .unwrap_or(defaults.decided_retention),
            public_base_url: optional(env, "PUBLIC_BASE_URL").unwrap_or(defaults.public_base_url),
            health_rules: crate::health::HealthRules {
                in_shenzhen_window: number(env, "IN_SHENZHEN_WINDOW_DAYS")?
                    .map(Duration::days)
                    .unwrap_or(defaults.health_rules.in_shenzhen_window),
                booster_interval: number(env, "BOOSTER_INTERVAL_DAYS")?
                    .map(Duration::days)
                    .unwrap_or(defaults.health_rules.booster_interval),
            },
        })
    }
}

/// Known pilot-era USCCs whose check character fails (`USCC_PILOT_EXCEPTIONS`, comma-separated).
pub fn uscc_policy(env: &dyn Vars) -> crate::ids::UsccPolicy {
    let pilot = optional(env, "USCC_PILOT_EXCEPTIONS").unwrap_or_default();
    crate::ids::UsccPolicy::with_pilot_exceptions(
        pilot
            .split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_string),
    )
}
