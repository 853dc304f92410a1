//! The sync Lambda: applies upstream deliveries from S3 (scheduled 02:30 and 14:30 Shenzhen
//! time, or by hand for one delivery). Behaviour lives in `fangyitong::sync`.

use fangyitong::config::ProcessEnv;
use fangyitong::sync::{self, SyncContext, SyncRequest};
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};

async fn handler(
    ctx: &SyncContext,
    event: LambdaEvent<SyncRequest>,
) -> Result<sync::SyncOutput, Diagnostic> {
    sync::handle(ctx, event.payload)
        .await
        .map_err(|e| fangyitong::app::job_failure(e.is_retryable(), e))
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let aws = fangyitong::aws::sdk_config().await;
    let ctx = SyncContext::from_env(&aws, &ProcessEnv).await?;
    lambda_runtime::run(service_fn(|event| handler(&ctx, event))).await
}
