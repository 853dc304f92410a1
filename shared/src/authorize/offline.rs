//! Offline authorisation (manual §9): an operator grants agents on the strength of mailed
//! materials, one or a batch, and records the paper originals, which must arrive within 15 days
//! of the e-mail approval or the grant lapses.

use super::error::AuthorizeError;
use super::model::{
    AgentId, Applicant, Authorization, EffectiveStatus, Materials, Method, OfflineGrant, Status,
};
use super::service::{commit, enterprise, load};
use crate::app::LinkState;
use crate::audit::{ActorRole, AuditAction, AuditEntry};
use crate::identity::Identity;
use crate::ids::{IdDocument, IdType, PersonName, Uscc};
use crate::keys;
use crate::store::{Page, QuerySpec};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub const MAX_OFFLINE_BATCH: usize = 100;

/// One agent in an operator's offline batch.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OfflineAgent {
    pub name: String,
    pub id_type: IdType,
    /// The agent's ID number, as on the sealed copy. Hashed and masked on arrival.
    pub id_number: String,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OfflineGrantRequest {
    pub uscc: String,
    pub agents: Vec<OfflineAgent>,
    pub materials: Materials,
    /// When the operator approved the e-mailed materials; the paper originals are due 15 days later.
    pub email_approved_at: DateTime<Utc>,
    pub valid_until: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OfflineOutcome {
    Granted,
    AlreadyActive,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OfflineResult {
    pub agent_id: String,
    pub agent_name: String,
    pub agent_masked_id: String,
    pub outcome: OfflineOutcome,
}

/// The name of the `position`th agent of a batch (1-based): a [`PersonName`] of 1 to 50
/// characters.
fn validate_name(name: &str, position: usize) -> Result<String, AuthorizeError> {
    PersonName::parse(name, 50)
        .map(PersonName::into_string)
        .map_err(|e| AuthorizeError::InvalidName(position, e))
}

/// Manual §9: an operator grants agents on the strength of mailed materials, one or a batch.
/// Every agent is validated before anything is written; each grant is its own transaction
/// (state + audit), and re-running a batch is harmless (already active agents are reported).
pub async fn offline_grant(
    state: &LinkState,
    operator: &Identity,
    request: OfflineGrantRequest,
) -> Result<Vec<OfflineResult>, AuthorizeError> {
    let uscc = state
        .core
        .uscc_policy
        .parse(&request.uscc)
        .map_err(AuthorizeError::InvalidUscc)?;
    if request.agents.is_empty() || request.agents.len() > MAX_OFFLINE_BATCH {
        return Err(AuthorizeError::InvalidBatch(MAX_OFFLINE_BATCH));
    }
    if !request.materials.complete() || request.materials.email_reference.trim().is_empty() {
        return Err(AuthorizeError::MaterialsIncomplete);
    }
    let now = state.core.clock.now();
    if request.email_approved_at > now + crate::clock::DEVICE_CLOCK_SKEW {
        return Err(AuthorizeError::EmailApprovalInFuture);
    }
    if request.email_approved_at + state.core.settings.offline_originals_due <= now {
        return Err(AuthorizeError::EmailApprovalTooOld);
    }
    if request.valid_until.is_some_and(|until| until <= now) {
        return Err(AuthorizeError::ValidUntilPast);
    }
    let mut agents = Vec::with_capacity(request.agents.len());
    for (index, agent) in request.agents.iter().enumerate() {
        let document = IdDocument::parse(agent.id_type, &agent.id_number)
            .map_err(|e| AuthorizeError::InvalidIdNumber(index + 1, e))?;
        let name = validate_name(&agent.name, index + 1)?;
        agents.push((name, operator.keyer.key(&document), document.masked()));
    }
    let enterprise = enterprise(state, &uscc).await?;
    let mut results = Vec::with_capacity(agents.len());
    for (name, person, masked) in agents {
        let existing = load(&state.core.store, &uscc, &AgentId::of(&uscc, &person)).await?;
        if existing
            .as_ref()
            .is_some_and(|a| a.effective_status(now) == EffectiveStatus::Active)
        {
            results.push(OfflineResult {
                agent_id: AgentId::of(&uscc, &person).to_string(),
                agent_name: name,
                agent_masked_id: masked,
                outcome: OfflineOutcome::AlreadyActive,
            });
            continue;
        }
        // The manual has the agent link to the enterprise first; their pending application, if
        // any, is what the operator approves. Otherwise the grant starts here.
        let read_version = existing.as_ref().map(|a| a.version);
        let mut auth = existing
            .filter(|a| a.status == Status::Pending)
            .unwrap_or_else(|| {
                Authorization::pending(
                    Applicant {
                        uscc: &uscc,
                        enterprise_name: &enterprise.name,
                        agent: &person,
                        agent_name: &name,
                        agent_masked_id: &masked,
                    },
                    Method::Offline,
                    None,
                    now,
                )
            });
        auth.version = read_version.unwrap_or(0);
        auth.method = Method::Offline;
        auth.decide(Status::Active, &operator.person, now);
        auth.valid_until = request.valid_until;
        auth.set_offline(Some(OfflineGrant {
            operator: operator.person.clone(),
            operator_name: operator.name.clone(),
            materials: request.materials.clone(),
            email_approved_at: request.email_approved_at,
            originals_due: request.email_approved_at + state.core.settings.offline_originals_due,
            originals_received_at: None,
            originals_note: None,
        }));
        let audit = AuditEntry {
            uscc: &uscc,
            actor: &operator.person,
            actor_name: &operator.name,
            actor_role: ActorRole::Operator,
            action: AuditAction::OfflineGranted,
            subject: Some(&person),
            subject_name: Some(&name),
            detail: Some(format!(
                "materials: {}",
                request.materials.email_reference.trim()
            )),
        };
        commit(state, auth, read_version, audit, None).await?;
        results.push(OfflineResult {
            agent_id: AgentId::of(&uscc, &person).to_string(),
            agent_name: name,
            agent_masked_id: masked,
            outcome: OfflineOutcome::Granted,
        });
    }
    Ok(results)
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OriginalsRequest {
    pub received_at: DateTime<Utc>,
    /// e.g. the courier's waybill number.
    pub note: Option<String>,
}

/// The paper originals of an offline grant arrived. Recording them after the deadline does not
/// revive a lapsed grant: the operator grants again.
pub async fn record_originals(
    state: &LinkState,
    operator: &Identity,
    uscc: &Uscc,
    agent: &AgentId,
    request: OriginalsRequest,
) -> Result<Authorization, AuthorizeError> {
    let now = state.core.clock.now();
    if request.received_at > now + crate::clock::DEVICE_CLOCK_SKEW {
        return Err(AuthorizeError::ReceivedInFuture);
    }
    let auth = load(&state.core.store, uscc, agent)
        .await?
        .ok_or_else(|| AuthorizeError::UnknownAgent)?;
    let Some(offline) = auth
        .offline()
        .cloned()
        .filter(|_| auth.status == Status::Active)
    else {
        return Err(AuthorizeError::NotOffline);
    };
    if offline.originals_received_at.is_some() {
        return Err(AuthorizeError::OriginalsRecorded);
    }
    if offline.originals_due <= now {
        return Err(AuthorizeError::OriginalsOverdue);
    }
    if request.received_at < offline.email_approved_at {
        return Err(AuthorizeError::ReceivedBeforeApproval);
    }
    if request.received_at > offline.originals_due {
        return Err(AuthorizeError::OriginalsLate);
    }
    let mut next = auth.clone();
    next.set_offline(Some(OfflineGrant {
        originals_received_at: Some(request.received_at),
        originals_note: request.note.map(|n| n.trim().chars().take(200).collect()),
        ..offline
    }));
    let audit = AuditEntry {
        uscc,
        actor: &operator.person,
        actor_name: &operator.name,
        actor_role: ActorRole::Operator,
        action: AuditAction::OriginalsReceived,
        subject: Some(&auth.agent),
        subject_name: Some(&auth.agent_name),
        detail: None,
    };
    commit(state, next, Some(auth.version), audit, None).await
}

/// Which of the offline grants still awaiting their paper originals an operator lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Originals {
    /// Still in force: due after now, soonest due first (the ones to chase).
    Awaited,
    /// Lapsed: due by now and never received, the latest first (the agent must be granted again).
    Lapsed,
}

/// A page of the offline grants whose originals have not arrived: one Query of GSI2's
/// `ORIGINALS` partition, a key range on either side of now.
pub async fn awaiting_originals(
    state: &LinkState,
    which: Originals,
    cursor: Option<&str>,
) -> Result<Page<Authorization>, AuthorizeError> {
    let now = keys::through(state.core.clock.now());
    let spec = QuerySpec::index(keys::Index::Gsi2, keys::ORIGINALS_AWAITED.into()).limit(50);
    let spec = match which {
        Originals::Awaited => spec.from(now),
        Originals::Lapsed => spec.upto(now).newest_first(),
    };
    Ok(state.core.store.query(&spec, cursor).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_names_are_trimmed_bounded_and_say_which_agent() {
        assert_eq!(validate_name(" 王伟 ", 1).unwrap(), "王伟");
        let error = validate_name("", 3).unwrap_err();
        assert!(matches!(error, AuthorizeError::InvalidName(3, _)));
        assert!(validate_name("王\0伟", 1).is_err());
        assert!(error.to_string().starts_with("agent 3: "));
        assert!(validate_name(&"名".repeat(51), 1).is_err());
    }
}
