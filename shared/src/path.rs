//! Typed path parameters. Each type names its route segment and the error code a malformed value
//! answers, so a bad one is a 400 before the handler runs, and handlers receive the type, never a
//! string to parse. (`{uscc}` is parsed by the tenant guard, under the configured USCC policy.)

use crate::export::JobId;
use crate::health::{PcrLabel, VaxState};
use crate::http::ApiError;
use crate::ids::{AgentId, EmployeeId};
use crate::invite::model::InvitationId;
use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;

/// A value a route carries in its path.
pub trait PathParam: Sized {
    /// The segment's name in the route (`{employee_id}`).
    const NAME: &'static str;
    /// The error code of a malformed value.
    const INVALID: &'static str;
    fn parse_param(raw: &str) -> Result<Self, String>;
}

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
    fn parse_param(raw: &str) -> Result<Self, String> {
        Self::parse(raw).map_err(str::to_string)
    }
}

impl PathParam for AgentId {
    const NAME: &'static str = "agent_id";
    const INVALID: &'static str = "invalid_agent_id";
    fn parse_param(raw: &str) -> Result<Self, String> {
        Self::parse(raw).map_err(str::to_string)
    }
}

impl PathParam for PcrLabel {
    const NAME: &'static str = "label";
    const INVALID: &'static str = "invalid_label";
    fn parse_param(raw: &str) -> Result<Self, String> {
        raw.parse()
            .map_err(|e: crate::health::UnknownName| e.to_string())
    }
}

impl PathParam for VaxState {
    const NAME: &'static str = "state";
    const INVALID: &'static str = "invalid_state";
    fn parse_param(raw: &str) -> Result<Self, String> {
        raw.parse()
            .map_err(|e: crate::health::UnknownName| e.to_string())
    }
}

impl PathParam for JobId {
    const NAME: &'static str = "job_id";
    const INVALID: &'static str = "invalid_job_id";
    fn parse_param(raw: &str) -> Result<Self, String> {
        Self::parse(raw).map_err(str::to_string)
    }
}

impl PathParam for InvitationId {
    const NAME: &'static str = "invitation_id";
    const INVALID: &'static str = "invalid_invitation_id";
    fn parse_param(raw: &str) -> Result<Self, String> {
        Self::parse(raw).map_err(str::to_string)
    }
}
