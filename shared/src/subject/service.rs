//! The workflows: recording a view, reading everything held about a person, deleting what no
//! legal ground keeps.

use super::model::{
    Deleted, Deletion, DetailView, Kept, KeptKind, MyAuthorisation, MyConsent, MyData, MyHealth,
    MyMembership, Section, ViewEntry,
};
use crate::app::{Core, LinkState};
use crate::audit::{ActorRole, AuditAction, AuditEntry};
use crate::health::Health;
use crate::identity::Identity;
use crate::ids::{PersonKey, Uscc};
use crate::invite::Consents;
use crate::keys;
use crate::retention::{self, Rule};
use crate::roster::{self, Membership, Source};
use crate::store::{self, BadCursorOr, Condition, Page, QuerySpec, Store, StoreError};
use crate::summary::{self, Delta};
use crate::tenancy::TenantAccess;
use crate::vaccination;
use chrono::{DateTime, Utc};
use std::collections::BTreeSet;

/// How many views `GET /me/data` shows before `views_next_cursor`.
pub const VIEWS_PER_PAGE: i32 = 50;
/// How many views per key a page shows while a re-key moves the person's key.
const MAX_VIEWS_DURING_REKEY: usize = 1_000;

/// Records that the caller opened `membership`'s details: the enterprise's audit record and the
/// person's own copy, in one transaction. A detail is shown only once its view is recorded.
///
/// During a re-key both records name people by keys of the membership's generation (the viewer
/// too) and carry its mark, so the job treats them as it treats the membership: moved along if
/// it was not yet, left alone if it was.
pub async fn record_view(
    core: &Core,
    access: &TenantAccess,
    membership: &Membership,
    section: Section,
) -> Result<(), StoreError> {
    let now = core.clock.now();
    let identity = &access.identity;
    let rewritten = membership.key_generation == Some(identity.keyer.in_force());
    let viewer = match &identity.previous {
        Some(previous) if !rewritten => previous,
        _ => &identity.person,
    };
    let mut view = Store::to_item(&DetailView::new(&membership.person, access, section, now))?;
    let mut audit = AuditEntry {
        actor: viewer,
        ..AuditEntry::by(
            access,
            AuditAction::DetailViewed,
            format!(
                "{} detail of employee {}",
                section.as_str(),
                membership.employee_id
            ),
        )
    }
    .into_item(now, core.settings.audit_retention)?;
    for item in [&mut view, &mut audit] {
        crate::rekey::rewrite::mark(item, membership.key_generation);
    }
    let table = core.store.table();
    core.store
        .transact(vec![
            store::put_new(table, view)?,
            store::put_new(table, audit)?,
        ])
        .await
}

fn views_spec(person: &PersonKey) -> QuerySpec {
    QuerySpec::table(keys::person(person))
        .prefix(keys::DETAIL_VIEW_PREFIX)
        .newest_first()
        .limit(VIEWS_PER_PAGE)
}

/// Who opened the person's details, newest first, a page at a time (while a re-key moves
/// their key: every view under both keys, in one page).
pub async fn views(
    core: &Core,
    identity: &Identity,
    cursor: Option<&str>,
) -> Result<Page<ViewEntry>, BadCursorOr> {
    if identity.previous.is_some() {
        let mut all: Vec<DetailView> = identity
            .gather(|person| {
                let spec = views_spec(person);
                async move {
                    core.store
                        .query_all::<DetailView>(&spec, MAX_VIEWS_DURING_REKEY)
                        .await
                }
            })
            .await?;
        all.sort_by_key(|view| std::cmp::Reverse(view.at));
        return Ok(Page {
            items: all.into_iter().map(ViewEntry::from).collect(),
            next_cursor: None,
        });
    }
    let page = core
        .store
        .query::<DetailView>(&views_spec(&identity.person), cursor)
        .await?;
    Ok(Page {
        items: page.items.into_iter().map(ViewEntry::from).collect(),
        next_cursor: page.next_cursor,
    })
}

/// Everything held about the caller: six requests sent together, then one for the
/// enterprises' names.
/// Why a data subject's request is refused.
#[derive(Debug, thiserror::Error)]
pub enum SubjectError {
    /// A consent could not be withdrawn (as `DELETE /invite/me/enterprises/{uscc}` refuses).
    #[error(transparent)]
    Withdrawal(#[from] crate::invite::service::InviteError),
    #[error("your record changed meanwhile; ask again")]
    ChangedMeanwhile,
    #[error("the cursor is not one this list issued")]
    InvalidCursor,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<BadCursorOr> for SubjectError {
    fn from(e: BadCursorOr) -> Self {
        match e {
            BadCursorOr::Cursor(_) => Self::InvalidCursor,
            BadCursorOr::Store(e) => Self::Store(e),
        }
    }
}

impl From<SubjectError> for crate::http::ApiError {
    fn from(e: SubjectError) -> Self {
        match e {
            SubjectError::Withdrawal(e) => e.into(),
            SubjectError::ChangedMeanwhile => Self::conflict("changed_meanwhile", e.to_string()),
            SubjectError::InvalidCursor => Self::bad_request("invalid_cursor", e.to_string()),
            SubjectError::Store(e) => e.into(),
        }
    }
}

pub async fn my_data(core: &Core, identity: &Identity) -> Result<MyData, SubjectError> {
    let store = &core.store;
    let now = core.clock.now();
    let health_keys: Vec<(String, String)> = identity
        .keys()
        .map(|person| (keys::person(person), keys::HEALTH.to_string()))
        .collect();
    let ((mut found, freshness), memberships, consents, reports, authorisations, views) = tokio::try_join!(
        async {
            let wanted = health_keys
                .iter()
                .map(|(pk, sk)| Store::key(pk, sk))
                .collect();
            Ok::<_, SubjectError>(core.freshness.read_with(store, now, wanted).await?)
        },
        async {
            Ok(identity
                .gather(|person| roster::of_person(store, person))
                .await?)
        },
        async {
            Ok(identity
                .gather(|person| Consents::of_person(store, person))
                .await?)
        },
        async {
            Ok(identity
                .gather(|person| vaccination::of_person(store, person))
                .await?)
        },
        async { Ok(crate::authorize::of_person(store, identity).await?) },
        async { Ok(views(core, identity, None).await?) },
    )?;
    let health: Option<Health> = health_keys
        .iter()
        .find_map(|key| found.remove(key))
        .map(Store::from_item)
        .transpose()?;
    let usccs: Vec<&Uscc> = memberships.iter().map(|m| &m.uscc).collect();
    let mut names = crate::registry::names(store, &usccs).await?;
    Ok(MyData {
        name: identity.name.clone(),
        masked_id: identity.masked_id.clone(),
        health: MyHealth::new(health),
        memberships: memberships
            .into_iter()
            .map(|m| {
                let name = names.remove(&m.uscc);
                MyMembership::new(m, name)
            })
            .collect(),
        consents: consents.into_iter().map(MyConsent::from).collect(),
        reports: reports.iter().map(vaccination::ReportView::from).collect(),
        authorisations: authorisations
            .into_iter()
            .map(|a| MyAuthorisation::new(a, now))
            .collect(),
        views: views.items,
        views_next_cursor: views.next_cursor,
        data_synced_at: freshness.data_synced_at,
    })
}

/// The sources a deletion takes away: the ones the person's own act (joining) or an agent's
/// typing created. The social-insurance roster is the employer's legal duty and stays.
fn erasable(source: &Source) -> bool {
    matches!(source, Source::Invited | Source::HandAdded)
}

/// Deletes what no legal ground keeps: first every consent in force is withdrawn (the
/// enterprises stop seeing the health data, as a withdrawal does), then memberships that rested
/// only on an invitation or a hand-add go (with their counts), others lose those sources, and
/// the person's reports, consents and view copies are deleted. Each enterprise's audit trail
/// records the deletion. Running it again deletes what appeared since, and nothing else.
pub async fn erase(state: &LinkState, identity: &Identity) -> Result<Deletion, SubjectError> {
    let core = &state.core;
    let store = &core.store;
    let person = &identity.person;
    let mut deleted = Deleted::default();
    // Which memberships rest (partly) on an invitation or a hand-add, before the withdrawals
    // below take the invitation source off (and mark invited-only employees as left).
    let erasable_at: BTreeSet<Uscc> = roster::of_person(store, person)
        .await?
        .into_iter()
        .filter(|m| m.sources.iter().any(erasable))
        .map(|m| m.uscc)
        .collect();

    for consent in Consents::of_person(store, person).await? {
        if consent.is_active() {
            crate::invite::service::withdraw(state, identity, consent.uscc.as_str()).await?;
            deleted.consents_withdrawn += 1;
        }
    }

    for membership in roster::of_person(store, person).await? {
        if !erasable_at.contains(&membership.uscc) {
            continue;
        }
        let now = core.clock.now();
        let (parts, removed) = erase_membership(core, identity, membership, now)?;
        store.transact(parts).await.map_err(|e| match e {
            StoreError::ConditionFailed => SubjectError::ChangedMeanwhile,
            e => e.into(),
        })?;
        if removed {
            deleted.memberships += 1;
        } else {
            deleted.memberships_narrowed += 1;
        }
    }

    let every_view = views_spec(person);
    let (reports, consents, views) = tokio::try_join!(
        vaccination::of_person(store, person),
        Consents::of_person(store, person),
        store.query_all::<DetailView>(&every_view, usize::MAX),
    )?;
    deleted.reports = reports.len() as u32;
    deleted.consents = consents.len() as u32;
    deleted.views = views.len() as u32;
    let keys_ = reports
        .iter()
        .map(|r| r.key().item())
        .chain(consents.iter().map(|c| c.key().item()))
        .chain(views.iter().map(|v| v.key().item()))
        .collect();
    store::batch_delete(store, store.table(), keys_).await?;
    Ok(Deletion {
        deleted,
        kept: kept(),
    })
}

/// The writes that take the erasable sources off one membership: deleted (and uncounted) when
/// nothing else holds it, narrowed otherwise (unless the withdrawal already did); with the
/// enterprise's audit record. Returns them and whether the membership goes.
fn erase_membership(
    core: &Core,
    identity: &Identity,
    membership: Membership,
    now: DateTime<Utc>,
) -> Result<(Vec<aws_sdk_dynamodb::types::TransactWriteItem>, bool), StoreError> {
    let table = core.store.table();
    let uscc = membership.uscc.clone();
    let audit = AuditEntry {
        uscc: &uscc,
        actor: &identity.person,
        actor_name: &identity.name,
        actor_role: ActorRole::Employee,
        action: AuditAction::DataErased,
        subject: None,
        subject_name: None,
        detail: Some(format!("employee {}", membership.employee_id)),
    }
    .into_item(now, core.settings.audit_retention)?;
    let mut parts = vec![store::put_new(table, audit)?];
    let mut next = membership.clone();
    next.sources.retain(|s| !erasable(s));
    let removed = next.sources.is_empty();
    if removed {
        parts.push(store::delete_when(
            table,
            membership.key().item(),
            Condition::version(Some(membership.version)),
        )?);
        let mut delta = if membership.is_current() {
            // Out of the total and, unless withheld, out of its health counters; not into "left".
            let mut leaving = Delta::leave(membership.derived());
            leaving.add(summary::LEFT, -1);
            leaving
        } else {
            let mut gone = Delta::default();
            gone.add(summary::LEFT, -1);
            gone
        };
        delta.0.retain(|_, by| *by != 0);
        if !delta.is_empty() {
            parts.push(delta.update(table, &uscc, now)?);
        }
    } else if next.sources != membership.sources {
        next.version += 1;
        parts.push(store::put_if_version(
            table,
            &next,
            Some(membership.version),
        )?);
    }
    Ok((parts, removed))
}

fn kept_because(kind: KeptKind, rule: &Rule, why: &str) -> Kept {
    Kept {
        kind,
        record: rule.record.to_string(),
        why: why.to_string(),
        retention: format!("{}, counted from {}", rule.kept(), rule.counted_from),
    }
}

/// What a deletion leaves, and the ground each rests on.
fn kept() -> Vec<Kept> {
    vec![
        kept_because(
            KeptKind::HealthRecord,
            &retention::PERSON_HEALTH,
            "the health commission's official record; the service keeps its copy for epidemic prevention as the city requires (PIPL Art. 13(3), (5))",
        ),
        kept_because(
            KeptKind::RosterMembership,
            &retention::CURRENT_MEMBERSHIP,
            "memberships from the social-insurance roster your employer reports (PIPL Art. 13(2)); after you withdrew your consent the enterprise no longer sees your health data",
        ),
        kept_because(
            KeptKind::AuditRecords,
            &retention::AUDIT_RECORD,
            "the enterprises' audit records of what was done with your data, including this deletion (PIPL Art. 54-55)",
        ),
        kept_because(
            KeptKind::AgentAuthorisations,
            &retention::ACTIVE_AUTHORISATION,
            "authorisations you hold as an agent: the enterprise's record of who may see its employees' data; its legal representative revokes them",
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_persons_own_act_and_an_agents_typing_are_erasable() {
        assert!(erasable(&Source::Invited));
        assert!(erasable(&Source::HandAdded));
        assert!(!erasable(&Source::Roster));
    }
}
