//! The query-sites Lambda: sampling sites and control zones (manual §7 and §8). Behaviour lives
//! in `fangyitong::query_sites`; this only builds the state once and serves the router.

use fangyitong::config::ProcessEnv;
use fangyitong::{app::VerifiedState, openapi, query_sites};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::tracing::init_default_subscriber();
    let aws = fangyitong::aws::sdk_config().await;
    let state = VerifiedState::from_env(&aws, &ProcessEnv).await?;
    let (router, _) = openapi::build(query_sites::routes(), state);
    lambda_http::run(router).await
}
