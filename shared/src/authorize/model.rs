//! The authorisation record: one item per (enterprise, agent), carrying its whole lifecycle.

use crate::ids::{PersonKey, Uscc};
use crate::keys;
use crate::keys::ItemKey;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use crate::ids::AgentId;

/// The stored status. Expiry and lapse are derived from time, see [`EffectiveStatus`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pending,
    Active,
    Rejected,
    Revoked,
}

/// How the authorisation came about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Method 1: a share link the legal rep opened.
    ShareLink,
    /// Method 2: an application the legal rep approved in their list.
    Application,
    /// Manual §9: granted by an operator on paper materials.
    Offline,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ShareLink => "share_link",
            Self::Application => "application",
            Self::Offline => "offline",
        }
    }
}

/// The status as of a given instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EffectiveStatus {
    Pending,
    Active,
    Rejected,
    Revoked,
    /// Active, but past the validity the legal rep gave it.
    Expired,
    /// An offline grant whose paper originals did not arrive within 15 days of the e-mail approval.
    Lapsed,
}

impl EffectiveStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Active => "active",
            Self::Rejected => "rejected",
            Self::Revoked => "revoked",
            Self::Expired => "expired",
            Self::Lapsed => "lapsed",
        }
    }
}

/// The materials an enterprise mails in for an offline grant (manual §9).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Materials {
    /// 《"深i企"用户申请表》 with the company seal.
    pub application_form: bool,
    /// Business licence copy, sealed.
    pub business_licence: bool,
    /// Legal rep's identity document copy, sealed.
    pub legal_rep_identity: bool,
    /// Agent's identity document copy, sealed.
    pub agent_identity: bool,
    /// Where the scanned materials are filed (e.g. the e-mail's message id or ticket number).
    pub email_reference: String,
}

impl Materials {
    pub fn complete(&self) -> bool {
        self.application_form
            && self.business_licence
            && self.legal_rep_identity
            && self.agent_identity
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfflineGrant {
    pub operator: PersonKey,
    pub operator_name: String,
    pub materials: Materials,
    pub email_approved_at: DateTime<Utc>,
    pub originals_due: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub originals_received_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub originals_note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Authorization {
    #[serde(flatten)]
    key: ItemKey,
    #[serde(rename = "GSI1PK")]
    gsi1pk: String,
    #[serde(rename = "GSI1SK")]
    gsi1sk: String,
    /// Only while someone must act on it (see [`Authorization::index_waiting`]): makes the item
    /// visible in the sparse GSI2.
    #[serde(rename = "GSI2PK", default, skip_serializing_if = "Option::is_none")]
    waiting_pk: Option<String>,
    #[serde(rename = "GSI2SK", default, skip_serializing_if = "Option::is_none")]
    waiting_sk: Option<String>,
    pub uscc: Uscc,
    pub enterprise_name: String,
    pub agent: PersonKey,
    pub agent_name: String,
    pub agent_masked_id: String,
    pub status: Status,
    pub method: Method,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub applied_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<PersonKey>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<DateTime<Utc>>,
    /// Only for grants made offline; set through [`Authorization::set_offline`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    offline: Option<OfflineGrant>,
    /// Optimistic-concurrency counter: every write is conditional on the version it read.
    pub version: u64,
    /// TTL, from [`Authorization::refresh_retention`]; see `docs/privacy.md`.
    #[serde(
        rename = "expires_at",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    retention_until: Option<i64>,
}

/// Who applies, for which enterprise.
pub struct Applicant<'a> {
    pub uscc: &'a Uscc,
    pub enterprise_name: &'a str,
    pub agent: &'a PersonKey,
    pub agent_name: &'a str,
    pub agent_masked_id: &'a str,
}

impl Authorization {
    /// A new pending application.
    pub fn pending(
        applicant: Applicant<'_>,
        method: Method,
        reason: Option<String>,
        now: DateTime<Utc>,
    ) -> Self {
        let mut item = Self {
            key: ItemKey::new(
                keys::enterprise(applicant.uscc),
                keys::agent(AgentId::of(applicant.uscc, applicant.agent).as_str()),
            ),
            gsi1pk: keys::person(applicant.agent),
            gsi1sk: keys::authorization_of(applicant.uscc),
            waiting_pk: None,
            waiting_sk: None,
            uscc: applicant.uscc.clone(),
            enterprise_name: applicant.enterprise_name.to_string(),
            agent: applicant.agent.clone(),
            agent_name: applicant.agent_name.to_string(),
            agent_masked_id: applicant.agent_masked_id.to_string(),
            status: Status::Pending,
            method,
            reason,
            applied_at: now,
            decided_at: None,
            decided_by: None,
            valid_until: None,
            offline: None,
            version: 0,
            retention_until: None,
        };
        item.index_waiting();
        item
    }

    /// Keeps GSI2 in step with who must act: the legal rep on a pending application; the
    /// operators on an active offline grant whose paper originals have not arrived (listed until
    /// they arrive, the grant is revoked or granted again, or the record's retention ends).
    fn index_waiting(&mut self) {
        let awaited = self
            .offline
            .as_ref()
            .filter(|o| self.status == Status::Active && o.originals_received_at.is_none());
        (self.waiting_pk, self.waiting_sk) = match (self.status, awaited) {
            (Status::Pending, _) => (
                Some(keys::pending(&self.uscc)),
                Some(format!("{}#{}", self.applied_at.to_rfc3339(), self.agent)),
            ),
            (_, Some(offline)) => (
                Some(keys::ORIGINALS_AWAITED.to_string()),
                Some(keys::originals_awaited(
                    offline.originals_due,
                    &self.uscc,
                    &self.agent,
                )),
            ),
            _ => (None, None),
        };
    }

    pub fn agent_id(&self) -> AgentId {
        AgentId::of(&self.uscc, &self.agent)
    }

    /// Moves to `status`, decided by `by` at `now`; keeps GSI2 in step.
    pub fn decide(&mut self, status: Status, by: &PersonKey, now: DateTime<Utc>) {
        self.status = status;
        self.decided_at = Some(now);
        self.decided_by = Some(by.clone());
        self.index_waiting();
    }

    /// The offline grant it rests on, if it was granted offline.
    pub fn offline(&self) -> Option<&OfflineGrant> {
        self.offline.as_ref()
    }

    /// Sets (or clears) the offline grant it rests on; keeps GSI2 in step.
    pub fn set_offline(&mut self, offline: Option<OfflineGrant>) {
        self.offline = offline;
        self.index_waiting();
    }

    /// Sets the TTL from the record's state: a record leaves the table `retention` after it stops
    /// mattering — decided against, left pending, expired or lapsed. Active grants without an end
    /// stay while in force. Called before every write.
    pub fn refresh_retention(&mut self, retention: chrono::Duration) {
        let ends = match self.status {
            Status::Pending => Some(self.applied_at),
            Status::Rejected | Status::Revoked => self.decided_at,
            Status::Active => {
                let lapse = self
                    .offline
                    .as_ref()
                    .filter(|o| o.originals_received_at.is_none())
                    .map(|o| o.originals_due);
                match (self.valid_until, lapse) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                }
            }
        };
        self.retention_until = ends.map(|at| (at + retention).timestamp());
    }

    pub fn effective_status(&self, now: DateTime<Utc>) -> EffectiveStatus {
        match self.status {
            Status::Pending => EffectiveStatus::Pending,
            Status::Rejected => EffectiveStatus::Rejected,
            Status::Revoked => EffectiveStatus::Revoked,
            Status::Active => {
                if self.valid_until.is_some_and(|until| until <= now) {
                    EffectiveStatus::Expired
                } else if self
                    .offline
                    .as_ref()
                    .is_some_and(|o| o.originals_received_at.is_none() && o.originals_due <= now)
                {
                    EffectiveStatus::Lapsed
                } else {
                    EffectiveStatus::Active
                }
            }
        }
    }
}
