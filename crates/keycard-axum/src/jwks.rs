//! The issuer's public keys at `/.well-known/jwks.json`.
//!
//! keycard-core's [`jwks_response`] decides the answer (the public JWK of every key of the
//! current set, never a private member, never an HMAC secret; retired keys listed until
//! their last token has expired; `Cache-Control: public, max-age=300`); this module routes
//! to it.

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use keycard_core::TokenService;
use keycard_core::token::{JWKS_PATH, jwks_response};

/// `GET /.well-known/jwks.json` (and `HEAD`), to [`merge`](Router::merge) at the root of the
/// app: the JWKS other services verify this one's tokens with (keycard's
/// `RemoteKeys::jwks_url`, or any OIDC/JWT library). Keys rotated with a `KeyRotation` show
/// up without a restart.
///
/// ```
/// use axum::{Router, body::Body, http::Request};
/// use keycard_core::{InMemoryUserStore, Key, Settings, TokenService};
/// use tower::ServiceExt;
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let key = Key::generate_ed25519().unwrap().with_kid("2026-01");
/// let tokens = TokenService::builder(Settings::builder().signing_key(key).build().unwrap())
///     .users(InMemoryUserStore::new())
///     .build()
///     .unwrap();
/// let app: Router = Router::new().merge(keycard_axum::jwks_router(tokens));
/// let req = Request::get("/.well-known/jwks.json").body(Body::empty()).unwrap();
/// let res = app.oneshot(req).await.unwrap();
/// assert_eq!(res.status(), 200);
/// assert_eq!(res.headers()["cache-control"], "public, max-age=300");
/// let body = axum::body::to_bytes(res.into_body(), 4096).await.unwrap();
/// let jwks: serde_json::Value = serde_json::from_slice(&body).unwrap();
/// assert_eq!(jwks["keys"][0]["kid"], "2026-01");
/// # });
/// ```
pub fn jwks_router<S>(tokens: TokenService) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    Router::new().route(
        JWKS_PATH,
        get(move || {
            let tokens = tokens.clone();
            async move { jwks_response(&tokens).into_response::<Body>() }
        }),
    )
}
