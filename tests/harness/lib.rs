//! The test harness: one local DynamoDB and one moto server per test binary (started on first
//! use, stopped when the binary exits), one fresh table per test, the real routers driven
//! in-process.

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use chrono::{DateTime, TimeZone, Utc};
use fangyitong::app::Core;
use fangyitong::clock::{Clock, ManualClock};
use fangyitong::config::Settings;
use fangyitong::identity::Identity;
use http_body_util::BodyExt;
use local::demo::{self, Cast};
use local::tokens::{Persona, TokenMinter};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use tower::ServiceExt;

static LOCAL_AWS: OnceLock<Result<local::LocalAws, String>> = OnceLock::new();

/// The AWS-API endpoints of this test binary: the ones the standard variables name, else a
/// local DynamoDB (in memory) and a moto server started on first use and kept until the binary
/// exits. Every test makes its own table, bucket and queue on them, so tests run in parallel.
/// The engine never sweeps expired items: the tests' clock stands in 2022 ([`start_time`]), so
/// the TTLs they write lie in the real past (`local_stack.rs` tests the sweep on its own engine).
pub fn endpoints() -> &'static local::Endpoints {
    match LOCAL_AWS
        .get_or_init(|| local::LocalAws::start_sweeping(&local::dynamo::Storage::Memory, 0, None))
    {
        Ok(aws) => &aws.endpoints,
        Err(e) => panic!("{e}"),
    }
}

/// 2022-04-01 10:00 in Shenzhen.
pub fn start_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2022, 4, 1, 2, 0, 0).unwrap()
}

pub struct TestApp {
    /// Every function's state (the local stack's), over this test's table, bucket and queue.
    pub state: local::Functions,
    pub router: Router,
    pub clock: ManualClock,
    pub cast: Cast,
    pub minter: TokenMinter,
    pub table: String,
    /// Counts every DynamoDB request the app makes, by operation.
    pub requests: local::requests::RequestCounter,
}

pub struct Reply {
    pub status: StatusCode,
    /// The body as JSON (a JSON string if it was not JSON, null if empty).
    pub body: Value,
    pub content_type: Option<String>,
    pub headers: axum::http::HeaderMap,
    pub bytes: Vec<u8>,
}

impl Reply {
    /// The body as text (to check what it must never contain).
    pub fn text(&self) -> String {
        self.body.to_string()
    }
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.body)
    }
}

/// A fresh table with the demo registry in it, and every function's routes over it, verifying
/// the development identity provider's tokens.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(demo::dev_identity()).await
}

/// The same, verifying the tokens of the identity provider `identity` describes.
pub async fn spawn_app_with(identity: fangyitong::app::IdentityConfig) -> TestApp {
    let aws = local::sdk_config(endpoints()).await;
    let requests = local::requests::RequestCounter::default();
    let dynamodb = requests.client(&aws);
    let table = format!("test-{}", ulid::Ulid::new());
    local::ensure_table(&dynamodb, &table)
        .await
        .expect("create the test table");
    let clock = ManualClock::new(start_time());
    let core = Core::new(
        dynamodb,
        &table,
        Settings::default(),
        Arc::new(clock.clone()),
    );
    let state = local::Functions::start_with(core, export_services(&aws).await, &aws, identity)
        .await
        .expect("the functions start");
    let cast = Cast::new(start_time());
    demo::seed_registry(&state, &cast)
        .await
        .expect("seed the registry");
    let router = local::api(&state);
    TestApp {
        state,
        router,
        clock,
        cast,
        minter: demo::minter(),
        table,
        requests,
    }
}

/// Export services on a bucket and queue of this test's own.
async fn export_services(aws: &aws_config::SdkConfig) -> local::exports::Exports {
    let suffix = ulid::Ulid::new().to_string().to_lowercase();
    let bucket = format!("test-exports-{suffix}");
    local::s3_client(aws)
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("create the export bucket");
    local::exports::setup(aws, &bucket, &format!("test-exports-{suffix}"))
        .await
        .expect("export queue and sender")
}

impl TestApp {
    /// A token for `persona`, face-verified just now.
    pub fn token(&self, persona: &Persona) -> String {
        self.token_with_face(persona, Some(self.clock.now()))
    }

    pub fn token_with_face(&self, persona: &Persona, face: Option<DateTime<Utc>>) -> String {
        let persona = Persona {
            face_verified_at: face,
            ..persona.clone()
        };
        self.minter
            .mint(&persona, self.clock.now(), chrono::Duration::hours(1))
    }

    /// The person key `persona` has in this service.
    pub fn person_key(&self, persona: &Persona) -> fangyitong::ids::PersonKey {
        let document = fangyitong::ids::IdDocument::parse(persona.id_type, &persona.id_number)
            .expect("demo personas have valid ID documents");
        self.state.keyer.key(&document)
    }

    pub async fn identity(&self, persona: &Persona) -> Identity {
        self.state
            .verifier
            .identify(&self.token(persona), self.clock.now(), &self.state.keyer)
            .await
            .expect("demo tokens verify")
    }

    /// The `agent_id` the API shows for `persona` in the enterprise `uscc`.
    pub fn agent_id(&self, persona: &Persona, uscc: &fangyitong::ids::Uscc) -> String {
        fangyitong::authorize::AgentId::of(uscc, &self.person_key(persona)).to_string()
    }

    /// The same app with these export services (e.g. a changed limit or sender).
    pub fn with_export_services(self, services: local::exports::Exports) -> Self {
        let state = self.state.clone().with_exports(services);
        Self {
            router: local::api(&state),
            state,
            ..self
        }
    }

    /// The same app with this person keyer (a rotated person-key secret, as functions read it at
    /// their next cold start).
    pub fn with_keyer(self, keyer: fangyitong::ids::PersonKeyer) -> Self {
        let state = local::Functions {
            keyer,
            ..self.state.clone()
        };
        Self {
            router: local::api(&state),
            state,
            ..self
        }
    }

    /// The export services this app runs with.
    pub fn exports(&self) -> local::exports::Exports {
        self.state.exports.as_ref().clone()
    }

    /// Runs the export worker over what is queued (as Lambda's SQS integration would).
    pub async fn run_export_worker(&self) -> usize {
        local::exports::drain(&self.state)
            .await
            .expect("the worker runs")
    }

    /// The mails the SES endpoint "sent" to `recipient`.
    pub async fn mails_to(&self, recipient: &str) -> Vec<local::exports::SentMail> {
        local::exports::sent_mails(&endpoints().others)
            .await
            .expect("read the sent mails")
            .into_iter()
            .filter(|m| m.to.iter().any(|t| t == recipient))
            .collect()
    }

    /// The `employee_id` the API shows for `persona` in the enterprise `uscc`.
    pub fn employee_id(&self, persona: &Persona, uscc: &fangyitong::ids::Uscc) -> String {
        fangyitong::roster::EmployeeId::of(uscc, &self.person_key(persona)).to_string()
    }

    /// Seeds the demo enterprise: its agent, `employees` employees on the roster (the cast's
    /// employee and agent among them), labelled by a relabel now.
    pub async fn seed_demo_enterprise(&self, employees: usize) {
        local::demo::seed_agent(&self.state, &self.cast)
            .await
            .expect("seed the demo agent");
        local::demo::seed_employees(&self.state, &self.cast, employees)
            .await
            .expect("seed employees");
        fangyitong::relabel::run(
            &self.state.core.store,
            self.clock.now(),
            &self.state.core.settings.health_rules,
        )
        .await
        .expect("relabel");
    }

    pub async fn send(&self, request: Request<Body>) -> Reply {
        self.send_to(self.router.clone(), request).await
    }

    /// Sends `request` through `router` (a single function's router, as its Lambda runs it).
    pub async fn send_to(&self, router: Router, request: Request<Body>) -> Reply {
        let response = router
            .oneshot(request)
            .await
            .expect("the router is infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let content_type = response
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        Reply {
            status,
            body,
            content_type,
            headers,
            bytes: bytes.to_vec(),
        }
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let body = match body {
            Some(json) => {
                request = request.header("content-type", "application/json");
                Body::from(json.to_string())
            }
            None => Body::empty(),
        };
        self.send(request.body(body).expect("valid request")).await
    }

    pub async fn get(&self, path: &str, who: &Persona) -> Reply {
        self.call(Method::GET, path, Some(&self.token(who)), None)
            .await
    }

    pub async fn post(&self, path: &str, who: &Persona, body: Value) -> Reply {
        self.call(Method::POST, path, Some(&self.token(who)), Some(body))
            .await
    }

    /// A sync over this app's table and a fresh bucket.
    pub async fn sync_context(&self) -> fangyitong::sync::SyncContext {
        let aws = local::sdk_config(endpoints()).await;
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&aws)
                .force_path_style(true)
                .build(),
        );
        let bucket = format!("test-{}", ulid::Ulid::new()).to_lowercase();
        s3.create_bucket()
            .bucket(&bucket)
            .send()
            .await
            .expect("create the test bucket");
        fangyitong::sync::SyncContext {
            store: self.state.core.store.clone(),
            s3,
            bucket,
            keyer: self.state.keyer.clone(),
            uscc_policy: self.state.core.uscc_policy.clone(),
            clock: self.state.core.clock.clone(),
        }
    }

    /// Every item in the table, every page of a Scan (tests only: to prove "nothing written",
    /// or to check each item the code wrote).
    pub async fn every_item(
        &self,
    ) -> Vec<HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
        let store = &self.state.core.store;
        let mut pages = store
            .client()
            .scan()
            .table_name(store.table())
            .into_paginator()
            .send();
        let mut items = Vec::new();
        while let Some(page) = pages.next().await {
            items.extend(page.expect("scan").items.unwrap_or_default());
        }
        items
    }

    /// How many items the table holds.
    pub async fn item_count(&self) -> usize {
        self.every_item().await.len()
    }
}

/// Drops a delivery into the sync's bucket, as the data-sharing platform would.
pub async fn deliver(ctx: &fangyitong::sync::SyncContext, key: &str, body: Vec<u8>) {
    ctx.s3
        .put_object()
        .bucket(&ctx.bucket)
        .key(key)
        .body(body.into())
        .send()
        .await
        .expect("put the delivery");
}
