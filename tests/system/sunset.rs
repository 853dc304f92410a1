//! The sunset on the local engine: driven step by step with the events the state machine sends
//! (`events/sunset/`), cut half-way and resumed, then run again — every item ends up leaving by
//! the deadline exactly once, the counts balance, the jobs stop and the inbound deliveries go.

use aws_sdk_dynamodb::types::AttributeValue;
use fangyitong::clock::Clock;
use fangyitong::relabel::{self, RelabelRequest};
use fangyitong::sunset::{self, Pace, SunsetContext, SunsetError, SunsetRequest, SunsetStatus};
use fangyitong::sync::{self, SyncRequest};
use serde_json::json;
use std::collections::HashMap;
use system_tests::{TestApp, spawn_app};

fn event<T: serde::de::DeserializeOwned>(path: &str) -> T {
    let text = std::fs::read_to_string(local::repo_root().join("events").join(path)).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The stamp event for `segment` (the Map's item), as the state machine sends it.
fn stamp_event(segment: u32) -> SunsetRequest {
    let mut value: serde_json::Value = event("sunset/stamp.json");
    value["segment"] = json!(segment);
    serde_json::from_value(value).unwrap()
}

/// Every item outside the sunset's own: its key and TTL.
async fn items(app: &TestApp) -> Vec<(String, Option<i64>)> {
    let mut found = Vec::new();
    for item in app.every_item().await {
        let text = |a: &str| item.get(a).and_then(|v| v.as_s().ok()).cloned().unwrap();
        if text("PK") == fangyitong::keys::SUNSET {
            continue;
        }
        let ttl = item
            .get(fangyitong::keys::TTL)
            .and_then(|v: &AttributeValue| v.as_n().ok())
            .map(|n| n.parse().unwrap());
        found.push((format!("{}/{}", text("PK"), text("SK")), ttl));
    }
    found
}

async fn every_segment(ctx: &SunsetContext, status: &SunsetStatus) -> SunsetStatus {
    let mut last = None;
    for segment in status.segments.clone() {
        last = Some(
            sunset::handle(ctx, stamp_event(segment))
                .await
                .expect("stamp"),
        );
    }
    last.expect("segments")
}

#[tokio::test]
async fn the_sunset_gives_every_item_its_deadline_once_even_after_a_cut() {
    let app = spawn_app().await;
    app.seed_demo_enterprise(300).await;
    let sync_ctx = app.sync_context().await;
    for part in 1..=3 {
        system_tests::deliver(
            &sync_ctx,
            &format!("inbound/pcr/20220401T020000Z-000{part}.jsonl"),
            b"{}\n".to_vec(),
        )
        .await;
    }
    let ctx = SunsetContext {
        store: app.state.core.store.clone(),
        s3: sync_ctx.s3.clone(),
        bucket: sync_ctx.bucket.clone(),
        clock: app.state.core.clock.clone(),
    };
    let before = items(&app).await;
    let now = app.clock.now();

    // A step before the first is refused, and not worth retrying.
    let early = sunset::handle(&ctx, event("sunset/finish.json")).await;
    assert!(matches!(early, Err(SunsetError::NotBegun)), "{early:?}");
    assert!(!early.unwrap_err().is_retryable());

    let begun = sunset::handle(&ctx, event("sunset/begin.json"))
        .await
        .unwrap();
    assert_eq!(begun.segments, vec![0, 1, 2, 3]);
    assert_eq!(begun.run.pass, 1);
    let deadline = begun.run.deadline.timestamp();
    assert_eq!(deadline, (now + chrono::Duration::days(30)).timestamp());

    // The jobs stop at their start from now on.
    let plan: SyncRequest = event("sync/plan.json");
    assert!(matches!(
        sync::handle(&sync_ctx, plan).await.unwrap(),
        sync::SyncOutput::Plan { feeds } if feeds.is_empty()
    ));
    let relabelled = relabel::handle(
        &app.state.core.store,
        now,
        &app.state.core.settings.health_rules,
        event::<RelabelRequest>("relabel/scheduled.json"),
    )
    .await
    .unwrap();
    assert!(relabelled.stopped_by_sunset);

    // Cut: every segment stamps one small page, then the execution dies. Finishing now is
    // refused; a new execution resumes the same pass.
    let cut = Pace {
        max_pages: 1,
        page_size: 40,
        ..Pace::pages_of(sunset::PAGE)
    };
    for segment in 0..4 {
        let status = sunset::stamp(&ctx, segment, cut).await.unwrap();
        assert!(
            !status.done,
            "a segment of ~150 items is not done in one page of 40"
        );
    }
    let unfinished = sunset::handle(&ctx, event("sunset/finish.json")).await;
    assert!(matches!(unfinished, Err(SunsetError::Unfinished(ref s)) if s.len() == 4));
    let resumed = sunset::handle(&ctx, event("sunset/begin.json"))
        .await
        .unwrap();
    assert_eq!((resumed.run.pass, resumed.totals.stamped), (1, 160));
    let stamped = every_segment(&ctx, &resumed).await;
    assert_eq!(stamped.totals.segments_done, 4);

    let emptied = sunset::handle(&ctx, event("sunset/empty-inbound.json"))
        .await
        .unwrap();
    assert_eq!(emptied.run.inbound_deleted, 3);
    let left = ctx
        .s3
        .list_objects_v2()
        .bucket(&ctx.bucket)
        .prefix("inbound/")
        .send()
        .await
        .unwrap();
    assert_eq!(left.key_count(), Some(0));

    let finished = sunset::handle(&ctx, event("sunset/finish.json"))
        .await
        .unwrap();
    let totals = &finished.totals;
    assert_eq!(totals.scanned, before.len() as u64, "every item read once");
    assert_eq!(totals.stamped + totals.already, totals.scanned);
    assert!(finished.progress.iter().all(|p| p.balances()));
    let after = items(&app).await;
    assert_eq!(after.len(), before.len(), "nothing lost");
    let already: usize = before
        .iter()
        .filter(|(_, ttl)| ttl.is_some_and(|t| t <= deadline))
        .count();
    assert_eq!(totals.already as usize, already);
    for (key, ttl) in &after {
        assert!(ttl.is_some_and(|t| t <= deadline), "{key}: {ttl:?}");
    }
    let untouched: HashMap<_, _> = before
        .iter()
        .filter(|(_, ttl)| ttl.is_some_and(|t| t <= deadline))
        .cloned()
        .collect();
    for (key, ttl) in &after {
        if let Some(earlier) = untouched.get(key) {
            assert_eq!(ttl, earlier, "{key}: an earlier retention is kept");
        }
    }

    // The operator sees it; nobody else does.
    let seen = app.get("/ops/sunset", &app.cast.operator).await;
    assert_eq!(seen.status, axum::http::StatusCode::OK, "{seen:?}");
    assert_eq!(seen.body["sunset"], true);
    assert_eq!(seen.body["status"]["run"]["pass"], 1);
    assert!(seen.body["status"]["run"]["pass_finished_at"].is_string());
    assert_eq!(seen.body["status"]["totals"]["scanned"], totals.scanned);
    // Progress, never the keys the job keeps (the last item read, a person's key among them).
    assert!(!seen.text().contains("PER#") && !seen.text().contains("start_after"));
    assert_eq!(
        app.get("/ops/sunset", &app.cast.agent).await.status,
        axum::http::StatusCode::FORBIDDEN
    );

    // Run again: a new pass that finds everything leaving already.
    let second = sunset::handle(&ctx, event("sunset/begin.json"))
        .await
        .unwrap();
    assert_eq!(
        (second.run.pass, second.run.deadline),
        (2, finished.run.deadline)
    );
    every_segment(&ctx, &second).await;
    let finished = sunset::handle(&ctx, event("sunset/finish.json"))
        .await
        .unwrap();
    assert_eq!(finished.totals.stamped, 0);
    assert_eq!(finished.totals.already, before.len() as u64);
    assert_eq!(items(&app).await, after, "a second run changes nothing");

    // Something written since (an agent still at work) is stamped by the next pass, and only it.
    let made = app
        .post(
            &format!(
                "/invite/enterprises/{}/invitations",
                local::demo::demo_uscc()
            ),
            &app.cast.agent,
            json!({}),
        )
        .await;
    assert_eq!(made.status, axum::http::StatusCode::CREATED);
    let third = sunset::handle(&ctx, event("sunset/begin.json"))
        .await
        .unwrap();
    every_segment(&ctx, &third).await;
    let finished = sunset::handle(&ctx, event("sunset/finish.json"))
        .await
        .unwrap();
    // The invitation (its own retention ends after the deadline) and its audit record.
    assert_eq!(finished.totals.stamped, 2);
    assert_eq!(finished.totals.scanned, before.len() as u64 + 2);
}

#[test]
fn every_sunset_event_file_is_exercised() {
    let mut files: Vec<String> =
        std::fs::read_dir(local::repo_root().join("events").join("sunset"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "begin.json",
            "empty-inbound.json",
            "finish.json",
            "stamp.json"
        ],
        "events/sunset: a new event needs a test"
    );
}

/// The sunset state machine speaks the Lambda's language and takes the paths it should: every
/// step's payload parses as a [`SunsetRequest`], every field it reads back is in a
/// [`SunsetStatus`]; transient failures (Lambda's own, and the function's `Retryable`) are
/// retried but `Fatal` ones never; any failure after its retries ends in the `Failed` state,
/// which tells the operator to start again (it resumes); a segment is stamped again until done.
#[tokio::test]
async fn the_sunset_state_machine_matches_its_lambda_and_retries_only_what_may_pass() {
    let definition = crate::state_machine::definition("SunsetStateMachine");
    let top = &definition["States"];
    let inner = &top["Segments"]["ItemProcessor"]["States"];

    // A status as the steps answer it, for the fields the state machine reads.
    let app = spawn_app().await;
    let sync_ctx = app.sync_context().await;
    let ctx = SunsetContext {
        store: app.state.core.store.clone(),
        s3: sync_ctx.s3,
        bucket: sync_ctx.bucket,
        clock: app.state.core.clock.clone(),
    };
    let status = serde_json::to_value(
        sunset::handle(&ctx, event("sunset/begin.json"))
            .await
            .unwrap(),
    )
    .unwrap();

    let steps =
        crate::state_machine::check_tasks::<SunsetRequest>(
            &definition,
            &status,
            |path| match path {
                "options" => json!({}),
                "segment" => json!(0),
                other => panic!("a path this test does not know: {other}"),
            },
        );
    assert_eq!(steps.len(), 4, "{steps:?}");
    // The loop: stamp, and stamp again until the segment is done.
    let choice = &inner["SegmentDone"];
    assert_eq!(choice["Choices"][0]["Variable"], "$.result.done");
    assert_eq!(choice["Choices"][0]["Next"], "Stamped");
    assert_eq!(choice["Default"], "Stamp");
    assert_eq!(inner["Stamp"]["Next"], "SegmentDone");
}
