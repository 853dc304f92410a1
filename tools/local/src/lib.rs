//! The local stack, shared by `cargo run -p local` (what `make dev` runs), the tests and the
//! benchmarks: the local DynamoDB engine and moto's server on loopback, storage created from the
//! same definitions `template.yaml` uses, demo personas and data.

pub mod bucket;
pub mod demo;
pub mod dynamo;
pub mod exports;
pub mod faults;
pub mod functions;
pub mod generate;
pub mod idp;
pub mod requests;
pub mod secrets;
pub mod server_process;
pub mod tokens;

use aws_sdk_dynamodb::config::Credentials;
use axum::routing::get;
use axum::{Json, Router};
use std::path::PathBuf;

/// The repository's root (this crate lives in `tools/local`).
pub fn repo_root() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

/// The region the local stack uses. moto accepts any; SES needs one it models.
pub const LOCAL_REGION: &str = "us-east-1";

/// Where the local stack's AWS APIs answer: DynamoDB on the local engine (dynoxide), S3, SQS
/// and SES on moto's server.
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub dynamodb: String,
    pub others: String,
}

/// The SDK asks its service configuration for `AWS_ENDPOINT_URL` per service; from the
/// environment that lookup yields `AWS_ENDPOINT_URL_DYNAMODB` for DynamoDB and `AWS_ENDPOINT_URL`
/// for the rest. The local stack answers the same lookup from [`Endpoints`], so it needs no
/// process-wide variables (tests run in parallel in one process) and the clients resolve their
/// endpoints exactly as the Lambdas' do from their environment.
impl aws_types::service_config::LoadServiceConfig for Endpoints {
    fn load_config(&self, key: aws_types::service_config::ServiceConfigKey<'_>) -> Option<String> {
        if key.env() != "AWS_ENDPOINT_URL" {
            return None;
        }
        Some(match key.service_id() {
            "DynamoDB" => self.dynamodb.clone(),
            _ => self.others.clone(),
        })
    }
}

/// The endpoint the standard variables name for `variable`, as the SDK reads them: the
/// per-service variable, else `AWS_ENDPOINT_URL`.
pub fn named_endpoint(variable: &str) -> Option<String> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    var(variable).or_else(|| var("AWS_ENDPOINT_URL"))
}

/// The local AWS endpoints, and the servers behind them, which run as long as this lives.
pub struct LocalAws {
    pub endpoints: Endpoints,
    _dynamodb: Option<dynamo::LocalDynamo>,
    _moto: Option<server_process::MotoServer>,
}

impl LocalAws {
    /// The endpoints the standard variables name, as the SDK reads them
    /// (`AWS_ENDPOINT_URL_DYNAMODB`, else `AWS_ENDPOINT_URL`, for DynamoDB; `AWS_ENDPOINT_URL`
    /// for the rest); for each one not named, a server started here: the local DynamoDB engine
    /// on `storage`, moto on `moto_port` (0: any free port).
    pub fn start(storage: &dynamo::Storage, moto_port: u16) -> Result<Self, String> {
        Self::start_sweeping(storage, moto_port, Some(dynamo::TTL_SWEEP_EVERY))
    }

    /// The same, the local engine deleting expired items every `sweep_every`, or never.
    pub fn start_sweeping(
        storage: &dynamo::Storage,
        moto_port: u16,
        sweep_every: Option<std::time::Duration>,
    ) -> Result<Self, String> {
        let (dynamodb, local_dynamodb) = match named_endpoint("AWS_ENDPOINT_URL_DYNAMODB") {
            Some(endpoint) => (endpoint, None),
            None => {
                let server = dynamo::LocalDynamo::start_sweeping_every(storage, sweep_every)
                    .map_err(|e| e.to_string())?;
                (server.endpoint.clone(), Some(server))
            }
        };
        Self::start_around(dynamodb, local_dynamodb, moto_port)
    }

    /// The same, with DynamoDB at `dynamodb` (a local engine the caller runs elsewhere).
    pub fn start_with_dynamodb(dynamodb: String, moto_port: u16) -> Result<Self, String> {
        Self::start_around(dynamodb, None, moto_port)
    }

    fn start_around(
        dynamodb: String,
        local_dynamodb: Option<dynamo::LocalDynamo>,
        moto_port: u16,
    ) -> Result<Self, String> {
        let (others, local_moto) = match named_endpoint("AWS_ENDPOINT_URL") {
            Some(endpoint) => (endpoint, None),
            None => {
                let server =
                    server_process::MotoServer::start(moto_port).map_err(|e| e.to_string())?;
                (server.endpoint.clone(), Some(server))
            }
        };
        Ok(Self {
            endpoints: Endpoints { dynamodb, others },
            _dynamodb: local_dynamodb,
            _moto: local_moto,
        })
    }

    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        sdk_config(&self.endpoints).await
    }
}

/// SDK configuration for the local endpoints, with static dummy credentials and the functions'
/// own timeouts (`fangyitong::aws`), so a stalled local server fails a call as it would in AWS.
pub async fn sdk_config(endpoints: &Endpoints) -> aws_config::SdkConfig {
    fangyitong::aws::loader()
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
        .into_builder()
        .service_config(endpoints.clone())
        .build()
}

/// Creates the table unless it exists; whether it created it.
pub async fn ensure_table(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Result<bool, aws_sdk_dynamodb::Error> {
    // A listing rather than DescribeTable: "not found" is the expected answer on a first
    // start, and an error response would be logged as one.
    let mut pages = client.list_tables().into_paginator().items().send();
    while let Some(name) = pages.next().await {
        if name? == table {
            return Ok(false);
        }
    }
    fangyitong::table::definition()
        .create(client, table)
        .await?;
    Ok(true)
}

pub use functions::{Functions, api};

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

/// Generates a delivery of every feed for `population` (the demo enterprise first), with
/// `pcr_records` samplings in the `pcr_within` before `now`, and uploads them under the inbound
/// prefix, named by `now`.
pub async fn upload_demo_deliveries(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    population: &mut generate::Population,
    (pcr_records, pcr_within): (usize, chrono::Duration),
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
        // Doses before samplings: the doses do not depend on `now`, so a restart (same seed)
        // delivers the same doses again, and they cost no write.
        (
            "vaccination",
            generate::jsonl(population.vaccination_lines()),
        ),
        (
            "pcr",
            generate::jsonl(population.pcr_lines(pcr_records, now, pcr_within)),
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
