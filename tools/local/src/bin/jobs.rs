//! The job Lambdas (sync, relabel, rekey, sunset) over HTTP, so their state machines run locally
//! in a States Language engine (`scripts/state_machines.sh`, with
//! `web/scripts/state-machines.mjs`): each Task state's payload is posted to `/{function}` and
//! answered as Lambda answers the state machine — the function's result, or (status 500)
//! `{"errorType": "Retryable" | "Fatal", "errorMessage"}`, the error its `main.rs` reports
//! (`fangyitong::app::job_failure`). The handlers are the Lambdas' own, over the local DynamoDB
//! engine and moto, on the demo enterprise with 200 employees, two PCR deliveries waiting in the
//! inbound bucket, and a person-key secret with a second generation added.
//!
//! Time is a manual clock: `POST /tick?advance=N` moves it N seconds, standing in for a Wait
//! state the engine is told to skip. Prints `listening on <port>` once ready.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router, routing::post};
use fangyitong::app::Core;
use fangyitong::app::job_failure;
use fangyitong::clock::{Clock, ManualClock};
use fangyitong::config::Settings;
use fangyitong::ids::PersonKeyer;
use fangyitong::rekey::{self, RekeyContext};
use fangyitong::relabel;
use fangyitong::sunset::{self, SunsetContext};
use fangyitong::sync::{self, SyncContext};
use lambda_http::lambda_runtime::Diagnostic;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;

#[derive(Clone)]
struct Jobs {
    clock: ManualClock,
    sync: SyncContext,
    relabel: Core,
    rekey: RekeyContext,
    sunset: SunsetContext,
}

#[derive(Deserialize)]
struct Call {
    #[serde(default)]
    advance: i64,
}

/// Moves the clock (a Wait state the engine skipped).
async fn tick(State(jobs): State<Jobs>, Query(call): Query<Call>) -> Json<Value> {
    jobs.clock.advance(chrono::Duration::seconds(call.advance));
    Json(serde_json::json!({ "now": jobs.clock.now() }))
}

/// A Task's payload as the Lambda's request type (a payload it cannot read fails for good).
fn request<R: DeserializeOwned>(payload: Value) -> Result<R, Diagnostic> {
    serde_json::from_value(payload).map_err(|e| job_failure(false, e))
}

/// A handler's answer as its `main.rs` reports it: the result, or a retryable or fatal error.
fn answer<T: Serialize, E: std::fmt::Display>(
    result: Result<T, E>,
    retryable: impl FnOnce(&E) -> bool,
) -> Result<Value, Diagnostic> {
    match result {
        Ok(result) => Ok(serde_json::to_value(result).expect("a handler's answer is JSON")),
        Err(e) => Err(job_failure(retryable(&e), e)),
    }
}

/// Runs `function`'s handler on `payload` (`None`: no such function).
async fn run(jobs: &Jobs, function: &str, payload: Value) -> Result<Option<Value>, Diagnostic> {
    let relabel = &jobs.relabel;
    Ok(Some(match function {
        "sync" => answer(sync::handle(&jobs.sync, request(payload)?).await, |e| {
            e.is_retryable()
        })?,
        "relabel" => {
            let (now, rules) = (jobs.clock.now(), &relabel.settings.health_rules);
            let request = request(payload)?;
            answer(
                relabel::handle(&relabel.store, now, rules, request).await,
                |e| e.is_retryable(),
            )?
        }
        "rekey" => answer(rekey::handle(&jobs.rekey, request(payload)?).await, |e| {
            e.is_retryable()
        })?,
        "sunset" => answer(sunset::handle(&jobs.sunset, request(payload)?).await, |e| {
            e.is_retryable()
        })?,
        _ => return Ok(None),
    }))
}

async fn invoke(
    State(jobs): State<Jobs>,
    Path(function): Path<String>,
    Json(payload): Json<Value>,
) -> Response {
    match run(&jobs, &function, payload).await {
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Ok(Some(result)) => Json(result).into_response(),
        Err(failure) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(serde_json::json!({
                "errorType": failure.error_type,
                "errorMessage": failure.error_message,
            })),
        )
            .into_response(),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let local_aws = local::LocalAws::start(&local::dynamo::Storage::Memory, 0)?;
    let aws = local_aws.sdk_config().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    let table = "fangyitong-jobs";
    local::ensure_table(&dynamodb, table).await?;
    let clock = ManualClock::new(chrono::Utc::now());
    let core = Core::new(
        dynamodb,
        table,
        Settings::default(),
        Arc::new(clock.clone()),
    );
    let exports =
        local::exports::setup(&aws, local::LOCAL_BUCKET, "fangyitong-jobs-exports").await?;
    let state = local::Functions::start(core, exports, &aws).await?;
    let cast = local::demo::Cast::new(clock.now());
    local::demo::seed_registry(&state, &cast).await?;
    local::demo::seed_agent(&state, &cast).await?;
    local::demo::seed_employees(&state, &cast, 200).await?;
    fangyitong::relabel::run(
        &state.core.store,
        clock.now(),
        &state.core.settings.health_rules,
    )
    .await?;
    let s3 = local::s3_client(&aws);
    let bucket = "fangyitong-jobs-data";
    s3.create_bucket().bucket(bucket).send().await?;
    // Two PCR deliveries for the sync to apply: the agent's and the employee's samplings.
    let sampled = clock.now() - chrono::Duration::hours(3);
    for (n, person) in [&cast.agent, &cast.employee].into_iter().enumerate() {
        let line = serde_json::json!({"id_type": "resident_id", "id_number": person.id_number,
            "sampled_at": sampled, "result_at": sampled + chrono::Duration::hours(1),
            "result": "negative", "site": "福田区会展中心", "city": "深圳市"});
        let key = format!(
            "inbound/pcr/{}-{:04}.jsonl",
            sampled.format("%Y%m%dT%H%M%SZ"),
            n + 1
        );
        s3.put_object()
            .bucket(bucket)
            .key(key)
            .body(format!("{line}\n").into_bytes().into())
            .send()
            .await?;
    }
    let secrets = serde_json::json!([
        local::demo::DEV_PERSON_KEY_SECRET,
        "the-second-generation-of-the-person-key-secret"
    ]);
    let jobs = Jobs {
        sync: SyncContext {
            store: state.core.store.clone(),
            s3: s3.clone(),
            bucket: bucket.into(),
            keyer: state.keyer.clone(),
            uscc_policy: state.core.uscc_policy.clone(),
            clock: Arc::new(clock.clone()),
        },
        relabel: state.core.clone(),
        rekey: RekeyContext {
            store: state.core.store.clone(),
            keyer: PersonKeyer::from_secret(&secrets.to_string())?,
            clock: Arc::new(clock.clone()),
        },
        sunset: SunsetContext {
            store: state.core.store.clone(),
            s3,
            bucket: bucket.into(),
            clock: Arc::new(clock.clone()),
        },
        clock,
    };
    let app = Router::new()
        .route("/tick", post(tick))
        .route("/{function}", post(invoke))
        .with_state(jobs);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("listening on {}", listener.local_addr()?.port());
    axum::serve(listener, app).await?;
    drop(local_aws);
    Ok(())
}
