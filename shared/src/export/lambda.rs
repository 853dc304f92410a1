//! The export worker Lambda's events: SQS batches of job messages, each a job to make and mail.
//! A batch answers which messages the queue should deliver again (`ReportBatchItemFailures`).

use super::{JobMessage, WorkerState, worker};
use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};

/// Processes a batch of job messages; the ones to deliver again are reported as batch item
/// failures (the queue's redrive policy sends a message that keeps failing to the DLQ).
pub async fn handle_batch(state: &WorkerState, batch: SqsEvent) -> SqsBatchResponse {
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
            Ok(message) => match worker::process(&state.core, &state.mail, &message).await {
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
