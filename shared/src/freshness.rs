//! How fresh the data is: when a sync last completed and when labels were last recomputed. Every
//! answer that depends on synced or relabelled data carries both (`data_synced_at`,
//! `labels_as_of`), because the manual's users must know that answers lag reality (FAQ 5).
//! One global item, `SYNC#STATUS` / `STATUS`.

use crate::store::{Store, StoreError};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
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
    let result = store
        .client()
        .update_item()
        .table_name(store.table())
        .set_key(Some(Store::key(PK, SK)))
        .update_expression("SET #a = :at")
        .condition_expression("attribute_not_exists(#a) OR #a < :at")
        .expression_attribute_names("#a", attribute)
        .expression_attribute_values(
            ":at",
            AttributeValue::S(at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        )
        .send()
        .await;
    crate::store::ok_if_condition_failed(result)
}

pub async fn record_sync(store: &Store, at: DateTime<Utc>) -> Result<(), StoreError> {
    set(store, "data_synced_at", at).await
}

pub async fn record_relabel(store: &Store, at: DateTime<Utc>) -> Result<(), StoreError> {
    set(store, "labels_as_of", at).await
}

pub async fn get(store: &Store) -> Result<Freshness, StoreError> {
    Ok(store.get::<Freshness>(PK, SK).await?.unwrap_or_default())
}
