//! The query-vaccine Lambda: employees' vaccination status for the legal rep and agents, agent-
//! entered doses, and every person's own record and corrections (manual §5, §6). Behaviour lives
//! in `fangyitong::query_vaccine`; this only builds the state once and serves the router.

use fangyitong::config::ProcessEnv;
use fangyitong::{app::ApiState, openapi, query_vaccine};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::tracing::init_default_subscriber();
    let aws = fangyitong::aws::sdk_config().await;
    let state = ApiState::from_env(&aws, &ProcessEnv).await?;
    let (router, _) = openapi::build(query_vaccine::routes(), state);
    lambda_http::run(router).await
}
