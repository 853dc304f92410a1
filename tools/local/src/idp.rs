//! The stand-in identity provider, served over HTTP on loopback the way the 深i企 provider serves
//! itself, so that the functions and the H5 client use it exactly as deployed:
//! - its JWK set (`JWT_JWKS_URL`), whose keys can be published, used for signing and retired while
//!   it runs: a key rotation, which the tests walk through;
//! - OpenID Connect's authorization-code flow with PKCE for the H5 client: `/authorize` shows the
//!   demo personas in place of the face verification, and `/token` exchanges the code (checking
//!   the verifier) for a token of the chosen persona.
//! - a sign-in session per browser, as a provider keeps one: choosing the persona this browser is
//!   signed in as again carries on the session, whose face verification dates from its start;
//!   a request with `max_age` older than that verifies the face afresh (OpenID Connect Core
//!   §3.1.2.1). That is what a grant needing a recent verification meets.

use crate::demo::{DEV_AUDIENCE, DEV_ISSUER, DEV_KEY_ID, DEV_PRIVATE_KEY};
use crate::tokens::TokenMinter;
use axum::Json;
use axum::routing::get;
use fangyitong::app::IdentityConfig;
use fangyitong::identity::KeySource;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// The path of the JWK set, as OpenID Connect providers commonly publish it.
pub const JWKS_PATH: &str = "/.well-known/jwks.json";

struct PublishedKey {
    kid: String,
    private_pem: String,
    public: Jwk,
}

#[derive(Default)]
struct Published {
    keys: Mutex<Vec<PublishedKey>>,
    /// How often the JWK set was read (what a verifier's caching saves).
    reads: AtomicUsize,
    /// Authorization codes handed out and not yet exchanged.
    codes: Mutex<std::collections::HashMap<String, Grant>>,
}

/// What an authorization code stands for until it is exchanged.
struct Grant {
    role: String,
    /// When the person's face was verified: now, or when their session began.
    face_verified_at: chrono::DateTime<chrono::Utc>,
    client_id: String,
    redirect_uri: String,
    code_challenge: String,
}

/// A running provider. It serves on a thread of its own, so it outlives the runtime of whichever
/// test started it, and stops when dropped.
pub struct DevIdentityProvider {
    published: Arc<Published>,
    jwks_url: String,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl DevIdentityProvider {
    /// A provider publishing the development key ([`DEV_KEY_ID`]), on a free loopback port.
    pub fn start() -> std::io::Result<Self> {
        Self::start_on(0)
    }

    /// The same on `port`.
    pub fn start_on(port: u16) -> std::io::Result<Self> {
        let listener = std::net::TcpListener::bind(("127.0.0.1", port))?;
        listener.set_nonblocking(true)?;
        let jwks_url = format!("http://{}{JWKS_PATH}", listener.local_addr()?);
        let published = Arc::new(Published::default());
        let served = published.clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        std::thread::Builder::new()
            .name("dev-identity-provider".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                        return;
                    };
                    let router = oidc::routes(served.clone()).route(
                        JWKS_PATH,
                        get(move || std::future::ready(Json(served.jwk_set()))),
                    );
                    let _ = axum::serve(listener, router)
                        .with_graceful_shutdown(async {
                            let _ = stopped.await;
                        })
                        .await;
                })
            })?;
        let provider = Self {
            published,
            jwks_url,
            _stop: stop,
        };
        provider.publish(DEV_KEY_ID, DEV_PRIVATE_KEY);
        Ok(provider)
    }

    /// The provider every test of this process and the local stack share.
    pub fn shared() -> &'static DevIdentityProvider {
        static SHARED: OnceLock<DevIdentityProvider> = OnceLock::new();
        SHARED.get_or_init(|| Self::start().expect("start the development identity provider"))
    }

    pub fn jwks_url(&self) -> &str {
        &self.jwks_url
    }

    /// Where the H5 client finds this provider: its authorization and token endpoints.
    pub fn client_config(&self) -> serde_json::Value {
        let base = self.jwks_url.trim_end_matches(JWKS_PATH);
        serde_json::json!({
            "authorizationEndpoint": format!("{base}/authorize"),
            "tokenEndpoint": format!("{base}/token"),
            "clientId": oidc::CLIENT_ID,
        })
    }

    /// The configuration a function gets for this provider: its JWKS URL.
    pub fn identity_config(&self) -> IdentityConfig {
        IdentityConfig {
            issuer: DEV_ISSUER.into(),
            audience: DEV_AUDIENCE.into(),
            keys: KeySource::JwksUrl(self.jwks_url.clone()),
            leeway: chrono::Duration::seconds(60),
        }
    }

    /// Publishes the EC P-256 key `private_pem` as `kid` beside the keys already published.
    pub fn publish(&self, kid: &str, private_pem: &str) {
        let encoding = EncodingKey::from_ec_pem(private_pem.as_bytes())
            .expect("a development key is an EC P-256 key in PEM");
        let mut public = Jwk::from_encoding_key(&encoding, Algorithm::ES256)
            .expect("an EC key has public coordinates");
        public.common.key_id = Some(kid.into());
        self.published.lock().push(PublishedKey {
            kid: kid.into(),
            private_pem: private_pem.into(),
            public,
        });
    }

    /// Stops publishing `kid`: tokens it signed stop verifying once verifiers re-read the set.
    pub fn retire(&self, kid: &str) {
        self.published.lock().retain(|k| k.kid != kid);
    }

    /// A minter signing with the published key `kid`, naming it in each token's header.
    pub fn minter(&self, kid: &str) -> TokenMinter {
        let keys = self.published.lock();
        let key = keys
            .iter()
            .find(|k| k.kid == kid)
            .expect("the key is published");
        TokenMinter::from_ec_pem(key.private_pem.as_bytes(), DEV_ISSUER, DEV_AUDIENCE)
            .expect("a published key is a valid EC key")
            .with_kid(kid)
    }

    /// How often the JWK set has been read so far.
    pub fn jwks_reads(&self) -> usize {
        self.published.reads.load(Ordering::SeqCst)
    }
}

impl Published {
    fn codes(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, Grant>> {
        self.codes.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<PublishedKey>> {
        self.keys.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn jwk_set(&self) -> JwkSet {
        self.reads.fetch_add(1, Ordering::SeqCst);
        JwkSet {
            keys: self.lock().iter().map(|k| k.public.clone()).collect(),
        }
    }
}

/// The authorization-code flow with PKCE (RFC 7636), as much of it as the H5 client uses.
mod oidc {
    use super::{Grant, Published};
    use crate::demo;
    use axum::extract::{Form, Query, State};
    use axum::http::{HeaderMap, StatusCode, header};
    use axum::response::{Html, IntoResponse, Redirect, Response};
    use axum::routing::{get, post};
    use axum::{Json, Router};
    use base64::Engine;
    use serde::Deserialize;
    use sha2::{Digest, Sha256};
    use std::sync::Arc;

    /// The client id the H5 client is registered under.
    pub const CLIENT_ID: &str = "fangyitong-h5";

    pub fn routes(published: Arc<Published>) -> Router {
        Router::new()
            .route("/authorize", get(authorize))
            .route("/authorize/choose", get(choose))
            .route("/token", post(token).options(preflight))
            .with_state(published)
    }

    #[derive(Deserialize)]
    struct AuthorizeQuery {
        response_type: String,
        client_id: String,
        redirect_uri: String,
        state: String,
        code_challenge: String,
        code_challenge_method: String,
        /// Seconds: a face verification older than this must be done again.
        max_age: Option<i64>,
    }

    /// The browser's sign-in session at this provider: who, and since when (the face
    /// verification). A stand-in's cookie, unsigned: it serves loopback only.
    pub const SESSION_COOKIE: &str = "dev_idp_session";

    fn session(headers: &HeaderMap) -> Option<(String, chrono::DateTime<chrono::Utc>)> {
        let cookies = headers.get(header::COOKIE)?.to_str().ok()?;
        let value = cookies.split(';').find_map(|c| {
            c.trim()
                .strip_prefix(SESSION_COOKIE)
                .and_then(|rest| rest.strip_prefix('='))
        })?;
        let (role, since) = value.split_once('.')?;
        let since = chrono::DateTime::from_timestamp(since.parse().ok()?, 0)?;
        Some((role.to_string(), since))
    }

    fn escape(text: &str) -> String {
        text.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    }

    fn refused(why: &str) -> Response {
        (
            StatusCode::BAD_REQUEST,
            Html(format!("<p>{}</p>", escape(why))),
        )
            .into_response()
    }

    /// The page the provider shows: in place of the face verification, the demo personas.
    async fn authorize(Query(q): Query<AuthorizeQuery>) -> Response {
        if q.response_type != "code" || q.code_challenge_method != "S256" {
            return refused("only response_type=code with code_challenge_method=S256");
        }
        if q.client_id != CLIENT_ID {
            return refused("unknown client_id");
        }
        let cast = demo::Cast::new(chrono::Utc::now());
        let max_age = q.max_age.map(|m| m.to_string());
        let carry = |role: &str| {
            let mut pairs = vec![
                ("role", role),
                ("client_id", q.client_id.as_str()),
                ("redirect_uri", q.redirect_uri.as_str()),
                ("state", q.state.as_str()),
                ("code_challenge", q.code_challenge.as_str()),
            ];
            if let Some(max_age) = &max_age {
                pairs.push(("max_age", max_age));
            }
            pairs
                .iter()
                .map(|(k, v)| format!("{k}={}", urlencode(v)))
                .collect::<Vec<_>>()
                .join("&")
        };
        let items: String = cast
            .all()
            .iter()
            .map(|(role, persona)| {
                format!(
                    r#"<li><a href="/authorize/choose?{}">{}</a> <small>{}</small></li>"#,
                    escape(&carry(role)),
                    escape(&persona.name),
                    escape(role)
                )
            })
            .collect();
        Html(format!(
            r#"<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>深i企 登录</title>
<style>body{{font-family:sans-serif;margin:16px}}li{{margin:14px 0;font-size:17px}}a{{color:#1565c0}}small{{color:#646566}}</style></head>
<body><main><h1>深i企 登录</h1><p>人脸核验（本地演示）：选择您的身份</p><ul>{items}</ul></main></body></html>"#
        ))
        .into_response()
    }

    #[derive(Deserialize)]
    struct Choice {
        role: String,
        client_id: String,
        redirect_uri: String,
        state: String,
        code_challenge: String,
        max_age: Option<i64>,
    }

    /// The person chose (was verified): back to the client with a one-time code. The browser's
    /// session goes on when it is this person's and recent enough for `max_age`; otherwise the
    /// face is verified now and a new session begins.
    async fn choose(
        State(published): State<Arc<Published>>,
        headers: HeaderMap,
        Query(c): Query<Choice>,
    ) -> Response {
        let now = chrono::Utc::now();
        let face_verified_at = match session(&headers) {
            Some((role, since))
                if role == c.role
                    && c.max_age
                        .is_none_or(|max| (now - since).num_seconds() <= max) =>
            {
                since
            }
            _ => now,
        };
        let code = ulid::Ulid::new().to_string();
        let separator = if c.redirect_uri.contains('?') {
            '&'
        } else {
            '?'
        };
        let target = format!(
            "{}{separator}code={code}&state={}",
            c.redirect_uri,
            urlencode(&c.state)
        );
        published.codes().insert(
            code,
            Grant {
                role: c.role.clone(),
                face_verified_at,
                client_id: c.client_id,
                redirect_uri: c.redirect_uri,
                code_challenge: c.code_challenge,
            },
        );
        let cookie = format!(
            "{SESSION_COOKIE}={}.{}; Path=/; HttpOnly; SameSite=Lax",
            c.role,
            face_verified_at.timestamp()
        );
        let mut response = Redirect::to(&target).into_response();
        if let Ok(cookie) = header::HeaderValue::from_str(&cookie) {
            response.headers_mut().insert(header::SET_COOKIE, cookie);
        }
        response
    }

    #[derive(Deserialize)]
    struct TokenRequest {
        grant_type: String,
        code: String,
        redirect_uri: String,
        client_id: String,
        code_verifier: String,
    }

    /// The client's origin may read the answer (a browser app exchanges the code itself).
    fn cors(response: impl IntoResponse) -> Response {
        let mut response = response.into_response();
        response.headers_mut().insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            header::HeaderValue::from_static("*"),
        );
        response
    }

    async fn preflight() -> Response {
        let mut response = cors(StatusCode::NO_CONTENT);
        response.headers_mut().insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            header::HeaderValue::from_static("content-type"),
        );
        response
    }

    fn token_error(error: &str) -> Response {
        cors((
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({ "error": error })),
        ))
    }

    /// Exchanges a code for a token, once, and only with the verifier whose hash it was issued for.
    async fn token(
        State(published): State<Arc<Published>>,
        Form(t): Form<TokenRequest>,
    ) -> Response {
        if t.grant_type != "authorization_code" {
            return token_error("unsupported_grant_type");
        }
        let Some(grant) = published.codes().remove(&t.code) else {
            return token_error("invalid_grant");
        };
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(Sha256::digest(t.code_verifier.as_bytes()));
        if grant.client_id != t.client_id
            || grant.redirect_uri != t.redirect_uri
            || grant.code_challenge != challenge
        {
            return token_error("invalid_grant");
        }
        let now = chrono::Utc::now();
        let cast = demo::Cast::new(now);
        let Some((_, persona)) = cast.all().into_iter().find(|(role, _)| *role == grant.role)
        else {
            return token_error("invalid_grant");
        };
        let ttl = chrono::Duration::hours(12);
        // A persona who cannot verify a face (a passport holder) still has none.
        let persona = crate::tokens::Persona {
            face_verified_at: persona.face_verified_at.map(|_| grant.face_verified_at),
            ..persona.clone()
        };
        let token = demo::minter().mint(&persona, now, ttl);
        cors(Json(serde_json::json!({
            "access_token": token,
            "id_token": token,
            "token_type": "Bearer",
            "expires_in": ttl.num_seconds(),
        })))
    }

    fn urlencode(text: &str) -> String {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    }
}
