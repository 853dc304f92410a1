//! The API description is generated from the handlers' annotations (utoipa), so it cannot drift
//! from the routes. Each function contributes its `routes()`; [`base`] adds what is common, and
//! [`split`] the errors every operation of a given shape answers at the edge.

use utoipa::Modify;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, Response, ResponseBuilder};
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

/// The errors every operation of a given shape can answer, documented once here rather than on
/// each route: the edge (authentication, path and query parsing, the JSON body extractor)
/// answers them before any handler runs, with the same [`crate::http::ErrorBody`].
struct EdgeErrors;

/// The form of a path parameter, by name: what its parser accepts, declared so that clients (and
/// generated ones) can check before sending. `{uscc}` is the tenant guard's; the others are the
/// typed parameters' own ([`crate::path::PathParam::PATTERN`]).
fn path_format(name: &str) -> Option<&'static str> {
    if name == "uscc" {
        return Some(crate::ids::USCC_PATTERN);
    }
    crate::path::FORMATS
        .iter()
        .find(|(param, _)| *param == name)
        .and_then(|(_, pattern)| *pattern)
}

impl EdgeErrors {
    fn response(description: &str) -> Response {
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build(),
            )
            .build()
    }

    fn document(operation: &mut Operation) {
        // Any operation can outlast the request deadline or find the store busy; the answer
        // carries `Retry-After`.
        let mut errors: Vec<(&str, &str)> = vec![(
            "503",
            "the request took too long or the store is busy; try again after Retry-After seconds",
        )];
        if operation.security.as_ref().is_some_and(|s| !s.is_empty()) {
            errors.push(("401", "no bearer token, or one that does not verify"));
        }
        let parameters = operation.parameters.as_deref().unwrap_or_default();
        if !parameters.is_empty() {
            errors.push(("400", "a path or query parameter is not valid"));
        }
        // An enterprise in the path: the tenant guard answers for it.
        if parameters.iter().any(|p| p.name == "uscc") {
            errors.extend([
                ("403", "the caller may not act for this enterprise"),
                ("404", "no enterprise with this unified social credit code"),
            ]);
        }
        if operation.request_body.is_some() {
            errors.extend([
                ("400", "the body is not valid JSON"),
                ("413", "the body is larger than 64 KiB"),
                ("415", "the body is not sent as application/json"),
                ("422", "the body is JSON but not a valid request"),
            ]);
        }
        for (status, description) in errors {
            operation
                .responses
                .responses
                .entry(status.to_string())
                .or_insert_with(|| {
                    let mut response = Self::response(description);
                    if status == "503" {
                        response.headers.insert(
                            "Retry-After".into(),
                            utoipa::openapi::header::HeaderBuilder::new()
                                .schema(ObjectBuilder::new().schema_type(Type::Integer))
                                .description(Some("seconds to wait before trying again"))
                                .build(),
                        );
                    }
                    response.into()
                });
        }
        for parameter in operation.parameters.iter_mut().flatten() {
            let format = Some(&parameter.parameter_in)
                .filter(|place| **place == ParameterIn::Path)
                .and_then(|_| path_format(&parameter.name));
            if let Some(pattern) = format {
                parameter.schema = Some(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .pattern(Some(pattern))
                        .into(),
                );
            }
        }
    }
}

impl Modify for EdgeErrors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                Self::document(operation);
            }
        }
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
    let (router, mut api) = base().merge(routes).split_for_parts();
    EdgeErrors.modify(&mut api);
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
