//! The person's copy of a view of their details, and what `GET /me/data` shows.

use crate::audit::ActorRole;
use crate::authorize::{Authorization, EffectiveStatus};
use crate::feeds::{Dose, PcrOutcome};
use crate::health::{Health, PcrLabel, VaxState};
use crate::ids::{PersonKey, Uscc};
use crate::invite::model::Consent;
use crate::keys;
use crate::keys::ItemKey;
use crate::retention;
use crate::roster::{Membership, ShownEmployee};
use crate::tenancy::{Role, TenantAccess};
use crate::vaccination::ReportView;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Which of an employee's details an enterprise opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Section {
    /// The PCR detail (manual §4.1).
    Nucleic,
    /// The vaccination detail (manual §5.1).
    Vaccine,
}

impl Section {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Nucleic => "nucleic",
            Self::Vaccine => "vaccine",
        }
    }
}

/// The viewed person's copy of one view (`PER#{person}` / `VIEW#{at}#{ulid}`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DetailView {
    #[serde(flatten)]
    key: ItemKey,
    pub uscc: Uscc,
    pub enterprise_name: String,
    pub viewer_role: ActorRole,
    pub viewer_name: String,
    pub section: Section,
    pub at: DateTime<Utc>,
    #[serde(rename = "expires_at")]
    retention_until: i64,
}

impl DetailView {
    pub fn new(
        viewed: &PersonKey,
        access: &TenantAccess,
        section: Section,
        at: DateTime<Utc>,
    ) -> Self {
        Self {
            key: ItemKey::new(
                keys::person(viewed),
                keys::detail_view(
                    &at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                    &keys::sortable_id(),
                ),
            ),
            uscc: access.enterprise.uscc.clone(),
            enterprise_name: access.enterprise.name.clone(),
            viewer_role: match access.role {
                Role::LegalRep => ActorRole::LegalRep,
                Role::Agent => ActorRole::Agent,
            },
            viewer_name: access.identity.name.clone(),
            section,
            at,
            retention_until: retention::DETAIL_VIEW.until(at),
        }
    }

    pub fn key(&self) -> &ItemKey {
        &self.key
    }
}

/// One view of your details, as you read it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ViewEntry {
    pub uscc: String,
    pub enterprise_name: String,
    /// `legal_rep` or `agent`.
    pub viewer_role: ActorRole,
    pub viewer_name: String,
    pub section: Section,
    pub at: DateTime<Utc>,
}

impl From<DetailView> for ViewEntry {
    fn from(v: DetailView) -> Self {
        Self {
            uscc: v.uscc.to_string(),
            enterprise_name: v.enterprise_name,
            viewer_role: v.viewer_role,
            viewer_name: v.viewer_name,
            section: v.section,
            at: v.at,
        }
    }
}

fn at(epoch_seconds: Option<i64>) -> Option<DateTime<Utc>> {
    epoch_seconds.and_then(|s| DateTime::from_timestamp(s, 0))
}

/// The health commission's facts about you, as synced, and what is derived from them.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct MyHealth {
    pub pcr_sampled_at: Option<DateTime<Utc>>,
    pub pcr_result: Option<PcrOutcome>,
    pub pcr_result_at: Option<DateTime<Utc>>,
    pub pcr_site: Option<String>,
    /// Your latest sampling in Shenzhen (the 14-day "in Shenzhen" rule counts from it).
    pub shenzhen_sampled_at: Option<DateTime<Utc>>,
    pub shenzhen_site: Option<String>,
    pub doses: Vec<Dose>,
    /// As of the last relabel.
    pub label: Option<PcrLabel>,
    pub in_shenzhen: Option<bool>,
    pub vax: Option<VaxState>,
    /// When this record leaves the service unless new facts arrive (`null`: none held).
    pub kept_until: Option<DateTime<Utc>>,
}

impl MyHealth {
    pub fn new(health: Option<Health>) -> Self {
        let Some(h) = health else {
            return Self::default();
        };
        Self {
            kept_until: at(h.retention_until()),
            pcr_sampled_at: h.pcr_sampled_at,
            pcr_result: h.pcr_result,
            pcr_result_at: h.pcr_result_at,
            pcr_site: h.pcr_site,
            shenzhen_sampled_at: h.sz_sampled_at,
            shenzhen_site: h.sz_site,
            doses: h.doses,
            label: h.derived.map(|d| d.label),
            in_shenzhen: h.derived.map(|d| d.in_shenzhen),
            vax: h.derived.map(|d| d.vax),
        }
    }
}

/// You as an employee of one enterprise, exactly as the enterprise holds it.
#[derive(Debug, Serialize, ToSchema)]
pub struct MyMembership {
    pub uscc: String,
    pub enterprise_name: Option<String>,
    /// How this enterprise names you in its lists, and where it has you from.
    #[serde(flatten)]
    pub employee: ShownEmployee,
    pub since: DateTime<Utc>,
    pub left_at: Option<DateTime<Utc>>,
    /// Whether the enterprise sees your health state (not after you withdrew your consent).
    pub health_shared: bool,
    /// When this record leaves the service (`null`: while you are an employee).
    pub kept_until: Option<DateTime<Utc>>,
}

impl MyMembership {
    pub fn new(m: Membership, enterprise_name: Option<String>) -> Self {
        Self {
            uscc: m.uscc.to_string(),
            enterprise_name,
            employee: m.shown(),
            since: m.since,
            left_at: m.left_at(),
            health_shared: !m.health_withheld(),
            kept_until: at(m.retention_until()),
        }
    }
}

/// A consent you gave, and its withdrawal.
#[derive(Debug, Serialize, ToSchema)]
pub struct MyConsent {
    pub uscc: String,
    pub enterprise_name: String,
    pub notice_version: String,
    /// What the enterprise sees under it.
    pub shared: Vec<String>,
    pub given_at: DateTime<Utc>,
    pub withdrawn_at: Option<DateTime<Utc>>,
    pub kept_until: Option<DateTime<Utc>>,
}

impl From<Consent> for MyConsent {
    fn from(c: Consent) -> Self {
        Self {
            kept_until: at(c.retention_until()),
            uscc: c.uscc.to_string(),
            enterprise_name: c.enterprise_name,
            notice_version: c.notice_version,
            shared: c.shared,
            given_at: c.given_at,
            withdrawn_at: c.withdrawn_at,
        }
    }
}

/// An authorisation you hold or asked for, as an agent of an enterprise.
#[derive(Debug, Serialize, ToSchema)]
pub struct MyAuthorisation {
    pub uscc: String,
    pub enterprise_name: String,
    pub status: EffectiveStatus,
    pub applied_at: DateTime<Utc>,
    pub valid_until: Option<DateTime<Utc>>,
}

impl MyAuthorisation {
    pub fn new(a: Authorization, now: DateTime<Utc>) -> Self {
        Self {
            status: a.effective_status(now),
            uscc: a.uscc.to_string(),
            enterprise_name: a.enterprise_name,
            applied_at: a.applied_at,
            valid_until: a.valid_until,
        }
    }
}

/// Everything this service holds about you.
#[derive(Debug, Serialize, ToSchema)]
pub struct MyData {
    pub name: String,
    pub masked_id: String,
    pub health: MyHealth,
    pub memberships: Vec<MyMembership>,
    pub consents: Vec<MyConsent>,
    /// Your correction requests and the doses agents entered for you.
    pub reports: Vec<ReportView>,
    pub authorisations: Vec<MyAuthorisation>,
    /// Who opened your details, newest first; more through `GET /me/data/views`.
    pub views: Vec<ViewEntry>,
    pub views_next_cursor: Option<String>,
    pub data_synced_at: Option<DateTime<Utc>>,
}

/// A deletion request, confirmed.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeletionRequest {
    /// Must be `true`: deletion cannot be undone.
    pub confirm: bool,
}

/// What a deletion removed.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct Deleted {
    /// Consents withdrawn first (each enterprise stops seeing your health data).
    pub consents_withdrawn: u32,
    /// Memberships that rested only on your invitation or an agent's hand-add.
    pub memberships: u32,
    /// Memberships kept (on a roster) but without the invitation or hand-add source.
    pub memberships_narrowed: u32,
    pub reports: u32,
    pub consents: u32,
    pub views: u32,
}

/// What stays after a deletion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum KeptKind {
    HealthRecord,
    RosterMembership,
    AuditRecords,
    AgentAuthorisations,
}

/// A kind of record that stays, and the ground it stays on.
#[derive(Debug, Serialize, ToSchema)]
pub struct Kept {
    pub kind: KeptKind,
    pub record: String,
    pub why: String,
    /// How long, from the retention policy.
    pub retention: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Deletion {
    pub deleted: Deleted,
    pub kept: Vec<Kept>,
}
