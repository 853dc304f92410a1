//! What the operator sees of a request: one JSON line with the request id, the route pattern,
//! the status, the latency and the enterprise's hash — and nothing personal, whatever the
//! request carried.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use fangyitong::observe::enterprise_hash;
use local::demo;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use system_tests::spawn_app;
use tracing::instrument::WithSubscriber;

/// Everything written to it, shared with the test.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn each_request_logs_one_json_line_and_nothing_personal() {
    let app = spawn_app().await;
    app.seed_demo_enterprise(3).await;
    let c = &app.cast;
    let uscc = demo::demo_uscc().to_string();
    let captured = Captured::default();
    let writer = captured.clone();
    // The JSON layout the functions log in (Lambda's LogFormat JSON, see lambda_runtime).
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_writer(move || writer.clone())
        .finish();
    let token = app.token(&c.agent);
    let body = json!({"name": "林小梅", "id_type": "resident_id",
        "id_number": c.second_applicant.id_number, "phone": "13800138000"});
    let request = Request::post(format!("/invite/enterprises/{uscc}/employees"))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .header("x-request-id", "req-0001")
        .body(Body::from(body.to_string()))
        .unwrap();
    let reply = app.send(request).with_subscriber(subscriber).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");

    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .collect();
    let access: Vec<&Value> = lines.iter().filter(|l| l["target"] == "access").collect();
    assert_eq!(access.len(), 1, "{text}");
    let fields = &access[0]["fields"];
    assert_eq!(fields["request_id"], "req-0001");
    assert_eq!(fields["method"], "POST");
    assert_eq!(fields["route"], "/invite/enterprises/{uscc}/employees");
    assert_eq!(fields["status"], 201);
    assert!(fields["latency_ms"].as_f64().unwrap() > 0.0);
    assert_eq!(fields["enterprise"], enterprise_hash(&uscc));
    for secret in [
        c.second_applicant.id_number.as_str(),
        token.as_str(),
        "13800138000",
        uscc.as_str(),
    ] {
        assert!(!text.contains(secret), "the log holds {secret}: {text}");
    }
}
