//! The scheduled functions' events in `events/sync` and `events/relabel` parse into the typed
//! payloads their Lambdas take and drive the same handlers.

use chrono::Duration;
use fangyitong::clock::Clock;
use fangyitong::health::HealthRules;
use fangyitong::relabel::{self, RelabelRequest};
use fangyitong::sync::{self, SyncRequest};
use local::demo;
use system_tests::spawn_app;

fn event<T: serde::de::DeserializeOwned>(path: &str) -> T {
    let text = std::fs::read_to_string(local::repo_root().join("events").join(path)).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[tokio::test]
async fn sync_and_relabel_events_drive_their_handlers() {
    let app = spawn_app().await;
    let ctx = app.sync_context().await;
    let c = &app.cast;
    let sampled = app.clock.now() - Duration::hours(3);
    let line = serde_json::json!({"id_type": "resident_id", "id_number": c.agent.id_number, "sampled_at": sampled,
        "result_at": sampled + Duration::hours(1), "result": "negative", "site": "福田区会展中心", "city": "深圳市"});
    system_tests::deliver(
        &ctx,
        "inbound/pcr/20220401T020000Z-0001.jsonl",
        format!("{line}\n").into_bytes(),
    )
    .await;
    system_tests::deliver(
        &ctx,
        "inbound/pcr/20220401T020000Z-0002.jsonl",
        format!("{line}\n").into_bytes(),
    )
    .await;
    demo::seed_employees(&app.state, &app.cast, 2)
        .await
        .unwrap();

    // By hand, one delivery: only that one.
    let manual: SyncRequest = event("sync/manual-one-delivery.json");
    let sync::SyncOutput::Run(run) = sync::handle(&ctx, manual).await.unwrap() else {
        panic!("a run")
    };
    assert_eq!((run.deliveries.len(), run.totals.applied), (1, 1));
    assert_eq!(run.trigger, "manual");
    // Scheduled: the rest.
    let planned: SyncRequest = event("sync/plan.json");
    let sync::SyncOutput::Plan { feeds } = sync::handle(&ctx, planned).await.unwrap() else {
        panic!("a plan")
    };
    assert_eq!(
        feeds,
        vec![sync::FeedPlan {
            feed: fangyitong::feeds::Feed::Pcr,
            keys: vec!["inbound/pcr/20220401T020000Z-0002.jsonl".into()]
        }]
    );
    let scheduled: SyncRequest = event("sync/scheduled.json");
    let sync::SyncOutput::Run(run) = sync::handle(&ctx, scheduled).await.unwrap() else {
        panic!("a run")
    };
    assert_eq!(run.deliveries.len(), 1);
    assert_eq!((run.totals.read, run.totals.unchanged), (1, 1));
    assert!(run.trigger.contains("2022-03-31T18:30:00Z"));

    let now = app.clock.now();
    let rules = HealthRules::default();
    let report = relabel::handle(
        &app.state.core.store,
        now,
        &rules,
        event::<RelabelRequest>("relabel/scheduled.json"),
    )
    .await
    .unwrap();
    assert_eq!(report.as_of, Some(now));
    assert_eq!(report.memberships_changed, 2);
    // Replaying a missed earlier run: as of that time, nothing is due any more.
    let replay: RelabelRequest = event("relabel/manual-as-of.json");
    let as_of = replay.as_of;
    assert!(as_of.unwrap() < now);
    let report = relabel::handle(&app.state.core.store, now, &rules, replay)
        .await
        .unwrap();
    assert_eq!((report.as_of, report.persons_due), (as_of, 0));
    // "As of" the future is clamped to now: labels never describe the future.
    let future = RelabelRequest {
        trigger: "manual".into(),
        scheduled_time: None,
        as_of: Some(now + Duration::days(1)),
        shard: None,
        finish: false,
    };
    let report = relabel::handle(&app.state.core.store, now, &rules, future)
        .await
        .unwrap();
    assert_eq!(report.as_of, Some(now));

    // The fan-out's steps: a shard worker, then the finish that records labels_as_of.
    app.clock.advance(Duration::hours(3));
    let later = app.clock.now();
    let shard: RelabelRequest = event("relabel/shard.json");
    let report = relabel::handle(&app.state.core.store, later, &rules, shard)
        .await
        .unwrap();
    assert!(report.persons_due <= 2);
    let before = fangyitong::freshness::get(&app.state.core.store)
        .await
        .unwrap()
        .labels_as_of;
    let finish: RelabelRequest = event("relabel/finish.json");
    let as_of = finish.as_of;
    relabel::handle(&app.state.core.store, later, &rules, finish)
        .await
        .unwrap();
    let after = fangyitong::freshness::get(&app.state.core.store)
        .await
        .unwrap()
        .labels_as_of;
    assert_eq!(after, before.max(as_of));

    // The operator reads the runs through the API.
    let runs = app.get("/ops/sync-runs", &c.operator).await;
    assert_eq!(runs.status, axum::http::StatusCode::OK, "{runs:?}");
    assert_eq!(runs.body["runs"].as_array().unwrap().len(), 2);
    assert!(runs.body["freshness"]["labels_as_of"].is_string());
    assert_eq!(
        app.get("/ops/sync-runs", &c.agent).await.status,
        axum::http::StatusCode::FORBIDDEN
    );
}

#[test]
fn every_scheduled_event_file_is_exercised() {
    for dir in ["sync", "relabel"] {
        let mut files: Vec<String> = std::fs::read_dir(local::repo_root().join("events").join(dir))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        files.sort();
        let expected: &[&str] = match dir {
            "sync" => &["manual-one-delivery.json", "plan.json", "scheduled.json"],
            _ => &[
                "finish.json",
                "manual-as-of.json",
                "scheduled.json",
                "shard.json",
            ],
        };
        assert_eq!(files, expected, "events/{dir}: a new event needs a test");
    }
}
