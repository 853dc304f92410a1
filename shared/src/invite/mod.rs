//! invite-join (manual §4.2, §5.2, §6): how people become and stop being an enterprise's
//! employees outside the social-insurance roster.
//!
//! - An agent (or the legal rep) makes an invitation: a signed, expiring link, and a poster with
//!   its QR code. Invitations are listed with who made them and how often they were used, and can
//!   be revoked.
//! - An employee opens the link with a verified identity, sees which enterprise asks and what it
//!   will see, consents, and joins: the consent is recorded (what, when, which notice version)
//!   and their official health record is attached at once. They can withdraw the consent later.
//! - An agent adds an employee by hand (validated name, ID and phone) or removes one (kept as
//!   left, with who and when). The same person from several sources is one employee.

pub mod model;
pub mod poster;
mod repo;

use crate::app::LinkState;
use crate::audit::{ActorRole, AuditAction, AuditEntry};
use crate::authorize::{AgentId, LinkClaims, LinkError, LinkKind};
use crate::health::RecordStatus;
use crate::http::{ApiError, ApiJson, ApiPath, ApiQuery};
use crate::identity::Identity;
use crate::ids::{IdDocument, IdType, Phone, Uscc};
use crate::keys;
use crate::registry::EnterpriseProfile;
use crate::roster::{self, Admission, Admitted, EmployeeId, Membership, Source};
use crate::store::{self, QuerySpec, Store, StoreError};
use crate::summary::Delta;
use crate::tenancy::TenantAccess;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use chrono::{DateTime, Duration, Utc};
use model::{
    Consent, ConsentView, Invitation, InvitationStatus, NOTICE, NOTICE_VERSION, SHARED_DATA,
};
use repo::Invitations;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

const DEFAULT_VALID_DAYS: i64 = 7;
const MAX_VALID_DAYS: i64 = 30;
const MAX_NAME_CHARS: usize = 30;

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewInvitation {
    /// Days the link stays valid: 1 to 30 (default 7).
    #[serde(default)]
    pub valid_days: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationView {
    pub id: String,
    pub status: InvitationStatus,
    pub created_by: String,
    pub created_by_name: String,
    pub created_at: DateTime<Utc>,
    pub valid_until: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub uses: u64,
}

impl InvitationView {
    fn of(i: &Invitation, now: DateTime<Utc>) -> Self {
        Self {
            id: i.id.clone(),
            status: i.status(now),
            created_by: i.created_by.clone(),
            created_by_name: i.created_by_name.clone(),
            created_at: i.created_at,
            valid_until: i.valid_until,
            revoked_at: i.revoked_at,
            uses: i.uses,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationCreated {
    #[serde(flatten)]
    pub invitation: InvitationView,
    /// The link employees open (also in the poster's QR code).
    pub url: String,
    pub token: String,
    /// Where the poster PNG is.
    pub poster: String,
}

fn invitation_url(state: &LinkState, token: &str) -> String {
    format!(
        "{}/invite/join?token={token}",
        state.core.settings.public_base_url.trim_end_matches('/')
    )
}

fn sign(state: &LinkState, invitation: &Invitation) -> String {
    state.links.sign(&LinkClaims {
        kind: LinkKind::Invitation,
        id: invitation.id.clone(),
        uscc: invitation.uscc.clone(),
        exp: invitation.valid_until.timestamp(),
    })
}

/// Makes an invitation link (and poster) for the enterprise's employees.
#[utoipa::path(post, path = "/invite/enterprises/{uscc}/invitations", tag = "invite-join",
    params(("uscc" = String, Path, description = "unified social credit code")),
    request_body = NewInvitation,
    responses((status = 201, body = InvitationCreated), (status = 403, body = crate::http::ErrorBody), (status = 422, body = crate::http::ErrorBody)),
    security(("bearer" = [])))]
async fn create(
    axum::extract::State(state): axum::extract::State<LinkState>,
    access: TenantAccess,
    ApiJson(body): ApiJson<NewInvitation>,
) -> Result<(StatusCode, ApiJson<InvitationCreated>), ApiError> {
    let days = body.valid_days.unwrap_or(DEFAULT_VALID_DAYS);
    if !(1..=MAX_VALID_DAYS).contains(&days) {
        return Err(ApiError::unprocessable(
            "invalid_valid_days",
            format!("valid_days must be 1 to {MAX_VALID_DAYS}"),
        ));
    }
    let now = state.core.clock.now();
    let uscc = &access.enterprise.uscc;
    let invitation = Invitation::new(
        uscc,
        AgentId::of(uscc, &access.identity.person).to_string(),
        access.identity.name.clone(),
        now,
        Duration::days(days),
    );
    let audit = AuditEntry::by(
        &access,
        AuditAction::InvitationCreated,
        format!(
            "invitation {} valid until {}",
            invitation.id,
            invitation.valid_until.to_rfc3339()
        ),
    )
    .into_item(now, state.core.settings.audit_retention)?;
    let table = state.core.store.table();
    state
        .core
        .store
        .transact(vec![
            store::put_new(table, Store::to_item(&invitation)?),
            store::put_new(table, audit),
        ])
        .await?;
    let token = sign(&state, &invitation);
    Ok((
        StatusCode::CREATED,
        ApiJson(InvitationCreated {
            url: invitation_url(&state, &token),
            token,
            poster: format!(
                "/invite/enterprises/{uscc}/invitations/{}/poster",
                invitation.id
            ),
            invitation: InvitationView::of(&invitation, now),
        }),
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationList {
    pub items: Vec<InvitationView>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CursorQuery {
    pub cursor: Option<String>,
}

/// The enterprise's invitations, newest first, with who made each and how often it was used.
#[utoipa::path(get, path = "/invite/enterprises/{uscc}/invitations", operation_id = "invite_list", tag = "invite-join",
    params(("uscc" = String, Path, description = "unified social credit code"), CursorQuery),
    responses((status = 200, body = InvitationList), (status = 403, body = crate::http::ErrorBody)),
    security(("bearer" = [])))]
async fn list(
    axum::extract::State(state): axum::extract::State<LinkState>,
    access: TenantAccess,
    ApiQuery(query): ApiQuery<CursorQuery>,
) -> Result<ApiJson<InvitationList>, ApiError> {
    let spec = QuerySpec::table(keys::enterprise(&access.enterprise.uscc))
        .prefix(keys::INVITATION_PREFIX)
        .newest_first();
    let page = state
        .core
        .store
        .query::<Invitation>(&spec, query.cursor.as_deref())
        .await?;
    let now = state.core.clock.now();
    Ok(ApiJson(InvitationList {
        items: page
            .items
            .iter()
            .map(|i| InvitationView::of(i, now))
            .collect(),
        next_cursor: page.next_cursor,
    }))
}

/// The form of an invitation id (a ULID) in a URL.
pub const INVITATION_ID_PATTERN: &str = "^[0-9A-Za-z]{26}$";

async fn invitation_of(state: &LinkState, uscc: &Uscc, id: &str) -> Result<Invitation, ApiError> {
    let valid_id = id.len() == 26 && id.bytes().all(|b| b.is_ascii_alphanumeric());
    if !valid_id {
        return Err(ApiError::bad_request(
            "invalid_invitation_id",
            "an invitation id is 26 letters and digits",
        ));
    }
    state
        .core
        .store
        .get::<Invitation>(&keys::enterprise(uscc), &keys::invitation(id))
        .await?
        .ok_or_else(|| ApiError::not_found("unknown_invitation", "no such invitation"))
}

/// Revokes an invitation: its link and poster stop working at once.
#[utoipa::path(delete, path = "/invite/enterprises/{uscc}/invitations/{invitation_id}", operation_id = "invite_revoke", tag = "invite-join",
    params(("uscc" = String, Path, description = "unified social credit code"), ("invitation_id" = String, Path)),
    responses((status = 200, body = InvitationView), (status = 403, body = crate::http::ErrorBody), (status = 404, body = crate::http::ErrorBody)),
    security(("bearer" = [])))]
async fn revoke(
    axum::extract::State(state): axum::extract::State<LinkState>,
    access: TenantAccess,
    ApiPath((_, id)): ApiPath<(String, String)>,
) -> Result<ApiJson<InvitationView>, ApiError> {
    let uscc = &access.enterprise.uscc;
    let invitation = invitation_of(&state, uscc, &id).await?;
    let now = state.core.clock.now();
    if invitation.revoked_at.is_some() {
        return Ok(ApiJson(InvitationView::of(&invitation, now)));
    }
    let by = AgentId::of(uscc, &access.identity.person).to_string();
    let revocation =
        Invitations::revoke(&invitation, &by, now).into_transact(state.core.store.table())?;
    let audit = AuditEntry::by(
        &access,
        AuditAction::InvitationRevoked,
        format!("invitation {id}"),
    )
    .into_item(now, state.core.settings.audit_retention)?;
    match state
        .core
        .store
        .transact(vec![
            revocation,
            store::put_new(state.core.store.table(), audit),
        ])
        .await
    {
        Ok(()) | Err(StoreError::ConditionFailed) => {}
        Err(e) => return Err(e.into()),
    }
    let invitation = invitation_of(&state, uscc, &id).await?;
    Ok(ApiJson(InvitationView::of(&invitation, now)))
}

/// The invitation's poster: a PNG with the enterprise's name and the link's QR code.
#[utoipa::path(get, path = "/invite/enterprises/{uscc}/invitations/{invitation_id}/poster", tag = "invite-join",
    params(("uscc" = String, Path, description = "unified social credit code"), ("invitation_id" = String, Path)),
    responses((status = 200, content_type = "image/png", description = "the poster"), (status = 403, body = crate::http::ErrorBody), (status = 410, body = crate::http::ErrorBody)),
    security(("bearer" = [])))]
async fn poster(
    axum::extract::State(state): axum::extract::State<LinkState>,
    access: TenantAccess,
    ApiPath((_, id)): ApiPath<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    let invitation = invitation_of(&state, &access.enterprise.uscc, &id).await?;
    if invitation.status(state.core.clock.now()) != InvitationStatus::Active {
        return Err(ApiError::gone(
            "invitation_inactive",
            "this invitation is revoked or expired",
        ));
    }
    let url = invitation_url(&state, &sign(&state, &invitation));
    let valid_until = crate::clock::business_time(invitation.valid_until).date_naive();
    let png =
        poster::render(&access.enterprise.name, &url, valid_until).map_err(ApiError::internal)?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/png"),
            (header::CACHE_CONTROL, "private, max-age=300"),
        ],
        png,
    ))
}

/// An invitation as the employee sees it before joining.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationPreview {
    pub uscc: String,
    pub enterprise_name: String,
    pub valid_until: DateTime<Utc>,
    /// Pass back as `notice_version` when joining.
    pub notice_version: String,
    pub notice: String,
    /// What the enterprise will see.
    pub shared: Vec<String>,
    /// Already an employee (joining again adds nothing but the consent).
    pub already_employee: bool,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TokenQuery {
    pub token: String,
}

/// Checks an invitation token: signature and kind before any read, then that the invitation is
/// still active.
async fn active_invitation(
    state: &LinkState,
    token: &str,
) -> Result<(Invitation, EnterpriseProfile), ApiError> {
    let now = state.core.clock.now();
    let claims = state
        .links
        .verify(token, LinkKind::Invitation, now)
        .map_err(|e| match e {
            LinkError::Invalid => ApiError::bad_request(
                "invalid_invitation",
                "this is not an invitation link of this service",
            ),
            LinkError::Expired => ApiError::gone(
                "invitation_expired",
                "this invitation has expired; ask for a new one",
            ),
        })?;
    let invitation_key = (keys::enterprise(&claims.uscc), keys::invitation(&claims.id));
    let profile_key = (keys::enterprise(&claims.uscc), keys::PROFILE.to_string());
    let mut found = state
        .core
        .store
        .get_many(vec![
            Store::key(&invitation_key.0, &invitation_key.1),
            Store::key(&profile_key.0, &profile_key.1),
        ])
        .await?;
    let invitation: Invitation = found
        .remove(&invitation_key)
        .map(Store::from_item)
        .transpose()?
        .ok_or_else(|| {
            ApiError::not_found(
                "unknown_invitation",
                "this invitation does not exist (any more)",
            )
        })?;
    let profile: EnterpriseProfile = found
        .remove(&profile_key)
        .map(Store::from_item)
        .transpose()?
        .ok_or_else(|| {
            ApiError::not_found(
                "unknown_enterprise",
                "the enterprise is not in the registry",
            )
        })?;
    match invitation.status(now) {
        InvitationStatus::Active => Ok((invitation, profile)),
        InvitationStatus::Revoked => Err(ApiError::gone(
            "invitation_revoked",
            "this invitation was withdrawn by the enterprise",
        )),
        InvitationStatus::Expired => Err(ApiError::gone(
            "invitation_expired",
            "this invitation has expired; ask for a new one",
        )),
    }
}

/// What an invitation asks: which enterprise, what it will see, under which notice.
#[utoipa::path(get, path = "/invite/open", tag = "invite-join", params(TokenQuery),
    responses((status = 200, body = InvitationPreview), (status = 400, body = crate::http::ErrorBody), (status = 410, body = crate::http::ErrorBody)),
    security(("bearer" = [])))]
async fn open(
    axum::extract::State(state): axum::extract::State<LinkState>,
    identity: Identity,
    ApiQuery(query): ApiQuery<TokenQuery>,
) -> Result<ApiJson<InvitationPreview>, ApiError> {
    let (invitation, profile) = active_invitation(&state, &query.token).await?;
    let (pk, sk) = roster::membership_key(&profile.uscc, &identity.person);
    let existing = state.core.store.get::<Membership>(&pk, &sk).await?;
    Ok(ApiJson(InvitationPreview {
        uscc: profile.uscc.to_string(),
        enterprise_name: profile.name,
        valid_until: invitation.valid_until,
        notice_version: NOTICE_VERSION.into(),
        notice: NOTICE.into(),
        shared: SHARED_DATA.iter().map(|s| s.to_string()).collect(),
        already_employee: existing.is_some_and(|m| m.is_current()),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JoinRequest {
    pub token: String,
    /// The `notice_version` the employee was shown.
    pub notice_version: String,
    /// Must be `true`: the employee agrees to share what the notice lists.
    pub consent: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Joined {
    pub uscc: String,
    pub enterprise_name: String,
    pub employee_id: EmployeeId,
    pub admitted: Admitted,
    pub sources: BTreeSet<Source>,
    pub health_record: RecordStatus,
    pub consent: ConsentView,
}

/// Joins the enterprise an invitation names, consenting to what it will see.
#[utoipa::path(post, path = "/invite/join", tag = "invite-join", request_body = JoinRequest,
    responses((status = 201, body = Joined), (status = 400, body = crate::http::ErrorBody), (status = 401, body = crate::http::ErrorBody),
              (status = 409, body = crate::http::ErrorBody), (status = 410, body = crate::http::ErrorBody), (status = 422, body = crate::http::ErrorBody)),
    security(("bearer" = [])))]
async fn join(
    axum::extract::State(state): axum::extract::State<LinkState>,
    identity: Identity,
    ApiJson(body): ApiJson<JoinRequest>,
) -> Result<(StatusCode, ApiJson<Joined>), ApiError> {
    if !body.consent {
        return Err(ApiError::unprocessable(
            "consent_required",
            "joining needs your consent to share what the notice lists",
        ));
    }
    if body.notice_version != NOTICE_VERSION {
        return Err(ApiError::conflict(
            "notice_changed",
            format!("the notice is now version {NOTICE_VERSION}; read it again before joining"),
        ));
    }
    let (invitation, profile) = active_invitation(&state, &body.token).await?;
    let now = state.core.clock.now();
    let uscc = &profile.uscc;
    let previous = state
        .core
        .store
        .get::<Consent>(&keys::person(&identity.person), &keys::consent(uscc))
        .await?;
    let consent = Consent::given(
        &identity.person,
        uscc,
        &profile.name,
        &invitation.id,
        now,
        previous.as_ref(),
    );
    let employee_id = EmployeeId::of(uscc, &identity.person);
    let audit = AuditEntry {
        uscc,
        actor: &identity.person,
        actor_name: &identity.name,
        actor_role: ActorRole::Employee,
        action: AuditAction::EmployeeJoined,
        subject: None,
        subject_name: None,
        detail: Some(format!(
            "employee {employee_id} by invitation {} (notice {NOTICE_VERSION})",
            invitation.id
        )),
    }
    .into_item(now, state.core.settings.audit_retention)?;
    let table = state.core.store.table();
    let extra = vec![
        store::put_if_version(table, &consent, previous.as_ref().map(|p| p.version))?,
        store::put_new(table, audit),
        Invitations::count_use(&invitation).into_transact(table)?,
    ];
    let admission = Admission {
        uscc,
        person: &identity.person,
        name: &identity.name,
        masked_id: identity.masked_id.clone(),
        masked_phone: None,
        source: Source::Invited,
        added_by: None,
    };
    let (membership, admitted, record) = roster::admit(
        &state.core.store,
        admission,
        &state.core.settings.health_rules,
        now,
        extra,
    )
    .await
    .map_err(changed_meanwhile(
        "the invitation or your record changed meanwhile; try again",
    ))?;
    Ok((
        StatusCode::CREATED,
        ApiJson(Joined {
            uscc: uscc.to_string(),
            enterprise_name: profile.name,
            employee_id,
            admitted,
            sources: membership.sources,
            health_record: record,
            consent: ConsentView::from(&consent),
        }),
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MyEmployment {
    pub uscc: String,
    pub enterprise_name: Option<String>,
    pub employee_id: EmployeeId,
    pub sources: BTreeSet<Source>,
    pub current: bool,
    pub left_at: Option<DateTime<Utc>>,
    /// Present when you joined by invitation.
    pub consent: Option<ConsentView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MyEmployments {
    pub items: Vec<MyEmployment>,
}

/// The enterprises you are an employee of, and your consents.
#[utoipa::path(get, path = "/invite/me", operation_id = "invite_mine", tag = "invite-join",
    responses((status = 200, body = MyEmployments), (status = 401, body = crate::http::ErrorBody)),
    security(("bearer" = [])))]
async fn mine(
    axum::extract::State(state): axum::extract::State<LinkState>,
    identity: Identity,
) -> Result<ApiJson<MyEmployments>, ApiError> {
    let person = &identity.person;
    let consents_spec = QuerySpec::table(keys::person(person))
        .prefix(keys::CONSENT_PREFIX)
        .limit(100);
    let (memberships, consents) = tokio::try_join!(
        roster::of_person(&state.core.store, person),
        state.core.store.query_all::<Consent>(&consents_spec, 1_000)
    )?;
    let profile_keys: Vec<_> = memberships
        .iter()
        .map(|m| Store::key(&keys::enterprise(&m.uscc), keys::PROFILE))
        .collect();
    let mut profiles = std::collections::HashMap::new();
    for chunk in profile_keys.chunks(100) {
        for (_, item) in state.core.store.get_many(chunk.to_vec()).await? {
            let profile: EnterpriseProfile = Store::from_item(item)?;
            profiles.insert(profile.uscc.clone(), profile.name);
        }
    }
    Ok(ApiJson(MyEmployments {
        items: memberships
            .into_iter()
            .map(|m| MyEmployment {
                uscc: m.uscc.to_string(),
                enterprise_name: profiles.get(&m.uscc).cloned(),
                employee_id: m.employee_id.clone(),
                sources: m.sources.clone(),
                current: m.is_current(),
                left_at: m.left_at(),
                consent: consents
                    .iter()
                    .find(|c| c.uscc == m.uscc)
                    .map(ConsentView::from),
            })
            .collect(),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Withdrawn {
    pub uscc: String,
    pub withdrawn_at: DateTime<Utc>,
    /// Other grounds you remain an employee on (e.g. the social-insurance roster). Either way
    /// the enterprise no longer sees your health data.
    pub still_employee_via: BTreeSet<Source>,
}

/// Withdraws the consent you joined an enterprise with: it no longer sees your health data.
/// Unless you are also on its roster or were added by its agents, you also leave it.
#[utoipa::path(post, path = "/invite/me/enterprises/{uscc}/withdraw", tag = "invite-join",
    params(("uscc" = String, Path, description = "unified social credit code")),
    responses((status = 200, body = Withdrawn), (status = 401, body = crate::http::ErrorBody), (status = 404, body = crate::http::ErrorBody)),
    security(("bearer" = [])))]
async fn withdraw(
    axum::extract::State(state): axum::extract::State<LinkState>,
    identity: Identity,
    ApiPath(uscc): ApiPath<String>,
) -> Result<ApiJson<Withdrawn>, ApiError> {
    let uscc = state
        .core
        .uscc_policy
        .parse_path(&uscc)
        .map_err(|e| ApiError::bad_request("invalid_uscc", e.to_string()))?;
    let now = state.core.clock.now();
    let person = &identity.person;
    let consent_key = (keys::person(person), keys::consent(&uscc));
    let membership_key = roster::membership_key(&uscc, person);
    let mut found = state
        .core
        .store
        .get_many(vec![
            Store::key(&consent_key.0, &consent_key.1),
            Store::key(&membership_key.0, &membership_key.1),
        ])
        .await?;
    let no_consent = || {
        ApiError::not_found(
            "no_consent",
            "you have no consent in force with this enterprise",
        )
    };
    let consent: Consent = found
        .remove(&consent_key)
        .map(Store::from_item)
        .transpose()?
        .filter(Consent::is_active)
        .ok_or_else(no_consent)?;
    let membership: Option<Membership> = found
        .remove(&membership_key)
        .map(Store::from_item)
        .transpose()?;
    let table = state.core.store.table();
    let mut withdrawn = consent.clone();
    withdrawn.withdrawn_at = Some(now);
    withdrawn.version += 1;
    let employee_id = EmployeeId::of(&uscc, person);
    let mut parts = vec![
        store::put_if_version(table, &withdrawn, Some(consent.version))?,
        store::put_new(
            table,
            AuditEntry {
                uscc: &uscc,
                actor: person,
                actor_name: &identity.name,
                actor_role: ActorRole::Employee,
                action: AuditAction::ConsentWithdrawn,
                subject: None,
                subject_name: None,
                detail: Some(format!("employee {employee_id}")),
            }
            .into_item(now, state.core.settings.audit_retention)?,
        ),
    ];
    let mut remaining = BTreeSet::new();
    if let Some(m) = membership {
        let mut next = m.clone();
        next.sources.remove(&Source::Invited);
        remaining = next.sources.clone();
        if !m.health_withheld() {
            next.withhold_health();
            // Out of the counts: as a leaver if nothing else ties them to the enterprise,
            // otherwise out of every health counter while still an employee.
            let delta = match (m.is_current(), remaining.is_empty()) {
                (true, true) => {
                    next.leave(now);
                    Delta::leave(m.derived())
                }
                (true, false) => Delta::withheld(m.derived()),
                // A leaver is in no health counter.
                (false, _) => Delta::default(),
            };
            if !delta.is_empty() {
                parts.push(delta.update(table, &uscc, now)?);
            }
        }
        next.version += 1;
        parts.push(store::put_if_version(table, &next, Some(m.version))?);
    }
    state
        .core
        .store
        .transact(parts)
        .await
        .map_err(changed_meanwhile(
            "your record changed meanwhile; try again",
        ))?;
    Ok(ApiJson(Withdrawn {
        uscc: uscc.to_string(),
        withdrawn_at: now,
        still_employee_via: remaining,
    }))
}

/// An employee an agent adds by hand (manual §5.2 手动添加).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HandAdd {
    pub name: String,
    pub id_type: IdType,
    pub id_number: String,
    pub phone: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EmployeeAdded {
    pub employee_id: EmployeeId,
    pub admitted: Admitted,
    pub name: String,
    pub masked_id: String,
    pub masked_phone: Option<String>,
    pub sources: BTreeSet<Source>,
    pub health_record: RecordStatus,
}

/// Adds an employee by hand: validated name, ID and phone. The same person added twice, or added
/// and also on the roster, stays one employee with several sources.
#[utoipa::path(post, path = "/invite/enterprises/{uscc}/employees", tag = "invite-join",
    params(("uscc" = String, Path, description = "unified social credit code")),
    request_body = HandAdd,
    responses((status = 201, body = EmployeeAdded, description = "a new (or returning) employee"), (status = 200, body = EmployeeAdded, description = "already an employee"),
              (status = 403, body = crate::http::ErrorBody), (status = 422, body = crate::http::ErrorBody)),
    security(("bearer" = [])))]
async fn add_by_hand(
    axum::extract::State(state): axum::extract::State<LinkState>,
    access: TenantAccess,
    ApiJson(body): ApiJson<HandAdd>,
) -> Result<(StatusCode, ApiJson<EmployeeAdded>), ApiError> {
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS || name.contains('#') {
        return Err(ApiError::unprocessable(
            "invalid_name",
            format!("a name is 1 to {MAX_NAME_CHARS} characters"),
        ));
    }
    let document = IdDocument::parse(body.id_type, &body.id_number)
        .map_err(|e| ApiError::unprocessable("invalid_id_number", e.to_string()))?;
    let phone = Phone::parse(&body.phone)
        .map_err(|e| ApiError::unprocessable("invalid_phone", e.to_string()))?;
    let now = state.core.clock.now();
    let uscc = &access.enterprise.uscc;
    let person = state.keyer.key(&document);
    let employee_id = EmployeeId::of(uscc, &person);
    let agent_id = AgentId::of(uscc, &access.identity.person).to_string();
    let audit = AuditEntry::by(
        &access,
        AuditAction::EmployeeAdded,
        format!("employee {employee_id} ({name})"),
    )
    .into_item(now, state.core.settings.audit_retention)?;
    let admission = Admission {
        uscc,
        person: &person,
        name,
        masked_id: document.masked(),
        masked_phone: Some(phone.masked()),
        source: Source::HandAdded,
        added_by: Some(agent_id),
    };
    let (m, admitted, record) = roster::admit(
        &state.core.store,
        admission,
        &state.core.settings.health_rules,
        now,
        vec![store::put_new(state.core.store.table(), audit)],
    )
    .await
    .map_err(changed_meanwhile(
        "this employee changed meanwhile; try again",
    ))?;
    let status = match admitted {
        Admitted::New | Admitted::Returned => StatusCode::CREATED,
        Admitted::SourceAdded | Admitted::AlreadyThere => StatusCode::OK,
    };
    Ok((
        status,
        ApiJson(EmployeeAdded {
            employee_id,
            admitted,
            name: m.name().to_string(),
            masked_id: m.masked_id.clone(),
            masked_phone: m.masked_phone.clone(),
            sources: m.sources.clone(),
            health_record: record,
        }),
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EmployeeRemoved {
    pub employee_id: EmployeeId,
    pub left_at: DateTime<Utc>,
    /// The `agent_id` of who removed them.
    pub removed_by: String,
}

/// Removes an employee: kept as left, with who and when; no longer counted.
#[utoipa::path(delete, path = "/invite/enterprises/{uscc}/employees/{employee_id}", tag = "invite-join",
    params(("uscc" = String, Path, description = "unified social credit code"), ("employee_id" = String, Path)),
    responses((status = 200, body = EmployeeRemoved), (status = 403, body = crate::http::ErrorBody), (status = 404, body = crate::http::ErrorBody), (status = 409, body = crate::http::ErrorBody)),
    security(("bearer" = [])))]
async fn remove(
    axum::extract::State(state): axum::extract::State<LinkState>,
    access: TenantAccess,
    ApiPath((_, employee_id)): ApiPath<(String, String)>,
) -> Result<ApiJson<EmployeeRemoved>, ApiError> {
    let employee_id = EmployeeId::parse(&employee_id)
        .map_err(|e| ApiError::bad_request("invalid_employee_id", e))?;
    let uscc = &access.enterprise.uscc;
    let m: Membership = state
        .core
        .store
        .get(
            &keys::enterprise(uscc),
            &keys::employee(employee_id.as_str()),
        )
        .await?
        .ok_or_else(|| {
            ApiError::not_found("unknown_employee", "no such employee in this enterprise")
        })?;
    if !m.is_current() {
        return Err(ApiError::conflict(
            "already_left",
            "this employee has already left",
        ));
    }
    let now = state.core.clock.now();
    let removed_by = AgentId::of(uscc, &access.identity.person).to_string();
    let mut next = m.clone();
    next.leave(now);
    next.removed_by = Some(removed_by.clone());
    next.version += 1;
    let table = state.core.store.table();
    let audit = AuditEntry::by(
        &access,
        AuditAction::EmployeeRemoved,
        format!("employee {employee_id} ({})", m.name()),
    )
    .into_item(now, state.core.settings.audit_retention)?;
    state
        .core
        .store
        .transact(vec![
            store::put_if_version(table, &next, Some(m.version))?,
            Delta::leave(m.derived()).update(table, uscc, now)?,
            store::put_new(table, audit),
        ])
        .await
        .map_err(changed_meanwhile(
            "this employee changed meanwhile; try again",
        ))?;
    Ok(ApiJson(EmployeeRemoved {
        employee_id,
        left_at: now,
        removed_by,
    }))
}

/// A write that lost a race (its condition failed) is a 409 the caller can retry; any other
/// store error stays what it is.
fn changed_meanwhile(message: &'static str) -> impl FnOnce(StoreError) -> ApiError {
    move |e| match e {
        StoreError::ConditionFailed => ApiError::conflict("changed_meanwhile", message),
        e => e.into(),
    }
}

pub fn routes() -> OpenApiRouter<LinkState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(revoke))
        .routes(routes!(poster))
        .routes(routes!(open))
        .routes(routes!(join))
        .routes(routes!(mine))
        .routes(routes!(withdraw))
        .routes(routes!(add_by_hand))
        .routes(routes!(remove))
}
