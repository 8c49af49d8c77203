//! A resource service on actix-web that verifies the tokens of another service knowing only
//! its URL: the issuer's OpenID Connect discovery document names its JWKS, whose keys are
//! cached, refreshed every 10 minutes, and refetched (at most once per cool-down) when a
//! token names a key not yet seen — a rotation at the issuer needs no restart here.
//!
//! ```text
//! cargo run --example jwks_issuer                     # 127.0.0.1:8001 (start it first, or not:
//! cargo run --example jwks_resource                   #   until it is up, requests get 503)
//! ```
//!
//! `KEYCARD_ISSUER_URL` (default `http://127.0.0.1:8001`) and `KEYCARD_RESOURCE_ADDR`
//! (default `127.0.0.1:8002`) change the defaults. Outside loopback the issuer URL must be
//! https.

use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};
use keycard::token::RemoteKeys;
use keycard::{
    Authenticators, ConfigError, InMemoryUserStore, JwtStatelessAuthentication, Settings,
    TokenService,
};
use keycard_actix::{Identity, KeycardAuth};
use serde_json::json;

/// The audience this service accepts (the issuer's tokens name it).
pub(crate) const AUDIENCE: &str = "jwks-demo-api";

/// The resource's token service (verify only) and the remote keys it reads.
#[derive(Clone)]
pub(crate) struct Resource {
    /// Verifies tokens with the issuer's keys.
    pub(crate) tokens: TokenService,
    /// The issuer's keys, fetched through its discovery document.
    pub(crate) keys: RemoteKeys,
}

/// A resource trusting `issuer_url`, with `cool_down` between two key fetches (30 s is the
/// default; the end-to-end test uses less).
pub(crate) fn resource(issuer_url: &str, cool_down: Duration) -> Result<Resource, ConfigError> {
    let keys = RemoteKeys::oidc_issuer(issuer_url)
        .algorithms([keycard::Algorithm::EdDSA])
        .cool_down(cool_down)
        .build()?;
    let settings = Settings::builder()
        .key_source(&keys)
        .issuer(issuer_url)
        .audience(AUDIENCE)
        .build()?;
    // Users live at the issuer: identities come from the claims alone
    // (DRF's `JWTStatelessUserAuthentication`), so the user store stays empty.
    let tokens = TokenService::builder(settings)
        .users(InMemoryUserStore::new())
        .build()?;
    Ok(Resource { tokens, keys })
}

async fn whoami(me: Identity) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "user_id": me.user_id() }))
}

/// The resource's routes: `GET /api/whoami/`, for a token of the issuer.
pub(crate) fn app(
    resource: Resource,
) -> App<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let chain = Authenticators::new().with(JwtStatelessAuthentication::new(resource.tokens));
    App::new().service(
        web::scope("/api")
            .wrap(KeycardAuth::new(chain))
            .route("/whoami/", web::get().to(whoami)),
    )
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let issuer =
        std::env::var("KEYCARD_ISSUER_URL").unwrap_or_else(|_| "http://127.0.0.1:8001".into());
    let addr = std::env::var("KEYCARD_RESOURCE_ADDR").unwrap_or_else(|_| "127.0.0.1:8002".into());
    let resource = match resource(&issuer, Duration::from_secs(30)) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("cannot start: {e}");
            std::process::exit(2);
        }
    };
    // Fetch now to report a wrong URL at once; an issuer still starting is not fatal.
    match resource.keys.refresh().await {
        Ok(n) => tracing::info!("{n} key(s) from {issuer}"),
        Err(e) => tracing::warn!("{e}; requests get 503 until the issuer answers"),
    }
    tracing::info!("resource on http://{addr}/api/whoami/, trusting {issuer}");
    HttpServer::new(move || app(resource.clone()))
        .bind(addr)?
        .run()
        .await
}
