//! The vaccination read model and its two writes: the overview, a list page, one employee's
//! record (official and reported, kept apart), a dose an agent enters, and a person's own record
//! and correction requests.

use crate::app::Core;
use crate::audit::{AuditAction, AuditEntry};
use crate::authorize::AgentId;
use crate::feeds::Dose;
use crate::freshness::Freshness;
use crate::health::{Health, RecordStatus, VaxState};
use crate::identity::Identity;
use crate::ids::EmployeeId;
use crate::keys;
use crate::listing::{EmployeeList, ListParams};
use crate::read_model::ReadError;
use crate::roster::{self, Membership, ShownEmployee};
use crate::store::Store;
use crate::summary;
use crate::tenancy::TenantAccess;
use crate::vaccination::{self, DoseReport, ReportView, Reporter, VaccinationReport};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct VaccineSummary {
    pub uscc: String,
    pub enterprise_name: String,
    /// Current employees per state: `unvaccinated`, `partial`, `primary_complete` (booster not
    /// due yet), `booster_eligible` (符合加强免疫), `boosted` (完成加强). Each employee is in one.
    pub states: BTreeMap<String, i64>,
    /// Primary series complete, whatever came after: primary_complete + booster_eligible + boosted.
    pub primary_series_complete: i64,
    /// Employees not labelled yet (joined since the last relabel), or whose health data is
    /// withheld (they withdrew their consent but are still on the roster).
    pub unlabelled: i64,
    pub total: i64,
    pub left: i64,
    #[serde(flatten)]
    pub freshness: Freshness,
}

/// Employees per state, and those whose primary series is complete: one read.
pub async fn summary(state: &Core, access: &TenantAccess) -> Result<VaccineSummary, ReadError> {
    let uscc = &access.enterprise.uscc;
    let counters = summary::get(&state.store, uscc).await?;
    let (states, unlabelled) =
        counters.per_group(VaxState::ALL, VaxState::as_str, summary::vax_counter);
    let primary_series_complete = [
        VaxState::PrimaryComplete,
        VaxState::BoosterEligible,
        VaxState::Boosted,
    ]
    .into_iter()
    .map(|s| states[s.as_str()])
    .sum();
    Ok(VaccineSummary {
        uscc: uscc.to_string(),
        enterprise_name: access.enterprise.name.clone(),
        states,
        primary_series_complete,
        unlabelled,
        total: counters.get(summary::TOTAL),
        left: counters.get(summary::LEFT),
        freshness: access.freshness.clone(),
    })
}

/// One employee in a vaccination list.
#[derive(Debug, Serialize, ToSchema)]
pub struct VaccineRow {
    #[serde(flatten)]
    pub employee: ShownEmployee,
    pub state: VaxState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub left_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VaccinePage {
    pub items: Vec<VaccineRow>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
    #[serde(flatten)]
    pub freshness: Freshness,
}

impl VaccineRow {
    fn of(m: &Membership) -> Option<Self> {
        Some(Self {
            employee: m.shown(),
            state: m.derived()?.vax,
            left_at: m.left_at(),
        })
    }
}

/// One page of a state's employees.
pub async fn page(
    state: &Core,
    access: &TenantAccess,
    vax_state: VaxState,
    params: &ListParams,
) -> Result<VaccinePage, ReadError> {
    let list = EmployeeList::vaccination(&access.enterprise.uscc, vax_state.as_str(), params)?;
    let (items, next_cursor) = list.rows(&state.store, params, VaccineRow::of).await?;
    Ok(VaccinePage {
        items,
        next_cursor,
        freshness: access.freshness.clone(),
    })
}

/// One employee's vaccination record as the enterprise sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct VaccineDetail {
    #[serde(flatten)]
    pub employee: ShownEmployee,
    /// From the official record, as of `labels_as_of` (absent before the first relabel).
    pub state: Option<VaxState>,
    /// `pending` while nothing of the health commission's record has been synced for this
    /// person (just invited or added by hand): the next sync fills it in.
    pub official_record: RecordStatus,
    /// The health commission's record.
    pub official: Vec<Dose>,
    /// Kept apart from the official record: the employee's own reports, and what this
    /// enterprise's agents entered.
    pub reported: Vec<ReportView>,
    #[serde(flatten)]
    pub freshness: Freshness,
}

async fn detail_of(
    state: &Core,
    access: &TenantAccess,
    m: Membership,
    health: Health,
) -> Result<VaccineDetail, ReadError> {
    let reports = vaccination::of_person(&state.store, &m.person).await?;
    Ok(VaccineDetail {
        employee: m.shown(),
        state: m.derived().map(|d| d.vax),
        official_record: health.record_status(),
        official: health.doses,
        reported: reports
            .iter()
            .filter(|r| r.visible_to(&access.enterprise.uscc))
            .map(ReportView::from)
            .collect(),
        freshness: access.freshness.clone(),
    })
}

/// One employee's vaccination record as the enterprise sees it; the view is recorded for the
/// employee ([`crate::subject`]).
pub async fn detail(
    state: &Core,
    access: &TenantAccess,
    employee_id: &EmployeeId,
) -> Result<VaccineDetail, ReadError> {
    let (m, health) =
        roster::employee_with_health(&state.store, &access.enterprise.uscc, employee_id).await?;
    crate::subject::record_view(state, access, &m, crate::subject::Section::Vaccine).await?;
    detail_of(state, access, m, health).await
}

/// An agent enters a dose on an employee's behalf: kept as agent-entered, with who and when,
/// beside the official record, audited in the same transaction. Answers the record after it.
pub async fn enter_dose(
    state: &Core,
    access: &TenantAccess,
    employee_id: &EmployeeId,
    dose: DoseReport,
) -> Result<VaccineDetail, ReadError> {
    let (m, health) =
        roster::employee_with_health(&state.store, &access.enterprise.uscc, employee_id).await?;
    let now = state.clock.now();
    let uscc = &access.enterprise.uscc;
    let reporter = Reporter::Agent {
        uscc: uscc.clone(),
        agent_id: AgentId::of(uscc, &access.identity.person).to_string(),
        agent_name: access.identity.name.clone(),
    };
    let report = VaccinationReport::new(&m.person, dose, reporter, now)?;
    let audit = AuditEntry::by(
        access,
        AuditAction::VaccinationEntered,
        format!(
            "dose {} for employee {} ({})",
            report.dose.dose,
            m.employee_id,
            m.name()
        ),
    )
    .into_item(now, state.settings.audit_retention)?;
    vaccination::save(
        &state.store,
        &report,
        vec![crate::store::put_new(state.store.table(), audit)?],
    )
    .await?;
    detail_of(state, access, m, health).await
}

/// A person's own vaccination record (manual §6 个人疫苗接种核查).
#[derive(Debug, Serialize, ToSchema)]
pub struct MyVaccination {
    /// From the official record, as of now.
    pub state: VaxState,
    /// The health commission's record.
    pub official: Vec<Dose>,
    /// Beside it: your correction requests and what agents of your enterprises entered for you.
    pub reported: Vec<ReportView>,
    pub data_synced_at: Option<DateTime<Utc>>,
}

pub async fn my_vaccination(state: &Core, identity: &Identity) -> Result<MyVaccination, ReadError> {
    let now = state.clock.now();
    let health_keys: Vec<(String, String)> = identity
        .keys()
        .map(|person| (keys::person(person), keys::HEALTH.to_string()))
        .collect();
    let wanted = health_keys
        .iter()
        .map(|(pk, sk)| Store::key(pk, sk))
        .collect();
    let ((mut found, freshness), reports) = tokio::try_join!(
        state.freshness.read_with(&state.store, now, wanted),
        identity.gather(|person| vaccination::of_person(&state.store, person))
    )?;
    let health: Health = health_keys
        .iter()
        .find_map(|key| found.remove(key))
        .map(Store::from_item)
        .transpose()?
        .unwrap_or_else(|| Health::new(identity.person.clone()));
    let (derived, _) = health.derive(now, &state.settings.health_rules);
    Ok(MyVaccination {
        state: derived.vax,
        official: health.doses,
        reported: reports.iter().map(ReportView::from).collect(),
        data_synced_at: freshness.data_synced_at,
    })
}

/// A person's correction request for their own record: stored beside the official record,
/// never over it. Answers their record after it.
pub async fn correct(
    state: &Core,
    identity: &Identity,
    dose: DoseReport,
) -> Result<MyVaccination, ReadError> {
    let report = VaccinationReport::new(
        &identity.person,
        dose,
        Reporter::Employee,
        state.clock.now(),
    )?;
    vaccination::save(&state.store, &report, Vec::new()).await?;
    my_vaccination(state, identity).await
}
