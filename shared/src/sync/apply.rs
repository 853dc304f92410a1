//! Applying validated records to the table, a chunk at a time. Each chunk first reads the current
//! state of everything it touches (BatchGetItem, 100 keys a request), then writes only what
//! changed: an unchanged record costs a read share and no write.

use crate::feeds::{DoseRecord, PcrResult, RosterEntry};
use crate::health::{self, Health};
use crate::ids::{PersonKey, Uscc};
use crate::keys;
use crate::registry::EnterpriseProfile;
use crate::roster::{self, Membership, Source};
use crate::store::{self, Item, Store, StoreError};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use std::collections::{HashMap, HashSet};

/// How many times a lost optimistic-concurrency race is retried with fresh state.
const RACE_RETRIES: usize = 5;

/// Outcome of applying a chunk: records that changed something, records that did not, and
/// records refused only now (e.g. a roster line for an enterprise the registry does not know),
/// with their index in the chunk.
#[derive(Debug, Default)]
pub struct Applied {
    pub applied: u64,
    pub unchanged: u64,
    pub refused: Vec<(usize, String)>,
}

/// Everything at `keys_`, 100 keys a BatchGetItem.
async fn read_all(
    store: &Store,
    keys_: Vec<Item>,
) -> Result<HashMap<(String, String), Item>, StoreError> {
    store.get_many(keys_).await
}

pub async fn registry(
    store: &Store,
    profiles: Vec<EnterpriseProfile>,
) -> Result<Applied, StoreError> {
    let keys_ = profiles
        .iter()
        .map(|p| Store::key(&keys::enterprise(&p.uscc), keys::PROFILE))
        .collect();
    let current = read_all(store, keys_).await?;
    let mut out = Applied::default();
    let mut writes = Vec::new();
    for profile in profiles {
        let key = (keys::enterprise(&profile.uscc), keys::PROFILE.to_string());
        let same = current
            .get(&key)
            .cloned()
            .map(Store::from_item::<EnterpriseProfile>)
            .transpose()?
            .is_some_and(|c| c.same_facts(&profile));
        if same {
            out.unchanged += 1;
        } else {
            out.applied += 1;
            writes.push(Store::to_item(&profile)?);
        }
    }
    store::batch_put(store, store.table(), writes).await?;
    Ok(out)
}

/// Merges per-person records into health items; changed persons are put in the transition index.
async fn merge_health<R: Sync>(
    store: &Store,
    records: Vec<R>,
    now: DateTime<Utc>,
    person_of: impl Fn(&R) -> &PersonKey,
    merge: impl Fn(&mut Health, &R) -> bool + Sync,
) -> Result<Applied, StoreError> {
    let mut by_person: HashMap<PersonKey, Vec<R>> = HashMap::new();
    for r in records {
        by_person.entry(person_of(&r).clone()).or_default().push(r);
    }
    let keys_ = by_person
        .keys()
        .map(|p| Store::key(&keys::person(p), keys::HEALTH))
        .collect();
    let mut current = read_all(store, keys_).await?;
    let mut work = Vec::with_capacity(by_person.len());
    for (person, records) in by_person {
        let stored = current
            .remove(&(keys::person(&person), keys::HEALTH.to_string()))
            .map(Store::from_item::<Health>)
            .transpose()?;
        work.push((person, records, stored));
    }
    // Persons are independent: their writes go out WRITES_IN_FLIGHT at a time, which is what
    // lets one worker approach DynamoDB's throughput instead of its latency.
    let merge = &merge;
    let results: Vec<Result<(u64, u64), StoreError>> = futures::stream::iter(work)
        .map(|(person, records, stored)| merge_person(store, person, records, stored, now, merge))
        .buffer_unordered(WRITES_IN_FLIGHT)
        .collect()
        .await;
    let mut out = Applied::default();
    for result in results {
        let (applied, unchanged) = result?;
        out.applied += applied;
        out.unchanged += unchanged;
    }
    Ok(out)
}

/// Concurrent single-item writes per worker.
pub const WRITES_IN_FLIGHT: usize = 16;

/// Merges one person's records into their health item; returns (applied, unchanged) records.
async fn merge_person<R>(
    store: &Store,
    person: PersonKey,
    records: Vec<R>,
    mut stored: Option<Health>,
    now: DateTime<Utc>,
    merge: &(impl Fn(&mut Health, &R) -> bool + Sync),
) -> Result<(u64, u64), StoreError> {
    let total = records.len() as u64;
    for attempt in 0..=RACE_RETRIES {
        let mut health = stored
            .clone()
            .unwrap_or_else(|| Health::new(person.clone()));
        let changed = records.iter().filter(|r| merge(&mut health, r)).count() as u64;
        if changed == 0 {
            return Ok((0, total));
        }
        health.facts_changed(now);
        health.set_due(Some(now));
        match health::save(store, health).await {
            Ok(()) => return Ok((changed, total - changed)),
            Err(StoreError::ConditionFailed) if attempt < RACE_RETRIES => {
                stored = store
                    .get::<Health>(&keys::person(&person), keys::HEALTH)
                    .await?;
            }
            Err(e) => return Err(e),
        }
    }
    Err(StoreError::ConditionFailed)
}

pub async fn pcr(
    store: &Store,
    records: Vec<PcrResult>,
    now: DateTime<Utc>,
) -> Result<Applied, StoreError> {
    merge_health(store, records, now, |r| &r.person, Health::merge_pcr).await
}

pub async fn vaccination(
    store: &Store,
    records: Vec<DoseRecord>,
    now: DateTime<Utc>,
) -> Result<Applied, StoreError> {
    merge_health(
        store,
        records,
        now,
        |r| &r.person,
        |h, r| h.merge_dose(&r.dose),
    )
    .await
}

/// Roster lines: a new employee is added (counted in the summary, labelled at the next relabel);
/// an existing one gains the roster as a source, a new name or phone, or returns from having
/// left. Lines for enterprises the registry does not know are refused.
pub async fn roster_lines(
    store: &Store,
    entries: Vec<(usize, RosterEntry)>,
    now: DateTime<Utc>,
) -> Result<Applied, StoreError> {
    let enterprises: HashSet<&Uscc> = entries.iter().map(|(_, e)| &e.uscc).collect();
    let known = read_all(
        store,
        enterprises
            .iter()
            .map(|u| Store::key(&keys::enterprise(u), keys::PROFILE))
            .collect(),
    )
    .await?;
    let mut out = Applied::default();
    let mut valid = Vec::new();
    for (index, entry) in entries {
        if known.contains_key(&(keys::enterprise(&entry.uscc), keys::PROFILE.to_string())) {
            valid.push(entry);
        } else {
            out.refused.push((
                index,
                format!("uscc: enterprise {} is not in the registry", entry.uscc),
            ));
        }
    }
    let current = read_all(
        store,
        valid
            .iter()
            .map(|e| {
                let (pk, sk) = roster::membership_key(&e.uscc, &e.person);
                Store::key(&pk, &sk)
            })
            .collect(),
    )
    .await?;
    let mut fresh = Vec::new();
    for entry in valid {
        let key = roster::membership_key(&entry.uscc, &entry.person);
        match current
            .get(&key)
            .cloned()
            .map(Store::from_item::<Membership>)
            .transpose()?
        {
            None => fresh.push(Membership::from_roster(&entry, now)),
            Some(existing) => {
                let mut next = existing.clone();
                next.sources.insert(Source::Roster);
                next.rename(&entry.name);
                next.masked_phone = entry.masked_phone.clone().or(next.masked_phone);
                if next.roster_month.as_deref() < Some(entry.month.as_str()) {
                    next.roster_month = Some(entry.month.clone());
                }
                if next == existing && existing.is_current() {
                    // Never labelled: an earlier delivery may have stopped between writing it and
                    // noting it on the person's health item (`roster::add_new`). Noting it again
                    // is what lets relabel, which reads memberships by that list, reach it.
                    if existing.derived().is_none() && !existing.health_withheld() {
                        roster::mark_due(store, &entry.person, &entry.uscc, now).await?;
                    }
                    out.unchanged += 1;
                    continue;
                }
                let returning = !existing.is_current();
                next.rejoin();
                next.version += 1;
                let mut parts = vec![store::put_if_version(
                    store.table(),
                    &next,
                    Some(existing.version),
                )?];
                if returning {
                    let mut delta = crate::summary::Delta::leave(existing.derived());
                    delta.0.values_mut().for_each(|v| *v = -*v);
                    parts.push(delta.update(store.table(), &entry.uscc, now)?);
                }
                match store.transact(parts).await {
                    Ok(()) => {
                        out.applied += 1;
                        // A returning employee may come back without a health state (consent
                        // withdrawn earlier): the next relabel gives it to them again.
                        if returning {
                            roster::mark_due(store, &entry.person, &entry.uscc, now).await?;
                        }
                    }
                    // Changed meanwhile (an agent edited it): the next delivery brings it in line.
                    Err(StoreError::ConditionFailed) => out.unchanged += 1,
                    Err(e) => return Err(e),
                }
            }
        }
    }
    // Lines whose membership an earlier attempt already wrote (its answer lost) are unchanged.
    let added = roster::add_new(store, &fresh, now).await?;
    out.applied += added as u64;
    out.unchanged += (fresh.len() - added) as u64;
    Ok(out)
}

/// After a roster delivery: an employee who was on an earlier month's roster of an enterprise
/// but is missing from `month`'s is marked as left (kept, with the date) — unless they also
/// joined by invitation or were added by hand, in which case only the roster source goes.
/// Returns how many were marked left. One roster delivery carries the whole month of every
/// enterprise in it (`docs/feeds.md`), so absence from it means absence from the roster.
pub async fn roster_leavers(
    store: &Store,
    months: &HashMap<Uscc, String>,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let mut left = 0;
    for (uscc, month) in months {
        for member in roster::of_enterprise(store, uscc).await? {
            let stale = member.is_current()
                && member.sources.contains(&Source::Roster)
                && member
                    .roster_month
                    .as_deref()
                    .is_some_and(|m| m < month.as_str());
            if !stale {
                continue;
            }
            let mut next = member.clone();
            next.sources.remove(&Source::Roster);
            let leaving = next.sources.is_empty();
            if leaving {
                next.leave(now);
            }
            next.version += 1;
            let mut parts = vec![store::put_if_version(
                store.table(),
                &next,
                Some(member.version),
            )?];
            if leaving {
                parts.push(crate::summary::Delta::leave(member.derived()).update(
                    store.table(),
                    uscc,
                    now,
                )?);
            }
            match store.transact(parts).await {
                Ok(()) => left += u64::from(leaving),
                // Changed meanwhile (re-added by hand, say): leave it as the other writer left it.
                Err(StoreError::ConditionFailed) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(left)
}
