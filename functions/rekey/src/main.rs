//! The rekey Lambda: the steps of `RekeyStateMachine`, which an operator starts after adding a
//! generation to the person-key secret (move every stored key to it, then settle).
//! Behaviour lives in `fangyitong::rekey`.

use fangyitong::config::ProcessEnv;
use fangyitong::rekey::{self, RekeyContext, RekeyRequest, RekeyStatus};
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};

async fn handler(
    ctx: &RekeyContext,
    event: LambdaEvent<RekeyRequest>,
) -> Result<RekeyStatus, Diagnostic> {
    rekey::handle(ctx, event.payload)
        .await
        .map_err(|e| fangyitong::app::job_failure(e.is_retryable(), e))
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let aws = fangyitong::aws::sdk_config().await;
    let ctx = RekeyContext::from_env(&aws, &ProcessEnv).await?;
    lambda_runtime::run(service_fn(|event| handler(&ctx, event))).await
}
