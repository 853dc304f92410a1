//! The data subject's rights through the API: `GET /me/data`, who viewed an employee's details,
//! and the deletion request.

use crate::invite::{app_with_synced_employee, invitation, join, summary};
use axum::http::{Method, StatusCode};
use local::demo;
use serde_json::{Value, json};
use system_tests::{TestApp, spawn_app};

fn u() -> String {
    demo::demo_uscc().to_string()
}

async fn my_data(app: &TestApp) -> Value {
    let r = app.get("/me/data", &app.cast.employee).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert!(
        !r.text().contains(&app.cast.employee.id_number),
        "no raw ID number in /me/data"
    );
    r.body
}

async fn delete_my_data(app: &TestApp) -> system_tests::Reply {
    app.post(
        "/me/data/deletion",
        &app.cast.employee,
        json!({"confirm": true}),
    )
    .await
}

/// The employee joined the demo enterprise by invitation (on no roster), reported a dose, and
/// the agent opened their PCR and vaccination details.
async fn joined_reported_and_viewed() -> (TestApp, String) {
    let app = app_with_synced_employee().await;
    let c = &app.cast;
    let made = invitation(&app).await;
    let joined = join(&app, made["token"].as_str().unwrap()).await;
    assert_eq!(joined.status, StatusCode::CREATED, "{joined:?}");
    let employee_id = joined.body["employee_id"].as_str().unwrap().to_string();
    let reported = app
        .post(
            "/vaccine/me/corrections",
            &c.employee,
            json!({"dose": 3, "date": "2022-01-10", "product": "北京生物", "note": "在香港接种"}),
        )
        .await;
    assert_eq!(reported.status, StatusCode::CREATED, "{reported:?}");
    for section in ["nucleic", "vaccine"] {
        let detail = app
            .get(
                &format!("/{section}/enterprises/{}/employees/{employee_id}", u()),
                &c.agent,
            )
            .await;
        assert_eq!(detail.status, StatusCode::OK, "{detail:?}");
    }
    (app, employee_id)
}

#[tokio::test]
async fn an_employee_sees_everything_held_about_them_and_who_viewed_it() {
    let (app, employee_id) = joined_reported_and_viewed().await;
    let c = &app.cast;
    let data = my_data(&app).await;

    assert_eq!(data["name"], c.employee.name.as_str());
    assert_eq!(data["health"]["doses"].as_array().unwrap().len(), 2);
    assert_eq!(data["health"]["pcr_result"], "negative");
    assert!(data["health"]["kept_until"].is_string(), "{data}");
    let memberships = data["memberships"].as_array().unwrap();
    assert_eq!(memberships.len(), 1, "{data}");
    assert_eq!(memberships[0]["employee_id"], employee_id.as_str());
    assert_eq!(memberships[0]["sources"], json!(["invited"]));
    assert_eq!(
        memberships[0]["enterprise_name"],
        demo::DEMO_ENTERPRISE_NAME
    );
    assert_eq!(memberships[0]["health_shared"], true);
    assert!(
        memberships[0]["kept_until"].is_null(),
        "kept while employed"
    );
    assert_eq!(data["consents"].as_array().unwrap().len(), 1);
    assert_eq!(data["reports"][0]["kind"], "self_reported");

    // Both views, newest first, with who and which enterprise.
    let views = data["views"].as_array().unwrap();
    assert_eq!(views.len(), 2, "{data}");
    assert_eq!(views[0]["section"], "vaccine");
    assert_eq!(views[1]["section"], "nucleic");
    for view in views {
        assert_eq!(view["viewer_role"], "agent");
        assert_eq!(view["viewer_name"], c.agent.name.as_str());
        assert_eq!(view["enterprise_name"], demo::DEMO_ENTERPRISE_NAME);
    }
    assert!(data["views_next_cursor"].is_null());

    // The legal rep's audit trail names the agent's views too.
    let audit = app
        .get(
            &format!("/authorize/enterprises/{}/audit", u()),
            &c.legal_rep,
        )
        .await;
    let viewed: Vec<&Value> = audit.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == "detail_viewed")
        .collect();
    assert_eq!(viewed.len(), 2, "{audit:?}");
    assert!(viewed[0]["detail"].as_str().unwrap().contains(&employee_id));

    // The agent's own data: their authorisation, no health facts synced.
    let agent = app.get("/me/data", &c.agent).await;
    assert_eq!(
        agent.body["authorisations"][0]["status"], "active",
        "{agent:?}"
    );
    assert!(agent.body["views"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn the_viewing_history_pages_past_the_first_fifty() {
    let (app, employee_id) = joined_reported_and_viewed().await;
    for _ in 0..50 {
        let detail = app
            .get(
                &format!("/nucleic/enterprises/{}/employees/{employee_id}", u()),
                &app.cast.agent,
            )
            .await;
        assert_eq!(detail.status, StatusCode::OK);
    }
    let data = my_data(&app).await;
    assert_eq!(data["views"].as_array().unwrap().len(), 50);
    let cursor = data["views_next_cursor"].as_str().expect("a second page");
    let rest = app
        .get(
            &format!("/me/data/views?cursor={cursor}"),
            &app.cast.employee,
        )
        .await;
    assert_eq!(rest.status, StatusCode::OK, "{rest:?}");
    assert_eq!(rest.body["items"].as_array().unwrap().len(), 2);
    assert!(rest.body["next_cursor"].is_null());
    let bad = app
        .get("/me/data/views?cursor=not-a-cursor", &app.cast.employee)
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{bad:?}");
}

#[tokio::test]
async fn a_deletion_removes_what_no_ground_keeps_and_says_what_stays() {
    let (app, employee_id) = joined_reported_and_viewed().await;
    let c = &app.cast;
    let before = summary(&app).await;

    let unconfirmed = app
        .post("/me/data/deletion", &c.employee, json!({"confirm": false}))
        .await;
    assert_eq!(
        (unconfirmed.status, unconfirmed.body["code"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("confirmation_required")
        )
    );

    let r = delete_my_data(&app).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(
        r.body["deleted"],
        json!({"consents_withdrawn": 1, "memberships": 1, "memberships_narrowed": 0,
            "reports": 1, "consents": 1, "views": 2})
    );
    let kept: Vec<&str> = r.body["kept"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["record"].as_str().unwrap())
        .collect();
    assert!(
        kept.iter().any(|k| k.starts_with("person health")),
        "{kept:?}"
    );
    assert_eq!(r.body["kept"][0]["kind"], "health_record");
    assert!(kept.iter().any(|k| k.starts_with("membership")), "{kept:?}");

    // Gone from the enterprise: not counted, not found; the deletion is in its audit trail.
    let after = summary(&app).await;
    assert_eq!(
        after["total"].as_i64().unwrap(),
        before["total"].as_i64().unwrap() - 1,
        "{before} → {after}"
    );
    assert_eq!(after["left"], before["left"], "not counted as left either");
    let detail = app
        .get(
            &format!("/nucleic/enterprises/{}/employees/{employee_id}", u()),
            &c.agent,
        )
        .await;
    assert_eq!(detail.status, StatusCode::NOT_FOUND, "{detail:?}");
    let audit = app
        .get(
            &format!("/authorize/enterprises/{}/audit", u()),
            &c.legal_rep,
        )
        .await;
    assert!(audit.text().contains("data_erased"), "{audit:?}");

    // What stays: the health commission's record.
    let data = my_data(&app).await;
    for emptied in ["memberships", "consents", "reports", "views"] {
        assert!(
            data[emptied].as_array().unwrap().is_empty(),
            "{emptied}: {data}"
        );
    }
    assert_eq!(data["health"]["doses"].as_array().unwrap().len(), 2);

    // Asking again deletes nothing more.
    let again = delete_my_data(&app).await;
    assert_eq!(again.status, StatusCode::OK);
    assert!(
        again.body["deleted"]
            .as_object()
            .unwrap()
            .values()
            .all(|n| n == 0),
        "{again:?}"
    );
}

#[tokio::test]
async fn a_roster_membership_stays_after_a_deletion_without_health_data() {
    let app = spawn_app().await;
    app.seed_demo_enterprise(5).await;
    let c = &app.cast;
    let made = invitation(&app).await;
    let joined = join(&app, made["token"].as_str().unwrap()).await;
    assert_eq!(
        joined.body["sources"],
        json!(["roster", "invited"]),
        "{joined:?}"
    );
    let employee_id = joined.body["employee_id"].as_str().unwrap().to_string();
    let before = summary(&app).await;

    let r = delete_my_data(&app).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.body["deleted"]["memberships"], 0);
    assert_eq!(r.body["deleted"]["memberships_narrowed"], 1);

    let data = my_data(&app).await;
    let memberships = data["memberships"].as_array().unwrap();
    assert_eq!(memberships[0]["sources"], json!(["roster"]));
    assert_eq!(memberships[0]["health_shared"], false);
    // Still an employee and counted, but the enterprise no longer sees the health data.
    assert_eq!(summary(&app).await["total"], before["total"]);
    let detail = app
        .get(
            &format!("/nucleic/enterprises/{}/employees/{employee_id}", u()),
            &c.agent,
        )
        .await;
    assert_eq!(detail.status, StatusCode::GONE, "{detail:?}");
}

#[tokio::test]
async fn my_data_needs_a_signed_in_person() {
    let app = spawn_app().await;
    for (method, path) in [
        (Method::GET, "/me/data"),
        (Method::GET, "/me/data/views"),
        (Method::POST, "/me/data/deletion"),
    ] {
        let r = app
            .call(method, path, None, Some(json!({"confirm": true})))
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{path}: {r:?}");
    }
}
