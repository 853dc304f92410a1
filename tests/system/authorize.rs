//! Every authorisation path of manual §2 and §9, through the HTTP API.

use axum::http::{Method, StatusCode};
use chrono::Duration;
use fangyitong::clock::Clock;
use local::demo;
use serde_json::{Value, json};
use system_tests::{TestApp, spawn_app};

fn demo_uscc() -> String {
    demo::demo_uscc().to_string()
}

async fn status_of(app: &TestApp, who: &local::tokens::Persona) -> Vec<(String, String)> {
    let reply = app.get("/authorize/me", who).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    reply.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["uscc"].as_str().unwrap().to_string(),
                a["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

async fn access(app: &TestApp, who: &local::tokens::Persona) -> StatusCode {
    app.get(
        &format!("/authorize/enterprises/{}/access", demo_uscc()),
        who,
    )
    .await
    .status
}

#[tokio::test]
async fn method_1_share_link_grant() {
    let app = spawn_app().await;
    let c = &app.cast;
    assert_eq!(access(&app, &c.applicant).await, StatusCode::FORBIDDEN);

    let link = app
        .post(
            "/authorize/share-links",
            &c.applicant,
            json!({"uscc": demo_uscc()}),
        )
        .await;
    assert_eq!(link.status, StatusCode::CREATED, "{link:?}");
    let token = link.body["token"].as_str().unwrap().to_string();
    assert!(
        link.body["url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/#/share/{token}")),
        "the link opens the H5 client's share page"
    );
    assert_eq!(
        status_of(&app, &c.applicant).await,
        vec![(demo_uscc(), "pending".into())]
    );
    let pending = app
        .get(
            &format!("/authorize/enterprises/{}/access", demo_uscc()),
            &c.applicant,
        )
        .await;
    assert_eq!(pending.body["code"], "authorization_pending");

    // Somebody else who gets hold of the link cannot open it.
    let stranger = app
        .get(&format!("/authorize/share-links/{token}"), &c.agent)
        .await;
    assert_eq!(stranger.status, StatusCode::FORBIDDEN, "{stranger:?}");

    let opened = app
        .get(&format!("/authorize/share-links/{token}"), &c.legal_rep)
        .await;
    assert_eq!(opened.status, StatusCode::OK, "{opened:?}");
    assert_eq!(opened.body["applicant_name"], c.applicant.name);
    assert_eq!(opened.body["enterprise_name"], demo::DEMO_ENTERPRISE_NAME);
    assert!(
        !opened.body.to_string().contains(&c.applicant.id_number),
        "raw ID number in a response"
    );
    assert_eq!(opened.body["can_decide_now"], true);

    // A stale face verification is not enough to grant.
    let stale = app.token_with_face(&c.legal_rep, Some(app.clock.now() - Duration::minutes(30)));
    let refused = app
        .call(
            Method::POST,
            &format!("/authorize/share-links/{token}/decision"),
            Some(&stale),
            Some(json!({"decision": "grant"})),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.body["code"], "face_verification_required");

    let granted = app
        .post(
            &format!("/authorize/share-links/{token}/decision"),
            &c.legal_rep,
            json!({"decision": "grant"}),
        )
        .await;
    assert_eq!(granted.status, StatusCode::OK, "{granted:?}");
    assert_eq!(granted.body["status"], "active");
    assert_eq!(granted.body["method"], "share_link");
    assert_eq!(access(&app, &c.applicant).await, StatusCode::OK);

    // The link works once.
    let replay = app
        .post(
            &format!("/authorize/share-links/{token}/decision"),
            &c.legal_rep,
            json!({"decision": "reject"}),
        )
        .await;
    assert_eq!(
        (replay.status, replay.body["code"].as_str()),
        (StatusCode::GONE, Some("link_used")),
        "{replay:?}"
    );
    assert_eq!(
        status_of(&app, &c.applicant).await,
        vec![(demo_uscc(), "active".into())]
    );

    let audit = app
        .get(
            &format!("/authorize/enterprises/{}/audit", demo_uscc()),
            &c.legal_rep,
        )
        .await;
    let actions: Vec<&str> = audit.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["granted", "share_link_created", "applied"]);
}

#[tokio::test]
async fn share_links_expire_and_forgeries_are_refused() {
    let app = spawn_app().await;
    let c = &app.cast;
    let link = app
        .post(
            "/authorize/share-links",
            &c.applicant,
            json!({"uscc": demo_uscc()}),
        )
        .await;
    let token = link.body["token"].as_str().unwrap().to_string();

    let (payload, signature) = token.split_once('.').unwrap();
    let forged = format!("{payload}x.{signature}");
    let reply = app
        .get(&format!("/authorize/share-links/{forged}"), &c.legal_rep)
        .await;
    assert_eq!(
        (reply.status, reply.body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_link"))
    );
    let reply = app
        .get("/authorize/share-links/garbage", &c.legal_rep)
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);

    app.clock
        .advance(app.state.core.settings.share_link_ttl + Duration::seconds(1));
    let expired = app
        .post(
            &format!("/authorize/share-links/{token}/decision"),
            &c.legal_rep,
            json!({"decision": "grant"}),
        )
        .await;
    assert_eq!(
        (expired.status, expired.body["code"].as_str()),
        (StatusCode::GONE, Some("link_expired"))
    );
    assert_eq!(
        status_of(&app, &c.applicant).await,
        vec![(demo_uscc(), "pending".into())]
    );
}

#[tokio::test]
async fn method_2_application_approve_reject_and_revoke() {
    let app = spawn_app().await;
    let c = &app.cast;

    let found = app
        .get(
            &format!("/authorize/enterprises?name={}", demo::DEMO_ENTERPRISE_NAME),
            &c.applicant,
        )
        .await;
    assert_eq!(found.status, StatusCode::OK);
    assert_eq!(found.body[0]["uscc"], demo_uscc());
    let none = app
        .get("/authorize/enterprises?name=深圳市示例科技", &c.applicant)
        .await;
    assert_eq!(none.body, json!([]), "the full name must match exactly");

    let missing_reason = app
        .post(
            "/authorize/applications",
            &c.applicant,
            json!({"uscc": demo_uscc(), "reason": "  "}),
        )
        .await;
    assert_eq!(missing_reason.status, StatusCode::UNPROCESSABLE_ENTITY);

    for who in [&c.applicant, &c.second_applicant] {
        let applied = app
            .post(
                "/authorize/applications",
                who,
                json!({"uscc": demo_uscc(), "reason": "负责员工核酸统计"}),
            )
            .await;
        assert_eq!(applied.status, StatusCode::CREATED, "{applied:?}");
    }
    let twice = app
        .post(
            "/authorize/applications",
            &c.applicant,
            json!({"uscc": demo_uscc(), "reason": "again"}),
        )
        .await;
    assert_eq!(
        (twice.status, twice.body["code"].as_str()),
        (StatusCode::CONFLICT, Some("already_pending"))
    );
    let own = app
        .post(
            "/authorize/applications",
            &c.legal_rep,
            json!({"uscc": demo_uscc(), "reason": "me"}),
        )
        .await;
    assert_eq!(own.body["code"], "is_legal_rep");

    let pending = app.get("/authorize/legal-rep/pending", &c.legal_rep).await;
    assert_eq!(pending.status, StatusCode::OK);
    let pending = pending.body.as_array().unwrap().clone();
    assert_eq!(pending.len(), 2);
    let id_of = |name: &str| -> String {
        pending.iter().find(|a| a["agent_name"] == name).unwrap()["agent_id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (first, second) = (id_of(&c.applicant.name), id_of(&c.second_applicant.name));
    // Nobody else sees them.
    assert_eq!(
        app.get("/authorize/legal-rep/pending", &c.applicant)
            .await
            .body,
        json!([])
    );

    let decide = |agent: &str| {
        format!(
            "/authorize/enterprises/{}/agents/{agent}/decision",
            demo_uscc()
        )
    };
    // An applicant cannot approve themselves.
    let self_approve = app
        .post(&decide(&first), &c.applicant, json!({"decision": "grant"}))
        .await;
    assert_eq!(self_approve.status, StatusCode::FORBIDDEN);

    let until = app.clock.now() + Duration::days(30);
    let granted = app
        .post(
            &decide(&first),
            &c.legal_rep,
            json!({"decision": "grant", "valid_until": until}),
        )
        .await;
    assert_eq!(granted.status, StatusCode::OK, "{granted:?}");
    let rejected = app
        .post(
            &decide(&second),
            &c.legal_rep,
            json!({"decision": "reject"}),
        )
        .await;
    assert_eq!(rejected.body["status"], "rejected");
    let again = app
        .post(&decide(&second), &c.legal_rep, json!({"decision": "grant"}))
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(
        app.get("/authorize/legal-rep/pending", &c.legal_rep)
            .await
            .body,
        json!([])
    );

    assert_eq!(access(&app, &c.applicant).await, StatusCode::OK);
    assert_eq!(
        access(&app, &c.second_applicant).await,
        StatusCode::FORBIDDEN
    );

    // The grant ends when the legal rep said.
    app.clock.advance(Duration::days(31));
    assert_eq!(access(&app, &c.applicant).await, StatusCode::FORBIDDEN);
    assert_eq!(
        status_of(&app, &c.applicant).await,
        vec![(demo_uscc(), "expired".into())]
    );
    // An expired agent may apply again.
    let reapply = app
        .post(
            "/authorize/applications",
            &c.applicant,
            json!({"uscc": demo_uscc(), "reason": "续期"}),
        )
        .await;
    assert_eq!(reapply.status, StatusCode::CREATED, "{reapply:?}");
    let granted = app
        .post(&decide(&first), &c.legal_rep, json!({"decision": "grant"}))
        .await;
    assert_eq!(granted.status, StatusCode::OK);

    let agents = app
        .get(
            &format!("/authorize/enterprises/{}/agents", demo_uscc()),
            &c.legal_rep,
        )
        .await;
    assert_eq!(agents.body["items"].as_array().unwrap().len(), 2);
    let agents_by_agent = app
        .get(
            &format!("/authorize/enterprises/{}/agents", demo_uscc()),
            &c.applicant,
        )
        .await;
    assert_eq!(
        (
            agents_by_agent.status,
            agents_by_agent.body["code"].as_str()
        ),
        (StatusCode::FORBIDDEN, Some("legal_rep_only"))
    );

    let revoke_path = format!("/authorize/enterprises/{}/agents/{first}", demo_uscc());
    let revoked = app
        .call(
            Method::DELETE,
            &revoke_path,
            Some(&app.token(&c.legal_rep)),
            None,
        )
        .await;
    assert_eq!(revoked.body["status"], "revoked", "{revoked:?}");
    assert_eq!(access(&app, &c.applicant).await, StatusCode::FORBIDDEN);
    let twice = app
        .call(
            Method::DELETE,
            &revoke_path,
            Some(&app.token(&c.legal_rep)),
            None,
        )
        .await;
    assert_eq!(twice.status, StatusCode::CONFLICT);

    let audit = app
        .get(
            &format!("/authorize/enterprises/{}/audit", demo_uscc()),
            &c.legal_rep,
        )
        .await;
    assert_eq!(
        audit.body["items"].as_array().unwrap().len(),
        7,
        "{audit:?}"
    );
    assert!(!audit.body.to_string().contains(&c.applicant.id_number));
    assert!(
        audit.body["items"][0].get("PK").is_none(),
        "storage keys leak into the audit view"
    );
    assert_eq!(audit.body["items"][0]["action"], "revoked");
}

fn offline_body(app: &TestApp, agents: Value) -> Value {
    json!({
        "uscc": demo::foreign_uscc().to_string(),
        "agents": agents,
        "materials": {
            "application_form": true, "business_licence": true,
            "legal_rep_identity": true, "agent_identity": true,
            "email_reference": "OPS-2022-0401-17"
        },
        "email_approved_at": app.clock.now() - Duration::days(1),
    })
}

#[tokio::test]
async fn offline_batch_grant_lapses_without_originals() {
    let app = spawn_app().await;
    let c = &app.cast;
    let agents = json!([
        {"name": c.agent.name, "id_type": "resident_id", "id_number": c.agent.id_number},
        {"name": c.applicant.name, "id_type": "resident_id", "id_number": c.applicant.id_number},
    ]);
    let foreign = demo::foreign_uscc().to_string();

    let not_operator = app
        .post(
            "/authorize/offline-grants",
            &c.legal_rep,
            offline_body(&app, agents.clone()),
        )
        .await;
    assert_eq!(not_operator.status, StatusCode::FORBIDDEN);

    let granted = app
        .post(
            "/authorize/offline-grants",
            &c.operator,
            offline_body(&app, agents.clone()),
        )
        .await;
    assert_eq!(granted.status, StatusCode::OK, "{granted:?}");
    let results = granted.body.as_array().unwrap();
    assert!(results.iter().all(|r| r["outcome"] == "granted"));
    assert!(!granted.body.to_string().contains(&c.agent.id_number));
    // Re-running the batch is harmless.
    let again = app
        .post(
            "/authorize/offline-grants",
            &c.operator,
            offline_body(&app, agents.clone()),
        )
        .await;
    assert!(
        again
            .body
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["outcome"] == "already_active")
    );

    let access_path = format!("/authorize/enterprises/{foreign}/access");
    let access_foreign = |who| app.get(&access_path, who);
    assert_eq!(access_foreign(&c.agent).await.status, StatusCode::OK);

    // The originals of one agent arrive in time; the other's never do.
    let agent_id = results
        .iter()
        .find(|r| r["agent_name"] == c.agent.name)
        .unwrap()["agent_id"]
        .as_str()
        .unwrap()
        .to_string();
    let originals = app
        .post(
            &format!("/authorize/offline-grants/{foreign}/{agent_id}/originals"),
            &c.operator,
            // "Just now" from a phone whose clock runs a minute ahead.
            json!({"received_at": app.clock.now() + Duration::minutes(1), "note": "SF1234567890"}),
        )
        .await;
    assert_eq!(originals.status, StatusCode::OK, "{originals:?}");
    assert!(originals.body["offline"]["originals_received_at"].is_string());

    // The operators' list: only the grant still awaiting its originals, and nothing lapsed yet.
    assert_eq!(
        originals_listed(&app, "awaited").await,
        vec![(c.applicant.name.clone(), "active".into())]
    );
    assert!(originals_listed(&app, "lapsed").await.is_empty());
    let not_operator = app
        .get("/authorize/offline-grants?originals=awaited", &c.legal_rep)
        .await;
    assert_eq!(not_operator.status, StatusCode::FORBIDDEN);

    app.clock.advance(Duration::days(15));
    assert_eq!(access_foreign(&c.agent).await.status, StatusCode::OK);
    let lapsed = access_foreign(&c.applicant).await;
    assert_eq!(lapsed.status, StatusCode::FORBIDDEN);
    assert_eq!(
        status_of(&app, &c.applicant).await,
        vec![(foreign, "lapsed".into())]
    );
    assert!(originals_listed(&app, "awaited").await.is_empty());
    assert_eq!(
        originals_listed(&app, "lapsed").await,
        vec![(c.applicant.name.clone(), "lapsed".into())]
    );

    // Granted again, the agent leaves the lapsed list for the awaited one.
    let regranted = app
        .post(
            "/authorize/offline-grants",
            &c.operator,
            offline_body(&app, json!([agents[1]])),
        )
        .await;
    assert_eq!(regranted.body[0]["outcome"], "granted", "{regranted:?}");
    assert!(originals_listed(&app, "lapsed").await.is_empty());
    assert_eq!(
        originals_listed(&app, "awaited").await,
        vec![(c.applicant.name.clone(), "active".into())]
    );
}

/// The operators' list of offline grants whose originals are `awaited` or `lapsed`, every page:
/// (agent name, status).
async fn originals_listed(app: &TestApp, which: &str) -> Vec<(String, String)> {
    let mut listed = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = app
            .get(
                &format!("/authorize/offline-grants?originals={which}{cursor}"),
                &app.cast.operator,
            )
            .await;
        assert_eq!(page.status, StatusCode::OK, "{page:?}");
        for item in page.body["items"].as_array().unwrap() {
            assert!(item["offline"]["originals_due"].is_string());
            listed.push((
                item["agent_name"].as_str().unwrap().to_string(),
                item["status"].as_str().unwrap().to_string(),
            ));
        }
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => return listed,
        }
    }
}

#[tokio::test]
async fn the_operators_page_offline_grants_soonest_due_first_and_lapsed_latest_first() {
    let app = spawn_app().await;
    let c = &app.cast;
    // 60 agents over two approvals a day apart: more than one page (50) of each list.
    let batch = |first: u16, approved_days_ago: i64| {
        let agents: Vec<Value> = (first..first + 30)
            .map(|n| {
                let birth = chrono::NaiveDate::from_ymd_opt(1990, 1, 1).unwrap();
                json!({"name": format!("经办{n}"), "id_type": "resident_id",
                       "id_number": demo::resident_id("440304", birth, n)})
            })
            .collect();
        let mut body = offline_body(&app, json!(agents));
        body["email_approved_at"] = json!(app.clock.now() - Duration::days(approved_days_ago));
        body
    };
    for (first, days_ago) in [(100, 2), (200, 1)] {
        let granted = app
            .post(
                "/authorize/offline-grants",
                &c.operator,
                batch(first, days_ago),
            )
            .await;
        assert_eq!(granted.status, StatusCode::OK, "{granted:?}");
    }
    let first_page = app
        .get("/authorize/offline-grants?originals=awaited", &c.operator)
        .await;
    let items = first_page.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 50);
    // Soonest due first: the earlier approval's agents lead.
    assert!(
        items[..30]
            .iter()
            .all(|i| i["agent_name"].as_str().unwrap() < "经办2")
    );
    let cursor = first_page.body["next_cursor"].as_str().unwrap().to_string();
    // A cursor of the awaited list lies beyond the lapsed list's range: refused as a cursor of
    // another list, never passed on to DynamoDB (which would refuse the start key: a 5xx).
    let crossed = app
        .get(
            &format!("/authorize/offline-grants?originals=lapsed&cursor={cursor}"),
            &c.operator,
        )
        .await;
    assert_eq!(crossed.status, StatusCode::BAD_REQUEST, "{crossed:?}");

    // Every grant lapses before the next page is read: the page still goes on where the first
    // stopped, and answers (not a 5xx for a start outside the new range).
    app.clock.advance(Duration::days(15));
    let next = app
        .get(
            &format!("/authorize/offline-grants?originals=awaited&cursor={cursor}"),
            &c.operator,
        )
        .await;
    assert_eq!(next.status, StatusCode::OK, "{next:?}");
    assert_eq!(next.body["items"].as_array().unwrap().len(), 10);
    assert!(originals_listed(&app, "awaited").await.is_empty());

    let lapsed = originals_listed(&app, "lapsed").await;
    assert_eq!(lapsed.len(), 60);
    assert!(lapsed.iter().all(|(_, status)| status == "lapsed"));
    // The latest lapsed first: the later approval's agents lead.
    assert!(
        lapsed[..30]
            .iter()
            .all(|(name, _)| name.as_str() >= "经办2")
    );

    // A forged cursor is a 400, never a 5xx; so is a list that does not exist.
    for forged in ["e30", "not-a-cursor"] {
        let answer = app
            .get(
                &format!("/authorize/offline-grants?originals=lapsed&cursor={forged}"),
                &c.operator,
            )
            .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{answer:?}");
    }
    let unknown = app
        .get("/authorize/offline-grants?originals=overdue", &c.operator)
        .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST, "{unknown:?}");
}

#[tokio::test]
async fn offline_batch_with_one_bad_agent_writes_nothing() {
    let app = spawn_app().await;
    let c = &app.cast;
    let before = app.item_count().await;
    let mut bad_id = c.applicant.id_number.clone();
    bad_id.replace_range(17.., if bad_id.ends_with('0') { "1" } else { "0" });
    let agents = json!([
        {"name": c.agent.name, "id_type": "resident_id", "id_number": c.agent.id_number},
        {"name": c.applicant.name, "id_type": "resident_id", "id_number": bad_id},
    ]);
    let reply = app
        .post(
            "/authorize/offline-grants",
            &c.operator,
            offline_body(&app, agents),
        )
        .await;
    assert_eq!(
        (reply.status, reply.body["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_id_number"))
    );
    assert!(
        reply.body["message"]
            .as_str()
            .unwrap()
            .starts_with("agent 2")
    );

    let mut incomplete = offline_body(
        &app,
        json!([{"name": "赵一", "id_type": "passport", "id_number": "E99887766"}]),
    );
    incomplete["materials"]["business_licence"] = json!(false);
    let reply = app
        .post("/authorize/offline-grants", &c.operator, incomplete)
        .await;
    assert_eq!(reply.body["code"], "materials_incomplete");

    let mut unknown = offline_body(
        &app,
        json!([{"name": "赵一", "id_type": "passport", "id_number": "E99887766"}]),
    );
    unknown["uscc"] = json!(demo::uscc("MA5N0B0DY").to_string());
    let reply = app
        .post("/authorize/offline-grants", &c.operator, unknown)
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(app.item_count().await, before);
}

#[tokio::test]
async fn applications_refuse_bad_enterprises_and_write_nothing() {
    let app = spawn_app().await;
    let c = &app.cast;
    let before = app.item_count().await;
    let bad_check = "91440300MA5D3M001X";
    for (uscc, status, code) in [
        (bad_check, StatusCode::UNPROCESSABLE_ENTITY, "invalid_uscc"),
        ("123", StatusCode::UNPROCESSABLE_ENTITY, "invalid_uscc"),
        (
            &*demo::uscc("MA5N0B0DY").to_string(),
            StatusCode::NOT_FOUND,
            "unknown_enterprise",
        ),
    ] {
        let reply = app
            .post(
                "/authorize/applications",
                &c.applicant,
                json!({"uscc": uscc, "reason": "x"}),
            )
            .await;
        assert_eq!(
            (reply.status, reply.body["code"].as_str()),
            (status, Some(code)),
            "{uscc}"
        );
    }
    let reply = app
        .post(
            "/authorize/share-links",
            &c.applicant,
            json!({"uscc": bad_check}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    let long = "很".repeat(201);
    let reply = app
        .post(
            "/authorize/applications",
            &c.applicant,
            json!({"uscc": demo_uscc(), "reason": long}),
        )
        .await;
    assert_eq!(reply.body["code"], "reason_too_long");
    assert_eq!(app.item_count().await, before);
}

#[tokio::test]
async fn a_legal_rep_cannot_decide_for_an_enterprise_not_theirs() {
    let app = spawn_app().await;
    let c = &app.cast;
    let foreign = demo::foreign_uscc().to_string();
    let applied = app
        .post(
            "/authorize/applications",
            &c.applicant,
            json!({"uscc": foreign, "reason": "x"}),
        )
        .await;
    let agent_id = applied.body["agent_id"].as_str().unwrap().to_string();
    let before = app.item_count().await;
    // 张建国 is the demo enterprise's legal rep, not the foreign one's.
    let reply = app
        .post(
            &format!("/authorize/enterprises/{foreign}/agents/{agent_id}/decision"),
            &c.legal_rep,
            json!({"decision": "grant"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{reply:?}");
    assert_eq!(app.item_count().await, before);
    let link = app
        .post(
            "/authorize/share-links",
            &c.applicant,
            json!({"uscc": foreign}),
        )
        .await;
    let token = link.body["token"].as_str().unwrap();
    let reply = app
        .post(
            &format!("/authorize/share-links/{token}/decision"),
            &c.legal_rep,
            json!({"decision": "grant"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(
        status_of(&app, &c.applicant).await,
        vec![(foreign, "pending".into())]
    );
}

/// The tenant guard over every enterprise-scoped route of this function: only the legal rep (and,
/// where the route is not reserved to the legal rep, an active agent) gets through.
#[tokio::test]
async fn tenant_guard_matrix() {
    let app = spawn_app().await;
    let c = &app.cast;
    let uscc = demo_uscc();
    // agent: active; second_applicant: pending; applicant: revoked; employee: stranger.
    for who in [&c.agent, &c.applicant, &c.second_applicant] {
        app.post(
            "/authorize/applications",
            who,
            json!({"uscc": uscc, "reason": "x"}),
        )
        .await;
    }
    let id = |p: &local::tokens::Persona| app.agent_id(p, &demo::demo_uscc());
    for who in [&c.agent, &c.applicant] {
        let r = app
            .post(
                &format!("/authorize/enterprises/{uscc}/agents/{}/decision", id(who)),
                &c.legal_rep,
                json!({"decision": "grant"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
    }
    let r = app
        .call(
            Method::DELETE,
            &format!("/authorize/enterprises/{uscc}/agents/{}", id(&c.applicant)),
            Some(&app.token(&c.legal_rep)),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    // Another enterprise's agent.
    let other = demo::foreign_uscc().to_string();
    app.post("/authorize/offline-grants", &c.operator, offline_body(&app, json!([{"name": c.employee.name, "id_type": "resident_id", "id_number": c.employee.id_number}]))).await;
    assert_eq!(
        app.get(
            &format!("/authorize/enterprises/{other}/access"),
            &c.employee
        )
        .await
        .status,
        StatusCode::OK
    );

    let target = id(&c.second_applicant);
    demo::seed_employees(&app.state, &app.cast, 5)
        .await
        .unwrap();
    let employee = app.employee_id(&c.employee, &demo::demo_uscc());
    let dose = json!({"dose": 1, "date": "2021-06-01", "product": "科兴"});
    let invitation = app
        .post(
            &format!("/invite/enterprises/{uscc}/invitations"),
            &c.legal_rep,
            json!({}),
        )
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let hand_added = json!({"name": "林小梅", "id_type": "resident_id", "id_number": "440305199001011256", "phone": "13800138000"});
    // Every enterprise-scoped route of every function, reads and writes.
    let routes: Vec<(Method, String, Option<Value>, bool)> = vec![
        (
            Method::GET,
            format!("/nucleic/enterprises/{uscc}/labels/24h/employees"),
            None,
            false,
        ),
        (
            Method::GET,
            format!("/nucleic/enterprises/{uscc}/employees/{employee}"),
            None,
            false,
        ),
        (
            Method::GET,
            format!("/vaccine/enterprises/{uscc}/summary"),
            None,
            false,
        ),
        (
            Method::GET,
            format!("/vaccine/enterprises/{uscc}/states/boosted/employees"),
            None,
            false,
        ),
        (
            Method::GET,
            format!("/vaccine/enterprises/{uscc}/employees/{employee}"),
            None,
            false,
        ),
        (
            Method::POST,
            format!("/vaccine/enterprises/{uscc}/employees/{employee}/doses"),
            Some(dose),
            false,
        ),
        (
            Method::POST,
            format!("/invite/enterprises/{uscc}/invitations"),
            Some(json!({})),
            false,
        ),
        (
            Method::GET,
            format!("/invite/enterprises/{uscc}/invitations"),
            None,
            false,
        ),
        (
            Method::GET,
            format!("/invite/enterprises/{uscc}/invitations/{invitation}/poster"),
            None,
            false,
        ),
        (
            Method::DELETE,
            format!("/invite/enterprises/{uscc}/invitations/{invitation}"),
            None,
            false,
        ),
        (
            Method::POST,
            format!("/invite/enterprises/{uscc}/employees"),
            Some(hand_added),
            false,
        ),
        (
            Method::POST,
            format!("/export/enterprises/{uscc}/exports"),
            Some(
                json!({"list": "nucleic", "group": "24h", "email": "hr@example.cn", "idempotency_key": "matrix"}),
            ),
            false,
        ),
        (
            Method::GET,
            format!("/export/enterprises/{uscc}/exports"),
            None,
            false,
        ),
        (
            Method::DELETE,
            format!("/invite/enterprises/{uscc}/employees/{employee}"),
            None,
            false,
        ),
        (
            Method::GET,
            format!("/authorize/enterprises/{uscc}/access"),
            None,
            false,
        ),
        (
            Method::GET,
            format!("/nucleic/enterprises/{uscc}/summary"),
            None,
            false,
        ),
        (
            Method::GET,
            format!("/authorize/enterprises/{uscc}/agents"),
            None,
            true,
        ),
        (
            Method::GET,
            format!("/authorize/enterprises/{uscc}/audit"),
            None,
            true,
        ),
        (
            Method::POST,
            format!("/authorize/enterprises/{uscc}/agents/{target}/decision"),
            Some(json!({"decision": "reject"})),
            true,
        ),
        (
            Method::DELETE,
            format!("/authorize/enterprises/{uscc}/agents/{target}"),
            None,
            true,
        ),
    ];
    let denied = [
        &c.second_applicant,
        &c.applicant,
        &c.employee,
        &c.operator,
        &c.foreign_legal_rep,
    ];
    for (method, path, body, legal_rep_only) in &routes {
        for who in denied {
            let r = app
                .call(method.clone(), path, Some(&app.token(who)), body.clone())
                .await;
            assert_eq!(
                r.status,
                StatusCode::FORBIDDEN,
                "{} {method} {path}: {r:?}",
                who.name
            );
        }
        let r = app
            .call(
                method.clone(),
                path,
                Some(&app.token(&c.agent)),
                body.clone(),
            )
            .await;
        if *legal_rep_only {
            assert_eq!(
                r.status,
                StatusCode::FORBIDDEN,
                "agent {method} {path}: {r:?}"
            );
        } else {
            assert!(r.status.is_success(), "agent {method} {path}: {r:?}");
        }
        let r = app.call(method.clone(), path, None, body.clone()).await;
        assert_eq!(
            r.status,
            StatusCode::UNAUTHORIZED,
            "anonymous {method} {path}"
        );
    }
    // The legal rep passes the guard on every one, and the action itself runs.
    let expected = [
        StatusCode::OK,
        StatusCode::OK,
        StatusCode::OK,
        StatusCode::OK,
        StatusCode::OK,
        StatusCode::CREATED,
        StatusCode::CREATED,
        StatusCode::OK,
        StatusCode::GONE,
        StatusCode::OK,
        StatusCode::OK,
        StatusCode::ACCEPTED,
        StatusCode::OK,
        StatusCode::CONFLICT,
        StatusCode::OK,
        StatusCode::OK,
        StatusCode::OK,
        StatusCode::OK,
        StatusCode::OK,
        StatusCode::CONFLICT,
    ];
    for ((method, path, body, _), expected) in routes.iter().zip(expected) {
        let r = app
            .call(
                method.clone(),
                path,
                Some(&app.token(&c.legal_rep)),
                body.clone(),
            )
            .await;
        assert_eq!(r.status, expected, "legal rep {method} {path}: {r:?}");
    }
}

#[tokio::test]
async fn a_share_link_decides_only_the_application_it_was_made_for() {
    let app = spawn_app().await;
    let c = &app.cast;
    let first = app
        .post(
            "/authorize/share-links",
            &c.applicant,
            json!({"uscc": demo_uscc()}),
        )
        .await;
    let second = app
        .post(
            "/authorize/share-links",
            &c.applicant,
            json!({"uscc": demo_uscc()}),
        )
        .await;
    let (first, second) = (
        first.body["token"].as_str().unwrap().to_string(),
        second.body["token"].as_str().unwrap().to_string(),
    );
    assert_ne!(first, second);
    // Rejected through the first link; the second link of the same application is spent with it.
    let rejected = app
        .post(
            &format!("/authorize/share-links/{first}/decision"),
            &c.legal_rep,
            json!({"decision": "reject"}),
        )
        .await;
    assert_eq!(rejected.body["status"], "rejected");
    let reply = app
        .get(&format!("/authorize/share-links/{second}"), &c.legal_rep)
        .await;
    assert_eq!(
        (reply.status, reply.body["code"].as_str()),
        (StatusCode::GONE, Some("application_decided"))
    );
    // The applicant applies again: the old, unused link must not grant the new application.
    let again = app
        .post(
            "/authorize/applications",
            &c.applicant,
            json!({"uscc": demo_uscc(), "reason": "再次申请"}),
        )
        .await;
    assert_eq!(again.status, StatusCode::CREATED, "{again:?}");
    let stale = app
        .post(
            &format!("/authorize/share-links/{second}/decision"),
            &c.legal_rep,
            json!({"decision": "grant"}),
        )
        .await;
    assert_eq!(stale.status, StatusCode::GONE, "{stale:?}");
    assert_eq!(
        status_of(&app, &c.applicant).await,
        vec![(demo_uscc(), "pending".into())]
    );
}

#[tokio::test]
async fn offline_dates_are_checked_and_late_originals_refused() {
    let app = spawn_app().await;
    let c = &app.cast;
    let foreign = demo::foreign_uscc().to_string();
    let agents =
        json!([{"name": c.agent.name, "id_type": "resident_id", "id_number": c.agent.id_number}]);
    let before = app.item_count().await;
    let mut old = offline_body(&app, agents.clone());
    old["email_approved_at"] = json!(app.clock.now() - Duration::days(16));
    assert_eq!(
        app.post("/authorize/offline-grants", &c.operator, old)
            .await
            .body["code"],
        "invalid_email_approved_at"
    );
    // A device clock a little ahead is tolerated; a time well in the future is not.
    let mut ahead = offline_body(&app, agents.clone());
    ahead["email_approved_at"] = json!(app.clock.now() + Duration::minutes(10));
    assert_eq!(
        app.post("/authorize/offline-grants", &c.operator, ahead)
            .await
            .body["code"],
        "invalid_email_approved_at"
    );
    let mut past = offline_body(&app, agents.clone());
    past["valid_until"] = json!(app.clock.now() - Duration::days(1));
    assert_eq!(
        app.post("/authorize/offline-grants", &c.operator, past)
            .await
            .body["code"],
        "invalid_valid_until"
    );
    assert_eq!(app.item_count().await, before);

    let granted = app
        .post(
            "/authorize/offline-grants",
            &c.operator,
            offline_body(&app, agents),
        )
        .await;
    let agent_id = granted.body[0]["agent_id"].as_str().unwrap().to_string();
    let originals = format!("/authorize/offline-grants/{foreign}/{agent_id}/originals");
    let too_early = app
        .post(
            &originals,
            &c.operator,
            json!({"received_at": app.clock.now() - Duration::days(3)}),
        )
        .await;
    assert_eq!(too_early.body["code"], "invalid_received_at");
    app.clock.advance(Duration::days(14));
    // Back-dating the receipt after the deadline passed does not revive the grant.
    let late = app
        .post(
            &originals,
            &c.operator,
            json!({"received_at": app.clock.now() - Duration::days(2)}),
        )
        .await;
    assert_eq!(
        (late.status, late.body["code"].as_str()),
        (StatusCode::CONFLICT, Some("originals_late")),
        "{late:?}"
    );
    let path = format!(
        "/authorize/offline-grants/{}/{}/originals",
        demo_uscc(),
        app.agent_id(&c.agent, &demo::demo_uscc())
    );
    let not_offline = app
        .post(&path, &c.operator, json!({"received_at": app.clock.now()}))
        .await;
    assert_eq!(not_offline.status, StatusCode::NOT_FOUND);
}

/// A legal rep finds the enterprises they represent (their own 防疫通, no authorisation needed);
/// anyone else finds none.
#[tokio::test]
async fn a_legal_rep_lists_the_enterprises_they_represent() {
    let app = spawn_app().await;
    let c = &app.cast;
    let mine = app
        .get("/authorize/legal-rep/enterprises", &c.legal_rep)
        .await;
    assert_eq!(mine.status, StatusCode::OK, "{mine:?}");
    let usccs: Vec<&str> = mine
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["uscc"].as_str().unwrap())
        .collect();
    assert!(
        usccs.contains(&demo::demo_uscc().to_string().as_str()),
        "{mine:?}"
    );
    let none = app.get("/authorize/legal-rep/enterprises", &c.agent).await;
    assert_eq!(none.body, serde_json::json!([]));
}
