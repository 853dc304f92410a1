//! The export workflow on the request side: validating what is asked, the job (idempotent by
//! the caller's key), the daily limit counted in the same transaction, and the queue message.
//! Each step returns [`ExportError`]; the routes turn it into HTTP. Producing and mailing the
//! files is the worker's ([`super::worker`]).

use super::ExportState;
use super::model::{ExportFilter, ExportJob, ExportSpec, JobId, JobMessage, ListKind};
use super::repo::{DailyQuota, ExportJobs};
use crate::audit::{AuditAction, AuditEntry};
use crate::ids::{Email, EmailError, PersonKey, Uscc};
use crate::store::{BadCursor, BadCursorOr, Page, StoreError};
use crate::tenancy::TenantAccess;

const MAX_IDEMPOTENCY_KEY: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{0}")]
    InvalidEmail(EmailError),
    #[error("idempotency_key is 1 to {MAX_IDEMPOTENCY_KEY} characters")]
    InvalidIdempotencyKey,
    /// The list or its filters, refused exactly as the query routes refuse them.
    #[error("{0}")]
    InvalidList(crate::listing::ListError),
    #[error("no such export job in this enterprise")]
    UnknownJob,
    #[error("this enterprise has made its {0} exports for today; try again tomorrow")]
    DailyLimit(u32),
    /// The job is recorded but could not be queued (marked failed): try again later.
    #[error("the job could not be queued: {0}")]
    NotQueued(String),
    #[error(transparent)]
    Cursor(#[from] BadCursor),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<BadCursorOr> for ExportError {
    fn from(e: BadCursorOr) -> Self {
        match e {
            BadCursorOr::Cursor(c) => Self::Cursor(c),
            BadCursorOr::Store(s) => Self::Store(s),
        }
    }
}

/// An idempotency key as given: trimmed, 1 to 64 characters.
pub fn idempotency_key(raw: &str) -> Result<&str, ExportError> {
    let key = raw.trim();
    if key.is_empty() || key.chars().count() > MAX_IDEMPOTENCY_KEY {
        return Err(ExportError::InvalidIdempotencyKey);
    }
    Ok(key)
}

/// The job id of a request: the same caller and idempotency key always name the same job.
pub fn job_id(uscc: &Uscc, caller: &PersonKey, idempotency_key: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::new()
        .chain_update(format!("export:{uscc}:{caller}:{idempotency_key}").as_bytes())
        .finalize();
    hex::encode(&digest[..12])
}

/// An export as asked for.
pub struct Asked<'a> {
    pub list: ListKind,
    pub group: String,
    pub filter: ExportFilter,
    pub email: &'a str,
    pub idempotency_key: &'a str,
}

/// Records and queues the export job (or answers the one this request already made).
pub async fn request(
    state: &ExportState,
    access: &TenantAccess,
    asked: Asked<'_>,
) -> Result<ExportJob, ExportError> {
    let queue = &state.queue;
    let store = &state.core.store;
    let email = Email::parse(asked.email).map_err(ExportError::InvalidEmail)?;
    let key = idempotency_key(asked.idempotency_key)?;
    let spec = ExportSpec {
        list: asked.list,
        group: asked.group,
        filter: asked.filter,
    };
    let uscc = &access.enterprise.uscc;
    spec.employee_list(uscc).map_err(ExportError::InvalidList)?;
    let now = state.core.clock.now();
    let job = ExportJob::queued(
        job_id(uscc, &access.identity.person, key),
        uscc,
        &access.enterprise.name,
        &access.identity.person,
        &access.identity.name,
        spec,
        email,
        now,
    );
    // A double tap: the same job, not queued again.
    if let Some(existing) = ExportJobs::get(store, uscc, &job.job_id).await? {
        return Ok(existing);
    }
    let day = crate::clock::business_time(now)
        .format("%Y-%m-%d")
        .to_string();
    let quota = DailyQuota::take(uscc, &day, queue.daily_limit, now);
    let audit = AuditEntry::by(
        access,
        AuditAction::ExportRequested,
        format!(
            "job {}: {} → {}",
            job.job_id,
            job.spec.describe(),
            job.email.masked()
        ),
    )
    .into_item(now, state.core.settings.audit_retention)?;
    match ExportJobs::create(store, &job, quota, audit).await {
        Ok(()) => {}
        Err(StoreError::ConditionFailed) => {
            // Either the same request raced us (then its job exists), or the limit is reached.
            return match ExportJobs::get(store, uscc, &job.job_id).await? {
                Some(existing) => Ok(existing),
                None => Err(ExportError::DailyLimit(queue.daily_limit)),
            };
        }
        Err(e) => return Err(e.into()),
    }
    let message = JobMessage {
        uscc: uscc.clone(),
        job_id: job.job_id.clone(),
    };
    if let Err(e) = queue.send(&message).await {
        tracing::error!(job = %job.job_id, error = %e, "export job could not be queued");
        ExportJobs::mark_failed(
            store,
            &job,
            "the job could not be queued; please request it again",
            now,
        )
        .await?;
        return Err(ExportError::NotQueued(e));
    }
    Ok(job)
}

/// One export job of the enterprise.
pub async fn status(
    state: &ExportState,
    uscc: &Uscc,
    job_id: &JobId,
) -> Result<ExportJob, ExportError> {
    ExportJobs::get(&state.core.store, uscc, job_id.as_str())
        .await?
        .ok_or(ExportError::UnknownJob)
}

/// A page of the enterprise's export jobs.
pub async fn list(
    state: &ExportState,
    uscc: &Uscc,
    cursor: Option<&str>,
) -> Result<Page<ExportJob>, ExportError> {
    Ok(ExportJobs::page(&state.core.store, uscc, cursor).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idempotency_keys_are_trimmed_and_bounded() {
        assert_eq!(idempotency_key(" tap-1 ").unwrap(), "tap-1");
        assert!(idempotency_key("  ").is_err());
        assert!(idempotency_key(&"k".repeat(65)).is_err());
        assert!(idempotency_key(&"键".repeat(64)).is_ok());
    }

    #[test]
    fn job_ids_are_24_hex_characters() {
        let id = job_id(
            &crate::ids::Uscc::parse("91440300MA5D3M0014").unwrap(),
            &PersonKey::try_from("ab".repeat(32)).unwrap(),
            "tap-1",
        );
        assert!(JobId::parse(&id).is_ok());
        assert!(JobId::parse("0123456789abcdef0123456").is_err());
        assert!(JobId::parse("0123456789abcdef0123456g").is_err());
    }
}
