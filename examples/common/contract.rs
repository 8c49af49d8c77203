#![allow(dead_code)] // Each app uses a different subset of this shared module.
//! What both contract apps share (../shared/CONTRACT.md): settings, users, environment.
//! Included by `examples/axum_app.rs` and `examples/actix_app.rs` with `#[path]`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use keycard::{
    Authenticators, InMemoryRevocationStore, InMemoryUserStore, JwtAuthentication, RevocationStore,
    Settings, TokenService, User,
};

/// The contract's default secret; the apps warn loudly when it is used.
pub const DEFAULT_SECRET: &str = "contract-secret-0123456789abcdef0123456789abcdef";

/// Everything an app needs to serve the contract.
pub struct Contract {
    /// Where to listen (`KEYCARD_ADDR`, default 127.0.0.1:8000).
    pub addr: SocketAddr,
    /// The token service.
    pub tokens: TokenService,
    /// The authenticator chain: the user-loading JWT authenticator.
    pub authenticators: Authenticators,
}

/// Reads `KEYCARD_ADDR` and `KEYCARD_SECRET` (and any other `KEYCARD_*` setting) and builds the
/// contract's users, settings, in-memory store and chain.
pub fn from_env() -> Result<Contract, String> {
    build(None)
}

/// [`from_env`], plus `KEYCARD_REDIS_URL`: when it is set, the revocation state lives in Redis
/// (shared by every instance of the app); otherwise in memory. What the apps' `main` calls.
pub async fn from_env_for_main() -> Result<Contract, String> {
    match keycard_redis::RedisRevocationStore::from_env().await {
        Ok(Some(redis)) => {
            tracing::info!("revocation store: Redis ({})", keycard_redis::REDIS_URL_ENV);
            build(Some(Arc::new(redis)))
        }
        Ok(None) => build(None),
        Err(e) => Err(format!(
            "cannot use Redis from {}: {e}",
            keycard_redis::REDIS_URL_ENV
        )),
    }
}

fn build(store: Option<Arc<dyn RevocationStore>>) -> Result<Contract, String> {
    let addr: SocketAddr = std::env::var("KEYCARD_ADDR")
        .unwrap_or_else(|_| "127.0.0.1:8000".to_owned())
        .parse()
        .map_err(|_| "KEYCARD_ADDR must be host:port, e.g. 127.0.0.1:8000".to_owned())?;
    if std::env::var_os("KEYCARD_SECRET").is_none() {
        tracing::warn!(
            "USING THE DEFAULT, PUBLICLY KNOWN SIGNING SECRET: anyone can mint tokens for this server. \
             Set KEYCARD_SECRET to a random value of at least 32 bytes before exposing it."
        );
    }
    let settings = Settings::builder()
        .hmac_secret(DEFAULT_SECRET)
        .issuer("keycard-contract")
        .audience("contract-api")
        .access_lifetime(Duration::from_secs(300))
        .refresh_lifetime(Duration::from_secs(86_400))
        .rotate_refresh_tokens(true)
        .blacklist_after_rotation(true)
        .from_env()
        .and_then(|b| b.build())
        .map_err(|e| e.to_string())?;

    let users = InMemoryUserStore::new();
    users.insert(User::new("1", "alice"), "alice-password");
    users.insert(User::new("2", "root").admin(true), "root-password");
    users.insert(User::new("3", "carol").active(false), "carol-password");

    let store: Arc<dyn RevocationStore> = store.unwrap_or_else(|| {
        Arc::new(InMemoryRevocationStore::with_clock(
            settings.clock().clone(),
        ))
    });
    let tokens = TokenService::builder(settings)
        .users(users)
        .store_arc(store)
        .with_blacklist_endpoint(true)
        .build()
        .map_err(|e| e.to_string())?;
    let authenticators = Authenticators::new().with(JwtAuthentication::new(tokens.clone()));
    Ok(Contract {
        addr,
        tokens,
        authenticators,
    })
}

/// The start-up line: how to try the server with curl.
pub fn try_it(addr: SocketAddr) -> String {
    format!(
        "keycard contract app listening on http://{addr}\n  try: curl -s -X POST http://{addr}/api/token/ -H 'Content-Type: application/json' \
         -d '{{\"username\":\"alice\",\"password\":\"alice-password\"}}'\n  then: export ACCESS=<the \"access\" value>; curl -s http://{addr}/api/me/ -H \"Authorization: Bearer $ACCESS\"\n  users: alice/alice-password, root/root-password (admin), carol (inactive)"
    )
}
