//! `make coldstart`: each function's release binary started cold, again and again, under a Lambda
//! Runtime API emulator on loopback, against the local stack; and the baseline
//! (`tools/coldstart-baseline`: `lambda_runtime`, the SDK and one GetItem) in the same run.
//!
//! Per start it times, from `exec`:
//! - **init**: to the runtime's first `GET /2018-06-01/runtime/invocation/next` (what Lambda
//!   reports as Init Duration);
//! - **first response**: to the `POST …/response` answering a first real event from `events/`
//!   (one per function that reads the table, so the first DynamoDB request is in it).
//!
//! The process is then killed and started again. Medians and 90th percentiles over the runs, the
//! binary's size and its deflated size (what a deployment zip holds) go to stdout as a Markdown
//! table (docs/build.md keeps the figures and how to read them).
//!
//! Usage: `coldstart [RUNS] [FUNCTION…]` (30 runs, every function and the baseline).
//! `COLDSTART_BIN_DIR` (default `target/release`) is where the binaries are, so other profiles
//! can be compared (`target/release-abort`, …). `COLDSTART_LOGS=1` passes the functions' logs
//! through; `DYNAMODB_WARM_UP` and `BASELINE_WARM_UP` are passed to the functions when set.
//! Functions run natively (x86_64 here), not the arm64 artefacts `sam build` makes.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use fangyitong::app::Core;
use fangyitong::clock::SystemClock;
use fangyitong::config::Settings;
use local::bucket::BucketSettings;
use local::demo::{self, Cast};
use local::dynamo::Storage;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const TABLE: &str = "fangyitong-coldstart";
const QUEUE: &str = "fangyitong-coldstart-exports";
const BASELINE: &str = "coldstart-baseline";

/// The event each function answers first: one that reads the table.
const FIRST_EVENTS: &[(&str, &str)] = &[
    ("authorize", "authorize/01-find-enterprise.json"),
    ("query-nucleic", "query-nucleic/01-summary-agent.json"),
    ("query-vaccine", "query-vaccine/01-summary-agent.json"),
    ("query-sites", "query-sites/01-districts.json"),
    ("invite-join", "invite-join/02-list-invitations.json"),
    ("export", "export/02-list-exports.json"),
    ("export-worker", "export-worker/04-unknown-job.json"),
    ("sync", "sync/scheduled.json"),
    ("relabel", "relabel/scheduled.json"),
    // The first start begins a sunset of the harness's scratch table; the later ones read it
    // and answer its status. Last of the functions, so nothing else runs on a table sunset.
    ("sunset", "sunset/begin.json"),
    ("rekey", "rekey/begin.json"),
];

/// Functions whose first event is answered with a handled error after its table read, timed
/// like an answer: the re-key's begin reads the run and refuses, as the development secret has
/// no new generation (a re-key that began would rewrite the table under the next functions).
const ANSWERED_WITH_ERROR: &[&str] = &["rekey"];

/// What the emulator saw of one start.
enum Outcome {
    Response { at: Duration, body: String },
    Error { at: Duration, body: String },
    InitError { body: String },
}

/// The start in progress.
struct Run {
    started: Instant,
    request_id: String,
    event: Option<String>,
    first_next: Option<Duration>,
    done: Option<tokio::sync::oneshot::Sender<Outcome>>,
}

#[derive(Clone, Default)]
struct Emulator {
    run: Arc<Mutex<Option<Run>>>,
}

impl Emulator {
    fn finish(&self, outcome: impl FnOnce(Duration) -> Outcome) {
        let mut run = self.run.lock().unwrap();
        if let Some(run) = run.as_mut()
            && let Some(done) = run.done.take()
        {
            let _ = done.send(outcome(run.started.elapsed()));
        }
    }
}

/// `GET /2018-06-01/runtime/invocation/next`: the event, once; after it, a wait that ends when
/// the process is killed.
async fn next(State(emulator): State<Emulator>) -> axum::response::Response {
    let delivery = {
        let mut run = emulator.run.lock().unwrap();
        run.as_mut().and_then(|run| {
            if run.first_next.is_none() {
                run.first_next = Some(run.started.elapsed());
            }
            run.event.take().map(|e| (run.request_id.clone(), e))
        })
    };
    let Some((request_id, event)) = delivery else {
        return std::future::pending().await;
    };
    let deadline = chrono::Utc::now().timestamp_millis() + 10_000;
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: String| {
        headers.insert(name, HeaderValue::from_str(&value).unwrap());
    };
    set("lambda-runtime-aws-request-id", request_id);
    set("lambda-runtime-deadline-ms", deadline.to_string());
    set(
        "lambda-runtime-invoked-function-arn",
        "arn:aws:lambda:us-east-1:123456789012:function:coldstart".into(),
    );
    set(
        "lambda-runtime-trace-id",
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0".into(),
    );
    set("content-type", "application/json".into());
    (headers, event).into_response()
}

async fn response(
    State(emulator): State<Emulator>,
    Path(_id): Path<String>,
    body: String,
) -> StatusCode {
    emulator.finish(|at| Outcome::Response { at, body });
    StatusCode::ACCEPTED
}

async fn error(
    State(emulator): State<Emulator>,
    Path(_id): Path<String>,
    body: String,
) -> StatusCode {
    emulator.finish(|at| Outcome::Error { at, body });
    StatusCode::ACCEPTED
}

async fn init_error(State(emulator): State<Emulator>, body: String) -> StatusCode {
    emulator.finish(|_| Outcome::InitError { body });
    StatusCode::ACCEPTED
}

/// One function's figures.
struct Figures {
    name: String,
    size: u64,
    deflated: u64,
    init: Vec<Duration>,
    first: Vec<Duration>,
}

fn percentile(values: &[Duration], p: f64) -> Duration {
    let mut sorted = values.to_vec();
    sorted.sort();
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

/// The binary's size, and deflated at zip's default level (a deployment zip holds it so).
fn sizes(path: &std::path::Path) -> std::io::Result<(u64, u64)> {
    let bytes = std::fs::read(path)?;
    let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::new(6));
    encoder.write_all(&bytes)?;
    Ok((bytes.len() as u64, encoder.finish()?.len() as u64))
}

/// The template's variables of the function whose binary is `binary` (the globals included).
fn template_variables(binary: &str) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(local::repo_root().join("template.yaml"))
        .map_err(|e| e.to_string())?;
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).map_err(|e| e.to_string())?;
    let mut names: Vec<String> = doc["Globals"]["Function"]["Environment"]["Variables"]
        .as_mapping()
        .into_iter()
        .flat_map(|m| m.keys())
        .filter_map(|k| k.as_str().map(str::to_string))
        .collect();
    let resource = doc["Resources"]
        .as_mapping()
        .into_iter()
        .flat_map(|m| m.values())
        .find(|r| r["Metadata"]["BuildProperties"]["Binary"].as_str() == Some(binary))
        .ok_or_else(|| format!("template.yaml has no function built from {binary}"))?;
    names.extend(
        resource["Properties"]["Environment"]["Variables"]
            .as_mapping()
            .into_iter()
            .flat_map(|m| m.keys())
            .filter_map(|k| k.as_str().map(str::to_string)),
    );
    Ok(names)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (runs, chosen) = match args.first().and_then(|a| a.parse::<usize>().ok()) {
        Some(n) => (n.max(1), &args[1..]),
        None => (30, &args[..]),
    };
    let mut functions: Vec<&str> = FIRST_EVENTS.iter().map(|(f, _)| *f).collect();
    functions.push(BASELINE);
    if !chosen.is_empty() {
        functions.retain(|f| chosen.iter().any(|c| c == f));
    }
    let bin_dir = std::env::var("COLDSTART_BIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| local::repo_root().join("target/release"));
    let logs = std::env::var("COLDSTART_LOGS").is_ok_and(|v| v == "1");

    // The local stack: the table with the demo registry and agent, the bucket, the export queue,
    // the secrets on moto and the provider's JWK set, as `make dev` prepares them.
    let local_aws = local::LocalAws::start(&Storage::Memory, 0)?;
    let aws = local_aws.sdk_config().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    local::ensure_table(&dynamodb, TABLE).await?;
    let s3 = local::s3_client(&aws);
    local::bucket::ensure(&s3, local::LOCAL_BUCKET, &BucketSettings::from_template()?).await?;
    let services = local::exports::setup(&aws, local::LOCAL_BUCKET, QUEUE).await?;
    let queue_url = services.queue.queue_url.clone();
    let core = Core::new(dynamodb, TABLE, Settings::default(), Arc::new(SystemClock));
    let state = local::Functions::start(core, services, &aws).await?;
    let cast = Cast::new(state.core.clock.now());
    demo::seed_registry(&state, &cast).await?;
    demo::seed_agent(&state, &cast).await?;
    let secrets = local::secrets::provision(&aws).await?;
    let jwks_url = local::idp::DevIdentityProvider::shared()
        .jwks_url()
        .to_string();
    let endpoints = local_aws.endpoints.clone();

    let emulator = Emulator::default();
    let app = axum::Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(response),
        )
        .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .with_state(emulator.clone());
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let runtime_api = listener.local_addr()?.to_string();
    tokio::spawn(async move { axum::serve(listener, app).await });

    eprintln!(
        "cold starts: {runs} per function, binaries from {}, runtime API on {runtime_api}",
        bin_dir.display()
    );
    let mut table = Vec::new();
    for function in functions {
        let binary = bin_dir.join(function);
        let (size, deflated) =
            sizes(&binary).map_err(|e| format!("{}: {e} (build it first)", binary.display()))?;
        let mut env: BTreeMap<String, String> = [
            ("AWS_LAMBDA_RUNTIME_API", runtime_api.clone()),
            ("AWS_LAMBDA_FUNCTION_NAME", format!("fangyitong-{function}")),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256".into()),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
            ("AWS_LAMBDA_LOG_FORMAT", "JSON".into()),
            ("AWS_LAMBDA_LOG_LEVEL", "INFO".into()),
            ("AWS_REGION", local::LOCAL_REGION.into()),
            ("AWS_DEFAULT_REGION", local::LOCAL_REGION.into()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_SESSION_TOKEN", "testing".into()),
            ("AWS_ENDPOINT_URL", endpoints.others.clone()),
            ("AWS_ENDPOINT_URL_DYNAMODB", endpoints.dynamodb.clone()),
            ("TABLE_NAME", TABLE.into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        // The switches the comparisons in docs/build.md turn, passed through when set.
        for name in ["DYNAMODB_WARM_UP", "BASELINE_WARM_UP"] {
            if let Ok(value) = std::env::var(name) {
                env.insert(name.into(), value);
            }
        }
        let event_text = if function == BASELINE {
            "{}".to_string()
        } else {
            for name in template_variables(function)? {
                let value = match name.as_str() {
                    "TABLE_NAME" => TABLE.into(),
                    "JWT_ISSUER" => demo::DEV_ISSUER.into(),
                    "JWT_AUDIENCE" => demo::DEV_AUDIENCE.into(),
                    "JWT_JWKS_URL" => jwks_url.clone(),
                    "PERSON_KEY_SECRET_ARN" => secrets.person_key.clone(),
                    "LINK_SIGNING_SECRET_ARN" => secrets.link_signing.clone(),
                    "PUBLIC_BASE_URL" => "https://fangyitong.example.cn".into(),
                    "FACE_VERIFICATION_WINDOW_SECONDS" => "300".into(),
                    "EXPORT_BUCKET" | "DATA_BUCKET" => local::LOCAL_BUCKET.into(),
                    "EXPORT_QUEUE_URL" => queue_url.clone(),
                    "MAIL_SENDER" => local::exports::LOCAL_SENDER.into(),
                    "SES_REGION" => local::LOCAL_REGION.into(),
                    other => return Err(format!("{function}: no value for {other}").into()),
                };
                env.insert(name, value);
            }
            let file = FIRST_EVENTS
                .iter()
                .find(|(f, _)| *f == function)
                .map(|(_, file)| local::repo_root().join("events").join(file))
                .unwrap();
            let mut text = std::fs::read_to_string(&file)?;
            let tokens = demo::fresh_tokens(chrono::Utc::now());
            for (role, _) in cast.all() {
                let token = tokens[role]["token"].as_str().unwrap_or_default();
                text = text.replace(&format!("{{{{token:{role}}}}}"), token);
            }
            if text.contains("{{") {
                return Err(
                    format!("{}: a placeholder this bench fills not", file.display()).into(),
                );
            }
            text
        };

        let mut figures = Figures {
            name: function.to_string(),
            size,
            deflated,
            init: Vec::new(),
            first: Vec::new(),
        };
        for run in 0..runs {
            let (done, outcome) = tokio::sync::oneshot::channel();
            *emulator.run.lock().unwrap() = Some(Run {
                started: Instant::now(),
                request_id: format!("coldstart-{function}-{run}"),
                event: Some(event_text.clone()),
                first_next: None,
                done: Some(done),
            });
            let started = Instant::now();
            let mut command = tokio::process::Command::new(&binary);
            command.env_clear().envs(&env).kill_on_drop(true);
            if !logs {
                command.stdout(Stdio::null()).stderr(Stdio::null());
            }
            emulator.run.lock().unwrap().as_mut().unwrap().started = started;
            let mut child = command.spawn()?;
            let outcome = tokio::time::timeout(Duration::from_secs(20), outcome).await;
            child.kill().await.ok();
            let first_next = emulator
                .run
                .lock()
                .unwrap()
                .take()
                .and_then(|r| r.first_next);
            match outcome {
                Ok(Ok(Outcome::Response { at, body })) => {
                    let value: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
                    if let Some(status) = value["statusCode"].as_u64()
                        && !(200..300).contains(&status)
                    {
                        return Err(format!("{function}: answered {status}: {body}").into());
                    }
                    if run == 0 {
                        let shown: String = body.chars().take(160).collect();
                        eprintln!("{function}: {shown}");
                    }
                    figures.init.push(first_next.unwrap_or(at));
                    figures.first.push(at);
                }
                Ok(Ok(Outcome::Error { at, body })) if ANSWERED_WITH_ERROR.contains(&function) => {
                    if run == 0 {
                        let shown: String = body.chars().take(160).collect();
                        eprintln!("{function} (a handled refusal): {shown}");
                    }
                    figures.init.push(first_next.unwrap_or(at));
                    figures.first.push(at);
                }
                Ok(Ok(Outcome::Error { body, .. })) => {
                    return Err(format!("{function}: the invocation failed: {body}").into());
                }
                Ok(Ok(Outcome::InitError { body })) => {
                    return Err(format!("{function}: init failed: {body}").into());
                }
                Ok(Err(_)) | Err(_) => {
                    return Err(format!("{function}: no answer in 20 s").into());
                }
            }
        }
        table.push(figures);
    }

    let base = table.iter().find(|f| f.name == BASELINE).map(|f| {
        (
            percentile(&f.init, 0.5).as_secs_f64(),
            percentile(&f.first, 0.5).as_secs_f64(),
        )
    });
    println!(
        "| function | binary | deflated | init median (p90) ms | first response median (p90) ms | × baseline init / first |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for f in &table {
        let (init, first) = (percentile(&f.init, 0.5), percentile(&f.first, 0.5));
        let ratio = base.map_or("—".into(), |(bi, bf)| {
            format!(
                "{:.2} / {:.2}",
                init.as_secs_f64() / bi,
                first.as_secs_f64() / bf
            )
        });
        println!(
            "| {} | {:.1} MB | {:.1} MB | {} ({}) | {} ({}) | {} |",
            f.name,
            f.size as f64 / 1e6,
            f.deflated as f64 / 1e6,
            ms(init),
            ms(percentile(&f.init, 0.9)),
            ms(first),
            ms(percentile(&f.first, 0.9)),
            ratio
        );
    }
    drop(local_aws);
    Ok(())
}
