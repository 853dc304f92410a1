//! The enterprise registry: which enterprises exist, their full names and who their legal
//! representative is. Written by the sync function from the registry feed (and, until then, by
//! the local stack's seed through the same [`apply_enterprise`]); read by the tenant guard and the
//! authorisation flows.

use crate::ids::{IdDocument, PersonKey, PersonKeyer, Uscc};
use crate::keys;
use crate::keys::ItemKey;
use crate::store::{QuerySpec, Store, StoreError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One enterprise as the registry feed delivers it (raw identity still inside: edge only).
#[derive(Debug, Clone)]
pub struct EnterpriseRecord {
    pub uscc: Uscc,
    pub name: String,
    pub legal_rep: IdDocument,
    pub legal_rep_name: String,
    pub district: String,
}

/// The stored enterprise profile item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnterpriseProfile {
    #[serde(flatten)]
    key: ItemKey,
    #[serde(rename = "GSI1PK")]
    gsi1pk: String,
    #[serde(rename = "GSI1SK")]
    gsi1sk: String,
    #[serde(rename = "GSI2PK")]
    gsi2pk: String,
    #[serde(rename = "GSI2SK")]
    gsi2sk: String,
    pub uscc: Uscc,
    pub name: String,
    /// The legal representative (法定代表人), by person key.
    pub legal_rep: PersonKey,
    pub legal_rep_name: String,
    pub legal_rep_masked_id: String,
    pub district: String,
    pub updated_at: DateTime<Utc>,
}

impl EnterpriseProfile {
    pub fn new(record: &EnterpriseRecord, keyer: &PersonKeyer, now: DateTime<Utc>) -> Self {
        let legal_rep = keyer.key(&record.legal_rep);
        Self {
            key: ItemKey::new(keys::enterprise(&record.uscc), keys::PROFILE),
            gsi1pk: keys::enterprise_name(&record.name),
            gsi1sk: keys::enterprise(&record.uscc),
            gsi2pk: keys::legal_rep(&legal_rep),
            gsi2sk: keys::enterprise(&record.uscc),
            uscc: record.uscc.clone(),
            name: keys::normalise_name(&record.name),
            legal_rep,
            legal_rep_name: record.legal_rep_name.trim().to_string(),
            legal_rep_masked_id: record.legal_rep.masked(),
            district: record.district.trim().to_string(),
            updated_at: now,
        }
    }

    /// Whether two profiles say the same thing (ignoring when they were written).
    pub fn same_facts(&self, other: &Self) -> bool {
        Self {
            updated_at: other.updated_at,
            ..self.clone()
        } == *other
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Written,
    Unchanged,
}

/// Upserts one registry record; an identical record costs a read and no write.
pub async fn apply_enterprise(
    store: &Store,
    keyer: &PersonKeyer,
    record: &EnterpriseRecord,
    now: DateTime<Utc>,
) -> Result<Applied, StoreError> {
    let profile = EnterpriseProfile::new(record, keyer, now);
    let current: Option<EnterpriseProfile> = store.get(&profile.key.pk, keys::PROFILE).await?;
    if current.is_some_and(|c| c.same_facts(&profile)) {
        return Ok(Applied::Unchanged);
    }
    store.put(&profile).await?;
    Ok(Applied::Written)
}

pub async fn get(store: &Store, uscc: &Uscc) -> Result<Option<EnterpriseProfile>, StoreError> {
    store.get(&keys::enterprise(uscc), keys::PROFILE).await
}

/// Finds an enterprise by its exact full name (manual §2 method 2: "录入企业全称").
pub async fn find_by_name(
    store: &Store,
    full_name: &str,
) -> Result<Vec<EnterpriseProfile>, StoreError> {
    let spec = QuerySpec::index(keys::Index::Gsi1, keys::enterprise_name(full_name)).limit(10);
    Ok(store.first_page(&spec).await?.items)
}

/// The enterprises whose legal representative is `identity` (one GSI2 query per key).
pub async fn of_legal_rep(
    store: &Store,
    identity: &crate::identity::Identity,
) -> Result<Vec<EnterpriseProfile>, StoreError> {
    identity
        .gather(|person| {
            let spec = QuerySpec::index(keys::Index::Gsi2, keys::legal_rep(person)).limit(100);
            async move { store.query_all(&spec, 1_000).await }
        })
        .await
}

/// The names of these enterprises (those in the registry), 100 per request.
pub async fn names(
    store: &Store,
    usccs: &[&Uscc],
) -> Result<std::collections::HashMap<Uscc, String>, StoreError> {
    let keys: Vec<_> = usccs
        .iter()
        .map(|uscc| Store::key(&keys::enterprise(uscc), keys::PROFILE))
        .collect();
    let mut names = std::collections::HashMap::new();
    for chunk in keys.chunks(100) {
        for (_, item) in store.get_many(chunk.to_vec()).await? {
            let profile: EnterpriseProfile = Store::from_item(item)?;
            names.insert(profile.uscc, profile.name);
        }
    }
    Ok(names)
}
