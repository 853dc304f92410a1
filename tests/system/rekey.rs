//! Re-keying on the local engine, driven step by step with the events the state machine sends
//! (`events/rekey/`): after every kind of record has been written, the person-key secret gains
//! a generation; during the migration reads keep answering and writes wait; a segment is cut
//! half-way and resumed; passes repeat until one rewrites nothing. Afterwards no stored string
//! holds an old key, the counts are those of before, and every person finds their data.

use crate::retention::every_kind_of_record;
use aws_sdk_dynamodb::types::AttributeValue;
use axum::http::StatusCode;
use fangyitong::clock::Clock;
use fangyitong::ids::PersonKeyer;
use fangyitong::rekey::{self, Pace, RekeyContext, RekeyError, RekeyRequest, RekeyStatus};
use local::demo;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use system_tests::TestApp;

type Item = HashMap<String, AttributeValue>;

fn event(path: &str) -> RekeyRequest {
    let text = std::fs::read_to_string(local::repo_root().join("events").join(path)).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn rewrite_event(segment: u32) -> RekeyRequest {
    let mut value: Value = serde_json::from_str(
        &std::fs::read_to_string(local::repo_root().join("events/rekey/rewrite.json")).unwrap(),
    )
    .unwrap();
    value["segment"] = json!(segment);
    serde_json::from_value(value).unwrap()
}

fn finish_event(pass: u32) -> RekeyRequest {
    let mut value: Value = serde_json::from_str(
        &std::fs::read_to_string(local::repo_root().join("events/rekey/finish.json")).unwrap(),
    )
    .unwrap();
    value["pass"] = json!(pass);
    serde_json::from_value(value).unwrap()
}

/// The development secret with a second generation added, as an operator rotates it.
pub(crate) fn rotated() -> PersonKeyer {
    let secrets = json!([
        demo::DEV_PERSON_KEY_SECRET,
        "the-second-generation-of-the-person-key-secret"
    ]);
    PersonKeyer::from_secret(&secrets.to_string()).expect("two long secrets")
}

/// Every string an attribute holds, nested ones included.
fn strings(value: &AttributeValue, out: &mut Vec<String>) {
    match value {
        AttributeValue::S(s) => out.push(s.clone()),
        AttributeValue::Ss(set) => out.extend(set.iter().cloned()),
        AttributeValue::L(values) => values.iter().for_each(|v| strings(v, out)),
        AttributeValue::M(fields) => fields.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}

fn text<'a>(item: &'a Item, attribute: &str) -> Option<&'a str> {
    item.get(attribute)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

/// The items outside the jobs' own.
async fn data_items(app: &TestApp) -> Vec<Item> {
    app.every_item()
        .await
        .into_iter()
        .filter(|item| !matches!(text(item, "PK"), Some("REKEY" | "SUNSET")))
        .collect()
}

/// Every person key the table holds: each person's partition, each membership's or
/// authorisation's person, and the keys records name people by (found independently of the
/// code under test: by the key formats and the entities' field names).
fn person_keys(items: &[Item]) -> BTreeSet<String> {
    const FIELDS: [&str; 8] = [
        "person",
        "agent",
        "decided_by",
        "legal_rep",
        "actor",
        "subject",
        "applicant",
        "requested_by_person",
    ];
    items
        .iter()
        .flat_map(|item| {
            let keys =
                ["PK", "GSI1PK"].map(|a| text(item, a).and_then(|key| key.strip_prefix("PER#")));
            let fields = FIELDS.map(|a| text(item, a));
            keys.into_iter().chain(fields).flatten()
        })
        .map(str::to_string)
        .collect()
}

/// What the people see, pseudonyms aside: the agent's counts and list lengths, the employee's
/// and the legal rep's own pages.
async fn seen(app: &TestApp) -> BTreeMap<String, Value> {
    let c = &app.cast;
    let uscc = demo::demo_uscc();
    let mut seen = BTreeMap::new();
    let nucleic = app
        .get(&format!("/nucleic/enterprises/{uscc}/summary"), &c.agent)
        .await;
    assert_eq!(nucleic.status, StatusCode::OK, "{nucleic:?}");
    seen.insert(
        "nucleic".into(),
        json!([nucleic.body["labels"], nucleic.body["total"]]),
    );
    let vaccine = app
        .get(&format!("/vaccine/enterprises/{uscc}/summary"), &c.agent)
        .await;
    assert_eq!(vaccine.status, StatusCode::OK, "{vaccine:?}");
    seen.insert("vaccine".into(), vaccine.body["states"].clone());
    let list = app
        .get(
            &format!("/nucleic/enterprises/{uscc}/labels/never/employees?limit=50"),
            &c.agent,
        )
        .await;
    assert_eq!(list.status, StatusCode::OK, "{list:?}");
    let names: BTreeSet<String> = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_string())
        .collect();
    seen.insert("never_names".into(), json!(names));
    for (who, persona) in [("applicant", &c.applicant), ("employee", &c.employee)] {
        let data = app.get("/me/data", persona).await;
        assert_eq!(data.status, StatusCode::OK, "{data:?}");
        let b = &data.body;
        seen.insert(
            format!("{who}_data"),
            json!({
                "memberships": b["memberships"].as_array().unwrap().len(),
                "consents": b["consents"].as_array().unwrap().len(),
                "reports": b["reports"].as_array().unwrap().len(),
                "health": b["health"],
            }),
        );
        let record = app.get("/vaccine/me", persona).await;
        assert_eq!(record.status, StatusCode::OK, "{record:?}");
        seen.insert(format!("{who}_record"), record.body["official"].clone());
    }
    let enterprises = app
        .get("/authorize/legal-rep/enterprises", &c.legal_rep)
        .await;
    assert_eq!(enterprises.status, StatusCode::OK, "{enterprises:?}");
    seen.insert("legal_rep_enterprises".into(), enterprises.body.clone());
    let mine = app.get("/authorize/me", &c.agent).await;
    assert_eq!(mine.status, StatusCode::OK, "{mine:?}");
    let statuses: Vec<Value> = mine.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| json!([a["uscc"], a["status"]]))
        .collect();
    seen.insert("agent_authorisations".into(), json!(statuses));
    seen
}

/// Runs every segment of the current pass to its end, a few pages at a time (each call a cut).
async fn every_segment(ctx: &RekeyContext, status: &RekeyStatus) -> RekeyStatus {
    let mut last = None;
    for segment in status.segments.clone() {
        loop {
            let pace = Pace {
                max_pages: 3,
                page_size: 40,
                ..Pace::pages_of(rekey::PAGE)
            };
            let now = rekey::rewrite_segment(ctx, segment, pace)
                .await
                .expect("rewrite");
            let done = now.done;
            last = Some(now);
            if done {
                break;
            }
        }
        // The state machine's own step on a finished segment: nothing more to do.
        let again = rekey::handle(ctx, rewrite_event(segment))
            .await
            .expect("rewrite");
        assert!(again.done);
    }
    last.expect("segments")
}

#[tokio::test]
async fn rekeying_moves_every_key_once_even_after_a_cut_and_everyone_finds_their_data() {
    let app = every_kind_of_record().await;
    demo::seed_employees(&app.state, &app.cast, 120)
        .await
        .expect("more employees");
    fangyitong::relabel::run(
        &app.state.core.store,
        app.clock.now(),
        &app.state.core.settings.health_rules,
    )
    .await
    .expect("relabel");
    let before_seen = seen(&app).await;
    let before = data_items(&app).await;
    let old_keys = person_keys(&before);
    assert!(old_keys.len() > 120, "{}", old_keys.len());
    let summaries = |items: &[Item]| -> Vec<Item> {
        items
            .iter()
            .filter(|i| text(i, "SK") == Some(fangyitong::keys::SUMMARY))
            .cloned()
            .collect()
    };
    let (store, clock) = (app.state.core.store.clone(), app.state.core.clock.clone());
    let ctx = |keyer: PersonKeyer| RekeyContext {
        store: store.clone(),
        keyer,
        clock: clock.clone(),
    };

    // Before the secret has a new generation there is nothing to move to.
    let refused = rekey::handle(&ctx(app.state.keyer.clone()), event("rekey/begin.json")).await;
    assert!(
        matches!(refused, Err(RekeyError::NoNewGeneration { settled: 1 })),
        "{refused:?}"
    );
    let stale = local::api(&app.state);
    let app = app.with_keyer(rotated());
    let ctx = ctx(rotated());
    let c = &app.cast;
    let begun = rekey::handle(&ctx, event("rekey/begin.json"))
        .await
        .unwrap();
    assert_eq!((begun.run.from, begun.run.to, begun.run.pass), (1, 2, 1));
    assert_eq!(begun.segments, vec![0, 1, 2, 3]);
    assert_eq!(begun.wait_seconds, 60);
    // Begun twice: the same run.
    let again = rekey::handle(&ctx, event("rekey/begin.json"))
        .await
        .unwrap();
    assert_eq!(again.run, begun.run);

    // Rewriting waits until every environment's copy of the epoch has run out.
    let early = rekey::handle(&ctx, rewrite_event(0)).await;
    assert!(
        matches!(&early, Err(e @ RekeyError::TooEarly(_)) if e.is_retryable()),
        "{early:?}"
    );
    app.clock.advance(chrono::Duration::seconds(61));

    // Meanwhile: the jobs stop, writes wait (with a long Retry-After), reads answer as before, an
    // environment whose secret lacks the new generation refuses rather than keying wrongly.
    let relabelled = fangyitong::relabel::handle(
        &app.state.core.store,
        app.clock.now(),
        &app.state.core.settings.health_rules,
        serde_json::from_value(json!({"trigger": "test"})).unwrap(),
    )
    .await
    .unwrap();
    assert!(relabelled.stopped_by_rekey);
    let synced = fangyitong::sync::handle(
        &app.sync_context().await,
        serde_json::from_value(json!({"trigger": "test"})).unwrap(),
    )
    .await
    .unwrap();
    assert!(
        matches!(synced, fangyitong::sync::SyncOutput::Stopped { .. }),
        "{synced:?}"
    );
    let correction = json!({"dose": 1, "date": "2021-05-10", "product": "科兴"});
    let paused = app
        .post("/vaccine/me/corrections", &c.employee, correction.clone())
        .await;
    assert_eq!(paused.status, StatusCode::SERVICE_UNAVAILABLE, "{paused:?}");
    assert_eq!(paused.body["code"], "rekeying");
    assert_eq!(paused.headers["retry-after"], "600");
    let request = axum::http::Request::get(format!(
        "/nucleic/enterprises/{}/summary",
        demo::demo_uscc()
    ))
    .header("authorization", format!("Bearer {}", app.token(&c.agent)))
    .body(axum::body::Body::empty())
    .unwrap();
    let refused = app.send_to(stale, request).await;
    assert_eq!(
        refused.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{refused:?}"
    );
    assert_eq!(seen(&app).await, before_seen, "before any key moved");

    // Cut: one segment gets one page, then the people look again (half their items moved).
    let cut = Pace {
        max_pages: 1,
        page_size: 10,
        ..Pace::pages_of(rekey::PAGE)
    };
    let partly = rekey::rewrite_segment(&ctx, 1, cut).await.unwrap();
    assert!(!partly.done);
    assert!(partly.totals.moved > 0, "{:?}", partly.totals);
    assert_eq!(seen(&app).await, before_seen, "half-way through");
    // An agent opens a detail half-way: recorded at the generation of the membership read.
    let employee = app
        .get(
            &format!(
                "/nucleic/enterprises/{}/labels/never/employees?limit=50",
                demo::demo_uscc()
            ),
            &c.agent,
        )
        .await;
    for member in employee.body["items"].as_array().unwrap().iter().take(6) {
        let id = member["employee_id"].as_str().unwrap();
        let detail = app
            .get(
                &format!("/nucleic/enterprises/{}/employees/{id}", demo::demo_uscc()),
                &c.agent,
            )
            .await;
        assert_eq!(detail.status, StatusCode::OK, "{detail:?}");
    }

    // Every segment to its end, then passes until one rewrites nothing.
    let mut status = every_segment(&ctx, &begun).await;
    // The export asked for before the migration is sent now, its job already rewritten: its
    // audit record names the requester by the job's new key, with the job's mark, so the next
    // pass leaves it alone.
    assert_eq!(app.run_export_worker().await, 1, "the export queued before");
    let mut passes = Vec::new();
    loop {
        assert!(
            status.progress.iter().all(|p| p.balances()),
            "{:?}",
            status.progress
        );
        let pass = status.run.pass;
        let finished = rekey::handle(&ctx, finish_event(pass)).await.unwrap();
        passes.push((pass, finished.totals.clone()));
        if finished.done {
            status = finished;
            break;
        }
        assert_eq!(finished.run.pass, pass + 1);
        status = every_segment(&ctx, &finished).await;
        assert!(passes.len() < 4, "{passes:?}");
    }
    let (_, first) = &passes[0];
    assert!(first.rewritten > 0 && first.moved > 0, "{passes:?}");
    let (_, last) = passes.last().unwrap();
    assert_eq!(last.rewritten + last.moved, 0, "{passes:?}");
    assert!(status.run.settled_at.is_some());
    // A retried finish of an earlier pass, and another begin, change nothing.
    let retried = rekey::handle(&ctx, finish_event(1)).await.unwrap();
    assert_eq!(retried.run, status.run);
    let refused = rekey::handle(&ctx, event("rekey/begin.json")).await;
    assert!(
        matches!(refused, Err(RekeyError::NoNewGeneration { settled: 2 })),
        "{refused:?}"
    );

    // Operators see it settled; writes resume once the environments' copies run out.
    app.clock.advance(chrono::Duration::seconds(31));
    let ops = app.get("/ops/rekey", &c.operator).await;
    assert_eq!(ops.status, StatusCode::OK, "{ops:?}");
    assert_eq!(
        (
            ops.body["generation"].as_u64(),
            ops.body["migrating"].as_bool()
        ),
        (Some(2), Some(false))
    );

    // No stored string holds an old key; the counts are those of before (the six views opened
    // meanwhile added a copy and an audit record each, the export's sending one); everyone sees
    // what they saw.
    let after = data_items(&app).await;
    assert_eq!(
        after.len(),
        before.len() + 12 + 1,
        "and the export's sending"
    );
    for item in &after {
        let mut found = Vec::new();
        item.values().for_each(|v| strings(v, &mut found));
        for s in found {
            assert!(
                !old_keys.iter().any(|k| s.contains(k.as_str())),
                "an old key left in {:?}/{:?}: {s}",
                text(item, "PK"),
                text(item, "SK")
            );
        }
    }
    // Nor an old pseudonym, but in the records of who did what then (an agent's id in an
    // invitation, a hand-add, a report they entered, an audit record's text), which name agents
    // by the id they had at the time and hold no key to move them by.
    let history = [
        "detail",
        "created_by",
        "revoked_by",
        "added_by",
        "removed_by",
        "entered_by_agent_id",
    ];
    let old_pseudonyms: BTreeSet<String> = old_keys
        .iter()
        .flat_map(|k| {
            let key = fangyitong::ids::PersonKey::try_from(k.clone()).unwrap();
            [demo::demo_uscc(), demo::foreign_uscc()]
                .into_iter()
                .flat_map(move |u| {
                    [
                        fangyitong::roster::EmployeeId::of(&u, &key).to_string(),
                        fangyitong::authorize::AgentId::of(&u, &key).to_string(),
                    ]
                })
        })
        .collect();
    for item in &after {
        for (name, value) in item
            .iter()
            .filter(|(name, _)| !history.contains(&name.as_str()))
        {
            let mut found = Vec::new();
            strings(value, &mut found);
            for s in found {
                assert!(
                    !old_pseudonyms.iter().any(|p| s.contains(p.as_str())),
                    "an old pseudonym left in {:?}/{:?} {name}: {s}",
                    text(item, "PK"),
                    text(item, "SK")
                );
            }
        }
    }
    let new_keys = person_keys(&after);
    let advanced: BTreeSet<String> = old_keys
        .iter()
        .map(|k| {
            let key = fangyitong::ids::PersonKey::try_from(k.clone()).unwrap();
            rotated().advance(&key).unwrap().to_string()
        })
        .collect();
    assert_eq!(
        new_keys, advanced,
        "every person moved to their next key, nobody else appeared"
    );
    assert_eq!(summaries(&after), summaries(&before));
    assert_eq!(seen(&app).await, before_seen, "after");
    let written = app
        .post("/vaccine/me/corrections", &c.employee, correction)
        .await;
    assert_eq!(written.status, StatusCode::CREATED, "{written:?}");
    // The pseudonyms changed with the keys: the employee's new id names their membership.
    assert_ne!(app.employee_id(&c.applicant, &demo::demo_uscc()), {
        let old = fangyitong::ids::IdDocument::parse(c.applicant.id_type, &c.applicant.id_number)
            .unwrap();
        fangyitong::roster::EmployeeId::of(&demo::demo_uscc(), &rotated().at(1).unwrap().key(&old))
            .to_string()
    });
}

/// The re-key state machine speaks the Lambda's language: every step's payload parses as a
/// [`RekeyRequest`], every field it reads back is in a [`RekeyStatus`]; transient failures are
/// retried, `Fatal` ones never; every failure ends in `Failed`, which says to start again; it
/// waits as long as begin says before rewriting; a segment is rewritten until done, and a pass
/// that rewrote something is followed by another.
#[tokio::test]
async fn the_rekey_state_machine_matches_its_lambda_and_loops_until_settled() {
    let definition = crate::state_machine::definition("RekeyStateMachine");
    let top = &definition["States"];
    let inner = &top["Segments"]["ItemProcessor"]["States"];
    let app = system_tests::spawn_app().await;
    let ctx = RekeyContext {
        store: app.state.core.store.clone(),
        keyer: rotated(),
        clock: app.state.core.clock.clone(),
    };
    let status = serde_json::to_value(
        rekey::handle(&ctx, event("rekey/begin.json"))
            .await
            .unwrap(),
    )
    .unwrap();
    let steps =
        crate::state_machine::check_tasks::<RekeyRequest>(
            &definition,
            &status,
            |path| match path {
                "options" => json!({}),
                "segment" => json!(0),
                "pass" => json!(1),
                other => panic!("a path this test does not know: {other}"),
            },
        );
    assert_eq!(steps.len(), 3, "{steps:?}");
    assert_eq!(top["Begin"]["Next"], "WaitForEnvironments");
    assert_eq!(
        top["WaitForEnvironments"]["SecondsPath"],
        "$.plan.wait_seconds"
    );
    assert_eq!(
        inner["SegmentDone"]["Choices"][0]["Variable"],
        "$.result.done"
    );
    assert_eq!(inner["SegmentDone"]["Default"], "Rewrite");
    assert_eq!(
        top["Finish"]["Parameters"]["Payload"]["pass.$"],
        "$.plan.pass"
    );
    assert_eq!(top["Settled"]["Choices"][0]["Variable"], "$.plan.settled");
    assert_eq!(top["Settled"]["Choices"][0]["Next"], "Done");
    assert_eq!(top["Settled"]["Default"], "Segments");
    // The errors the Lambda raises are classified as the state machine expects.
    assert!(RekeyError::TooEarly(chrono::Utc::now()).is_retryable());
    assert!(!RekeyError::NotBegun.is_retryable());
    assert!(!RekeyError::MissingGeneration(2).is_retryable());
}
