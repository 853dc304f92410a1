//! Every function's state at once, from the development secrets. The local API serves each
//! function's routes on that function's own state ([`VerifiedState`], [`ApiState`],
//! [`LinkState`], [`ExportState`]), and the local export worker runs on [`WorkerState`], exactly
//! as the deployed functions are built; the routes are merged under one port. Their init reads
//! the same things a Lambda's does, from the local stack: the secrets from Secrets Manager on
//! moto's server, the provider's keys from its JWKS URL.

use crate::demo;
use crate::exports::Exports;
use axum::routing::get;
use axum::{Json, Router};
use fangyitong::app::{self, ApiState, Core, IdentityConfig, LinkState, VerifiedState};
use fangyitong::authorize::LinkSigner;
use fangyitong::export::{ExportState, WorkerState};
use fangyitong::identity::IdentityVerifier;
use fangyitong::ids::PersonKeyer;
use fangyitong::openapi;
use fangyitong::secrets;
use std::sync::Arc;
use tower_http::services::{ServeDir, ServeFile};

#[derive(Clone)]
pub struct Functions {
    pub core: Core,
    pub verifier: Arc<IdentityVerifier>,
    pub keyer: PersonKeyer,
    pub links: Arc<LinkSigner>,
    pub exports: Arc<Exports>,
}

impl Functions {
    /// The states of every function over `core`, with the development identity provider and
    /// secrets.
    pub async fn start(
        core: Core,
        exports: Exports,
        aws: &aws_config::SdkConfig,
    ) -> Result<Self, String> {
        Self::start_with(core, exports, aws, demo::dev_identity()).await
    }

    /// The same with the identity provider `identity`. Each function's init runs as deployed: the
    /// secrets are read from Secrets Manager (moto's server) and the provider's keys from its
    /// JWKS URL.
    pub async fn start_with(
        core: Core,
        exports: Exports,
        aws: &aws_config::SdkConfig,
        identity: IdentityConfig,
    ) -> Result<Self, String> {
        let arns = crate::secrets::provision(aws).await?;
        let client = aws_sdk_secretsmanager::Client::new(aws);
        let person_key = secrets::read_id(&client, &arns.person_key, "PERSON_KEY_SECRET_ARN")
            .await
            .map_err(|e| e.to_string())?;
        let link_signing = secrets::read_id(&client, &arns.link_signing, "LINK_SIGNING_SECRET_ARN")
            .await
            .map_err(|e| e.to_string())?;
        let keyer = app::person_keyer(&person_key).map_err(|e| e.to_string())?;
        let api = ApiState::new(core, identity, keyer)
            .await
            .map_err(|e| e.to_string())?;
        let linking = LinkState::new(api, &link_signing).map_err(|e| e.to_string())?;
        Ok(Self {
            core: linking.core,
            verifier: linking.verifier,
            keyer: linking.keyer,
            links: linking.links,
            exports: Arc::new(exports),
        })
    }

    /// The same functions with other export services (e.g. a changed limit).
    pub fn with_exports(self, exports: Exports) -> Self {
        Self {
            exports: Arc::new(exports),
            ..self
        }
    }

    /// The state of query-sites.
    pub fn verified_state(&self) -> VerifiedState {
        VerifiedState {
            core: self.core.clone(),
            verifier: self.verifier.clone(),
        }
    }

    /// The state of query-nucleic and query-vaccine.
    pub fn api_state(&self) -> ApiState {
        ApiState {
            core: self.core.clone(),
            verifier: self.verifier.clone(),
            keyer: self.keyer.clone(),
        }
    }

    /// The state of authorize and invite-join.
    pub fn link_state(&self) -> LinkState {
        LinkState {
            core: self.core.clone(),
            verifier: self.verifier.clone(),
            keyer: self.keyer.clone(),
            links: self.links.clone(),
        }
    }

    /// The state of export (the routes).
    pub fn export_state(&self) -> ExportState {
        ExportState {
            core: self.core.clone(),
            verifier: self.verifier.clone(),
            keyer: self.keyer.clone(),
            queue: Arc::new(self.exports.queue.clone()),
        }
    }

    /// The state of the export worker.
    pub fn worker_state(&self) -> WorkerState {
        WorkerState {
            core: self.core.clone(),
            mail: Arc::new(self.exports.mail.clone()),
        }
    }

    /// Every function's routes, each on its own state, as API Gateway would route them to the
    /// separate Lambdas; and the merged OpenAPI document.
    pub fn routes(&self) -> (Router, utoipa::openapi::OpenApi) {
        use fangyitong::{
            authorize, export, invite, ops, query_nucleic, query_sites, query_vaccine,
        };
        let functions = [
            openapi::split(
                authorize::routes::routes().merge(ops::routes()),
                self.link_state(),
            ),
            openapi::split(query_sites::routes(), self.verified_state()),
            openapi::split(query_nucleic::routes(), self.api_state()),
            openapi::split(query_vaccine::routes(), self.api_state()),
            openapi::split(invite::routes(), self.link_state()),
            openapi::split(export::routes(), self.export_state()),
        ];
        let mut router = Router::new();
        let mut doc = openapi::base::<()>().into_openapi();
        for (routes, function_doc) in functions {
            router = router.merge(routes);
            doc.merge(function_doc);
        }
        (fangyitong::http::edge(router), doc)
    }
}

/// The local API: every function's routes on one router, plus `/openapi.json`, `/dev/tokens`
/// (fresh demo tokens; local only, never deployed) and the H5 client at `/` (`web/dist`, which
/// `make dev` builds; deployed, CloudFront serves it from its bucket).
pub fn api(functions: &Functions) -> Router {
    let (routes, doc) = functions.routes();
    let doc = Arc::new(doc);
    let web = crate::repo_root().join("web/dist");
    Router::new()
        .route_service("/", ServeFile::new(web.join("index.html")))
        .nest_service("/assets", ServeDir::new(web.join("assets")))
        .route(
            "/openapi.json",
            get(move || std::future::ready(Json(doc.clone()))),
        )
        // Where the H5 client signs in: the stand-in provider's endpoints (deployed, the same file
        // is uploaded beside the client by `make deploy-web`).
        .route(
            "/client-config.json",
            get(|| {
                std::future::ready(Json(
                    crate::idp::DevIdentityProvider::shared().client_config(),
                ))
            }),
        )
        .route(
            "/dev/tokens",
            get(|| std::future::ready(Json(demo::fresh_tokens(chrono::Utc::now())))),
        )
        .merge(routes)
}
