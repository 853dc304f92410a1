//! The query-vaccine routes: HTTP over the read model and writes in [`super::service`].

use super::service::{self, MyVaccination, VaccineDetail, VaccinePage, VaccineSummary};
use crate::app::{ApiState, Core};
use crate::health::VaxState;
use crate::http::{ApiError, ApiJson, ApiQuery};
use crate::identity::Identity;
use crate::ids::EmployeeId;
use crate::listing::ListParams;
use crate::path::InPath;
use crate::tenancy::TenantAccess;
use crate::vaccination::DoseReport;
use axum::extract::State;
use axum::http::StatusCode;
use utoipa_axum::{router::OpenApiRouter, routes};

/// Employees per vaccination state — one read whatever the enterprise's size.
#[utoipa::path(get, path = "/vaccine/enterprises/{uscc}/summary", operation_id = "vaccine_summary", tag = "query-vaccine",
    params(("uscc" = String, Path, description = "unified social credit code")),
    responses((status = 200, body = VaccineSummary), (status = 403, body = crate::http::ErrorBody), (status = 404, body = crate::http::ErrorBody)),
    security(("bearer" = [])))]
async fn summary(
    State(state): State<Core>,
    access: TenantAccess,
) -> Result<ApiJson<VaccineSummary>, ApiError> {
    Ok(ApiJson(service::summary(&state, &access).await?))
}

/// One vaccination state's employees, by name, with filters and an opaque cursor — one Query
/// per page.
#[utoipa::path(get, path = "/vaccine/enterprises/{uscc}/states/{state}/employees", operation_id = "vaccine_list", tag = "query-vaccine",
    params(("uscc" = String, Path, description = "unified social credit code"),
           ("state" = VaxState, Path, description = "unvaccinated, partial, primary_complete, booster_eligible or boosted"), ListParams),
    responses((status = 200, body = VaccinePage), (status = 400, body = crate::http::ErrorBody), (status = 403, body = crate::http::ErrorBody)),
    security(("bearer" = [])))]
async fn list(
    State(state): State<Core>,
    access: TenantAccess,
    InPath(vax_state): InPath<VaxState>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<ApiJson<VaccinePage>, ApiError> {
    Ok(ApiJson(
        service::page(&state, &access, vax_state, &params).await?,
    ))
}

#[utoipa::path(get, path = "/vaccine/enterprises/{uscc}/employees/{employee_id}", operation_id = "vaccine_detail", tag = "query-vaccine",
    params(("uscc" = String, Path, description = "unified social credit code"),
           ("employee_id" = String, Path, description = "the employee's id in this enterprise")),
    responses((status = 200, body = VaccineDetail), (status = 403, body = crate::http::ErrorBody), (status = 404, body = crate::http::ErrorBody)),
    security(("bearer" = [])))]
async fn detail(
    State(state): State<Core>,
    access: TenantAccess,
    InPath(employee_id): InPath<EmployeeId>,
) -> Result<ApiJson<VaccineDetail>, ApiError> {
    Ok(ApiJson(
        service::detail(&state, &access, &employee_id).await?,
    ))
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
    State(state): State<Core>,
    access: TenantAccess,
    InPath(employee_id): InPath<EmployeeId>,
    ApiJson(body): ApiJson<DoseReport>,
) -> Result<(StatusCode, ApiJson<VaccineDetail>), ApiError> {
    let detail = service::enter_dose(&state, &access, &employee_id, body).await?;
    Ok((StatusCode::CREATED, ApiJson(detail)))
}

/// Your own official vaccination record, and your reports beside it.
#[utoipa::path(get, path = "/vaccine/me", tag = "query-vaccine",
    responses((status = 200, body = MyVaccination), (status = 401, body = crate::http::ErrorBody)),
    security(("bearer" = [])))]
async fn me(
    State(state): State<Core>,
    identity: Identity,
) -> Result<ApiJson<MyVaccination>, ApiError> {
    Ok(ApiJson(service::my_vaccination(&state, &identity).await?))
}

/// Submit a correction request for your own record: stored beside the official record (never
/// over it), visible to you, and shown to your enterprises as self-reported.
#[utoipa::path(post, path = "/vaccine/me/corrections", tag = "query-vaccine",
    request_body = DoseReport,
    responses((status = 201, body = MyVaccination), (status = 401, body = crate::http::ErrorBody), (status = 422, body = crate::http::ErrorBody)),
    security(("bearer" = [])))]
async fn correct(
    State(state): State<Core>,
    identity: Identity,
    ApiJson(body): ApiJson<DoseReport>,
) -> Result<(StatusCode, ApiJson<MyVaccination>), ApiError> {
    let mine = service::correct(&state, &identity, body).await?;
    Ok((StatusCode::CREATED, ApiJson(mine)))
}

/// The query-vaccine function's routes with their OpenAPI description.
pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(summary))
        .routes(routes!(list))
        .routes(routes!(detail))
        .routes(routes!(enter_dose))
        .routes(routes!(me))
        .routes(routes!(correct))
}
