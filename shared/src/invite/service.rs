//! The invite-join workflows: making and revoking invitations, joining with consent and
//! withdrawing it, adding and removing employees by hand. Each returns [`InviteError`]; the
//! routes turn it into HTTP. The rules that need no storage are plain functions, tested below.

use super::model::{Consent, Invitation, InvitationId, InvitationStatus, NOTICE_VERSION};
use super::poster;
use super::repo::{Consents, Invitations};
use crate::app::LinkState;
use crate::audit::{ActorRole, AuditAction, AuditEntry};
use crate::authorize::{AgentId, LinkClaims, LinkError, LinkKind};
use crate::health::RecordStatus;
use crate::identity::Identity;
use crate::ids::{
    IdDocument, IdError, IdType, NameError, PersonName, Phone, PhoneError, Uscc, UsccError,
};
use crate::registry::EnterpriseProfile;
use crate::roster::{self, Admission, Admitted, EmployeeId, Membership, Source};
use crate::store::{self, BadCursor, BadCursorOr, Page, StoreError};
use crate::summary::Delta;
use crate::tenancy::TenantAccess;
use chrono::{DateTime, Duration, Utc};
use std::collections::{BTreeSet, HashMap};

const DEFAULT_VALID_DAYS: i64 = 7;
const MAX_VALID_DAYS: i64 = 30;
const MAX_NAME_CHARS: usize = 30;

#[derive(Debug, thiserror::Error)]
pub enum InviteError {
    #[error("valid_days must be 1 to {MAX_VALID_DAYS}")]
    InvalidValidDays,
    #[error("no such invitation (any more)")]
    UnknownInvitation,
    #[error("this is not an invitation link of this service")]
    InvalidLink,
    #[error("this invitation has expired; ask for a new one")]
    Expired,
    #[error("this invitation was withdrawn by the enterprise")]
    Revoked,
    #[error("this invitation is revoked or expired")]
    Inactive,
    #[error("the enterprise is not in the registry")]
    UnknownEnterprise,
    #[error("joining needs your consent to share what the notice lists")]
    ConsentRequired,
    #[error("the notice is now version {NOTICE_VERSION}; read it again before joining")]
    NoticeChanged,
    #[error("you have no consent in force with this enterprise")]
    NoConsent,
    #[error("{0}")]
    InvalidUscc(UsccError),
    #[error("{0}")]
    InvalidName(NameError),
    #[error("{0}")]
    InvalidIdNumber(IdError),
    #[error("{0}")]
    InvalidPhone(PhoneError),
    #[error("no such employee in this enterprise")]
    UnknownEmployee,
    #[error("this employee has already left")]
    AlreadyLeft,
    /// A write lost a race (its condition failed): the caller may try again.
    #[error("{0}")]
    ChangedMeanwhile(&'static str),
    #[error(transparent)]
    Cursor(#[from] BadCursor),
    #[error("the poster could not be drawn: {0}")]
    Poster(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<BadCursorOr> for InviteError {
    fn from(e: BadCursorOr) -> Self {
        match e {
            BadCursorOr::Cursor(c) => Self::Cursor(c),
            BadCursorOr::Store(s) => Self::Store(s),
        }
    }
}

/// A lost race is [`InviteError::ChangedMeanwhile`] with `message`; other store errors stay.
fn changed_meanwhile(message: &'static str) -> impl FnOnce(StoreError) -> InviteError {
    move |e| match e {
        StoreError::ConditionFailed => InviteError::ChangedMeanwhile(message),
        e => InviteError::Store(e),
    }
}

/// How long a new invitation stays valid: 1 to 30 days, 7 unless asked.
pub fn validity(valid_days: Option<i64>) -> Result<Duration, InviteError> {
    match valid_days.unwrap_or(DEFAULT_VALID_DAYS) {
        days @ 1..=MAX_VALID_DAYS => Ok(Duration::days(days)),
        _ => Err(InviteError::InvalidValidDays),
    }
}

/// Joining needs the consent, given under the notice in force.
pub fn check_join(consent: bool, notice_version: &str) -> Result<(), InviteError> {
    if !consent {
        return Err(InviteError::ConsentRequired);
    }
    if notice_version != NOTICE_VERSION {
        return Err(InviteError::NoticeChanged);
    }
    Ok(())
}

/// A name typed by an agent: a [`PersonName`] of 1 to 30 characters.
pub fn validated_name(raw: &str) -> Result<PersonName, InviteError> {
    PersonName::parse(raw, MAX_NAME_CHARS).map_err(InviteError::InvalidName)
}

/// What withdrawing a consent does to the membership's place in the counts.
#[derive(Debug, PartialEq, Eq)]
pub enum Withdrawal {
    /// Nothing else ties them to the enterprise: they leave.
    Leaves,
    /// Still an employee on other grounds: out of every health counter only.
    Withheld,
    /// Already left: in no health counter.
    NoCounts,
}

pub fn withdrawal(current: bool, other_sources: bool) -> Withdrawal {
    match (current, other_sources) {
        (true, false) => Withdrawal::Leaves,
        (true, true) => Withdrawal::Withheld,
        (false, _) => Withdrawal::NoCounts,
    }
}

/// The link employees open for `invitation`, and its token.
pub fn link(state: &LinkState, invitation: &Invitation) -> (String, String) {
    let token = state.links.sign(&LinkClaims {
        kind: LinkKind::Invitation,
        id: invitation.id.clone(),
        uscc: invitation.uscc.clone(),
        exp: invitation.valid_until.timestamp(),
    });
    // A route of the H5 client (web/src/router.ts), which shows the consent screen and joins.
    let url = format!(
        "{}/#/join/{token}",
        state.core.settings.public_base_url.trim_end_matches('/')
    );
    (url, token)
}

/// Makes an invitation for the enterprise, audited.
pub async fn create(
    state: &LinkState,
    access: &TenantAccess,
    valid_days: Option<i64>,
) -> Result<Invitation, InviteError> {
    let valid_for = validity(valid_days)?;
    let now = state.core.clock.now();
    let uscc = &access.enterprise.uscc;
    let invitation = Invitation::new(
        uscc,
        AgentId::of(uscc, &access.identity.person).to_string(),
        access.identity.name.clone(),
        now,
        valid_for,
    );
    let audit = AuditEntry::by(
        access,
        AuditAction::InvitationCreated,
        format!(
            "invitation {} valid until {}",
            invitation.id,
            invitation.valid_until.to_rfc3339()
        ),
    )
    .into_item(now, state.core.settings.audit_retention)?;
    Invitations::create(&state.core.store, &invitation, audit).await?;
    Ok(invitation)
}

/// The enterprise's invitations, newest first.
pub async fn list(
    state: &LinkState,
    uscc: &Uscc,
    cursor: Option<&str>,
) -> Result<Page<Invitation>, InviteError> {
    Ok(Invitations::page(&state.core.store, uscc, cursor).await?)
}

/// One invitation of the enterprise.
pub async fn find(
    state: &LinkState,
    uscc: &Uscc,
    id: &InvitationId,
) -> Result<Invitation, InviteError> {
    Invitations::get(&state.core.store, uscc, id.as_str())
        .await?
        .ok_or(InviteError::UnknownInvitation)
}

/// Revokes an invitation (audited); revoking it again changes nothing.
pub async fn revoke(
    state: &LinkState,
    access: &TenantAccess,
    id: &InvitationId,
) -> Result<Invitation, InviteError> {
    let uscc = &access.enterprise.uscc;
    let invitation = find(state, uscc, id).await?;
    if invitation.revoked_at.is_some() {
        return Ok(invitation);
    }
    let now = state.core.clock.now();
    let by = AgentId::of(uscc, &access.identity.person).to_string();
    let audit = AuditEntry::by(
        access,
        AuditAction::InvitationRevoked,
        format!("invitation {}", id.as_str()),
    )
    .into_item(now, state.core.settings.audit_retention)?;
    match Invitations::revoke(&state.core.store, &invitation, &by, now, audit).await {
        // Revoked by someone else meanwhile: the same end.
        Ok(()) | Err(StoreError::ConditionFailed) => {}
        Err(e) => return Err(e.into()),
    }
    find(state, uscc, id).await
}

/// The poster of an active invitation: an SVG with the enterprise's name and the link's QR code.
pub async fn poster(
    state: &LinkState,
    access: &TenantAccess,
    id: &InvitationId,
) -> Result<String, InviteError> {
    let invitation = find(state, &access.enterprise.uscc, id).await?;
    if invitation.status(state.core.clock.now()) != InvitationStatus::Active {
        return Err(InviteError::Inactive);
    }
    let (url, _) = link(state, &invitation);
    let valid_until = crate::clock::business_time(invitation.valid_until).date_naive();
    poster::render(&access.enterprise.name, &url, valid_until)
        .map_err(|e| InviteError::Poster(e.to_string()))
}

/// Checks an invitation token: signature and kind before any read, then that the invitation is
/// still active; answers it with its enterprise.
pub async fn active_invitation(
    state: &LinkState,
    token: &str,
) -> Result<(Invitation, EnterpriseProfile), InviteError> {
    let now = state.core.clock.now();
    let claims = state
        .links
        .verify(token, LinkKind::Invitation, now)
        .map_err(|e| match e {
            LinkError::Invalid => InviteError::InvalidLink,
            LinkError::Expired => InviteError::Expired,
        })?;
    let (invitation, profile) =
        Invitations::with_enterprise(&state.core.store, &claims.uscc, &claims.id).await?;
    let invitation = invitation.ok_or(InviteError::UnknownInvitation)?;
    let profile = profile.ok_or(InviteError::UnknownEnterprise)?;
    match invitation.status(now) {
        InvitationStatus::Active => Ok((invitation, profile)),
        InvitationStatus::Revoked => Err(InviteError::Revoked),
        InvitationStatus::Expired => Err(InviteError::Expired),
    }
}

/// What an invitation asks, and whether the caller is already an employee there.
pub async fn open(
    state: &LinkState,
    identity: &Identity,
    token: &str,
) -> Result<(Invitation, EnterpriseProfile, bool), InviteError> {
    let (invitation, profile) = active_invitation(state, token).await?;
    let (pk, sk) = roster::membership_key(&profile.uscc, &identity.person);
    let existing = state.core.store.get::<Membership>(&pk, &sk).await?;
    let already_employee = existing.is_some_and(|m| m.is_current());
    Ok((invitation, profile, already_employee))
}

/// What joining did.
pub struct Joining {
    pub enterprise: EnterpriseProfile,
    pub employee_id: EmployeeId,
    pub membership: Membership,
    pub admitted: Admitted,
    pub health_record: RecordStatus,
    pub consent: Consent,
}

/// Joins the enterprise an invitation names: the consent (with the notice version), the
/// membership with the official health record attached, the invitation's use and the audit
/// record, in one transaction.
pub async fn join(
    state: &LinkState,
    identity: &Identity,
    token: &str,
    consent: bool,
    notice_version: &str,
) -> Result<Joining, InviteError> {
    check_join(consent, notice_version)?;
    let (invitation, profile) = active_invitation(state, token).await?;
    let now = state.core.clock.now();
    let store = &state.core.store;
    let uscc = &profile.uscc;
    let previous = Consents::get(store, &identity.person, uscc).await?;
    let consent = Consent::given(
        &identity.person,
        uscc,
        &profile.name,
        &invitation.id,
        now,
        previous.as_ref(),
    );
    let employee_id = EmployeeId::of(uscc, &identity.person);
    let audit = AuditEntry {
        uscc,
        actor: &identity.person,
        actor_name: &identity.name,
        actor_role: ActorRole::Employee,
        action: AuditAction::EmployeeJoined,
        subject: None,
        subject_name: None,
        detail: Some(format!(
            "employee {employee_id} by invitation {} (notice {NOTICE_VERSION})",
            invitation.id
        )),
    }
    .into_item(now, state.core.settings.audit_retention)?;
    let table = store.table();
    let extra = vec![
        store::put_if_version(table, &consent, previous.as_ref().map(|p| p.version))?,
        store::put_new(table, audit)?,
        Invitations::count_use(&invitation).into_transact(table)?,
    ];
    let admission = Admission {
        uscc,
        person: &identity.person,
        name: &identity.name,
        masked_id: identity.masked_id.clone(),
        masked_phone: None,
        source: Source::Invited,
        added_by: None,
    };
    let (membership, admitted, health_record) = roster::admit(
        store,
        admission,
        &state.core.settings.health_rules,
        now,
        extra,
    )
    .await
    .map_err(changed_meanwhile(
        "the invitation or your record changed meanwhile; try again",
    ))?;
    Ok(Joining {
        enterprise: profile,
        employee_id,
        membership,
        admitted,
        health_record,
        consent,
    })
}

/// The caller's memberships, each with its enterprise's name and the consent it rests on.
pub async fn mine(
    state: &LinkState,
    identity: &Identity,
) -> Result<Vec<(Membership, Option<String>, Option<Consent>)>, InviteError> {
    let store = &state.core.store;
    let (memberships, consents) = tokio::try_join!(
        identity.gather(|person| roster::of_person(store, person)),
        identity.gather(|person| Consents::of_person(store, person))
    )?;
    let usccs: Vec<&Uscc> = memberships.iter().map(|m| &m.uscc).collect();
    let mut names: HashMap<Uscc, String> = crate::registry::names(store, &usccs).await?;
    Ok(memberships
        .into_iter()
        .map(|m| {
            let name = names.remove(&m.uscc);
            let consent = consents.iter().find(|c| c.uscc == m.uscc).cloned();
            (m, name, consent)
        })
        .collect())
}

/// Withdraws the caller's consent to `raw_uscc`: the enterprise stops seeing their health
/// data, and unless something else ties them to it, they leave. Answers when, and the sources
/// they remain an employee by.
pub async fn withdraw(
    state: &LinkState,
    identity: &Identity,
    raw_uscc: &str,
) -> Result<(DateTime<Utc>, BTreeSet<Source>), InviteError> {
    let uscc = state
        .core
        .uscc_policy
        .parse_path(raw_uscc)
        .map_err(InviteError::InvalidUscc)?;
    let now = state.core.clock.now();
    let store = &state.core.store;
    let person = &identity.person;
    let (consent, membership) = Consents::with_membership(store, person, &uscc).await?;
    let consent = consent
        .filter(Consent::is_active)
        .ok_or(InviteError::NoConsent)?;
    let table = store.table();
    let withdrawn = consent.withdrawn(now);
    let employee_id = EmployeeId::of(&uscc, person);
    let mut parts = vec![
        store::put_if_version(table, &withdrawn, Some(consent.version))?,
        store::put_new(
            table,
            AuditEntry {
                uscc: &uscc,
                actor: person,
                actor_name: &identity.name,
                actor_role: ActorRole::Employee,
                action: AuditAction::ConsentWithdrawn,
                subject: None,
                subject_name: None,
                detail: Some(format!("employee {employee_id}")),
            }
            .into_item(now, state.core.settings.audit_retention)?,
        )?,
    ];
    let mut remaining = BTreeSet::new();
    if let Some(m) = membership {
        let mut next = m.clone();
        next.sources.remove(&Source::Invited);
        remaining = next.sources.clone();
        if !m.health_withheld() {
            next.withhold_health();
            let delta = match withdrawal(m.is_current(), !remaining.is_empty()) {
                Withdrawal::Leaves => {
                    next.leave(now);
                    Delta::leave(m.derived())
                }
                Withdrawal::Withheld => Delta::withheld(m.derived()),
                Withdrawal::NoCounts => Delta::default(),
            };
            if !delta.is_empty() {
                parts.push(delta.update(table, &uscc, now)?);
            }
        }
        next.version += 1;
        parts.push(store::put_if_version(table, &next, Some(m.version))?);
    }
    store.transact(parts).await.map_err(changed_meanwhile(
        "your record changed meanwhile; try again",
    ))?;
    Ok((now, remaining))
}

/// An employee an agent adds by hand (manual §5.2 手动添加), as typed.
pub struct HandAdded<'a> {
    pub name: &'a str,
    pub id_type: IdType,
    pub id_number: &'a str,
    pub phone: &'a str,
}

/// Adds an employee by hand: validated name, ID and phone; the same person added twice, or
/// added and also on the roster, stays one employee with several sources.
pub async fn add_by_hand(
    state: &LinkState,
    access: &TenantAccess,
    input: HandAdded<'_>,
) -> Result<(Membership, Admitted, RecordStatus), InviteError> {
    let name = validated_name(input.name)?;
    let document =
        IdDocument::parse(input.id_type, input.id_number).map_err(InviteError::InvalidIdNumber)?;
    let phone = Phone::parse(input.phone).map_err(InviteError::InvalidPhone)?;
    let now = state.core.clock.now();
    let uscc = &access.enterprise.uscc;
    let person = access.identity.keyer.key(&document);
    let employee_id = EmployeeId::of(uscc, &person);
    let agent_id = AgentId::of(uscc, &access.identity.person).to_string();
    let audit = AuditEntry::by(
        access,
        AuditAction::EmployeeAdded,
        format!("employee {employee_id} ({name})"),
    )
    .into_item(now, state.core.settings.audit_retention)?;
    let admission = Admission {
        uscc,
        person: &person,
        name: name.as_str(),
        masked_id: document.masked(),
        masked_phone: Some(phone.masked()),
        source: Source::HandAdded,
        added_by: Some(agent_id),
    };
    let (membership, admitted, record) = roster::admit(
        &state.core.store,
        admission,
        &state.core.settings.health_rules,
        now,
        vec![store::put_new(state.core.store.table(), audit)?],
    )
    .await
    .map_err(changed_meanwhile(
        "this employee changed meanwhile; try again",
    ))?;
    Ok((membership, admitted, record))
}

/// Removes an employee: kept as left, with who and when, and out of the counts. Answers the
/// employee, when, and the remover's `agent_id`.
pub async fn remove(
    state: &LinkState,
    access: &TenantAccess,
    employee_id: EmployeeId,
) -> Result<(EmployeeId, DateTime<Utc>, String), InviteError> {
    let uscc = &access.enterprise.uscc;
    let store = &state.core.store;
    let m = roster::member(store, uscc, &employee_id)
        .await?
        .ok_or(InviteError::UnknownEmployee)?;
    if !m.is_current() {
        return Err(InviteError::AlreadyLeft);
    }
    let now = state.core.clock.now();
    let removed_by = AgentId::of(uscc, &access.identity.person).to_string();
    let mut next = m.clone();
    next.leave(now);
    next.removed_by = Some(removed_by.clone());
    next.version += 1;
    let table = store.table();
    let audit = AuditEntry::by(
        access,
        AuditAction::EmployeeRemoved,
        format!("employee {employee_id} ({})", m.name()),
    )
    .into_item(now, state.core.settings.audit_retention)?;
    store
        .transact(vec![
            store::put_if_version(table, &next, Some(m.version))?,
            Delta::leave(m.derived()).update(table, uscc, now)?,
            store::put_new(table, audit)?,
        ])
        .await
        .map_err(changed_meanwhile(
            "this employee changed meanwhile; try again",
        ))?;
    Ok((employee_id, now, removed_by))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invitations_are_valid_one_to_thirty_days() {
        assert_eq!(validity(None).unwrap(), Duration::days(7));
        assert_eq!(validity(Some(30)).unwrap(), Duration::days(30));
        assert!(matches!(
            validity(Some(0)),
            Err(InviteError::InvalidValidDays)
        ));
        assert!(matches!(
            validity(Some(31)),
            Err(InviteError::InvalidValidDays)
        ));
    }

    #[test]
    fn joining_needs_consent_under_the_notice_in_force() {
        assert!(check_join(true, NOTICE_VERSION).is_ok());
        assert!(matches!(
            check_join(false, NOTICE_VERSION),
            Err(InviteError::ConsentRequired)
        ));
        assert!(matches!(
            check_join(true, "an older notice"),
            Err(InviteError::NoticeChanged)
        ));
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(validated_name("  李晓丹 ").unwrap().as_str(), "李晓丹");
        assert!(validated_name("李\0晓丹").is_err());
        assert!(validated_name("   ").is_err());
        assert!(validated_name(&"名".repeat(31)).is_err());
        assert!(validated_name("a#b").is_err());
    }

    #[test]
    fn invitation_ids_are_ulids() {
        assert!(InvitationId::parse("01M8CAVHJDW00X8516A7FKJ8DQ").is_ok());
        assert!(InvitationId::parse("01M8CAVHJDW00X8516A7FKJ8D").is_err());
        assert!(InvitationId::parse("01M8CAVHJDW00X8516A7FKJ8D-").is_err());
    }

    #[test]
    fn withdrawing_leaves_only_when_nothing_else_ties() {
        assert_eq!(withdrawal(true, false), Withdrawal::Leaves);
        assert_eq!(withdrawal(true, true), Withdrawal::Withheld);
        assert_eq!(withdrawal(false, false), Withdrawal::NoCounts);
        assert_eq!(withdrawal(false, true), Withdrawal::NoCounts);
    }
}
