//! Employees of an enterprise (memberships). A person becomes an employee of an enterprise from
//! one or more sources — the monthly social-insurance roster, an invitation they accepted, or an
//! agent adding them by hand — and stays one employee whatever the number of sources.
//!
//! A membership carries a copy of the person's derived health state (label, in Shenzhen,
//! vaccination state) as of the last relabel, so lists and counts of one enterprise are answered
//! from that enterprise's partition alone. Relabel keeps the copy and the enterprise summary in
//! step: the summary moves in the transaction that moves the memberships it counts.
//!
//! Every write that creates a membership also notes its enterprise on the person's health item
//! ([`Health`]'s `employers`), so relabel reads a person's memberships by key.

use crate::attr;
use crate::health::{Derived, Health};
use crate::ids::{IdDocument, PersonKey, PersonKeyer, Phone, Uscc};
use crate::keys;
use crate::keys::ItemKey;
use crate::retention;
use crate::store::{self, ItemUpdate, Store, StoreError};
use crate::summary;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// 社保: on the monthly social-insurance roster.
    Roster,
    /// Joined through an invitation link or poster.
    Invited,
    /// Added by an agent by hand.
    HandAdded,
}

impl Source {
    /// As stored and as the API spells it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Roster => "roster",
            Self::Invited => "invited",
            Self::HandAdded => "hand_added",
        }
    }

    /// As the manual names it (员工来源).
    pub const fn label_zh(self) -> &'static str {
        match self {
            Self::Roster => "社保",
            Self::Invited => "邀请",
            Self::HandAdded => "手动添加",
        }
    }
}

/// A person on an enterprise's roster, as a feed or a form delivers them (edge only).
#[derive(Debug, Clone)]
pub struct MemberRecord {
    pub document: IdDocument,
    pub name: String,
    pub phone: Option<Phone>,
}

pub use crate::ids::EmployeeId;

/// The table key of `person`'s membership of `uscc`.
pub fn membership_key(uscc: &Uscc, person: &PersonKey) -> (String, String) {
    (
        keys::enterprise(uscc),
        keys::employee(EmployeeId::of(uscc, person).as_str()),
    )
}

/// One employee of one enterprise.
///
/// What decides the list indexes (GSI4, GSI5) — the derived state, left or current, the name —
/// changes only through methods that recompute the index keys, so a list can never disagree with
/// the item it lists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Membership {
    #[serde(flatten)]
    key: ItemKey,
    /// GSI1: a person's enterprises, so a relabel reaches every membership of the person.
    #[serde(rename = "GSI1PK")]
    gsi1pk: String,
    #[serde(rename = "GSI1SK")]
    gsi1sk: String,
    /// GSI4 (PCR lists) and GSI5 (vaccination lists): present once the membership is labelled.
    #[serde(rename = "GSI4PK", default, skip_serializing_if = "Option::is_none")]
    pcr_list_pk: Option<String>,
    #[serde(rename = "GSI4SK", default, skip_serializing_if = "Option::is_none")]
    pcr_list_sk: Option<String>,
    #[serde(rename = "GSI5PK", default, skip_serializing_if = "Option::is_none")]
    vax_list_pk: Option<String>,
    #[serde(rename = "GSI5SK", default, skip_serializing_if = "Option::is_none")]
    vax_list_sk: Option<String>,
    pub uscc: Uscc,
    pub employee_id: EmployeeId,
    pub person: PersonKey,
    name: String,
    pub masked_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub masked_phone: Option<String>,
    pub sources: BTreeSet<Source>,
    pub since: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    left_at: Option<DateTime<Utc>>,
    /// The person's derived health state as of `derived_at`; absent until the first relabel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    derived: Option<Derived>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub derived_at: Option<DateTime<Utc>>,
    /// The latest social-insurance month (`YYYY-MM`) this person was on the roster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roster_month: Option<String>,
    /// Who added the employee by hand or removed them, and when (agents by `agent_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub added_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removed_by: Option<String>,
    /// The employee withdrew the consent they joined with and no other source remains: the
    /// enterprise no longer sees their health data (no derived state, not in any list).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    health_withheld: bool,
    pub version: u64,
    /// TTL: set when the employee leaves, cleared when they come back ([`retention::LEFT_MEMBERSHIP`]).
    #[serde(
        rename = "expires_at",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    retention_until: Option<i64>,
    /// The key generation a re-key rewrote it to ([`crate::rekey::rewrite::KEY_GENERATION`]):
    /// what a record made from it during a re-key copies, with its keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_generation: Option<crate::ids::KeyGeneration>,
}

impl Membership {
    fn bare(
        uscc: &Uscc,
        person: PersonKey,
        name: &str,
        masked_id: String,
        source: Source,
        now: DateTime<Utc>,
    ) -> Self {
        let employee_id = EmployeeId::of(uscc, &person);
        let (pk, sk) = membership_key(uscc, &person);
        Self {
            key: ItemKey::new(pk, sk),
            gsi1pk: keys::person(&person),
            gsi1sk: keys::employment_at(uscc),
            pcr_list_pk: None,
            pcr_list_sk: None,
            vax_list_pk: None,
            vax_list_sk: None,
            uscc: uscc.clone(),
            employee_id,
            person,
            name: name.trim().to_string(),
            masked_id,
            masked_phone: None,
            sources: BTreeSet::from([source]),
            since: now,
            left_at: None,
            derived: None,
            derived_at: None,
            roster_month: None,
            added_by: None,
            removed_by: None,
            health_withheld: false,
            version: 0,
            retention_until: None,
            key_generation: None,
        }
    }

    pub fn new(
        uscc: &Uscc,
        record: &MemberRecord,
        keyer: &PersonKeyer,
        source: Source,
        now: DateTime<Utc>,
    ) -> Self {
        let mut member = Self::bare(
            uscc,
            keyer.key(&record.document),
            &record.name,
            record.document.masked(),
            source,
            now,
        );
        member.masked_phone = record.phone.as_ref().map(Phone::masked);
        member
    }

    /// A membership from a roster line (already keyed and masked by the feed parser).
    pub fn from_roster(entry: &crate::feeds::RosterEntry, now: DateTime<Utc>) -> Self {
        let mut member = Self::bare(
            &entry.uscc,
            entry.person.clone(),
            &entry.name,
            entry.masked_id.clone(),
            Source::Roster,
            now,
        );
        member.masked_phone = entry.masked_phone.clone();
        member.roster_month = Some(entry.month.clone());
        member
    }

    pub fn key(&self) -> &ItemKey {
        &self.key
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn left_at(&self) -> Option<DateTime<Utc>> {
        self.left_at
    }

    /// The employee as every view names them.
    pub fn shown(&self) -> ShownEmployee {
        ShownEmployee {
            employee_id: self.employee_id.clone(),
            name: self.name.clone(),
            masked_id: self.masked_id.clone(),
            masked_phone: self.masked_phone.clone(),
            sources: self.sources.clone(),
        }
    }

    pub fn derived(&self) -> Option<&Derived> {
        self.derived.as_ref()
    }

    /// The TTL (epoch seconds), once the employee has left.
    pub fn retention_until(&self) -> Option<i64> {
        self.retention_until
    }

    pub fn is_current(&self) -> bool {
        self.left_at.is_none()
    }

    pub fn rename(&mut self, name: &str) {
        self.name = name.trim().to_string();
        self.reindex();
    }

    /// Marks the employee as left at `at` (kept, with the date).
    pub fn leave(&mut self, at: DateTime<Utc>) {
        self.left_at = Some(at);
        self.retention_until = Some(retention::LEFT_MEMBERSHIP.until(at));
        self.reindex();
    }

    /// A left employee is back (on the roster again, re-added, re-joined).
    pub fn rejoin(&mut self) {
        self.left_at = None;
        self.removed_by = None;
        self.retention_until = None;
        self.reindex();
    }

    /// The employee withdrew their consent: the enterprise no longer keeps, lists or counts
    /// their health state, whatever else ties them to it (roster, hand-add), until they consent
    /// again. Only a new consent (joining by invitation) lifts this.
    pub fn withhold_health(&mut self) {
        self.derived = None;
        self.derived_at = None;
        self.health_withheld = true;
        self.reindex();
    }

    /// A new consent: the health state comes back with the next derivation.
    fn release_health(&mut self) {
        self.health_withheld = false;
    }

    pub fn health_withheld(&self) -> bool {
        self.health_withheld
    }

    /// Relabel's copy of the person's derived state.
    pub fn set_derived(&mut self, derived: Derived, at: DateTime<Utc>) {
        self.derived = Some(derived);
        self.derived_at = Some(at);
        self.reindex();
    }

    fn reindex(&mut self) {
        let Some(derived) = self.derived else {
            (
                self.pcr_list_pk,
                self.pcr_list_sk,
                self.vax_list_pk,
                self.vax_list_sk,
            ) = (None, None, None, None);
            return;
        };
        let status = keys::list_status(self.is_current());
        let rest = format!("{}#{}", self.name, self.employee_id);
        self.pcr_list_pk = Some(keys::pcr_list(&self.uscc, derived.label.as_str()));
        self.pcr_list_sk = Some(format!(
            "{status}{}{rest}",
            keys::list_in_shenzhen(derived.in_shenzhen)
        ));
        self.vax_list_pk = Some(keys::vax_list(&self.uscc, derived.vax.as_str()));
        self.vax_list_sk = Some(format!("{status}{rest}"));
    }
}

/// How a person comes to be an employee of an enterprise, one at a time (an invitation accepted,
/// an agent's hand-add).
#[derive(Debug, Clone)]
pub struct Admission<'a> {
    pub uscc: &'a Uscc,
    pub person: &'a PersonKey,
    pub name: &'a str,
    pub masked_id: String,
    pub masked_phone: Option<String>,
    pub source: Source,
    /// The agent who added them (`agent_id`), for hand-adds.
    pub added_by: Option<String>,
}

/// What [`admit`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Admitted {
    /// A new employee.
    New,
    /// Already an employee: one more source, still one employee.
    SourceAdded,
    /// Had left (or been removed) and is back.
    Returned,
    /// Already an employee from this very source: nothing changed.
    AlreadyThere,
}

/// Admits one person: the membership (new, or one more source on the existing one — never a
/// second employee), with the person's health state derived at once from the synced official
/// record (so the enterprise sees it immediately), the enterprise's counters, and `extra` writes
/// (consent, invitation use), all in one transaction. Two reads (one BatchGetItem) and one
/// TransactWriteItems. Returns the membership, what happened, and whether an official record
/// has been synced yet (if not, the next sync brings it and relabel carries it in).
pub async fn admit(
    store: &Store,
    admission: Admission<'_>,
    rules: &crate::health::HealthRules,
    now: DateTime<Utc>,
    extra: Vec<aws_sdk_dynamodb::types::TransactWriteItem>,
) -> Result<(Membership, Admitted, crate::health::RecordStatus), StoreError> {
    let (pk, sk) = membership_key(admission.uscc, admission.person);
    let health_key = (keys::person(admission.person), keys::HEALTH.to_string());
    let mut found = store
        .get_many(vec![
            Store::key(&pk, &sk),
            Store::key(&health_key.0, &health_key.1),
        ])
        .await?;
    let health: Option<Health> = found
        .remove(&health_key)
        .map(Store::from_item)
        .transpose()?;
    let existing: Option<Membership> = found.remove(&(pk, sk)).map(Store::from_item).transpose()?;
    let health = health.unwrap_or_else(|| Health::new(admission.person.clone()));
    let record = health.record_status();
    let (derived, _) = health.derive(now, rules);
    let mut delta = summary::Delta::default();
    let (mut next, admitted) = match &existing {
        None => {
            let mut m = Membership::bare(
                admission.uscc,
                admission.person.clone(),
                admission.name,
                admission.masked_id.clone(),
                admission.source,
                now,
            );
            m.masked_phone = admission.masked_phone.clone();
            m.added_by = admission.added_by.clone();
            delta.add(summary::TOTAL, 1);
            (m, Admitted::New)
        }
        Some(m) if m.is_current() => {
            let mut next = m.clone();
            let added = next.sources.insert(admission.source);
            if let Some(old) = m.derived() {
                delta = summary::Delta::relabel(Some(old), &derived);
            }
            (
                next,
                if added {
                    Admitted::SourceAdded
                } else {
                    Admitted::AlreadyThere
                },
            )
        }
        Some(m) => {
            let mut next = m.clone();
            next.sources.insert(admission.source);
            next.rejoin();
            // The reverse of leaving: counted again, without the state they left with.
            delta = summary::Delta::leave(None);
            delta.0.values_mut().for_each(|v| *v = -*v);
            (next, Admitted::Returned)
        }
    };
    if admission.source == Source::Invited {
        next.release_health();
    }
    if next.added_by.is_none() {
        next.added_by = admission.added_by.clone();
    }
    if next.masked_phone.is_none() {
        next.masked_phone = admission.masked_phone;
    }
    if next.health_withheld() {
        // Hand-added or back on the roster after withdrawing consent: an employee again, and
        // counted, but their health state stays withheld until they consent again.
        delta
            .0
            .retain(|counter, _| counter == summary::TOTAL || counter == summary::LEFT);
        if admitted == Admitted::AlreadyThere {
            return Ok((next, admitted, record));
        }
    } else {
        let counted_before = existing
            .as_ref()
            .is_some_and(|m| m.is_current() && m.derived().is_some());
        if !counted_before {
            for (counter, by) in summary::Delta::relabel(None, &derived).0 {
                delta.add(counter, by);
            }
        }
        if admitted == Admitted::AlreadyThere && next.derived() == Some(&derived) {
            return Ok((next, admitted, record));
        }
        next.set_derived(derived, now);
    }
    let read_version = existing.as_ref().map(|m| m.version);
    next.version = read_version.map_or(0, |v| v + 1);
    let mut parts = vec![store::put_if_version(store.table(), &next, read_version)?];
    if !health.employed_by(admission.uscc) {
        parts.push(
            note_employer(admission.person, admission.uscc, now).into_transact(store.table())?,
        );
    }
    delta.0.retain(|_, v| *v != 0);
    if !delta.is_empty() {
        parts.push(delta.update(store.table(), admission.uscc, now)?);
    }
    parts.extend(extra);
    store.transact(parts).await?;
    Ok((next, admitted, record))
}

/// Adds the memberships that are not there yet, counted in their enterprise's summary in the
/// same transaction (each put conditional on the item being absent, at most 99 to a
/// transaction): written and counted together or not at all. A request sent again after its
/// answer was lost, or a delivery run again, finds them present and counts nobody twice. Then
/// notes each on the person's health item. Returns how many this call added.
pub async fn add_new(
    store: &Store,
    members: &[Membership],
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let mut added = Vec::new();
    let mut per_enterprise: HashMap<&Uscc, Vec<&Membership>> = HashMap::new();
    for m in absent(store, members.iter().collect()).await? {
        per_enterprise.entry(&m.uscc).or_default().push(m);
    }
    for (uscc, fresh) in per_enterprise {
        for chunk in fresh.chunks(store::TRANSACTION_MAX - 1) {
            let mut pending = chunk.to_vec();
            while !pending.is_empty() {
                let mut delta = summary::Delta::default();
                delta.add(summary::TOTAL, pending.len() as i64);
                let mut parts = pending
                    .iter()
                    .map(|m| store::put_new(store.table(), Store::to_item(*m)?))
                    .collect::<Result<Vec<_>, _>>()?;
                parts.push(delta.update(store.table(), uscc, now)?);
                match store.transact(parts).await {
                    Ok(()) => {
                        added.append(&mut pending);
                    }
                    // Some are there already (an earlier attempt whose answer was lost, another
                    // writer): add the others.
                    Err(StoreError::ConditionFailed) => {
                        pending = absent(store, pending).await?;
                    }
                    Err(e) => return Err(e),
                }
            }
        }
    }
    for m in &added {
        mark_due(store, &m.person, &m.uscc, now).await?;
    }
    Ok(added.len())
}

/// Those of `members` whose item is not in the table (one BatchGetItem per 100).
async fn absent<'m>(
    store: &Store,
    members: Vec<&'m Membership>,
) -> Result<Vec<&'m Membership>, StoreError> {
    let mut present = std::collections::HashSet::new();
    for chunk in members.chunks(100) {
        let keys_ = chunk.iter().map(|m| m.key.item()).collect();
        present.extend(store.get_many(keys_).await?.into_keys());
    }
    Ok(members
        .into_iter()
        .filter(|m| !present.contains(&m.key.pair()))
        .collect())
}

/// Puts a person's health item in the transition index now (creating a bare one if the person
/// has no synced data yet) and notes `uscc` among their enterprises, so the next relabel
/// propagates their state to the new (or returning) membership of `uscc`. One UpdateItem. A person
/// due later than now (their next boundary) is due now: the new membership cannot wait for it.
pub async fn mark_due(
    store: &Store,
    person: &PersonKey,
    uscc: &Uscc,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let mut due = Health::new(person.clone());
    due.set_due(Some(now));
    let Some((due_pk, due_sk)) = due.due_keys() else {
        return Ok(());
    };
    let update = note_employer(person, uscc, now)
        .set(keys::GSI3PK, due_pk)
        .set(keys::GSI3SK, due_sk);
    store.update(update).await?;
    Ok(())
}

/// Adds `uscc` to the person's enterprises on their health item (creating a bare item if there is
/// none yet) and moves its version, so a relabel that read the item before writes nothing back
/// (its versioned put fails and it reads again) — the list never loses an enterprise.
fn note_employer(person: &PersonKey, uscc: &Uscc, now: DateTime<Utc>) -> ItemUpdate {
    ItemUpdate::at(&keys::person(person), keys::HEALTH)
        .set_if_absent(attr!(Health, person), person)
        // A bare item (no facts synced yet) is kept as if created now; facts move it on.
        .set_if_absent(keys::TTL, retention::PERSON_HEALTH.until(now))
        .add_to_set(attr!(Health, employers), &[uscc.as_str()])
        .add(attr!(Health, version), 1)
}

/// One employee of an enterprise, by the id its API shows.
pub async fn member(
    store: &Store,
    uscc: &Uscc,
    employee_id: &EmployeeId,
) -> Result<Option<Membership>, StoreError> {
    store
        .get(
            &keys::enterprise(uscc),
            &keys::employee(employee_id.as_str()),
        )
        .await
}

/// An employee as every view of one names them (lists, details, a hand-add's answer, a person's
/// own memberships): the enterprise's pseudonym, and only masked identifiers.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ShownEmployee {
    /// This enterprise's pseudonym for the person (never the ID number).
    pub employee_id: EmployeeId,
    pub name: String,
    pub masked_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub masked_phone: Option<String>,
    /// Where the enterprise has them from: `roster` (social insurance), `invited`, `hand_added`.
    pub sources: BTreeSet<Source>,
}

/// Why an enterprise cannot see one of its employees.
#[derive(Debug, thiserror::Error)]
pub enum EmployeeError {
    #[error("no such employee in this enterprise")]
    Unknown,
    #[error("this employee withdrew their consent: their health data is no longer shown")]
    ConsentWithdrawn,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<EmployeeError> for crate::http::ApiError {
    fn from(e: EmployeeError) -> Self {
        match e {
            EmployeeError::Unknown => Self::not_found("unknown_employee", e.to_string()),
            EmployeeError::ConsentWithdrawn => Self::gone("consent_withdrawn", e.to_string()),
            EmployeeError::Store(s) => s.into(),
        }
    }
}

/// An employee of `uscc` with the person's synced health facts (a bare record if none synced
/// yet). Two reads: the membership names the person, whose health item is the second. An
/// employee who withdrew their consent is gone from the enterprise's view.
pub async fn employee_with_health(
    store: &Store,
    uscc: &Uscc,
    employee_id: &EmployeeId,
) -> Result<(Membership, Health), EmployeeError> {
    let membership = member(store, uscc, employee_id)
        .await?
        .ok_or(EmployeeError::Unknown)?;
    if membership.health_withheld() {
        return Err(EmployeeError::ConsentWithdrawn);
    }
    let health = store
        .get::<Health>(&keys::person(&membership.person), keys::HEALTH)
        .await?
        .unwrap_or_else(|| Health::new(membership.person.clone()));
    Ok((membership, health))
}

/// Every membership of an enterprise (current and left), a page of up to 1,000 at a time.
pub async fn of_enterprise(store: &Store, uscc: &Uscc) -> Result<Vec<Membership>, StoreError> {
    let spec = store::QuerySpec::table(keys::enterprise(uscc))
        .prefix(keys::EMPLOYEE_PREFIX)
        .limit(1_000);
    store.query_all(&spec, usize::MAX).await
}

/// The enterprises a person is an employee of (current or left), from their memberships.
pub async fn employers_of(store: &Store, person: &PersonKey) -> Result<BTreeSet<Uscc>, StoreError> {
    Ok(of_person(store, person)
        .await?
        .into_iter()
        .map(|m| m.uscc)
        .collect())
}

/// A person's memberships across enterprises (one GSI1 query per page).
pub async fn of_person(store: &Store, person: &PersonKey) -> Result<Vec<Membership>, StoreError> {
    let spec = store::QuerySpec::index(keys::Index::Gsi1, keys::person(person))
        .prefix(keys::EMPLOYMENT_PREFIX)
        .limit(100);
    store.query_all(&spec, 10_000).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_is_spelled_as_serde_spells_it() {
        for source in [Source::Roster, Source::Invited, Source::HandAdded] {
            assert_eq!(serde_json::to_value(source).unwrap(), source.as_str());
        }
    }
}
