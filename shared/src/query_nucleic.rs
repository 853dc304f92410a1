//! query-nucleic (manual §4): the PCR picture of an enterprise's employees for its legal rep and
//! agents. Every route takes a [`TenantAccess`]: the tenant guard decides.
//!
//! - the summary: counts per label, in Shenzhen, total, left — one read;
//! - one label's employees, filtered and paged ([`crate::listing`]) — one Query per page;
//! - one employee's detail: latest sampling time, site and result (pending shown as pending),
//!   latest Shenzhen sampling, label, sources — masked ID and phone only.
//!
//! Counts and lists come from the same relabel: it moves a membership and the counters in one
//! transaction, and every answer carries `labels_as_of` and `data_synced_at`.

use crate::app::{ApiState, Core};
use crate::feeds::PcrOutcome;
use crate::freshness::Freshness;
use crate::health::{Health, PcrLabel};
use crate::http::{ApiError, ApiJson, ApiQuery};
use crate::keys;
use crate::listing::{EmployeeList, ListParams};
use crate::path::InPath;
use crate::roster::{EmployeeId, Membership, Source};
use crate::summary;
use crate::tenancy::TenantAccess;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

#[derive(Debug, Serialize, ToSchema)]
pub struct NucleicSummary {
    pub uscc: String,
    pub enterprise_name: String,
    /// Current employees per label: `24h`, `48h`, `72h`, `over_72h`, `never`.
    pub labels: BTreeMap<String, i64>,
    /// Employees not labelled yet (joined since the last relabel), or whose health data is
    /// withheld (they withdrew their consent but are still on the roster).
    pub unlabelled: i64,
    /// 在深员工数: employees with a PCR test in Shenzhen within the last 14 days.
    pub in_shenzhen: i64,
    /// Current employees.
    pub total: i64,
    /// Employees who left (kept for reference, not counted above).
    pub left: i64,
    #[serde(flatten)]
    pub freshness: Freshness,
}

/// Counts per PCR label, in Shenzhen, total and left — one read whatever the enterprise's size.
#[utoipa::path(get, path = "/nucleic/enterprises/{uscc}/summary", operation_id = "nucleic_summary", tag = "query-nucleic",
    params(("uscc" = String, Path, description = "unified social credit code")),
    responses((status = 200, body = NucleicSummary), (status = 403, body = crate::http::ErrorBody), (status = 404, body = crate::http::ErrorBody)),
    security(("bearer" = [])))]
async fn summary(
    axum::extract::State(state): axum::extract::State<Core>,
    access: TenantAccess,
) -> Result<ApiJson<NucleicSummary>, ApiError> {
    let uscc = &access.enterprise.uscc;
    let counters = summary::get(&state.store, uscc).await?;
    let labels: BTreeMap<String, i64> = PcrLabel::ALL
        .into_iter()
        .map(|l| {
            (
                l.as_str().to_string(),
                counters.get(&summary::label_counter(l)),
            )
        })
        .collect();
    let total = counters.get(summary::TOTAL);
    Ok(ApiJson(NucleicSummary {
        uscc: uscc.to_string(),
        enterprise_name: access.enterprise.name.clone(),
        unlabelled: total - labels.values().sum::<i64>(),
        labels,
        in_shenzhen: counters.get(summary::IN_SHENZHEN),
        total,
        left: counters.get(summary::LEFT),
        freshness: access.freshness,
    }))
}

/// One employee in a PCR list.
#[derive(Debug, Serialize, ToSchema)]
pub struct NucleicRow {
    pub employee_id: EmployeeId,
    pub name: String,
    pub masked_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub masked_phone: Option<String>,
    pub sources: BTreeSet<Source>,
    pub label: PcrLabel,
    pub in_shenzhen: bool,
    /// Latest sampling time (absent: never tested).
    pub sampled_at: Option<DateTime<Utc>>,
    /// The latest sample's result is still at the lab.
    pub result_pending: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub left_at: Option<DateTime<Utc>>,
}

impl NucleicRow {
    fn of(m: &Membership) -> Option<Self> {
        let d = m.derived()?;
        Some(Self {
            employee_id: m.employee_id.clone(),
            name: m.name().to_string(),
            masked_id: m.masked_id.clone(),
            masked_phone: m.masked_phone.clone(),
            sources: m.sources.clone(),
            label: d.label,
            in_shenzhen: d.in_shenzhen,
            sampled_at: d.sampled_at,
            result_pending: d.result_pending,
            left_at: m.left_at(),
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NucleicPage {
    pub items: Vec<NucleicRow>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
    #[serde(flatten)]
    pub freshness: Freshness,
}

/// One label's employees, by name, with filters and an opaque cursor. A page costs one Query (two
/// when a name is given without `in_shenzhen`), whatever the enterprise's size.
#[utoipa::path(get, path = "/nucleic/enterprises/{uscc}/labels/{label}/employees", operation_id = "nucleic_list", tag = "query-nucleic",
    params(("uscc" = String, Path, description = "unified social credit code"),
           ("label" = PcrLabel, Path, description = "24h, 48h, 72h, over_72h or never"), ListParams),
    responses((status = 200, body = NucleicPage), (status = 400, body = crate::http::ErrorBody), (status = 403, body = crate::http::ErrorBody)),
    security(("bearer" = [])))]
async fn list(
    axum::extract::State(state): axum::extract::State<Core>,
    access: TenantAccess,
    InPath(label): InPath<PcrLabel>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<ApiJson<NucleicPage>, ApiError> {
    let list = EmployeeList::pcr(&access.enterprise.uscc, label.as_str(), &params)?;
    let (members, next_cursor) = list
        .page(&state.store, params.cursor.as_deref(), params.page_size()?)
        .await?;
    Ok(ApiJson(NucleicPage {
        items: members.iter().filter_map(NucleicRow::of).collect(),
        next_cursor,
        freshness: access.freshness,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Sampling {
    pub sampled_at: DateTime<Utc>,
    pub site: Option<String>,
}

/// One employee's PCR picture (manual §4.1 detail).
#[derive(Debug, Serialize, ToSchema)]
pub struct NucleicDetail {
    pub employee_id: EmployeeId,
    pub name: String,
    pub masked_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub masked_phone: Option<String>,
    pub sources: BTreeSet<Source>,
    pub since: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub left_at: Option<DateTime<Utc>>,
    /// As of `labels_as_of` (absent until the employee's first relabel).
    pub label: Option<PcrLabel>,
    pub in_shenzhen: Option<bool>,
    /// Latest sampling anywhere, with its result: `negative`, `positive` or `pending` (at the lab).
    pub latest: Option<Sampling>,
    pub latest_result: Option<PcrOutcome>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latest_result_at: Option<DateTime<Utc>>,
    /// Latest sampling in Shenzhen (the 14-day "in Shenzhen" rule counts from it).
    pub latest_in_shenzhen: Option<Sampling>,
    #[serde(flatten)]
    pub freshness: Freshness,
}

/// Reads an employee of the guarded enterprise, with the person's synced health facts.
/// Two reads: the membership names the person, whose health item is the second. An employee
/// who withdrew their consent is gone from the enterprise's view (410).
pub async fn employee_with_health(
    state: &Core,
    access: &TenantAccess,
    employee_id: &EmployeeId,
) -> Result<(Membership, Health), ApiError> {
    let membership = crate::roster::member(&state.store, &access.enterprise.uscc, employee_id)
        .await?
        .ok_or_else(|| {
            ApiError::not_found("unknown_employee", "no such employee in this enterprise")
        })?;
    if membership.health_withheld() {
        return Err(ApiError::gone(
            "consent_withdrawn",
            "this employee withdrew their consent: their health data is no longer shown",
        ));
    }
    let health = state
        .store
        .get::<Health>(&keys::person(&membership.person), keys::HEALTH)
        .await?
        .unwrap_or_else(|| Health::new(membership.person.clone()));
    Ok((membership, health))
}

#[utoipa::path(get, path = "/nucleic/enterprises/{uscc}/employees/{employee_id}", operation_id = "nucleic_detail", tag = "query-nucleic",
    params(("uscc" = String, Path, description = "unified social credit code"),
           ("employee_id" = String, Path, description = "the employee's id in this enterprise")),
    responses((status = 200, body = NucleicDetail), (status = 403, body = crate::http::ErrorBody), (status = 404, body = crate::http::ErrorBody)),
    security(("bearer" = [])))]
async fn detail(
    axum::extract::State(state): axum::extract::State<Core>,
    access: TenantAccess,
    InPath(employee_id): InPath<EmployeeId>,
) -> Result<ApiJson<NucleicDetail>, ApiError> {
    let (m, health) = employee_with_health(&state, &access, &employee_id).await?;
    let derived = m.derived();
    Ok(ApiJson(NucleicDetail {
        employee_id: m.employee_id.clone(),
        name: m.name().to_string(),
        masked_id: m.masked_id.clone(),
        masked_phone: m.masked_phone.clone(),
        sources: m.sources.clone(),
        since: m.since,
        left_at: m.left_at(),
        label: derived.map(|d| d.label),
        in_shenzhen: derived.map(|d| d.in_shenzhen),
        latest: health.pcr_sampled_at.map(|sampled_at| Sampling {
            sampled_at,
            site: health.pcr_site.clone(),
        }),
        latest_result: health.pcr_result,
        latest_result_at: health.pcr_result_at,
        latest_in_shenzhen: health.sz_sampled_at.map(|sampled_at| Sampling {
            sampled_at,
            site: health.sz_site.clone(),
        }),
        freshness: access.freshness,
    }))
}

pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(summary))
        .routes(routes!(list))
        .routes(routes!(detail))
}
