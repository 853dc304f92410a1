//! query-nucleic lists and detail, query-vaccine overview, lists, doses, agent-entered data and
//! the personal check — through the API, over synced and relabelled data.

use axum::http::{Method, StatusCode};
use chrono::Duration;
use fangyitong::clock::Clock;
use local::demo;
use local::generate::jsonl;
use local::tokens::Persona;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use system_tests::{TestApp, deliver, spawn_app};

pub(crate) const EMPLOYEES: usize = 40;

fn pcr(p: &Persona, sampled_ago_hours: i64, city: &str, result: &str, app: &TestApp) -> Value {
    let sampled_at = app.clock.now() - Duration::hours(sampled_ago_hours);
    let result_at = (result != "pending").then(|| sampled_at + Duration::hours(1));
    json!({"id_type": "resident_id", "id_number": p.id_number, "sampled_at": sampled_at, "result_at": result_at,
           "result": result, "site": "南山区科技园采样点", "city": city})
}

fn dose(p: &Persona, dose: u8, date: &str, product: &str) -> Value {
    json!({"id_type": "resident_id", "id_number": p.id_number, "dose": dose, "date": date, "product": product})
}

/// The demo enterprise with `EMPLOYEES` employees; the agent tested 2 h ago in Shenzhen, the
/// employee 10 h ago in Guangzhou with the result still pending; doses for both. Synced, then
/// relabelled.
pub(crate) async fn synced_app() -> TestApp {
    let app = spawn_app().await;
    let c = &app.cast;
    demo::seed_agent(&app.state, c).await.unwrap();
    demo::seed_employees(&app.state, c, EMPLOYEES)
        .await
        .unwrap();
    let ctx = app.sync_context().await;
    let pcr_lines = vec![
        pcr(&c.agent, 2, "深圳市", "negative", &app),
        pcr(&c.employee, 10, "广州市", "pending", &app),
    ];
    deliver(
        &ctx,
        "inbound/pcr/20220401T020000Z-0001.jsonl",
        jsonl(pcr_lines),
    )
    .await;
    let doses = vec![
        dose(&c.employee, 1, "2021-05-01", "北京生物"),
        dose(&c.employee, 2, "2021-06-01", "北京生物"),
        dose(&c.agent, 1, "2021-05-01", "科兴"),
        dose(&c.agent, 2, "2021-06-01", "科兴"),
        dose(&c.agent, 3, "2022-01-10", "科兴"),
    ];
    deliver(
        &ctx,
        "inbound/vaccination/20220401T020000Z-0001.jsonl",
        jsonl(doses),
    )
    .await;
    fangyitong::sync::run(&ctx, "test").await.unwrap();
    fangyitong::relabel::run(
        &app.state.core.store,
        app.clock.now(),
        &app.state.core.settings.health_rules,
    )
    .await
    .unwrap();
    // Each execution environment shows the freshness it read for up to 30 s: let the copy the
    // seeding read (before this sync and relabel) run out.
    app.clock.advance(fangyitong::freshness::CACHE_TTL);
    app
}

fn uscc() -> String {
    demo::demo_uscc().to_string()
}

fn names(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect()
}

/// Every page of a list, `limit` at a time: the rows, and the requests each page cost.
async fn all_pages(
    app: &TestApp,
    who: &Persona,
    path: &str,
    limit: usize,
) -> (Vec<Value>, Vec<u64>) {
    let mut rows = Vec::new();
    let mut costs = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut url = format!("{path}{sep}limit={limit}");
        if let Some(c) = &cursor {
            url += &format!("&cursor={c}");
        }
        app.requests.reset();
        let page = app.get(&url, who).await;
        assert_eq!(page.status, StatusCode::OK, "{url}: {page:?}");
        costs.push(app.requests.total());
        rows.extend(page.body["items"].as_array().unwrap().iter().cloned());
        match page.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
        assert!(costs.len() < 100, "paging must end");
    }
    (rows, costs)
}

#[tokio::test]
async fn nucleic_lists_agree_with_the_counts_and_page_in_one_query() {
    let app = synced_app().await;
    let c = &app.cast;
    let u = uscc();
    let summary = app
        .get(&format!("/nucleic/enterprises/{u}/summary"), &c.agent)
        .await;
    assert_eq!(summary.status, StatusCode::OK);
    let labels = &summary.body["labels"];
    assert_eq!(
        (labels["24h"].as_i64(), labels["never"].as_i64()),
        (Some(2), Some(EMPLOYEES as i64 - 2))
    );

    // Every label's list, paged 7 at a time, holds exactly the employees the summary counts:
    // no one twice, no one missing. Each page costs the guard's read and one Query.
    let mut everyone = BTreeSet::new();
    for label in ["24h", "48h", "72h", "over_72h", "never"] {
        let path = format!("/nucleic/enterprises/{u}/labels/{label}/employees");
        let (rows, costs) = all_pages(&app, &c.agent, &path, 7).await;
        assert_eq!(
            rows.len() as i64,
            labels[label].as_i64().unwrap(),
            "{label}"
        );
        assert!(
            costs.iter().all(|n| *n <= 2),
            "{label}: requests per page {costs:?}"
        );
        for row in rows {
            assert_eq!(row["label"], label);
            assert!(everyone.insert(row["employee_id"].as_str().unwrap().to_string()));
        }
    }
    assert_eq!(everyone.len(), EMPLOYEES);

    // Filters: in or out of Shenzhen, name prefix, source, status.
    let list = |label: &str, query: &str| {
        format!("/nucleic/enterprises/{u}/labels/{label}/employees?{query}")
    };
    let sz = app.get(&list("24h", "in_shenzhen=true"), &c.agent).await;
    assert_eq!(names(&sz.body), vec![c.agent.name.clone()]);
    let out = app.get(&list("24h", "in_shenzhen=false"), &c.agent).await;
    assert_eq!(names(&out.body), vec![c.employee.name.clone()]);
    let row = &out.body["items"][0];
    assert_eq!(
        (
            row["result_pending"].as_bool(),
            row["in_shenzhen"].as_bool()
        ),
        (Some(true), Some(false))
    );
    assert_eq!(
        row["masked_id"].as_str().unwrap().len(),
        c.employee.id_number.len()
    );
    assert!(
        !out.text().contains(&c.employee.id_number),
        "no raw ID number in a list"
    );
    let surname: String = c.employee.name.chars().take(1).collect();
    let by_name = app
        .get(&list("24h", &format!("name={surname}")), &c.agent)
        .await;
    assert_eq!(names(&by_name.body), vec![c.employee.name.clone()]);
    app.requests.reset();
    let hand_added = app.get(&list("never", "source=hand_added"), &c.agent).await;
    assert_eq!(
        (
            hand_added.body["items"].as_array().unwrap().len(),
            hand_added.body["next_cursor"].is_null()
        ),
        (0, true)
    );
    assert!(app.requests.total() <= 3, "{:?}", app.requests.snapshot());
    let roster = app
        .get(&list("never", "source=roster&limit=50"), &c.agent)
        .await;
    assert_eq!(
        roster.body["items"].as_array().unwrap().len(),
        EMPLOYEES - 2
    );
    let left = app.get(&list("never", "status=left"), &c.agent).await;
    assert_eq!(left.body["items"].as_array().unwrap().len(), 0);
    assert_eq!(left.body["labels_as_of"], json!(system_tests::start_time()));

    // Bad parameters: a clear 400 each.
    let first = app.get(&list("never", "limit=5"), &c.agent).await;
    let cursor = first.body["next_cursor"].as_str().unwrap().to_string();
    for (query, label, code) in [
        (format!("cursor={cursor}"), "24h", "invalid_cursor"),
        (
            format!("cursor={cursor}&name=王"),
            "never",
            "invalid_cursor",
        ),
        (
            format!("cursor={cursor}&source=roster"),
            "never",
            "invalid_cursor",
        ),
        (
            "cursor=eyJsIjoiMDAiLCJzIjo5fQ".to_string(),
            "never",
            "invalid_cursor",
        ),
        ("limit=51".to_string(), "never", "invalid_limit"),
        ("limit=0".to_string(), "never", "invalid_limit"),
        ("colour=red".to_string(), "never", "invalid_query"),
        ("source=friend".to_string(), "never", "invalid_query"),
        ("name=%23".to_string(), "never", "invalid_name"),
    ] {
        let r = app.get(&list(label, &query), &c.agent).await;
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some(code)),
            "{query}: {r:?}"
        );
    }
    // The same cursor, replayed on the other enterprise by its own legal rep, is refused too.
    let foreign = demo::foreign_uscc();
    let r = app
        .get(
            &format!(
                "/nucleic/enterprises/{foreign}/labels/never/employees?limit=5&cursor={cursor}"
            ),
            &c.foreign_legal_rep,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{r:?}");
    let r = app.get(&list("96h", ""), &c.agent).await;
    assert_eq!(r.body["code"], "invalid_label");
}

#[tokio::test]
async fn an_employee_detail_shows_pending_results_and_no_raw_number() {
    let app = synced_app().await;
    let c = &app.cast;
    let u = uscc();
    let employee = app.employee_id(&c.employee, &demo::demo_uscc());
    let detail = app
        .get(
            &format!("/nucleic/enterprises/{u}/employees/{employee}"),
            &c.agent,
        )
        .await;
    assert_eq!(detail.status, StatusCode::OK, "{detail:?}");
    let b = &detail.body;
    assert_eq!(
        b["latest_result"], "pending",
        "a sample at the lab is pending, not 'no test'"
    );
    assert_eq!(b["label"], "24h");
    assert_eq!(b["latest"]["site"], "南山区科技园采样点");
    assert!(b["latest_in_shenzhen"].is_null());
    assert_eq!(b["sources"], json!(["roster"]));
    assert!(!detail.text().contains(&c.employee.id_number));
    let agent = app.employee_id(&c.agent, &demo::demo_uscc());
    let detail = app
        .get(
            &format!("/nucleic/enterprises/{u}/employees/{agent}"),
            &c.legal_rep,
        )
        .await;
    assert_eq!(
        (
            detail.body["latest_result"].as_str(),
            detail.body["in_shenzhen"].as_bool()
        ),
        (Some("negative"), Some(true))
    );

    // The employee's id in the other enterprise is not this one: ids do not link enterprises.
    assert_ne!(
        employee,
        app.employee_id(&c.employee, &demo::foreign_uscc())
    );
    let unknown = "0".repeat(32);
    let r = app
        .get(
            &format!("/nucleic/enterprises/{u}/employees/{unknown}"),
            &c.agent,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app
        .get(
            &format!("/nucleic/enterprises/{u}/employees/not-an-id"),
            &c.agent,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn vaccination_overview_lists_doses_and_reports_kept_apart() {
    let app = synced_app().await;
    let c = &app.cast;
    let u = uscc();
    let summary = app
        .get(&format!("/vaccine/enterprises/{u}/summary"), &c.agent)
        .await;
    assert_eq!(summary.status, StatusCode::OK, "{summary:?}");
    let states = &summary.body["states"];
    // The employee's two inactivated doses are over 180 days old: eligible for a booster.
    assert_eq!(states["booster_eligible"], 1);
    assert_eq!(states["boosted"], 1);
    assert_eq!(states["unvaccinated"], EMPLOYEES as i64 - 2);
    assert_eq!(summary.body["primary_series_complete"], 2);
    let (rows, costs) = all_pages(
        &app,
        &c.agent,
        &format!("/vaccine/enterprises/{u}/states/unvaccinated/employees"),
        15,
    )
    .await;
    assert_eq!(rows.len(), EMPLOYEES - 2);
    assert!(costs.iter().all(|n| *n <= 2), "{costs:?}");
    let eligible = app
        .get(
            &format!("/vaccine/enterprises/{u}/states/booster_eligible/employees"),
            &c.agent,
        )
        .await;
    assert_eq!(names(&eligible.body), vec![c.employee.name.clone()]);
    let r = app
        .get(
            &format!("/vaccine/enterprises/{u}/states/boosted/employees?in_shenzhen=true"),
            &c.agent,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    // The agent enters the employee's booster given elsewhere: agent-entered, with who and when,
    // beside the official record; the counts (official record only) do not move.
    let employee = app.employee_id(&c.employee, &demo::demo_uscc());
    let doses_path = format!("/vaccine/enterprises/{u}/employees/{employee}/doses");
    let entered = app
        .post(
            &doses_path,
            &c.agent,
            json!({"dose": 3, "date": "2022-03-01", "product": "北京生物", "note": "在香港接种"}),
        )
        .await;
    assert_eq!(entered.status, StatusCode::CREATED, "{entered:?}");
    assert_eq!(entered.body["official"].as_array().unwrap().len(), 2);
    let report = &entered.body["reported"][0];
    assert_eq!(report["kind"], "agent_entered");
    assert_eq!(report["entered_by"], c.agent.name.as_str());
    assert_eq!(
        report["entered_by_agent_id"],
        app.agent_id(&c.agent, &demo::demo_uscc()).as_str()
    );
    assert_eq!(report["reported_at"], json!(app.clock.now()));
    let again = app
        .get(&format!("/vaccine/enterprises/{u}/summary"), &c.agent)
        .await;
    assert_eq!(again.body["states"], summary.body["states"]);
    let audit = app
        .get(&format!("/authorize/enterprises/{u}/audit"), &c.legal_rep)
        .await;
    assert!(audit.text().contains("vaccination_entered"), "{audit:?}");

    // Bad input: a clear 4xx, nothing written.
    let before = app.item_count().await;
    for body in [
        json!({"dose": 9, "date": "2022-03-01", "product": "北京生物"}),
        json!({"dose": 1, "date": "2030-03-01", "product": "北京生物"}),
        json!({"dose": 1, "date": "2022-03-01", "product": ""}),
        json!({"dose": 1, "date": "yesterday", "product": "北京生物"}),
        json!({"dose": 1, "date": "2022-03-01", "product": "北京生物", "id_number": c.employee.id_number}),
    ] {
        let r = app.post(&doses_path, &c.agent, body.clone()).await;
        assert!(r.status.is_client_error(), "{body}: {r:?}");
    }
    assert_eq!(app.item_count().await, before);

    // The employee's own check: the official record, what the agent entered, and a correction.
    let mine = app.get("/vaccine/me", &c.employee).await;
    assert_eq!(mine.status, StatusCode::OK, "{mine:?}");
    assert_eq!(mine.body["state"], "booster_eligible");
    assert_eq!(mine.body["official"].as_array().unwrap().len(), 2);
    assert_eq!(mine.body["reported"][0]["kind"], "agent_entered");
    let corrected = app
        .post("/vaccine/me/corrections", &c.employee, json!({"dose": 2, "date": "2021-06-02", "product": "北京生物", "note": "日期应为6月2日"}))
        .await;
    assert_eq!(corrected.status, StatusCode::CREATED, "{corrected:?}");
    assert_eq!(
        corrected.body["official"][1]["date"], "2021-06-01",
        "the official record is never overwritten"
    );
    assert_eq!(corrected.body["reported"].as_array().unwrap().len(), 2);

    // Another enterprise's agent-entered data stays with that enterprise; the employee's own
    // correction is shown to every enterprise they work for, as self-reported.
    let foreign = demo::foreign_uscc();
    let record = fangyitong::roster::MemberRecord {
        document: demo::document(&c.employee),
        name: c.employee.name.clone(),
        phone: None,
    };
    let membership = fangyitong::roster::Membership::new(
        &foreign,
        &record,
        &app.state.keyer,
        fangyitong::roster::Source::HandAdded,
        app.clock.now(),
    );
    fangyitong::roster::add_new(&app.state.core.store, &[membership], app.clock.now())
        .await
        .unwrap();
    let foreign_employee = app.employee_id(&c.employee, &foreign);
    let r = app
        .post(
            &format!("/vaccine/enterprises/{foreign}/employees/{foreign_employee}/doses"),
            &c.foreign_legal_rep,
            json!({"dose": 4, "date": "2022-03-20", "product": "北京生物"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let kinds = |detail: &Value| -> Vec<String> {
        detail["reported"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| format!("{}:{}", r["kind"].as_str().unwrap(), r["dose"]))
            .collect()
    };
    let ours = app
        .get(
            &format!("/vaccine/enterprises/{u}/employees/{employee}"),
            &c.agent,
        )
        .await;
    assert_eq!(
        kinds(&ours.body),
        vec!["agent_entered:3", "self_reported:2"]
    );
    let theirs = app
        .get(
            &format!("/vaccine/enterprises/{foreign}/employees/{foreign_employee}"),
            &c.foreign_legal_rep,
        )
        .await;
    assert_eq!(
        kinds(&theirs.body),
        vec!["self_reported:2", "agent_entered:4"]
    );
    let mine = app.get("/vaccine/me", &c.employee).await;
    assert_eq!(mine.body["reported"].as_array().unwrap().len(), 3);

    // Without a token, no personal record.
    let r = app.call(Method::GET, "/vaccine/me", None, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

/// Each execution environment reads the global freshness item at most once per 30 s: within
/// that, views show its copy (no hot item at city scale); after it, the item as it is now.
#[tokio::test]
async fn the_freshness_shown_is_read_at_most_every_30_seconds() {
    let app = synced_app().await;
    let summary = format!("/nucleic/enterprises/{}/summary", uscc());
    let first = app.get(&summary, &app.cast.agent).await;
    let shown = first.body["labels_as_of"].clone();
    assert_eq!(shown, json!(system_tests::start_time()));
    let relabelled_at = app.clock.now();
    fangyitong::freshness::record_relabel(&app.state.core.store, relabelled_at)
        .await
        .unwrap();
    app.clock.advance(Duration::seconds(20));
    let cached = app.get(&summary, &app.cast.agent).await;
    assert_eq!(cached.body["labels_as_of"], shown, "a copy under 30 s old");
    app.clock.advance(Duration::seconds(15));
    let reread = app.get(&summary, &app.cast.agent).await;
    assert_eq!(reread.body["labels_as_of"], json!(relabelled_at));
}
