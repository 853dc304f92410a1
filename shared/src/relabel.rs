//! Relabel (every 4 hours, and by hand): recomputes, as of the run's time, each person's PCR
//! label, "in Shenzhen" and vaccination state, and carries changes into every membership of the
//! person and the summaries of their enterprises.
//!
//! Cost is proportional to what changes, not to the population: it reads only the sparse
//! transition index (GSI3), where a person sits only while a change is due — because sync gave
//! them new facts, they joined an enterprise, or time is about to move them across a boundary
//! (24 h, 48 h, 72 h, 14 days, the booster interval). No Scan. A second run at the same time
//! finds nothing due and changes nothing.
//!
//! # Batches
//!
//! A shard's persons due are read a page (100) at a time and relabelled in batches of up to
//! 1,000 ([`WINDOW`]):
//!
//! 1. one BatchGetItem per 100 keys reads, consistently, each person's health item and the
//!    memberships it names (the health item lists the person's enterprises, so the membership
//!    keys are derived, not queried; a person whose list is not known yet is listed once through
//!    GSI1 and the list kept);
//! 2. each person's writes are planned: the memberships whose copy changes, each conditional on
//!    the version read, then the health item (new derived state, next due time), conditional on
//!    its version;
//! 3. the plans are packed into TransactWriteItems of up to 100 items, and each transaction
//!    carries, for every enterprise it touches, ONE summary update adding the folded changes of
//!    exactly the memberships it moves.
//!
//! # Why the summaries stay equal to the lists
//!
//! A counter moves only in the transaction that moves the memberships it counts, and every
//! membership write in it is conditional on the version that was read. So a transaction lands
//! whole or not at all: a crash before it leaves the persons due (their health item still in the
//! index) and the next run plans them again from what is stored; a crash after it leaves them
//! relabelled and out of the index (or due later), and a membership already carrying the new
//! state is never counted again. A request the SDK sends again carries the same client request
//! token (DynamoDB answers it without applying it twice), and any later replay finds the
//! versions moved and is cancelled. A person's health item is written in the same transaction as their memberships (or,
//! for a person too large for one transaction, in the last of theirs), so they leave the index
//! only once every membership carries the new state.
//!
//! When DynamoDB cancels a transaction (a membership edited meanwhile, new facts synced, another
//! transaction on a summary in flight), it says which parts failed: the persons those parts
//! belong to (for a summary, every person of that enterprise in the transaction) are set aside,
//! and the rest is sent again with its summaries folded afresh. Set-aside persons are read again
//! and retried, [`RACE_RETRIES`] times with backoff; after that they stay due for the next run.

use crate::health::{self, Health, HealthRules};
use crate::ids::{PersonKey, Uscc};
use crate::keys;
use crate::roster::{self, Membership};
use crate::store::{Cancelled, Item, QuerySpec, Store, StoreError, TRANSACTION_MAX};
use crate::summary::Delta;
use aws_sdk_dynamodb::types::TransactWriteItem;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// What a run did; logged and kept by the caller.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RelabelReport {
    pub as_of: Option<DateTime<Utc>>,
    /// Persons found due in the transition index.
    pub persons_due: u64,
    /// Memberships whose copy of the derived state changed.
    pub memberships_changed: u64,
    /// Persons whose writes kept losing races (new facts synced, a membership edited, another
    /// transaction on a summary); they stay due for the next run.
    pub persons_deferred: u64,
    /// The service was sunset ([`crate::sunset`]): nothing was relabelled.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stopped_by_sunset: bool,
    /// Person keys are being re-keyed ([`crate::rekey`]): nothing was relabelled; the persons
    /// due stay due for the next run after it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stopped_by_rekey: bool,
    /// Updates of enterprise summaries written: one per enterprise per transaction, carrying
    /// the folded changes of every membership of that enterprise it moved.
    pub summary_updates: u64,
}

impl RelabelReport {
    fn merge(&mut self, other: &RelabelReport) {
        self.persons_due += other.persons_due;
        self.memberships_changed += other.memberships_changed;
        self.persons_deferred += other.persons_deferred;
        self.summary_updates += other.summary_updates;
    }
}

/// Persons due read per page of the transition index.
const PAGE: i32 = 100;
/// Persons due relabelled as one batch (several pages): the wider the window, the more
/// transitions of one large enterprise share a transaction and its one summary update (the
/// index is sharded by person, so a page mixes enterprises city-wide). A plan is a few KB.
const WINDOW: usize = 1_000;
/// How often persons whose part of a batch lost a race (an edit of a membership, new facts, a
/// concurrent transaction on a summary) are read afresh and tried again before they are left due
/// for the next run.
const RACE_RETRIES: u32 = 5;

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
    // Persons due exactly now are included.
    let upto = keys::through(now);
    let spec = QuerySpec::index(keys::Index::Gsi3, keys::due_partition(shard))
        .upto(upto)
        .limit(PAGE);
    let mut cursor: Option<String> = None;
    let mut window = Vec::new();
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
        window.extend(page.items);
        if window.len() >= WINDOW || page.next_cursor.is_none() {
            let batch = std::mem::take(&mut window);
            report.merge(&relabel_batch(store, batch, now, rules).await?);
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    Ok(report)
}

/// Relabels one batch of due persons (see the module's documentation).
async fn relabel_batch(
    store: &Store,
    due: Vec<Health>,
    now: DateTime<Utc>,
    rules: &HealthRules,
) -> Result<RelabelReport, StoreError> {
    let mut report = RelabelReport {
        persons_due: due.len() as u64,
        ..Default::default()
    };
    // The index's copy (eventually consistent) names each person's enterprises: enough to read
    // their memberships in the same request as the health items themselves.
    let mut employers: HashMap<PersonKey, BTreeSet<Uscc>> = due
        .iter()
        .filter_map(|h| h.employers().map(|e| (h.person.clone(), e.clone())))
        .collect();
    let mut pending: Vec<PersonKey> = due.into_iter().map(|h| h.person).collect();
    for round in 0..=RACE_RETRIES {
        if pending.is_empty() {
            break;
        }
        if round > 0 {
            crate::store::backoff(round).await;
        }
        let persons = read(store, &pending, &mut employers).await?;
        let mut plans = persons
            .into_iter()
            .map(|p| plan(store.table(), p, now, rules))
            .collect::<Result<Vec<_>, _>>()?;
        // Persons of one enterprise next to each other, so they share a transaction and its one
        // summary update.
        plans.sort_by(|a, b| a.first_employer().cmp(&b.first_employer()));
        let (committed, lost) = commit(store, &plans, now).await?;
        report.memberships_changed += committed.memberships_changed;
        report.summary_updates += committed.summary_updates;
        pending = lost;
    }
    // Still racing after every retry: their health items stay in the index, due now.
    report.persons_deferred = pending.len() as u64;
    Ok(report)
}

/// A person due, as read: their health item, the enterprises they work for, their memberships.
struct Due {
    health: Health,
    employers: BTreeSet<Uscc>,
    memberships: Vec<Membership>,
}

fn membership_keys(person: &PersonKey, employers: &BTreeSet<Uscc>) -> Vec<(String, String)> {
    employers
        .iter()
        .map(|uscc| roster::membership_key(uscc, person))
        .collect()
}

/// Reads `persons` consistently: one BatchGetItem per 100 keys for the health items and the
/// memberships `employers` names, and one more for memberships only the health items named.
/// Persons no longer due (the index lags) are left out.
async fn read(
    store: &Store,
    persons: &[PersonKey],
    employers: &mut HashMap<PersonKey, BTreeSet<Uscc>>,
) -> Result<Vec<Due>, StoreError> {
    let health_key = |p: &PersonKey| (keys::person(p), keys::HEALTH.to_string());
    let mut requested: HashSet<(String, String)> = HashSet::new();
    for person in persons {
        requested.insert(health_key(person));
        if let Some(known) = employers.get(person) {
            requested.extend(membership_keys(person, known));
        }
    }
    let as_keys = |keys_: &HashSet<(String, String)>| -> Vec<Item> {
        keys_.iter().map(|(pk, sk)| Store::key(pk, sk)).collect()
    };
    let mut found = store.get_many(as_keys(&requested)).await?;
    let mut due = Vec::new();
    for person in persons {
        let Some(health) = found
            .remove(&health_key(person))
            .map(Store::from_item::<Health>)
            .transpose()?
        else {
            continue;
        };
        // The index is eventually consistent: the item itself says whether a change is due.
        if !health.is_due() {
            continue;
        }
        let listed = match health.employers() {
            Some(listed) => listed.clone(),
            // Not known to be complete yet: listed once through GSI1, then kept on the item.
            None => {
                let mut listed = roster::employers_of(store, person).await?;
                listed.extend(health.employers.iter().cloned());
                listed
            }
        };
        employers.insert(person.clone(), listed.clone());
        due.push((health, listed));
    }
    let missing: HashSet<(String, String)> = due
        .iter()
        .flat_map(|(h, e)| membership_keys(&h.person, e))
        .filter(|k| !requested.contains(k))
        .collect();
    if !missing.is_empty() {
        found.extend(store.get_many(as_keys(&missing)).await?);
    }
    due.into_iter()
        .map(|(health, employers)| {
            let memberships = membership_keys(&health.person, &employers)
                .iter()
                .filter_map(|k| found.remove(k))
                .map(Store::from_item::<Membership>)
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Due {
                health,
                employers,
                memberships,
            })
        })
        .collect()
}

/// One membership's new copy, as a transaction part, and what it changes in its enterprise's
/// counters.
struct Move {
    uscc: Uscc,
    delta: Delta,
    part: TransactWriteItem,
}

/// A person's writes: the memberships whose copy changes, then the health item (derived state,
/// next due time, the list of enterprises), which takes the person out of the index and so goes
/// last.
struct Plan {
    person: PersonKey,
    moves: Vec<Move>,
    health: TransactWriteItem,
}

impl Plan {
    fn first_employer(&self) -> Option<&Uscc> {
        self.moves.first().map(|m| &m.uscc)
    }
}

fn plan(
    table: &str,
    Due {
        mut health,
        employers,
        memberships,
    }: Due,
    now: DateTime<Utc>,
    rules: &HealthRules,
) -> Result<Plan, StoreError> {
    let (derived, next) = health.derive(now, rules);
    let mut moves = Vec::new();
    for membership in memberships {
        // Consent withdrawn: the enterprise keeps no health state of this person.
        if membership.health_withheld() || membership.derived() == Some(&derived) {
            continue;
        }
        let delta = if membership.is_current() {
            Delta::relabel(membership.derived(), &derived)
        } else {
            Delta::default()
        };
        let read_version = membership.version;
        let mut next_copy = membership;
        next_copy.set_derived(derived, now);
        next_copy.version += 1;
        moves.push(Move {
            uscc: next_copy.uscc.clone(),
            delta,
            part: crate::store::put_if_version(table, &next_copy, Some(read_version))?,
        });
    }
    let person = health.person.clone();
    health.derived = Some(derived);
    health.derived_at = Some(now);
    health.set_due(next);
    health.set_employers(employers);
    Ok(Plan {
        person,
        moves,
        health: health::save_part(table, health)?,
    })
}

/// One item of a plan: a move (by index) or the health item.
#[derive(Clone, Copy)]
struct Unit {
    plan: usize,
    mv: Option<usize>,
}

/// Packs the plans into transactions ([`pack`]) and sends them in order.
/// Returns the memberships changed and the persons set aside (a part of theirs lost a race).
async fn commit(
    store: &Store,
    plans: &[Plan],
    now: DateTime<Utc>,
) -> Result<(RelabelReport, Vec<PersonKey>), StoreError> {
    let mut committed = RelabelReport::default();
    let mut lost: HashSet<usize> = HashSet::new();
    for transaction in pack(plans) {
        let mut units: Vec<Unit> = transaction
            .into_iter()
            .filter(|u| !lost.contains(&u.plan))
            .collect();
        while !units.is_empty() {
            let (parts, summaries) = parts_of(store.table(), plans, &units, now)?;
            match store.transact_or_cancelled(parts).await? {
                Ok(()) => {
                    committed.memberships_changed +=
                        units.iter().filter(|u| u.mv.is_some()).count() as u64;
                    committed.summary_updates += summaries.len() as u64;
                    break;
                }
                Err(Cancelled { parts: failed }) => {
                    let before = lost.len();
                    for i in failed {
                        match units.get(i) {
                            Some(unit) => {
                                lost.insert(unit.plan);
                            }
                            // A summary: every person of that enterprise in the transaction.
                            None => {
                                let Some(uscc) = summaries.get(i - units.len()) else {
                                    continue;
                                };
                                lost.extend(
                                    units
                                        .iter()
                                        .filter(|u| {
                                            u.mv.is_some_and(|m| {
                                                &plans[u.plan].moves[m].uscc == uscc
                                            })
                                        })
                                        .map(|u| u.plan),
                                );
                            }
                        }
                    }
                    if lost.len() == before {
                        // No part named (or only persons already set aside): set aside all.
                        lost.extend(units.iter().map(|u| u.plan));
                    }
                    units.retain(|u| !lost.contains(&u.plan));
                }
            }
        }
    }
    Ok((
        committed,
        lost.into_iter().map(|p| plans[p].person.clone()).collect(),
    ))
}

/// The plans' items in transactions of up to [`TRANSACTION_MAX`] items, counting one summary
/// update per enterprise moved; a person's items stay in one transaction whenever they fit in one.
fn pack(plans: &[Plan]) -> Vec<Vec<Unit>> {
    let mut transactions: Vec<Vec<Unit>> = Vec::new();
    let mut current: Vec<Unit> = Vec::new();
    // The enterprises `current` moves: one summary update each.
    let mut enterprises: HashSet<&Uscc> = HashSet::new();
    for (p, plan) in plans.iter().enumerate() {
        let own: HashSet<&Uscc> = plan.moves.iter().map(|m| &m.uscc).collect();
        let whole = plan.moves.len() + 1 + own.difference(&enterprises).count();
        let fits_alone = plan.moves.len() + 1 + own.len() <= TRANSACTION_MAX;
        if current.len() + enterprises.len() + whole > TRANSACTION_MAX && fits_alone {
            transactions.push(std::mem::take(&mut current));
            enterprises.clear();
        }
        // A person too large for one transaction is split, their health item last.
        let units = (0..plan.moves.len())
            .map(|m| Unit {
                plan: p,
                mv: Some(m),
            })
            .chain([Unit { plan: p, mv: None }]);
        for unit in units {
            let uscc = unit.mv.map(|m| &plan.moves[m].uscc);
            let cost = 1 + usize::from(uscc.is_some_and(|u| !enterprises.contains(u)));
            if current.len() + enterprises.len() + cost > TRANSACTION_MAX {
                transactions.push(std::mem::take(&mut current));
                enterprises.clear();
            }
            enterprises.extend(uscc);
            current.push(unit);
        }
    }
    transactions.push(current);
    transactions
}

/// The transaction parts of `units`, then one summary update per enterprise they move (its
/// counters' folded changes), and those enterprises in the order of their parts.
fn parts_of(
    table: &str,
    plans: &[Plan],
    units: &[Unit],
    now: DateTime<Utc>,
) -> Result<(Vec<TransactWriteItem>, Vec<Uscc>), StoreError> {
    let mut parts = Vec::with_capacity(units.len() + 1);
    let mut folded: BTreeMap<&Uscc, Delta> = BTreeMap::new();
    for unit in units {
        let plan = &plans[unit.plan];
        match unit.mv {
            Some(m) => {
                let mv = &plan.moves[m];
                folded.entry(&mv.uscc).or_default().absorb(&mv.delta);
                parts.push(mv.part.clone());
            }
            None => parts.push(plan.health.clone()),
        }
    }
    let mut summaries = Vec::new();
    for (uscc, delta) in folded {
        if !delta.is_empty() {
            parts.push(delta.update(table, uscc, now)?);
            summaries.push(uscc.clone());
        }
    }
    Ok((parts, summaries))
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
/// The metric emitted each time `labels_as_of` is recorded (`template.yaml`: `RelabelLagAlarm`).
pub const LABELS_RECORDED: &str = "LabelsRecorded";

pub async fn handle(
    store: &Store,
    now: DateTime<Utc>,
    rules: &HealthRules,
    request: RelabelRequest,
) -> Result<RelabelReport, StoreError> {
    if crate::sunset::has_begun(store).await? {
        return Ok(RelabelReport {
            stopped_by_sunset: true,
            ..Default::default()
        });
    }
    if crate::rekey::epoch::read(store).await?.is_migrating() {
        return Ok(RelabelReport {
            stopped_by_rekey: true,
            ..Default::default()
        });
    }
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
        memberships_changed = report.memberships_changed, deferred = report.persons_deferred,
        summary_updates = report.summary_updates, "relabel done");
    if request.shard.is_none() {
        // `labels_as_of` was recorded: the relabel-lag alarm watches for this.
        crate::observe::emit_metric("relabel", LABELS_RECORDED, 1.0, "Count");
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(person: usize, enterprises: &[usize]) -> Plan {
        let uscc = |i: usize| {
            let first17 = format!("91440300MA5{i:06}");
            let check = crate::ids::uscc_check_character(first17.as_bytes()).unwrap() as char;
            Uscc::try_from(format!("{first17}{check}")).unwrap()
        };
        let part = || TransactWriteItem::builder().build();
        Plan {
            person: PersonKey::try_from(format!("{person:064x}")).unwrap(),
            moves: enterprises
                .iter()
                .map(|e| Move {
                    uscc: uscc(*e),
                    delta: Delta::default(),
                    part: part(),
                })
                .collect(),
            health: part(),
        }
    }

    fn size(plans: &[Plan], transaction: &[Unit]) -> usize {
        let enterprises: HashSet<&Uscc> = transaction
            .iter()
            .filter_map(|u| u.mv.map(|m| &plans[u.plan].moves[m].uscc))
            .collect();
        transaction.len() + enterprises.len()
    }

    #[test]
    fn persons_of_one_enterprise_share_transactions_and_one_summary_each() {
        let plans: Vec<Plan> = (0..100).map(|p| plan(p, &[1])).collect();
        let transactions: Vec<_> = pack(&plans).into_iter().filter(|t| !t.is_empty()).collect();
        // 49 persons × (membership + health item) + 1 summary = 99 items.
        let persons: Vec<usize> = transactions.iter().map(|t| t.len() / 2).collect();
        assert_eq!(persons, vec![49, 49, 2]);
        assert!(
            transactions
                .iter()
                .all(|t| size(&plans, t) <= TRANSACTION_MAX)
        );
    }

    #[test]
    fn a_person_too_large_for_one_transaction_is_split_with_their_health_item_last() {
        let many: Vec<usize> = (0..60).collect();
        let plans = vec![plan(0, &[1]), plan(1, &many), plan(2, &[1])];
        let transactions: Vec<_> = pack(&plans).into_iter().filter(|t| !t.is_empty()).collect();
        assert!(
            transactions
                .iter()
                .all(|t| size(&plans, t) <= TRANSACTION_MAX)
        );
        let of_large: Vec<(usize, &Unit)> = transactions
            .iter()
            .enumerate()
            .flat_map(|(i, t)| t.iter().map(move |u| (i, u)))
            .filter(|(_, u)| u.plan == 1)
            .collect();
        assert_eq!(of_large.len(), 61, "every move and the health item");
        let (last_transaction, last) = of_large[60];
        assert!(last.mv.is_none(), "the health item comes last");
        assert!(of_large[..60].iter().all(|(i, _)| *i <= last_transaction));
        assert!(
            of_large
                .iter()
                .map(|(i, _)| i)
                .collect::<HashSet<_>>()
                .len()
                > 1
        );
    }
}
