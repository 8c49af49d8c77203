//! keycard for axum: Django REST Framework's authentication and permission classes, and
//! djangorestframework-simplejwt's token endpoints, as axum extractors and a `Router`.
//!
//! - [`AuthLayer`] (from keycard-tower) runs the authenticator chain on every request; bad
//!   credentials end the request with 401, on every route, as in DRF.
//! - Extractors read its outcome: [`Identity`] (the caller, or 401), `Option<Identity>`,
//!   [`Claims<T>`](Claims) (the token's claims in your type) and [`Require<P>`](Require) (a
//!   permission policy on the handler's signature, with the object-level check).
//! - [`RequireLayer`] (from keycard-tower) puts a policy on a route or a group, with
//!   `route_layer` so that unknown paths stay 404.
//! - [`token_router`] serves obtain, refresh, verify and blacklist; [`jwks_router`] the
//!   public keys at `/.well-known/jwks.json`.
//!
//! Every refusal is a named [`rejection`] type rendered by keycard-core, so axum and
//! actix-web apps answer byte for byte alike.
//!
//! ```
//! use axum::{Json, Router, body::Body, http::{Request, StatusCode}, routing::get};
//! use keycard_axum::{AuthLayer, Identity, Require, RequireLayer, token_router};
//! use keycard_core::{
//!     Authenticators, InMemoryRevocationStore, InMemoryUserStore, IsAdmin, IsAuthenticated, JwtAuthentication,
//!     Settings, TokenService, User,
//! };
//! use serde_json::{Value, json};
//! use tower::ServiceExt;
//!
//! async fn me(me: Identity) -> Json<Value> {
//!     Json(json!({"user_id": me.user_id(), "username": me.username()}))
//! }
//! async fn admin(_: Require<IsAdmin>) -> Json<Value> {
//!     Json(json!({"admin": true}))
//! }
//! async fn reports() -> &'static str {
//!     "reports"
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let users = InMemoryUserStore::new();
//! users.insert(User::new("1", "alice"), "alice-password");
//! let settings = Settings::builder().hmac_secret([8u8; 32]).rotate_refresh_tokens(true).build().unwrap();
//! let tokens = TokenService::builder(settings)
//!     .users(users)
//!     .store(InMemoryRevocationStore::new())
//!     .with_blacklist_endpoint(true)
//!     .build()
//!     .unwrap();
//! let chain = Authenticators::new().with(JwtAuthentication::new(tokens.clone()));
//!
//! let api = Router::new()
//!     .route("/api/me/", get(me))
//!     .route("/api/admin/", get(admin))
//!     .route("/api/reports/", get(reports).route_layer(RequireLayer::new(IsAuthenticated)))
//!     .route_layer(AuthLayer::new(chain));
//! let app = Router::new().nest("/api/token/", token_router(tokens)).merge(api);
//!
//! // Log in, then call the API with the access token.
//! let login = Request::post("/api/token/").body(Body::from(r#"{"username":"alice","password":"alice-password"}"#)).unwrap();
//! let res = app.clone().oneshot(login).await.unwrap();
//! let pair: Value = serde_json::from_slice(&axum::body::to_bytes(res.into_body(), 4096).await.unwrap()).unwrap();
//! let bearer = format!("Bearer {}", pair["access"].as_str().unwrap());
//!
//! let get = |path: &str, auth: Option<&str>| {
//!     let mut req = Request::get(path);
//!     if let Some(a) = auth {
//!         req = req.header("authorization", a);
//!     }
//!     app.clone().oneshot(req.body(Body::empty()).unwrap())
//! };
//! assert_eq!(get("/api/me/", Some(&bearer)).await.unwrap().status(), StatusCode::OK);
//! assert_eq!(get("/api/me/", None).await.unwrap().status(), StatusCode::UNAUTHORIZED);
//! assert_eq!(get("/api/admin/", Some(&bearer)).await.unwrap().status(), StatusCode::FORBIDDEN);
//! assert_eq!(get("/api/reports/", None).await.unwrap().status(), StatusCode::UNAUTHORIZED);
//! assert_eq!(get("/api/nowhere/", None).await.unwrap().status(), StatusCode::NOT_FOUND);
//! # });
//! ```
//!
//! # Layer order and 404s
//!
//! Use `route_layer` for [`AuthLayer`] and [`RequireLayer`]: it wraps only the routes added
//! before it, and only runs when one of them matched, so an unknown path is a 404 whatever
//! the credentials (case PO3), and routes merged in afterwards (a public login, the token
//! endpoints) keep the protection they were declared with (cases PO4, PO5). Put CORS
//! outermost (`.layer(CorsLayer::…)` last), so that preflights are answered before
//! authentication and refusals still carry the CORS headers (case AD2).
//!
//! # Stale tokens on public routes (case AU6)
//!
//! Bad credentials are a 401 on public routes too, as in DRF. A public route that must
//! ignore them gets its own lenient layer instead of the strict one:
//! `get(handler).layer(AuthLayer::new(chain).lenient())`, merged beside the strictly
//! authenticated routes.
//!
//! # Without an `AuthLayer`
//!
//! An extractor that finds no outcome answers 500 and logs an error naming
//! `keycard::tower::AuthLayer` ([`MissingAuthLayer`](rejection::MissingAuthLayer), case PO5);
//! it never panics and never guesses "anonymous".

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod extract;
mod jwks;
pub mod rejection;
mod tokens;

pub use extract::{Claims, Identity, Require};
pub use jwks::jwks_router;
pub use keycard_tower::{AuthLayer, RequireLayer};
pub use tokens::{DEFAULT_ENDPOINTS, token_router, token_router_with};

/// The log target of keycard-axum's own log lines (a missing `AuthLayer`, unreadable bodies).
pub const LOG_TARGET: &str = "keycard::axum";
