//! An issuer service on axum: logs users in, mints EdDSA tokens (each carrying its `kid`),
//! publishes its public keys at `/.well-known/jwks.json` and an OpenID Connect discovery
//! document, and rotates its key without a restart. Its partner, `jwks_resource`, verifies
//! the tokens knowing nothing but this service's URL.
//!
//! ```text
//! cargo run --example jwks_issuer                     # listens on 127.0.0.1:8001
//! cargo run --example jwks_resource                   # listens on 127.0.0.1:8002
//! TOKEN=$(curl -s -XPOST localhost:8001/api/token/ -H 'content-type: application/json' \
//!     -d '{"username":"alice","password":"alice-password"}' | jq -r .access)
//! curl -s localhost:8002/api/whoami/ -H "authorization: Bearer $TOKEN"
//! curl -s localhost:8001/.well-known/jwks.json
//! ```
//!
//! `KEYCARD_ISSUER_ADDR` changes the address. The key is generated at start-up (a real
//! issuer loads its keys from a secret store); `POST /admin/rotate/` (as `root`) rotates it.

use axum::routing::{get, post};
use axum::{Json, Router};
use keycard::token::KeyRotation;
use keycard::{
    Authenticators, ConfigError, InMemoryUserStore, IsAdmin, JwtAuthentication, Key, KeySet,
    Settings, TokenService, User,
};
use keycard_axum::{AuthLayer, RequireLayer, jwks_router, token_router};
use serde_json::{Value, json};

/// The audience the issuer's tokens are for (the resource service checks it).
pub(crate) const AUDIENCE: &str = "jwks-demo-api";

/// The issuer: its token service and the handle that rotates its key.
#[derive(Clone)]
pub(crate) struct Issuer {
    /// The token service (signing with the current key).
    pub(crate) tokens: TokenService,
    /// Rotates the signing key at run time.
    pub(crate) rotation: KeyRotation,
}

/// A fresh Ed25519 key named after the moment it was made (and a counter, for two in one
/// second).
fn fresh_key() -> Result<Key, ConfigError> {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let n = N.fetch_add(1, Ordering::Relaxed);
    Ok(Key::generate_ed25519()?.with_kid(format!("ed-{secs}-{n}")))
}

/// The issuer whose `iss` is `issuer_url` (its own base URL, as OpenID Connect wants).
pub(crate) fn issuer(issuer_url: &str) -> Result<Issuer, ConfigError> {
    let rotation = KeyRotation::new(KeySet::new(fresh_key()?)?);
    let settings = Settings::builder()
        .key_source(&rotation)
        .issuer(issuer_url)
        .audience(AUDIENCE)
        .build()?;
    let users = InMemoryUserStore::new();
    users.insert(User::new("1", "alice"), "alice-password");
    users.insert(User::new("2", "root").admin(true), "root-password");
    let tokens = TokenService::builder(settings).users(users).build()?;
    Ok(Issuer { tokens, rotation })
}

impl Issuer {
    /// Rotates to a fresh key: published and signing at once (this demo's resource refetches
    /// on the unknown `kid`); the old key stays listed and accepted until its last token has
    /// expired. A real issuer publishes the next key a cache lifetime before promoting it.
    pub(crate) fn rotate(&self) -> Result<String, ConfigError> {
        let old = self.tokens.settings().keys();
        let old = old.signing_key().and_then(Key::kid).map(str::to_owned);
        let next = fresh_key()?;
        let kid = next.kid().unwrap_or_default().to_owned();
        self.rotation.add_next(next)?;
        self.rotation.promote(&kid)?;
        if let Some(old) = old {
            let deadline = self.tokens.settings().key_retirement_deadline();
            self.rotation.retire_after(&old, deadline)?;
        }
        Ok(kid)
    }
}

/// The issuer's routes: the token endpoints, its JWKS, its discovery document, and the
/// admin-only rotation.
pub(crate) fn app(issuer: Issuer, issuer_url: &str) -> Router {
    let discovery = json!({
        "issuer": issuer_url,
        "jwks_uri": format!("{issuer_url}{}", keycard::token::JWKS_PATH),
        "token_endpoint": format!("{issuer_url}/api/token/"),
        "id_token_signing_alg_values_supported": ["EdDSA"],
    });
    let chain = Authenticators::new().with(JwtAuthentication::new(issuer.tokens.clone()));
    let rotating = issuer.clone();
    let admin = Router::new()
        .route(
            "/admin/rotate/",
            post(move || {
                let issuer = rotating.clone();
                async move {
                    match issuer.rotate() {
                        Ok(kid) => Json(json!({ "kid": kid })),
                        Err(e) => Json(json!({ "error": e.to_string() })),
                    }
                }
            }),
        )
        .route_layer(RequireLayer::new(IsAdmin))
        .route_layer(AuthLayer::new(chain));
    Router::new()
        .nest("/api/token/", token_router(issuer.tokens.clone()))
        .merge(jwks_router(issuer.tokens))
        .route(
            "/.well-known/openid-configuration",
            get(move || {
                let doc: Value = discovery.clone();
                async move { Json(doc) }
            }),
        )
        .merge(admin)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let addr = std::env::var("KEYCARD_ISSUER_ADDR").unwrap_or_else(|_| "127.0.0.1:8001".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    let url = format!("http://{}", listener.local_addr()?);
    let issuer = match issuer(&url) {
        Ok(i) => i,
        Err(e) => {
            tracing::error!("cannot start: {e}");
            std::process::exit(2);
        }
    };
    tracing::info!("issuer {url}: JWKS at {url}/.well-known/jwks.json");
    axum::serve(listener, app(issuer, &url))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
}
