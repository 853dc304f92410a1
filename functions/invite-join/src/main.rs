//! The invite-join Lambda: invitations and posters, joining with consent, hand-added and removed
//! employees (manual §4.2, §5.2, §6). Behaviour lives in `fangyitong::invite`; this only builds
//! the state once and serves the router.

use fangyitong::config::ProcessEnv;
use fangyitong::{app::LinkState, invite, openapi};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::tracing::init_default_subscriber();
    let aws = fangyitong::aws::sdk_config().await;
    let state = LinkState::from_env(&aws, &ProcessEnv).await?;
    let (router, _) = openapi::build(invite::routes(), state);
    lambda_http::run(router).await
}
