//! Faults injected into DynamoDB's answers (`local::faults`): after a request reached the engine,
//! its answer is replaced by a 500 or throttling — alone, so the SDK sends a write that happened
//! again, and in bursts longer than the SDK's own retries, so the code under test meets failures
//! whose writes may or may not have happened; and S3 streams broken half-way. Sync, relabel,
//! the sunset and the re-key are run under them, each started again after a failure as its state machine
//! would, and the table they leave must equal the one a fault-free twin leaves: nothing lost,
//! nothing doubled.

use aws_sdk_dynamodb::types::AttributeValue;
use fangyitong::clock::Clock;
use fangyitong::store::Store;
use fangyitong::sunset::{self, Pace, SunsetContext, SunsetOptions, SunsetRequest};
use local::faults::FaultInjector;
use local::generate::{Population, jsonl};
use std::collections::{BTreeMap, HashMap};
use system_tests::{TestApp, deliver, spawn_app};

/// How many times a job is started again after a failure before the test gives up.
const ATTEMPTS: usize = 40;

/// Three enterprises of 60 employees: registry, roster, a day of PCR results and the doses,
/// delivered into the app's sync bucket.
async fn deliveries(app: &TestApp) -> fangyitong::sync::SyncContext {
    let ctx = app.sync_context().await;
    let now = app.clock.now();
    let mut population = Population::synthetic(11, 3, 60, None);
    let month = now.format("%Y-%m").to_string();
    let feeds = [
        ("registry", jsonl(population.registry_lines())),
        ("roster", jsonl(population.roster_lines(&month))),
        (
            "pcr",
            jsonl(population.pcr_lines(150, now, chrono::Duration::hours(60))),
        ),
        ("vaccination", jsonl(population.vaccination_lines())),
    ];
    for (feed, body) in feeds {
        deliver(
            &ctx,
            &format!("inbound/{feed}/20220401T020000Z-0001.jsonl"),
            body,
        )
        .await;
    }
    ctx
}

type Table = BTreeMap<(String, String), serde_json::Value>;

fn assert_same(expected: &Table, found: &Table) {
    let missing: Vec<_> = expected
        .keys()
        .filter(|k| !found.contains_key(*k))
        .collect();
    let extra: Vec<_> = found
        .keys()
        .filter(|k| !expected.contains_key(*k))
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?}, extra {extra:?}"
    );
    for (key, value) in expected {
        assert_eq!(&found[key], value, "{key:?} differs after faults");
    }
}

/// Everything in the table but the sync's own run records (their ids and durations differ),
/// as JSON, without the attributes that count writes rather than describe the data.
async fn table(app: &TestApp) -> Table {
    normalised(app.every_item().await)
}

/// `items` as [`table`] shows them.
fn normalised(items: Vec<HashMap<String, AttributeValue>>) -> Table {
    let mut table = BTreeMap::new();
    for item in items {
        let mut value: serde_json::Value = serde_dynamo::from_item(item).unwrap();
        let key = (
            value["PK"].as_str().unwrap().to_string(),
            value["SK"].as_str().unwrap().to_string(),
        );
        if key.0 == "SYNC#RUN" {
            continue;
        }
        for volatile in ["version", "duration_ms", "run_id"] {
            value.as_object_mut().unwrap().remove(volatile);
        }
        // A delivery's report may count as unchanged a line whose write happened in an
        // attempt whose answer was lost; its counts must still balance and read every line.
        if key.0 == "SYNC#DELIVERY" {
            let counts = value.as_object_mut().unwrap().remove("counts").unwrap();
            let n = |c: &str| counts[c].as_u64().unwrap();
            assert_eq!(
                n("read"),
                n("applied") + n("unchanged") + n("rejected"),
                "{key:?}"
            );
            value["lines_read"] = counts["read"].clone();
            value["lines_rejected"] = counts["rejected"].clone();
        }
        table.insert(key, value);
    }
    table
}

/// How long the `attempt`-th run of a job may last before it is cut (a Lambda timing out, its
/// process gone mid-request): 3 ms, then twice as long each time, so a job cut at ever later
/// points finally finishes. `None`: never cut.
type Cut = Option<fn(usize) -> std::time::Duration>;

fn growing(attempt: usize) -> std::time::Duration {
    std::time::Duration::from_millis(3 << attempt.min(12))
}

/// `job`, cut after `cut(attempt)` if a cut is given (a cut run is a failed one).
async fn run<T, E>(
    cut: Cut,
    attempt: usize,
    job: impl std::future::Future<Output = Result<T, E>>,
) -> Option<T> {
    match cut {
        Some(after) => tokio::time::timeout(after(attempt), job).await.ok()?.ok(),
        None => job.await.ok(),
    }
}

/// Sync everything, then relabel until nothing is due, starting each again after a failure.
async fn sync_and_relabel(
    app: &TestApp,
    ctx: &fangyitong::sync::SyncContext,
    store: &Store,
    cut: Cut,
) {
    let now = app.clock.now();
    let mut failures = 0;
    loop {
        match run(cut, failures, fangyitong::sync::run(ctx, "test")).await {
            Some(run) if run.deliveries.iter().all(|d| d.done) => break,
            _ => failures += 1,
        }
        assert!(failures < ATTEMPTS, "sync never finished");
    }
    let rules = &app.state.core.settings.health_rules;
    loop {
        match run(cut, failures, fangyitong::relabel::run(store, now, rules)).await {
            Some(report) if report.persons_due == 0 => break,
            _ => failures += 1,
        }
        assert!(failures < 2 * ATTEMPTS, "relabel never settled");
    }
}

#[tokio::test]
async fn sync_and_relabel_under_dynamodb_faults_leave_what_a_clean_run_leaves() {
    let twin = spawn_app().await;
    let ctx = deliveries(&twin).await;
    sync_and_relabel(&twin, &ctx, &twin.state.core.store, None).await;
    let expected = table(&twin).await;

    let app = spawn_app().await;
    // One response in 7 fails alone (the SDK sends the request again); a burst of 3 every 400
    // reaches the job, which starts again from its last checkpoint.
    let faults = FaultInjector::new(7, 400, 3);
    let aws = local::sdk_config(system_tests::endpoints()).await;
    let faulty = Store::new(faults.client(&aws), app.state.core.store.table());
    let mut ctx = deliveries(&app).await;
    ctx.store = faulty.clone();
    sync_and_relabel(&app, &ctx, &faulty, None).await;
    faults.arm(false);
    assert!(
        faults.injected() > 20,
        "faults were injected: {}",
        faults.injected()
    );
    assert_same(&expected, &table(&app).await);
}

/// The jobs cut at ever later points (a Lambda timing out mid-request) and started again, with
/// faults on top: the table is the clean run's.
#[tokio::test]
async fn sync_and_relabel_cut_at_random_points_leave_what_a_clean_run_leaves() {
    let twin = spawn_app().await;
    let ctx = deliveries(&twin).await;
    sync_and_relabel(&twin, &ctx, &twin.state.core.store, None).await;
    let expected = table(&twin).await;

    let app = spawn_app().await;
    let faults = FaultInjector::new(11, 500, 3);
    let aws = local::sdk_config(system_tests::endpoints()).await;
    let faulty = Store::new(faults.client(&aws), app.state.core.store.table());
    let mut ctx = deliveries(&app).await;
    ctx.store = faulty.clone();
    sync_and_relabel(&app, &ctx, &faulty, Some(growing)).await;
    faults.arm(false);
    assert_same(&expected, &table(&app).await);
}

/// Deliveries whose S3 streams break half-way (three times): each broken run fails and the next
/// resumes from its checkpoint; the table is the clean run's.
#[tokio::test]
async fn deliveries_cut_mid_stream_leave_what_a_clean_run_leaves() {
    let twin = spawn_app().await;
    let ctx = deliveries(&twin).await;
    sync_and_relabel(&twin, &ctx, &twin.state.core.store, None).await;
    let expected = table(&twin).await;

    let app = spawn_app().await;
    let cut = local::faults::S3StreamCut::new(3_000, 3);
    let aws = local::sdk_config(system_tests::endpoints()).await;
    let mut ctx = deliveries(&app).await;
    ctx.s3 = cut.client(&aws);
    sync_and_relabel(&app, &ctx, &app.state.core.store, None).await;
    assert_eq!(cut.cuts(), 3);
    assert_same(&expected, &table(&app).await);
}

#[tokio::test]
async fn the_sunset_under_dynamodb_faults_stamps_every_item_once() {
    let app = spawn_app().await;
    app.seed_demo_enterprise(200).await;
    let before = table(&app).await.len() as u64;
    let faults = FaultInjector::new(7, 150, 3);
    let aws = local::sdk_config(system_tests::endpoints()).await;
    let sync_ctx = app.sync_context().await;
    let ctx = SunsetContext {
        store: Store::new(faults.client(&aws), app.state.core.store.table()),
        s3: sync_ctx.s3,
        bucket: sync_ctx.bucket,
        clock: app.state.core.clock.clone(),
    };
    let begin = || SunsetRequest::Begin {
        options: SunsetOptions {
            grace_days: Some(30),
            segments: Some(4),
        },
    };
    let pace = Pace {
        page_size: 25,
        ..Pace::pages_of(sunset::PAGE)
    };
    let mut failures = 0;
    let mut retry = |ok: bool| {
        failures += usize::from(!ok);
        assert!(failures < ATTEMPTS, "the sunset never finished");
    };
    while sunset::handle(&ctx, begin()).await.is_err() {
        retry(false);
    }
    for segment in 0..4 {
        loop {
            match sunset::stamp(&ctx, segment, pace).await {
                Ok(status) if status.done => break,
                Ok(_) => {}
                Err(_) => retry(false),
            }
        }
    }
    let finished = loop {
        match sunset::handle(&ctx, SunsetRequest::Finish).await {
            Ok(status) => break status,
            Err(_) => retry(false),
        }
    };
    faults.arm(false);
    assert!(
        faults.injected() > 10,
        "faults were injected: {}",
        faults.injected()
    );
    assert_eq!(finished.totals.scanned, before, "every item once");
    assert_eq!(
        finished.totals.stamped + finished.totals.already,
        finished.totals.scanned
    );
    let deadline = finished.run.deadline.timestamp();
    for (key, item) in table(&app).await {
        if key.0 == fangyitong::keys::SUNSET {
            continue;
        }
        assert!(
            item["expires_at"].as_i64().is_some_and(|t| t <= deadline),
            "{key:?}"
        );
    }
}

#[tokio::test]
async fn the_rekey_under_dynamodb_faults_rewrites_every_item_once() {
    use fangyitong::rekey::rewrite::{Rewrite, plan};
    use fangyitong::rekey::{self, Pace, RekeyContext, RekeyOptions, RekeyRequest};
    let app = spawn_app().await;
    app.seed_demo_enterprise(200).await;
    let keyer = crate::rekey::rotated();
    // What the job must leave: each item as its rewrite plans it, once.
    let expected = normalised(
        app.every_item()
            .await
            .into_iter()
            .map(|item| match plan(&item, &keyer) {
                Rewrite::Unchanged => item,
                Rewrite::InPlace { changed } => item.into_iter().chain(changed).collect(),
                Rewrite::Moved { item } => item,
            })
            .collect(),
    );
    let faults = FaultInjector::new(7, 150, 3);
    let aws = local::sdk_config(system_tests::endpoints()).await;
    let ctx = RekeyContext {
        store: Store::new(faults.client(&aws), app.state.core.store.table()),
        keyer,
        clock: app.state.core.clock.clone(),
    };
    let pace = Pace {
        page_size: 25,
        ..Pace::pages_of(rekey::PAGE)
    };
    let mut failures = 0;
    let mut retry = || {
        failures += 1;
        assert!(failures < ATTEMPTS, "the re-key never finished");
    };
    let begin = || RekeyRequest::Begin {
        options: RekeyOptions { segments: Some(4) },
    };
    while rekey::handle(&ctx, begin()).await.is_err() {
        retry();
    }
    app.clock.advance(rekey::epoch::CACHE_TTL * 2);
    let mut pass = 1;
    let settled = loop {
        for segment in 0..4 {
            loop {
                match rekey::rewrite_segment(&ctx, segment, pace).await {
                    Ok(status) if status.done => break,
                    Ok(_) => {}
                    Err(_) => retry(),
                }
            }
        }
        let finished = loop {
            match rekey::handle(&ctx, RekeyRequest::Finish { pass: Some(pass) }).await {
                Ok(status) => break status,
                Err(_) => retry(),
            }
        };
        if finished.done {
            break finished;
        }
        pass = finished.run.pass;
        assert!(pass < 4, "passes do not end: {finished:?}");
    };
    faults.arm(false);
    assert!(
        faults.injected() > 10,
        "faults were injected: {}",
        faults.injected()
    );
    assert!(settled.run.settled_at.is_some());
    let mut found = table(&app).await;
    found.retain(|(pk, _), _| pk != fangyitong::keys::REKEY);
    assert_same(&expected, &found);
}

/// The export worker under DynamoDB faults, each message delivered again until it is done (as
/// SQS does), waiting out a lease when a job is held: every job ends sent, failed or
/// unconfirmed, and no job is mailed twice; a sent job is mailed exactly once.
#[tokio::test]
async fn the_export_worker_under_dynamodb_faults_mails_each_job_at_most_once() {
    let statuses = export_under(FaultInjector::new(5, 23, 3)).await;
    assert!(statuses.contains("sent"), "{statuses:?}");
}

/// Six exports worked off under `faults`; checks each ends sent (one mail), failed (none) or
/// unconfirmed (at most one), and answers the statuses seen.
async fn export_under(faults: FaultInjector) -> std::collections::BTreeSet<String> {
    use fangyitong::export::JobMessage;
    use fangyitong::export::worker::{self, Outcome};
    faults.arm(false);
    let app = spawn_app().await;
    app.seed_demo_enterprise(40).await;
    let uscc = local::demo::demo_uscc();
    let run = ulid::Ulid::new().to_string().to_lowercase();
    let mut jobs = Vec::new();
    for i in 0..6 {
        let to = format!("faults-{run}-{i}@example.cn");
        let r = app
            .post(
                &format!("/export/enterprises/{uscc}/exports"),
                &app.cast.agent,
                serde_json::json!({"list": "nucleic", "group": "never", "email": to,
                    "idempotency_key": format!("faults-{i}")}),
            )
            .await;
        assert_eq!(r.status, axum::http::StatusCode::ACCEPTED, "{r:?}");
        let message = JobMessage {
            uscc: uscc.clone(),
            job_id: r.body["job_id"].as_str().unwrap().to_string(),
        };
        jobs.push((message, to));
    }
    faults.arm(true);
    let aws = local::sdk_config(system_tests::endpoints()).await;
    let core = fangyitong::app::Core {
        store: Store::new(faults.client(&aws), app.state.core.store.table()),
        ..app.state.core.clone()
    };
    let services = app.exports();
    for (message, _) in &jobs {
        let mut deliveries = 0;
        loop {
            deliveries += 1;
            assert!(deliveries < ATTEMPTS, "{} never finished", message.job_id);
            match worker::process(&core, &services.mail, message).await {
                Ok(outcome) if !outcome.redeliver() => break,
                Ok(Outcome::Busy) | Err(_) => {
                    // Held by an attempt whose answer was lost: its lease runs out first.
                    app.clock.advance(chrono::Duration::seconds(
                        fangyitong::export::repo::LEASE + 1,
                    ));
                }
                Ok(_) => {}
            }
        }
    }
    faults.arm(false);
    assert!(
        faults.injected() > 5,
        "faults were injected: {}",
        faults.injected()
    );
    let mut statuses = std::collections::BTreeSet::new();
    for (message, to) in &jobs {
        let view = app
            .get(
                &format!("/export/enterprises/{uscc}/exports/{}", message.job_id),
                &app.cast.agent,
            )
            .await;
        let status = view.body["status"].as_str().unwrap().to_string();
        let mails = app.mails_to(to).await.len();
        match status.as_str() {
            "sent" => assert_eq!(mails, 1, "{view:?}"),
            "unconfirmed" => assert!(mails <= 1, "{view:?}"),
            "failed" => assert_eq!(mails, 0, "{view:?}"),
            other => panic!("a job left {other}: {view:?}"),
        }
        statuses.insert(status);
    }
    statuses
}
