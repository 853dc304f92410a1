//! Persistence of export jobs and the daily export quota: every conditional write the export
//! workflow makes, named for what it means. Attribute names come from the entities' fields.

use super::{Delivery, ExportFile, ExportJob, JobMessage, JobStatus};
use crate::attr;
use crate::ids::Uscc;
use crate::keys;
use crate::store::{
    self, Applied, BadCursorOr, Condition, Item, ItemUpdate, Page, QuerySpec, Store, StoreError,
};
use chrono::{DateTime, Duration, SubsecRound, Utc};
use serde::{Deserialize, Serialize};

/// How long a worker holds a job before another may take it over.
pub const LEASE: i64 = 15 * 60;

/// Job timestamps that conditions compare are whole seconds, so the stored text orders as time.
fn second(t: DateTime<Utc>) -> DateTime<Utc> {
    t.trunc_subsecs(0)
}

/// The export jobs of an enterprise (`ENT#<uscc>` / `EXPORT#<job>`).
pub struct ExportJobs;

impl ExportJobs {
    pub async fn get(
        store: &Store,
        uscc: &Uscc,
        job_id: &str,
    ) -> Result<Option<ExportJob>, StoreError> {
        store
            .get(&keys::enterprise(uscc), &keys::export_job(job_id))
            .await
    }

    /// A page of the enterprise's jobs.
    pub async fn page(
        store: &Store,
        uscc: &Uscc,
        cursor: Option<&str>,
    ) -> Result<Page<ExportJob>, BadCursorOr> {
        let spec = QuerySpec::table(keys::enterprise(uscc)).prefix(keys::EXPORT_PREFIX);
        store.query(&spec, cursor).await
    }

    /// Writes a new job with its day's quota and its audit record, in one transaction: it fails
    /// with [`StoreError::ConditionFailed`] if the job exists or the quota is used up.
    pub async fn create(
        store: &Store,
        job: &ExportJob,
        quota: ItemUpdate,
        audit: Item,
    ) -> Result<(), StoreError> {
        let table = store.table();
        store
            .transact(vec![
                store::put_new(table, Store::to_item(job)?)?,
                quota.into_transact(table)?,
                store::put_new(table, audit)?,
            ])
            .await
    }

    /// Marks a job failed (used when it could not even be queued); a sent job stays sent.
    pub async fn mark_failed(
        store: &Store,
        job: &ExportJob,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Applied, StoreError> {
        let update = ItemUpdate::of(job.key())
            .set(attr!(ExportJob, status), JobStatus::Failed)
            .set(attr!(ExportJob, last_error), reason)
            .set(attr!(ExportJob, finished_at), second(now))
            .remove(attr!(ExportJob, lease_until))
            .when(Condition::differs(
                attr!(ExportJob, status),
                JobStatus::Sent,
            ));
        store.update(update).await
    }

    /// Takes the lease on a queued job (or one whose holder's lease ran out); answers the job as
    /// claimed, with its attempt number, or `None` if someone else holds it or it is done.
    pub async fn claim(
        store: &Store,
        message: &JobMessage,
        now: DateTime<Utc>,
    ) -> Result<Option<ExportJob>, StoreError> {
        let status = attr!(ExportJob, status);
        let lease_until = attr!(ExportJob, lease_until);
        let update = ItemUpdate::at(
            &keys::enterprise(&message.uscc),
            &keys::export_job(&message.job_id),
        )
        .set(status, JobStatus::Running)
        .set(lease_until, second(now + Duration::seconds(LEASE)))
        .add(attr!(ExportJob, attempts), 1)
        .when(
            Condition::equals(status, JobStatus::Queued).or(Condition::equals(
                status,
                JobStatus::Running,
            )
            .and(Condition::below(lease_until, second(now)))),
        );
        store
            .update_returning(update)
            .await?
            .map(Store::from_item)
            .transpose()
    }

    /// The condition "this worker still holds the job": running or sending, with the attempt it
    /// claimed.
    fn holding(update: ItemUpdate, job: &ExportJob) -> ItemUpdate {
        let status = attr!(ExportJob, status);
        update.when(
            Condition::equals(status, JobStatus::Running)
                .or(Condition::equals(status, JobStatus::Sending))
                .and(Condition::equals(attr!(ExportJob, attempts), job.attempts)),
        )
    }

    /// Records that the mail is about to be handed to SES; `ConditionFailed`: the worker lost
    /// its lease, and must not send.
    pub async fn mark_sending(store: &Store, job: &ExportJob) -> Result<Applied, StoreError> {
        let update = ItemUpdate::of(job.key()).set(attr!(ExportJob, status), JobStatus::Sending);
        store.update(Self::holding(update, job)).await
    }

    /// Marks a job unconfirmed, for the transaction that also writes its audit record: its
    /// worker stopped while handing the mail to SES (`lease_ran_out`: the lease ran out before
    /// `now`), or the hand-over ended without an answer. Whether the mail went out is unknown,
    /// and it is not sent again. It fails if the job is not sending (any more).
    pub fn mark_unconfirmed(
        job: &ExportJob,
        reason: &str,
        lease_ran_out: bool,
        now: DateTime<Utc>,
    ) -> ItemUpdate {
        let lease_until = attr!(ExportJob, lease_until);
        let mut condition = Condition::equals(attr!(ExportJob, status), JobStatus::Sending);
        if lease_ran_out {
            condition = condition.and(Condition::below(lease_until, second(now)));
        }
        ItemUpdate::of(job.key())
            .set(attr!(ExportJob, status), JobStatus::Unconfirmed)
            .set(attr!(ExportJob, last_error), reason)
            .set(attr!(ExportJob, finished_at), second(now))
            .remove(lease_until)
            .when(condition)
    }

    /// Marks a job sent, for the transaction that also writes its audit record; it fails if the
    /// worker lost its lease meanwhile.
    pub fn mark_sent(
        job: &ExportJob,
        rows: u64,
        delivery: Delivery,
        files: &[ExportFile],
        finished: DateTime<Utc>,
    ) -> ItemUpdate {
        let update = ItemUpdate::of(job.key())
            .set(attr!(ExportJob, status), JobStatus::Sent)
            .set(attr!(ExportJob, finished_at), second(finished))
            .set(attr!(ExportJob, rows), rows)
            .set(attr!(ExportJob, delivery), delivery)
            .set(attr!(ExportJob, files), files)
            .remove(attr!(ExportJob, lease_until))
            .remove(attr!(ExportJob, last_error));
        Self::holding(update, job)
    }

    /// Gives a failed attempt back: queued again, or failed for good on the last attempt. A
    /// worker that lost its lease meanwhile changes nothing.
    pub async fn release(
        store: &Store,
        job: &ExportJob,
        reason: &str,
        last_attempt: bool,
        now: DateTime<Utc>,
    ) -> Result<Applied, StoreError> {
        let next = if last_attempt {
            JobStatus::Failed
        } else {
            JobStatus::Queued
        };
        let mut update = ItemUpdate::of(job.key())
            .set(attr!(ExportJob, status), next)
            .set(attr!(ExportJob, last_error), reason)
            .remove(attr!(ExportJob, lease_until));
        if last_attempt {
            update = update.set(attr!(ExportJob, finished_at), second(now));
        }
        store.update(Self::holding(update, job)).await
    }
}

/// An enterprise's exports of one business day (`ENT#<uscc>` / `EXPORTQUOTA#<day>`).
#[derive(Debug, Serialize, Deserialize)]
pub struct DailyQuota {
    pub exports: u32,
    pub expires_at: i64,
}

impl DailyQuota {
    /// Counts one export of `day`, for the transaction that creates the job; it fails once the
    /// enterprise has made `limit` exports that day. The counter outlives the day by two.
    pub fn take(uscc: &Uscc, day: &str, limit: u32, now: DateTime<Utc>) -> ItemUpdate {
        let exports = attr!(DailyQuota, exports);
        ItemUpdate::at(&keys::enterprise(uscc), &keys::export_quota(day))
            .add(exports, 1)
            .set(
                attr!(DailyQuota, expires_at),
                crate::retention::EXPORT_QUOTA.until(now),
            )
            .when(Condition::absent(exports).or(Condition::below(exports, limit)))
    }
}
