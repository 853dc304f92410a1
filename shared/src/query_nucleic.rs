//! query-nucleic (manual §4): the PCR picture of an enterprise's employees for its legal rep and
//! agents. Every route takes a [`TenantAccess`]: the tenant guard decides.
//!
//! Built so far: the summary. The per-label lists with filters and cursors, and one employee's
//! detail, come with the queries issue (see `docs/status.md`).

use crate::app::AppState;
use crate::freshness::{self, Freshness};
use crate::health::PcrLabel;
use crate::http::{ApiError, ApiJson};
use crate::keys;
use crate::store::Store;
use crate::summary::{self, Summary};
use crate::tenancy::TenantAccess;
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

#[derive(Debug, Serialize, ToSchema)]
pub struct NucleicSummary {
    pub uscc: String,
    pub enterprise_name: String,
    /// Current employees per label: `24h`, `48h`, `72h`, `over_72h`, `never`.
    pub labels: BTreeMap<String, i64>,
    /// Employees not labelled yet (joined since the last relabel).
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
#[utoipa::path(get, path = "/nucleic/enterprises/{uscc}/summary", tag = "query-nucleic",
    params(("uscc" = String, Path, description = "unified social credit code")),
    responses((status = 200, body = NucleicSummary), (status = 403, body = crate::http::ErrorBody), (status = 404, body = crate::http::ErrorBody)),
    security(("bearer" = [])))]
async fn summary(
    axum::extract::State(state): axum::extract::State<AppState>,
    access: TenantAccess,
) -> Result<ApiJson<NucleicSummary>, ApiError> {
    let uscc = &access.enterprise.uscc;
    // The counters and the freshness in one BatchGetItem.
    let summary_key = (keys::enterprise(uscc), keys::SUMMARY.to_string());
    let freshness_key = (freshness::PK.to_string(), freshness::SK.to_string());
    let mut found = state
        .store
        .get_many(vec![
            Store::key(&summary_key.0, &summary_key.1),
            Store::key(&freshness_key.0, &freshness_key.1),
        ])
        .await?;
    let counters: Summary = found
        .remove(&summary_key)
        .map(Store::from_item)
        .transpose()?
        .unwrap_or_default();
    let freshness: Freshness = found
        .remove(&freshness_key)
        .map(Store::from_item)
        .transpose()?
        .unwrap_or_default();
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
        freshness,
    }))
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(summary))
}
