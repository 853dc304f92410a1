//! The query-sites routes: HTTP over [`super::service`], for anyone verified.

use super::service::{
    self, CheckQuery, District, NearbySite, NearestQuery, PlaceQuery, SiteList, ZoneCheck, ZoneList,
};
use crate::app::{Core, VerifiedState};
use crate::http::{ApiError, ApiJson, ApiQuery};
use crate::identity::Verified;
use axum::extract::State;
use utoipa_axum::{router::OpenApiRouter, routes};

/// Sampling sites with live status, filtered by district and street.
#[utoipa::path(get, path = "/sites", tag = "query-sites", params(PlaceQuery),
    responses((status = 200, body = SiteList), (status = 400, body = crate::http::ErrorBody)), security(("bearer" = [])))]
async fn list_sites(
    State(state): State<Core>,
    _caller: Verified,
    ApiQuery(query): ApiQuery<PlaceQuery>,
) -> Result<ApiJson<SiteList>, ApiError> {
    Ok(ApiJson(service::sites(&state, &query).await?))
}

/// The districts and streets that have sampling sites (for the pickers).
#[utoipa::path(get, path = "/sites/districts", tag = "query-sites",
    responses((status = 200, body = Vec<District>)), security(("bearer" = [])))]
async fn districts(
    State(state): State<Core>,
    _caller: Verified,
) -> Result<ApiJson<Vec<District>>, ApiError> {
    Ok(ApiJson(service::districts(&state).await?))
}

/// The sampling sites nearest to a point, open ones first among equals.
#[utoipa::path(get, path = "/sites/nearest", tag = "query-sites", params(NearestQuery),
    responses((status = 200, body = Vec<NearbySite>), (status = 400, body = crate::http::ErrorBody)), security(("bearer" = [])))]
async fn nearest(
    State(state): State<Core>,
    _caller: Verified,
    ApiQuery(query): ApiQuery<NearestQuery>,
) -> Result<ApiJson<Vec<NearbySite>>, ApiError> {
    Ok(ApiJson(service::nearest(&state, &query).await?))
}

/// Sealed, controlled and prevention zones in effect now, by district and street.
#[utoipa::path(get, path = "/zones", tag = "query-sites", params(PlaceQuery),
    responses((status = 200, body = ZoneList), (status = 400, body = crate::http::ErrorBody)), security(("bearer" = [])))]
async fn list_zones(
    State(state): State<Core>,
    _caller: Verified,
    ApiQuery(query): ApiQuery<PlaceQuery>,
) -> Result<ApiJson<ZoneList>, ApiError> {
    Ok(ApiJson(service::zones(&state, &query).await?))
}

/// Is this street (or area of it) in a zone now?
#[utoipa::path(get, path = "/zones/check", tag = "query-sites", params(CheckQuery),
    responses((status = 200, body = ZoneCheck), (status = 400, body = crate::http::ErrorBody)), security(("bearer" = [])))]
async fn check(
    State(state): State<Core>,
    _caller: Verified,
    ApiQuery(query): ApiQuery<CheckQuery>,
) -> Result<ApiJson<ZoneCheck>, ApiError> {
    Ok(ApiJson(service::check(&state, query).await?))
}

/// The query-sites function's routes with their OpenAPI description.
pub fn routes() -> OpenApiRouter<VerifiedState> {
    OpenApiRouter::new()
        .routes(routes!(list_sites))
        .routes(routes!(districts))
        .routes(routes!(nearest))
        .routes(routes!(list_zones))
        .routes(routes!(check))
}
