//! The audit trail: every decision about who may see an enterprise's health data leaves a record
//! of who did what to whom, and when. Records are written in the same transaction as the
//! decision they describe, so neither exists without the other.

use crate::ids::{PersonKey, Uscc};
use crate::keys;
use crate::keys::ItemKey;
use crate::store::{Item, Page, QuerySpec, Store, StoreError};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    Applied,
    ShareLinkCreated,
    Granted,
    Rejected,
    Revoked,
    OfflineGranted,
    OriginalsReceived,
    /// An agent entered vaccination data on an employee's behalf (manual §5.2).
    VaccinationEntered,
    InvitationCreated,
    InvitationRevoked,
    /// An employee joined through an invitation, consenting.
    EmployeeJoined,
    /// An employee withdrew the consent they joined with.
    ConsentWithdrawn,
    /// An agent added an employee by hand.
    EmployeeAdded,
    /// An agent removed an employee (kept as left).
    EmployeeRemoved,
    /// An agent requested an export of employees' data.
    ExportRequested,
    /// The export was mailed: rows, file hashes, recipient.
    ExportSent,
    /// The export's mail may or may not have gone out (its hand-over to SES was cut); it is not
    /// sent again.
    ExportUnconfirmed,
    /// The legal rep or an agent opened one employee's details (PCR or vaccination).
    DetailViewed,
    /// The employee asked for their data to be deleted: what this enterprise held without
    /// another legal ground is gone.
    DataErased,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActorRole {
    Applicant,
    /// An employee acting on their own membership (joining, withdrawing consent).
    Employee,
    LegalRep,
    Agent,
    Operator,
}

/// The stored audit item.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditRecord {
    #[serde(flatten)]
    key: ItemKey,
    pub uscc: Uscc,
    pub at: DateTime<Utc>,
    pub actor: PersonKey,
    pub actor_name: String,
    pub actor_role: ActorRole,
    pub action: AuditAction,
    /// The agent the action concerns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<PersonKey>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(rename = "expires_at")]
    retention_until: i64,
}

/// An audit record as the legal rep reads it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditView {
    pub at: DateTime<Utc>,
    pub actor_name: String,
    pub actor_role: ActorRole,
    pub action: AuditAction,
    /// The `agent_id` of the agent concerned.
    pub agent_id: Option<String>,
    pub agent_name: Option<String>,
    pub detail: Option<String>,
}

impl From<AuditRecord> for AuditView {
    fn from(r: AuditRecord) -> Self {
        Self {
            at: r.at,
            actor_name: r.actor_name,
            actor_role: r.actor_role,
            action: r.action,
            agent_id: r
                .subject
                .map(|person| crate::authorize::AgentId::of(&r.uscc, &person).to_string()),
            agent_name: r.subject_name,
            detail: r.detail,
        }
    }
}

/// What happened, before it is stamped with time and key.
pub struct AuditEntry<'a> {
    pub uscc: &'a Uscc,
    pub actor: &'a PersonKey,
    pub actor_name: &'a str,
    pub actor_role: ActorRole,
    pub action: AuditAction,
    pub subject: Option<&'a PersonKey>,
    pub subject_name: Option<&'a str>,
    pub detail: Option<String>,
}

impl<'a> AuditEntry<'a> {
    /// What the legal rep or an agent did, through the tenant guard, about no particular agent.
    pub fn by(
        access: &'a crate::tenancy::TenantAccess,
        action: AuditAction,
        detail: String,
    ) -> Self {
        Self {
            uscc: &access.enterprise.uscc,
            actor: &access.identity.person,
            actor_name: &access.identity.name,
            actor_role: match access.role {
                crate::tenancy::Role::LegalRep => ActorRole::LegalRep,
                crate::tenancy::Role::Agent => ActorRole::Agent,
            },
            action,
            subject: None,
            subject_name: None,
            detail: Some(detail),
        }
    }
}

impl AuditEntry<'_> {
    pub fn into_record(self, at: DateTime<Utc>, retention: Duration) -> AuditRecord {
        AuditRecord {
            key: ItemKey::new(
                keys::enterprise(self.uscc),
                keys::audit(&keys::instant(at), &keys::sortable_id()),
            ),
            uscc: self.uscc.clone(),
            at,
            actor: self.actor.clone(),
            actor_name: self.actor_name.to_string(),
            actor_role: self.actor_role,
            action: self.action,
            subject: self.subject.cloned(),
            subject_name: self.subject_name.map(str::to_string),
            detail: self.detail,
            retention_until: (at + retention).timestamp(),
        }
    }

    /// The record as an item for a transaction.
    pub fn into_item(self, at: DateTime<Utc>, retention: Duration) -> Result<Item, StoreError> {
        Store::to_item(&self.into_record(at, retention))
    }
}

/// An enterprise's audit trail, newest first.
pub async fn list(
    store: &Store,
    uscc: &Uscc,
    cursor: Option<&str>,
    limit: i32,
) -> Result<Page<AuditRecord>, crate::store::BadCursorOr> {
    let spec = QuerySpec::table(keys::enterprise(uscc))
        .prefix(keys::AUDIT_PREFIX)
        .newest_first()
        .limit(limit);
    store.query(&spec, cursor).await
}
