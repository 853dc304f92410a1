//! The export Lambda: the export routes (API Gateway) and the export worker (SQS) in one
//! function. Behaviour lives in `fangyitong::export`; this only builds the state once and hands
//! each event to `export::lambda::handle`, which tells the two kinds apart.

use fangyitong::config::ProcessEnv;
use fangyitong::export::{self, ExportState};
use fangyitong::openapi;
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let aws = fangyitong::aws::sdk_config().await;
    let state = ExportState::from_env(&aws, &ProcessEnv).await?;
    let (router, _) = openapi::build(export::routes(), state.clone());
    let (state, router) = (&state, &router);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        export::lambda::handle(&state.core, &state.services, router.clone(), event.payload)
            .await
            .map_err(|e| Diagnostic {
                error_type: "UnrecognisedEvent".into(),
                error_message: e.to_string(),
            })
    }))
    .await
}
