//! Employees of an enterprise (memberships). A person becomes an employee of an enterprise from
//! one or more sources — the monthly social-insurance roster, an invitation they accepted, or an
//! agent adding them by hand — and stays one employee whatever the number of sources.
//!
//! A membership carries a copy of the person's derived health state (label, in Shenzhen,
//! vaccination state) as of the last relabel, so lists and counts of one enterprise are answered
//! from that enterprise's partition alone. Relabel keeps the copy and the enterprise summary in
//! step, in one transaction per change.

use crate::health::{Derived, Health};
use crate::ids::{IdDocument, PersonKey, PersonKeyer, Phone, Uscc};
use crate::keys;
use crate::store::{self, Store, StoreError};
use crate::summary;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};

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
    /// GSI1: a person's enterprises, so a relabel reaches every membership of the person.
    #[serde(rename = "GSI1PK")]
    gsi1pk: String,
    #[serde(rename = "GSI1SK")]
    gsi1sk: String,
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
    /// The person's derived health state as of `derived_at`; absent until the first relabel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub derived: Option<Derived>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub derived_at: Option<DateTime<Utc>>,
    /// The latest social-insurance month (`YYYY-MM`) this person was on the roster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roster_month: Option<String>,
    pub version: u64,
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
            gsi1pk: keys::person(&person),
            gsi1sk: keys::employment_at(uscc),
            uscc: uscc.clone(),
            person,
            name: record.name.trim().to_string(),
            masked_id: record.document.masked(),
            masked_phone: record.phone.as_ref().map(Phone::masked),
            sources: BTreeSet::from([source]),
            since: now,
            left_at: None,
            derived: None,
            derived_at: None,
            roster_month: None,
            version: 0,
        }
    }

    /// A membership from a roster line (already keyed and masked by the feed parser).
    pub fn from_roster(entry: &crate::feeds::RosterEntry, now: DateTime<Utc>) -> Self {
        Self {
            pk: keys::enterprise(&entry.uscc),
            sk: keys::employee(&entry.person),
            gsi1pk: keys::person(&entry.person),
            gsi1sk: keys::employment_at(&entry.uscc),
            uscc: entry.uscc.clone(),
            person: entry.person.clone(),
            name: entry.name.clone(),
            masked_id: entry.masked_id.clone(),
            masked_phone: entry.masked_phone.clone(),
            sources: BTreeSet::from([Source::Roster]),
            since: now,
            left_at: None,
            derived: None,
            derived_at: None,
            roster_month: Some(entry.month.clone()),
            version: 0,
        }
    }

    pub fn key(&self) -> (String, String) {
        (self.pk.clone(), self.sk.clone())
    }

    pub fn is_current(&self) -> bool {
        self.left_at.is_none()
    }
}

/// Adds new memberships in bulk (the demo seed, a new enterprise's first roster): batch writes of
/// the memberships, one summary update per enterprise for the new totals, and each person's
/// health item put in the transition index so the next relabel labels them. Members already
/// present are left alone.
pub async fn add_new(
    store: &Store,
    members: &[Membership],
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let mut keys_ = Vec::with_capacity(members.len());
    for m in members {
        keys_.push(Store::key(&m.pk, &m.sk));
    }
    let mut existing = std::collections::HashSet::new();
    for chunk in keys_.chunks(100) {
        existing.extend(store.get_many(chunk.to_vec()).await?.into_keys());
    }
    let fresh: Vec<&Membership> = members
        .iter()
        .filter(|m| !existing.contains(&(m.pk.clone(), m.sk.clone())))
        .collect();
    let items = fresh
        .iter()
        .map(|m| Store::to_item(*m))
        .collect::<Result<Vec<_>, _>>()?;
    store::batch_put(store, store.table(), items).await?;
    let mut per_enterprise: HashMap<&Uscc, i64> = HashMap::new();
    for m in &fresh {
        *per_enterprise.entry(&m.uscc).or_default() += 1;
    }
    for (uscc, added) in per_enterprise {
        summary::add_members(store, uscc, added, now).await?;
    }
    for m in &fresh {
        mark_due(store, &m.person, now).await?;
    }
    Ok(fresh.len())
}

/// Puts a person's health item in the transition index now (creating a bare one if the person
/// has no synced data yet), so the next relabel propagates their state to a new membership.
/// One conditional UpdateItem; a person already due is left as is.
pub async fn mark_due(
    store: &Store,
    person: &PersonKey,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let mut due = Health::new(person.clone());
    due.set_due(Some(now));
    let (due_pk, due_sk) = due.due_keys().expect("just set");
    let result = store
        .client()
        .update_item()
        .table_name(store.table())
        .set_key(Some(Store::key(&keys::person(person), keys::HEALTH)))
        .update_expression(
            "SET #person = if_not_exists(#person, :person), #due_pk = :due_pk, #due_sk = :due_sk, \
             #version = if_not_exists(#version, :zero) + :one",
        )
        .condition_expression("attribute_not_exists(#due_pk)")
        .expression_attribute_names("#person", "person")
        .expression_attribute_names("#due_pk", keys::GSI3PK)
        .expression_attribute_names("#due_sk", keys::GSI3SK)
        .expression_attribute_names("#version", "version")
        .expression_attribute_values(":person", AttributeValue::S(person.to_string()))
        .expression_attribute_values(":due_pk", AttributeValue::S(due_pk.to_string()))
        .expression_attribute_values(":due_sk", AttributeValue::S(due_sk.to_string()))
        .expression_attribute_values(":zero", AttributeValue::N("0".into()))
        .expression_attribute_values(":one", AttributeValue::N("1".into()))
        .send()
        .await;
    store::ok_if_condition_failed(result)
}

/// Every membership of an enterprise (current and left), a page of up to 1,000 at a time.
pub async fn of_enterprise(store: &Store, uscc: &Uscc) -> Result<Vec<Membership>, StoreError> {
    let spec = store::QuerySpec::table(keys::enterprise(uscc))
        .prefix(keys::EMPLOYEE_PREFIX)
        .limit(1_000);
    store.query_all(&spec, usize::MAX).await
}

/// A person's memberships across enterprises (one GSI1 query per page).
pub async fn of_person(store: &Store, person: &PersonKey) -> Result<Vec<Membership>, StoreError> {
    let spec = store::QuerySpec::index(keys::GSI1, keys::person(person))
        .prefix(keys::EMPLOYMENT_PREFIX)
        .limit(100);
    store.query_all(&spec, 10_000).await
}
