//! The retention policy ([`fangyitong::retention`]) against what the service really writes: the
//! privacy page prints the policy, and after every kind of record has been written through the
//! API and the jobs, a scan of the whole table finds each item carrying the TTL its kind and
//! state call for — or, kept while in force, none.

use crate::invite::{app_with_synced_employee, invitation, join};
use aws_sdk_dynamodb::types::AttributeValue;
use axum::http::{Method, StatusCode};
use chrono::{DateTime, Utc};
use fangyitong::clock::Clock;
use fangyitong::retention::{self, Rule};
use local::demo;
use serde_json::json;
use std::collections::{BTreeSet, HashMap};
use system_tests::TestApp;

type Item = HashMap<String, AttributeValue>;

#[test]
fn the_privacy_page_prints_the_retention_policy() {
    let page = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/privacy.md"))
        .expect("docs/privacy.md");
    let table = retention::markdown_table();
    assert!(
        page.contains(&table),
        "docs/privacy.md must show the retention policy exactly as the code has it:\n{table}"
    );
}

fn text<'a>(item: &'a Item, attribute: &str) -> Option<&'a str> {
    item.get(attribute)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

fn time(item: &Item, attribute: &str) -> Option<DateTime<Utc>> {
    text(item, attribute).map(|t| {
        DateTime::parse_from_rfc3339(t)
            .unwrap_or_else(|e| panic!("{attribute} = {t}: {e}"))
            .with_timezone(&Utc)
    })
}

fn ttl(item: &Item) -> Option<i64> {
    item.get(fangyitong::keys::TTL)
        .map(|v| v.as_n().expect("a number").parse().expect("epoch seconds"))
}

/// What the policy asks of one item: the rule it falls under, and the moment its retention
/// counts from — `None` for a rule kept while in force, or when only bounds are known (the
/// item was written "now", somewhere in the test's time span).
enum Expect {
    From(&'static Rule, DateTime<Utc>),
    Written(&'static Rule),
    InForce(&'static Rule),
    /// Holds no personal data (counts, public site data, the freshness status).
    NoPersonalData,
}

/// Classifies an item by its key and state, reading only what is stored.
fn expectation(item: &Item) -> Expect {
    use Expect::*;
    use retention::*;
    let pk = text(item, "PK").unwrap();
    let sk = text(item, "SK").unwrap();
    let at = |attribute: &str| {
        time(item, attribute).unwrap_or_else(|| panic!("{pk}/{sk} has no {attribute}"))
    };
    match (pk, sk) {
        (_, "PROFILE") => InForce(&ENTERPRISE_PROFILE),
        (_, "SUMMARY") => NoPersonalData,
        ("SYNC#STATUS", _) => NoPersonalData,
        (p, _) if p.starts_with("SITES") || p.starts_with("ZONES") => NoPersonalData,
        ("SYNC#DELIVERY", _) => Written(&SYNC_LEDGER),
        ("SYNC#RUN", _) => From(&SYNC_RUN, at("finished_at")),
        (p, "LINK") if p.starts_with("LINK#") => From(&SHARE_LINK, at("link_expires_at")),
        (_, "HEALTH") => Written(&PERSON_HEALTH),
        (_, s) if s.starts_with("AGENT#") => match text(item, "status").unwrap() {
            "pending" => From(&PENDING_AUTHORISATION, at("applied_at")),
            "rejected" | "revoked" => From(&DECIDED_AUTHORISATION, at("decided_at")),
            "active" => {
                let originals_due = item
                    .get("offline")
                    .and_then(|o| o.as_m().ok())
                    .filter(|o| !o.contains_key("originals_received_at"))
                    .and_then(|o| o.get("originals_due"))
                    .map(|d| d.as_s().unwrap().parse::<DateTime<Utc>>().unwrap());
                match time(item, "valid_until")
                    .into_iter()
                    .chain(originals_due)
                    .min()
                {
                    Some(end) => From(&ENDING_AUTHORISATION, end),
                    None => InForce(&ACTIVE_AUTHORISATION),
                }
            }
            other => panic!("authorisation status {other}"),
        },
        (_, s) if s.starts_with("EMP#") => match time(item, "left_at") {
            Some(left) => From(&LEFT_MEMBERSHIP, left),
            None => InForce(&CURRENT_MEMBERSHIP),
        },
        (_, s) if s.starts_with("CONSENT#") => match time(item, "withdrawn_at") {
            Some(withdrawn) => From(&WITHDRAWN_CONSENT, withdrawn),
            None => InForce(&GIVEN_CONSENT),
        },
        (_, s) if s.starts_with("VAXREPORT#") => From(&VACCINATION_REPORT, at("reported_at")),
        (_, s) if s.starts_with("INVITE#") => From(&INVITATION, at("valid_until")),
        (_, s) if s.starts_with("EXPORTQUOTA#") => Written(&EXPORT_QUOTA),
        (_, s) if s.starts_with("EXPORT#") => From(&EXPORT_JOB, at("requested_at")),
        (_, s) if s.starts_with("AUDIT#") => From(&AUDIT_RECORD, at("at")),
        (_, s) if s.starts_with("VIEW#") => From(&DETAIL_VIEW, at("at")),
        _ => panic!("{pk}/{sk}: a kind of record the retention policy does not know"),
    }
}

/// Writes every kind of record through the API and the jobs: the demo enterprise and its agent,
/// a sync, an invitation joined and then withdrawn from, a report, a detail view, a share link,
/// a rejected application, an offline grant, a removed employee and an export.
pub(crate) async fn every_kind_of_record() -> TestApp {
    let app = app_with_synced_employee().await;
    app.seed_demo_enterprise(5).await;
    let c = &app.cast;
    let uscc = demo::demo_uscc().to_string();
    let made = invitation(&app).await;
    let token = made["token"].as_str().unwrap();
    assert_eq!(join(&app, token).await.status, StatusCode::CREATED);
    // A second person joins and keeps their consent (the first withdraws below).
    let consent = json!({"token": token, "notice_version": "2022-04-01", "consent": true});
    let kept = app.post("/invite/join", &c.applicant, consent).await;
    assert_eq!(kept.status, StatusCode::CREATED, "{kept:?}");
    let steps = [
        (
            "/vaccine/me/corrections",
            &c.employee,
            json!({"dose": 3, "date": "2022-01-10", "product": "北京生物"}),
            StatusCode::CREATED,
        ),
        (
            "/authorize/share-links",
            &c.applicant,
            json!({"uscc": uscc}),
            StatusCode::CREATED,
        ),
        (
            "/authorize/applications",
            &c.second_applicant,
            json!({"uscc": uscc, "reason": "HR"}),
            StatusCode::CREATED,
        ),
        (
            &format!(
                "/authorize/enterprises/{uscc}/agents/{}/decision",
                app.agent_id(&c.second_applicant, &demo::demo_uscc())
            ),
            &c.legal_rep,
            json!({"decision": "reject"}),
            StatusCode::OK,
        ),
        (
            "/authorize/offline-grants",
            &c.operator,
            json!({
            "uscc": demo::foreign_uscc().to_string(),
            "agents": [{"name": c.agent.name, "id_type": "resident_id", "id_number": c.agent.id_number}],
            "materials": {"application_form": true, "business_licence": true, "legal_rep_identity": true,
                "agent_identity": true, "email_reference": "OPS-1"},
            "email_approved_at": app.clock.now()}),
            StatusCode::OK,
        ),
        (
            &format!("/invite/me/enterprises/{uscc}/withdraw"),
            &c.employee,
            json!({}),
            StatusCode::OK,
        ),
        (
            &format!("/export/enterprises/{uscc}/exports"),
            &c.agent,
            json!({"list": "nucleic", "group": "24h", "email": "hr@example.cn", "idempotency_key": "retention"}),
            StatusCode::ACCEPTED,
        ),
    ];
    for (path, who, body, status) in steps {
        let r = app.post(path, who, body).await;
        assert_eq!(r.status, status, "{path}: {r:?}");
    }
    let employee = app.employee_id(&c.agent, &demo::demo_uscc());
    let viewed = app
        .get(
            &format!("/nucleic/enterprises/{uscc}/employees/{employee}"),
            &c.agent,
        )
        .await;
    assert_eq!(viewed.status, StatusCode::OK, "{viewed:?}");
    let removed = app
        .call(
            Method::DELETE,
            &format!("/invite/enterprises/{uscc}/employees/{employee}"),
            Some(&app.token(&c.legal_rep)),
            None,
        )
        .await;
    assert_eq!(removed.status, StatusCode::OK, "{removed:?}");
    app
}

#[tokio::test]
async fn every_record_the_service_writes_obeys_the_retention_policy() {
    let started = system_tests::start_time();
    let app = every_kind_of_record().await;
    let now = app.clock.now();
    let mut seen: BTreeSet<(&str, &str)> = BTreeSet::new();
    for item in app.every_item().await {
        let key = format!(
            "{}/{}",
            text(&item, "PK").unwrap(),
            text(&item, "SK").unwrap()
        );
        let (rule, ok) = match expectation(&item) {
            Expect::NoPersonalData => continue,
            Expect::InForce(rule) => (rule, ttl(&item).is_none()),
            Expect::From(rule, from) => (rule, ttl(&item) == Some(rule.until(from))),
            Expect::Written(rule) => (
                rule,
                ttl(&item).is_some_and(|t| (rule.until(started)..=rule.until(now)).contains(&t)),
            ),
        };
        assert!(
            ok,
            "{key}: {} ({}) has expires_at {:?}",
            rule.record,
            rule.state,
            ttl(&item)
        );
        seen.insert((rule.record, rule.state));
    }
    let unseen: Vec<_> = retention::POLICY
        .iter()
        .filter(|r| !seen.contains(&(r.record, r.state)))
        .map(|r| format!("{} ({})", r.record, r.state))
        .collect();
    assert!(unseen.is_empty(), "no item exercised: {unseen:?}");
}
