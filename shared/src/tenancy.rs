//! The tenant guard: the one place that answers "may this identity act for enterprise X, and as
//! what?". Every enterprise-scoped route takes a [`TenantAccess`] (or [`LegalRepAccess`])
//! extractor, so a handler cannot run without the answer being yes.
//!
//! - The legal representative is whoever the synced enterprise registry names.
//! - An agent is someone with an authorisation whose effective status, as of now, is active
//!   (not pending, rejected, revoked, expired, or lapsed for missing paper originals).
//! - Nobody else: strangers, employees, other enterprises' agents, operators.
//!
//! Cost: one BatchGetItem per request. When this execution environment's copy of the data's
//! freshness (`data_synced_at`, `labels_as_of`, which every enterprise view shows) is older than
//! [`crate::freshness::CACHE_TTL`], the same request reads it again, so no view pays a request for it
//! and the global freshness item is read at most once per 30 s per environment, not per request.

use crate::app::Core;
use crate::authorize::{AgentId, Authorization, EffectiveStatus};
use crate::freshness::Freshness;
use crate::http::ApiError;
use crate::identity::{Identity, PersonState};
use crate::ids::Uscc;
use crate::keys;
use crate::registry::EnterpriseProfile;
use crate::store::Store;
use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    LegalRep,
    Agent,
}

/// Proof that `identity` may act for `enterprise` as `role`.
#[derive(Debug, Clone)]
pub struct TenantAccess {
    pub identity: Identity,
    pub enterprise: EnterpriseProfile,
    pub role: Role,
    /// As read in the guard's request.
    pub freshness: Freshness,
}

/// Decides access of `identity` to the enterprise `uscc`.
pub async fn guard(
    state: &Core,
    identity: Identity,
    uscc: &Uscc,
) -> Result<TenantAccess, ApiError> {
    let profile_key = Store::key(&keys::enterprise(uscc), keys::PROFILE);
    // The caller's authorisation under each of their keys (two only while a re-key moves them).
    let agent_sks: Vec<String> = identity
        .keys()
        .map(|person| keys::agent(AgentId::of(uscc, person).as_str()))
        .collect();
    let mut wanted = vec![profile_key];
    wanted.extend(
        agent_sks
            .iter()
            .map(|sk| Store::key(&keys::enterprise(uscc), sk)),
    );
    let now = state.clock.now();
    let (mut found, freshness) = state.freshness.read_with(&state.store, now, wanted).await?;
    let enterprise: EnterpriseProfile = found
        .remove(&(keys::enterprise(uscc), keys::PROFILE.to_string()))
        .map(Store::from_item)
        .transpose()?
        .ok_or_else(|| {
            ApiError::not_found(
                "unknown_enterprise",
                "no enterprise with this unified social credit code",
            )
        })?;
    if identity.is(&enterprise.legal_rep) {
        return Ok(TenantAccess {
            identity,
            enterprise,
            role: Role::LegalRep,
            freshness,
        });
    }
    let authorization: Option<Authorization> = agent_sks
        .into_iter()
        .find_map(|sk| found.remove(&(keys::enterprise(uscc), sk)))
        .map(Store::from_item)
        .transpose()?;
    let status = authorization.map(|a| a.effective_status(now));
    match status {
        Some(EffectiveStatus::Active) => Ok(TenantAccess {
            identity,
            enterprise,
            role: Role::Agent,
            freshness,
        }),
        Some(EffectiveStatus::Pending) => Err(ApiError::forbidden(
            "authorization_pending",
            "your application is waiting for the legal representative",
        )),
        Some(other) => Err(ApiError::forbidden(
            "not_authorized",
            format!(
                "your authorisation for this enterprise is {}",
                other.as_str()
            ),
        )),
        None => Err(ApiError::forbidden(
            "not_authorized",
            "you are not authorised for this enterprise",
        )),
    }
}

/// Parses the `{uscc}` path parameter of an enterprise-scoped route.
async fn uscc_from_path(parts: &mut Parts, state: &Core) -> Result<Uscc, ApiError> {
    let missing = || ApiError::bad_request("invalid_path", "this route needs an enterprise");
    let params = RawPathParams::from_request_parts(parts, state)
        .await
        .map_err(|_| missing())?;
    let value = params
        .iter()
        .find(|(name, _)| *name == "uscc")
        .map(|(_, v)| v)
        .ok_or_else(missing)?;
    state
        .uscc_policy
        .parse_path(value)
        .map_err(|e| ApiError::bad_request("invalid_uscc", e.to_string()))
}

impl<S: PersonState> FromRequestParts<S> for TenantAccess {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let identity = Identity::from_request_parts(parts, state).await?;
        let core = state.core();
        let uscc = uscc_from_path(parts, &core).await?;
        guard(&core, identity, &uscc).await
    }
}

/// Access reserved to the enterprise's legal representative (granting, revoking, the audit trail).
#[derive(Debug, Clone)]
pub struct LegalRepAccess(pub TenantAccess);

impl<S: PersonState> FromRequestParts<S> for LegalRepAccess {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let access = TenantAccess::from_request_parts(parts, state).await?;
        if access.role != Role::LegalRep {
            return Err(ApiError::forbidden(
                "legal_rep_only",
                "only the enterprise's legal representative may do this",
            ));
        }
        Ok(Self(access))
    }
}

/// A platform operator (运营专人), for offline authorisation (manual §9).
#[derive(Debug, Clone)]
pub struct OperatorAccess(pub Identity);

impl<S: PersonState> FromRequestParts<S> for OperatorAccess {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let identity = Identity::from_request_parts(parts, state).await?;
        if !identity.operator {
            return Err(ApiError::forbidden(
                "operator_only",
                "only platform operators may do this",
            ));
        }
        Ok(Self(identity))
    }
}
