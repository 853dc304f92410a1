//! How fresh the data is: when a sync last completed and when labels were last recomputed. Every
//! answer that depends on synced or relabelled data carries both (`data_synced_at`,
//! `labels_as_of`), because the manual's users must know that answers lag reality (FAQ 5).
//! One global item, `SYNC#STATUS` / `STATUS`.

use crate::attr;
use crate::store::{Condition, ItemUpdate, Store, StoreError};
use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};

pub const PK: &str = "SYNC#STATUS";
pub const SK: &str = "STATUS";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Freshness {
    pub data_synced_at: Option<DateTime<Utc>>,
    pub labels_as_of: Option<DateTime<Utc>>,
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
