//! Every file in `events/` goes through the real Lambda event parsing
//! (`lambda_http::request::from_str`) and then the function's router, in file-name order over
//! one app, and must answer as listed here. A file without an expectation fails the test.
//!
//! Events carry `{{token:ROLE}}` and `{{agent_id:ROLE:USCC}}` placeholders for the demo cast:
//! tokens must be fresh, and agent ids depend on the person-key secret.

use axum::http::StatusCode;
use local::demo;
use system_tests::spawn_app;

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
];

#[tokio::test]
async fn authorize_events_drive_the_router() {
    let app = spawn_app().await;
    demo::seed_agent(&app.state, &app.cast)
        .await
        .expect("seed the demo agent");
    let dir = local::repo_root().join("events/authorize");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".json"))
        .collect();
    files.sort();
    let listed: Vec<&str> = AUTHORIZE.iter().map(|(f, _)| *f).collect();
    assert_eq!(
        files, listed,
        "every event file needs an expectation, and every expectation a file"
    );

    for (file, expected) in AUTHORIZE {
        let mut text = std::fs::read_to_string(dir.join(file)).unwrap();
        for (role, persona) in app.cast.all() {
            text = text.replace(&format!("{{{{token:{role}}}}}"), &app.token(persona));
            for uscc in [demo::demo_uscc(), demo::foreign_uscc()] {
                let placeholder = format!("{{{{agent_id:{role}:{uscc}}}}}");
                text = text.replace(&placeholder, &app.agent_id(persona, &uscc));
            }
        }
        assert!(!text.contains("{{"), "{file}: unreplaced placeholder");
        let request =
            lambda_http::request::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
        let request = request.map(|body| axum::body::Body::from(body.to_vec()));
        let reply = app.send(request).await;
        assert_eq!(
            reply.status,
            StatusCode::from_u16(*expected).unwrap(),
            "{file}: {reply:?}"
        );
        assert!(
            reply.body.is_object() || reply.body.is_array(),
            "{file}: JSON answer"
        );
    }
}
