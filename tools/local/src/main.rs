//! `make dev`: the whole system on one machine. Starts moto's server (unless `AWS_ENDPOINT_URL`
//! already names an endpoint), creates the table from the shared definition, seeds the demo
//! enterprises and personas, and serves every function's routes on one port — the same routers
//! the Lambdas run — plus `/openapi.json` and `/dev/tokens` (fresh demo tokens).

use fangyitong::app::AppState;
use fangyitong::clock::SystemClock;
use fangyitong::config::Settings;
use local::demo::{self, Cast};
use std::sync::Arc;

const TABLE: &str = "fangyitong-local";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    lambda_http::tracing::init_default_subscriber();
    let moto;
    let endpoint = match std::env::var("AWS_ENDPOINT_URL")
        .ok()
        .filter(|e| !e.is_empty())
    {
        Some(endpoint) => endpoint,
        None => {
            let port = std::env::var("MOTO_PORT")
                .ok()
                .and_then(|p| p.parse().ok())
                .unwrap_or(0);
            moto = local::moto::MotoServer::start(port)?;
            moto.endpoint.clone()
        }
    };
    let aws = local::sdk_config(&endpoint).await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    local::ensure_table(&dynamodb, TABLE).await?;
    println!("preparing the local stack (moto at {endpoint}): registry, sync, relabel ...");
    let state = AppState::new(
        dynamodb,
        TABLE,
        demo::dev_secrets(),
        Settings::default(),
        Arc::new(SystemClock),
    )?;

    let cast = Cast::new(state.clock.now());
    demo::seed_registry(&state, &cast).await?;
    demo::seed_agent(&state, &cast).await?;
    // The data pipeline, as in production: deliveries into the bucket, a sync, a relabel.
    let s3 = local::s3_client(&aws);
    if s3
        .head_bucket()
        .bucket(local::LOCAL_BUCKET)
        .send()
        .await
        .is_err()
    {
        s3.create_bucket()
            .bucket(local::LOCAL_BUCKET)
            .send()
            .await?;
    }
    let now = state.clock.now();
    // The demo enterprise with a few hundred employees, and a handful of others.
    let mut population = local::generate::Population::synthetic(2022, 6, 30, Some(&cast))
        .grow_first(demo::DEMO_EMPLOYEES);
    local::upload_demo_deliveries(&s3, local::LOCAL_BUCKET, &mut population, 1_000, now).await?;
    let sync_context = fangyitong::sync::SyncContext {
        store: state.store.clone(),
        s3,
        bucket: local::LOCAL_BUCKET.into(),
        keyer: state.keyer.clone(),
        uscc_policy: state.uscc_policy.clone(),
        clock: state.clock.clone(),
    };
    let run = fangyitong::sync::run(&sync_context, "local stack start").await?;
    for d in &run.deliveries {
        println!(
            "sync {:<52} read {:>6}  applied {:>6}  unchanged {:>5}  rejected {:>3}",
            d.key, d.counts.read, d.counts.applied, d.counts.unchanged, d.counts.rejected
        );
    }
    let relabel = fangyitong::relabel::run(
        &state.store,
        state.clock.now(),
        &state.settings.health_rules,
    )
    .await?;
    println!(
        "relabel: {} persons due, {} memberships changed",
        relabel.persons_due, relabel.memberships_changed
    );

    // Exports: a queue, the SES sender, and a worker feeding queued jobs through the export
    // Lambda's own event handling, as the SQS integration would.
    let services =
        local::exports::setup(&aws, local::LOCAL_BUCKET, "fangyitong-local-exports").await?;
    let state = state.with_exports(services.clone());
    let worker_state = state.clone();
    tokio::spawn(async move {
        loop {
            if let Err(e) = local::exports::drain(&worker_state, &services).await {
                tracing::warn!(error = %e, "local export worker");
            }
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        }
    });

    let app = local::api(state).merge(local::mail_routes(endpoint.clone()));

    let port: u16 = std::env::var("LOCAL_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    print_welcome(&endpoint, port);
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            tokio::signal::ctrl_c().await.ok();
        })
        .await?;
    Ok(())
}

fn print_welcome(endpoint: &str, port: u16) {
    let base = format!("http://127.0.0.1:{port}");
    println!(
        r#"
fangyitong local stack
  API          {base}            (every function's routes)
  OpenAPI      {base}/openapi.json
  AWS endpoint {endpoint}   (moto; table {TABLE})
  Demo USCC    {demo} ({demo_name}), foreign-led: {foreign} ({foreign_name})

Fresh demo tokens (legal_rep, agent, applicant, second_applicant, operator, employee) — face
verification is stamped at minting time, so mint again before a legal rep decides:
  curl -s {base}/dev/tokens | jq
  T() {{ curl -s {base}/dev/tokens | jq -r ".$1.token"; }}

Method 2 (apply with a reason; the legal rep approves):
  curl -s "{base}/authorize/enterprises?name={demo_name}" -H "Authorization: Bearer $(T applicant)"
  curl -s -XPOST {base}/authorize/applications -H "Authorization: Bearer $(T applicant)" -H 'content-type: application/json' -d '{{"uscc":"{demo}","reason":"负责员工核酸统计"}}'
  curl -s {base}/authorize/legal-rep/pending -H "Authorization: Bearer $(T legal_rep)"
  curl -s -XPOST {base}/authorize/enterprises/{demo}/agents/<agent_id>/decision -H "Authorization: Bearer $(T legal_rep)" -H 'content-type: application/json' -d '{{"decision":"grant"}}'

Method 1 (share link):
  curl -s -XPOST {base}/authorize/share-links -H "Authorization: Bearer $(T second_applicant)" -H 'content-type: application/json' -d '{{"uscc":"{demo}"}}'
  curl -s {base}/authorize/share-links/<token> -H "Authorization: Bearer $(T legal_rep)"
  curl -s -XPOST {base}/authorize/share-links/<token>/decision -H "Authorization: Bearer $(T legal_rep)" -H 'content-type: application/json' -d '{{"decision":"grant"}}'

Offline batch (operator, manual section 9):
  curl -s -XPOST {base}/authorize/offline-grants -H "Authorization: Bearer $(T operator)" -H 'content-type: application/json' -d @dev/offline-grant.json

Mine / agents / audit:
  curl -s {base}/authorize/me -H "Authorization: Bearer $(T agent)"
  curl -s {base}/authorize/enterprises/{demo}/agents -H "Authorization: Bearer $(T legal_rep)"
  curl -s {base}/authorize/enterprises/{demo}/audit -H "Authorization: Bearer $(T legal_rep)"

What the pipeline produced (PCR buckets of the demo enterprise, the sync runs):
  curl -s {base}/nucleic/enterprises/{demo}/summary -H "Authorization: Bearer $(T agent)"
  curl -s {base}/ops/sync-runs -H "Authorization: Bearer $(T operator)"

Sampling sites and control zones (any verified person):
  curl -s {base}/sites/districts -H "Authorization: Bearer $(T employee)"
  curl -s "{base}/sites?district=福田区&street=华富街道" -H "Authorization: Bearer $(T employee)"
  curl -s "{base}/sites/nearest?lng=114.0595&lat=22.5431&limit=3" -H "Authorization: Bearer $(T employee)"
  curl -s "{base}/zones?district=福田区" -H "Authorization: Bearer $(T employee)"
  curl -s "{base}/zones/check?district=福田区&street=华富街道&area=华富村东区" -H "Authorization: Bearer $(T employee)"

PCR lists and one employee (agent of the demo enterprise; follow next_cursor for more):
  curl -s "{base}/nucleic/enterprises/{demo}/labels/24h/employees?in_shenzhen=true&limit=20" -H "Authorization: Bearer $(T agent)"
  curl -s "{base}/nucleic/enterprises/{demo}/labels/never/employees?name=王" -H "Authorization: Bearer $(T agent)"
  curl -s {base}/nucleic/enterprises/{demo}/employees/<employee_id> -H "Authorization: Bearer $(T agent)"

Vaccination overview, lists, doses; the personal check and a correction:
  curl -s {base}/vaccine/enterprises/{demo}/summary -H "Authorization: Bearer $(T agent)"
  curl -s {base}/vaccine/enterprises/{demo}/states/booster_eligible/employees -H "Authorization: Bearer $(T agent)"
  curl -s {base}/vaccine/enterprises/{demo}/employees/<employee_id> -H "Authorization: Bearer $(T agent)"
  curl -s -XPOST {base}/vaccine/enterprises/{demo}/employees/<employee_id>/doses -H "Authorization: Bearer $(T agent)" -H 'content-type: application/json' -d '{{"dose":3,"date":"2022-03-01","product":"北京生物"}}'
  curl -s {base}/vaccine/me -H "Authorization: Bearer $(T employee)"
  curl -s -XPOST {base}/vaccine/me/corrections -H "Authorization: Bearer $(T employee)" -H 'content-type: application/json' -d '{{"dose":2,"date":"2021-06-02","product":"北京生物","note":"日期有误"}}'

Invitations (link + QR poster), joining, hand-adding:
  curl -s -XPOST {base}/invite/enterprises/{demo}/invitations -H "Authorization: Bearer $(T agent)" -H 'content-type: application/json' -d '{{}}'
  curl -s {base}/invite/enterprises/{demo}/invitations/<id>/poster -H "Authorization: Bearer $(T agent)" -o poster.png
  curl -s "{base}/invite/open?token=<token>" -H "Authorization: Bearer $(T second_applicant)"
  curl -s -XPOST {base}/invite/join -H "Authorization: Bearer $(T second_applicant)" -H 'content-type: application/json' -d '{{"token":"<token>","notice_version":"2022-04-01","consent":true}}'
  curl -s -XPOST {base}/invite/enterprises/{demo}/employees -H "Authorization: Bearer $(T agent)" -H 'content-type: application/json' -d '{{"name":"林小梅","id_type":"resident_id","id_number":"440305199001011256","phone":"13800138000"}}'

Exports mailed as CSV + XLSX (the local worker runs queued jobs within seconds), and the mails:
  curl -s -XPOST {base}/export/enterprises/{demo}/exports -H "Authorization: Bearer $(T agent)" -H 'content-type: application/json' -d '{{"list":"nucleic","group":"24h","email":"hr@example.cn","idempotency_key":"demo-1"}}'
  curl -s {base}/export/enterprises/{demo}/exports -H "Authorization: Bearer $(T agent)"
  curl -s {base}/dev/mails | jq
  curl -s {base}/dev/mails/<id>/attachments/0 -o list.csv
"#,
        demo = demo::demo_uscc(),
        demo_name = demo::DEMO_ENTERPRISE_NAME,
        foreign = demo::foreign_uscc(),
        foreign_name = demo::FOREIGN_ENTERPRISE_NAME,
    );
}
