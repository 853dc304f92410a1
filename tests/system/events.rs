//! Every file in `events/` goes through the real Lambda event parsing
//! (`lambda_http::request::from_str`) and then the function's router, in file-name order over
//! one app, and must answer as listed here; the export worker's SQS events go through serde into
//! `SqsEvent`, as the runtime reads them, and its batch handler. A file without an expectation
//! fails the test.
//!
//! Events carry `{{token:ROLE}}`, `{{agent_id:ROLE:USCC}}` and `{{employee_id:ROLE:USCC}}`
//! placeholders for the demo cast: tokens must be fresh, and ids depend on the person-key secret.

use axum::http::StatusCode;
use local::demo;
use system_tests::{TestApp, spawn_app};

const AUTHORIZE: &[(&str, u16)] = &[
    ("01-find-enterprise.json", 200),
    ("02-apply.json", 201),
    ("03-share-link.json", 201),
    ("04-pending.json", 200),
    ("05-decide-application.json", 200),
    ("06-mine.json", 200),
    ("07-access.json", 200),
    ("08-access-denied-stranger.json", 403),
    ("09-agents.json", 200),
    ("10-revoke.json", 200),
    ("11-audit.json", 200),
    ("12-offline-grant.json", 200),
    ("13-offline-originals.json", 200),
    ("14-apply-invalid-uscc.json", 422),
    ("15-offline-grant-not-operator.json", 403),
    ("16-sync-runs.json", 200),
    ("17-sunset.json", 200),
    ("18-rekey.json", 200),
    ("19-offline-grants-awaited.json", 200),
];

const QUERY_NUCLEIC: &[(&str, u16)] = &[
    ("01-summary-agent.json", 200),
    ("02-summary-legal-rep.json", 200),
    ("03-summary-stranger.json", 403),
    ("04-summary-other-enterprise-agent.json", 403),
    ("05-list-24h-in-shenzhen.json", 200),
    ("06-list-never-by-name.json", 200),
    ("07-list-unknown-label.json", 400),
    ("08-list-broken-cursor.json", 400),
    ("09-list-page-too-large.json", 400),
    ("10-employee-detail.json", 200),
    ("11-employee-detail-stranger.json", 403),
];

const QUERY_VACCINE: &[(&str, u16)] = &[
    ("01-summary-agent.json", 200),
    ("02-list-unvaccinated.json", 200),
    ("03-list-unknown-state.json", 400),
    ("04-employee-doses.json", 200),
    ("05-agent-enters-dose.json", 201),
    ("06-my-record.json", 200),
    ("07-my-correction.json", 201),
    ("08-correction-future-date.json", 422),
    ("09-summary-stranger.json", 403),
];

const INVITE_JOIN: &[(&str, u16)] = &[
    ("01-create-invitation.json", 201),
    ("02-list-invitations.json", 200),
    ("03-poster.json", 200),
    ("04-open.json", 200),
    ("05-join-without-consent.json", 422),
    ("06-join.json", 201),
    ("07-join-anonymous.json", 401),
    ("08-my-enterprises.json", 200),
    ("09-withdraw.json", 200),
    ("10-add-by-hand.json", 201),
    ("11-add-by-hand-invalid-id.json", 422),
    ("12-remove-employee.json", 200),
    ("13-revoke-invitation.json", 200),
    ("14-open-revoked.json", 410),
    ("15-create-invitation-stranger.json", 403),
    ("16-my-data.json", 200),
    ("17-my-data-views.json", 200),
    ("18-deletion-unconfirmed.json", 422),
    ("19-deletion.json", 200),
];

/// HTTP events answer with their status; queue events with 200 when no message is to be
/// delivered again (a failure would be 500).
const EXPORT: &[(&str, u16)] = &[
    ("01-request-export.json", 202),
    ("02-list-exports.json", 200),
    ("03-export-status.json", 200),
    ("04-request-invalid-email.json", 422),
    ("05-status-stranger.json", 403),
];

/// The export worker's SQS events, and how many of each batch's messages it asks the queue to
/// deliver again.
const EXPORT_WORKER: &[(&str, usize)] = &[
    ("01-job-message.json", 0),
    ("02-redelivered-message.json", 0),
    ("03-malformed-message.json", 0),
    ("04-unknown-job.json", 0),
];

const QUERY_SITES: &[(&str, u16)] = &[
    ("01-districts.json", 200),
    ("02-sites-of-a-street.json", 200),
    ("03-nearest.json", 200),
    ("04-zones.json", 200),
    ("05-zone-check.json", 200),
    ("06-street-without-district.json", 400),
    ("07-nearest-outside-china.json", 400),
];

/// Feeds every file of `events/<function>/` through `lambda_http`'s parser into `router`.
async fn drive(app: &TestApp, function: &str, router: axum::Router, expectations: &[(&str, u16)]) {
    drive_with(app, function, router, expectations, &[]).await;
}

/// [`drive`], with more placeholders (`{{name}}` → value) for values made during the test.
async fn drive_with(
    app: &TestApp,
    function: &str,
    router: axum::Router,
    expectations: &[(&str, u16)],
    placeholders: &[(&str, String)],
) {
    let dir = local::repo_root().join("events").join(function);
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".json"))
        .collect();
    files.sort();
    let listed: Vec<&str> = expectations.iter().map(|(f, _)| *f).collect();
    assert_eq!(
        files, listed,
        "every event file needs an expectation, and every expectation a file"
    );

    for (file, expected) in expectations {
        let mut text = std::fs::read_to_string(dir.join(file)).unwrap();
        for (role, persona) in app.cast.all() {
            text = text.replace(&format!("{{{{token:{role}}}}}"), &app.token(persona));
            for uscc in [demo::demo_uscc(), demo::foreign_uscc()] {
                let placeholder = format!("{{{{agent_id:{role}:{uscc}}}}}");
                text = text.replace(&placeholder, &app.agent_id(persona, &uscc));
                let placeholder = format!("{{{{employee_id:{role}:{uscc}}}}}");
                text = text.replace(&placeholder, &app.employee_id(persona, &uscc));
            }
        }
        for (name, value) in placeholders {
            text = text.replace(&format!("{{{{{name}}}}}"), value);
        }
        assert!(!text.contains("{{"), "{file}: unreplaced placeholder");
        let request =
            lambda_http::request::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
        let request = request.map(|body| axum::body::Body::from(body.to_vec()));
        let reply = app.send_to(router.clone(), request).await;
        assert_eq!(
            reply.status,
            StatusCode::from_u16(*expected).unwrap(),
            "{file}: {reply:?}"
        );
        if reply.content_type.as_deref() == Some("image/svg+xml") {
            assert!(reply.bytes.starts_with(b"<svg "), "{file}: an SVG");
        } else {
            assert!(
                reply.body.is_object() || reply.body.is_array(),
                "{file}: JSON answer"
            );
        }
    }
}

#[tokio::test]
async fn authorize_events_drive_the_router() {
    let app = spawn_app().await;
    demo::seed_agent(&app.state, &app.cast)
        .await
        .expect("seed the demo agent");
    let routes = fangyitong::authorize::routes::routes().merge(fangyitong::ops::routes());
    let (router, _) = fangyitong::openapi::build(routes, app.state.link_state());
    drive(&app, "authorize", router, AUTHORIZE).await;
}

#[tokio::test]
async fn query_sites_events_drive_the_router() {
    let app = spawn_app().await;
    let ctx = app.sync_context().await;
    let now = fangyitong::clock::Clock::now(&app.clock);
    for (feed, body) in [
        (
            "sites",
            local::generate::jsonl(local::generate::site_lines(7, 2, now)),
        ),
        (
            "zones",
            local::generate::jsonl(local::generate::zone_lines(now)),
        ),
    ] {
        let key = format!("inbound/{feed}/20220401T020000Z-0001.jsonl");
        system_tests::deliver(&ctx, &key, body).await;
    }
    fangyitong::sync::run(&ctx, "events test").await.unwrap();
    let (router, _) = fangyitong::openapi::build(
        fangyitong::query_sites::routes(),
        app.state.verified_state(),
    );
    drive(&app, "query-sites", router, QUERY_SITES).await;
}

#[tokio::test]
async fn query_nucleic_events_drive_the_router() {
    let app = spawn_app().await;
    app.seed_demo_enterprise(20).await;
    let (router, _) =
        fangyitong::openapi::build(fangyitong::query_nucleic::routes(), app.state.api_state());
    drive(&app, "query-nucleic", router, QUERY_NUCLEIC).await;
}

#[tokio::test]
async fn query_vaccine_events_drive_the_router() {
    let app = spawn_app().await;
    app.seed_demo_enterprise(20).await;
    let (router, _) =
        fangyitong::openapi::build(fangyitong::query_vaccine::routes(), app.state.api_state());
    drive(&app, "query-vaccine", router, QUERY_VACCINE).await;
}

#[tokio::test]
async fn invite_join_events_drive_the_router() {
    let app = spawn_app().await;
    app.seed_demo_enterprise(5).await;
    // An invitation made before the events run, for the events that open, join or revoke one.
    let made = app
        .post(
            &format!("/invite/enterprises/{}/invitations", demo::demo_uscc()),
            &app.cast.legal_rep,
            serde_json::json!({}),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{made:?}");
    let placeholders = [
        (
            "invitation:id",
            made.body["id"].as_str().unwrap().to_string(),
        ),
        (
            "invitation:token",
            made.body["token"].as_str().unwrap().to_string(),
        ),
    ];
    let (router, _) =
        fangyitong::openapi::build(fangyitong::invite::routes(), app.state.link_state());
    drive_with(&app, "invite-join", router, INVITE_JOIN, &placeholders).await;
}

/// The export routes' events go through the router like every HTTP function's; the worker's
/// SQS events are read as the Lambda runtime reads them (`LambdaEvent<SqsEvent>`) and handed to
/// `export::lambda::handle_batch`.
#[tokio::test]
async fn export_and_worker_events_drive_their_handlers() {
    let app = spawn_app().await;
    app.seed_demo_enterprise(10).await;
    let recipient = format!(
        "events-{}@example.cn",
        ulid::Ulid::new().to_string().to_lowercase()
    );
    let made = app
        .post(
            &format!("/export/enterprises/{}/exports", demo::demo_uscc()),
            &app.cast.agent,
            serde_json::json!({"list": "vaccine", "group": "unvaccinated", "email": recipient, "idempotency_key": "setup"}),
        )
        .await;
    assert_eq!(made.status, StatusCode::ACCEPTED, "{made:?}");
    let job_id = made.body["job_id"].as_str().unwrap().to_string();
    let placeholders = [("export:job_id", job_id.clone())];
    let (router, _) =
        fangyitong::openapi::build(fangyitong::export::routes(), app.state.export_state());
    drive_with(&app, "export", router, EXPORT, &placeholders).await;

    let worker = app.state.worker_state();
    let dir = local::repo_root().join("events").join("export-worker");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    assert_eq!(
        files,
        EXPORT_WORKER.iter().map(|(f, _)| *f).collect::<Vec<_>>()
    );
    for (file, redelivered) in EXPORT_WORKER {
        let text = std::fs::read_to_string(dir.join(file))
            .unwrap()
            .replace("{{export:job_id}}", &job_id);
        assert!(!text.contains("{{"), "{file}: unreplaced placeholder");
        let event = local::exports::parse_sqs_event(serde_json::from_str(&text).unwrap())
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        let out = fangyitong::export::lambda::handle_batch(&worker, event).await;
        assert_eq!(
            out.batch_item_failures.len(),
            *redelivered,
            "{file}: {out:?}"
        );
    }
    // The queued job was mailed once, whatever the redelivery.
    let status = app
        .get(
            &format!("/export/enterprises/{}/exports/{job_id}", demo::demo_uscc()),
            &app.cast.agent,
        )
        .await;
    assert_eq!(status.body["status"], "sent");
    assert_eq!(app.mails_to(&recipient).await.len(), 1);
}
