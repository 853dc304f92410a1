//! `make dev`: the whole system on one machine. Starts the local DynamoDB engine on a SQLite file
//! (`.local/`, kept across restarts) and moto's server for S3, SQS and SES (unless the standard
//! `AWS_ENDPOINT_URL*` variables name endpoints), creates the table and the data bucket from the
//! definitions `template.yaml` deploys, seeds the demo enterprises and personas, runs the data
//! pipeline as production does (deliveries, sync, relabel), and serves every function's routes
//! on one port — the same routers the Lambdas run — plus `/openapi.json` and `/dev/*`.
//!
//! Settings (environment): `LOCAL_PORT` (3000), `MOTO_PORT` (any free), `LOCAL_DATA` (the
//! SQLite file, `.local/dynamodb.sqlite`), `LOCAL_CITY=1` (a city slice: 200 enterprises,
//! 51,750 people and a day of PCR results, synced through the same pipeline).

use fangyitong::app::Core;
use fangyitong::clock::SystemClock;
use fangyitong::config::Settings;
use local::bucket::BucketSettings;
use local::demo::{self, Cast};
use local::dynamo::Storage;
use std::sync::Arc;
use std::time::{Duration, Instant};

const TABLE: &str = "fangyitong-local";

/// The city slice: enterprises (the demo one first, grown to its 2,000), employees each.
const CITY_ENTERPRISES: usize = 200;
const CITY_EMPLOYEES_EACH: usize = 250;

fn setting<T: std::str::FromStr>(name: &str) -> Option<T> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    lambda_http::tracing::init_default_subscriber();
    let data_file =
        setting("LOCAL_DATA").unwrap_or_else(|| local::dynamo::dev_database(&local::repo_root()));
    let city = std::env::var("LOCAL_CITY").is_ok_and(|v| v == "1");
    let local_aws = local::LocalAws::start(
        &Storage::File(data_file.clone()),
        setting("MOTO_PORT").unwrap_or(0),
    )?;
    let endpoints = local_aws.endpoints.clone();
    let aws = local_aws.sdk_config().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    let restarted = !local::ensure_table(&dynamodb, TABLE).await?;
    println!(
        "{} the local stack (DynamoDB {} on {}, S3/SQS/SES {}): registry, sync, relabel ...",
        if restarted { "restarting" } else { "preparing" },
        endpoints.dynamodb,
        data_file.display(),
        endpoints.others,
    );
    let s3 = local::s3_client(&aws);
    let bucket_settings = BucketSettings::from_template()?;
    local::bucket::ensure(&s3, local::LOCAL_BUCKET, &bucket_settings).await?;
    // Exports: a queue and the SES sender; a worker below feeds queued jobs through the export
    // Lambda's own event handling, as the SQS integration would.
    let services =
        local::exports::setup(&aws, local::LOCAL_BUCKET, "fangyitong-local-exports").await?;
    // The links the service sends (share links, invitations) open the H5 client this stack serves.
    let port: u16 = setting("LOCAL_PORT").unwrap_or(3000);
    let settings = Settings {
        public_base_url: format!("http://127.0.0.1:{port}"),
        ..Settings::default()
    };
    let core = Core::new(dynamodb, TABLE, settings, Arc::new(SystemClock));
    // The identity provider's JWK set is served here as the provider serves it; the functions
    // read it at start, and the secrets from Secrets Manager on moto, as deployed ones do.
    let state = local::Functions::start(core, services, &aws).await?;
    println!(
        "identity provider's keys: {}",
        local::idp::DevIdentityProvider::shared().jwks_url()
    );

    let cast = Cast::new(state.core.clock.now());
    demo::seed_registry(&state, &cast).await?;
    demo::seed_agent(&state, &cast).await?;
    demo::seed_lapsed_offline_grant(&state, &cast).await?;
    // The data pipeline, as in production: deliveries into the bucket, a sync, a relabel.
    let now = state.core.clock.now();
    // The demo enterprise with its employees and a handful of others; or the city slice. The
    // same seed every start, so a restart delivers the same people (unchanged: no writes) and
    // a new day of PCR results.
    // The city slice's delivery is a day of PCR results, one sampling per person on average.
    let (population, pcr) = if city {
        let people = CITY_ENTERPRISES * CITY_EMPLOYEES_EACH;
        (
            local::generate::Population::synthetic(
                2022,
                CITY_ENTERPRISES,
                CITY_EMPLOYEES_EACH,
                Some(&cast),
            ),
            (people, chrono::Duration::hours(24)),
        )
    } else {
        (
            local::generate::Population::synthetic(2022, 6, 30, Some(&cast)),
            // Two samplings per person in four days: most people tested, every label filled.
            (2 * demo::DEMO_EMPLOYEES, chrono::Duration::hours(96)),
        )
    };
    let mut population = population.grow_first(demo::DEMO_EMPLOYEES);
    local::upload_demo_deliveries(&s3, local::LOCAL_BUCKET, &mut population, pcr, now).await?;
    drop(population);
    let sync_context = fangyitong::sync::SyncContext {
        store: state.core.store.clone(),
        s3: s3.clone(),
        bucket: local::LOCAL_BUCKET.into(),
        keyer: state.keyer.clone(),
        uscc_policy: state.core.uscc_policy.clone(),
        clock: state.core.clock.clone(),
    };
    let sync_started = Instant::now();
    let run = fangyitong::sync::run(&sync_context, "local stack start").await?;
    let sync_took = sync_started.elapsed();
    for d in &run.deliveries {
        println!(
            "sync {:<52} read {:>6}  applied {:>6}  unchanged {:>6}  rejected {:>3}",
            d.key, d.counts.read, d.counts.applied, d.counts.unchanged, d.counts.rejected
        );
    }
    println!("sync: {:.1} s", sync_took.as_secs_f64());
    let relabel_started = Instant::now();
    let relabel = fangyitong::relabel::run(
        &state.core.store,
        state.core.clock.now(),
        &state.core.settings.health_rules,
    )
    .await?;
    println!(
        "relabel: {} persons due, {} memberships changed in {:.1} s",
        relabel.persons_due,
        relabel.memberships_changed,
        relabel_started.elapsed().as_secs_f64()
    );

    let worker_state = state.clone();
    tokio::spawn(async move {
        loop {
            if let Err(e) = local::exports::drain(&worker_state).await {
                tracing::warn!(error = %e, "local export worker");
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    });
    // S3's lifecycle rules, which moto keeps but does not apply.
    tokio::spawn(async move {
        loop {
            match local::bucket::expire(
                &s3,
                local::LOCAL_BUCKET,
                &bucket_settings,
                chrono::Utc::now(),
            )
            .await
            {
                Ok(0) => {}
                Ok(n) => tracing::info!(objects = n, "local bucket: lifecycle expired"),
                Err(e) => tracing::warn!(error = %e, "local bucket lifecycle"),
            }
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
    });

    let app = local::api(&state).merge(local::mail_routes(endpoints.others.clone()));

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    print_welcome(&endpoints, port);
    println!(
        "ready in {:.1} s ({} employees in the demo enterprise{}); data kept in {} (`make dev-clean` starts afresh)",
        started.elapsed().as_secs_f64(),
        demo::DEMO_EMPLOYEES,
        if city {
            ", city slice: 200 enterprises, 51,750 people"
        } else {
            ""
        },
        data_file.display()
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            tokio::signal::ctrl_c().await.ok();
        })
        .await?;
    // Dropping the servers closes the SQLite file cleanly.
    drop(local_aws);
    Ok(())
}

fn print_welcome(endpoints: &local::Endpoints, port: u16) {
    let base = format!("http://127.0.0.1:{port}");
    println!(
        r#"
fangyitong local stack
  API          {base}            (every function's routes)
  OpenAPI      {base}/openapi.json
  DynamoDB     {dynamodb}   (table {TABLE})
  S3/SQS/SES   {others}
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
  curl -s {base}/invite/enterprises/{demo}/invitations/<id>/poster -H "Authorization: Bearer $(T agent)" -o poster.svg
  curl -s "{base}/invite/open?token=<token>" -H "Authorization: Bearer $(T second_applicant)"
  curl -s -XPOST {base}/invite/join -H "Authorization: Bearer $(T second_applicant)" -H 'content-type: application/json' -d '{{"token":"<token>","notice_version":"2022-04-01","consent":true}}'
  curl -s -XPOST {base}/invite/enterprises/{demo}/employees -H "Authorization: Bearer $(T agent)" -H 'content-type: application/json' -d '{{"name":"林小梅","id_type":"resident_id","id_number":"440305199001011256","phone":"13800138000"}}'

Exports mailed as CSV + XLSX (the local worker runs queued jobs within seconds), and the mails:
  curl -s -XPOST {base}/export/enterprises/{demo}/exports -H "Authorization: Bearer $(T agent)" -H 'content-type: application/json' -d '{{"list":"nucleic","group":"24h","email":"hr@example.cn","idempotency_key":"demo-1"}}'
  curl -s {base}/export/enterprises/{demo}/exports -H "Authorization: Bearer $(T agent)"
  curl -s {base}/dev/mails | jq
  curl -s {base}/dev/mails/<id>/attachments/0 -o list.csv
"#,
        dynamodb = endpoints.dynamodb,
        others = endpoints.others,
        demo = demo::demo_uscc(),
        demo_name = demo::DEMO_ENTERPRISE_NAME,
        foreign = demo::foreign_uscc(),
        foreign_name = demo::FOREIGN_ENTERPRISE_NAME,
    );
}
