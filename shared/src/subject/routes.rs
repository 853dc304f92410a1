//! The data subject's routes: `/me/data` and its views, and the deletion request.

use super::model::{Deletion, DeletionRequest, MyData, ViewEntry};
use super::service;
use crate::app::LinkState;
use crate::http::{ApiError, ApiJson, ApiQuery};
use crate::identity::Identity;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

/// Everything this service holds about you: health facts, memberships and their sources,
/// consents, reports, authorisations, and who opened your details.
#[utoipa::path(get, path = "/me/data", tag = "me",
    responses((status = 200, body = MyData)),
    security(("bearer" = [])))]
async fn my_data(
    State(state): State<LinkState>,
    identity: Identity,
) -> Result<ApiJson<MyData>, ApiError> {
    Ok(ApiJson(service::my_data(&state.core, &identity).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ViewsQuery {
    /// The `views_next_cursor` of `/me/data`, or the `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ViewList {
    pub items: Vec<ViewEntry>,
    pub next_cursor: Option<String>,
}

/// Who opened your details (legal representatives and agents, which enterprise, when), newest
/// first.
#[utoipa::path(get, path = "/me/data/views", tag = "me", params(ViewsQuery),
    responses((status = 200, body = ViewList)),
    security(("bearer" = [])))]
async fn views(
    State(state): State<LinkState>,
    identity: Identity,
    ApiQuery(query): ApiQuery<ViewsQuery>,
) -> Result<ApiJson<ViewList>, ApiError> {
    let page = service::views(&state.core, &identity, query.cursor.as_deref()).await?;
    Ok(ApiJson(ViewList {
        items: page.items,
        next_cursor: page.next_cursor,
    }))
}

/// Deletes what no legal ground keeps: your consents are withdrawn, then memberships from
/// invitations and hand-adds, your reports, consents and viewing history are deleted. Answers
/// what was deleted, what stays and why (e.g. the social-insurance roster).
#[utoipa::path(post, path = "/me/data/deletion", tag = "me", request_body = DeletionRequest,
    responses((status = 200, body = Deletion),
        (status = 409, body = crate::http::ErrorBody, description = "your record changed meanwhile: ask again"),
        (status = 422, body = crate::http::ErrorBody, description = "`confirm` is not `true`")),
    security(("bearer" = [])))]
async fn delete(
    State(state): State<LinkState>,
    identity: Identity,
    ApiJson(request): ApiJson<DeletionRequest>,
) -> Result<ApiJson<Deletion>, ApiError> {
    if !request.confirm {
        return Err(ApiError::unprocessable(
            "confirmation_required",
            "deletion cannot be undone: send {\"confirm\": true}",
        ));
    }
    Ok(ApiJson(service::erase(&state, &identity).await?))
}

pub fn routes() -> OpenApiRouter<LinkState> {
    OpenApiRouter::new()
        .routes(routes!(my_data))
        .routes(routes!(views))
        .routes(routes!(delete))
}
