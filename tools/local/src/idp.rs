//! The stand-in identity provider's public side: its JWK set, served over HTTP on loopback the
//! way the 深i企 provider serves its JWKS URL, so the functions read and follow it exactly as
//! deployed (`JWT_JWKS_URL`). Keys can be published, used for signing and retired while it runs:
//! that is a key rotation, which the tests walk through.

use crate::demo::{DEV_AUDIENCE, DEV_ISSUER, DEV_KEY_ID, DEV_PRIVATE_KEY};
use crate::tokens::TokenMinter;
use axum::routing::get;
use axum::{Json, Router};
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
                    let router = Router::new().route(
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
