//! The export routes: requests and responses, and the mapping of [`ExportError`] to HTTP.
//! The workflow is in [`super::service`].

use super::ExportState;
use super::model::{Delivery, ExportFilter, ExportJob, ExportSpec, JobId, JobStatus, ListKind};
use super::service::{self, Asked, ExportError};
use crate::http::{ApiError, ApiJson, ApiQuery, CursorQuery};
use crate::path::InPath;
use crate::tenancy::TenantAccess;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

impl From<ExportError> for ApiError {
    fn from(e: ExportError) -> Self {
        use ExportError as E;
        let (status, code) = match &e {
            E::InvalidEmail(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_email"),
            E::InvalidIdempotencyKey => {
                (StatusCode::UNPROCESSABLE_ENTITY, "invalid_idempotency_key")
            }
            E::UnknownJob => (StatusCode::NOT_FOUND, "unknown_job"),
            E::DailyLimit(_) => (StatusCode::TOO_MANY_REQUESTS, "daily_export_limit"),
            E::InvalidList(_) | E::NotQueued(_) | E::Cursor(_) | E::Store(_) => {
                return match e {
                    E::InvalidList(refused) => refused.into(),
                    not_queued @ E::NotQueued(_) => ApiError::unavailable(not_queued),
                    E::Cursor(c) => crate::store::BadCursorOr::Cursor(c).into(),
                    E::Store(s) => s.into(),
                    _ => ApiError::internal(e),
                };
            }
        };
        ApiError::new(status, code, e.to_string())
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportRequest {
    pub list: ListKind,
    /// The label (nucleic) or state (vaccine) to export.
    pub group: String,
    #[serde(default)]
    pub filter: ExportFilter,
    /// Where to mail the files.
    pub email: String,
    /// Any string unique to this request (1 to 64 characters): repeating a request with the
    /// same key gives the same job, never a second mail.
    pub idempotency_key: String,
}

/// A job as the requester reads it.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobView {
    pub job_id: String,
    pub status: JobStatus,
    pub spec: ExportSpec,
    /// The recipient, masked.
    pub email: String,
    pub requested_by_name: String,
    pub requested_at: DateTime<Utc>,
    pub attempts: u32,
    /// Why the last attempt failed (or why the job failed).
    pub reason: Option<String>,
    pub finished_at: Option<DateTime<Utc>>,
    pub rows: Option<u64>,
    pub delivery: Option<Delivery>,
    pub files: Vec<FileView>,
}

impl From<&ExportJob> for JobView {
    fn from(j: &ExportJob) -> Self {
        Self {
            job_id: j.job_id.clone(),
            status: j.status,
            spec: j.spec.clone(),
            email: j.email.masked(),
            requested_by_name: j.requested_by_name.clone(),
            requested_at: j.requested_at,
            attempts: j.attempts,
            reason: j.last_error.clone(),
            finished_at: j.finished_at,
            rows: j.rows,
            delivery: j.delivery,
            files: j
                .files
                .iter()
                .map(|f| FileView {
                    name: f.name.clone(),
                    bytes: f.bytes,
                    sha256: f.sha256.clone(),
                })
                .collect(),
        }
    }
}

/// A produced file as the requester reads it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FileView {
    pub name: String,
    pub bytes: u64,
    /// SHA-256 of the file, as recorded in the audit trail.
    pub sha256: String,
}

/// Requests an export mailed to an address; answered 202 with the job at once.
#[utoipa::path(post, path = "/export/enterprises/{uscc}/exports", tag = "export",
    params(("uscc" = String, Path, description = "unified social credit code")),
    request_body = ExportRequest,
    responses((status = 202, body = JobView), (status = 400, body = crate::http::ErrorBody), (status = 403, body = crate::http::ErrorBody),
              (status = 422, body = crate::http::ErrorBody), (status = 429, body = crate::http::ErrorBody)),
    security(("bearer" = [])))]
async fn request(
    State(state): State<ExportState>,
    access: TenantAccess,
    ApiJson(body): ApiJson<ExportRequest>,
) -> Result<(StatusCode, ApiJson<JobView>), ApiError> {
    let asked = Asked {
        list: body.list,
        group: body.group,
        filter: body.filter,
        email: &body.email,
        idempotency_key: &body.idempotency_key,
    };
    let job = service::request(&state, &access, asked).await?;
    Ok((StatusCode::ACCEPTED, ApiJson(JobView::from(&job))))
}

/// One export job's status: queued, running, sent or failed (with the reason).
#[utoipa::path(get, path = "/export/enterprises/{uscc}/exports/{job_id}", tag = "export",
    params(("uscc" = String, Path, description = "unified social credit code"), ("job_id" = String, Path)),
    responses((status = 200, body = JobView), (status = 403, body = crate::http::ErrorBody), (status = 404, body = crate::http::ErrorBody)),
    security(("bearer" = [])))]
async fn status(
    State(state): State<ExportState>,
    access: TenantAccess,
    InPath(job_id): InPath<JobId>,
) -> Result<ApiJson<JobView>, ApiError> {
    let job = service::status(&state, &access.enterprise.uscc, &job_id).await?;
    Ok(ApiJson(JobView::from(&job)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JobList {
    pub items: Vec<JobView>,
    pub next_cursor: Option<String>,
}

/// The enterprise's export jobs.
#[utoipa::path(get, path = "/export/enterprises/{uscc}/exports", operation_id = "export_list", tag = "export",
    params(("uscc" = String, Path, description = "unified social credit code"), CursorQuery),
    responses((status = 200, body = JobList), (status = 403, body = crate::http::ErrorBody)),
    security(("bearer" = [])))]
async fn list(
    State(state): State<ExportState>,
    access: TenantAccess,
    ApiQuery(query): ApiQuery<CursorQuery>,
) -> Result<ApiJson<JobList>, ApiError> {
    let page = service::list(&state, &access.enterprise.uscc, query.cursor.as_deref()).await?;
    Ok(ApiJson(JobList {
        items: page.items.iter().map(JobView::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// The export function's routes with their OpenAPI description.
pub fn routes() -> OpenApiRouter<ExportState> {
    OpenApiRouter::new()
        .routes(routes!(request, list))
        .routes(routes!(status))
}
