//! Employees of an enterprise (memberships). A person becomes an employee of an enterprise from
//! one or more sources — the monthly social-insurance roster, an invitation they accepted, or an
//! agent adding them by hand — and stays one employee whatever the number of sources.
//!
//! This module holds the membership item and its upsert; the sync function's roster semantics
//! (who left) and the queries build on it.

use crate::ids::{IdDocument, PersonKey, PersonKeyer, Phone, Uscc};
use crate::keys;
use crate::store::{self, Item, Store, StoreError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// 社保: on the monthly social-insurance roster.
    Roster,
    /// Joined through an invitation link or poster.
    Invited,
    /// Added by an agent by hand.
    HandAdded,
}

/// A person on an enterprise's roster, as a feed or a form delivers them (edge only).
#[derive(Debug, Clone)]
pub struct MemberRecord {
    pub document: IdDocument,
    pub name: String,
    pub phone: Option<Phone>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Membership {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    pub uscc: Uscc,
    pub person: PersonKey,
    pub name: String,
    pub masked_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub masked_phone: Option<String>,
    pub sources: BTreeSet<Source>,
    pub since: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub left_at: Option<DateTime<Utc>>,
}

impl Membership {
    pub fn new(
        uscc: &Uscc,
        record: &MemberRecord,
        keyer: &PersonKeyer,
        source: Source,
        now: DateTime<Utc>,
    ) -> Self {
        let person = keyer.key(&record.document);
        Self {
            pk: keys::enterprise(uscc),
            sk: keys::employee(&person),
            uscc: uscc.clone(),
            person,
            name: record.name.trim().to_string(),
            masked_id: record.document.masked(),
            masked_phone: record.phone.as_ref().map(Phone::masked),
            sources: BTreeSet::from([source]),
            since: now,
            left_at: None,
        }
    }

    pub fn to_item(&self) -> Result<Item, StoreError> {
        Store::to_item(self)
    }
}

/// Writes memberships in batches (25 per request, unprocessed items retried). For the demo seed
/// and bulk loads of new enterprises; the roster sync merges sources of existing members.
pub async fn put_all(store: &Store, members: &[Membership]) -> Result<usize, StoreError> {
    let items = members
        .iter()
        .map(Membership::to_item)
        .collect::<Result<Vec<_>, _>>()?;
    store::batch_put(store, store.table(), items).await
}
