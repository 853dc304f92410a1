//! The authorize Lambda: agent authorisation (manual §2 and §9) and the operators' routes.
//! Behaviour lives in `fangyitong::authorize` and `fangyitong::ops`; this only builds the state once and serves the router.

use fangyitong::config::ProcessEnv;
use fangyitong::{app::LinkState, authorize, openapi, ops};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::tracing::init_default_subscriber();
    let aws = fangyitong::aws::sdk_config().await;
    let state = LinkState::from_env(&aws, &ProcessEnv).await?;
    let (router, _) = openapi::build(authorize::routes::routes().merge(ops::routes()), state);
    lambda_http::run(router).await
}
