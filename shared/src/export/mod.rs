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
mod model;
pub mod repo;
pub mod routes;
pub mod service;
pub mod worker;

pub use model::{
    Delivery, ExportFile, ExportFilter, ExportJob, ExportSpec, JobId, JobMessage, JobStatus,
    ListKind,
};
pub use routes::routes;

use crate::app::{ApiState, Core};
use crate::identity::IdentityVerifier;
use chrono::Duration;
use std::sync::Arc;

/// What the export routes need beyond the table: the queue jobs go on, and the daily limit.
#[derive(Debug, Clone)]
pub struct ExportQueue {
    pub sqs: aws_sdk_sqs::Client,
    pub queue_url: String,
    /// Exports one enterprise may request per business day.
    pub daily_limit: u32,
}

impl ExportQueue {
    /// The queue, with the default limit of 20 exports per enterprise a day.
    pub fn new(sqs: aws_sdk_sqs::Client, queue_url: String) -> Self {
        Self {
            sqs,
            queue_url,
            daily_limit: 20,
        }
    }

    /// From the environment (`EXPORT_QUEUE_URL`, optional `EXPORT_DAILY_LIMIT`), as the export
    /// function's init builds it.
    pub fn from_env(
        aws: &aws_config::SdkConfig,
        env: &dyn crate::config::Vars,
    ) -> Result<Self, crate::config::ConfigError> {
        use crate::config::{optional, required};
        let mut queue = Self::new(
            aws_sdk_sqs::Client::new(aws),
            required(env, "EXPORT_QUEUE_URL")?,
        );
        if let Some(limit) = optional(env, "EXPORT_DAILY_LIMIT") {
            queue.daily_limit = limit.parse().map_err(|e: std::num::ParseIntError| {
                crate::config::ConfigError::Invalid("EXPORT_DAILY_LIMIT", e.to_string())
            })?;
        }
        Ok(queue)
    }

    /// Puts a job's message on the export queue.
    pub async fn send(&self, message: &JobMessage) -> Result<(), String> {
        let body = serde_json::to_string(message).map_err(|e| e.to_string())?;
        self.sqs
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .send()
            .await
            .map(drop)
            .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(&e).to_string())
    }
}

/// What the export worker needs beyond the table: where the files go and how they are mailed.
#[derive(Debug, Clone)]
pub struct ExportMail {
    pub s3: aws_sdk_s3::Client,
    pub ses: aws_sdk_sesv2::Client,
    /// Where the files go (`exports/{uscc}/{job_id}/…`).
    pub bucket: String,
    /// The verified SES sender.
    pub sender: String,
    /// Attach files up to this total size; larger ones are sent as links.
    pub attach_limit_bytes: u64,
    /// How long a download link works.
    pub link_ttl: Duration,
    /// Attempts before a job is marked failed.
    pub max_attempts: u32,
}

impl ExportMail {
    /// The clients and where things go, with the default limits: attachments up to 7 MB in all
    /// (SES takes 10 MB per raw message and base64 grows files by a third), 72-hour links,
    /// 3 attempts.
    pub fn new(
        s3: aws_sdk_s3::Client,
        ses: aws_sdk_sesv2::Client,
        bucket: String,
        sender: String,
    ) -> Self {
        Self {
            s3,
            ses,
            bucket,
            sender,
            attach_limit_bytes: 7 * 1024 * 1024,
            link_ttl: Duration::hours(72),
            max_attempts: 3,
        }
    }

    /// From the environment (`EXPORT_BUCKET`, `MAIL_SENDER`, optional `SES_REGION`), as the
    /// export worker's init builds it.
    pub fn from_env(
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
        Ok(Self::new(
            aws_sdk_s3::Client::new(aws),
            aws_sdk_sesv2::Client::from_conf(ses_config),
            required(env, "EXPORT_BUCKET")?,
            required(env, "MAIL_SENDER")?,
        ))
    }
}

/// The export function's state (the routes): the API state and the queue.
#[derive(Clone, axum::extract::FromRef)]
pub struct ExportState {
    pub core: Core,
    pub verifier: Arc<IdentityVerifier>,
    pub keyer: crate::ids::PersonKeyer,
    pub queue: Arc<ExportQueue>,
}

impl ExportState {
    pub fn new(api: ApiState, queue: ExportQueue) -> Self {
        Self {
            core: api.core,
            verifier: api.verifier,
            keyer: api.keyer,
            queue: Arc::new(queue),
        }
    }

    /// Everything from the environment, as the export function's init does it.
    pub async fn from_env(
        aws: &aws_config::SdkConfig,
        env: &dyn crate::config::Vars,
    ) -> Result<Self, crate::app::InitError> {
        let queue = ExportQueue::from_env(aws, env)?;
        Ok(Self::new(ApiState::from_env(aws, env).await?, queue))
    }
}

/// The export worker's state: the table and the mail services; no identity, no secrets.
#[derive(Clone)]
pub struct WorkerState {
    pub core: Core,
    pub mail: Arc<ExportMail>,
}

impl WorkerState {
    /// Everything from the environment, as the export worker's init does it.
    pub fn from_env(
        aws: &aws_config::SdkConfig,
        env: &dyn crate::config::Vars,
    ) -> Result<Self, crate::app::InitError> {
        Ok(Self {
            core: Core::from_env(aws, env)?,
            mail: Arc::new(ExportMail::from_env(aws, env)?),
        })
    }
}
