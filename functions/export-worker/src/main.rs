//! The export worker Lambda: takes export jobs off the queue, streams their rows into CSV and
//! XLSX in S3 and mails them (manual §4, §5). Behaviour lives in `fangyitong::export::worker`;
//! this only builds the state once and hands each SQS batch to `export::lambda::handle_batch`.
//! It has no routes, no identity provider and no secrets.

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use fangyitong::config::ProcessEnv;
use fangyitong::export::{self, WorkerState};
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let aws = fangyitong::aws::sdk_config().await;
    let state = WorkerState::from_env(&aws, &ProcessEnv)?;
    let state = &state;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<SqsBatchResponse, Error>(export::lambda::handle_batch(state, event.payload).await)
    }))
    .await
}
