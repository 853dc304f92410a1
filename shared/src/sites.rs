//! Sampling sites and control zones (manual §7 and §8) as snapshots: each delivery of the sites
//! or zones feed is a complete picture. Its items are written under a partition of their own;
//! only when the whole delivery is written does a pointer item switch readers to it, and the
//! previous snapshot is deleted. A reader therefore sees the old snapshot or the new one, never a
//! mixture.

use crate::attr;
use crate::feeds::{Site, Zone};
use crate::keys::ItemKey;
use crate::store::{self, Condition, Item, QuerySpec, Store, StoreError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sites,
    Zones,
}

impl Kind {
    const fn name(self) -> &'static str {
        match self {
            Self::Sites => "SITES",
            Self::Zones => "ZONES",
        }
    }
}

const POINTER_SK: &str = "CURRENT";

fn pointer_pk(kind: Kind) -> String {
    format!("SNAPSHOT#{}", kind.name())
}

/// The partition holding one snapshot, named after the delivery that carried it.
pub fn partition(kind: Kind, delivery_key: &str) -> String {
    format!("{}#{delivery_key}", kind.name())
}

/// Sort keys group by district and street, so "the sites of a street" is one prefix query.
pub fn sort_key(district: &str, street: &str, id: &str) -> String {
    format!("{district}#{street}#{id}")
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SiteItem {
    #[serde(flatten)]
    key: ItemKey,
    #[serde(flatten)]
    pub site: Site,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ZoneItem {
    #[serde(flatten)]
    key: ItemKey,
    #[serde(flatten)]
    pub zone: Zone,
}

pub fn site_item(delivery_key: &str, site: Site) -> Result<Item, StoreError> {
    Store::to_item(&SiteItem {
        key: ItemKey::new(
            partition(Kind::Sites, delivery_key),
            sort_key(&site.district, &site.street, &site.id),
        ),
        site,
    })
}

pub fn zone_item(delivery_key: &str, zone: Zone) -> Result<Item, StoreError> {
    Store::to_item(&ZoneItem {
        key: ItemKey::new(
            partition(Kind::Zones, delivery_key),
            sort_key(&zone.district, &zone.street, &zone.id),
        ),
        zone,
    })
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pointer {
    pub delivery_key: String,
    pub published_at: DateTime<Utc>,
}

/// The snapshot readers see now.
pub async fn current(store: &Store, kind: Kind) -> Result<Option<Pointer>, StoreError> {
    store.get(&pointer_pk(kind), POINTER_SK).await
}

/// Switches readers to the snapshot of `delivery_key` (unless a later delivery is already
/// current), then deletes the snapshot it replaced.
pub async fn publish(
    store: &Store,
    kind: Kind,
    delivery_key: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let previous = current(store, kind).await?;
    if previous
        .as_ref()
        .is_some_and(|p| p.delivery_key.as_str() >= delivery_key)
    {
        return Ok(false);
    }
    let mut item = Store::to_item(&Pointer {
        delivery_key: delivery_key.into(),
        published_at: now,
    })?;
    item.extend(Store::key(&pointer_pk(kind), POINTER_SK));
    // Only from the pointer just read: two publishers racing cannot both switch.
    let unchanged = match &previous {
        None => Condition::ItemAbsent,
        Some(p) => Condition::equals(attr!(Pointer, delivery_key), &p.delivery_key),
    };
    store
        .transact(vec![store::put_when(store.table(), item, unchanged)?])
        .await?;
    if let Some(previous) = previous {
        delete_partition(store, &partition(kind, &previous.delivery_key)).await?;
    }
    Ok(true)
}

/// Deletes the items of a snapshot that will never be published (a delivery cut short).
pub async fn discard(store: &Store, kind: Kind, delivery_key: &str) -> Result<(), StoreError> {
    delete_partition(store, &partition(kind, delivery_key)).await
}

async fn delete_partition(store: &Store, pk: &str) -> Result<(), StoreError> {
    let spec = QuerySpec::table(pk.to_string()).limit(1_000);
    let items: Vec<ItemKey> = store.query_all(&spec, usize::MAX).await?;
    let keys = items.iter().map(ItemKey::item).collect();
    store::batch_delete(store, store.table(), keys).await?;
    Ok(())
}

/// The items of the current `kind` snapshot, optionally within a district (and street).
async fn current_items<T: serde::de::DeserializeOwned>(
    store: &Store,
    kind: Kind,
    district: Option<&str>,
    street: Option<&str>,
) -> Result<Vec<T>, StoreError> {
    let Some(pointer) = current(store, kind).await? else {
        return Ok(Vec::new());
    };
    let mut spec = QuerySpec::table(partition(kind, &pointer.delivery_key)).limit(1_000);
    if let Some(district) = district {
        spec = spec.prefix(match street {
            Some(street) => format!("{district}#{street}#"),
            None => format!("{district}#"),
        });
    }
    store.query_all(&spec, usize::MAX).await
}

/// Sites of the current snapshot, optionally within a district (and street).
pub async fn sites(
    store: &Store,
    district: Option<&str>,
    street: Option<&str>,
) -> Result<Vec<Site>, StoreError> {
    Ok(
        current_items::<SiteItem>(store, Kind::Sites, district, street)
            .await?
            .into_iter()
            .map(|i| i.site)
            .collect(),
    )
}

/// Zones of the current snapshot, optionally within a district (and street).
pub async fn zones(
    store: &Store,
    district: Option<&str>,
    street: Option<&str>,
) -> Result<Vec<Zone>, StoreError> {
    Ok(
        current_items::<ZoneItem>(store, Kind::Zones, district, street)
            .await?
            .into_iter()
            .map(|i| i.zone)
            .collect(),
    )
}
