//! The query-nucleic routes: HTTP over the read model in [`super::service`].

use super::service::{self, NucleicDetail, NucleicPage, NucleicSummary};
use crate::app::{ApiState, Core};
use crate::health::PcrLabel;
use crate::http::{ApiError, ApiJson, ApiQuery};
use crate::ids::EmployeeId;
use crate::listing::ListParams;
use crate::path::InPath;
use crate::tenancy::TenantAccess;
use axum::extract::State;
use utoipa_axum::{router::OpenApiRouter, routes};

/// Counts per PCR label, in Shenzhen, total and left — one read whatever the enterprise's size.
#[utoipa::path(get, path = "/nucleic/enterprises/{uscc}/summary", operation_id = "nucleic_summary", tag = "query-nucleic",
    params(("uscc" = String, Path, description = "unified social credit code")),
    responses((status = 200, body = NucleicSummary), (status = 403, body = crate::http::ErrorBody), (status = 404, body = crate::http::ErrorBody)),
    security(("bearer" = [])))]
async fn summary(
    State(state): State<Core>,
    access: TenantAccess,
) -> Result<ApiJson<NucleicSummary>, ApiError> {
    Ok(ApiJson(service::summary(&state, &access).await?))
}

/// One label's employees, by name, with filters and an opaque cursor. A page costs one Query (two
/// when a name is given without `in_shenzhen`), whatever the enterprise's size.
#[utoipa::path(get, path = "/nucleic/enterprises/{uscc}/labels/{label}/employees", operation_id = "nucleic_list", tag = "query-nucleic",
    params(("uscc" = String, Path, description = "unified social credit code"),
           ("label" = PcrLabel, Path, description = "24h, 48h, 72h, over_72h or never"), ListParams),
    responses((status = 200, body = NucleicPage), (status = 400, body = crate::http::ErrorBody), (status = 403, body = crate::http::ErrorBody)),
    security(("bearer" = [])))]
async fn list(
    State(state): State<Core>,
    access: TenantAccess,
    InPath(label): InPath<PcrLabel>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<ApiJson<NucleicPage>, ApiError> {
    Ok(ApiJson(
        service::page(&state, &access, label, &params).await?,
    ))
}

#[utoipa::path(get, path = "/nucleic/enterprises/{uscc}/employees/{employee_id}", operation_id = "nucleic_detail", tag = "query-nucleic",
    params(("uscc" = String, Path, description = "unified social credit code"),
           ("employee_id" = String, Path, description = "the employee's id in this enterprise")),
    responses((status = 200, body = NucleicDetail), (status = 403, body = crate::http::ErrorBody), (status = 404, body = crate::http::ErrorBody)),
    security(("bearer" = [])))]
async fn detail(
    State(state): State<Core>,
    access: TenantAccess,
    InPath(employee_id): InPath<EmployeeId>,
) -> Result<ApiJson<NucleicDetail>, ApiError> {
    Ok(ApiJson(
        service::detail(&state, &access, &employee_id).await?,
    ))
}

/// The query-nucleic function's routes with their OpenAPI description.
pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(summary))
        .routes(routes!(list))
        .routes(routes!(detail))
}
