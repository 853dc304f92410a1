//! Operator routes (运营专人): what the batch jobs did. Served by the authorize function, which
//! already hosts the operators' offline-authorisation routes.

use crate::app::Core;
use crate::freshness::{self, Freshness};
use crate::http::{ApiError, ApiJson, ApiQuery, CursorQuery};
use crate::identity::PersonState;
use crate::sync::{self, RunRecord};
use crate::tenancy::OperatorAccess;
use axum::extract::FromRef;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

#[derive(Debug, Serialize, ToSchema)]
pub struct SyncRuns {
    pub freshness: Freshness,
    /// Newest first: deliveries applied, with read = applied + unchanged + rejected each.
    pub runs: Vec<RunRecord>,
    pub next_cursor: Option<String>,
}

/// Recent sync runs and the data's freshness (operators only).
#[utoipa::path(get, path = "/ops/sync-runs", tag = "operations", params(CursorQuery),
    responses((status = 200, body = SyncRuns), (status = 403, body = crate::http::ErrorBody)),
    security(("bearer" = [])))]
async fn sync_runs(
    axum::extract::State(state): axum::extract::State<Core>,
    _operator: OperatorAccess,
    ApiQuery(query): ApiQuery<CursorQuery>,
) -> Result<ApiJson<SyncRuns>, ApiError> {
    let page = sync::recent_runs(&state.store, query.cursor.as_deref()).await?;
    let freshness = freshness::get(&state.store).await?;
    Ok(ApiJson(SyncRuns {
        freshness,
        runs: page.items,
        next_cursor: page.next_cursor,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SunsetState {
    /// Whether the city ended the service: a sunset has begun, and the jobs no longer run.
    pub sunset: bool,
    /// Its run, current pass and each segment's progress, once begun.
    pub status: Option<crate::sunset::SunsetStatus>,
}

/// Whether the service was sunset, and how far the sunset is (operators only).
#[utoipa::path(get, path = "/ops/sunset", tag = "operations",
    responses((status = 200, body = SunsetState), (status = 403, body = crate::http::ErrorBody)),
    security(("bearer" = [])))]
async fn sunset(
    axum::extract::State(state): axum::extract::State<Core>,
    _operator: OperatorAccess,
) -> Result<ApiJson<SunsetState>, ApiError> {
    let status = crate::sunset::current(&state.store).await?;
    Ok(ApiJson(SunsetState {
        sunset: status.is_some(),
        status,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RekeyState {
    /// The person-key generation new keys are computed at (1 until the first rotation).
    pub generation: u32,
    /// Whether a re-key is moving stored keys to it: writes naming a person wait meanwhile.
    pub migrating: bool,
    /// The latest re-key's run, current pass and each segment's progress.
    pub status: Option<crate::rekey::RekeyStatus>,
}

/// Which person-key generation is in force, and how far a re-key is (operators only).
#[utoipa::path(get, path = "/ops/rekey", tag = "operations",
    responses((status = 200, body = RekeyState), (status = 403, body = crate::http::ErrorBody)),
    security(("bearer" = [])))]
async fn rekey(
    axum::extract::State(state): axum::extract::State<Core>,
    _operator: OperatorAccess,
) -> Result<ApiJson<RekeyState>, ApiError> {
    let status = crate::rekey::current(&state.store, state.clock.now()).await?;
    let epoch = crate::rekey::KeyEpoch::of(status.as_ref().map(|s| &s.run));
    Ok(ApiJson(RekeyState {
        generation: epoch.in_force(),
        migrating: epoch.is_migrating(),
        status,
    }))
}

/// Mounted on the authorize function's state; generic, since they need only the core, the
/// verifier and the keyer.
pub fn routes<S>() -> OpenApiRouter<S>
where
    S: PersonState + Clone + 'static,
    Core: FromRef<S>,
{
    OpenApiRouter::new()
        .routes(routes!(sync_runs))
        .routes(routes!(sunset))
        .routes(routes!(rekey))
}
