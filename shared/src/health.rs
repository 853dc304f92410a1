//! A person's health facts as synced from the health commission — latest PCR sampling (anywhere
//! and in Shenzhen) and official vaccination doses — and what is derived from them as of a given
//! time: the PCR label, "in Shenzhen", the vaccination state, and when any of those will next
//! change. One item per person (`PER#{person}` / `HEALTH`), shared by every enterprise the person
//! works for.
//!
//! The item sits in the sparse transition index (GSI3) while a relabel is due for it: sync puts it
//! there when facts change, relabel takes it out or moves it to the next transition time. That is
//! what makes relabel cost proportional to change rather than to the population.

use crate::feeds::{Dose, PcrOutcome, PcrResult};
use crate::ids::{PersonKey, Uscc};
use crate::keys;
use crate::keys::ItemKey;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The manual's PCR buckets (核酸检测标记), by time since the latest sampling.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
pub enum PcrLabel {
    #[serde(rename = "24h")]
    Within24h,
    #[serde(rename = "48h")]
    Within48h,
    #[serde(rename = "72h")]
    Within72h,
    #[serde(rename = "over_72h")]
    Over72h,
    #[serde(rename = "never")]
    Never,
}

impl PcrLabel {
    pub const ALL: [PcrLabel; 5] = [
        Self::Within24h,
        Self::Within48h,
        Self::Within72h,
        Self::Over72h,
        Self::Never,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Within24h => "24h",
            Self::Within48h => "48h",
            Self::Within72h => "72h",
            Self::Over72h => "over_72h",
            Self::Never => "never",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.as_str() == value)
    }
}

/// A label or state, named in a URL or a request, that is none of them.
#[derive(Debug, thiserror::Error)]
#[error("unknown {kind} {value:?}: use {expected}")]
pub struct UnknownName {
    /// `label` or `state`.
    pub kind: &'static str,
    value: String,
    expected: &'static str,
}

impl std::str::FromStr for PcrLabel {
    type Err = UnknownName;
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Self::parse(value).ok_or_else(|| UnknownName {
            kind: "label",
            value: value.into(),
            expected: "24h, 48h, 72h, over_72h or never",
        })
    }
}

/// Vaccination state for the enterprise overview (manual §5).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum VaxState {
    Unvaccinated,
    Partial,
    /// Primary series complete, booster interval not yet passed.
    PrimaryComplete,
    /// Primary series complete and the interval passed: eligible for a booster (符合加强免疫).
    BoosterEligible,
    /// Booster done (完成加强).
    Boosted,
}

impl VaxState {
    pub const ALL: [VaxState; 5] = [
        Self::Unvaccinated,
        Self::Partial,
        Self::PrimaryComplete,
        Self::BoosterEligible,
        Self::Boosted,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Unvaccinated => "unvaccinated",
            Self::Partial => "partial",
            Self::PrimaryComplete => "primary_complete",
            Self::BoosterEligible => "booster_eligible",
            Self::Boosted => "boosted",
        }
    }
}

impl std::str::FromStr for VaxState {
    type Err = UnknownName;
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == value)
            .ok_or_else(|| UnknownName {
                kind: "state",
                value: value.into(),
                expected: "unvaccinated, partial, primary_complete, booster_eligible or boosted",
            })
    }
}

/// Rules the derivation depends on.
#[derive(Debug, Clone, Copy)]
pub struct HealthRules {
    /// "In Shenzhen" = a Shenzhen sampling within this window (manual FAQ 3: 14 days).
    pub in_shenzhen_window: Duration,
    /// Time after the last primary dose from which a booster is due (configurable; 6 months).
    pub booster_interval: Duration,
}

impl Default for HealthRules {
    fn default() -> Self {
        Self {
            in_shenzhen_window: Duration::days(14),
            booster_interval: Duration::days(180),
        }
    }
}

/// Doses in the primary series of a product; the rest count as boosters.
/// Ad5-nCoV (CanSino) is one dose, ZF2001 (Zhifei) three, the inactivated vaccines two.
pub fn primary_doses(product: &str) -> u8 {
    let p = product.to_ascii_lowercase();
    if p.contains("ad5") || p.contains("cansino") || product.contains("康希诺") {
        1
    } else if p.contains("zf2001") || product.contains("智飞") {
        3
    } else {
        2
    }
}

/// Whether the health commission's record of a person has reached this service yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecordStatus {
    /// Synced facts exist (a PCR sampling or a vaccination dose).
    Attached,
    /// Nothing synced yet (someone just invited or added by hand): the next sync fills it in.
    Pending,
}

/// What relabel derives from the facts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Derived {
    pub label: PcrLabel,
    pub in_shenzhen: bool,
    pub vax: VaxState,
    /// The latest sampling the label counts from, and whether its result is still at the lab
    /// (shown as pending, not as "no test").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sampled_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub result_pending: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Health {
    #[serde(flatten)]
    key: ItemKey,
    pub person: PersonKey,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pcr_sampled_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pcr_result: Option<PcrOutcome>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pcr_result_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pcr_site: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sz_sampled_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sz_site: Option<String>,
    /// Official doses, by dose number.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub doses: Vec<Dose>,
    /// As of the last relabel of this person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub derived: Option<Derived>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub derived_at: Option<DateTime<Utc>>,
    /// Sparse transition index: present only while a relabel is due at `GSI3SK`.
    #[serde(rename = "GSI3PK", default, skip_serializing_if = "Option::is_none")]
    due_pk: Option<String>,
    #[serde(rename = "GSI3SK", default, skip_serializing_if = "Option::is_none")]
    due_at: Option<String>,
    /// The enterprises the person is (or was) an employee of, so relabel derives the keys of
    /// their memberships and reads them with this item instead of querying GSI1 per person.
    /// Every write that creates a membership adds its enterprise here in the same or the next
    /// request, and moves `version`: a relabel that read the item before cannot put back a list
    /// without it.
    #[serde(
        with = "serde_dynamo::string_set",
        default,
        skip_serializing_if = "BTreeSet::is_empty"
    )]
    pub(crate) employers: BTreeSet<Uscc>,
    /// Whether `employers` is known to be complete: relabel sets it after listing the person's
    /// memberships once through GSI1 (items older than the list, persons employed before their
    /// first relabel); until then it queries.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    employers_listed: bool,
    pub version: u64,
    /// TTL ([`crate::retention::PERSON_HEALTH`]): moved on by every change of the facts.
    #[serde(
        rename = "expires_at",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    retention_until: Option<i64>,
}

impl Health {
    pub fn new(person: PersonKey) -> Self {
        Self {
            key: ItemKey::new(keys::person(&person), keys::HEALTH),
            person,
            pcr_sampled_at: None,
            pcr_result: None,
            pcr_result_at: None,
            pcr_site: None,
            sz_sampled_at: None,
            sz_site: None,
            doses: Vec::new(),
            derived: None,
            derived_at: None,
            due_pk: None,
            due_at: None,
            employers: BTreeSet::new(),
            employers_listed: false,
            version: 0,
            retention_until: None,
        }
    }

    /// The TTL (epoch seconds).
    pub fn retention_until(&self) -> Option<i64> {
        self.retention_until
    }

    /// The facts changed at `now` (a sync merged a record): the item is kept a retention period
    /// from now.
    pub fn facts_changed(&mut self, now: DateTime<Utc>) {
        self.retention_until = Some(crate::retention::PERSON_HEALTH.until(now));
    }

    /// The enterprises the person is an employee of, if known to be complete.
    pub fn employers(&self) -> Option<&BTreeSet<Uscc>> {
        self.employers_listed.then_some(&self.employers)
    }

    /// Whether `uscc` is among the person's enterprises as noted on this item.
    pub fn employed_by(&self, uscc: &Uscc) -> bool {
        self.employers.contains(uscc)
    }

    /// The complete list of the person's enterprises (relabel, after listing their memberships).
    pub fn set_employers(&mut self, employers: BTreeSet<Uscc>) {
        self.employers = employers;
        self.employers_listed = true;
    }

    pub fn record_status(&self) -> RecordStatus {
        if self.doses.is_empty() && self.pcr_sampled_at.is_none() {
            RecordStatus::Pending
        } else {
            RecordStatus::Attached
        }
    }

    /// Merges a PCR record; returns whether anything changed. Late or out-of-order records never
    /// move a latest time backwards; a pending result is completed by its result.
    pub fn merge_pcr(&mut self, record: &PcrResult) -> bool {
        let mut changed = false;
        let newer = match self.pcr_sampled_at {
            None => true,
            Some(current) if record.sampled_at > current => true,
            Some(current) if record.sampled_at == current => {
                self.pcr_result == Some(PcrOutcome::Pending) && record.result != PcrOutcome::Pending
            }
            Some(_) => false,
        };
        if newer {
            self.pcr_sampled_at = Some(record.sampled_at);
            self.pcr_result = Some(record.result);
            self.pcr_result_at = record.result_at;
            self.pcr_site = Some(record.site.clone());
            changed = true;
        }
        if record.in_shenzhen
            && self
                .sz_sampled_at
                .is_none_or(|current| record.sampled_at > current)
        {
            self.sz_sampled_at = Some(record.sampled_at);
            self.sz_site = Some(record.site.clone());
            changed = true;
        }
        changed
    }

    /// Merges an official dose; a dose number already on record is replaced only if it differs.
    pub fn merge_dose(&mut self, dose: &Dose) -> bool {
        match self.doses.iter_mut().find(|d| d.dose == dose.dose) {
            Some(existing) if existing == dose => false,
            Some(existing) => {
                *existing = dose.clone();
                true
            }
            None => {
                self.doses.push(dose.clone());
                self.doses.sort_by_key(|d| d.dose);
                true
            }
        }
    }

    /// The derived state as of `now`, and when it will next change by the passing of time alone.
    pub fn derive(
        &self,
        now: DateTime<Utc>,
        rules: &HealthRules,
    ) -> (Derived, Option<DateTime<Utc>>) {
        let mut next: Option<DateTime<Utc>> = None;
        let mut consider = |at: DateTime<Utc>| {
            if at > now && next.is_none_or(|n| at < n) {
                next = Some(at);
            }
        };
        let label = match self.pcr_sampled_at {
            None => PcrLabel::Never,
            Some(sampled) => {
                for hours in [24, 48, 72] {
                    consider(sampled + Duration::hours(hours));
                }
                let age = now - sampled;
                if age < Duration::hours(24) {
                    PcrLabel::Within24h
                } else if age < Duration::hours(48) {
                    PcrLabel::Within48h
                } else if age < Duration::hours(72) {
                    PcrLabel::Within72h
                } else {
                    PcrLabel::Over72h
                }
            }
        };
        let in_shenzhen = self.sz_sampled_at.is_some_and(|at| {
            consider(at + rules.in_shenzhen_window);
            now - at < rules.in_shenzhen_window
        });
        let vax = self.vax_state(now, rules, &mut consider);
        (
            Derived {
                label,
                in_shenzhen,
                vax,
                sampled_at: self.pcr_sampled_at,
                result_pending: self.pcr_result == Some(PcrOutcome::Pending),
            },
            next,
        )
    }

    fn vax_state(
        &self,
        now: DateTime<Utc>,
        rules: &HealthRules,
        consider: &mut impl FnMut(DateTime<Utc>),
    ) -> VaxState {
        let Some(first) = self.doses.first() else {
            return VaxState::Unvaccinated;
        };
        let primary = primary_doses(&first.product);
        let count = self.doses.len() as u8;
        if count < primary {
            return VaxState::Partial;
        }
        if count > primary {
            return VaxState::Boosted;
        }
        let last = self
            .doses
            .iter()
            .map(|d| d.date)
            .max()
            .unwrap_or(first.date);
        let due = last
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc() + rules.booster_interval);
        match due {
            Some(due) if due <= now => VaxState::BoosterEligible,
            Some(due) => {
                consider(due);
                VaxState::PrimaryComplete
            }
            None => VaxState::PrimaryComplete,
        }
    }

    /// Puts the item in the transition index, due at `at`, or takes it out.
    pub fn set_due(&mut self, at: Option<DateTime<Utc>>) {
        match at {
            Some(at) => {
                self.due_pk = Some(keys::due_shard(&self.person));
                self.due_at = Some(format!("{}#{}", keys::instant(at), self.person));
            }
            None => {
                self.due_pk = None;
                self.due_at = None;
            }
        }
    }

    /// The transition-index keys while due.
    pub fn due_keys(&self) -> Option<(&str, &str)> {
        self.due_pk.as_deref().zip(self.due_at.as_deref())
    }

    pub fn is_due(&self) -> bool {
        self.due_pk.is_some()
    }
}

/// Writes `health` if nobody wrote it since it was read (optimistic version check), or, for a
/// person never stored, only if still nobody has. Sync and relabel both write through here.
pub async fn save(
    store: &crate::store::Store,
    mut health: Health,
) -> Result<(), crate::store::StoreError> {
    let read_version = health.version;
    health.version += 1;
    store.put_versioned(&health, read_version).await
}

/// The same write as a transaction part (relabel writes it together with the memberships it
/// moves, so a person's relabel lands whole or not at all).
pub fn save_part(
    table: &str,
    mut health: Health,
) -> Result<aws_sdk_dynamodb::types::TransactWriteItem, crate::store::StoreError> {
    let read_version = health.version;
    health.version += 1;
    crate::store::put_if_version(table, &health, (read_version > 0).then_some(read_version))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The item as the table holds it: the key flattened to `PK`/`SK`, the enterprises a string
    /// set (which the writes that create a membership `ADD` to), and back again.
    #[test]
    fn a_health_item_round_trips_with_its_key_and_its_employers_as_a_string_set() {
        use aws_sdk_dynamodb::types::AttributeValue;
        let person = PersonKey::try_from("ab".repeat(32)).unwrap();
        let mut health = Health::new(person.clone());
        health
            .employers
            .insert(Uscc::parse("91440300MA5D3M0014").unwrap());
        let item = crate::store::Store::to_item(&health).unwrap();
        assert_eq!(
            item.get(crate::keys::PK),
            Some(&AttributeValue::S(crate::keys::person(&person)))
        );
        assert_eq!(
            item.get(crate::keys::SK),
            Some(&AttributeValue::S(crate::keys::HEALTH.into()))
        );
        assert_eq!(
            item.get("employers"),
            Some(&AttributeValue::Ss(vec!["91440300MA5D3M0014".into()]))
        );
        assert_eq!(
            crate::store::Store::from_item::<Health>(item).unwrap(),
            health
        );
    }
    use chrono::{NaiveDate, TimeZone};

    fn person() -> PersonKey {
        PersonKey::try_from("a".repeat(64)).unwrap()
    }

    fn pcr(at: DateTime<Utc>, result: PcrOutcome, sz: bool) -> PcrResult {
        PcrResult {
            person: person(),
            sampled_at: at,
            result_at: (result != PcrOutcome::Pending).then_some(at + Duration::hours(6)),
            result,
            site: "福田体育公园".into(),
            in_shenzhen: sz,
        }
    }

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2022, 4, 1, 2, 0, 0).unwrap()
    }

    #[test]
    fn latest_times_never_move_backwards() {
        let mut h = Health::new(person());
        assert!(h.merge_pcr(&pcr(t0(), PcrOutcome::Negative, true)));
        assert!(!h.merge_pcr(&pcr(t0() - Duration::hours(30), PcrOutcome::Negative, true)));
        assert!(
            !h.merge_pcr(&pcr(t0(), PcrOutcome::Negative, true)),
            "replay changes nothing"
        );
        assert!(h.merge_pcr(&pcr(t0() + Duration::hours(5), PcrOutcome::Pending, false)));
        assert_eq!(h.pcr_sampled_at, Some(t0() + Duration::hours(5)));
        assert_eq!(
            h.sz_sampled_at,
            Some(t0()),
            "a non-Shenzhen test does not move the Shenzhen time"
        );
        assert!(
            h.merge_pcr(&pcr(t0() + Duration::hours(5), PcrOutcome::Negative, false)),
            "pending completed"
        );
        assert_eq!(h.pcr_result, Some(PcrOutcome::Negative));
        assert!(
            !h.merge_pcr(&pcr(t0() + Duration::hours(5), PcrOutcome::Pending, false)),
            "never back to pending"
        );
    }

    #[test]
    fn labels_and_next_transitions() {
        let rules = HealthRules::default();
        let mut h = Health::new(person());
        assert_eq!(
            h.derive(t0(), &rules),
            (
                Derived {
                    label: PcrLabel::Never,
                    in_shenzhen: false,
                    vax: VaxState::Unvaccinated,
                    sampled_at: None,
                    result_pending: false,
                },
                None
            )
        );
        h.merge_pcr(&pcr(t0(), PcrOutcome::Negative, true));
        let (d, next) = h.derive(t0() + Duration::hours(1), &rules);
        assert_eq!((d.label, d.in_shenzhen), (PcrLabel::Within24h, true));
        assert_eq!(next, Some(t0() + Duration::hours(24)));
        let (d, next) = h.derive(t0() + Duration::hours(24), &rules);
        assert_eq!(
            (d.label, next),
            (PcrLabel::Within48h, Some(t0() + Duration::hours(48)))
        );
        let (d, next) = h.derive(t0() + Duration::hours(50), &rules);
        assert_eq!(
            (d.label, next),
            (PcrLabel::Within72h, Some(t0() + Duration::hours(72)))
        );
        let (d, next) = h.derive(t0() + Duration::hours(80), &rules);
        assert_eq!(
            (d.label, d.in_shenzhen, next),
            (PcrLabel::Over72h, true, Some(t0() + Duration::days(14)))
        );
        let (d, next) = h.derive(t0() + Duration::days(14), &rules);
        assert_eq!(
            (d.label, d.in_shenzhen, next),
            (PcrLabel::Over72h, false, None)
        );
    }

    #[test]
    fn vaccination_states() {
        let rules = HealthRules::default();
        let day = |m, d| NaiveDate::from_ymd_opt(2021, m, d).unwrap();
        let dose = |n, date| Dose {
            dose: n,
            date,
            product: "北京生物".into(),
        };
        let mut h = Health::new(person());
        assert!(h.merge_dose(&dose(1, day(3, 1))));
        assert!(!h.merge_dose(&dose(1, day(3, 1))));
        assert_eq!(h.derive(t0(), &rules).0.vax, VaxState::Partial);
        h.merge_dose(&dose(2, day(11, 1)));
        let (d, next) = h.derive(t0(), &rules);
        assert_eq!(d.vax, VaxState::PrimaryComplete);
        assert_eq!(
            next,
            Some(day(11, 1).and_hms_opt(0, 0, 0).unwrap().and_utc() + rules.booster_interval)
        );
        assert_eq!(
            h.derive(next.unwrap(), &rules).0.vax,
            VaxState::BoosterEligible
        );
        h.merge_dose(&dose(3, NaiveDate::from_ymd_opt(2022, 3, 1).unwrap()));
        assert_eq!(h.derive(t0(), &rules).0.vax, VaxState::Boosted);
        let mut cansino = Health::new(person());
        cansino.merge_dose(&Dose {
            dose: 1,
            date: day(3, 1),
            product: "Ad5-nCoV 康希诺".into(),
        });
        assert_eq!(
            cansino.derive(t0(), &rules).0.vax,
            VaxState::BoosterEligible
        );
    }
}
