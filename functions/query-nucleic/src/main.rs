//! The query-nucleic Lambda: employees' PCR-test recency for the legal rep and agents (manual
//! §4). Behaviour lives in `fangyitong::query_nucleic`; this only builds the state once and serves
//! the router.

use fangyitong::config::ProcessEnv;
use fangyitong::{app::ApiState, openapi, query_nucleic};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::tracing::init_default_subscriber();
    let aws = fangyitong::aws::sdk_config().await;
    let state = ApiState::from_env(&aws, &ProcessEnv).await?;
    let (router, _) = openapi::build(query_nucleic::routes(), state);
    lambda_http::run(router).await
}
