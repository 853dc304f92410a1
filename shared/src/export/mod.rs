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

    /// Puts a job's message on the export queue.
    pub async fn queue(&self, message: &JobMessage) -> Result<(), String> {
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
        let api = ApiState::from_env(aws, env).await?;
        Ok(Self::new(api, ExportServices::from_env(aws, env).await?))
    }
}
