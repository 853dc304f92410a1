//! How fresh the data is: when a sync last completed and when labels were last recomputed. Every
//! answer that depends on synced or relabelled data carries both (`data_synced_at`,
//! `labels_as_of`), because the manual's users must know that answers lag reality (FAQ 5).
//! One global item, `SYNC#STATUS` / `STATUS`; every enterprise-scoped request shows it, so each
//! execution environment keeps a copy for [`CACHE_TTL`] ([`FreshnessCache`]) and no single item
//! is read on every request at city scale.

use crate::attr;
use crate::cache::TimedCopy;
use crate::store::{Condition, Item, ItemUpdate, Store, StoreError};
use chrono::{DateTime, Duration, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

pub const PK: &str = "SYNC#STATUS";
pub const SK: &str = "STATUS";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Freshness {
    pub data_synced_at: Option<DateTime<Utc>>,
    pub labels_as_of: Option<DateTime<Utc>>,
}

/// How long an execution environment shows the freshness it read before reading it again. The
/// data changes twice a day (sync) and six times a day (relabel): a copy this old says nothing
/// wrong about how fresh the answers are.
pub const CACHE_TTL: Duration = Duration::seconds(30);

/// This execution environment's copy of the freshness item, as of when it was read (by the
/// injected clock). Cloning shares the copy.
#[derive(Debug, Clone)]
pub struct FreshnessCache(TimedCopy<Freshness>);

impl Default for FreshnessCache {
    fn default() -> Self {
        Self(TimedCopy::new(CACHE_TTL))
    }
}

impl FreshnessCache {
    /// The copy, if it was read less than [`CACHE_TTL`] before `now`.
    pub fn current(&self, now: DateTime<Utc>) -> Option<Freshness> {
        self.0.current(now)
    }

    pub fn keep(&self, now: DateTime<Utc>, freshness: &Freshness) {
        self.0.keep(now, freshness)
    }

    /// Reads `keys` in one BatchGetItem, adding the freshness item only when this copy has run
    /// out; answers the items found and the freshness to show.
    pub async fn read_with(
        &self,
        store: &Store,
        now: DateTime<Utc>,
        mut keys: Vec<Item>,
    ) -> Result<(HashMap<(String, String), Item>, Freshness), StoreError> {
        let cached = self.current(now);
        if cached.is_none() {
            keys.push(Store::key(PK, SK));
        }
        let mut found = store.get_many(keys).await?;
        let freshness = match cached {
            Some(freshness) => freshness,
            None => {
                let read: Freshness = found
                    .remove(&(PK.to_string(), SK.to_string()))
                    .map(Store::from_item)
                    .transpose()?
                    .unwrap_or_default();
                self.keep(now, &read);
                read
            }
        };
        Ok((found, freshness))
    }
}

async fn set(store: &Store, attribute: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
    // Never moves backwards: a slow, older run finishing late does not make data look older.
    // Whole seconds, so the stored text orders as time.
    let at = at.trunc_subsecs(0);
    let update = ItemUpdate::at(PK, SK)
        .set(attribute, at)
        .when(Condition::absent(attribute).or(Condition::below(attribute, at)));
    store.update(update).await?;
    Ok(())
}

pub async fn record_sync(store: &Store, at: DateTime<Utc>) -> Result<(), StoreError> {
    set(store, attr!(Freshness, data_synced_at), at).await
}

pub async fn record_relabel(store: &Store, at: DateTime<Utc>) -> Result<(), StoreError> {
    set(store, attr!(Freshness, labels_as_of), at).await
}

pub async fn get(store: &Store) -> Result<Freshness, StoreError> {
    Ok(store.get::<Freshness>(PK, SK).await?.unwrap_or_default())
}
