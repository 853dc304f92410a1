//! The HTTP edge: one JSON error shape `{ "code", "message" }` with the right status, a JSON body
//! extractor whose rejections use it too, JSON 404/405 fallbacks, a body size limit, a request
//! deadline and a panic catcher — so that no input, however bad, yields a bare 5xx, kills the
//! process or holds a client longer than the function may run.

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use tower_http::catch_panic::CatchPanicLayer;

/// Request bodies in this API are small forms; anything larger is refused before parsing.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable, machine-readable reason, e.g. `invalid_id_number`.
    pub code: Cow<'static, str>,
    /// A sentence for people.
    pub message: String,
}

/// An error as the API answers it. 5xx errors keep their cause for the log; the client only
/// sees a generic message.
#[derive(Debug, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub code: Cow<'static, str>,
    pub message: String,
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code: Cow::Borrowed(code),
            message: message.into(),
            source: None,
        }
    }
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }
    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }
    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
    }
    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message)
    }
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }
    pub fn gone(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::GONE, code, message)
    }
    pub fn internal(source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: Cow::Borrowed("internal"),
            message: "something went wrong on our side; it has been logged".into(),
            source: Some(Box::new(source)),
        }
    }
    /// A write refused while person keys move to a new generation ([`crate::rekey`]): planned,
    /// temporary, nothing of the caller's is lost.
    pub fn rekeying() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "rekeying",
            "planned maintenance: personal data is being re-keyed, and changes wait until it is done; try again later",
        )
    }

    pub fn unavailable(source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: Cow::Borrowed("unavailable"),
            message: "the service is busy; try again shortly".into(),
            source: Some(Box::new(source)),
        }
    }
}

impl From<crate::health::UnknownName> for ApiError {
    fn from(e: crate::health::UnknownName) -> Self {
        let code = if e.kind == "label" {
            "invalid_label"
        } else {
            "invalid_state"
        };
        Self::bad_request(code, e.to_string())
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(err: crate::store::StoreError) -> Self {
        match err {
            crate::store::StoreError::ConditionFailed => Self::conflict(
                "conflict",
                "the record changed meanwhile; reload and try again",
            ),
            e if e.is_retryable() => Self::unavailable(e),
            e => Self::internal(e),
        }
    }
}

impl From<crate::store::BadCursorOr> for ApiError {
    fn from(err: crate::store::BadCursorOr) -> Self {
        match err {
            crate::store::BadCursorOr::Cursor(e) => {
                Self::bad_request("invalid_cursor", e.to_string())
            }
            crate::store::BadCursorOr::Store(e) => e.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() && self.source.is_some() {
            // Causes are SDK or serde errors: they carry keys (hashes), never raw ID numbers.
            let cause = self.source.as_ref().map(|s| error_chain(s.as_ref()));
            tracing::error!(code = %self.code, cause = cause.as_deref().unwrap_or(""), "request failed");
        } else {
            tracing::info!(status = self.status.as_u16(), code = %self.code, "request refused");
        }
        let status = self.status;
        let code_is_rekeying = self.code == "rekeying";
        let mut response = (
            status,
            Json(ErrorBody {
                code: self.code,
                message: self.message,
            }),
        )
            .into_response();
        // RFC 6750: a 401 names the scheme the client should use.
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        // A 503 is temporary by definition: say when trying again makes sense (RFC 9110 10.2.3).
        if status == StatusCode::SERVICE_UNAVAILABLE {
            // A re-key takes hours, not seconds: a client need not knock every few seconds.
            let wait = if code_is_rekeying {
                REKEYING_RETRY_AFTER_SECONDS
            } else {
                RETRY_AFTER_SECONDS
            };
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(wait),
            );
        }
        response
    }
}

fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut next = err.source();
    while let Some(e) = next {
        out.push_str(": ");
        out.push_str(&e.to_string());
        next = e.source();
    }
    out
}

/// `Json<T>` whose rejections are [`ApiError`]s.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        // axum's `Json` also takes `application/*+json` (`json-patch+json`, …), whose bodies
        // mean something else: only `application/json` is read.
        if !is_json(req.headers()) {
            return Err(unsupported_media_type());
        }
        let (parts, body) = req.into_parts();
        let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES)
            .await
            .map_err(|e| {
                let too_large =
                    std::iter::successors(Some(&e as &(dyn std::error::Error + 'static)), |e| {
                        e.source()
                    })
                    .any(|e| e.is::<http_body_util::LengthLimitError>());
                if too_large {
                    body_too_large()
                } else {
                    ApiError::bad_request("unreadable_body", "the body could not be read")
                }
            })?;
        let request = Request::from_parts(parts, axum::body::Body::from(bytes.clone()));
        let Json(value) = Json::<T>::from_request(request, state)
            .await
            .map_err(json_rejection)?;
        // serde reads a struct from a JSON array by position too: every body here is an object,
        // so anything else is refused rather than read by position.
        if bytes.trim_ascii_start().first() != Some(&b'{') {
            return Err(ApiError::unprocessable(
                "invalid_body",
                "the body must be a JSON object",
            ));
        }
        Ok(Self(value))
    }
}

/// Whether the body is declared `application/json`, parameters (`; charset=utf-8`) allowed.
fn is_json(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

fn unsupported_media_type() -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        "send the body as application/json",
    )
}

fn body_too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        format!("request bodies are limited to {MAX_BODY_BYTES} bytes"),
    )
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::JsonDataError(e) => {
            ApiError::unprocessable("invalid_body", redact_numbers(&e.body_text()))
        }
        JsonRejection::JsonSyntaxError(_) => {
            ApiError::bad_request("malformed_json", "the body is not valid JSON")
        }
        JsonRejection::MissingJsonContentType(_) => unsupported_media_type(),
        JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            body_too_large()
        }
        other => ApiError::bad_request("unreadable_body", other.body_text()),
    }
}

impl<T: Serialize> IntoResponse for ApiJson<T> {
    fn into_response(self) -> Response {
        Json(self.0).into_response()
    }
}

/// Query-string extractor whose rejections are [`ApiError`]s.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for ApiQuery<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Self(q.0))
            .map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))
    }
}

/// Path extractor whose rejections are [`ApiError`]s.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiPath<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for ApiPath<T>
where
    T: serde::de::DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Self(p.0))
            .map_err(|e| ApiError::bad_request("invalid_path", e.body_text()))
    }
}

/// serde's messages quote the offending value (`invalid type: integer 440305…`); an ID number
/// typed into the wrong field must not be echoed back or end up in a log. Masks every run of
/// six or more letters and digits that contains a digit.
fn redact_numbers(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.chars().count() >= 6 && run.chars().any(|c| c.is_ascii_digit()) {
            out.push_str(&crate::ids::mask_middle(run));
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in message.chars() {
        if c.is_ascii_alphanumeric() {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

async fn not_found() -> ApiError {
    ApiError::not_found("no_such_route", "no route here; see /openapi.json")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not take that method",
    )
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("handler panicked");
    let body = ErrorBody {
        code: Cow::Borrowed("internal"),
        message: "something went wrong on our side".into(),
    };
    (StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response()
}

/// The longest URI (path and query) the API reads; API Gateway's own limit is about the same.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// The most header bytes the API reads (names and values), and of them the bearer token.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
pub const MAX_AUTHORIZATION_BYTES: usize = 8 * 1024;

/// Refuses oversized requests with the API's own JSON errors before anything parses them (the
/// HTTP server's hard limits, far above these, answer without a body).
async fn request_limits(request: Request, next: axum::middleware::Next) -> Response {
    let uri = request.uri();
    let uri_bytes = uri.path().len() + uri.query().map_or(0, |q| q.len() + 1);
    if uri_bytes > MAX_URI_BYTES {
        return ApiError::new(
            StatusCode::URI_TOO_LONG,
            "uri_too_long",
            format!("paths and queries are limited to {MAX_URI_BYTES} bytes"),
        )
        .into_response();
    }
    let headers = request.headers();
    let header_bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if headers
        .get(axum::http::header::AUTHORIZATION)
        .is_some_and(|v| v.len() > MAX_AUTHORIZATION_BYTES)
    {
        return ApiError::unauthorized(
            "invalid_token",
            format!("the bearer token is longer than {MAX_AUTHORIZATION_BYTES} bytes"),
        )
        .into_response();
    }
    if header_bytes > MAX_HEADER_BYTES {
        return ApiError::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers_too_large",
            format!("request headers are limited to {MAX_HEADER_BYTES} bytes"),
        )
        .into_response();
    }
    next.run(request).await
}

/// How long the API works on a request before answering 503 `timeout`: below the 10 s the HTTP
/// functions may run (`template.yaml`, Globals), so the client gets this JSON answer rather than
/// Lambda's bare failure, and above the SDK's own [`crate::aws::OPERATION_TIMEOUT`], so a single
/// stalled call surfaces as its own logged error first.
pub const REQUEST_DEADLINE: std::time::Duration = std::time::Duration::from_secs(9);

/// What a 503 tells the client to wait before trying again (`Retry-After`, in seconds).
pub const RETRY_AFTER_SECONDS: u32 = 5;
/// The same for a write refused during a re-key.
pub const REKEYING_RETRY_AFTER_SECONDS: u32 = 600;

/// Answers 503 `timeout` when the rest of the stack has not answered within `deadline`; the
/// unfinished work (a store call, say) is dropped with the request.
async fn request_deadline(
    deadline: std::time::Duration,
    request: Request,
    next: axum::middleware::Next,
) -> Response {
    match tokio::time::timeout(deadline, next.run(request)).await {
        Ok(response) => response,
        Err(elapsed) => ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: Cow::Borrowed("timeout"),
            message: "the request took too long; try again shortly".into(),
            source: Some(Box::new(elapsed)),
        }
        .into_response(),
    }
}

/// Wraps a function's router with the edge every host (Lambda or local) shares.
pub fn edge(router: Router) -> Router {
    edge_with_deadline(router, REQUEST_DEADLINE)
}

/// The edge with another request deadline (tests use a short one).
pub fn edge_with_deadline(router: Router, deadline: std::time::Duration) -> Router {
    router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(request_limits))
        .layer(axum::middleware::from_fn(move |request, next| {
            request_deadline(deadline, request, next)
        }))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(axum::middleware::from_fn(crate::observe::access_log))
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_application_json_is_json() {
        let headers = |value: &'static str| {
            let mut headers = axum::http::HeaderMap::new();
            headers.insert(
                axum::http::header::CONTENT_TYPE,
                axum::http::HeaderValue::from_static(value),
            );
            headers
        };
        for ok in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON;charset=UTF-8",
            " application/json ",
        ] {
            assert!(super::is_json(&headers(ok)), "{ok}");
        }
        for refused in [
            "application/json-patch+json",
            "application/merge-patch+json",
            "application/vnd.api+json",
            "application/jsonx",
            "text/json",
            "text/plain",
            "application/x-www-form-urlencoded",
            "",
        ] {
            assert!(!super::is_json(&headers(refused)), "{refused}");
        }
        assert!(!super::is_json(&axum::http::HeaderMap::new()));
    }

    #[test]
    fn serde_messages_lose_their_numbers() {
        let redacted = super::redact_numbers(
            "agents[0].id_number: invalid type: integer `440305199007022423`, expected a string at line 1 column 80",
        );
        assert!(!redacted.contains("440305199007022423"), "{redacted}");
        assert!(redacted.contains("agents[0].id_number: invalid type: integer `4403"));
        assert!(redacted.ends_with("line 1 column 80"));
    }
}

/// The query of a route that pages: the opaque cursor of the previous page (none for the first).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CursorQuery {
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}
