//! Relabel (every 4 hours, and by hand): recomputes, as of the run's time, each person's PCR
//! label, "in Shenzhen" and vaccination state, and carries changes into every membership of the
//! person and the summaries of their enterprises.
//!
//! Cost is proportional to what changes, not to the population: it reads only the sparse
//! transition index (GSI3), where a person sits only while a change is due — because sync gave
//! them new facts, they joined an enterprise, or time is about to move them across a boundary
//! (24 h, 48 h, 72 h, 14 days, the booster interval). No Scan. A second run at the same time
//! finds nothing due and changes nothing.

use crate::health::{self, Health, HealthRules};
use crate::keys;
use crate::roster::{self, Membership};
use crate::store::{QuerySpec, Store, StoreError};
use crate::summary::Delta;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// What a run did; logged and kept by the caller.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RelabelReport {
    pub as_of: Option<DateTime<Utc>>,
    /// Persons found due in the transition index.
    pub persons_due: u64,
    /// Memberships whose copy of the derived state changed.
    pub memberships_changed: u64,
    /// Persons whose write lost a race with a concurrent sync; they stay due for the next run.
    pub persons_deferred: u64,
}

/// Runs a relabel as of `now`.
pub async fn run(
    store: &Store,
    now: DateTime<Utc>,
    rules: &HealthRules,
) -> Result<RelabelReport, StoreError> {
    let mut report = RelabelReport {
        as_of: Some(now),
        ..Default::default()
    };
    // "{now}#~" sorts after every "{now}#{person}", so the bound includes persons due exactly now.
    let upto = format!(
        "{}#~",
        now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    for shard in 0..keys::DUE_SHARDS {
        let spec = QuerySpec::index(keys::GSI3, keys::due_partition(shard))
            .upto(upto.clone())
            .limit(100);
        let mut cursor: Option<String> = None;
        loop {
            let page = store
                .query::<Health>(&spec, cursor.as_deref())
                .await
                .map_err(|e| match e {
                    crate::store::BadCursorOr::Store(e) => e,
                    crate::store::BadCursorOr::Cursor(_) => {
                        StoreError::Malformed("own cursor rejected".into())
                    }
                })?;
            for due in page.items {
                report.persons_due += 1;
                relabel_person(store, due, now, rules, &mut report).await?;
            }
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
    }
    crate::freshness::record_relabel(store, now).await?;
    Ok(report)
}

async fn relabel_person(
    store: &Store,
    due: Health,
    now: DateTime<Utc>,
    rules: &HealthRules,
    report: &mut RelabelReport,
) -> Result<(), StoreError> {
    // The index is eventually consistent: work from the item itself.
    let Some(mut health) = store
        .get::<Health>(&keys::person(&due.person), keys::HEALTH)
        .await?
    else {
        return Ok(());
    };
    if !health.is_due() {
        return Ok(());
    }
    let (derived, next) = health.derive(now, rules);
    let mut all_carried = true;
    for membership in roster::of_person(store, &health.person).await? {
        if membership.derived.as_ref() == Some(&derived) {
            continue;
        }
        if update_membership(store, membership, derived, now).await? {
            report.memberships_changed += 1;
        } else {
            all_carried = false;
        }
    }
    health.derived = Some(derived);
    health.derived_at = Some(now);
    // A membership that moved under us keeps the person due, so the next run carries it.
    health.set_due(if all_carried { next } else { Some(now) });
    match health::save(store, health).await {
        Ok(()) => Ok(()),
        // Sync wrote new facts meanwhile and left the person due: the next run picks them up.
        Err(StoreError::ConditionFailed) => {
            report.persons_deferred += 1;
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// Updates one membership's copy and its enterprise's counters in one transaction, conditional on
/// the membership being as read — so a retried or repeated run never counts a change twice.
async fn update_membership(
    store: &Store,
    membership: Membership,
    derived: crate::health::Derived,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let read_version = membership.version;
    let delta = if membership.is_current() {
        Delta::relabel(membership.derived.as_ref(), &derived)
    } else {
        Delta::default()
    };
    let mut next = membership;
    next.derived = Some(derived);
    next.derived_at = Some(now);
    next.version += 1;
    let mut parts = vec![crate::store::put_if_version(
        store.table(),
        &next,
        Some(read_version),
    )?];
    if !delta.is_empty() {
        parts.push(delta.update(store.table(), &next.uscc, now));
    }
    match store.transact(parts).await {
        Ok(()) => Ok(true),
        // The membership changed since it was read (an edit, a concurrent run): not counted
        // here; the caller keeps the person due so the next run carries the change.
        Err(StoreError::ConditionFailed) => Ok(false),
        Err(e) => Err(e),
    }
}

/// What the relabel Lambda is invoked with (EventBridge Scheduler input, or by hand).
#[derive(Debug, Clone, serde::Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RelabelRequest {
    pub trigger: String,
    #[serde(default)]
    pub scheduled_time: Option<String>,
    /// Relabel as of this time instead of now (replaying a missed run).
    #[serde(default)]
    pub as_of: Option<DateTime<Utc>>,
}

/// The relabel Lambda's handler. A run "as of" a time later than now is refused: labels must
/// never describe the future.
pub async fn handle(
    store: &Store,
    now: DateTime<Utc>,
    rules: &HealthRules,
    request: RelabelRequest,
) -> Result<RelabelReport, StoreError> {
    let as_of = request
        .as_of
        .map(crate::clock::whole_seconds)
        .filter(|t| *t <= now)
        .unwrap_or(now);
    let report = run(store, as_of, rules).await?;
    tracing::info!(trigger = %request.trigger, persons_due = report.persons_due,
        memberships_changed = report.memberships_changed, deferred = report.persons_deferred, "relabel done");
    Ok(report)
}
