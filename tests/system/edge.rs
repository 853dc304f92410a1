//! Bad input at the edge: every one a clear 4xx JSON error, nothing written.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use chrono::Duration;
use fangyitong::clock::Clock;
use local::demo;
use local::tokens::TokenMinter;
use serde_json::json;
use system_tests::spawn_app;

#[tokio::test]
async fn tokens_are_verified() {
    let app = spawn_app().await;
    let c = &app.cast;
    let path = "/authorize/me";
    let reply = app.call(Method::GET, path, None, None).await;
    assert_eq!(
        (reply.status, reply.body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthenticated"))
    );
    // RFC 6750: the 401 names the scheme to use.
    assert_eq!(
        reply.headers.get("www-authenticate").map(|v| v.as_bytes()),
        Some(&b"Bearer"[..])
    );
    for bad in ["garbage", "a.b.c", ""] {
        let reply = app.call(Method::GET, path, Some(bad), None).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{bad}");
    }
    // Signed by someone else's key.
    let other_key = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgevZzL1gdAFr88hb2\nOF/2NxApJCzGCEDdfSp6VQO30hyhRANCAAQRWz+jn65BtOMvdyHKcvjBeBSDZH2r\n1RTwjmYSi9R/zpBnuQ4EiMnCqfMPWiZqB4QdbAd0E7oH50VpuZ1P087G\n-----END PRIVATE KEY-----\n";
    let forger =
        TokenMinter::from_ec_pem(other_key.as_bytes(), demo::DEV_ISSUER, demo::DEV_AUDIENCE)
            .unwrap();
    let forged = forger.mint(&c.agent, app.clock.now(), Duration::hours(1));
    let reply = app.call(Method::GET, path, Some(&forged), None).await;
    assert_eq!(
        (reply.status, reply.body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_token"))
    );
    // Right key, wrong issuer / audience.
    for (iss, aud) in [
        ("https://evil.example", demo::DEV_AUDIENCE),
        (demo::DEV_ISSUER, "someone-else"),
    ] {
        let minter = TokenMinter::from_ec_pem(demo::DEV_PRIVATE_KEY.as_bytes(), iss, aud).unwrap();
        let token = minter.mint(&c.agent, app.clock.now(), Duration::hours(1));
        assert_eq!(
            app.call(Method::GET, path, Some(&token), None).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    // Issued in the future (beyond the minute of leeway): refused, though not yet expired.
    let early = demo::minter().mint(
        &c.agent,
        app.clock.now() + Duration::minutes(10),
        Duration::hours(1),
    );
    let reply = app.call(Method::GET, path, Some(&early), None).await;
    assert_eq!(
        (reply.status, reply.body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_token"))
    );
    assert!(
        reply.body["message"]
            .as_str()
            .is_some_and(|m| m.contains("issued in the future"))
    );
    // Expired (beyond the minute of leeway), by the injected clock.
    let token = app.token(&c.agent);
    app.clock.advance(Duration::hours(1) + Duration::minutes(2));
    let reply = app.call(Method::GET, path, Some(&token), None).await;
    assert_eq!(reply.body["code"], "token_expired");
    // Algorithm confusion: HS256 "signed" with the public key, and an unsigned token.
    let claims = json!({"iss": demo::DEV_ISSUER, "aud": demo::DEV_AUDIENCE, "sub": "x", "exp": app.clock.now().timestamp() + 3600,
        "name": c.agent.name, "id_type": "resident_id", "id_number": c.agent.id_number});
    let hs = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(demo::DEV_PUBLIC_KEY.as_bytes()),
    )
    .unwrap();
    assert_eq!(
        app.call(Method::GET, path, Some(&hs), None).await.body["code"],
        "invalid_token"
    );
    use base64::Engine;
    let b64 = |v: serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let none = format!(
        "{}.{}.",
        b64(json!({"alg": "none", "typ": "JWT"})),
        b64(claims.clone())
    );
    assert_eq!(
        app.call(Method::GET, path, Some(&none), None).await.status,
        StatusCode::UNAUTHORIZED
    );
    // A valid signature over claims without an expiry.
    let mut no_exp = claims.clone();
    no_exp.as_object_mut().unwrap().remove("exp");
    let key = jsonwebtoken::EncodingKey::from_ec_pem(demo::DEV_PRIVATE_KEY.as_bytes()).unwrap();
    let token = jsonwebtoken::encode(&demo::dev_header(), &no_exp, &key).unwrap();
    assert_eq!(
        app.call(Method::GET, path, Some(&token), None).await.status,
        StatusCode::UNAUTHORIZED
    );
    // A list of audiences that includes ours is fine (RFC 7519).
    let mut many = claims.clone();
    many["aud"] = json!(["other", demo::DEV_AUDIENCE]);
    let token = jsonwebtoken::encode(&demo::dev_header(), &many, &key).unwrap();
    assert_eq!(
        app.call(Method::GET, path, Some(&token), None).await.status,
        StatusCode::OK
    );
    // A token whose ID number fails its check digit.
    let mut bad = c.agent.clone();
    bad.id_number.replace_range(
        17..,
        if bad.id_number.ends_with('1') {
            "2"
        } else {
            "1"
        },
    );
    let token = app.minter.mint(&bad, app.clock.now(), Duration::hours(1));
    let reply = app.call(Method::GET, path, Some(&token), None).await;
    assert_eq!(reply.body["code"], "invalid_identity");
}

fn cursor(key: &serde_json::Value) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.to_string())
}

#[tokio::test]
async fn bodies_paths_and_routes() {
    let app = spawn_app().await;
    let c = &app.cast;
    let token = app.token(&c.applicant);
    let before = app.item_count().await;
    let send = |body: Body, content_type: &'static str| {
        Request::builder()
            .method(Method::POST)
            .uri("/authorize/applications")
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", content_type)
            .body(body)
            .unwrap()
    };
    let reply = app
        .send(send(Body::from("{not json"), "application/json"))
        .await;
    assert_eq!(
        (reply.status, reply.body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("malformed_json"))
    );
    let reply = app
        .send(send(
            Body::from("uscc=1"),
            "application/x-www-form-urlencoded",
        ))
        .await;
    assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let reply = app
        .send(send(
            Body::from(json!({"uscc": 5}).to_string()),
            "application/json",
        ))
        .await;
    assert_eq!(
        (reply.status, reply.body["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_body"))
    );
    let reply = app
        .send(send(
            Body::from(json!({"uscc": "x", "reason": "y", "extra": 1}).to_string()),
            "application/json",
        ))
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    // serde would read a struct from an array by position: every body must be an object.
    for not_an_object in [
        json!([demo::demo_uscc(), "负责防疫"]),
        json!([]),
        json!("x"),
    ] {
        let reply = app
            .send(send(
                Body::from(not_an_object.to_string()),
                "application/json",
            ))
            .await;
        assert_eq!(
            (reply.status, reply.body["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_body")),
            "{not_an_object}"
        );
    }
    let huge = json!({"uscc": "x", "reason": "y".repeat(100_000)}).to_string();
    let reply = app.send(send(Body::from(huge), "application/json")).await;
    assert_eq!(
        (reply.status, reply.body["code"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("body_too_large"))
    );
    assert_eq!(app.item_count().await, before);

    let reply = app
        .get("/authorize/enterprises/not-a-uscc/access", &c.agent)
        .await;
    assert_eq!(
        (reply.status, reply.body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_uscc"))
    );
    let reply = app
        .get(
            &format!("/authorize/enterprises/{}/access", demo::uscc("MA5N0B0DY")),
            &c.agent,
        )
        .await;
    assert_eq!(
        (reply.status, reply.body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("unknown_enterprise"))
    );
    // A path carries the canonical code only: one enterprise, one URL.
    let lowercase = demo::demo_uscc().to_string().to_lowercase();
    let reply = app
        .get(
            &format!("/authorize/enterprises/{lowercase}/access"),
            &c.agent,
        )
        .await;
    assert_eq!(
        (reply.status, reply.body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_uscc"))
    );
    // Deciding and revoking are different routes: neither answers the other's method.
    let agent_path = format!(
        "/authorize/enterprises/{}/agents/{}",
        demo::demo_uscc(),
        "a".repeat(32)
    );
    let legal_rep = app.token(&c.legal_rep);
    let reply = app
        .call(
            Method::POST,
            &agent_path,
            Some(&legal_rep),
            Some(json!({"decision": "grant"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    let reply = app
        .call(
            Method::DELETE,
            &format!("{agent_path}/decision"),
            Some(&legal_rep),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    let reply = app
        .post(
            &format!(
                "/authorize/enterprises/{}/agents/not-an-id/decision",
                demo::demo_uscc()
            ),
            &c.legal_rep,
            json!({"decision": "grant"}),
        )
        .await;
    assert_eq!(reply.body["code"], "invalid_agent_id");
    let me = format!("PER#{}", app.identity(&c.agent).await.person);
    let cursors = [
        "bm9wZQ".to_string(),
        cursor(&json!({"GSI1PK": me})),
        cursor(&json!({"GSI1PK": me, "GSI1SK": "AUTH#x"})),
        cursor(
            &json!({"GSI1PK": me, "GSI1SK": "AUTH#x", "PK": "ENT#x", "SK": "AGENT#x", "extra": "1"}),
        ),
        cursor(
            &json!({"GSI1PK": "PER#someone-else", "GSI1SK": "AUTH#x", "PK": "ENT#x", "SK": "AGENT#x"}),
        ),
        cursor(&json!({"GSI1PK": me, "GSI1SK": "EMP#x", "PK": "ENT#x", "SK": "AGENT#x"})),
    ];
    for bad in cursors {
        let reply = app
            .get(&format!("/authorize/me?cursor={bad}"), &c.agent)
            .await;
        assert_eq!(
            (reply.status, reply.body["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_cursor")),
            "{bad}"
        );
    }
    let well_formed =
        cursor(&json!({"GSI1PK": me, "GSI1SK": "AUTH#x", "PK": "ENT#x", "SK": "AGENT#x"}));
    assert_eq!(
        app.get(&format!("/authorize/me?cursor={well_formed}"), &c.agent)
            .await
            .status,
        StatusCode::OK
    );
    // Oversized requests get the API's own JSON errors, not the server's empty ones.
    let long_path = format!("/authorize/enterprises/{}/access", "A".repeat(9_000));
    let reply = app.get(&long_path, &c.agent).await;
    assert_eq!(
        (reply.status, reply.body["code"].as_str()),
        (StatusCode::URI_TOO_LONG, Some("uri_too_long"))
    );
    let padded = Request::builder()
        .uri("/authorize/me")
        .header("authorization", format!("Bearer {token}"))
        .header("x-pad", "p".repeat(20_000))
        .body(Body::empty())
        .unwrap();
    let reply = app.send(padded).await;
    assert_eq!(
        (reply.status, reply.body["code"].as_str()),
        (
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Some("headers_too_large")
        )
    );
    let reply = app
        .call(
            Method::GET,
            "/authorize/me",
            Some(&"t".repeat(10_000)),
            None,
        )
        .await;
    assert_eq!(
        (reply.status, reply.body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_token"))
    );
    let reply = app.get("/nowhere", &c.agent).await;
    assert_eq!(
        (reply.status, reply.body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("no_such_route"))
    );
    let reply = app
        .call(Method::PUT, "/authorize/me", Some(&token), None)
        .await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(reply.body["code"].is_string());
    // A malformed path parameter is refused before the body is read; then the body.
    let decision = |agent_id: String| {
        format!(
            "/authorize/enterprises/{}/agents/{agent_id}/decision",
            demo::demo_uscc()
        )
    };
    let reply = app
        .post(
            &decision("a".repeat(64)),
            &c.legal_rep,
            json!({"decision": "maybe"}),
        )
        .await;
    assert_eq!(
        (reply.status, reply.body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_agent_id"))
    );
    let reply = app
        .post(
            &decision("a".repeat(32)),
            &c.legal_rep,
            json!({"decision": "maybe"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
}

/// With a JWK set, keys are chosen by `kid` only: a token that names no key, or another one, is
/// refused; one naming its key verifies.
#[tokio::test]
async fn a_jwks_verifier_insists_on_the_key_id() {
    use fangyitong::identity::{IdentityVerifier, KeySource};
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    let private = EncodingKey::from_ec_pem(demo::DEV_PRIVATE_KEY.as_bytes()).unwrap();
    let mut jwk = jsonwebtoken::jwk::Jwk::from_encoding_key(&private, Algorithm::ES256).unwrap();
    jwk.common.key_id = Some("2022-04".into());
    let set = json!({ "keys": [jwk] }).to_string();
    let now = system_tests::start_time();
    let verifier = IdentityVerifier::load(
        demo::DEV_ISSUER.into(),
        demo::DEV_AUDIENCE.into(),
        KeySource::Jwks(set),
        now,
    )
    .await
    .unwrap();
    let cast = demo::Cast::new(now);
    let claims = json!({"iss": demo::DEV_ISSUER, "aud": demo::DEV_AUDIENCE, "sub": "x",
        "exp": now.timestamp() + 3600, "iat": now.timestamp(),
        "name": cast.agent.name, "id_type": "resident_id", "id_number": cast.agent.id_number});
    let signed = |kid: Option<&str>| {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = kid.map(str::to_string);
        jsonwebtoken::encode(&header, &claims, &private).unwrap()
    };
    assert!(verifier.verify(&signed(Some("2022-04")), now).await.is_ok());
    for kid in [None, Some("2021-01")] {
        let refused = verifier
            .verify(&signed(kid), now)
            .await
            .err()
            .expect("refused");
        assert_eq!(refused.code, "invalid_token", "{kid:?}");
    }
}

/// A DynamoDB endpoint that accepts connections and never answers: a real socket on loopback,
/// what a stalled store looks like from the client.
async fn stalled_endpoint() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    format!("http://{address}")
}

/// The app's functions with their table behind a stalled endpoint, through the SDK
/// configuration the local stack (and every function) loads.
async fn stalled_functions(app: &system_tests::TestApp) -> local::Functions {
    let endpoints = local::Endpoints {
        dynamodb: stalled_endpoint().await,
        others: system_tests::endpoints().others.clone(),
    };
    let aws = local::sdk_config(&endpoints).await;
    let core = fangyitong::app::Core::new(
        aws_sdk_dynamodb::Client::new(&aws),
        &app.table,
        fangyitong::config::Settings::default(),
        std::sync::Arc::new(app.clock.clone()),
    );
    local::Functions {
        core,
        ..app.state.clone()
    }
}

fn summary_request(app: &system_tests::TestApp) -> Request<Body> {
    Request::builder()
        .uri(format!(
            "/nucleic/enterprises/{}/summary",
            demo::demo_uscc()
        ))
        .header(
            "authorization",
            format!("Bearer {}", app.token(&app.cast.agent)),
        )
        .body(Body::empty())
        .unwrap()
}

/// A request that outlasts the deadline gets a 503 JSON `timeout` with `Retry-After`, at the
/// deadline, not when the stalled store call would have given up.
#[tokio::test]
async fn a_request_past_its_deadline_is_a_503_with_retry_after() {
    let app = spawn_app().await;
    let functions = stalled_functions(&app).await;
    let deadline = std::time::Duration::from_millis(500);
    let (routes, _) =
        fangyitong::openapi::split(fangyitong::query_nucleic::routes(), functions.api_state());
    let router = fangyitong::http::edge_with_deadline(routes, deadline);
    let started = std::time::Instant::now();
    let reply = app.send_to(router, summary_request(&app)).await;
    let took = started.elapsed();
    assert_eq!(
        (reply.status, reply.body["code"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("timeout")),
        "{reply:?}"
    );
    assert_eq!(reply.content_type.as_deref(), Some("application/json"));
    assert_eq!(
        reply.headers.get("retry-after").map(|v| v.as_bytes()),
        Some(fangyitong::http::RETRY_AFTER_SECONDS.to_string().as_bytes())
    );
    assert!(
        took >= deadline && took < deadline + std::time::Duration::from_secs(2),
        "answered after {took:?}"
    );
}

/// The SDK's own timeouts bound a stalled call, below the request deadline: the same router
/// with the real deadline answers 503 `unavailable` (retryable) with `Retry-After` once the
/// operation timeout has passed, rather than waiting for the socket.
#[tokio::test]
async fn a_stalled_store_call_times_out_below_the_deadline() {
    let app = spawn_app().await;
    let functions = stalled_functions(&app).await;
    let started = std::time::Instant::now();
    let reply = app
        .send_to(local::api(&functions), summary_request(&app))
        .await;
    let took = started.elapsed();
    assert_eq!(
        (reply.status, reply.body["code"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("unavailable")),
        "{reply:?}"
    );
    assert!(reply.headers.contains_key("retry-after"));
    assert!(
        took >= fangyitong::aws::OPERATION_ATTEMPT_TIMEOUT
            && took < fangyitong::http::REQUEST_DEADLINE,
        "answered after {took:?}"
    );
}

/// A name with a control character is refused wherever a name enters — typed by an agent or an
/// operator, filtered on, or carried by a token — and nothing is written.
#[tokio::test]
async fn names_with_control_characters_are_refused() {
    let app = spawn_app().await;
    app.seed_demo_enterprise(2).await;
    let c = &app.cast;
    let before = app.item_count().await;
    let uscc = demo::demo_uscc();
    for bad in ["王\u{0}伟", "王伟\n管理员", "\u{202E}伟王", "王\u{7}伟"] {
        let reply = app
            .post(
                &format!("/invite/enterprises/{uscc}/employees"),
                &c.agent,
                json!({"name": bad, "id_type": "resident_id", "id_number": c.second_applicant.id_number, "phone": "13800138000"}),
            )
            .await;
        assert_eq!(
            (reply.status, reply.body["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_name")),
            "{bad:?}"
        );
        let reply = app
            .post(
                "/authorize/offline-grants",
                &c.operator,
                json!({
                    "uscc": demo::foreign_uscc().to_string(),
                    "agents": [{"name": bad, "id_type": "resident_id", "id_number": c.agent.id_number}],
                    "materials": {
                        "application_form": true, "business_licence": true,
                        "legal_rep_identity": true, "agent_identity": true,
                        "email_reference": "OPS-2022-0401-17"
                    },
                    "email_approved_at": app.clock.now() - Duration::days(1),
                }),
            )
            .await;
        assert_eq!(
            (reply.status, reply.body["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_name")),
            "{bad:?}"
        );
    }
    assert_eq!(app.item_count().await, before, "nothing written");
    let reply = app
        .get(
            &format!("/nucleic/enterprises/{uscc}/labels/never/employees?name=%E7%8E%8B%00"),
            &c.agent,
        )
        .await;
    assert_eq!(
        (reply.status, reply.body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_name")),
        "{reply:?}"
    );
    // The identity provider's name claim is held to the same rules.
    let mut persona = c.agent.clone();
    persona.name = "王\u{0}伟".into();
    let token = app
        .minter
        .mint(&persona, app.clock.now(), Duration::hours(1));
    let reply = app
        .call(Method::GET, "/authorize/me", Some(&token), None)
        .await;
    assert_eq!(
        (reply.status, reply.body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_identity"))
    );
}

/// A JSON body is read only when sent as `application/json` (parameters allowed): JSON Patch,
/// other `+json` types, text and forms are a 415 JSON `unsupported_media_type`, and nothing is
/// written.
#[tokio::test]
async fn bodies_must_be_sent_as_application_json() {
    let app = spawn_app().await;
    let token = app.token(&app.cast.applicant);
    let body = json!({"uscc": demo::demo_uscc().to_string(), "reason": "负责防疫"}).to_string();
    let send = |content_type: Option<&str>| {
        let mut request = Request::builder()
            .method(Method::POST)
            .uri("/authorize/applications")
            .header("authorization", format!("Bearer {token}"));
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        request.body(Body::from(body.clone())).unwrap()
    };
    let before = app.item_count().await;
    for refused in [
        Some("application/json-patch+json"),
        Some("application/merge-patch+json"),
        Some("application/vnd.api+json"),
        Some("text/json"),
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let reply = app.send(send(refused)).await;
        assert_eq!(
            (reply.status, reply.body["code"].as_str()),
            (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                Some("unsupported_media_type")
            ),
            "{refused:?}"
        );
    }
    assert_eq!(app.item_count().await, before, "nothing written");
    let reply = app
        .send(send(Some("application/json; charset=utf-8")))
        .await;
    assert!(reply.status.is_success(), "{reply:?}");
}
