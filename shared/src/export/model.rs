//! What an export is: the list and filters asked for, the job that produces and mails it, its
//! files, and the queue message naming it.

use crate::health::{PcrLabel, VaxState};
use crate::ids::{Email, PersonKey, Uscc};
use crate::keys;
use crate::keys::ItemKey;
use crate::listing::{EmployeeList, ListError, ListParams, Status};
use crate::roster::Source;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An export job's id: 24 hex characters (derived from the request, see
/// [`super::service::job_id`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobId(String);

impl JobId {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        if raw.len() == 24 && raw.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(Self(raw.to_string()))
        } else {
            Err("a job id is 24 hex characters")
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
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
    pub fn employee_list(&self, uscc: &Uscc) -> Result<EmployeeList, ListError> {
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
    /// The files are made; the mail is being handed to SES, which cannot be undone or safely
    /// repeated.
    Sending,
    Sent,
    Failed,
    /// The worker stopped while handing the mail to SES, so whether it went out is unknown. It
    /// is not sent again (a second mail of health data is worse than asking again): the agent
    /// sees this and requests the export again if nothing arrived.
    Unconfirmed,
}

impl JobStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Sending => "sending",
            Self::Sent => "sent",
            Self::Failed => "failed",
            Self::Unconfirmed => "unconfirmed",
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
    #[serde(flatten)]
    key: ItemKey,
    pub job_id: String,
    pub uscc: Uscc,
    pub enterprise_name: String,
    /// The requester's `agent_id` in this enterprise, and name.
    pub requested_by: String,
    pub requested_by_name: String,
    /// For the audit record of the sending.
    pub requested_by_person: PersonKey,
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
    /// The key generation a re-key rewrote it to: the worker's audit record copies it with
    /// `requested_by_person`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_generation: Option<crate::ids::KeyGeneration>,
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

impl ExportJob {
    /// A job just requested, queued, kept for 90 days.
    #[allow(clippy::too_many_arguments)]
    pub fn queued(
        job_id: String,
        uscc: &Uscc,
        enterprise_name: &str,
        requested_by: &PersonKey,
        requested_by_name: &str,
        spec: ExportSpec,
        email: Email,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            key: ItemKey::new(keys::enterprise(uscc), keys::export_job(&job_id)),
            requested_by: crate::ids::AgentId::of(uscc, requested_by).to_string(),
            requested_by_name: requested_by_name.to_string(),
            requested_by_person: requested_by.clone(),
            job_id,
            uscc: uscc.clone(),
            enterprise_name: enterprise_name.to_string(),
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
            retention_until: crate::retention::EXPORT_JOB.until(now),
            key_generation: None,
        }
    }

    pub fn key(&self) -> &ItemKey {
        &self.key
    }
}

/// The message the queue carries: which job.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobMessage {
    pub uscc: Uscc,
    pub job_id: String,
}
