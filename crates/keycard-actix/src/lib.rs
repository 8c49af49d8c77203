//! keycard for actix-web: Django REST Framework's authentication and permission classes,
//! and djangorestframework-simplejwt's token endpoints, as actix-web middleware and extractors.
//!
//! Every decision is keycard-core's; this crate only translates actix-web requests and
//! responses, so an actix app answers byte for byte like an axum one.
//!
//! | piece | what it does |
//! |---|---|
//! | [`KeycardAuth`] | middleware for an `App`, `Scope` or `Resource`: runs the authenticator chain, stores the [`AuthOutcome`](keycard_core::AuthOutcome) in the request's extensions; bad credentials → 401 on every route it wraps (DRF's rule, case AU6), or anonymous with [`KeycardAuth::lenient`] |
//! | [`RequirePolicy`] | middleware: a policy on a scope or resource (anonymous → 401, denied → 403) |
//! | [`Identity`], `Option<Identity>` | extractors: the caller (401 when anonymous) or maybe the caller |
//! | [`Claims<T>`](Claims) | extractor: the verified token's claims as your own type |
//! | [`Require<P>`](Require) | extractor: a policy checked before the handler runs, with [`Require::check_object`] for one object |
//! | [`token_scope`], [`configure`] | the token endpoints (obtain, refresh, verify, blacklist) |
//! | [`jwks_service`] | the public keys at `/.well-known/jwks.json` |
//! | [`Rejection`] | every refusal, an actix [`ResponseError`](actix_web::ResponseError) rendered by keycard-core |
//!
//! Middleware order matters in actix-web: the `.wrap()` called *last* runs *first*, so wrap a
//! scope with [`RequirePolicy`] before wrapping it (or the whole `App`) with [`KeycardAuth`].
//! A [`RequirePolicy`] or an extractor with no [`KeycardAuth`] in front answers 500 and logs
//! an error naming `KeycardAuth`; it never panics (case PO5). One exception, from actix-web
//! itself: `Option<T>` turns any extractor error into `None`, so `Option<Identity>` without
//! the middleware is `None` (the error is still logged).
//!
//! A route not found stays a 404: neither middleware turns an unknown path into a 401 or a
//! 403 (case PO3); bad credentials on a path no route matches are ignored and the request
//! goes on, anonymous, to the 404.
//!
//! ```
//! use actix_web::{App, HttpResponse, test, web};
//! use keycard_actix::{Identity, KeycardAuth, RequirePolicy};
//! use keycard_core::{Authenticators, InMemoryUserStore, IsAdmin, JwtAuthentication, Settings, TokenService, User};
//!
//! # actix_web::rt::System::new().block_on(async {
//! let users = InMemoryUserStore::new();
//! users.insert(User::new("1", "alice"), "alice-password");
//! let settings = Settings::builder().hmac_secret("a-secret-that-is-at-least-32-bytes-long!").build().unwrap();
//! let tokens = TokenService::builder(settings).users(users).build().unwrap();
//! let chain = Authenticators::new().with(JwtAuthentication::new(tokens.clone()));
//!
//! let app = test::init_service(
//!     App::new()
//!         .service(keycard_actix::token_scope("/api/token", tokens.clone()))
//!         .route("/me", web::get().to(|me: Identity| async move { me.username().to_owned() }))
//!         .service(
//!             web::scope("/admin")
//!                 .wrap(RequirePolicy::new(IsAdmin))
//!                 .route("/", web::get().to(|| async { HttpResponse::Ok().finish() })),
//!         )
//!         .wrap(KeycardAuth::new(chain)),
//! )
//! .await;
//!
//! // No credentials: 401 with the Bearer challenge.
//! let res = test::call_service(&app, test::TestRequest::get().uri("/me").to_request()).await;
//! assert_eq!(res.status(), 401);
//! assert_eq!(res.headers().get("www-authenticate").unwrap(), r#"Bearer realm="api""#);
//!
//! // Log in, then call the route with the access token.
//! let login = test::TestRequest::post()
//!     .uri("/api/token/")
//!     .set_payload(r#"{"username":"alice","password":"alice-password"}"#)
//!     .to_request();
//! let pair: serde_json::Value = test::call_and_read_body_json(&app, login).await;
//! let bearer = format!("Bearer {}", pair["access"].as_str().unwrap());
//! let req = test::TestRequest::get().uri("/me").insert_header(("Authorization", bearer.as_str())).to_request();
//! assert_eq!(test::call_and_read_body(&app, req).await, "alice");
//!
//! // Authenticated, not an administrator: 403.
//! let req = test::TestRequest::get().uri("/admin/").insert_header(("Authorization", bearer.as_str())).to_request();
//! assert_eq!(test::call_service(&app, req).await.status(), 403);
//! # });
//! ```

// keycard-core's `AuthError` is the error every function here passes on; its size is the
// core's decision, and boxing it here would only add an allocation on the refusal path.
#![allow(clippy::result_large_err)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod endpoints;
mod extract;
mod headers;
mod jwks;
mod middleware;
mod rejection;
mod require;

pub use endpoints::{configure, configure_endpoints, token_scope};
pub use extract::{Claims, Identity, Require};
pub use headers::ActixHeaders;
pub use jwks::jwks_service;
pub use middleware::{KeycardAuth, KeycardAuthMiddleware};
pub use rejection::Rejection;
pub use require::{RequirePolicy, RequirePolicyFuture, RequirePolicyMiddleware};

/// The `tracing` target of this crate's log lines.
pub const LOG_TARGET: &str = "keycard::actix";

/// The path actix-web routes on: actix-router's `Url`, the request path with its
/// percent-encoded unreserved characters decoded (`/api/%61dmin/` is routed as `/api/admin/`).
/// `req.path()` is the raw URI path. Every "is there a route here?" question, every
/// authenticator and every policy must see the routed one: asked with the raw path, the
/// middleware took `/api/%61dmin/` for an unknown path and let it through to the handler.
fn routed_path(match_info: &actix_web::dev::Path<actix_web::dev::Url>) -> &str {
    match_info.as_str()
}

/// Runs `f` on the outcome stored by [`KeycardAuth`], or answers the 500 that names the
/// missing middleware.
fn with_outcome<R>(
    extensions: &actix_web::dev::Extensions,
    who: &'static str,
    f: impl FnOnce(&keycard_core::AuthOutcome) -> Result<R, keycard_core::AuthError>,
) -> Result<R, keycard_core::AuthError> {
    match extensions.get::<keycard_core::AuthOutcome>() {
        Some(outcome) => f(outcome),
        None => Err(missing_middleware(who)),
    }
}

/// Logs the wiring mistake (naming the middleware to add) and returns the core's 500.
fn missing_middleware(who: &'static str) -> keycard_core::AuthError {
    tracing::error!(
        target: LOG_TARGET,
        "{who} found no authentication outcome: the KeycardAuth middleware is missing. Wrap the App, \
         Scope or Resource with keycard_actix::KeycardAuth (after .wrap(RequirePolicy) in code, so it runs first)"
    );
    keycard_core::AuthError::Misconfigured {
        detail: "the KeycardAuth middleware is missing",
    }
}
