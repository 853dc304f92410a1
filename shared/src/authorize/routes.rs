//! HTTP routes of the authorize function. Paths are those API Gateway routes to it.

use super::error::AuthorizeError;
use super::model::{AgentId, Authorization, EffectiveStatus, Materials, Method};
use super::offline::{self, OfflineGrantRequest, OfflineResult, Originals, OriginalsRequest};
use super::service::{self, DecisionRequest, ShareLinkCreated};
use crate::app::LinkState;
use crate::audit::{self, AuditView};
use crate::http::{ApiError, ApiJson, ApiPath, ApiQuery, CursorQuery};
use crate::identity::Identity;
use crate::ids::Uscc;
use crate::path::InPath;
use crate::registry;
use crate::tenancy::{LegalRepAccess, OperatorAccess, Role, TenantAccess};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

impl AuthorizeError {
    /// The status and code of a refusal (`None`: a store error, mapped as the whole API maps it).
    fn status_and_code(&self) -> Option<(StatusCode, &'static str)> {
        use AuthorizeError as E;
        Some(match self {
            E::UnknownEnterprise => (StatusCode::NOT_FOUND, "unknown_enterprise"),
            E::FaceVerificationRequired => (StatusCode::FORBIDDEN, "face_verification_required"),
            E::ReasonRequired => (StatusCode::UNPROCESSABLE_ENTITY, "reason_required"),
            E::ReasonTooLong(_) => (StatusCode::UNPROCESSABLE_ENTITY, "reason_too_long"),
            E::IsLegalRep => (StatusCode::CONFLICT, "is_legal_rep"),
            E::AlreadyAuthorized => (StatusCode::CONFLICT, "already_authorized"),
            E::AlreadyPending => (StatusCode::CONFLICT, "already_pending"),
            E::InvalidLink(_) => (StatusCode::BAD_REQUEST, "invalid_link"),
            E::LinkExpired(_) => (StatusCode::GONE, "link_expired"),
            E::UnknownLink => (StatusCode::NOT_FOUND, "unknown_link"),
            E::LinkUsed => (StatusCode::GONE, "link_used"),
            E::NotTheLegalRep => (StatusCode::FORBIDDEN, "legal_rep_only"),
            E::ApplicationDecided => (StatusCode::GONE, "application_decided"),
            E::ValidUntilPast => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_valid_until"),
            E::UnknownApplication => (StatusCode::NOT_FOUND, "unknown_application"),
            E::NotPending => (StatusCode::CONFLICT, "not_pending"),
            E::UnknownAgent => (StatusCode::NOT_FOUND, "unknown_agent"),
            E::NotActive => (StatusCode::CONFLICT, "not_active"),
            E::InvalidName(..) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_name"),
            E::InvalidUscc(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_uscc"),
            E::InvalidBatch(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_batch"),
            E::MaterialsIncomplete => (StatusCode::UNPROCESSABLE_ENTITY, "materials_incomplete"),
            E::EmailApprovalInFuture | E::EmailApprovalTooOld => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_email_approved_at",
            ),
            E::InvalidIdNumber(..) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_id_number"),
            E::ReceivedInFuture | E::ReceivedBeforeApproval => {
                (StatusCode::UNPROCESSABLE_ENTITY, "invalid_received_at")
            }
            E::NotOffline => (StatusCode::CONFLICT, "not_offline"),
            E::OriginalsRecorded => (StatusCode::CONFLICT, "originals_recorded"),
            E::OriginalsOverdue | E::OriginalsLate => (StatusCode::CONFLICT, "originals_late"),
            E::InvalidCursor => (StatusCode::BAD_REQUEST, "invalid_cursor"),
            E::Store(_) => return None,
        })
    }
}

impl From<AuthorizeError> for ApiError {
    fn from(e: AuthorizeError) -> Self {
        match (e.status_and_code(), e) {
            (Some((status, code)), e) => ApiError::new(status, code, e.to_string()),
            (None, AuthorizeError::Store(store)) => store.into(),
            (None, e) => ApiError::internal(e),
        }
    }
}

/// An authorisation as people see it: masked identity, effective status as of now.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuthorizationView {
    pub uscc: String,
    pub enterprise_name: String,
    /// The agent's id in this enterprise (a per-enterprise pseudonym; never the ID number).
    pub agent_id: String,
    pub agent_name: String,
    pub agent_masked_id: String,
    pub status: EffectiveStatus,
    pub method: Method,
    pub reason: Option<String>,
    pub applied_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    pub valid_until: Option<DateTime<Utc>>,
    pub offline: Option<OfflineView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OfflineView {
    pub operator_name: String,
    pub materials: Materials,
    pub email_approved_at: DateTime<Utc>,
    pub originals_due: DateTime<Utc>,
    pub originals_received_at: Option<DateTime<Utc>>,
}

impl AuthorizationView {
    fn new(auth: Authorization, now: DateTime<Utc>) -> Self {
        let agent_id = auth.agent_id();
        let offline = auth.offline().map(|o| OfflineView {
            operator_name: o.operator_name.clone(),
            materials: o.materials.clone(),
            email_approved_at: o.email_approved_at,
            originals_due: o.originals_due,
            originals_received_at: o.originals_received_at,
        });
        Self {
            status: auth.effective_status(now),
            uscc: auth.uscc.to_string(),
            enterprise_name: auth.enterprise_name,
            agent_id: agent_id.to_string(),
            agent_name: auth.agent_name,
            agent_masked_id: auth.agent_masked_id,
            method: auth.method,
            reason: auth.reason,
            applied_at: auth.applied_at,
            decided_at: auth.decided_at,
            valid_until: auth.valid_until,
            offline,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuthorizationList {
    pub items: Vec<AuthorizationView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

fn list(page: crate::store::Page<Authorization>, now: DateTime<Utc>) -> AuthorizationList {
    AuthorizationList {
        items: page
            .items
            .into_iter()
            .map(|a| AuthorizationView::new(a, now))
            .collect(),
        next_cursor: page.next_cursor,
    }
}

fn uscc(state: &LinkState, raw: &str) -> Result<Uscc, ApiError> {
    state
        .core
        .uscc_policy
        .parse(raw)
        .map_err(|e| ApiError::unprocessable("invalid_uscc", e.to_string()))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FindQuery {
    /// The enterprise's exact full name (企业全称).
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EnterpriseSummary {
    pub uscc: String,
    pub name: String,
    pub district: String,
}

/// Find an enterprise by its exact full name (method 2, step 2).
#[utoipa::path(get, path = "/authorize/enterprises", tag = "authorize", params(FindQuery),
    responses((status = 200, body = Vec<EnterpriseSummary>), (status = 400, body = crate::http::ErrorBody)),
    security(("bearer" = [])))]
async fn find_enterprise(
    axum::extract::State(state): axum::extract::State<LinkState>,
    _identity: Identity,
    ApiQuery(query): ApiQuery<FindQuery>,
) -> Result<ApiJson<Vec<EnterpriseSummary>>, ApiError> {
    let name = query.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::bad_request(
            "invalid_name",
            "type the enterprise's full name (1 to 100 characters)",
        ));
    }
    let found = registry::find_by_name(&state.core.store, name).await?;
    Ok(ApiJson(
        found.into_iter().map(EnterpriseSummary::from).collect(),
    ))
}

impl From<registry::EnterpriseProfile> for EnterpriseSummary {
    fn from(e: registry::EnterpriseProfile) -> Self {
        Self {
            uscc: e.uscc.to_string(),
            name: e.name,
            district: e.district,
        }
    }
}

/// The enterprises whose legal representative the caller is (their own 防疫通 needs no
/// authorisation: the client lists these beside the ones the caller is an agent of).
#[utoipa::path(get, path = "/authorize/legal-rep/enterprises", tag = "authorize",
    responses((status = 200, body = Vec<EnterpriseSummary>)), security(("bearer" = [])))]
async fn legal_rep_enterprises(
    axum::extract::State(state): axum::extract::State<LinkState>,
    identity: Identity,
) -> Result<ApiJson<Vec<EnterpriseSummary>>, ApiError> {
    let enterprises = registry::of_legal_rep(&state.core.store, &identity).await?;
    Ok(ApiJson(
        enterprises
            .into_iter()
            .map(EnterpriseSummary::from)
            .collect(),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicationRequest {
    pub uscc: String,
    /// 申请原因, required for method 2.
    pub reason: String,
}

/// Apply for an enterprise with a reason (method 2).
#[utoipa::path(post, path = "/authorize/applications", tag = "authorize", request_body = ApplicationRequest,
    responses((status = 201, body = AuthorizationView), (status = 404, body = crate::http::ErrorBody), (status = 409, body = crate::http::ErrorBody)),
    security(("bearer" = [])))]
async fn apply(
    axum::extract::State(state): axum::extract::State<LinkState>,
    identity: Identity,
    ApiJson(request): ApiJson<ApplicationRequest>,
) -> Result<(StatusCode, ApiJson<AuthorizationView>), ApiError> {
    let uscc = uscc(&state, &request.uscc)?;
    let auth = service::apply(
        &state,
        &identity,
        &uscc,
        Method::Application,
        Some(request.reason),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        ApiJson(AuthorizationView::new(auth, state.core.clock.now())),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShareLinkRequest {
    pub uscc: String,
}

/// Apply now and get a link to share with the legal rep (method 1).
#[utoipa::path(post, path = "/authorize/share-links", tag = "authorize", request_body = ShareLinkRequest,
    responses((status = 201, body = ShareLinkCreated), (status = 404, body = crate::http::ErrorBody), (status = 409, body = crate::http::ErrorBody)),
    security(("bearer" = [])))]
async fn create_share_link(
    axum::extract::State(state): axum::extract::State<LinkState>,
    identity: Identity,
    ApiJson(request): ApiJson<ShareLinkRequest>,
) -> Result<(StatusCode, ApiJson<ShareLinkCreated>), ApiError> {
    let uscc = uscc(&state, &request.uscc)?;
    Ok((
        StatusCode::CREATED,
        ApiJson(service::create_share_link(&state, &identity, &uscc).await?),
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ShareLinkView {
    pub enterprise_name: String,
    pub uscc: String,
    pub applicant_name: String,
    pub applicant_masked_id: String,
    pub applied_at: DateTime<Utc>,
    /// Whether the caller's face verification is recent enough to decide now.
    pub can_decide_now: bool,
}

/// The legal rep opens a share link: who asks for which enterprise.
#[utoipa::path(get, path = "/authorize/share-links/{token}", tag = "authorize",
    params(("token" = String, Path, description = "the token of the share link")),
    responses((status = 200, body = ShareLinkView), (status = 400, body = crate::http::ErrorBody), (status = 403, body = crate::http::ErrorBody), (status = 410, body = crate::http::ErrorBody)),
    security(("bearer" = [])))]
async fn open_share_link(
    axum::extract::State(state): axum::extract::State<LinkState>,
    identity: Identity,
    ApiPath(token): ApiPath<String>,
) -> Result<ApiJson<ShareLinkView>, ApiError> {
    let opened = service::open_share_link(&state, &identity, &token).await?;
    Ok(ApiJson(ShareLinkView {
        enterprise_name: opened.enterprise.name,
        uscc: opened.enterprise.uscc.to_string(),
        applicant_name: opened.authorization.agent_name,
        applicant_masked_id: opened.authorization.agent_masked_id,
        applied_at: opened.authorization.applied_at,
        can_decide_now: identity.face_verified_within(
            state.core.clock.now(),
            state.core.settings.face_verification_window,
        ),
    }))
}

/// The legal rep grants or rejects through the share link (needs a recent face verification).
#[utoipa::path(post, path = "/authorize/share-links/{token}/decision", tag = "authorize", request_body = DecisionRequest,
    params(("token" = String, Path, description = "the token of the share link")),
    responses((status = 200, body = AuthorizationView), (status = 403, body = crate::http::ErrorBody), (status = 410, body = crate::http::ErrorBody)),
    security(("bearer" = [])))]
async fn decide_share_link(
    axum::extract::State(state): axum::extract::State<LinkState>,
    identity: Identity,
    ApiPath(token): ApiPath<String>,
    ApiJson(decision): ApiJson<DecisionRequest>,
) -> Result<ApiJson<AuthorizationView>, ApiError> {
    let auth = service::decide_share_link(&state, &identity, &token, decision).await?;
    Ok(ApiJson(AuthorizationView::new(
        auth,
        state.core.clock.now(),
    )))
}

/// My authorisations and their states ("我的权限").
#[utoipa::path(get, path = "/authorize/me", operation_id = "authorize_mine", tag = "authorize", params(CursorQuery),
    responses((status = 200, body = AuthorizationList)), security(("bearer" = [])))]
async fn mine(
    axum::extract::State(state): axum::extract::State<LinkState>,
    identity: Identity,
    ApiQuery(query): ApiQuery<CursorQuery>,
) -> Result<ApiJson<AuthorizationList>, ApiError> {
    let page = service::mine(&state, &identity, query.cursor.as_deref()).await?;
    Ok(ApiJson(list(page, state.core.clock.now())))
}

/// Applications waiting for me, across the enterprises I am the legal rep of.
#[utoipa::path(get, path = "/authorize/legal-rep/pending", tag = "authorize",
    responses((status = 200, body = Vec<AuthorizationView>)), security(("bearer" = [])))]
async fn pending(
    axum::extract::State(state): axum::extract::State<LinkState>,
    identity: Identity,
) -> Result<ApiJson<Vec<AuthorizationView>>, ApiError> {
    let now = state.core.clock.now();
    let pending = service::pending_for_legal_rep(&state, &identity).await?;
    Ok(ApiJson(
        pending
            .into_iter()
            .map(|a| AuthorizationView::new(a, now))
            .collect(),
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccessView {
    pub uscc: String,
    pub enterprise_name: String,
    pub role: Role,
}

/// What I may do for this enterprise (the tenant guard's answer).
#[utoipa::path(get, path = "/authorize/enterprises/{uscc}/access", tag = "authorize",
    params(("uscc" = String, Path, description = "unified social credit code")),
    responses((status = 200, body = AccessView), (status = 403, body = crate::http::ErrorBody), (status = 404, body = crate::http::ErrorBody)),
    security(("bearer" = [])))]
async fn access(access: TenantAccess) -> ApiJson<AccessView> {
    ApiJson(AccessView {
        uscc: access.enterprise.uscc.to_string(),
        enterprise_name: access.enterprise.name,
        role: access.role,
    })
}

/// The enterprise's agents in every state (legal rep only).
#[utoipa::path(get, path = "/authorize/enterprises/{uscc}/agents", tag = "authorize",
    params(("uscc" = String, Path, description = "unified social credit code"), CursorQuery),
    responses((status = 200, body = AuthorizationList), (status = 403, body = crate::http::ErrorBody)),
    security(("bearer" = [])))]
async fn agents(
    axum::extract::State(state): axum::extract::State<LinkState>,
    LegalRepAccess(access): LegalRepAccess,
    ApiQuery(query): ApiQuery<CursorQuery>,
) -> Result<ApiJson<AuthorizationList>, ApiError> {
    let page = service::agents(&state, &access.enterprise.uscc, query.cursor.as_deref()).await?;
    Ok(ApiJson(list(page, state.core.clock.now())))
}

/// The legal rep approves or rejects a pending application (method 2; needs a recent face verification).
#[utoipa::path(post, path = "/authorize/enterprises/{uscc}/agents/{agent_id}/decision", tag = "authorize", request_body = DecisionRequest,
    params(("uscc" = String, Path, description = "unified social credit code"), ("agent_id" = String, Path, description = "the applicant's agent_id")),
    responses((status = 200, body = AuthorizationView), (status = 403, body = crate::http::ErrorBody), (status = 409, body = crate::http::ErrorBody)),
    security(("bearer" = [])))]
async fn decide_application(
    axum::extract::State(state): axum::extract::State<LinkState>,
    LegalRepAccess(access): LegalRepAccess,
    InPath(agent): InPath<AgentId>,
    ApiJson(decision): ApiJson<DecisionRequest>,
) -> Result<ApiJson<AuthorizationView>, ApiError> {
    let auth = service::decide_application(&state, &access, &agent, decision).await?;
    Ok(ApiJson(AuthorizationView::new(
        auth,
        state.core.clock.now(),
    )))
}

/// The legal rep revokes an agent.
#[utoipa::path(delete, path = "/authorize/enterprises/{uscc}/agents/{agent_id}", operation_id = "authorize_revoke", tag = "authorize",
    params(("uscc" = String, Path, description = "unified social credit code"), ("agent_id" = String, Path, description = "the agent's agent_id")),
    responses((status = 200, body = AuthorizationView), (status = 403, body = crate::http::ErrorBody), (status = 409, body = crate::http::ErrorBody)),
    security(("bearer" = [])))]
async fn revoke(
    axum::extract::State(state): axum::extract::State<LinkState>,
    LegalRepAccess(access): LegalRepAccess,
    InPath(agent): InPath<AgentId>,
) -> Result<ApiJson<AuthorizationView>, ApiError> {
    let auth = service::revoke(&state, &access, &agent).await?;
    Ok(ApiJson(AuthorizationView::new(
        auth,
        state.core.clock.now(),
    )))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditList {
    pub items: Vec<AuditView>,
    pub next_cursor: Option<String>,
}

/// The enterprise's authorisation audit trail, newest first (legal rep only).
#[utoipa::path(get, path = "/authorize/enterprises/{uscc}/audit", tag = "authorize",
    params(("uscc" = String, Path, description = "unified social credit code"), CursorQuery),
    responses((status = 200, body = AuditList), (status = 403, body = crate::http::ErrorBody)),
    security(("bearer" = [])))]
async fn audit_trail(
    axum::extract::State(state): axum::extract::State<LinkState>,
    LegalRepAccess(access): LegalRepAccess,
    ApiQuery(query): ApiQuery<CursorQuery>,
) -> Result<ApiJson<AuditList>, ApiError> {
    let page = audit::list(
        &state.core.store,
        &access.enterprise.uscc,
        query.cursor.as_deref(),
        50,
    )
    .await?;
    Ok(ApiJson(AuditList {
        items: page.items.into_iter().map(AuditView::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// An operator grants agents offline, one or a batch (manual §9).
#[utoipa::path(post, path = "/authorize/offline-grants", tag = "authorize", request_body = OfflineGrantRequest,
    responses((status = 200, body = Vec<OfflineResult>), (status = 403, body = crate::http::ErrorBody), (status = 422, body = crate::http::ErrorBody)),
    security(("bearer" = [])))]
async fn offline_grant(
    axum::extract::State(state): axum::extract::State<LinkState>,
    OperatorAccess(operator): OperatorAccess,
    ApiJson(request): ApiJson<OfflineGrantRequest>,
) -> Result<ApiJson<Vec<OfflineResult>>, ApiError> {
    Ok(ApiJson(
        offline::offline_grant(&state, &operator, request).await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OriginalsQuery {
    /// `awaited` (still in force, soonest due first) or `lapsed` (the latest first).
    #[param(inline)]
    pub originals: Originals,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The offline grants whose paper originals have not arrived, across the city (operators only,
/// manual §9): those still awaited, to chase or record, and those that lapsed.
#[utoipa::path(get, path = "/authorize/offline-grants", operation_id = "authorize_offline_grants", tag = "authorize",
    params(OriginalsQuery),
    responses((status = 200, body = AuthorizationList), (status = 403, body = crate::http::ErrorBody)),
    security(("bearer" = [])))]
async fn offline_grants(
    axum::extract::State(state): axum::extract::State<LinkState>,
    OperatorAccess(_): OperatorAccess,
    ApiQuery(query): ApiQuery<OriginalsQuery>,
) -> Result<ApiJson<AuthorizationList>, ApiError> {
    let page =
        offline::awaiting_originals(&state, query.originals, query.cursor.as_deref()).await?;
    Ok(ApiJson(list(page, state.core.clock.now())))
}

/// An operator records that the paper originals of an offline grant arrived.
#[utoipa::path(post, path = "/authorize/offline-grants/{uscc}/{agent_id}/originals", tag = "authorize", request_body = OriginalsRequest,
    params(("uscc" = String, Path, description = "unified social credit code"), ("agent_id" = String, Path, description = "the agent's agent_id")),
    responses((status = 200, body = AuthorizationView), (status = 403, body = crate::http::ErrorBody), (status = 409, body = crate::http::ErrorBody)),
    security(("bearer" = [])))]
async fn record_originals(
    axum::extract::State(state): axum::extract::State<LinkState>,
    OperatorAccess(operator): OperatorAccess,
    ApiPath((raw_uscc, _)): ApiPath<(String, String)>,
    InPath(agent): InPath<AgentId>,
    ApiJson(request): ApiJson<OriginalsRequest>,
) -> Result<ApiJson<AuthorizationView>, ApiError> {
    let uscc = state
        .core
        .uscc_policy
        .parse_path(&raw_uscc)
        .map_err(|e| ApiError::bad_request("invalid_uscc", e.to_string()))?;
    let auth = offline::record_originals(&state, &operator, &uscc, &agent, request).await?;
    Ok(ApiJson(AuthorizationView::new(
        auth,
        state.core.clock.now(),
    )))
}

/// The authorize function's routes with their OpenAPI description.
pub fn routes() -> OpenApiRouter<LinkState> {
    OpenApiRouter::new()
        .routes(routes!(find_enterprise))
        .routes(routes!(apply))
        .routes(routes!(create_share_link))
        .routes(routes!(open_share_link))
        .routes(routes!(decide_share_link))
        .routes(routes!(mine))
        .routes(routes!(pending))
        .routes(routes!(legal_rep_enterprises))
        .routes(routes!(access))
        .routes(routes!(agents))
        .routes(routes!(decide_application))
        .routes(routes!(revoke))
        .routes(routes!(audit_trail))
        .routes(routes!(offline_grant, offline_grants))
        .routes(routes!(record_originals))
}
