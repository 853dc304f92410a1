//! The local stack, shared by `cargo run -p local` (what `make dev` runs) and the tests:
//! moto's server on loopback, storage created from the same definitions `template.yaml` uses,
//! demo personas and data.

pub mod demo;
pub mod exports;
pub mod generate;
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
    fangyitong::authorize::routes::routes()
        .merge(fangyitong::ops::routes())
        .merge(fangyitong::query_sites::routes())
        .merge(fangyitong::query_nucleic::routes())
        .merge(fangyitong::query_vaccine::routes())
        .merge(fangyitong::invite::routes())
        .merge(fangyitong::export::routes())
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

/// `/dev/mails` (the mails the local SES endpoint "sent", parsed) and
/// `/dev/mails/{id}/attachments/{n}` (one attachment, as sent). Local only, never deployed.
pub fn mail_routes(endpoint: String) -> Router {
    use axum::extract::Path;
    use axum::http::{StatusCode, header};
    use axum::response::IntoResponse;
    let list_endpoint = endpoint.clone();
    Router::new()
        .route(
            "/dev/mails",
            get(move || {
                let endpoint = list_endpoint.clone();
                async move {
                    match exports::sent_mails(&endpoint).await {
                        Ok(mails) => Json(serde_json::json!({"items": mails})).into_response(),
                        Err(e) => (StatusCode::BAD_GATEWAY, e).into_response(),
                    }
                }
            }),
        )
        .route(
            "/dev/mails/{id}/attachments/{n}",
            get(move |Path((id, n)): Path<(String, usize)>| {
                let endpoint = endpoint.clone();
                async move {
                    let mails = exports::sent_mails(&endpoint).await.unwrap_or_default();
                    match mails
                        .into_iter()
                        .find(|m| m.id == id)
                        .and_then(|m| m.attachments.into_iter().nth(n))
                    {
                        Some(a) => (
                            [
                                (header::CONTENT_TYPE, a.content_type),
                                (
                                    header::CONTENT_DISPOSITION,
                                    format!("attachment; filename=\"{}\"", a.name),
                                ),
                            ],
                            a.bytes,
                        )
                            .into_response(),
                        None => {
                            (StatusCode::NOT_FOUND, "no such mail or attachment").into_response()
                        }
                    }
                }
            }),
        )
}

/// The bucket the local stack's sync reads deliveries from.
pub const LOCAL_BUCKET: &str = "fangyitong-local-data";

/// An S3 client for the endpoint (path-style addressing: moto serves buckets on its own host).
pub fn s3_client(aws: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(aws)
            .force_path_style(true)
            .build(),
    )
}

/// Generates a delivery of every feed for `population` (the demo enterprise first) and uploads
/// them under the inbound prefix, named by `now`.
pub async fn upload_demo_deliveries(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    population: &mut generate::Population,
    pcr_records: usize,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<String>, aws_sdk_s3::Error> {
    let stamp = now.format("%Y%m%dT%H%M%SZ").to_string();
    let month = now.format("%Y-%m").to_string();
    let feeds: Vec<(&str, Vec<u8>)> = vec![
        (
            "registry",
            generate::jsonl(population.registry_lines().collect::<Vec<_>>()),
        ),
        (
            "roster",
            generate::jsonl(population.roster_lines(&month).collect::<Vec<_>>()),
        ),
        (
            "pcr",
            generate::jsonl(population.pcr_lines(pcr_records, now)),
        ),
        (
            "vaccination",
            generate::jsonl(population.vaccination_lines()),
        ),
        ("sites", generate::jsonl(generate::site_lines(7, 2, now))),
        ("zones", generate::jsonl(generate::zone_lines(now))),
    ];
    let mut keys = Vec::new();
    for (feed, body) in feeds {
        let key = format!("inbound/{feed}/{stamp}-0001.jsonl");
        s3.put_object()
            .bucket(bucket)
            .key(&key)
            .body(body.into())
            .send()
            .await?;
        keys.push(key);
    }
    Ok(keys)
}
