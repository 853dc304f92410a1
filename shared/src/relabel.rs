//! Relabel (every 4 hours, and by hand): recomputes, as of the run's time, each person's PCR
//! label, "in Shenzhen" and vaccination state, and carries changes into every membership of the
//! person and the summaries of their enterprises.
//!
//! Cost is proportional to what changes, not to the population: it reads only the sparse
//! transition index (GSI3), where a person sits only while a change is due — because sync gave
//! them new facts, they joined an enterprise, or time is about to move them across a boundary
//! (24 h, 48 h, 72 h, 14 days, the booster interval). No Scan. A second run at the same time
//! finds nothing due and changes nothing.

use crate::health::{self, Derived, Health, HealthRules};
use crate::keys;
use crate::roster::{self, Membership};
use crate::store::{QuerySpec, Store, StoreError};
use crate::summary::Delta;
use chrono::{DateTime, Utc};
use futures::StreamExt;
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

impl RelabelReport {
    fn merge(&mut self, other: &RelabelReport) {
        self.persons_due += other.persons_due;
        self.memberships_changed += other.memberships_changed;
        self.persons_deferred += other.persons_deferred;
    }
}

/// Persons relabelled at once by one worker: each is a handful of dependent requests, so
/// overlapping them is what turns request latency into throughput.
pub const PERSONS_IN_FLIGHT: usize = 8;
/// How often a membership write that lost a race (an edit, a conflicting transaction on the
/// enterprise's summary) is retried with fresh state before the person is left due.
const MEMBERSHIP_RETRIES: u32 = 5;

/// Runs a relabel as of `now` over every shard of the transition index, then records
/// `labels_as_of`.
pub async fn run(
    store: &Store,
    now: DateTime<Utc>,
    rules: &HealthRules,
) -> Result<RelabelReport, StoreError> {
    let mut report = RelabelReport {
        as_of: Some(now),
        ..Default::default()
    };
    for shard in 0..keys::DUE_SHARDS {
        report.merge(&run_shard(store, shard, now, rules).await?);
    }
    crate::freshness::record_relabel(store, now).await?;
    Ok(report)
}

/// Relabels one shard of the transition index (the unit a fan-out gives one worker).
pub async fn run_shard(
    store: &Store,
    shard: u32,
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
    let spec = QuerySpec::index(keys::Index::Gsi3, keys::due_partition(shard))
        .upto(upto)
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
        let outcomes: Vec<Result<RelabelReport, StoreError>> = futures::stream::iter(page.items)
            .map(|due| relabel_person(store, due, now, rules))
            .buffer_unordered(PERSONS_IN_FLIGHT)
            .collect()
            .await;
        for outcome in outcomes {
            report.merge(&outcome?);
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    Ok(report)
}

async fn relabel_person(
    store: &Store,
    due: Health,
    now: DateTime<Utc>,
    rules: &HealthRules,
) -> Result<RelabelReport, StoreError> {
    let mut outcome = RelabelReport {
        persons_due: 1,
        ..Default::default()
    };
    // The index is eventually consistent: work from the item itself.
    let Some(mut health) = store
        .get::<Health>(&keys::person(&due.person), keys::HEALTH)
        .await?
    else {
        return Ok(outcome);
    };
    if !health.is_due() {
        return Ok(outcome);
    }
    let (derived, next) = health.derive(now, rules);
    let mut all_carried = true;
    for membership in roster::of_person(store, &health.person).await? {
        match carry(store, membership, derived, now).await? {
            Carried::Changed => outcome.memberships_changed += 1,
            Carried::AlreadyThere => {}
            Carried::GaveUp => all_carried = false,
        }
    }
    health.derived = Some(derived);
    health.derived_at = Some(now);
    // A membership that kept moving under us keeps the person due, so the next run carries it.
    health.set_due(if all_carried { next } else { Some(now) });
    match health::save(store, health).await {
        Ok(()) => {}
        // Sync wrote new facts meanwhile and left the person due: the next run picks them up.
        Err(StoreError::ConditionFailed) => outcome.persons_deferred = 1,
        Err(e) => return Err(e),
    }
    Ok(outcome)
}

enum Carried {
    Changed,
    AlreadyThere,
    GaveUp,
}

/// Carries `derived` into one membership and its enterprise's counters, in one transaction
/// conditional on the membership being as read — so a retried or repeated run never counts a
/// change twice. A lost race is retried with the membership read afresh.
async fn carry(
    store: &Store,
    mut membership: Membership,
    derived: Derived,
    now: DateTime<Utc>,
) -> Result<Carried, StoreError> {
    for attempt in 0..=MEMBERSHIP_RETRIES {
        // Consent withdrawn: the enterprise keeps no health state of this person.
        if membership.health_withheld() {
            return Ok(Carried::AlreadyThere);
        }
        if membership.derived() == Some(&derived) {
            return Ok(if attempt == 0 {
                Carried::AlreadyThere
            } else {
                Carried::Changed
            });
        }
        let delta = if membership.is_current() {
            Delta::relabel(membership.derived(), &derived)
        } else {
            Delta::default()
        };
        let read_version = membership.version;
        let mut next = membership.clone();
        next.set_derived(derived, now);
        next.version += 1;
        let mut parts = vec![crate::store::put_if_version(
            store.table(),
            &next,
            Some(read_version),
        )?];
        if !delta.is_empty() {
            parts.push(delta.update(store.table(), &next.uscc, now)?);
        }
        match store.transact(parts).await {
            Ok(()) => return Ok(Carried::Changed),
            Err(StoreError::ConditionFailed) => {
                crate::store::backoff(attempt + 1).await;
                let (pk, sk) = membership.key();
                match store.get::<Membership>(&pk, &sk).await? {
                    Some(fresh) => membership = fresh,
                    None => return Ok(Carried::AlreadyThere),
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(Carried::GaveUp)
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
    /// Only this shard of the transition index (a fan-out worker); `labels_as_of` is then left
    /// to the fan-out's last step, a request with `finish: true`.
    #[serde(default)]
    pub shard: Option<u32>,
    /// Only record `labels_as_of` (the fan-out's last step, after every shard finished).
    #[serde(default)]
    pub finish: bool,
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
    let report = match (request.shard, request.finish) {
        (Some(shard), _) if shard < keys::DUE_SHARDS => {
            run_shard(store, shard, as_of, rules).await?
        }
        (Some(shard), _) => {
            return Err(StoreError::Malformed(format!(
                "shard {shard} is not below {}",
                keys::DUE_SHARDS
            )));
        }
        (None, true) => {
            crate::freshness::record_relabel(store, as_of).await?;
            RelabelReport {
                as_of: Some(as_of),
                ..Default::default()
            }
        }
        (None, false) => run(store, as_of, rules).await?,
    };
    tracing::info!(trigger = %request.trigger, persons_due = report.persons_due,
        memberships_changed = report.memberships_changed, deferred = report.persons_deferred, "relabel done");
    Ok(report)
}
