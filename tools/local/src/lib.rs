//! The local stack, shared by `cargo run -p local` (what `make dev` runs) and the tests:
//! moto's server on loopback, storage created from the same definitions `template.yaml` uses,
//! demo personas and data.

pub mod demo;
pub mod moto;

use aws_sdk_dynamodb::config::Credentials;
use axum::routing::get;
use axum::{Json, Router};
use fangyitong::app::AppState;
use std::path::PathBuf;
use std::sync::Arc;

/// The repository's root (this crate lives in `tools/local`).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The region the local stack uses. moto accepts any; SES (a later issue) needs one it models.
pub const LOCAL_REGION: &str = "us-east-1";

/// SDK configuration for an AWS-API endpoint on loopback, with static dummy credentials.
pub async fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new(LOCAL_REGION))
        .credentials_provider(Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "local-stack",
        ))
        .load()
        .await
}

/// Creates the table unless it exists.
pub async fn ensure_table(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Result<(), aws_sdk_dynamodb::Error> {
    let existing = client.list_tables().send().await?;
    if existing.table_names().iter().any(|t| t == table) {
        return Ok(());
    }
    fangyitong::table::definition().create(client, table).await
}

/// Every function's routes, as API Gateway would route them to the separate Lambdas.
pub fn function_routes() -> utoipa_axum::router::OpenApiRouter<AppState> {
    fangyitong::authorize::routes::routes().merge(fangyitong::ops::routes())
}

/// The local API: every function's routes on one router, plus `/openapi.json` and
/// `/dev/tokens` (fresh demo tokens; local only, never deployed).
pub fn api(state: AppState) -> Router {
    let (routes, doc) = fangyitong::openapi::build(function_routes(), state);
    let doc = Arc::new(doc);
    Router::new()
        .route(
            "/openapi.json",
            get(move || std::future::ready(Json(doc.clone()))),
        )
        .route(
            "/dev/tokens",
            get(|| std::future::ready(Json(demo::fresh_tokens(chrono::Utc::now())))),
        )
        .merge(routes)
}
