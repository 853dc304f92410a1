//! The export Lambda receives two kinds of events: API Gateway HTTP requests (the routes) and SQS
//! batches (the worker). This tells them apart and answers each in its own format, so one
//! function owns exports end to end.

use super::{ExportServices, JobMessage, worker};
use crate::app::Core;
use aws_lambda_events::apigw::ApiGatewayV2httpResponse;
use aws_lambda_events::encodings::Body;
use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("not an event this function takes: {0}")]
    Unrecognised(String),
}

fn is_sqs(event: &Value) -> bool {
    event
        .get("Records")
        .and_then(Value::as_array)
        .and_then(|r| r.first())
        .and_then(|r| r.get("eventSource"))
        .and_then(Value::as_str)
        == Some("aws:sqs")
}

/// Handles one Lambda event of either kind.
pub async fn handle(
    state: &Core,
    services: &ExportServices,
    router: axum::Router,
    event: Value,
) -> Result<Value, EventError> {
    if is_sqs(&event) {
        let batch: SqsEvent =
            serde_json::from_value(event).map_err(|e| EventError::Unrecognised(e.to_string()))?;
        let response = handle_sqs(state, services, batch).await;
        Ok(serde_json::to_value(response).expect("a batch response serialises"))
    } else {
        let request = lambda_http::request::from_str(&event.to_string())
            .map_err(|e| EventError::Unrecognised(e.to_string()))?;
        let response =
            handle_http(router, request.map(|b| axum::body::Body::from(b.to_vec()))).await;
        Ok(serde_json::to_value(response).expect("an HTTP response serialises"))
    }
}

/// Runs a request through the router and shapes the answer for API Gateway (HTTP API).
pub async fn handle_http(
    router: axum::Router,
    request: axum::http::Request<axum::body::Body>,
) -> ApiGatewayV2httpResponse {
    let response = router
        .oneshot(request)
        .await
        .expect("the router is infallible");
    let (parts, body) = response.into_parts();
    let bytes = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let mut out = ApiGatewayV2httpResponse::default();
    out.status_code = i64::from(parts.status.as_u16());
    out.headers = parts.headers;
    match String::from_utf8(bytes.to_vec()) {
        Ok(text) => out.body = Some(Body::Text(text)),
        Err(e) => {
            out.body = Some(Body::Binary(e.into_bytes()));
            out.is_base64_encoded = true;
        }
    }
    out
}

/// Processes a batch of job messages; the ones to deliver again are reported as batch item
/// failures (the queue's redrive policy sends a message that keeps failing to the DLQ).
pub async fn handle_sqs(
    state: &Core,
    services: &ExportServices,
    batch: SqsEvent,
) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for record in batch.records {
        let id = record.message_id.clone().unwrap_or_default();
        let message: Result<JobMessage, _> =
            serde_json::from_str(record.body.as_deref().unwrap_or_default());
        let redeliver = match message {
            // A message that can never be processed is dropped, loudly, not retried forever.
            Err(e) => {
                tracing::error!(message_id = %id, error = %e, "malformed export message dropped");
                false
            }
            Ok(message) => match worker::process(state, services, &message).await {
                Ok(outcome) => {
                    tracing::info!(message_id = %id, job = %message.job_id, ?outcome, "export message processed");
                    outcome.redeliver()
                }
                Err(e) => {
                    tracing::error!(message_id = %id, job = %message.job_id, error = %e, "export message failed");
                    true
                }
            },
        };
        if redeliver {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            response.batch_item_failures.push(failure);
        }
    }
    response
}
