//! The contract app (../shared/CONTRACT.md) on axum.
//!
//! ```text
//! cargo run --example axum_app                       # listens on 127.0.0.1:8000
//! KEYCARD_ADDR=127.0.0.1:9000 cargo run --example axum_app
//! python3 ../shared/contract/check.py http://127.0.0.1:8000
//! ```
//!
//! Beside the contract's API it serves the cookie example page (issue 10) under
//! `/cookie-demo/` (open <http://127.0.0.1:8000/cookie-demo/>): tokens in `HttpOnly` cookies,
//! with CSRF protection. Its routes are its own; the contract's are untouched.
//!
//! Logs go to stderr through `tracing` (`RUST_LOG` filters them; default `info`). Ctrl-C or
//! SIGTERM stops it gracefully: requests in flight are finished first.

// Shared with the actix app, whose `pub` items are crate-private here. `pub(crate)` so that
// tests/axum_e2e.rs, which includes this file, can build the same contract. (`dead_code` is
// allowed inside it, for both apps.)
#[allow(unreachable_pub)]
#[path = "common/contract.rs"]
pub(crate) mod contract;

// The cookie example page; `pub(crate)` so that tests/cookie_browser.rs serves it too.
#[path = "common/cookie_demo.rs"]
pub(crate) mod cookie_demo;

use axum::extract::Path;
use axum::extract::rejection::PathRejection;
use axum::http::{Method, Request, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::{Json, Router};
use keycard::policy::object_policy;
use keycard::{
    Authenticators, IsAdmin, IsAuthenticated, IsAuthenticatedOrReadOnly, TokenService, named_policy,
};
use keycard_axum::{AuthLayer, Identity, Require, RequireLayer, token_router};
use serde_json::{Value, json};
use tower::ServiceExt;
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};

/// A profile page, the object `CanSeeProfile` decides on.
struct Profile {
    name: String,
}

named_policy! {
    /// Administrators, or the profile's owner (CONTRACT.md: `GET /api/profile/{name}/`).
    CanSeeProfile = IsAuthenticated
        & (IsAdmin | object_policy(|ctx, profile: &Profile| ctx.identity.is_some_and(|me| me.username() == profile.name)));
}

async fn public() -> Json<Value> {
    Json(json!({ "public": true }))
}

async fn me(me: Identity) -> Json<Value> {
    Json(json!({ "user_id": me.user_id(), "username": me.username() }))
}

async fn list_articles() -> Json<Value> {
    Json(json!({ "articles": [] }))
}

async fn create_article() -> (StatusCode, Json<Value>) {
    (StatusCode::CREATED, Json(json!({ "created": true })))
}

async fn admin() -> Json<Value> {
    Json(json!({ "admin": true }))
}

async fn profile(
    guard: Require<CanSeeProfile>,
    name: Result<Path<String>, PathRejection>,
) -> Response {
    // A name that is not UTF-8 once percent-decoded names no profile: axum refuses it, actix-web
    // decodes it lossily (U+FFFD for each bad byte), and both apps answer 404 for either form.
    let name = match name {
        Ok(Path(name)) if !name.contains(char::REPLACEMENT_CHARACTER) => name,
        _ => return not_found().await.into_response(),
    };
    let profile = Profile { name };
    if let Err(rejection) = guard.check_object(&profile) {
        return rejection.into_response();
    }
    Json(json!({ "profile": profile.name })).into_response()
}

/// Unknown paths: a JSON 404, as every error body of the contract is JSON (DRF's text).
async fn not_found() -> impl IntoResponse {
    (
        StatusCode::NOT_FOUND,
        Json(json!({ "detail": "Not found.", "code": "not_found" })),
    )
}

/// A known path with another method: a JSON 405 (DRF's text).
async fn method_not_allowed(method: Method) -> impl IntoResponse {
    let detail = format!("Method \"{method}\" not allowed.");
    (
        StatusCode::METHOD_NOT_ALLOWED,
        Json(json!({ "detail": detail, "code": "method_not_allowed" })),
    )
}

/// Decodes the percent-encoded unreserved characters of the path (RFC 3986 §6.2.2.2:
/// `/api/%61dmin/` is `/api/admin/`), as Django and actix-web do before routing; axum routes
/// the raw path, and the two contract apps would answer such a request differently.
fn decode_unreserved<B>(mut req: Request<B>) -> Request<B> {
    let path = req.uri().path();
    if !path.contains('%') {
        return req;
    }
    let hex = |b: u8| (b as char).to_digit(16);
    let bytes = path.as_bytes();
    let mut decoded = String::with_capacity(path.len());
    let mut i = 0;
    while i < bytes.len() {
        let unreserved = match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) => hex(h)
                .zip(hex(l))
                .map(|(h, l)| (h * 16 + l) as u8 as char)
                .filter(|c| c.is_ascii_alphanumeric() || "-._~".contains(*c)),
            _ => None,
        };
        match unreserved {
            Some(c) => {
                decoded.push(c);
                i += 3;
            }
            None => {
                // The path of a parsed URI is ASCII; the byte is the character.
                decoded.push(bytes[i] as char);
                i += 1;
            }
        }
    }
    let query = req
        .uri()
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    let mut parts = req.uri().clone().into_parts();
    parts.path_and_query = format!("{decoded}{query}").parse().ok();
    if let Ok(uri) = Uri::from_parts(parts) {
        *req.uri_mut() = uri;
    }
    req
}

/// The contract's routes: the token endpoints (no authentication, as simplejwt's views), and
/// the API behind the JWT authenticator, each route with its policy.
pub(crate) fn app(tokens: TokenService, authenticators: Authenticators) -> Router {
    // Each route's method router is mounted whole, as a service, so that the auth layer wraps
    // it from outside: bad credentials are a 401 on a known path whatever the method (as in
    // DRF, and as on actix-web, whose middleware wraps the scope), and that 401 carries no
    // `Allow` (axum adds one to whatever a method router's own fallback answers).
    let api = Router::new()
        .route_service("/api/public/", get(public).fallback(method_not_allowed))
        .route_service("/api/me/", get(me).fallback(method_not_allowed))
        .route_service(
            "/api/articles/",
            get(list_articles)
                .post(create_article)
                .route_layer(RequireLayer::new(IsAuthenticatedOrReadOnly))
                .fallback(method_not_allowed),
        )
        .route_service(
            "/api/admin/",
            get(admin)
                .route_layer(RequireLayer::new(IsAdmin))
                .fallback(method_not_allowed),
        )
        .route_service(
            "/api/profile/{name}/",
            get(profile).fallback(method_not_allowed),
        )
        // `route_layer`, not `layer`: it wraps the routes above only, and runs only when one
        // matched, so an unknown path stays a 404 whatever the credentials (case PO3).
        .route_layer(AuthLayer::new(authenticators));
    let routes = Router::new()
        .nest("/api/token/", token_router(tokens))
        .merge(api)
        // axum's `{name}` matches an empty segment; Django's `<str:name>` and actix-web's
        // `{name}` do not: no name is an unknown path, not a profile (nor a 401).
        .route("/api/profile//", any(not_found))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed);
    // The path is normalised before routing, so the routes are wrapped as one service:
    // `Router::layer` runs after routing.
    Router::new()
        .fallback_service(routes.map_request(decode_unreserved))
        // The request line, status and latency; never headers (they carry credentials).
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(DefaultMakeSpan::new().level(tracing::Level::INFO))
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
}

/// Resolves on Ctrl-C, or on SIGTERM where there is one.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!("cannot listen for Ctrl-C: {e}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sig) => {
                sig.recv().await;
            }
            Err(e) => {
                tracing::error!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutting down: finishing requests in flight");
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();

    let contract::Contract {
        addr,
        tokens,
        authenticators,
    } = match contract::from_env_for_main().await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("cannot start: {e}");
            std::process::exit(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!("cannot listen on {addr}: {e}");
            std::process::exit(1);
        }
    };
    let bound = listener.local_addr().unwrap_or(addr);
    tracing::info!("{}", contract::try_it(bound));

    tracing::info!("cookie example page: http://{bound}/cookie-demo/");
    let app = app(tokens.clone(), authenticators).merge(cookie_demo::router(tokens));
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
    {
        tracing::error!("server error: {e}");
        std::process::exit(1);
    }
    tracing::info!("keycard contract app stopped");
}
