//! export (manual §4, §5): an agent asks for the PCR list or the vaccination list — with the
//! same filters the queries take — to be mailed to an address. The request is answered at once
//! (202 and a job id); a queue worker streams the rows from DynamoDB into CSV and XLSX files in
//! S3 and mails them through SES, attached when small enough, otherwise as time-limited links.
//!
//! - Idempotent: the job id is derived from the caller and their idempotency key, so a double tap
//!   is one job; the worker holds a lease on the job and marks it sent in a conditional write, so
//!   a redelivered queue message is one mail.
//! - Bounded: a per-enterprise daily limit, counted in the same transaction as the job.
//! - Never silently lost: a failed attempt goes back to the queue; after the last attempt the job
//!   is marked failed with the reason, and the status route shows it.
//! - Audited: the request, and the sending (row count, file hashes, recipient).

pub mod lambda;
pub mod mail;
pub mod repo;
pub mod worker;

use crate::app::{ApiState, Core};
use crate::audit::{AuditAction, AuditEntry};
use crate::authorize::AgentId;
use crate::health::{PcrLabel, VaxState};
use crate::http::{ApiError, ApiJson, ApiPath, ApiQuery};
use crate::identity::IdentityVerifier;
use crate::ids::{Email, Uscc};
use crate::keys;
use crate::listing::{EmployeeList, ListParams, Status};
use crate::roster::Source;
use crate::store::{self, QuerySpec, Store, StoreError};
use crate::tenancy::TenantAccess;
use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use repo::{DailyQuota, ExportJobs};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

/// The form of a job id in a URL (what the status route accepts).
pub const JOB_ID_PATTERN: &str = "^[0-9A-Fa-f]{24}$";

/// How long a job item (and its files' record) is kept.
const JOB_RETENTION_DAYS: i64 = 90;
const MAX_IDEMPOTENCY_KEY: usize = 64;

/// The AWS services and settings exports need beyond the table.
#[derive(Debug, Clone)]
pub struct ExportServices {
    pub s3: aws_sdk_s3::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub ses: aws_sdk_sesv2::Client,
    /// Where the files go (`exports/{uscc}/{job_id}/…`).
    pub bucket: String,
    pub queue_url: String,
    /// The verified SES sender.
    pub sender: String,
    /// Exports one enterprise may request per business day.
    pub daily_limit: u32,
    /// Attach files up to this total size; larger ones are sent as links.
    pub attach_limit_bytes: u64,
    /// How long a download link works.
    pub link_ttl: Duration,
    /// Attempts before a job is marked failed.
    pub max_attempts: u32,
}

impl ExportServices {
    /// The clients and where things go, with the default limits: 20 exports per enterprise a
    /// day, attachments up to 7 MB in all (SES takes 10 MB per raw message and base64 grows
    /// files by a third), 72-hour links, 3 attempts.
    pub fn new(
        s3: aws_sdk_s3::Client,
        sqs: aws_sdk_sqs::Client,
        ses: aws_sdk_sesv2::Client,
        bucket: String,
        queue_url: String,
        sender: String,
    ) -> Self {
        Self {
            s3,
            sqs,
            ses,
            bucket,
            queue_url,
            sender,
            daily_limit: 20,
            attach_limit_bytes: 7 * 1024 * 1024,
            link_ttl: Duration::hours(72),
            max_attempts: 3,
        }
    }

    /// From the environment (`EXPORT_BUCKET`, `EXPORT_QUEUE_URL`, `MAIL_SENDER`, optional
    /// `SES_REGION`, `EXPORT_DAILY_LIMIT`), as a Lambda's init builds it.
    pub async fn from_env(
        aws: &aws_config::SdkConfig,
        env: &dyn crate::config::Vars,
    ) -> Result<Self, crate::config::ConfigError> {
        use crate::config::{optional, required};
        let ses_config = match optional(env, "SES_REGION") {
            Some(region) => aws_sdk_sesv2::config::Builder::from(aws)
                .region(aws_sdk_sesv2::config::Region::new(region))
                .build(),
            None => aws_sdk_sesv2::config::Builder::from(aws).build(),
        };
        let mut services = Self::new(
            aws_sdk_s3::Client::new(aws),
            aws_sdk_sqs::Client::new(aws),
            aws_sdk_sesv2::Client::from_conf(ses_config),
            required(env, "EXPORT_BUCKET")?,
            required(env, "EXPORT_QUEUE_URL")?,
            required(env, "MAIL_SENDER")?,
        );
        if let Some(limit) = optional(env, "EXPORT_DAILY_LIMIT") {
            services.daily_limit = limit.parse().map_err(|e: std::num::ParseIntError| {
                crate::config::ConfigError::Invalid("EXPORT_DAILY_LIMIT", e.to_string())
            })?;
        }
        Ok(services)
    }
}

/// The export function's state: the API state and the services exports need.
#[derive(Clone, axum::extract::FromRef)]
pub struct ExportState {
    pub core: Core,
    pub verifier: Arc<IdentityVerifier>,
    pub keyer: crate::ids::PersonKeyer,
    pub services: Arc<ExportServices>,
}

impl ExportState {
    pub fn new(api: ApiState, services: ExportServices) -> Self {
        Self {
            core: api.core,
            verifier: api.verifier,
            keyer: api.keyer,
            services: Arc::new(services),
        }
    }

    /// Everything from the environment, as a Lambda's init does it.
    pub async fn from_env(
        aws: &aws_config::SdkConfig,
        env: &dyn crate::config::Vars,
    ) -> Result<Self, crate::app::InitError> {
        let api = ApiState::from_env(aws, env)?;
        Ok(Self::new(api, ExportServices::from_env(aws, env).await?))
    }
}

/// Which list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ListKind {
    /// PCR-test recency (核酸检测名单), by label.
    Nucleic,
    /// Vaccination status (疫苗接种名单), by state.
    Vaccine,
}

/// The filters of the list queries (without paging).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportFilter {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
    #[serde(default)]
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_shenzhen: Option<bool>,
}

/// What to export: a list, its label (nucleic) or state (vaccine), and filters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ExportSpec {
    pub list: ListKind,
    /// `24h`, `48h`, `72h`, `over_72h`, `never` (nucleic) or `unvaccinated`, `partial`,
    /// `primary_complete`, `booster_eligible`, `boosted` (vaccine).
    pub group: String,
    #[serde(default)]
    pub filter: ExportFilter,
}

impl ExportSpec {
    /// The list it reads, validated exactly as the query routes validate it.
    pub fn employee_list(&self, uscc: &Uscc) -> Result<EmployeeList, ApiError> {
        let params = ListParams {
            name: self.filter.name.clone(),
            source: self.filter.source,
            status: self.filter.status,
            in_shenzhen: self.filter.in_shenzhen,
            cursor: None,
            limit: None,
        };
        match self.list {
            ListKind::Nucleic => {
                let label: PcrLabel = self.group.parse()?;
                EmployeeList::pcr(uscc, label.as_str(), &params)
            }
            ListKind::Vaccine => {
                let state: VaxState = self.group.parse()?;
                EmployeeList::vaccination(uscc, state.as_str(), &params)
            }
        }
    }

    /// How the list is described to people (mail, audit).
    pub fn describe(&self) -> String {
        let list = match self.list {
            ListKind::Nucleic => "核酸检测名单",
            ListKind::Vaccine => "疫苗接种名单",
        };
        let f = &self.filter;
        let mut parts = vec![format!("{list} {}", self.group)];
        parts.push(match f.status {
            Status::Current => "在职".into(),
            Status::Left => "已离职".into(),
        });
        if let Some(sz) = f.in_shenzhen {
            parts.push(if sz {
                "在深".into()
            } else {
                "不在深".into()
            });
        }
        if let Some(source) = f.source {
            parts.push(format!("来源 {}", source.label_zh()));
        }
        if let Some(name) = &f.name {
            parts.push(format!("姓名以「{name}」开头"));
        }
        parts.join("，")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Queued,
    Running,
    Sent,
    Failed,
}

impl JobStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Sent => "sent",
            Self::Failed => "failed",
        }
    }
}

/// How the files reached the recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    Attached,
    Link,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExportJob {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    pub job_id: String,
    pub uscc: Uscc,
    pub enterprise_name: String,
    /// The requester's `agent_id` in this enterprise, and name.
    pub requested_by: String,
    pub requested_by_name: String,
    /// For the audit record of the sending.
    pub requested_by_person: crate::ids::PersonKey,
    pub requested_at: DateTime<Utc>,
    pub spec: ExportSpec,
    pub email: Email,
    pub status: JobStatus,
    #[serde(default)]
    pub attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_until: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<Delivery>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<ExportFile>,
    #[serde(rename = "expires_at")]
    retention_until: i64,
}

/// One produced file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportFile {
    pub name: String,
    /// S3 key in the export bucket.
    pub key: String,
    pub bytes: u64,
    pub sha256: String,
}

/// A produced file as the requester reads it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FileView {
    pub name: String,
    pub bytes: u64,
    /// SHA-256 of the file, as recorded in the audit trail.
    pub sha256: String,
}

impl ExportJob {
    pub fn key(&self) -> (String, String) {
        (self.pk.clone(), self.sk.clone())
    }
}

/// The job id of a request: the same caller and idempotency key always name the same job.
fn job_id(uscc: &Uscc, caller: &crate::ids::PersonKey, idempotency_key: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::new()
        .chain_update(format!("export:{uscc}:{caller}:{idempotency_key}").as_bytes())
        .finalize();
    hex::encode(&digest[..12])
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

/// The message the queue carries: which job.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobMessage {
    pub uscc: Uscc,
    pub job_id: String,
}

/// Requests an export mailed to an address; answered 202 with the job at once.
#[utoipa::path(post, path = "/export/enterprises/{uscc}/exports", tag = "export",
    params(("uscc" = String, Path, description = "unified social credit code")),
    request_body = ExportRequest,
    responses((status = 202, body = JobView), (status = 400, body = crate::http::ErrorBody), (status = 403, body = crate::http::ErrorBody),
              (status = 422, body = crate::http::ErrorBody), (status = 429, body = crate::http::ErrorBody)),
    security(("bearer" = [])))]
async fn request(
    axum::extract::State(state): axum::extract::State<ExportState>,
    access: TenantAccess,
    ApiJson(body): ApiJson<ExportRequest>,
) -> Result<(StatusCode, ApiJson<JobView>), ApiError> {
    let services = &state.services;
    let email = Email::parse(&body.email)
        .map_err(|e| ApiError::unprocessable("invalid_email", e.to_string()))?;
    let key = body.idempotency_key.trim();
    if key.is_empty() || key.chars().count() > MAX_IDEMPOTENCY_KEY {
        return Err(ApiError::unprocessable(
            "invalid_idempotency_key",
            format!("idempotency_key is 1 to {MAX_IDEMPOTENCY_KEY} characters"),
        ));
    }
    let spec = ExportSpec {
        list: body.list,
        group: body.group,
        filter: body.filter,
    };
    let uscc = &access.enterprise.uscc;
    spec.employee_list(uscc)?;
    let now = state.core.clock.now();
    let job = ExportJob {
        pk: keys::enterprise(uscc),
        sk: String::new(),
        job_id: job_id(uscc, &access.identity.person, key),
        uscc: uscc.clone(),
        enterprise_name: access.enterprise.name.clone(),
        requested_by: AgentId::of(uscc, &access.identity.person).to_string(),
        requested_by_name: access.identity.name.clone(),
        requested_by_person: access.identity.person.clone(),
        requested_at: now,
        spec,
        email,
        status: JobStatus::Queued,
        attempts: 0,
        lease_until: None,
        last_error: None,
        finished_at: None,
        rows: None,
        delivery: None,
        files: Vec::new(),
        retention_until: (now + Duration::days(JOB_RETENTION_DAYS)).timestamp(),
    };
    let job = ExportJob {
        sk: keys::export_job(&job.job_id),
        ..job
    };
    // A double tap: the same job, not queued again.
    if let Some(existing) = state.core.store.get::<ExportJob>(&job.pk, &job.sk).await? {
        return Ok((StatusCode::ACCEPTED, ApiJson(JobView::from(&existing))));
    }
    let day = crate::clock::business_time(now)
        .format("%Y-%m-%d")
        .to_string();
    let quota = DailyQuota::take(uscc, &day, services.daily_limit, now);
    let audit = AuditEntry::by(
        &access,
        AuditAction::ExportRequested,
        format!(
            "job {}: {} → {}",
            job.job_id,
            job.spec.describe(),
            job.email.masked()
        ),
    )
    .into_item(now, state.core.settings.audit_retention)?;
    let table = state.core.store.table();
    match state
        .core
        .store
        .transact(vec![
            store::put_new(table, Store::to_item(&job)?),
            quota.into_transact(table)?,
            store::put_new(table, audit),
        ])
        .await
    {
        Ok(()) => {}
        Err(StoreError::ConditionFailed) => {
            // Either the same request raced us (then its job exists), or the limit is reached.
            if let Some(existing) = state.core.store.get::<ExportJob>(&job.pk, &job.sk).await? {
                return Ok((StatusCode::ACCEPTED, ApiJson(JobView::from(&existing))));
            }
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "daily_export_limit",
                format!(
                    "this enterprise has made its {} exports for today; try again tomorrow",
                    services.daily_limit
                ),
            ));
        }
        Err(e) => return Err(e.into()),
    }
    let message = serde_json::to_string(&JobMessage {
        uscc: uscc.clone(),
        job_id: job.job_id.clone(),
    })
    .expect("a message serialises");
    if let Err(e) = services
        .sqs
        .send_message()
        .queue_url(&services.queue_url)
        .message_body(message)
        .send()
        .await
    {
        tracing::error!(job = %job.job_id, error = %aws_sdk_sqs::error::DisplayErrorContext(&e), "export job could not be queued");
        ExportJobs::mark_failed(
            &state.core.store,
            &job,
            "the job could not be queued; please request it again",
            now,
        )
        .await?;
        return Err(ApiError::unavailable(e));
    }
    Ok((StatusCode::ACCEPTED, ApiJson(JobView::from(&job))))
}

/// One export job's status: queued, running, sent or failed (with the reason).
#[utoipa::path(get, path = "/export/enterprises/{uscc}/exports/{job_id}", tag = "export",
    params(("uscc" = String, Path, description = "unified social credit code"), ("job_id" = String, Path)),
    responses((status = 200, body = JobView), (status = 403, body = crate::http::ErrorBody), (status = 404, body = crate::http::ErrorBody)),
    security(("bearer" = [])))]
async fn status(
    axum::extract::State(state): axum::extract::State<ExportState>,
    access: TenantAccess,
    ApiPath((_, job_id)): ApiPath<(String, String)>,
) -> Result<ApiJson<JobView>, ApiError> {
    if job_id.len() != 24 || !job_id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::bad_request(
            "invalid_job_id",
            "a job id is 24 hex characters",
        ));
    }
    let job = state
        .core
        .store
        .get::<ExportJob>(
            &keys::enterprise(&access.enterprise.uscc),
            &keys::export_job(&job_id),
        )
        .await?
        .ok_or_else(|| {
            ApiError::not_found("unknown_job", "no such export job in this enterprise")
        })?;
    Ok(ApiJson(JobView::from(&job)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct JobsQuery {
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JobList {
    pub items: Vec<JobView>,
    pub next_cursor: Option<String>,
}

/// The enterprise's export jobs.
#[utoipa::path(get, path = "/export/enterprises/{uscc}/exports", operation_id = "export_list", tag = "export",
    params(("uscc" = String, Path, description = "unified social credit code"), JobsQuery),
    responses((status = 200, body = JobList), (status = 403, body = crate::http::ErrorBody)),
    security(("bearer" = [])))]
async fn list(
    axum::extract::State(state): axum::extract::State<ExportState>,
    access: TenantAccess,
    ApiQuery(query): ApiQuery<JobsQuery>,
) -> Result<ApiJson<JobList>, ApiError> {
    let spec =
        QuerySpec::table(keys::enterprise(&access.enterprise.uscc)).prefix(keys::EXPORT_PREFIX);
    let page = state
        .core
        .store
        .query::<ExportJob>(&spec, query.cursor.as_deref())
        .await?;
    Ok(ApiJson(JobList {
        items: page.items.iter().map(JobView::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

pub fn routes() -> OpenApiRouter<ExportState> {
    OpenApiRouter::new()
        .routes(routes!(request, list))
        .routes(routes!(status))
}
