//! The cookie example page (issue 10), served by the axum example beside the contract's API,
//! under `/cookie-demo/` only: the contract's routes and answers are untouched.
//!
//! | route | what |
//! |---|---|
//! | `GET /cookie-demo/` (and `demo.js`) | a page that logs in with `fetch`, reads, writes, refreshes and logs out |
//! | `POST /cookie-demo/token/`, `refresh/`, `verify/`, `blacklist/` | the token endpoints in cookie mode |
//! | `GET /cookie-demo/api/me/` | who the caller is, and which authenticator said so |
//! | `GET, POST /cookie-demo/api/notes/` | a list of notes; POST `{"text"}` adds one (CSRF-checked when a cookie authenticated it) |
//!
//! The API accepts a bearer token or the access cookie (bearer first). The cookies leave
//! `Secure` out on loopback hosts only, so that the page works over `http://127.0.0.1`.

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use keycard::cookie::CookieSettings;
use keycard::endpoints::TokenEndpoints;
use keycard::{
    Authenticators, CookieAuthentication, IsAuthenticated, JwtAuthentication, TokenService,
};
use keycard_axum::{AuthLayer, Identity, RequireLayer, token_router};
use serde_json::{Value, json};

const PAGE: &str = include_str!("cookie_demo.html");
const SCRIPT: &str = include_str!("cookie_demo.js");

/// The page allows its own script and its own origin's `fetch`, nothing else: the defence
/// `HttpOnly` backs up.
const CSP: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The demo's cookie settings: the refresh cookie scoped to the demo's token endpoints.
pub(crate) fn cookie_settings() -> CookieSettings {
    CookieSettings::builder()
        .refresh_path("/cookie-demo/token/")
        .insecure_on_loopback(true)
        .build()
        .expect("the demo's cookie settings are valid") // a constant configuration
}

type Notes = Arc<Mutex<Vec<Value>>>;

async fn page() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::CACHE_CONTROL, "no-store"),
        ],
        PAGE,
    )
}

async fn script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        SCRIPT,
    )
}

async fn me(me: Identity) -> Json<Value> {
    Json(json!({ "user_id": me.user_id(), "username": me.username(), "by": me.authenticator() }))
}

async fn list_notes(State(notes): State<Notes>) -> Json<Value> {
    let notes = notes.lock().map(|n| n.clone()).unwrap_or_default();
    Json(json!({ "notes": notes }))
}

async fn add_note(
    me: Identity,
    State(notes): State<Notes>,
    body: Option<Json<Value>>,
) -> (StatusCode, Json<Value>) {
    let text: String = body
        .as_ref()
        .and_then(|Json(b)| b.get("text"))
        .and_then(Value::as_str)
        .unwrap_or("(empty)")
        .chars()
        .take(200)
        .collect();
    let note = json!({ "text": text, "by": me.username() });
    if let Ok(mut n) = notes.lock() {
        n.push(note.clone());
    }
    (StatusCode::CREATED, Json(note))
}

/// The demo's routes, to merge into the contract app.
pub(crate) fn router(tokens: TokenService) -> Router {
    let cookies = cookie_settings();
    let chain = Authenticators::new()
        .with(JwtAuthentication::new(tokens.clone()))
        .with(CookieAuthentication::new(tokens.clone(), cookies.clone()));
    let api = Router::new()
        .route("/cookie-demo/api/me/", get(me))
        .route(
            "/cookie-demo/api/notes/",
            get(list_notes)
                .post(add_note)
                .route_layer(RequireLayer::new(IsAuthenticated)),
        )
        .route_layer(AuthLayer::new(chain))
        .with_state(Notes::default());
    Router::new()
        .route("/cookie-demo/", get(page))
        .route("/cookie-demo/demo.js", get(script))
        .nest(
            "/cookie-demo/token/",
            token_router(TokenEndpoints::new(tokens).with_cookies(cookies)),
        )
        .merge(api)
}
