//! What the operator on call sees: one JSON access-log line per request, and the metrics the
//! alarms in `template.yaml` watch, in CloudWatch's embedded metric format (EMF).
//!
//! An access line names the request id, the route *pattern* (`/nucleic/enterprises/{uscc}/…`,
//! never the path as sent, which may carry anything), the status, the latency, and the
//! enterprise as a hash of its USCC — enough to follow one enterprise's trouble across lines
//! without putting its identity in every log. No line holds an ID number, a token or a body.

use axum::extract::{FromRequestParts, MatchedPath, RawPathParams, Request};
use axum::middleware::Next;
use axum::response::Response;
use sha2::{Digest, Sha256};
use std::time::Instant;

/// The namespace of this service's own metrics.
pub const METRIC_NAMESPACE: &str = "fangyitong";

/// Logs one line for the request once it is answered (layered outside the deadline and the panic
/// catcher, so a 503 or a 500 is logged as sent).
pub async fn access_log(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned());
    let request_id = request_id(&request);
    let (mut parts, body) = request.into_parts();
    let enterprise = RawPathParams::from_request_parts(&mut parts, &())
        .await
        .ok()
        .and_then(|params| {
            params
                .iter()
                .find(|(name, _)| *name == "uscc")
                .map(|(_, uscc)| enterprise_hash(uscc))
        });
    let response = next.run(Request::from_parts(parts, body)).await;
    tracing::info!(
        target: "access",
        request_id = %request_id,
        method = %method,
        route = route.as_deref().unwrap_or("(no route)"),
        status = response.status().as_u16(),
        latency_ms = started.elapsed().as_secs_f64() * 1000.0,
        enterprise = enterprise.as_deref().unwrap_or(""),
        "answered"
    );
    response
}

/// The Lambda request id when running in Lambda; else the caller's `x-request-id`, if it looks
/// like one; else none.
fn request_id(request: &Request) -> String {
    if let Some(context) = request.extensions().get::<lambda_http::Context>() {
        return context.request_id.clone();
    }
    request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|id| id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        .unwrap_or("-")
        .to_string()
}

/// A stable, short pseudonym of an enterprise for logs: the first 16 hex digits of SHA-256 over
/// its canonical USCC.
pub fn enterprise_hash(uscc: &str) -> String {
    let digest = Sha256::digest(format!("enterprise:{}", uscc.trim().to_ascii_uppercase()));
    hex::encode(&digest[..8])
}

/// One value of a metric, as an EMF document: CloudWatch turns the log line into the metric
/// `METRIC_NAMESPACE/name` with the dimension `Function` = `function`.
pub fn metric_document(
    function: &str,
    name: &str,
    value: f64,
    unit: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> serde_json::Value {
    serde_json::json!({
        "_aws": {
            "Timestamp": at.timestamp_millis(),
            "CloudWatchMetrics": [{
                "Namespace": METRIC_NAMESPACE,
                "Dimensions": [["Function"]],
                "Metrics": [{"Name": name, "Unit": unit}],
            }],
        },
        "Function": function,
        name: value,
    })
}

/// Emits a metric value: the EMF document as one line on stdout, where Lambda's log capture
/// hands it to CloudWatch.
pub fn emit_metric(function: &str, name: &str, value: f64, unit: &str) {
    println!(
        "{}",
        metric_document(function, name, value, unit, chrono::Utc::now())
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_enterprise_hash_is_stable_short_and_case_blind() {
        let a = enterprise_hash("91440300MA5EXAMPLE");
        assert_eq!(a.len(), 16);
        assert_eq!(a, enterprise_hash(" 91440300ma5example "));
        assert_ne!(a, enterprise_hash("91440300MA5EXAMPLF"));
    }

    #[test]
    fn a_metric_document_is_emf() {
        let at = chrono::DateTime::from_timestamp(1_650_000_000, 0).unwrap();
        let doc = metric_document("sync", "DeliveriesApplied", 2.0, "Count", at);
        assert_eq!(doc["_aws"]["Timestamp"], 1_650_000_000_000_i64);
        let directive = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], METRIC_NAMESPACE);
        assert_eq!(directive["Dimensions"][0][0], "Function");
        assert_eq!(directive["Metrics"][0]["Name"], "DeliveriesApplied");
        assert_eq!(doc["Function"], "sync");
        assert_eq!(doc["DeliveriesApplied"], 2.0);
    }
}
