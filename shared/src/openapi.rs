//! The API description is generated from the handlers' annotations (utoipa), so it cannot drift
//! from the routes. Each function contributes its `routes()`; [`document`] adds what is common.

use utoipa::Modify;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;

#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "fangyitong", description = "深i企 防疫通 — enterprise epidemic-prevention service API"),
    modifiers(&BearerAuth),
    components(schemas(crate::http::ErrorBody))
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// A router seeded with the common document; merge function routes into it.
pub fn base<S: Clone + Send + Sync + 'static>() -> OpenApiRouter<S> {
    OpenApiRouter::with_openapi(<ApiDoc as utoipa::OpenApi>::openapi())
}

/// Splits routes into a router on its state and the OpenAPI document; hosts that merge several
/// functions' routes (the local stack) add the edge once, after merging.
pub fn split<S: Clone + Send + Sync + 'static>(
    routes: OpenApiRouter<S>,
    state: S,
) -> (axum::Router, utoipa::openapi::OpenApi) {
    let (router, api) = base().merge(routes).split_for_parts();
    (router.with_state(state), api)
}

/// Splits routes into a ready router (with the shared edge) and the OpenAPI document.
pub fn build<S: Clone + Send + Sync + 'static>(
    routes: OpenApiRouter<S>,
    state: S,
) -> (axum::Router, utoipa::openapi::OpenApi) {
    let (router, api) = split(routes, state);
    (crate::http::edge(router), api)
}
