//! The authorisation flows of manual §2 (offline grants, §9, are in [`super::offline`]). Handlers in
//! [`super::routes`] only extract, call one of these, and answer.

use super::error::AuthorizeError;
use super::link::{LinkClaims, LinkError, LinkKind};
use super::model::AgentId;
use super::model::{Applicant, Authorization, EffectiveStatus, Method, Status};
use super::repo::ShareLinks;
use crate::app::LinkState;
use crate::audit::{ActorRole, AuditAction, AuditEntry};
use crate::identity::Identity;
use crate::ids::{PersonKey, Uscc};
use crate::keys;
use crate::keys::ItemKey;
use crate::registry::{self, EnterpriseProfile};
use crate::store::{self, Page, QuerySpec, Store, StoreError};
use crate::tenancy::TenantAccess;
use aws_sdk_dynamodb::types::TransactWriteItem;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub const MAX_REASON_CHARS: usize = 200;
/// Pending applications listed per enterprise; more than this many waiting is abuse, not use.
pub const MAX_PENDING_LISTED: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Grant,
    Reject,
}

/// A legal rep's answer to an application or share link.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    pub decision: Decision,
    /// Optional end of the authorisation; absent means until revoked.
    pub valid_until: Option<DateTime<Utc>>,
}

/// Writes `auth` (conditional on the version read) together with its audit record.
pub(super) async fn commit(
    state: &LinkState,
    mut auth: Authorization,
    read_version: Option<u64>,
    audit: AuditEntry<'_>,
    extra: Option<TransactWriteItem>,
) -> Result<Authorization, AuthorizeError> {
    let now = state.core.clock.now();
    if read_version.is_some() {
        auth.version += 1;
    }
    auth.refresh_retention(state.core.settings.decided_retention);
    let table = state.core.store.table();
    let mut items = vec![
        store::put_if_version(table, &auth, read_version)?,
        store::put_new(
            table,
            audit.into_item(now, state.core.settings.audit_retention)?,
        )?,
    ];
    items.extend(extra);
    state.core.store.transact(items).await?;
    Ok(auth)
}

pub(super) async fn load(
    store: &Store,
    uscc: &Uscc,
    agent: &AgentId,
) -> Result<Option<Authorization>, StoreError> {
    store
        .get(&keys::enterprise(uscc), &keys::agent(agent.as_str()))
        .await
}

pub(super) async fn enterprise(
    state: &LinkState,
    uscc: &Uscc,
) -> Result<EnterpriseProfile, AuthorizeError> {
    registry::get(&state.core.store, uscc)
        .await?
        .ok_or_else(|| AuthorizeError::UnknownEnterprise)
}

fn require_recent_face(state: &LinkState, identity: &Identity) -> Result<(), AuthorizeError> {
    if identity.face_verified_within(
        state.core.clock.now(),
        state.core.settings.face_verification_window,
    ) {
        Ok(())
    } else {
        Err(AuthorizeError::FaceVerificationRequired)
    }
}

fn validate_reason(
    reason: Option<String>,
    required: bool,
) -> Result<Option<String>, AuthorizeError> {
    let reason = reason
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty());
    match &reason {
        None if required => Err(AuthorizeError::ReasonRequired),
        Some(r) if r.chars().count() > MAX_REASON_CHARS => {
            Err(AuthorizeError::ReasonTooLong(MAX_REASON_CHARS))
        }
        _ => Ok(reason),
    }
}

/// Files an application (method 1 or 2). An existing pending application is returned as is for
/// a share link (the applicant may share again); a second method-2 application is a conflict.
pub async fn apply(
    state: &LinkState,
    identity: &Identity,
    uscc: &Uscc,
    method: Method,
    reason: Option<String>,
) -> Result<Authorization, AuthorizeError> {
    let reason = validate_reason(reason, method == Method::Application)?;
    let enterprise = enterprise(state, uscc).await?;
    if identity.is(&enterprise.legal_rep) {
        return Err(AuthorizeError::IsLegalRep);
    }
    let now = state.core.clock.now();
    let existing = load(
        &state.core.store,
        uscc,
        &AgentId::of(uscc, &identity.person),
    )
    .await?;
    match existing.as_ref().map(|a| (a, a.effective_status(now))) {
        Some((_, EffectiveStatus::Active)) => {
            return Err(AuthorizeError::AlreadyAuthorized);
        }
        Some((pending, EffectiveStatus::Pending)) if method == Method::ShareLink => {
            return Ok(pending.clone());
        }
        Some((_, EffectiveStatus::Pending)) => {
            return Err(AuthorizeError::AlreadyPending);
        }
        _ => {}
    }
    let mut auth = Authorization::pending(
        Applicant {
            uscc,
            enterprise_name: &enterprise.name,
            agent: &identity.person,
            agent_name: &identity.name,
            agent_masked_id: &identity.masked_id,
        },
        method,
        reason,
        now,
    );
    let read_version = existing.map(|e| e.version);
    auth.version = read_version.unwrap_or(0);
    let audit = AuditEntry {
        uscc,
        actor: &identity.person,
        actor_name: &identity.name,
        actor_role: ActorRole::Applicant,
        action: AuditAction::Applied,
        subject: Some(&identity.person),
        subject_name: Some(&identity.name),
        detail: Some(method.as_str().into()),
    };
    commit(state, auth, read_version, audit, None).await
}

/// The stored side of a share link: which application it decides, and whether it was used.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShareLink {
    #[serde(flatten)]
    key: ItemKey,
    pub uscc: Uscc,
    pub applicant: PersonKey,
    /// The version of the application this link decides: a link minted for an earlier
    /// application (since decided, then applied for again) does not decide the new one.
    pub application_version: u64,
    pub created_at: DateTime<Utc>,
    pub link_expires_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_at: Option<DateTime<Utc>>,
    #[serde(rename = "expires_at")]
    retention_until: i64,
}

pub(super) const LINK_SK: &str = "LINK";

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ShareLinkCreated {
    /// The token the legal rep's link carries.
    pub token: String,
    /// The link to send the legal rep (e.g. over WeChat).
    pub url: String,
    pub expires_at: DateTime<Utc>,
}

/// Method 1: "立即申请" + "分享法定代表人" — files (or reuses) the application and mints a link.
pub async fn create_share_link(
    state: &LinkState,
    identity: &Identity,
    uscc: &Uscc,
) -> Result<ShareLinkCreated, AuthorizeError> {
    let auth = apply(state, identity, uscc, Method::ShareLink, None).await?;
    let now = state.core.clock.now();
    let expires_at = now + state.core.settings.share_link_ttl;
    let id = ulid::Ulid::new().to_string();
    let link = ShareLink {
        key: ItemKey::new(keys::share_link(&id), LINK_SK),
        uscc: uscc.clone(),
        applicant: auth.agent.clone(),
        application_version: auth.version,
        created_at: now,
        link_expires_at: expires_at,
        used_at: None,
        retention_until: crate::retention::SHARE_LINK.until(expires_at),
    };
    let audit = AuditEntry {
        uscc,
        actor: &identity.person,
        actor_name: &identity.name,
        actor_role: ActorRole::Applicant,
        action: AuditAction::ShareLinkCreated,
        subject: Some(&identity.person),
        subject_name: Some(&identity.name),
        detail: Some(format!("expires {}", expires_at.to_rfc3339())),
    };
    let table = state.core.store.table();
    state
        .core
        .store
        .transact(vec![
            store::put_new(table, Store::to_item(&link)?)?,
            store::put_new(
                table,
                audit.into_item(now, state.core.settings.audit_retention)?,
            )?,
        ])
        .await?;
    let token = state.links.sign(&LinkClaims {
        kind: LinkKind::ShareLink,
        id,
        uscc: uscc.clone(),
        exp: expires_at.timestamp(),
    });
    // A route of the H5 client (web/src/router.ts), which opens the link for the legal rep.
    let url = format!(
        "{}/#/share/{token}",
        state.core.settings.public_base_url.trim_end_matches('/')
    );
    Ok(ShareLinkCreated {
        token,
        url,
        expires_at,
    })
}

/// What the legal rep sees when opening a share link.
pub struct OpenedLink {
    pub id: String,
    pub enterprise: EnterpriseProfile,
    pub authorization: Authorization,
}

/// Checks a share link for the legal rep who opens it: signature, expiry, use, and that the
/// opener is the legal rep of the enterprise it names.
pub async fn open_share_link(
    state: &LinkState,
    identity: &Identity,
    token: &str,
) -> Result<OpenedLink, AuthorizeError> {
    let now = state.core.clock.now();
    let claims = state
        .links
        .verify(token, LinkKind::ShareLink, now)
        .map_err(|e| match e {
            LinkError::Invalid => AuthorizeError::InvalidLink(e.to_string()),
            LinkError::Expired => AuthorizeError::LinkExpired(e.to_string()),
        })?;
    let link: ShareLink = state
        .core
        .store
        .get(&keys::share_link(&claims.id), LINK_SK)
        .await?
        .ok_or_else(|| AuthorizeError::UnknownLink)?;
    if link.used_at.is_some() {
        return Err(AuthorizeError::LinkUsed);
    }
    let enterprise = enterprise(state, &link.uscc).await?;
    if !identity.is(&enterprise.legal_rep) {
        return Err(AuthorizeError::NotTheLegalRep);
    }
    let authorization = load(
        &state.core.store,
        &link.uscc,
        &AgentId::of(&link.uscc, &link.applicant),
    )
    .await?
    .filter(|a| a.status == Status::Pending && a.version == link.application_version)
    .ok_or_else(|| AuthorizeError::ApplicationDecided)?;
    Ok(OpenedLink {
        id: claims.id,
        enterprise,
        authorization,
    })
}

fn decided(
    auth: &Authorization,
    decision: &DecisionRequest,
    by: &Identity,
    state: &LinkState,
) -> Result<Authorization, AuthorizeError> {
    let now = state.core.clock.now();
    if decision.valid_until.is_some_and(|u| u <= now) {
        return Err(AuthorizeError::ValidUntilPast);
    }
    let mut next = auth.clone();
    let status = match decision.decision {
        Decision::Grant => Status::Active,
        Decision::Reject => Status::Rejected,
    };
    next.decide(status, &by.person, now);
    next.valid_until = decision.valid_until.filter(|_| status == Status::Active);
    Ok(next)
}

fn decision_audit<'a>(
    uscc: &'a Uscc,
    by: &'a Identity,
    auth: &'a Authorization,
    decision: Decision,
) -> AuditEntry<'a> {
    AuditEntry {
        uscc,
        actor: &by.person,
        actor_name: &by.name,
        actor_role: ActorRole::LegalRep,
        action: match decision {
            Decision::Grant => AuditAction::Granted,
            Decision::Reject => AuditAction::Rejected,
        },
        subject: Some(&auth.agent),
        subject_name: Some(&auth.agent_name),
        detail: Some(auth.method.as_str().into()),
    }
}

/// Method 1, last step: the legal rep, freshly face-verified, grants or rejects through the link.
/// The link is consumed in the same transaction, so a replay fails.
pub async fn decide_share_link(
    state: &LinkState,
    identity: &Identity,
    token: &str,
    decision: DecisionRequest,
) -> Result<Authorization, AuthorizeError> {
    let opened = open_share_link(state, identity, token).await?;
    require_recent_face(state, identity)?;
    let next = decided(&opened.authorization, &decision, identity, state)?;
    let consume = ShareLinks::consume(&opened.id, state.core.clock.now())
        .into_transact(state.core.store.table())?;
    let audit = decision_audit(
        &opened.enterprise.uscc,
        identity,
        &opened.authorization,
        decision.decision,
    );
    commit(
        state,
        next,
        Some(opened.authorization.version),
        audit,
        Some(consume),
    )
    .await
    .map_err(|e| match e {
        // The link was consumed by a concurrent decision.
        AuthorizeError::Store(StoreError::ConditionFailed) => AuthorizeError::LinkUsed,
        e => e,
    })
}

/// Method 2, last step: the legal rep decides a pending application from their list.
pub async fn decide_application(
    state: &LinkState,
    access: &TenantAccess,
    agent: &AgentId,
    decision: DecisionRequest,
) -> Result<Authorization, AuthorizeError> {
    require_recent_face(state, &access.identity)?;
    let uscc = &access.enterprise.uscc;
    let auth = load(&state.core.store, uscc, agent)
        .await?
        .ok_or_else(|| AuthorizeError::UnknownApplication)?;
    if auth.status != Status::Pending {
        return Err(AuthorizeError::NotPending);
    }
    let next = decided(&auth, &decision, &access.identity, state)?;
    commit(
        state,
        next,
        Some(auth.version),
        decision_audit(uscc, &access.identity, &auth, decision.decision),
        None,
    )
    .await
}

/// The legal rep withdraws an agent's access.
pub async fn revoke(
    state: &LinkState,
    access: &TenantAccess,
    agent: &AgentId,
) -> Result<Authorization, AuthorizeError> {
    let uscc = &access.enterprise.uscc;
    let auth = load(&state.core.store, uscc, agent)
        .await?
        .ok_or_else(|| AuthorizeError::UnknownAgent)?;
    if auth.status != Status::Active {
        return Err(AuthorizeError::NotActive);
    }
    let mut next = auth.clone();
    next.decide(
        Status::Revoked,
        &access.identity.person,
        state.core.clock.now(),
    );
    let audit = AuditEntry {
        uscc,
        actor: &access.identity.person,
        actor_name: &access.identity.name,
        actor_role: ActorRole::LegalRep,
        action: AuditAction::Revoked,
        subject: Some(&auth.agent),
        subject_name: Some(&auth.agent_name),
        detail: None,
    };
    commit(state, next, Some(auth.version), audit, None).await
}

/// A person's own authorisations, across enterprises ("我的权限"), a page at a time (while a
/// re-key moves their key: all of them under both keys, in one page).
pub async fn mine(
    state: &LinkState,
    identity: &Identity,
    cursor: Option<&str>,
) -> Result<Page<Authorization>, AuthorizeError> {
    let store = &state.core.store;
    if identity.previous.is_some() {
        return Ok(Page {
            items: of_person(store, identity).await?,
            next_cursor: None,
        });
    }
    Ok(store
        .query(&authorisations_of(&identity.person), cursor)
        .await?)
}

fn authorisations_of(person: &PersonKey) -> QuerySpec {
    QuerySpec::index(keys::Index::Gsi1, keys::person(person)).prefix(keys::AUTH_PREFIX)
}

/// Every authorisation of a person (a person is an agent of few enterprises), under each of
/// their keys.
pub async fn of_person(
    store: &Store,
    identity: &Identity,
) -> Result<Vec<Authorization>, StoreError> {
    identity
        .gather(|person| {
            let spec = authorisations_of(person).limit(100);
            async move { store.query_all::<Authorization>(&spec, 1_000).await }
        })
        .await
}

/// Every application waiting for this legal rep, across their enterprises.
/// Cost: 1 query for the enterprises + 1 per enterprise (a legal rep rarely has many).
pub async fn pending_for_legal_rep(
    state: &LinkState,
    identity: &Identity,
) -> Result<Vec<Authorization>, AuthorizeError> {
    let mut pending = Vec::new();
    for enterprise in registry::of_legal_rep(&state.core.store, identity).await? {
        let spec = QuerySpec::index(keys::Index::Gsi2, keys::pending(&enterprise.uscc)).limit(100);
        pending.extend(
            state
                .core
                .store
                .query_all::<Authorization>(&spec, MAX_PENDING_LISTED)
                .await?,
        );
    }
    Ok(pending)
}

/// The agents (in every state) of an enterprise.
pub async fn agents(
    state: &LinkState,
    uscc: &Uscc,
    cursor: Option<&str>,
) -> Result<Page<Authorization>, AuthorizeError> {
    let spec = QuerySpec::table(keys::enterprise(uscc)).prefix(keys::AGENT_PREFIX);
    Ok(state.core.store.query(&spec, cursor).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applications_need_a_reason_of_bounded_length() {
        assert!(matches!(
            validate_reason(None, true),
            Err(AuthorizeError::ReasonRequired)
        ));
        assert!(matches!(
            validate_reason(Some("   ".into()), true),
            Err(AuthorizeError::ReasonRequired)
        ));
        assert_eq!(validate_reason(None, false).unwrap(), None);
        assert_eq!(
            validate_reason(Some(" 负责防疫 ".into()), true).unwrap(),
            Some("负责防疫".into())
        );
        assert!(matches!(
            validate_reason(Some("因".repeat(MAX_REASON_CHARS + 1)), true),
            Err(AuthorizeError::ReasonTooLong(MAX_REASON_CHARS))
        ));
    }
}
