//! The identity provider rotates its signing keys, and nobody's login fails: the functions read
//! its JWK set from its URL (served on loopback by the local stack's stand-in provider, over
//! HTTP, as deployed), follow a new key the first time a token names it, drop a retired one
//! when their copy ages out, and cannot be made to hammer the provider with made-up key ids.

use axum::http::{Method, StatusCode};
use fangyitong::clock::Clock;
use fangyitong::identity::keys::{MAX_AGE, REFETCH_COOLDOWN};
use local::demo::{self, DEV_KEY_ID, DEV_NEXT_KEY_ID, DEV_NEXT_PRIVATE_KEY};
use local::idp::DevIdentityProvider;
use local::tokens::Persona;
use local::tokens::TokenMinter;
use system_tests::{Reply, TestApp, spawn_app_with};

/// The agent's own authorisations, with a token from `minter` minted at the app's clock.
async fn login(app: &TestApp, minter: &TokenMinter, who: &Persona) -> Reply {
    let token = minter.mint(who, app.clock.now(), chrono::Duration::hours(1));
    app.call(Method::GET, "/authorize/me", Some(&token), None)
        .await
}

#[tokio::test]
async fn a_key_rotation_fails_no_login() {
    let provider = DevIdentityProvider::start().unwrap();
    let app = spawn_app_with(provider.identity_config()).await;
    let agent = app.cast.agent.clone();
    let old = provider.minter(DEV_KEY_ID);
    assert_eq!(provider.jwks_reads(), 1, "read once, at init");

    // Old key only.
    assert_eq!(login(&app, &old, &agent).await.status, StatusCode::OK);

    // Both keys published; the provider still signs with the old one. Nothing to re-read.
    provider.publish(DEV_NEXT_KEY_ID, DEV_NEXT_PRIVATE_KEY);
    app.clock.advance(chrono::Duration::minutes(10));
    assert_eq!(login(&app, &old, &agent).await.status, StatusCode::OK);
    assert_eq!(provider.jwks_reads(), 1);

    // The provider signs with the new key: its first token makes the function re-read the set,
    // once; old tokens still in people's hands keep working.
    let new = provider.minter(DEV_NEXT_KEY_ID);
    for _ in 0..3 {
        assert_eq!(login(&app, &new, &agent).await.status, StatusCode::OK);
        assert_eq!(login(&app, &old, &agent).await.status, StatusCode::OK);
    }
    assert_eq!(provider.jwks_reads(), 2, "one re-read for the new key");

    // New key only. Once the function's copy ages out it re-reads, and the old key stops.
    provider.retire(DEV_KEY_ID);
    assert_eq!(login(&app, &new, &agent).await.status, StatusCode::OK);
    app.clock.advance(MAX_AGE);
    assert_eq!(login(&app, &new, &agent).await.status, StatusCode::OK);
    assert_eq!(provider.jwks_reads(), 3, "re-read when the copy aged out");
    let refused = login(&app, &old, &agent).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{refused:?}");
    assert_eq!(refused.body["code"], "invalid_token");
}

#[tokio::test]
async fn made_up_key_ids_cost_the_provider_one_read_per_cooldown() {
    let provider = DevIdentityProvider::start().unwrap();
    let app = spawn_app_with(provider.identity_config()).await;
    let agent = app.cast.agent.clone();
    // Signed with a key the provider never published, under a name it never used.
    let forger = TokenMinter::from_ec_pem(
        DEV_NEXT_PRIVATE_KEY.as_bytes(),
        demo::DEV_ISSUER,
        demo::DEV_AUDIENCE,
    )
    .unwrap()
    .with_kid("made-up");
    app.clock.advance(REFETCH_COOLDOWN);
    for _ in 0..20 {
        let refused = login(&app, &forger, &agent).await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
        assert_eq!(refused.body["code"], "invalid_token");
    }
    assert_eq!(
        provider.jwks_reads(),
        2,
        "init, then one re-read per cooldown"
    );
    app.clock.advance(REFETCH_COOLDOWN);
    assert_eq!(
        login(&app, &forger, &agent).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(provider.jwks_reads(), 3);
    // The real key is unaffected throughout.
    let real = provider.minter(DEV_KEY_ID);
    assert_eq!(login(&app, &real, &agent).await.status, StatusCode::OK);
}

#[tokio::test]
async fn an_unreachable_provider_keeps_the_keys_in_hand() {
    let provider = DevIdentityProvider::start().unwrap();
    let app = spawn_app_with(provider.identity_config()).await;
    let agent = app.cast.agent.clone();
    let minter = provider.minter(DEV_KEY_ID);
    drop(provider);
    // The copy aged out and the provider does not answer: logins go on with the keys in hand.
    app.clock.advance(MAX_AGE + chrono::Duration::minutes(1));
    assert_eq!(login(&app, &minter, &agent).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_function_does_not_start_without_its_providers_keys() {
    let provider = DevIdentityProvider::start().unwrap();
    let config = provider.identity_config();
    drop(provider);
    let now = system_tests::start_time();
    let error = fangyitong::identity::IdentityVerifier::load(
        config.issuer,
        config.audience,
        config.keys,
        now,
    )
    .await
    .expect_err("no keys, no start");
    assert!(error.to_string().contains("could not be read"), "{error}");
}
