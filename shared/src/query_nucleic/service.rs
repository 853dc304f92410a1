//! The PCR read model: the overview, a list page and one employee's picture, assembled from the
//! summary counters, the list indexes and the person's health item.

use crate::app::Core;
use crate::feeds::PcrOutcome;
use crate::freshness::Freshness;
use crate::health::PcrLabel;
use crate::ids::EmployeeId;
use crate::listing::{EmployeeList, ListParams};
use crate::read_model::ReadError;
use crate::roster::{self, Membership, ShownEmployee};
use crate::summary;
use crate::tenancy::TenantAccess;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

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

/// Counts per label, in Shenzhen, total and left: one read.
pub async fn summary(state: &Core, access: &TenantAccess) -> Result<NucleicSummary, ReadError> {
    let uscc = &access.enterprise.uscc;
    let counters = summary::get(&state.store, uscc).await?;
    let (labels, unlabelled) =
        counters.per_group(PcrLabel::ALL, PcrLabel::as_str, summary::label_counter);
    Ok(NucleicSummary {
        uscc: uscc.to_string(),
        enterprise_name: access.enterprise.name.clone(),
        labels,
        unlabelled,
        in_shenzhen: counters.get(summary::IN_SHENZHEN),
        total: counters.get(summary::TOTAL),
        left: counters.get(summary::LEFT),
        freshness: access.freshness.clone(),
    })
}

/// One employee in a PCR list.
#[derive(Debug, Serialize, ToSchema)]
pub struct NucleicRow {
    #[serde(flatten)]
    pub employee: ShownEmployee,
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
            employee: m.shown(),
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

/// One page of a label's employees.
pub async fn page(
    state: &Core,
    access: &TenantAccess,
    label: PcrLabel,
    params: &ListParams,
) -> Result<NucleicPage, ReadError> {
    let list = EmployeeList::pcr(&access.enterprise.uscc, label.as_str(), params)?;
    let (items, next_cursor) = list.rows(&state.store, params, NucleicRow::of).await?;
    Ok(NucleicPage {
        items,
        next_cursor,
        freshness: access.freshness.clone(),
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Sampling {
    pub sampled_at: DateTime<Utc>,
    pub site: Option<String>,
}

/// One employee's PCR picture (manual §4.1 detail).
#[derive(Debug, Serialize, ToSchema)]
pub struct NucleicDetail {
    #[serde(flatten)]
    pub employee: ShownEmployee,
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

/// One employee's PCR picture; the view is recorded for the employee ([`crate::subject`]).
pub async fn detail(
    state: &Core,
    access: &TenantAccess,
    employee_id: &EmployeeId,
) -> Result<NucleicDetail, ReadError> {
    let (m, health) =
        roster::employee_with_health(&state.store, &access.enterprise.uscc, employee_id).await?;
    crate::subject::record_view(state, access, &m, crate::subject::Section::Nucleic).await?;
    let derived = m.derived();
    Ok(NucleicDetail {
        employee: m.shown(),
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
        freshness: access.freshness.clone(),
    })
}
