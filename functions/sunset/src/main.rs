//! The sunset Lambda: the steps of `SunsetStateMachine`, which an operator starts when the city
//! ends the service (stop the jobs, give every item its deadline, empty the inbound deliveries).
//! Behaviour lives in `fangyitong::sunset`.

use fangyitong::config::ProcessEnv;
use fangyitong::sunset::{self, SunsetContext, SunsetRequest, SunsetStatus};
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};

async fn handler(
    ctx: &SunsetContext,
    event: LambdaEvent<SunsetRequest>,
) -> Result<SunsetStatus, Diagnostic> {
    sunset::handle(ctx, event.payload)
        .await
        .map_err(|e| fangyitong::app::job_failure(e.is_retryable(), e))
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let aws = fangyitong::aws::sdk_config().await;
    let ctx = SunsetContext::from_env(&aws, &ProcessEnv)?;
    lambda_runtime::run(service_fn(|event| handler(&ctx, event))).await
}
