//! Typed path parameters. Each type names its route segment and the error code a malformed value
//! answers, so a bad one is a 400 before the handler runs, and handlers receive the type, never a
//! string to parse. (`{uscc}` is parsed by the tenant guard, under the configured USCC policy.)

use crate::export::JobId;
use crate::health::{PcrLabel, VaxState};
use crate::http::ApiError;
use crate::ids::{AgentId, EmployeeId, PSEUDONYM_PATTERN};
use crate::invite::model::InvitationId;
use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;

/// A value a route carries in its path.
pub trait PathParam: Sized {
    /// The segment's name in the route (`{employee_id}`).
    const NAME: &'static str;
    /// The error code of a malformed value.
    const INVALID: &'static str;
    /// The form the OpenAPI document declares for it (`None`: its schema is an enum).
    const PATTERN: Option<&'static str>;
    fn parse_param(raw: &str) -> Result<Self, String>;
}

/// The declared form of every typed path parameter, by name.
pub const FORMATS: &[(&str, Option<&str>)] = &[
    (EmployeeId::NAME, EmployeeId::PATTERN),
    (AgentId::NAME, AgentId::PATTERN),
    (InvitationId::NAME, InvitationId::PATTERN),
    (JobId::NAME, JobId::PATTERN),
    (PcrLabel::NAME, PcrLabel::PATTERN),
    (VaxState::NAME, VaxState::PATTERN),
];

/// One typed path parameter, found by its name.
pub struct InPath<T>(pub T);

impl<S, T> FromRequestParts<S> for InPath<T>
where
    S: Send + Sync,
    T: PathParam,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::bad_request("invalid_path", e.body_text()))?;
        let raw = params
            .iter()
            .find(|(name, _)| *name == T::NAME)
            .map(|(_, value)| value)
            .ok_or_else(|| {
                ApiError::bad_request("invalid_path", format!("this route has no {}", T::NAME))
            })?;
        T::parse_param(raw)
            .map(Self)
            .map_err(|why| ApiError::bad_request(T::INVALID, why))
    }
}

impl PathParam for EmployeeId {
    const NAME: &'static str = "employee_id";
    const INVALID: &'static str = "invalid_employee_id";
    const PATTERN: Option<&'static str> = Some(PSEUDONYM_PATTERN);
    fn parse_param(raw: &str) -> Result<Self, String> {
        Self::parse(raw).map_err(str::to_string)
    }
}

impl PathParam for AgentId {
    const NAME: &'static str = "agent_id";
    const INVALID: &'static str = "invalid_agent_id";
    const PATTERN: Option<&'static str> = Some(PSEUDONYM_PATTERN);
    fn parse_param(raw: &str) -> Result<Self, String> {
        Self::parse(raw).map_err(str::to_string)
    }
}

impl PathParam for PcrLabel {
    const NAME: &'static str = "label";
    const INVALID: &'static str = "invalid_label";
    const PATTERN: Option<&'static str> = None;
    fn parse_param(raw: &str) -> Result<Self, String> {
        raw.parse()
            .map_err(|e: crate::health::UnknownName| e.to_string())
    }
}

impl PathParam for VaxState {
    const NAME: &'static str = "state";
    const INVALID: &'static str = "invalid_state";
    const PATTERN: Option<&'static str> = None;
    fn parse_param(raw: &str) -> Result<Self, String> {
        raw.parse()
            .map_err(|e: crate::health::UnknownName| e.to_string())
    }
}

impl PathParam for JobId {
    const NAME: &'static str = "job_id";
    const INVALID: &'static str = "invalid_job_id";
    const PATTERN: Option<&'static str> = Some("^[0-9A-Fa-f]{24}$");
    fn parse_param(raw: &str) -> Result<Self, String> {
        Self::parse(raw).map_err(str::to_string)
    }
}

impl PathParam for InvitationId {
    const NAME: &'static str = "invitation_id";
    const INVALID: &'static str = "invalid_invitation_id";
    const PATTERN: Option<&'static str> = Some("^[0-9A-Za-z]{26}$");
    fn parse_param(raw: &str) -> Result<Self, String> {
        Self::parse(raw).map_err(str::to_string)
    }
}
