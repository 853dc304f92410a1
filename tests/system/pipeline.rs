//! Sync and relabel against moto: deliveries in S3, records in the table, labels and counts.

use chrono::Duration;
use fangyitong::clock::Clock;
use fangyitong::health::HealthRules;
use fangyitong::summary;
use fangyitong::sync;
use local::demo;
use serde_json::json;
use std::io::Write;
use system_tests::{TestApp, deliver as put, spawn_app};

fn lines(records: &[serde_json::Value]) -> Vec<u8> {
    records
        .iter()
        .map(|r| r.to_string() + "\n")
        .collect::<String>()
        .into_bytes()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn pcr(
    id_number: &str,
    sampled_at: chrono::DateTime<chrono::Utc>,
    city: &str,
) -> serde_json::Value {
    json!({"id_type": "resident_id", "id_number": id_number, "sampled_at": sampled_at, "result_at": sampled_at + Duration::minutes(1),
           "result": "negative", "site": "南山区科技园采样点", "city": city})
}

async fn counts(app: &TestApp) -> summary::Summary {
    summary::get(&app.state.core.store, &demo::demo_uscc())
        .await
        .unwrap()
}

#[tokio::test]
async fn sync_applies_validates_quarantines_and_replays_nothing() {
    let app = spawn_app().await;
    let ctx = app.sync_context().await;
    let c = &app.cast;
    let now = app.clock.now();
    let mut bad_id = c.agent.id_number.clone();
    bad_id.replace_range(17.., if bad_id.ends_with('1') { "2" } else { "1" });
    let records = vec![
        pcr(&c.agent.id_number, now - Duration::hours(30), "深圳市"),
        pcr(&c.agent.id_number, now - Duration::hours(2), "广州市"),
        pcr(&c.employee.id_number, now - Duration::hours(5), "深圳市"),
        pcr(&c.employee.id_number, now - Duration::hours(5), "深圳市"), // duplicate line
        pcr(&bad_id, now - Duration::hours(5), "深圳市"),               // invalid ID
        pcr(&c.applicant.id_number, now + Duration::hours(5), "深圳市"), // in the future
        json!({"id_type": "resident_id"}),                              // missing fields
    ];
    let mut body = lines(&records);
    body.extend_from_slice(b"{not json\n\n");
    put(
        &ctx,
        "inbound/pcr/20220401T020000Z-0001.jsonl.gz",
        gzip(&body),
    )
    .await;
    // A registry delivery with an invalid USCC and an unknown-enterprise roster line.
    put(&ctx, "inbound/registry/20220401T020000Z-0001.jsonl", lines(&[json!({"uscc": "91440300MA5D3M001X", "name": "坏代码公司",
        "legal_rep": {"name": "某", "id_type": "resident_id", "id_number": c.legal_rep.id_number}, "district": "南山区"})])).await;
    put(&ctx, "inbound/roster/20220401T020000Z-0001.jsonl", lines(&[
        json!({"uscc": demo::demo_uscc().to_string(), "month": "2022-03", "name": c.agent.name, "id_type": "resident_id", "id_number": c.agent.id_number, "phone": "13812345678"}),
        json!({"uscc": demo::uscc("MA5N0B0DY").to_string(), "month": "2022-03", "name": "无名", "id_type": "resident_id", "id_number": c.employee.id_number}),
        // A name with a control character is refused like one typed into the API.
        json!({"uscc": demo::demo_uscc().to_string(), "month": "2022-03", "name": "林\u{0}梅", "id_type": "resident_id", "id_number": c.applicant.id_number}),
    ])).await;

    let run = sync::run(&ctx, "test").await.unwrap();
    assert!(run.totals.balances(), "{:?}", run.totals);
    let pcr_report = run
        .deliveries
        .iter()
        .find(|d| d.key.contains("/pcr/"))
        .unwrap();
    assert_eq!(pcr_report.counts.read, 8, "{pcr_report:?}");
    assert_eq!(pcr_report.counts.rejected, 4);
    assert_eq!(pcr_report.counts.applied, 3);
    assert_eq!(pcr_report.counts.unchanged, 1);
    assert_eq!(pcr_report.quarantine_objects.len(), 1);
    let roster_report = run
        .deliveries
        .iter()
        .find(|d| d.key.contains("/roster/"))
        .unwrap();
    assert_eq!(
        (roster_report.counts.applied, roster_report.counts.rejected),
        (1, 2),
        "{roster_report:?}"
    );
    let registry_report = run
        .deliveries
        .iter()
        .find(|d| d.key.contains("/registry/"))
        .unwrap();
    assert_eq!(registry_report.counts.rejected, 1);

    let quarantine = ctx
        .s3
        .get_object()
        .bucket(&ctx.bucket)
        .key(&pcr_report.quarantine_objects[0])
        .send()
        .await
        .unwrap();
    let text = String::from_utf8(quarantine.body.collect().await.unwrap().to_vec()).unwrap();
    assert_eq!(text.lines().count(), 4);
    assert!(
        text.contains("\"line\":5") && text.contains("check character"),
        "{text}"
    );
    assert!(
        !text.contains(&bad_id),
        "quarantine must not copy ID numbers"
    );

    // The same deliveries again: nothing applied, nothing counted twice.
    let again = sync::run(&ctx, "test").await.unwrap();
    assert!(again.deliveries.is_empty(), "{:?}", again.deliveries);
    let by_hand = sync::run_one(&ctx, "inbound/pcr/20220401T020000Z-0001.jsonl.gz", "manual")
        .await
        .unwrap();
    assert!(by_hand.deliveries[0].skipped);
    assert_eq!(by_hand.totals, sync::Counts::default());

    // A later delivery with an older result does not move the latest time back.
    put(
        &ctx,
        "inbound/pcr/20220401T140000Z-0001.jsonl",
        lines(&[pcr(&c.agent.id_number, now - Duration::hours(50), "深圳市")]),
    )
    .await;
    let late = sync::run(&ctx, "test").await.unwrap();
    assert_eq!(
        (late.totals.read, late.totals.applied, late.totals.unchanged),
        (1, 0, 1)
    );
}

#[tokio::test]
async fn truncated_gzip_keeps_what_was_read_and_the_run_goes_on() {
    let app = spawn_app().await;
    let ctx = app.sync_context().await;
    let now = app.clock.now();
    let people: Vec<String> = (0..50u16)
        .map(|i| {
            demo::resident_id(
                "440305",
                chrono::NaiveDate::from_ymd_opt(1990, 1, 1).unwrap(),
                i,
            )
        })
        .collect();
    let body = lines(
        &people
            .iter()
            .map(|id| pcr(id, now - Duration::hours(1), "深圳市"))
            .collect::<Vec<_>>(),
    );
    let mut truncated = gzip(&body);
    truncated.truncate(truncated.len() * 2 / 3);
    put(
        &ctx,
        "inbound/pcr/20220401T020000Z-0001.jsonl.gz",
        truncated,
    )
    .await;
    put(
        &ctx,
        "inbound/pcr/20220401T020000Z-0002.jsonl",
        lines(&[pcr(&people[0], now, "深圳市")]),
    )
    .await;
    let run = sync::run(&ctx, "test").await.unwrap();
    assert_eq!(run.deliveries.len(), 2);
    let first = &run.deliveries[0];
    assert!(first.error.is_some(), "{first:?}");
    assert!(
        first.counts.read > 0 && first.counts.read < 50 && first.counts.balances(),
        "{first:?}"
    );
    assert_eq!(run.deliveries[1].counts.applied, 1);
}

#[tokio::test]
async fn relabel_moves_labels_and_counts_in_proportion_to_change() {
    let app = spawn_app().await;
    let ctx = app.sync_context().await;
    let c = &app.cast;
    let now = app.clock.now();
    let rules = HealthRules::default();
    let total = demo::seed_employees(&app.state, &app.cast, 40)
        .await
        .unwrap() as i64;
    assert_eq!(counts(&app).await.get(summary::TOTAL), total);

    put(
        &ctx,
        "inbound/pcr/20220401T020000Z-0001.jsonl",
        lines(&[
            pcr(&c.agent.id_number, now - Duration::hours(2), "深圳市"),
            pcr(&c.employee.id_number, now - Duration::hours(10), "广州市"),
        ]),
    )
    .await;
    sync::run(&ctx, "test").await.unwrap();

    app.requests.reset();
    let first = fangyitong::relabel::run(&app.state.core.store, now, &rules)
        .await
        .unwrap();
    assert_eq!(
        first.persons_due, total as u64,
        "every new member is labelled once"
    );
    // New persons' enterprises are listed once through GSI1 (then kept on their health item);
    // beyond that, per shard page: a read of the health items, a read of the memberships they
    // name, and the transaction(s) moving them with one summary update.
    let requests = app.requests.snapshot();
    assert_eq!(
        requests.get("Query"),
        Some(&(16 + total as u64)),
        "{requests:?}"
    );
    let transactions = requests.get("TransactWriteItems").copied().unwrap_or(0);
    assert!(
        (1..=16).contains(&transactions),
        "one per page: {requests:?}"
    );
    assert_eq!(requests.get("BatchGetItem"), Some(&(2 * transactions)));
    assert_eq!(requests.get("GetItem"), None, "{requests:?}");
    assert_eq!(requests.get("PutItem"), None, "{requests:?}");
    let s = counts(&app).await;
    assert_eq!(s.get("n_pcr_24h"), 2);
    assert_eq!(s.get("n_pcr_never"), total - 2);
    assert_eq!(s.get(summary::IN_SHENZHEN), 1);
    assert_eq!(s.get("n_vax_unvaccinated"), total);

    // Same time again: nothing is due, nothing changes.
    let again = fangyitong::relabel::run(&app.state.core.store, now, &rules)
        .await
        .unwrap();
    assert_eq!((again.persons_due, again.memberships_changed), (0, 0));

    // 15 hours later only the employee crosses a boundary (24 h after sampling); at 23 hours, the agent.
    app.requests.reset();
    let later = fangyitong::relabel::run(&app.state.core.store, now + Duration::hours(15), &rules)
        .await
        .unwrap();
    assert_eq!((later.persons_due, later.memberships_changed), (1, 1));
    // Cost follows the transitions, not the 40 employees: one query per shard of the transition
    // index and the freshness update per run; then, for the one person, one BatchGetItem (their
    // health item and the membership it names: no memberships query) and one transaction
    // (membership, health item, summary). No Scan.
    let requests = app.requests.snapshot();
    assert_eq!(requests.get("Query"), Some(&16), "{requests:?}");
    assert_eq!(
        (
            requests.get("BatchGetItem"),
            requests.get("TransactWriteItems")
        ),
        (Some(&1), Some(&1)),
        "{requests:?}"
    );
    assert_eq!(app.requests.total(), 16 + 2 + 1, "{requests:?}");
    let per_transition = (app.requests.total() - 16 - 1) / later.persons_due;
    assert!(per_transition <= 2, "{requests:?}");
    assert_eq!(requests.get("Scan"), None);
    let s = counts(&app).await;
    assert_eq!((s.get("n_pcr_24h"), s.get("n_pcr_48h")), (1, 1));
    let later = fangyitong::relabel::run(&app.state.core.store, now + Duration::hours(23), &rules)
        .await
        .unwrap();
    assert_eq!((later.persons_due, later.memberships_changed), (1, 1));
    let s = counts(&app).await;
    assert_eq!((s.get("n_pcr_24h"), s.get("n_pcr_48h")), (0, 2));
    assert_eq!(s.get(summary::TOTAL), total);
    // The agent reads the same through the API, in one request.
    demo::seed_agent(&app.state, &app.cast).await.unwrap();
    app.requests.reset();
    let summary = app
        .get(
            &format!("/nucleic/enterprises/{}/summary", demo::demo_uscc()),
            &c.agent,
        )
        .await;
    assert_eq!(summary.status, axum::http::StatusCode::OK, "{summary:?}");
    assert_eq!(summary.body["labels"]["48h"], 2);
    assert_eq!(summary.body["labels"]["never"], total - 2);
    assert_eq!(
        (
            summary.body["total"].as_i64(),
            summary.body["unlabelled"].as_i64()
        ),
        (Some(total), Some(0))
    );
    assert_eq!(
        summary.body["labels_as_of"],
        json!(now + Duration::hours(23))
    );
    // The first request of an execution environment also reads the key epoch, as it does once
    // per 30 s (`rekey::epoch`); every other request is the guard's read (with the freshness,
    // once per 30 s too) and the summary's.
    let requests = app.requests.snapshot();
    assert_eq!(
        (requests.get("BatchGetItem"), requests.get("GetItem")),
        (Some(&1), Some(&2)),
        "the epoch, the guard's read (with the freshness) and the summary's read: {requests:?}"
    );
    assert_eq!(app.requests.total(), 3);
    app.requests.reset();
    let again = app
        .get(
            &format!("/nucleic/enterprises/{}/summary", demo::demo_uscc()),
            &c.agent,
        )
        .await;
    assert_eq!(again.body, summary.body);
    let requests = app.requests.snapshot();
    assert_eq!(
        (requests.get("BatchGetItem"), requests.get("GetItem")),
        (Some(&1), Some(&1)),
        "the guard's read and the summary's read: {requests:?}"
    );
    assert_eq!(app.requests.total(), 2);

    let freshness = fangyitong::freshness::get(&app.state.core.store)
        .await
        .unwrap();
    assert_eq!(freshness.labels_as_of, Some(now + Duration::hours(23)));
    assert!(freshness.data_synced_at.is_some());
}

fn roster_line(uscc: &str, month: &str, p: &local::tokens::Persona) -> serde_json::Value {
    json!({"uscc": uscc, "month": month, "name": p.name, "id_type": "resident_id", "id_number": p.id_number})
}

#[tokio::test]
async fn an_employee_missing_from_the_latest_roster_month_is_marked_left() {
    let app = spawn_app().await;
    let ctx = app.sync_context().await;
    let c = &app.cast;
    let uscc = demo::demo_uscc().to_string();
    put(
        &ctx,
        "inbound/roster/20220305T000000Z-0001.jsonl",
        lines(&[
            roster_line(&uscc, "2022-02", &c.agent),
            roster_line(&uscc, "2022-02", &c.employee),
            roster_line(&uscc, "2022-02", &c.applicant),
        ]),
    )
    .await;
    let run = sync::run(&ctx, "test").await.unwrap();
    assert_eq!((run.totals.applied, run.deliveries[0].marked_left), (3, 0));
    assert_eq!(counts(&app).await.get(summary::TOTAL), 3);

    put(
        &ctx,
        "inbound/roster/20220405T000000Z-0001.jsonl",
        lines(&[
            roster_line(&uscc, "2022-03", &c.agent),
            roster_line(&uscc, "2022-03", &c.employee),
        ]),
    )
    .await;
    let run = sync::run(&ctx, "test").await.unwrap();
    assert_eq!(run.deliveries[0].marked_left, 1, "{:?}", run.deliveries[0]);
    let s = counts(&app).await;
    assert_eq!((s.get(summary::TOTAL), s.get(summary::LEFT)), (2, 1));
    let members = fangyitong::roster::of_enterprise(&app.state.core.store, &demo::demo_uscc())
        .await
        .unwrap();
    let left: Vec<_> = members
        .iter()
        .filter(|m| !m.is_current())
        .map(|m| m.name())
        .collect();
    assert_eq!(left, [c.applicant.name.as_str()], "kept, with the date");

    // Back on the roster in April: current again, counted again.
    put(
        &ctx,
        "inbound/roster/20220505T000000Z-0001.jsonl",
        lines(&[
            roster_line(&uscc, "2022-04", &c.agent),
            roster_line(&uscc, "2022-04", &c.employee),
            roster_line(&uscc, "2022-04", &c.applicant),
        ]),
    )
    .await;
    // The clock must have reached April for an April roster not to be "in the future".
    app.clock.advance(Duration::days(31));
    let run = sync::run(&ctx, "test").await.unwrap();
    assert_eq!((run.totals.applied, run.deliveries[0].marked_left), (3, 0));
    let s = counts(&app).await;
    assert_eq!((s.get(summary::TOTAL), s.get(summary::LEFT)), (3, 0));
}

fn site(
    id: &str,
    district: &str,
    street: &str,
    status: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> serde_json::Value {
    json!({"id": id, "name": format!("{street}便民采样点{id}"), "district": district, "street": street, "address": "深南大道1号",
           "lng": 114.05, "lat": 22.54, "opening_hours": "08:00-20:00", "status": status, "waiting_minutes": 10, "updated_at": at})
}

#[tokio::test]
async fn site_and_zone_snapshots_switch_whole() {
    let app = spawn_app().await;
    let ctx = app.sync_context().await;
    let store = &app.state.core.store;
    let now = app.clock.now();
    put(
        &ctx,
        "inbound/sites/20220401T020000Z-0001.jsonl",
        lines(&[
            site("S1", "福田区", "华富街道", "open", now),
            site("S2", "福田区", "莲花街道", "busy", now),
            site("S3", "南山区", "粤海街道", "open", now),
        ]),
    )
    .await;
    put(&ctx, "inbound/zones/20220401T020000Z-0001.jsonl", lines(&[json!({"id": "Z1", "level": "sealed", "district": "福田区",
        "street": "华富街道", "area": "某小区1-3栋", "effective_from": now - Duration::days(1), "effective_until": null})])).await;
    sync::run(&ctx, "test").await.unwrap();
    assert_eq!(
        fangyitong::sites::sites(store, None, None)
            .await
            .unwrap()
            .len(),
        3
    );
    assert_eq!(
        fangyitong::sites::sites(store, Some("福田区"), None)
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        fangyitong::sites::sites(store, Some("福田区"), Some("莲花街道"))
            .await
            .unwrap()[0]
            .id,
        "S2"
    );
    assert_eq!(
        fangyitong::sites::zones(store, Some("福田区"), Some("华富街道"))
            .await
            .unwrap()
            .len(),
        1
    );

    // The next snapshot replaces the whole picture: S3 closed down, S1 paused.
    put(
        &ctx,
        "inbound/sites/20220401T140000Z-0001.jsonl",
        lines(&[
            site("S1", "福田区", "华富街道", "paused", now),
            site("S2", "福田区", "莲花街道", "open", now),
        ]),
    )
    .await;
    // A truncated later snapshot never becomes current.
    let mut truncated = gzip(&lines(
        &(0..200)
            .map(|i| site(&format!("T{i}"), "罗湖区", "东门街道", "open", now))
            .collect::<Vec<_>>(),
    ));
    truncated.truncate(truncated.len() / 2);
    put(
        &ctx,
        "inbound/sites/20220401T150000Z-0001.jsonl.gz",
        truncated,
    )
    .await;
    let run = sync::run(&ctx, "test").await.unwrap();
    assert!(run.deliveries.iter().any(|d| d.error.is_some()));
    let sites = fangyitong::sites::sites(store, None, None).await.unwrap();
    assert_eq!(sites.len(), 2, "{sites:?}");
    assert_eq!(
        sites.iter().find(|s| s.id == "S1").unwrap().status,
        fangyitong::feeds::SiteStatus::Paused
    );
    // The replaced snapshot's items are gone, not left behind.
    let old = fangyitong::store::QuerySpec::table(fangyitong::sites::partition(
        fangyitong::sites::Kind::Sites,
        "inbound/sites/20220401T020000Z-0001.jsonl",
    ));
    assert!(
        store
            .first_page::<serde_json::Value>(&old)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let partial = fangyitong::store::QuerySpec::table(fangyitong::sites::partition(
        fangyitong::sites::Kind::Sites,
        "inbound/sites/20220401T150000Z-0001.jsonl.gz",
    ));
    assert!(
        store
            .first_page::<serde_json::Value>(&partial)
            .await
            .unwrap()
            .items
            .is_empty(),
        "a partial snapshot leaves nothing behind"
    );
}

fn people(n: u16) -> Vec<String> {
    (0..n)
        .map(|i| {
            demo::resident_id(
                "440306",
                chrono::NaiveDate::from_ymd_opt(1985, 6, 1).unwrap()
                    + Duration::days(i64::from(i / 900)),
                i % 900,
            )
        })
        .collect()
}

/// Writes that change data (the ledger and run records are bookkeeping, counted apart).
fn data_writes(app: &TestApp) -> u64 {
    let r = app.requests.snapshot();
    [
        "PutItem",
        "UpdateItem",
        "TransactWriteItems",
        "BatchWriteItem",
    ]
    .iter()
    .map(|op| r.get(*op).copied().unwrap_or(0))
    .sum()
}

#[tokio::test]
async fn unchanged_records_cost_no_write_and_an_empty_delivery_is_fine() {
    let app = spawn_app().await;
    let ctx = app.sync_context().await;
    let now = app.clock.now();
    let ids = people(300);
    let body = lines(
        &ids.iter()
            .map(|id| pcr(id, now - Duration::hours(4), "深圳市"))
            .collect::<Vec<_>>(),
    );
    put(
        &ctx,
        "inbound/pcr/20220401T020000Z-0001.jsonl",
        body.clone(),
    )
    .await;
    put(&ctx, "inbound/pcr/20220401T020000Z-0002.jsonl", Vec::new()).await;
    app.requests.reset();
    let run = sync::run(&ctx, "test").await.unwrap();
    assert_eq!(run.totals.applied, 300);
    assert_eq!(
        run.deliveries[1].counts,
        sync::Counts::default(),
        "an empty delivery reads nothing and is done"
    );
    assert!(run.deliveries[1].done);
    // Bookkeeping: ledger checkpoints (after the one chunk and at the end; the empty delivery
    // only at the end), one run record, the freshness update.
    let bookkeeping = 2 + 1 + 1 + 1;
    assert_eq!(
        data_writes(&app),
        300 + bookkeeping,
        "{:?}",
        app.requests.snapshot()
    );

    // The same records in a later delivery: reads only.
    put(&ctx, "inbound/pcr/20220401T140000Z-0001.jsonl", body).await;
    app.requests.reset();
    let run = sync::run(&ctx, "test").await.unwrap();
    assert_eq!((run.totals.applied, run.totals.unchanged), (0, 300));
    assert_eq!(
        data_writes(&app),
        2 + 1 + 1,
        "{:?}",
        app.requests.snapshot()
    );
    assert_eq!(
        app.requests.snapshot().get("BatchGetItem"),
        Some(&3),
        "100 keys per read"
    );
}

#[tokio::test]
async fn an_interrupted_delivery_resumes_after_its_last_checkpoint() {
    let app = spawn_app().await;
    let ctx = app.sync_context().await;
    let now = app.clock.now();
    let ids = people(2_500);
    let all: Vec<_> = ids
        .iter()
        .map(|id| pcr(id, now - Duration::hours(4), "深圳市"))
        .collect();
    let key = "inbound/pcr/20220401T020000Z-0001.jsonl";
    // The first chunk (1,000 lines) was applied and checkpointed, then the Lambda died: replay
    // that by applying a 1,000-line object under the key, then marking its ledger entry unfinished.
    put(&ctx, key, lines(&all[..sync::CHUNK_LINES])).await;
    let first = sync::process_delivery(&ctx, fangyitong::feeds::Feed::Pcr, key)
        .await
        .unwrap();
    assert_eq!(first.counts.applied, 1_000);
    app.state
        .core
        .store
        .client()
        .update_item()
        .table_name(&app.table)
        .set_key(Some(fangyitong::store::Store::key("SYNC#DELIVERY", key)))
        .update_expression("SET done = :no")
        .expression_attribute_values(":no", aws_sdk_dynamodb::types::AttributeValue::Bool(false))
        .send()
        .await
        .unwrap();
    put(&ctx, key, lines(&all)).await;

    app.requests.reset();
    let run = sync::run(&ctx, "retry").await.unwrap();
    let report = &run.deliveries[0];
    assert!(report.done && report.counts.balances(), "{report:?}");
    assert_eq!(
        (
            report.counts.read,
            report.counts.applied,
            report.counts.unchanged
        ),
        (2_500, 2_500, 0),
        "no loss, no double count"
    );
    assert_eq!(report.lines_done, 2_500);
    // Only the 1,500 lines after the checkpoint were read from the table again.
    assert_eq!(app.requests.snapshot().get("BatchGetItem"), Some(&15));
}
