//! Per-enterprise counts (manual §4 and §5 overviews), maintained as counters on one item per
//! enterprise (`ENT#{uscc}` / `SUMMARY`) so an overview is one read whatever the enterprise's
//! size. Counters move only together with the memberships they count (same transaction), and
//! count current employees; those who left are counted apart.

use crate::health::{Derived, PcrLabel, VaxState};
use crate::ids::Uscc;
use crate::keys;
use crate::store::{ItemUpdate, Store, StoreError};
use aws_sdk_dynamodb::types::TransactWriteItem;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const TOTAL: &str = "n_total";
pub const LEFT: &str = "n_left";
pub const IN_SHENZHEN: &str = "n_in_shenzhen";
/// When any counter last moved.
const UPDATED_AT: &str = "updated_at";

pub fn label_counter(label: PcrLabel) -> String {
    format!("n_pcr_{}", label.as_str())
}

pub fn vax_counter(state: VaxState) -> String {
    format!("n_vax_{}", state.as_str())
}

/// Counter changes, by attribute name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delta(pub BTreeMap<String, i64>);

impl Delta {
    pub fn add(&mut self, counter: impl Into<String>, by: i64) {
        *self.0.entry(counter.into()).or_default() += by;
    }

    fn count(&mut self, derived: &Derived, sign: i64) {
        self.add(label_counter(derived.label), sign);
        self.add(vax_counter(derived.vax), sign);
        if derived.in_shenzhen {
            self.add(IN_SHENZHEN, sign);
        }
    }

    /// The change when a current employee's derived state moves from `old` to `new`.
    pub fn relabel(old: Option<&Derived>, new: &Derived) -> Self {
        let mut delta = Self::default();
        if let Some(old) = old {
            delta.count(old, -1);
        }
        delta.count(new, 1);
        delta.0.retain(|_, v| *v != 0);
        delta
    }

    /// The change when a current employee's health state is withheld (consent withdrawn) while
    /// they stay an employee: out of every health counter, still in the total.
    pub fn withheld(derived: Option<&Derived>) -> Self {
        let mut delta = Self::default();
        if let Some(d) = derived {
            delta.count(d, -1);
        }
        delta
    }

    /// The change when a current employee leaves.
    pub fn leave(derived: Option<&Derived>) -> Self {
        let mut delta = Self::default();
        delta.add(TOTAL, -1);
        delta.add(LEFT, 1);
        if let Some(d) = derived {
            delta.count(d, -1);
        }
        delta
    }

    /// Adds another change to this one (folding several memberships' changes into one update).
    pub fn absorb(&mut self, other: &Delta) {
        for (counter, by) in &other.0 {
            self.add(counter.clone(), *by);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.values().all(|v| *v == 0)
    }

    /// An `ADD` update of the enterprise's summary item.
    pub fn item_update(&self, uscc: &Uscc, now: DateTime<Utc>) -> ItemUpdate {
        let changed = self.0.iter().filter(|(_, by)| **by != 0);
        changed.fold(
            ItemUpdate::at(&keys::enterprise(uscc), keys::SUMMARY).set(UPDATED_AT, now),
            |update, (counter, by)| update.add(counter, *by),
        )
    }

    /// The same, as a part of the transaction that moves the memberships it counts.
    pub fn update(
        &self,
        table: &str,
        uscc: &Uscc,
        now: DateTime<Utc>,
    ) -> Result<TransactWriteItem, StoreError> {
        self.item_update(uscc, now).into_transact(table)
    }
}

/// Adds `count` new (not yet labelled) current employees to the enterprise's total.
pub async fn add_members(
    store: &Store,
    uscc: &Uscc,
    count: i64,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let mut delta = Delta::default();
    delta.add(TOTAL, count);
    store.update(delta.item_update(uscc, now)).await?;
    Ok(())
}

/// The stored counters.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Summary {
    #[serde(flatten)]
    pub counters: BTreeMap<String, serde_json::Value>,
}

impl Summary {
    pub fn get(&self, counter: &str) -> i64 {
        self.counters
            .get(counter)
            .and_then(serde_json::Value::as_i64)
            .unwrap_or(0)
    }

    /// The current employees in each group (PCR label or vaccination state), by the group's
    /// name, and how many are in none (not labelled yet, or their health data withheld).
    pub fn per_group<G: Copy>(
        &self,
        groups: impl IntoIterator<Item = G>,
        name: fn(G) -> &'static str,
        counter: fn(G) -> String,
    ) -> (BTreeMap<String, i64>, i64) {
        let counts: BTreeMap<String, i64> = groups
            .into_iter()
            .map(|g| (name(g).to_string(), self.get(&counter(g))))
            .collect();
        let unlabelled = self.get(TOTAL) - counts.values().sum::<i64>();
        (counts, unlabelled)
    }
}

pub async fn get(store: &Store, uscc: &Uscc) -> Result<Summary, StoreError> {
    Ok(store
        .get::<Summary>(&keys::enterprise(uscc), keys::SUMMARY)
        .await?
        .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relabel_deltas_cancel_what_did_not_change() {
        let old = Derived {
            label: PcrLabel::Within24h,
            in_shenzhen: true,
            vax: VaxState::Boosted,
            sampled_at: None,
            result_pending: false,
        };
        let new = Derived {
            label: PcrLabel::Within48h,
            ..old
        };
        let delta = Delta::relabel(Some(&old), &new);
        assert_eq!(
            delta.0,
            BTreeMap::from([("n_pcr_24h".into(), -1), ("n_pcr_48h".into(), 1)])
        );
        assert!(Delta::relabel(Some(&old), &old).is_empty());
        assert_eq!(Delta::relabel(None, &new).0.len(), 3);
        let leave = Delta::leave(Some(&new));
        assert_eq!(leave.0[TOTAL], -1);
        assert_eq!(leave.0[LEFT], 1);
        assert_eq!(leave.0["n_pcr_48h"], -1);
    }
}
