//! query-vaccine (manual §5 and §6): the vaccination picture of an enterprise's employees for its
//! legal rep and agents, and every person's own record.
//!
//! - the overview: employees per vaccination state — one read;
//! - one state's employees, filtered and paged ([`crate::listing`]) — one Query per page;
//! - one employee's doses: the official record (health commission) and, kept apart and marked,
//!   what the employee reported or an agent of this enterprise entered;
//! - an agent enters doses on an employee's behalf: recorded as agent-entered, with who and when,
//!   and audited;
//! - the personal check: a person reads their own official record and reports, and submits a
//!   correction request, stored beside the official record, never over it.
//!
//! The states come from the official record only; reports are shown, never counted.

use crate::app::{ApiState, Core};
use crate::audit::{AuditAction, AuditEntry};
use crate::authorize::AgentId;
use crate::feeds::Dose;
use crate::freshness::{self, Freshness};
use crate::health::{Health, RecordStatus, VaxState};
use crate::http::{ApiError, ApiJson, ApiQuery};
use crate::identity::Identity;
use crate::keys;
use crate::listing::{EmployeeList, ListParams};
use crate::path::InPath;
use crate::query_nucleic::employee_with_health;
use crate::roster::{EmployeeId, Membership, Source};
use crate::store::Store;
use crate::summary;
use crate::tenancy::TenantAccess;
use crate::vaccination::{self, DoseReport, ReportView, Reporter, VaccinationReport};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

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

/// Employees per vaccination state — one read whatever the enterprise's size.
#[utoipa::path(get, path = "/vaccine/enterprises/{uscc}/summary", operation_id = "vaccine_summary", tag = "query-vaccine",
    params(("uscc" = String, Path, description = "unified social credit code")),
    responses((status = 200, body = VaccineSummary), (status = 403, body = crate::http::ErrorBody), (status = 404, body = crate::http::ErrorBody)),
    security(("bearer" = [])))]
async fn summary(
    axum::extract::State(state): axum::extract::State<Core>,
    access: TenantAccess,
) -> Result<ApiJson<VaccineSummary>, ApiError> {
    let uscc = &access.enterprise.uscc;
    let counters = summary::get(&state.store, uscc).await?;
    let states: BTreeMap<String, i64> = VaxState::ALL
        .into_iter()
        .map(|s| {
            (
                s.as_str().to_string(),
                counters.get(&summary::vax_counter(s)),
            )
        })
        .collect();
    let total = counters.get(summary::TOTAL);
    let primary_series_complete = [
        VaxState::PrimaryComplete,
        VaxState::BoosterEligible,
        VaxState::Boosted,
    ]
    .into_iter()
    .map(|s| states[s.as_str()])
    .sum();
    Ok(ApiJson(VaccineSummary {
        uscc: uscc.to_string(),
        enterprise_name: access.enterprise.name.clone(),
        unlabelled: total - states.values().sum::<i64>(),
        states,
        primary_series_complete,
        total,
        left: counters.get(summary::LEFT),
        freshness: access.freshness,
    }))
}

/// One employee in a vaccination list.
#[derive(Debug, Serialize, ToSchema)]
pub struct VaccineRow {
    pub employee_id: EmployeeId,
    pub name: String,
    pub masked_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub masked_phone: Option<String>,
    pub sources: BTreeSet<Source>,
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

/// One vaccination state's employees, by name, with filters and an opaque cursor — one Query
/// per page.
#[utoipa::path(get, path = "/vaccine/enterprises/{uscc}/states/{state}/employees", operation_id = "vaccine_list", tag = "query-vaccine",
    params(("uscc" = String, Path, description = "unified social credit code"),
           ("state" = VaxState, Path, description = "unvaccinated, partial, primary_complete, booster_eligible or boosted"), ListParams),
    responses((status = 200, body = VaccinePage), (status = 400, body = crate::http::ErrorBody), (status = 403, body = crate::http::ErrorBody)),
    security(("bearer" = [])))]
async fn list(
    axum::extract::State(state): axum::extract::State<Core>,
    access: TenantAccess,
    InPath(vax_state): InPath<VaxState>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<ApiJson<VaccinePage>, ApiError> {
    let list = EmployeeList::vaccination(&access.enterprise.uscc, vax_state.as_str(), &params)?;
    let (members, next_cursor) = list
        .page(&state.store, params.cursor.as_deref(), params.page_size()?)
        .await?;
    let row = |m: &Membership| {
        Some(VaccineRow {
            employee_id: m.employee_id.clone(),
            name: m.name().to_string(),
            masked_id: m.masked_id.clone(),
            masked_phone: m.masked_phone.clone(),
            sources: m.sources.clone(),
            state: m.derived()?.vax,
            left_at: m.left_at(),
        })
    };
    Ok(ApiJson(VaccinePage {
        items: members.iter().filter_map(row).collect(),
        next_cursor,
        freshness: access.freshness,
    }))
}

/// One employee's vaccination record as the enterprise sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct VaccineDetail {
    pub employee_id: EmployeeId,
    pub name: String,
    pub masked_id: String,
    pub sources: BTreeSet<Source>,
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
) -> Result<VaccineDetail, ApiError> {
    let reports = vaccination::of_person(&state.store, &m.person).await?;
    Ok(VaccineDetail {
        employee_id: m.employee_id.clone(),
        name: m.name().to_string(),
        masked_id: m.masked_id.clone(),
        sources: m.sources.clone(),
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

#[utoipa::path(get, path = "/vaccine/enterprises/{uscc}/employees/{employee_id}", operation_id = "vaccine_detail", tag = "query-vaccine",
    params(("uscc" = String, Path, description = "unified social credit code"),
           ("employee_id" = String, Path, description = "the employee's id in this enterprise")),
    responses((status = 200, body = VaccineDetail), (status = 403, body = crate::http::ErrorBody), (status = 404, body = crate::http::ErrorBody)),
    security(("bearer" = [])))]
async fn detail(
    axum::extract::State(state): axum::extract::State<Core>,
    access: TenantAccess,
    InPath(employee_id): InPath<EmployeeId>,
) -> Result<ApiJson<VaccineDetail>, ApiError> {
    let (m, health) = employee_with_health(&state, &access, &employee_id).await?;
    Ok(ApiJson(detail_of(&state, &access, m, health).await?))
}

/// An agent enters a dose on an employee's behalf (manual §5.2): kept as agent-entered, with who
/// and when, beside the official record; audited in the same transaction.
#[utoipa::path(post, path = "/vaccine/enterprises/{uscc}/employees/{employee_id}/doses", tag = "query-vaccine",
    params(("uscc" = String, Path, description = "unified social credit code"),
           ("employee_id" = String, Path, description = "the employee's id in this enterprise")),
    request_body = DoseReport,
    responses((status = 201, body = VaccineDetail), (status = 403, body = crate::http::ErrorBody), (status = 404, body = crate::http::ErrorBody), (status = 422, body = crate::http::ErrorBody)),
    security(("bearer" = [])))]
async fn enter_dose(
    axum::extract::State(state): axum::extract::State<Core>,
    access: TenantAccess,
    InPath(employee_id): InPath<EmployeeId>,
    ApiJson(body): ApiJson<DoseReport>,
) -> Result<(StatusCode, ApiJson<VaccineDetail>), ApiError> {
    let (m, health) = employee_with_health(&state, &access, &employee_id).await?;
    let now = state.clock.now();
    let uscc = &access.enterprise.uscc;
    let reporter = Reporter::Agent {
        uscc: uscc.clone(),
        agent_id: AgentId::of(uscc, &access.identity.person).to_string(),
        agent_name: access.identity.name.clone(),
    };
    let report = VaccinationReport::new(&m.person, body, reporter, now)?;
    let audit = AuditEntry::by(
        &access,
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
        vec![crate::store::put_new(state.store.table(), audit)],
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        ApiJson(detail_of(&state, &access, m, health).await?),
    ))
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

async fn my_vaccination(state: &Core, identity: &Identity) -> Result<MyVaccination, ApiError> {
    let person = &identity.person;
    let health_key = Store::key(&keys::person(person), keys::HEALTH);
    let status_key = Store::key(freshness::PK, freshness::SK);
    let (found, reports) = tokio::try_join!(
        state.store.get_many(vec![health_key, status_key]),
        vaccination::of_person(&state.store, person)
    )?;
    let mut found = found;
    let health: Health = found
        .remove(&(keys::person(person), keys::HEALTH.to_string()))
        .map(Store::from_item)
        .transpose()?
        .unwrap_or_else(|| Health::new(person.clone()));
    let freshness: Freshness = found
        .remove(&(freshness::PK.to_string(), freshness::SK.to_string()))
        .map(Store::from_item)
        .transpose()?
        .unwrap_or_default();
    let (derived, _) = health.derive(state.clock.now(), &state.settings.health_rules);
    Ok(MyVaccination {
        state: derived.vax,
        official: health.doses,
        reported: reports.iter().map(ReportView::from).collect(),
        data_synced_at: freshness.data_synced_at,
    })
}

/// Your own official vaccination record, and your reports beside it.
#[utoipa::path(get, path = "/vaccine/me", tag = "query-vaccine",
    responses((status = 200, body = MyVaccination), (status = 401, body = crate::http::ErrorBody)),
    security(("bearer" = [])))]
async fn me(
    axum::extract::State(state): axum::extract::State<Core>,
    identity: Identity,
) -> Result<ApiJson<MyVaccination>, ApiError> {
    Ok(ApiJson(my_vaccination(&state, &identity).await?))
}

/// Submit a correction request for your own record: stored beside the official record (never
/// over it), visible to you, and shown to your enterprises as self-reported.
#[utoipa::path(post, path = "/vaccine/me/corrections", tag = "query-vaccine",
    request_body = DoseReport,
    responses((status = 201, body = MyVaccination), (status = 401, body = crate::http::ErrorBody), (status = 422, body = crate::http::ErrorBody)),
    security(("bearer" = [])))]
async fn correct(
    axum::extract::State(state): axum::extract::State<Core>,
    identity: Identity,
    ApiJson(body): ApiJson<DoseReport>,
) -> Result<(StatusCode, ApiJson<MyVaccination>), ApiError> {
    let report = VaccinationReport::new(
        &identity.person,
        body,
        Reporter::Employee,
        state.clock.now(),
    )?;
    vaccination::save(&state.store, &report, Vec::new()).await?;
    Ok((
        StatusCode::CREATED,
        ApiJson(my_vaccination(&state, &identity).await?),
    ))
}

pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(summary))
        .routes(routes!(list))
        .routes(routes!(detail))
        .routes(routes!(enter_dose))
        .routes(routes!(me))
        .routes(routes!(correct))
}
