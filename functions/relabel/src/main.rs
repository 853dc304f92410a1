//! The relabel Lambda: recomputes PCR labels, "in Shenzhen" and vaccination states every four
//! hours (Shenzhen time), at a cost proportional to what changes. Behaviour lives in
//! `fangyitong::relabel`.

use fangyitong::app::Core;
use fangyitong::config::ProcessEnv;
use fangyitong::relabel::{self, RelabelReport, RelabelRequest};
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};

async fn handler(
    state: &Core,
    event: LambdaEvent<RelabelRequest>,
) -> Result<RelabelReport, Diagnostic> {
    let now = state.clock.now();
    relabel::handle(
        &state.store,
        now,
        &state.settings.health_rules,
        event.payload,
    )
    .await
    .map_err(|e| fangyitong::app::job_failure(e.is_retryable(), e))
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let aws = fangyitong::aws::sdk_config().await;
    let state = Core::from_env(&aws, &ProcessEnv)?;
    lambda_runtime::run(service_fn(|event| handler(&state, event))).await
}
