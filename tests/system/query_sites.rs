//! Sampling sites and control zones through the API (manual §7 and §8).

use axum::http::{Method, StatusCode};
use chrono::Duration;
use fangyitong::clock::Clock;
use serde_json::json;
use system_tests::spawn_app;

#[tokio::test]
async fn sites_by_street_nearest_and_zones_with_their_rules() {
    let app = spawn_app().await;
    let c = &app.cast;
    // Before any snapshot: empty answers, not errors.
    let empty = app.get("/sites", &c.employee).await;
    assert_eq!(
        (empty.status, empty.body["sites"].clone()),
        (StatusCode::OK, json!([]))
    );
    assert!(empty.body["snapshot"]["published_at"].is_null());

    let ctx = app.sync_context().await;
    let now = app.clock.now();
    let site = |id: &str, street: &str, lng: f64, lat: f64, status: &str| {
        json!({"id": id, "name": format!("{street}采样点"), "district": "福田区", "street": street, "address": "x",
               "lng": lng, "lat": lat, "opening_hours": "08:00-20:00", "status": status, "waiting_minutes": 5, "updated_at": now})
    };
    let zone = |id: &str,
                level: &str,
                street: &str,
                area: &str,
                until: Option<chrono::DateTime<chrono::Utc>>| {
        json!({"id": id, "level": level, "district": "福田区", "street": street, "area": area,
               "effective_from": now - Duration::days(1), "effective_until": until})
    };
    let put = |key: &'static str, lines: Vec<serde_json::Value>| {
        system_tests::deliver(&ctx, key, local::generate::jsonl(lines))
    };
    put(
        "inbound/sites/20220401T020000Z-0001.jsonl",
        vec![
            site("A", "华富街道", 114.060, 22.545, "open"),
            site("B", "华富街道", 114.070, 22.550, "busy"),
            site("C", "莲花街道", 114.050, 22.560, "closed"),
        ],
    )
    .await;
    put(
        "inbound/zones/20220401T020000Z-0001.jsonl",
        vec![
            zone("Z1", "controlled", "华富街道", "华富村周边街区", None),
            zone(
                "Z2",
                "sealed",
                "华富街道",
                "华富村东区1-6栋",
                Some(now + Duration::days(3)),
            ),
            zone(
                "Z3",
                "prevention",
                "莲花街道",
                "莲花街道其余区域",
                Some(now - Duration::hours(1)),
            ),
        ],
    )
    .await;
    fangyitong::sync::run(&ctx, "test").await.unwrap();

    let street = app
        .get("/sites?district=福田区&street=华富街道", &c.employee)
        .await;
    let ids: Vec<&str> = street.body["sites"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["A", "B"]);
    assert!(street.body["snapshot"]["published_at"].is_string());
    assert_eq!(street.body["sites"][1]["status"], "busy");

    let districts = app.get("/sites/districts", &c.employee).await;
    assert_eq!(
        districts.body,
        json!([{"district": "福田区", "streets": ["华富街道", "莲花街道"]}])
    );

    let nearest = app
        .get(
            "/sites/nearest?lng=114.0605&lat=22.5452&limit=2",
            &c.employee,
        )
        .await;
    let order: Vec<&str> = nearest
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(order, ["A", "B"]);
    assert!(nearest.body[0]["distance_m"].as_u64().unwrap() < 100);

    let zones = app.get("/zones?district=福田区", &c.employee).await;
    let levels: Vec<&str> = zones.body["zones"]
        .as_array()
        .unwrap()
        .iter()
        .map(|z| z["level"].as_str().unwrap())
        .collect();
    assert_eq!(
        levels,
        ["sealed", "controlled"],
        "the expired prevention zone is not shown"
    );
    assert_eq!(
        zones.body["zones"][0]["rules"],
        "区域封闭、足不出户、服务上门"
    );

    let check = app
        .get(
            "/zones/check?district=福田区&street=华富街道&area=华富村东区",
            &c.employee,
        )
        .await;
    assert_eq!(
        (
            check.body["level"].as_str(),
            check.body["zones"].as_array().unwrap().len()
        ),
        (Some("sealed"), 1)
    );
    let check = app
        .get("/zones/check?district=福田区&street=莲花街道", &c.employee)
        .await;
    assert!(check.body["level"].is_null(), "{check:?}");

    for bad in [
        "/sites?street=华富街道",
        "/sites/nearest?lng=114.06",
        "/sites/nearest?lng=114.06&lat=22.54&limit=500",
        "/sites/nearest?lng=abc&lat=22.54",
        "/zones/check?district=福田区",
        "/sites?district=福田区&colour=red",
    ] {
        let reply = app.get(bad, &c.employee).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}: {reply:?}");
        assert!(reply.body["code"].is_string());
    }
    // Readable without an enterprise, but never without a verified token.
    assert_eq!(
        app.call(Method::GET, "/sites", None, None).await.status,
        StatusCode::UNAUTHORIZED
    );
}
