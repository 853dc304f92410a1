//! invite-join through the API: invitations and posters, joining with consent, withdrawal,
//! hand-added and removed employees — and what the enterprise then sees.

use axum::http::{Method, StatusCode};
use chrono::Duration;
use fangyitong::clock::Clock;
use local::demo;
use local::generate::jsonl;
use serde_json::{Value, json};
use system_tests::{TestApp, deliver, spawn_app};

fn u() -> String {
    demo::demo_uscc().to_string()
}

pub(crate) async fn invitation(app: &TestApp) -> Value {
    let made = app
        .post(
            &format!("/invite/enterprises/{}/invitations", u()),
            &app.cast.agent,
            json!({"valid_days": 7}),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{made:?}");
    made.body
}

pub(crate) async fn join(app: &TestApp, token: &str) -> system_tests::Reply {
    app.post(
        "/invite/join",
        &app.cast.employee,
        json!({"token": token, "notice_version": "2022-04-01", "consent": true}),
    )
    .await
}

pub(crate) async fn summary(app: &TestApp) -> Value {
    app.get(
        &format!("/nucleic/enterprises/{}/summary", u()),
        &app.cast.agent,
    )
    .await
    .body
}

/// The agent, and the employee's official record synced (two doses, a PCR test 3 h ago) — but
/// the employee on no roster of the demo enterprise.
pub(crate) async fn app_with_synced_employee() -> TestApp {
    let app = spawn_app().await;
    demo::seed_agent(&app.state, &app.cast).await.unwrap();
    let c = &app.cast;
    let ctx = app.sync_context().await;
    let sampled = app.clock.now() - Duration::hours(3);
    deliver(&ctx, "inbound/pcr/20220401T020000Z-0001.jsonl", jsonl([json!({"id_type": "resident_id", "id_number": c.employee.id_number,
        "sampled_at": sampled, "result_at": sampled + Duration::hours(1), "result": "negative", "site": "福田区会展中心采样点", "city": "深圳市"})])).await;
    deliver(&ctx, "inbound/vaccination/20220401T020000Z-0001.jsonl", jsonl([
        json!({"id_type": "resident_id", "id_number": c.employee.id_number, "dose": 1, "date": "2021-05-01", "product": "北京生物"}),
        json!({"id_type": "resident_id", "id_number": c.employee.id_number, "dose": 2, "date": "2021-06-01", "product": "北京生物"}),
    ])).await;
    fangyitong::sync::run(&ctx, "test").await.unwrap();
    app
}

#[tokio::test]
async fn an_employee_joins_by_invitation_and_is_seen_at_once() {
    let app = app_with_synced_employee().await;
    let c = &app.cast;
    let made = invitation(&app).await;
    let token = made["token"].as_str().unwrap();
    assert!(
        made["url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/#/join/{token}"))
    );
    assert_eq!(made["created_by_name"], c.agent.name.as_str());

    // The poster: an SVG with the enterprise's name and the QR code, fetched by an agent.
    let poster = app.get(made["poster"].as_str().unwrap(), &c.agent).await;
    assert_eq!(poster.status, StatusCode::OK);
    assert_eq!(poster.content_type.as_deref(), Some("image/svg+xml"));
    let svg = String::from_utf8(poster.bytes.clone()).unwrap();
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" width="));
    assert!(svg.contains(demo::DEMO_ENTERPRISE_NAME), "{svg}");
    assert!(svg.contains("h1v1h-1z") && !svg.contains("<script"));

    // The employee sees who asks and what it will see.
    let opened = app
        .get(&format!("/invite/open?token={token}"), &c.employee)
        .await;
    assert_eq!(opened.status, StatusCode::OK, "{opened:?}");
    assert_eq!(opened.body["enterprise_name"], demo::DEMO_ENTERPRISE_NAME);
    assert_eq!(opened.body["shared"].as_array().unwrap().len(), 5);
    assert_eq!(opened.body["already_employee"], false);

    // No consent, or consent to an older notice: nothing written.
    let before = app.item_count().await;
    let r = app
        .post(
            "/invite/join",
            &c.employee,
            json!({"token": token, "notice_version": "2022-04-01", "consent": false}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("consent_required"))
    );
    let r = app
        .post(
            "/invite/join",
            &c.employee,
            json!({"token": token, "notice_version": "2021-01-01", "consent": true}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (StatusCode::CONFLICT, Some("notice_changed"))
    );
    let r = app
        .call(
            Method::POST,
            "/invite/join",
            None,
            Some(json!({"token": token, "notice_version": "2022-04-01", "consent": true})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.item_count().await, before);

    let joined = join(&app, token).await;
    assert_eq!(joined.status, StatusCode::CREATED, "{joined:?}");
    assert_eq!(joined.body["admitted"], "new");
    assert_eq!(joined.body["health_record"], "attached");
    assert_eq!(joined.body["consent"]["notice_version"], "2022-04-01");
    assert_eq!(joined.body["consent"]["given_at"], json!(app.clock.now()));
    let employee_id = joined.body["employee_id"].as_str().unwrap().to_string();

    // The agent sees the employee's state at once, before any relabel.
    let s = summary(&app).await;
    assert_eq!(
        (
            s["total"].as_i64(),
            s["labels"]["24h"].as_i64(),
            s["in_shenzhen"].as_i64()
        ),
        (Some(1), Some(1), Some(1))
    );
    let list = app
        .get(
            &format!(
                "/nucleic/enterprises/{}/labels/24h/employees?source=invited",
                u()
            ),
            &c.agent,
        )
        .await;
    assert_eq!(list.body["items"][0]["employee_id"], employee_id.as_str());
    let doses = app
        .get(
            &format!("/vaccine/enterprises/{}/employees/{employee_id}", u()),
            &c.agent,
        )
        .await;
    assert_eq!(doses.body["official"].as_array().unwrap().len(), 2);
    assert_eq!(doses.body["official_record"], "attached");
    assert_eq!(doses.body["state"], "booster_eligible");

    // Joining twice is one employee, and writes nothing; the invitation counts who joined.
    let before = app.item_count().await;
    let again = join(&app, token).await;
    assert_eq!(
        (again.status, again.body["admitted"].as_str()),
        (StatusCode::CREATED, Some("already_there"))
    );
    assert_eq!(summary(&app).await["total"], 1);
    assert_eq!(app.item_count().await, before);
    let listed = app
        .get(
            &format!("/invite/enterprises/{}/invitations", u()),
            &c.legal_rep,
        )
        .await;
    assert_eq!(
        (
            listed.body["items"][0]["uses"].as_u64(),
            listed.body["items"][0]["status"].as_str()
        ),
        (Some(1), Some("active"))
    );

    // A relabel later changes nothing for them (their state is already there).
    let report = fangyitong::relabel::run(
        &app.state.core.store,
        app.clock.now(),
        &app.state.core.settings.health_rules,
    )
    .await
    .unwrap();
    assert_eq!(report.memberships_changed, 0);

    // Revoked: the link and the poster stop working. Expired: the same.
    let id = made["id"].as_str().unwrap();
    let r = app
        .call(
            Method::DELETE,
            &format!("/invite/enterprises/{}/invitations/{id}", u()),
            Some(&app.token(&c.agent)),
            None,
        )
        .await;
    assert_eq!(
        (r.status, r.body["status"].as_str()),
        (StatusCode::OK, Some("revoked"))
    );
    let r = app
        .get(&format!("/invite/open?token={token}"), &c.employee)
        .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (StatusCode::GONE, Some("invitation_revoked"))
    );
    assert_eq!(join(&app, token).await.status, StatusCode::GONE);
    assert_eq!(
        app.get(made["poster"].as_str().unwrap(), &c.agent)
            .await
            .status,
        StatusCode::GONE
    );
    let other = invitation(&app).await;
    app.clock.advance(Duration::days(8));
    let r = app
        .get(
            &format!("/invite/open?token={}", other["token"].as_str().unwrap()),
            &c.employee,
        )
        .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (StatusCode::GONE, Some("invitation_expired"))
    );
}

#[tokio::test]
async fn forged_foreign_and_wrong_kind_tokens_are_refused() {
    let app = spawn_app().await;
    demo::seed_agent(&app.state, &app.cast).await.unwrap();
    let c = &app.cast;
    let made = invitation(&app).await;
    let token = made["token"].as_str().unwrap();
    let (payload, signature) = token.split_once('.').unwrap();
    // Another enterprise in the payload, the same signature.
    let mut claims: Value = serde_json::from_slice(&base64_decode(payload)).unwrap();
    claims["uscc"] = json!(demo::foreign_uscc().to_string());
    let forged = format!(
        "{}.{signature}",
        base64_encode(&serde_json::to_vec(&claims).unwrap())
    );
    // A share link (another kind of signed link) offered as an invitation.
    let share = app
        .post("/authorize/share-links", &c.applicant, json!({"uscc": u()}))
        .await;
    let before = app.item_count().await;
    for bad in [
        forged.as_str(),
        share.body["token"].as_str().unwrap(),
        "not-a-token",
        "",
    ] {
        let r = app
            .post(
                "/invite/join",
                &c.employee,
                json!({"token": bad, "notice_version": "2022-04-01", "consent": true}),
            )
            .await;
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_invitation")),
            "{bad}: {r:?}"
        );
    }
    assert_eq!(app.item_count().await, before);
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .unwrap()
}

fn base64_encode(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

#[tokio::test]
async fn withdrawing_consent_stops_the_enterprise_seeing_health_data() {
    let app = app_with_synced_employee().await;
    let c = &app.cast;
    let made = invitation(&app).await;
    let joined = join(&app, made["token"].as_str().unwrap()).await;
    let employee_id = joined.body["employee_id"].as_str().unwrap().to_string();

    let r = app
        .post(
            &format!("/invite/me/enterprises/{}/withdraw", u()),
            &c.employee,
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.body["still_employee_via"], json!([]));
    let s = summary(&app).await;
    assert_eq!(
        (
            s["total"].as_i64(),
            s["left"].as_i64(),
            s["labels"]["24h"].as_i64()
        ),
        (Some(0), Some(1), Some(0))
    );
    for path in [
        format!("/nucleic/enterprises/{}/employees/{employee_id}", u()),
        format!("/vaccine/enterprises/{}/employees/{employee_id}", u()),
    ] {
        let r = app.get(&path, &c.agent).await;
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (StatusCode::GONE, Some("consent_withdrawn")),
            "{path}"
        );
    }
    for query in ["", "?status=left"] {
        let list = app
            .get(
                &format!("/nucleic/enterprises/{}/labels/24h/employees{query}", u()),
                &c.agent,
            )
            .await;
        assert_eq!(list.body["items"], json!([]), "{query}");
    }
    // New facts and a relabel do not bring the state back to the enterprise.
    app.clock.advance(Duration::hours(30));
    fangyitong::relabel::run(
        &app.state.core.store,
        app.clock.now(),
        &app.state.core.settings.health_rules,
    )
    .await
    .unwrap();
    let s = summary(&app).await;
    assert_eq!(
        s["labels"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_i64().unwrap())
            .sum::<i64>(),
        0
    );
    let mine = app.get("/invite/me", &c.employee).await;
    assert_eq!(
        mine.body["items"][0]["consent"]["withdrawn_at"],
        json!(app.clock.now() - Duration::hours(30))
    );
    assert_eq!(mine.body["items"][0]["current"], false);
    // Withdrawing twice: there is no consent in force any more.
    let r = app
        .post(
            &format!("/invite/me/enterprises/{}/withdraw", u()),
            &c.employee,
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // Joining again (a new invitation) is a fresh consent: back, and seen again.
    let made = invitation(&app).await;
    let back = join(&app, made["token"].as_str().unwrap()).await;
    assert_eq!(back.body["admitted"], "returned");
    assert_eq!(summary(&app).await["total"], 1);
}

#[tokio::test]
async fn hand_added_employees_are_one_person_whatever_the_sources() {
    let app = spawn_app().await;
    app.seed_demo_enterprise(5).await;
    let c = &app.cast;
    let path = format!("/invite/enterprises/{}/employees", u());
    let total = summary(&app).await["total"].as_i64().unwrap();

    // Bad input: a clear 422 each, nothing written.
    let before = app.item_count().await;
    let mut bad_check = c.second_applicant.id_number.clone();
    bad_check.replace_range(17.., if bad_check.ends_with('1') { "2" } else { "1" });
    for (body, code) in [
        (
            json!({"name": "林小梅", "id_type": "resident_id", "id_number": bad_check, "phone": "13800138000"}),
            "invalid_id_number",
        ),
        (
            json!({"name": "林小梅", "id_type": "resident_id", "id_number": c.second_applicant.id_number, "phone": "12345"}),
            "invalid_phone",
        ),
        (
            json!({"name": "  ", "id_type": "resident_id", "id_number": c.second_applicant.id_number, "phone": "13800138000"}),
            "invalid_name",
        ),
    ] {
        let r = app.post(&path, &c.agent, body).await;
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(code)),
            "{r:?}"
        );
    }
    let r = app.post(&path, &c.agent, json!({"name": "x", "id_type": "passport_of_mars", "id_number": "1", "phone": "13800138000"})).await;
    assert!(r.status.is_client_error());
    assert_eq!(app.item_count().await, before);

    // A new person: one more employee, masked, labelled at once.
    let add = |p: &local::tokens::Persona| json!({"name": p.name, "id_type": "resident_id", "id_number": p.id_number, "phone": "13800138000"});
    let r = app.post(&path, &c.agent, add(&c.second_applicant)).await;
    assert_eq!(
        (r.status, r.body["admitted"].as_str()),
        (StatusCode::CREATED, Some("new")),
        "{r:?}"
    );
    assert_eq!(r.body["masked_phone"], "138****8000");
    assert!(!r.text().contains(&c.second_applicant.id_number));
    let s = summary(&app).await;
    assert_eq!(
        (s["total"].as_i64(), s["unlabelled"].as_i64()),
        (Some(total + 1), Some(0))
    );
    // Nothing synced for them yet: the enterprise sees the record as pending, not as "none".
    let added_id = r.body["employee_id"].as_str().unwrap();
    let doses = app
        .get(
            &format!("/vaccine/enterprises/{}/employees/{added_id}", u()),
            &c.agent,
        )
        .await;
    assert_eq!(doses.body["official_record"], "pending", "{doses:?}");
    // Added twice: still one.
    let r = app
        .post(&path, &c.legal_rep, add(&c.second_applicant))
        .await;
    assert_eq!(
        (r.status, r.body["admitted"].as_str()),
        (StatusCode::OK, Some("already_there"))
    );
    // Already on the roster: one employee, two sources.
    let r = app.post(&path, &c.agent, add(&c.employee)).await;
    assert_eq!(
        (r.status, r.body["admitted"].as_str()),
        (StatusCode::OK, Some("source_added"))
    );
    assert_eq!(r.body["sources"], json!(["roster", "hand_added"]));
    assert_eq!(summary(&app).await["total"], total + 1);

    // Removed: kept as left, with who and when; not counted; not twice.
    let employee_id = r.body["employee_id"].as_str().unwrap();
    let removal = format!("{path}/{employee_id}");
    let r = app
        .call(Method::DELETE, &removal, Some(&app.token(&c.agent)), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(
        r.body["removed_by"],
        app.agent_id(&c.agent, &demo::demo_uscc()).as_str()
    );
    let s = summary(&app).await;
    assert_eq!(
        (s["total"].as_i64(), s["left"].as_i64()),
        (Some(total), Some(1))
    );
    let r = app
        .call(Method::DELETE, &removal, Some(&app.token(&c.agent)), None)
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let left = app
        .get(
            &format!(
                "/nucleic/enterprises/{}/labels/never/employees?status=left",
                u()
            ),
            &c.agent,
        )
        .await;
    assert_eq!(left.body["items"][0]["employee_id"], employee_id);

    let audit = app
        .get(
            &format!("/authorize/enterprises/{}/audit", u()),
            &c.legal_rep,
        )
        .await;
    for action in ["employee_added", "employee_removed"] {
        assert!(audit.text().contains(action), "{action}");
    }
}

#[tokio::test]
async fn a_withdrawal_hides_health_data_even_from_the_roster_enterprise() {
    let app = spawn_app().await;
    app.seed_demo_enterprise(5).await;
    let c = &app.cast;
    let made = invitation(&app).await;
    let joined = join(&app, made["token"].as_str().unwrap()).await;
    assert_eq!(joined.body["admitted"], "source_added", "{joined:?}");
    let employee_id = joined.body["employee_id"].as_str().unwrap().to_string();
    let before = summary(&app).await;

    let r = app
        .post(
            &format!("/invite/me/enterprises/{}/withdraw", u()),
            &c.employee,
            json!({}),
        )
        .await;
    assert_eq!(r.body["still_employee_via"], json!(["roster"]), "{r:?}");
    // Still an employee (the roster says so), but out of every health count and list.
    let after = summary(&app).await;
    assert_eq!(after["total"], before["total"]);
    assert_eq!(
        after["unlabelled"].as_i64(),
        Some(before["unlabelled"].as_i64().unwrap() + 1)
    );
    let detail = app
        .get(
            &format!("/nucleic/enterprises/{}/employees/{employee_id}", u()),
            &c.agent,
        )
        .await;
    assert_eq!(
        (detail.status, detail.body["code"].as_str()),
        (StatusCode::GONE, Some("consent_withdrawn"))
    );
    // Neither a relabel nor an agent's hand-add brings it back.
    app.clock.advance(Duration::hours(30));
    fangyitong::relabel::run(
        &app.state.core.store,
        app.clock.now(),
        &app.state.core.settings.health_rules,
    )
    .await
    .unwrap();
    let add = json!({"name": c.employee.name, "id_type": "resident_id", "id_number": c.employee.id_number, "phone": "13800138000"});
    let r = app
        .post(
            &format!("/invite/enterprises/{}/employees", u()),
            &c.agent,
            add,
        )
        .await;
    assert_eq!(r.body["admitted"], "source_added", "{r:?}");
    let detail = app
        .get(
            &format!("/vaccine/enterprises/{}/employees/{employee_id}", u()),
            &c.agent,
        )
        .await;
    assert_eq!(detail.status, StatusCode::GONE);
    assert_eq!(summary(&app).await["unlabelled"], after["unlabelled"]);
    // Only a new consent does.
    let made = invitation(&app).await;
    join(&app, made["token"].as_str().unwrap()).await;
    let detail = app
        .get(
            &format!("/nucleic/enterprises/{}/employees/{employee_id}", u()),
            &c.agent,
        )
        .await;
    assert_eq!(detail.status, StatusCode::OK, "{detail:?}");
    assert_eq!(summary(&app).await["unlabelled"], before["unlabelled"]);
}
