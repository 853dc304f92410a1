//! The export Lambda: the export routes (manual §4, §5), which record a job and queue it.
//! Behaviour lives in `fangyitong::export`; this only builds the state once and serves the
//! router. The export worker Lambda makes and mails the files.

use fangyitong::config::ProcessEnv;
use fangyitong::export::{self, ExportState};
use fangyitong::openapi;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::tracing::init_default_subscriber();
    let aws = fangyitong::aws::sdk_config().await;
    let state = ExportState::from_env(&aws, &ProcessEnv).await?;
    let (router, _) = openapi::build(export::routes(), state);
    lambda_http::run(router).await
}
