//! Stored items of invite-join: invitations and consents.

use crate::ids::{PersonKey, Uscc};
use crate::keys;
use crate::keys::ItemKey;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The privacy notice an employee consents to when joining. A new version means every later
/// join shows (and records) the new text; consents keep the version they were given under.
pub const NOTICE_VERSION: &str = "2022-04-01";

/// What the enterprise will see of an employee who joins (shown before consent, stored with it).
pub const SHARED_DATA: [&str; 5] = [
    "姓名、脱敏的证件号码和手机号 (name, masked ID number and phone)",
    "核酸检测时效标记：24/48/72 小时、超过 72 小时、未检测 (PCR-test recency label)",
    "最近一次采样的时间、地点和结果 (latest sampling time, site and result)",
    "是否在深：14 天内在深圳采样 (tested in Shenzhen within 14 days)",
    "新冠疫苗接种状态和剂次 (COVID-19 vaccination status and doses)",
];

pub const NOTICE: &str = "企业的法定代表人及其授权的经办人将可查看您的以下信息，仅用于疫情防控，不作他用。\
您可随时撤回同意；撤回后，企业不再看到您的健康信息。\
(The enterprise's legal representative and its authorised agents will see the data below, for \
epidemic prevention only. You may withdraw your consent at any time; the enterprise then no \
longer sees your health data.)";

/// An invitation's id as a URL carries it: a ULID, 26 letters and digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvitationId(String);

impl InvitationId {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        if raw.len() == 26 && raw.bytes().all(|b| b.is_ascii_alphanumeric()) {
            Ok(Self(raw.to_string()))
        } else {
            Err("an invitation id is 26 letters and digits")
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Invitation {
    #[serde(flatten)]
    key: ItemKey,
    pub id: String,
    pub uscc: Uscc,
    /// Who made it: the agent's `agent_id` in this enterprise, and name.
    pub created_by: String,
    pub created_by_name: String,
    pub created_at: DateTime<Utc>,
    pub valid_until: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_by: Option<String>,
    /// Employees who joined through it.
    #[serde(default)]
    pub uses: u64,
    #[serde(rename = "expires_at")]
    retention_until: i64,
}

impl Invitation {
    pub fn new(
        uscc: &Uscc,
        created_by: String,
        created_by_name: String,
        now: DateTime<Utc>,
        valid_for: Duration,
    ) -> Self {
        let id = ulid::Ulid::new().to_string();
        let valid_until = now + valid_for;
        Self {
            key: ItemKey::new(keys::enterprise(uscc), keys::invitation(&id)),
            id,
            uscc: uscc.clone(),
            created_by,
            created_by_name,
            created_at: now,
            valid_until,
            revoked_at: None,
            revoked_by: None,
            uses: 0,
            retention_until: crate::retention::INVITATION.until(valid_until),
        }
    }

    pub fn key(&self) -> &ItemKey {
        &self.key
    }

    pub fn status(&self, now: DateTime<Utc>) -> InvitationStatus {
        if self.revoked_at.is_some() {
            InvitationStatus::Revoked
        } else if self.valid_until <= now {
            InvitationStatus::Expired
        } else {
            InvitationStatus::Active
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InvitationStatus {
    Active,
    Expired,
    Revoked,
}

/// An employee's consent to one enterprise: what was shared, when, under which notice version;
/// and its withdrawal.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Consent {
    #[serde(flatten)]
    key: ItemKey,
    pub person: PersonKey,
    pub uscc: Uscc,
    pub enterprise_name: String,
    pub notice_version: String,
    pub shared: Vec<String>,
    pub given_at: DateTime<Utc>,
    pub invitation_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdrawn_at: Option<DateTime<Utc>>,
    pub version: u64,
    /// TTL: none while given; [`crate::retention::WITHDRAWN_CONSENT`] from the withdrawal.
    #[serde(
        rename = "expires_at",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    retention_until: Option<i64>,
}

impl Consent {
    pub fn key(&self) -> &ItemKey {
        &self.key
    }

    /// The TTL (epoch seconds), once withdrawn.
    pub fn retention_until(&self) -> Option<i64> {
        self.retention_until
    }

    pub fn given(
        person: &PersonKey,
        uscc: &Uscc,
        enterprise_name: &str,
        invitation_id: &str,
        now: DateTime<Utc>,
        previous: Option<&Consent>,
    ) -> Self {
        Self {
            key: ItemKey::new(keys::person(person), keys::consent(uscc)),
            person: person.clone(),
            uscc: uscc.clone(),
            enterprise_name: enterprise_name.to_string(),
            notice_version: NOTICE_VERSION.to_string(),
            shared: SHARED_DATA.iter().map(|s| s.to_string()).collect(),
            given_at: now,
            invitation_id: invitation_id.to_string(),
            withdrawn_at: None,
            version: previous.map_or(0, |p| p.version + 1),
            retention_until: None,
        }
    }

    /// The consent, withdrawn at `now` (the next version).
    pub fn withdrawn(&self, now: DateTime<Utc>) -> Self {
        Self {
            withdrawn_at: Some(now),
            version: self.version + 1,
            retention_until: Some(crate::retention::WITHDRAWN_CONSENT.until(now)),
            ..self.clone()
        }
    }

    pub fn is_active(&self) -> bool {
        self.withdrawn_at.is_none()
    }
}

/// A consent as its giver reads it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConsentView {
    pub notice_version: String,
    pub shared: Vec<String>,
    pub given_at: DateTime<Utc>,
    pub withdrawn_at: Option<DateTime<Utc>>,
}

impl From<&Consent> for ConsentView {
    fn from(c: &Consent) -> Self {
        Self {
            notice_version: c.notice_version.clone(),
            shared: c.shared.clone(),
            given_at: c.given_at,
            withdrawn_at: c.withdrawn_at,
        }
    }
}
