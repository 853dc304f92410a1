//! The audit trail: every decision about who may see an enterprise's health data leaves a record
//! of who did what to whom, and when. Records are written in the same transaction as the
//! decision they describe, so neither exists without the other.

use crate::ids::{PersonKey, Uscc};
use crate::keys;
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActorRole {
    Applicant,
    LegalRep,
    Agent,
    Operator,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditRecord {
    #[serde(rename = "PK")]
    #[schema(ignore)]
    pk: String,
    #[serde(rename = "SK")]
    #[schema(ignore)]
    sk: String,
    #[schema(value_type = String)]
    pub uscc: Uscc,
    pub at: DateTime<Utc>,
    #[schema(value_type = String)]
    pub actor: PersonKey,
    pub actor_name: String,
    pub actor_role: ActorRole,
    pub action: AuditAction,
    /// The agent the action concerns.
    #[schema(value_type = Option<String>)]
    pub subject: Option<PersonKey>,
    pub subject_name: Option<String>,
    pub detail: Option<String>,
    #[serde(rename = "expires_at")]
    #[schema(ignore)]
    retention_until: i64,
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

impl AuditEntry<'_> {
    pub fn into_record(self, at: DateTime<Utc>, retention: Duration) -> AuditRecord {
        AuditRecord {
            pk: keys::enterprise(self.uscc),
            sk: keys::audit(
                &at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                &ulid::Ulid::new().to_string(),
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
