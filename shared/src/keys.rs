//! The single-table design: every partition/sort key format, every index and the TTL attribute
//! live here and nowhere else. Other modules build keys only through these functions.
//!
//! # Attributes
//!
//! | attribute | role |
//! |---|---|
//! | `PK`, `SK` | table key |
//! | `GSI1PK`, `GSI1SK` | GSI1 — look-ups by a second natural key (enterprise name, a person's own items) |
//! | `GSI2PK`, `GSI2SK` | GSI2 — sparse: only items waiting for someone (pending applications, legal rep's enterprises, offline grants awaiting their paper originals) |
//! | `GSI3PK`, `GSI3SK` | GSI3 — sparse transition index: persons whose derived health state is due for a relabel |
//! | `GSI4PK`, `GSI4SK` | GSI4 — PCR lists: an enterprise's labelled employees by label, status, in Shenzhen, name |
//! | `GSI5PK`, `GSI5SK` | GSI5 — vaccination lists: an enterprise's labelled employees by state, status, name |
//! | `expires_at` | TTL (epoch seconds): every record has a retention; see `docs/privacy.md` |
//! | `key_generation` | the person-key generation a re-key rewrote the item to (`rekey::rewrite`) |
//!
//! # Items
//!
//! | item | PK | SK | GSI1 | GSI2 |
//! |---|---|---|---|---|
//! | enterprise profile | `ENT#{uscc}` | `PROFILE` | `ENTNAME#{full name}` / `ENT#{uscc}` | `LEGALREP#{person}` / `ENT#{uscc}` |
//! | authorisation | `ENT#{uscc}` | `AGENT#{agent_id}` | `PER#{person}` / `AUTH#{uscc}` | while pending: `PENDING#{uscc}` / `{applied_at}#{person}`; an active offline grant while its originals are awaited: `ORIGINALS` / `{originals_due}#{uscc}#{person}` |
//! | person health | `PER#{person}` | `HEALTH` | — | — (GSI3 while due: `DUE#{shard}` / `{due_at}#{person}`) |
//! | enterprise summary | `ENT#{uscc}` | `SUMMARY` | — | — |
//! | employee (membership) | `ENT#{uscc}` | `EMP#{employee_id}` | `PER#{person}` / `EMPAT#{uscc}` | — (GSI4 `PCRLIST#{uscc}#{label}` / `{C\|L}#{1\|0}#{name}#{employee_id}`, GSI5 `VAXLIST#{uscc}#{state}` / `{C\|L}#{name}#{employee_id}`, once labelled) |
//! | vaccination report | `PER#{person}` | `VAXREPORT#{at}#{ulid}` | — | — |
//! | invitation | `ENT#{uscc}` | `INVITE#{ulid}` | — | — |
//! | consent (employee → enterprise) | `PER#{person}` | `CONSENT#{uscc}` | — | — |
//! | detail view (the viewed person's copy) | `PER#{person}` | `VIEW#{at}#{ulid}` | — | — |
//! | export job | `ENT#{uscc}` | `EXPORT#{job_id}` | — | — |
//! | export quota (per day) | `ENT#{uscc}` | `EXPORTQUOTA#{YYYY-MM-DD}` | — | — |
//! | audit record | `ENT#{uscc}` | `AUDIT#{at}#{ulid}` | — | — |
//! | share link | `LINK#{id}` | `LINK` | — | — |
//! | sunset run (the city ended the service) | `SUNSET` | `RUN` | — | — |
//! | sunset progress of one scan segment in one pass | `SUNSET` | `SEGMENT#{pass}#{segment}` | — | — |
//! | re-key run (the key epoch) | `REKEY` | `RUN` | — | — |
//! | re-key progress of one scan segment in one pass | `REKEY` | `SEGMENT#{to}#{pass}#{segment}` | — | — |
//!
//! # Access patterns and their cost
//!
//! | pattern | request |
//! |---|---|
//! | tenant guard: profile + caller's authorisation | 1 BatchGetItem (2 keys) |
//! | find an enterprise by exact full name | 1 Query GSI1 `ENTNAME#…` |
//! | a person's own authorisations | 1 Query GSI1 `PER#…` begins_with `AUTH#` per page |
//! | a legal rep's enterprises | 1 Query GSI2 `LEGALREP#…` |
//! | pending applications of one enterprise | 1 Query GSI2 `PENDING#…` per page (sparse: only pending items) |
//! | agents of an enterprise | 1 Query `ENT#…` begins_with `AGENT#` per page |
//! | offline grants awaiting their originals (due after now) or lapsed (due by now) | 1 Query GSI2 `ORIGINALS` `GSI2SK >= now` (soonest due first) or `GSI2SK <= now` (latest lapsed first) per page |
//! | audit trail of an enterprise | 1 Query `ENT#…` begins_with `AUDIT#` per page, newest first |
//! | persons due for relabel at T | 1 Query GSI3 `DUE#{shard}` `GSI3SK <= T` per shard per page |
//! | relabel a batch of persons due (≤ 1,000) | 1 BatchGetItem per 100 keys (health items + the memberships their `employers` name) + 1 TransactWriteItems per ≤ 100 items (memberships, health items, one summary update per enterprise) |
//! | a person's enterprises, once, when their health item does not list them yet | 1 Query GSI1 `PER#…` begins_with `EMPAT#` |
//! | an enterprise's summary counts | 1 GetItem `ENT#…` / `SUMMARY` |
//! | a page of one PCR label's employees, filtered | 1 Query GSI4 (2 when a name is given without in/out of Shenzhen) |
//! | a page of one vaccination state's employees, filtered | 1 Query GSI5 |
//! | one employee's detail | 1 BatchGetItem (membership + person health) [+ 1 Query of reports] |
//! | a person's vaccination reports | 1 Query `PER#…` begins_with `VAXREPORT#` |
//! | an enterprise's invitations / export jobs | 1 Query `ENT#…` begins_with `INVITE#` / `EXPORT#` per page |
//! | a person's consents | 1 Query `PER#…` begins_with `CONSENT#` |
//! | who viewed a person's details | 1 Query `PER#…` begins_with `VIEW#` per page, newest first |
//! | one employee's detail, audited | + 1 TransactWriteItems (the person's view record + the enterprise's audit record) |
//! | everything held about a person (`GET /me/data`) | 1 GetItem + 5 Queries + 1 BatchGetItem (enterprise names), concurrently |
//! | join, hand-add | 1 BatchGetItem (membership + health) + 1 TransactWriteItems |
//! | decide an application / consume a share link | 1 TransactWriteItems (state change + audit [+ link]) |
//! | an HTTP function's init: open the connection | 1 GetItem of [`WARM_UP`] (no item has it) |
//! | has the service been sunset? (each sync and relabel run) | 1 GetItem `SUNSET` / `RUN` |
//! | the key epoch (per execution environment, at most once per 30 s) | 1 GetItem `REKEY` / `RUN` |
//! | re-key: rewrite every item | 1 Scan page per 500 items per segment + 1 UpdateItem (in place) or TransactWriteItems (moved) per item naming a person + 1 PutItem of progress per page |
//! | sunset: stamp every item | 1 Scan page per 1,000 items per segment + 1 UpdateItem per item not yet stamped + 1 PutItem of progress per page |

use crate::ids::{PersonKey, Uscc};
use chrono::{DateTime, Utc};

pub const PK: &str = "PK";
pub const SK: &str = "SK";

/// An item's table key: the `PK` and `SK` attributes every entity carries, declared once.
/// Entities hold it as `#[serde(flatten)] key: ItemKey`. Flattening costs serde one buffered
/// pair per read; `bench entities` measured it on the hot path's items (`docs/bench.md`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct ItemKey {
    // serde needs literals here; `item_key_attributes_are_the_tables` ties them to PK and SK.
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
}

impl ItemKey {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Self {
            pk: pk.into(),
            sk: sk.into(),
        }
    }

    /// The key as a request names an item (GetItem, DeleteItem, UpdateItem, a batch).
    pub fn item(&self) -> crate::store::Item {
        crate::store::Store::key(&self.pk, &self.sk)
    }

    pub fn pair(&self) -> (String, String) {
        (self.pk.clone(), self.sk.clone())
    }
}

/// The key (`PK` and `SK`) an HTTP function's init reads to open its DynamoDB connection
/// ([`crate::store::Store::warm_up`]); no item is ever written under it.
pub const WARM_UP: &str = "WARMUP";

/// The global secondary indexes (their access patterns are listed above). A query names one of
/// these, never a string, so an index that does not exist cannot be asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Index {
    Gsi1,
    Gsi2,
    Gsi3,
    Gsi4,
    Gsi5,
}

impl Index {
    pub const ALL: [Self; 5] = [Self::Gsi1, Self::Gsi2, Self::Gsi3, Self::Gsi4, Self::Gsi5];

    /// The index's name in the table definition and `template.yaml`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Gsi1 => "GSI1",
            Self::Gsi2 => "GSI2",
            Self::Gsi3 => "GSI3",
            Self::Gsi4 => "GSI4",
            Self::Gsi5 => "GSI5",
        }
    }

    /// Its (partition, sort) key attributes.
    pub const fn key_attributes(self) -> (&'static str, &'static str) {
        match self {
            Self::Gsi1 => (GSI1PK, GSI1SK),
            Self::Gsi2 => (GSI2PK, GSI2SK),
            Self::Gsi3 => (GSI3PK, GSI3SK),
            Self::Gsi4 => (GSI4PK, GSI4SK),
            Self::Gsi5 => (GSI5PK, GSI5SK),
        }
    }
}
pub const GSI1PK: &str = "GSI1PK";
pub const GSI1SK: &str = "GSI1SK";
pub const GSI2PK: &str = "GSI2PK";
pub const GSI2SK: &str = "GSI2SK";
/// The TTL attribute (epoch seconds).
pub const TTL: &str = "expires_at";

pub const PROFILE: &str = "PROFILE";
pub const HEALTH: &str = "HEALTH";
pub const SUMMARY: &str = "SUMMARY";
pub const GSI3PK: &str = "GSI3PK";
pub const GSI3SK: &str = "GSI3SK";
/// The transition index is spread over this many partitions so relabel can read them in
/// parallel and no partition exceeds DynamoDB's per-partition throughput at city scale.
pub const DUE_SHARDS: u32 = 16;
pub const GSI4PK: &str = "GSI4PK";
pub const GSI4SK: &str = "GSI4SK";
pub const GSI5PK: &str = "GSI5PK";
pub const GSI5SK: &str = "GSI5SK";
pub const AGENT_PREFIX: &str = "AGENT#";
pub const VAX_REPORT_PREFIX: &str = "VAXREPORT#";
pub const INVITATION_PREFIX: &str = "INVITE#";
pub const CONSENT_PREFIX: &str = "CONSENT#";
pub const EXPORT_PREFIX: &str = "EXPORT#";
pub const EMPLOYEE_PREFIX: &str = "EMP#";
/// GSI1 sort-key prefix of a person's memberships.
pub const EMPLOYMENT_PREFIX: &str = "EMPAT#";
pub const AUDIT_PREFIX: &str = "AUDIT#";
pub const DETAIL_VIEW_PREFIX: &str = "VIEW#";
pub const AUTH_PREFIX: &str = "AUTH#";
pub const ENT_PREFIX: &str = "ENT#";

pub fn enterprise(uscc: &Uscc) -> String {
    format!("ENT#{uscc}")
}

pub fn enterprise_name(full_name: &str) -> String {
    format!("ENTNAME#{}", normalise_name(full_name))
}

/// Full names are matched exactly, as the manual asks ("录入企业全称"), but after folding the
/// differences people cannot see: surrounding spaces and full-width brackets.
pub fn normalise_name(full_name: &str) -> String {
    full_name.trim().replace('（', "(").replace('）', ")")
}

pub fn legal_rep(person: &PersonKey) -> String {
    format!("LEGALREP#{person}")
}

/// Authorisations are keyed by the agent's per-enterprise pseudonym (the `agent_id` the API
/// shows), so a route naming an agent finds the item without knowing the person key.
pub fn agent(agent_id: &str) -> String {
    format!("{AGENT_PREFIX}{agent_id}")
}

pub fn person(person: &PersonKey) -> String {
    format!("PER#{person}")
}

pub fn authorization_of(uscc: &Uscc) -> String {
    format!("{AUTH_PREFIX}{uscc}")
}

pub fn pending(uscc: &Uscc) -> String {
    format!("PENDING#{uscc}")
}

/// GSI2 partition of the active offline grants whose paper originals have not arrived (manual
/// §9), for the operators' list. One partition for the city: offline grants are the exception
/// path (a foreign legal rep, a lost phone), a few a day, written once or twice each and read only
/// by operators, far below a partition's limits.
pub const ORIGINALS_AWAITED: &str = "ORIGINALS";

/// GSI2 sort key of an offline grant awaiting its originals: by due instant, so "due after now"
/// and "lapsed by now" are each one key range.
pub fn originals_awaited(due: DateTime<Utc>, uscc: &Uscc, person: &PersonKey) -> String {
    format!("{}#{uscc}#{person}", instant(due))
}

/// An instant as sort keys hold it: UTC to the second, so that text order is time order.
pub fn instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The bound that sorts after every `{instant}#…` sort key of `at`'s second ('~' follows every
/// key character): "due by `at`" is `<=` it, "due after `at`" is `>=` it.
pub fn through(at: DateTime<Utc>) -> String {
    format!("{}#~", instant(at))
}

/// A membership, keyed by the employee's per-enterprise pseudonym (the `employee_id` the API
/// shows), so a route naming an employee finds the item without knowing the person key.
pub fn employee(employee_id: &str) -> String {
    format!("{EMPLOYEE_PREFIX}{employee_id}")
}

/// GSI4 partition: one PCR label's employees of an enterprise.
pub fn pcr_list(uscc: &Uscc, label: &str) -> String {
    format!("PCRLIST#{uscc}#{label}")
}

/// GSI5 partition: one vaccination state's employees of an enterprise.
pub fn vax_list(uscc: &Uscc, state: &str) -> String {
    format!("VAXLIST#{uscc}#{state}")
}

/// Sort-key prefix in the list indexes for current (`C#`) or left (`L#`) employees.
pub fn list_status(current: bool) -> &'static str {
    if current { "C#" } else { "L#" }
}

/// Sort-key segment for in (`1#`) or out of (`0#`) Shenzhen in the PCR list index.
pub fn list_in_shenzhen(in_shenzhen: bool) -> &'static str {
    if in_shenzhen { "1#" } else { "0#" }
}

pub fn invitation(id: &str) -> String {
    format!("{INVITATION_PREFIX}{id}")
}

/// A person's consent to one enterprise (under `PER#{person}`).
pub fn consent(uscc: &Uscc) -> String {
    format!("{CONSENT_PREFIX}{uscc}")
}

pub fn export_job(id: &str) -> String {
    format!("{EXPORT_PREFIX}{id}")
}

/// An enterprise's export count of one business day (the daily limit).
pub fn export_quota(day: &str) -> String {
    format!("EXPORTQUOTA#{day}")
}

pub fn vaccination_report(at: &str, id: &str) -> String {
    format!("{VAX_REPORT_PREFIX}{at}#{id}")
}

/// GSI1 sort key of a membership under `PER#{person}`.
pub fn employment_at(uscc: &Uscc) -> String {
    format!("{EMPLOYMENT_PREFIX}{uscc}")
}

/// A unique id that sorts after every one made before it in this process, for the sort keys of
/// records listed newest first (`AUDIT#`, `VIEW#`, `VAXREPORT#`): two records of one request made
/// in the same millisecond still list in the order they happened. Across processes they sort by
/// time to the millisecond.
pub fn sortable_id() -> String {
    static GENERATOR: std::sync::Mutex<ulid::Generator> =
        std::sync::Mutex::new(ulid::Generator::new());
    GENERATOR
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .generate()
        // Only after 2^80 ids in one millisecond.
        .unwrap_or_else(|_| ulid::Ulid::new())
        .to_string()
}

pub fn audit(at: &str, id: &str) -> String {
    format!("{AUDIT_PREFIX}{at}#{id}")
}

/// A person's copy of one view of their details by an enterprise (under `PER#{person}`).
pub fn detail_view(at: &str, id: &str) -> String {
    format!("{DETAIL_VIEW_PREFIX}{at}#{id}")
}

/// The transition-index partition of a person: a stable function of the person key.
pub fn due_shard(person: &PersonKey) -> String {
    let shard = u32::from_str_radix(&person.as_str()[..4], 16).unwrap_or(0) % DUE_SHARDS;
    due_partition(shard)
}

pub fn due_partition(shard: u32) -> String {
    format!("DUE#{shard:02}")
}

/// The sunset job's items: its run and its progress, never stamped with a TTL themselves (so the
/// schedules stay stopped after the data is gone).
pub const SUNSET: &str = "SUNSET";
/// The sort key of a job's run (sunset, re-key).
pub const JOB_RUN: &str = "RUN";

/// The sort-key prefix of one pass's segments.
pub fn sunset_pass(pass: u32) -> String {
    format!("SEGMENT#{pass:03}#")
}

pub fn sunset_segment(pass: u32, segment: u32) -> String {
    format!("{}{segment:03}", sunset_pass(pass))
}

/// The re-key job's items: its run (the key epoch every request reads) and its progress.
pub const REKEY: &str = "REKEY";

/// The sort-key prefix of one pass's segments of the re-key to generation `to`.
pub fn rekey_pass(to: u32, pass: u32) -> String {
    format!("SEGMENT#{to:03}#{pass:03}#")
}

pub fn rekey_segment(to: u32, pass: u32, segment: u32) -> String {
    format!("{}{segment:03}", rekey_pass(to, pass))
}

pub fn share_link(id: &str) -> String {
    format!("LINK#{id}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[test]
    fn item_key_attributes_are_the_tables() {
        let key = ItemKey::new("ENT#1", "PROFILE");
        let item = Store::to_item(&key).unwrap();
        assert_eq!(item, key.item());
        assert_eq!(item.len(), 2);
        assert!(item.contains_key(PK) && item.contains_key(SK));
    }

    #[test]
    fn a_flattened_key_writes_and_reads_as_two_top_level_attributes() {
        #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
        struct Entity {
            #[serde(flatten)]
            key: ItemKey,
            version: u64,
        }
        let entity = Entity {
            key: ItemKey::new("PER#k", "HEALTH"),
            version: 3,
        };
        let mut item = Store::to_item(&entity).unwrap();
        assert_eq!(item.len(), 3);
        assert_eq!(item.get(PK), entity.key.item().get(PK));
        assert_eq!(item.get(SK), entity.key.item().get(SK));
        // Attributes the entity does not declare (an index's keys) are ignored on reading.
        item.insert(
            "GSI1PK".into(),
            aws_sdk_dynamodb::types::AttributeValue::S("x".into()),
        );
        assert_eq!(Store::from_item::<Entity>(item).unwrap(), entity);
    }
}
