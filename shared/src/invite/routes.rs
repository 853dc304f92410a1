//! The invite-join routes: requests and responses, and the mapping of [`InviteError`] to HTTP.
//! The workflows are in [`super::service`].

use super::model::{
    ConsentView, Invitation, InvitationId, InvitationStatus, NOTICE, NOTICE_VERSION, SHARED_DATA,
};
use super::service::{self, HandAdded, InviteError};
use crate::app::LinkState;
use crate::health::RecordStatus;
use crate::http::{ApiError, ApiJson, ApiPath, ApiQuery, CursorQuery};
use crate::identity::Identity;
use crate::ids::IdType;
use crate::path::InPath;
use crate::roster::{Admitted, EmployeeId, ShownEmployee, Source};
use crate::tenancy::TenantAccess;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

impl InviteError {
    /// The status and code of the errors the caller can act on (`None`: store, cursor and
    /// rendering errors, which map as the whole API maps them).
    fn status_and_code(&self) -> Option<(StatusCode, &'static str)> {
        use InviteError as E;
        Some(match self {
            E::InvalidValidDays => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_valid_days"),
            E::UnknownInvitation => (StatusCode::NOT_FOUND, "unknown_invitation"),
            E::InvalidLink => (StatusCode::BAD_REQUEST, "invalid_invitation"),
            E::Expired => (StatusCode::GONE, "invitation_expired"),
            E::Revoked => (StatusCode::GONE, "invitation_revoked"),
            E::Inactive => (StatusCode::GONE, "invitation_inactive"),
            E::UnknownEnterprise => (StatusCode::NOT_FOUND, "unknown_enterprise"),
            E::ConsentRequired => (StatusCode::UNPROCESSABLE_ENTITY, "consent_required"),
            E::NoticeChanged => (StatusCode::CONFLICT, "notice_changed"),
            E::NoConsent => (StatusCode::NOT_FOUND, "no_consent"),
            E::InvalidUscc(_) => (StatusCode::BAD_REQUEST, "invalid_uscc"),
            E::InvalidName(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_name"),
            E::InvalidIdNumber(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_id_number"),
            E::InvalidPhone(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_phone"),
            E::UnknownEmployee => (StatusCode::NOT_FOUND, "unknown_employee"),
            E::AlreadyLeft => (StatusCode::CONFLICT, "already_left"),
            E::ChangedMeanwhile(_) => (StatusCode::CONFLICT, "changed_meanwhile"),
            E::Cursor(_) | E::Poster(_) | E::Store(_) => return None,
        })
    }
}

impl From<InviteError> for ApiError {
    fn from(e: InviteError) -> Self {
        if let Some((status, code)) = e.status_and_code() {
            return ApiError::new(status, code, e.to_string());
        }
        match e {
            InviteError::Cursor(c) => crate::store::BadCursorOr::Cursor(c).into(),
            InviteError::Store(s) => s.into(),
            other => ApiError::internal(other),
        }
    }
}

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
    /// Where the poster (SVG) is.
    pub poster: String,
}

impl InvitationCreated {
    fn of(state: &LinkState, invitation: &Invitation, now: DateTime<Utc>) -> Self {
        let (url, token) = service::link(state, invitation);
        Self {
            url,
            token,
            poster: format!(
                "/invite/enterprises/{}/invitations/{}/poster",
                invitation.uscc, invitation.id
            ),
            invitation: InvitationView::of(invitation, now),
        }
    }
}

/// Makes an invitation link (and poster) for the enterprise's employees.
#[utoipa::path(post, path = "/invite/enterprises/{uscc}/invitations", tag = "invite-join",
    params(("uscc" = String, Path, description = "unified social credit code")),
    request_body = NewInvitation,
    responses((status = 201, body = InvitationCreated), (status = 403, body = crate::http::ErrorBody), (status = 422, body = crate::http::ErrorBody)),
    security(("bearer" = [])))]
async fn create(
    State(state): State<LinkState>,
    access: TenantAccess,
    ApiJson(body): ApiJson<NewInvitation>,
) -> Result<(StatusCode, ApiJson<InvitationCreated>), ApiError> {
    let invitation = service::create(&state, &access, body.valid_days).await?;
    let now = state.core.clock.now();
    Ok((
        StatusCode::CREATED,
        ApiJson(InvitationCreated::of(&state, &invitation, now)),
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationList {
    pub items: Vec<InvitationView>,
    pub next_cursor: Option<String>,
}

/// The enterprise's invitations, newest first, with who made each and how often it was used.
#[utoipa::path(get, path = "/invite/enterprises/{uscc}/invitations", operation_id = "invite_list", tag = "invite-join",
    params(("uscc" = String, Path, description = "unified social credit code"), CursorQuery),
    responses((status = 200, body = InvitationList), (status = 403, body = crate::http::ErrorBody)),
    security(("bearer" = [])))]
async fn list(
    State(state): State<LinkState>,
    access: TenantAccess,
    ApiQuery(query): ApiQuery<CursorQuery>,
) -> Result<ApiJson<InvitationList>, ApiError> {
    let page = service::list(&state, &access.enterprise.uscc, query.cursor.as_deref()).await?;
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

/// Revokes an invitation: its link and poster stop working at once.
#[utoipa::path(delete, path = "/invite/enterprises/{uscc}/invitations/{invitation_id}", operation_id = "invite_revoke", tag = "invite-join",
    params(("uscc" = String, Path, description = "unified social credit code"), ("invitation_id" = String, Path)),
    responses((status = 200, body = InvitationView), (status = 403, body = crate::http::ErrorBody), (status = 404, body = crate::http::ErrorBody)),
    security(("bearer" = [])))]
async fn revoke(
    State(state): State<LinkState>,
    access: TenantAccess,
    InPath(id): InPath<InvitationId>,
) -> Result<ApiJson<InvitationView>, ApiError> {
    let invitation = service::revoke(&state, &access, &id).await?;
    Ok(ApiJson(InvitationView::of(
        &invitation,
        state.core.clock.now(),
    )))
}

/// The invitation's poster: an SVG with the enterprise's name and the link's QR code, which the
/// client draws into a PNG in the phone's own font. It holds no script; the headers also forbid
/// any, should it be opened on its own.
#[utoipa::path(get, path = "/invite/enterprises/{uscc}/invitations/{invitation_id}/poster", tag = "invite-join",
    params(("uscc" = String, Path, description = "unified social credit code"), ("invitation_id" = String, Path)),
    responses((status = 200, content_type = "image/svg+xml", body = String, description = "the poster"), (status = 403, body = crate::http::ErrorBody), (status = 410, body = crate::http::ErrorBody)),
    security(("bearer" = [])))]
async fn poster(
    State(state): State<LinkState>,
    access: TenantAccess,
    InPath(id): InPath<InvitationId>,
) -> Result<impl IntoResponse, ApiError> {
    let svg = service::poster(&state, &access, &id).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "private, max-age=300"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'",
            ),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        svg,
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

/// What an invitation asks: which enterprise, what it will see, under which notice.
#[utoipa::path(get, path = "/invite/open", tag = "invite-join", params(TokenQuery),
    responses((status = 200, body = InvitationPreview), (status = 400, body = crate::http::ErrorBody), (status = 410, body = crate::http::ErrorBody)),
    security(("bearer" = [])))]
async fn open(
    State(state): State<LinkState>,
    identity: Identity,
    ApiQuery(query): ApiQuery<TokenQuery>,
) -> Result<ApiJson<InvitationPreview>, ApiError> {
    let (invitation, profile, already_employee) =
        service::open(&state, &identity, &query.token).await?;
    Ok(ApiJson(InvitationPreview {
        uscc: profile.uscc.to_string(),
        enterprise_name: profile.name,
        valid_until: invitation.valid_until,
        notice_version: NOTICE_VERSION.into(),
        notice: NOTICE.into(),
        shared: SHARED_DATA.iter().map(|s| s.to_string()).collect(),
        already_employee,
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
    State(state): State<LinkState>,
    identity: Identity,
    ApiJson(body): ApiJson<JoinRequest>,
) -> Result<(StatusCode, ApiJson<Joined>), ApiError> {
    let joined = service::join(
        &state,
        &identity,
        &body.token,
        body.consent,
        &body.notice_version,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        ApiJson(Joined {
            uscc: joined.enterprise.uscc.to_string(),
            enterprise_name: joined.enterprise.name,
            employee_id: joined.employee_id,
            admitted: joined.admitted,
            sources: joined.membership.sources,
            health_record: joined.health_record,
            consent: ConsentView::from(&joined.consent),
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
    State(state): State<LinkState>,
    identity: Identity,
) -> Result<ApiJson<MyEmployments>, ApiError> {
    let memberships = service::mine(&state, &identity).await?;
    Ok(ApiJson(MyEmployments {
        items: memberships
            .into_iter()
            .map(|(m, enterprise_name, consent)| MyEmployment {
                uscc: m.uscc.to_string(),
                enterprise_name,
                employee_id: m.employee_id.clone(),
                current: m.is_current(),
                left_at: m.left_at(),
                sources: m.sources,
                consent: consent.as_ref().map(ConsentView::from),
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
    State(state): State<LinkState>,
    identity: Identity,
    ApiPath(uscc): ApiPath<String>,
) -> Result<ApiJson<Withdrawn>, ApiError> {
    let (withdrawn_at, still_employee_via) = service::withdraw(&state, &identity, &uscc).await?;
    Ok(ApiJson(Withdrawn {
        uscc,
        withdrawn_at,
        still_employee_via,
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
    #[serde(flatten)]
    pub employee: ShownEmployee,
    pub admitted: Admitted,
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
    State(state): State<LinkState>,
    access: TenantAccess,
    ApiJson(body): ApiJson<HandAdd>,
) -> Result<(StatusCode, ApiJson<EmployeeAdded>), ApiError> {
    let input = HandAdded {
        name: &body.name,
        id_type: body.id_type,
        id_number: &body.id_number,
        phone: &body.phone,
    };
    let (m, admitted, health_record) = service::add_by_hand(&state, &access, input).await?;
    let status = match admitted {
        Admitted::New | Admitted::Returned => StatusCode::CREATED,
        Admitted::SourceAdded | Admitted::AlreadyThere => StatusCode::OK,
    };
    Ok((
        status,
        ApiJson(EmployeeAdded {
            employee: m.shown(),
            admitted,
            health_record,
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
    State(state): State<LinkState>,
    access: TenantAccess,
    InPath(employee_id): InPath<EmployeeId>,
) -> Result<ApiJson<EmployeeRemoved>, ApiError> {
    let (employee_id, left_at, removed_by) = service::remove(&state, &access, employee_id).await?;
    Ok(ApiJson(EmployeeRemoved {
        employee_id,
        left_at,
        removed_by,
    }))
}

/// The invite-join function's routes with their OpenAPI description.
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
        // The data subject's rights live with the consents and memberships they act on.
        .merge(crate::subject::routes())
}
