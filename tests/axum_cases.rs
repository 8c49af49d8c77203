//! The cases of ../shared/cases/ that need a framework, on axum: PO3, PO4, PO5 (policies.md),
//! AD1, AD2 (adapters.md) and AU6 (authentication.md). In process, with `oneshot`.

#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use axum::routing::{get, post};
use axum::{Json, Router};
use keycard::{
    Authenticators, InMemoryUserStore, IsAdmin, IsAuthenticated, JwtAuthentication, Settings,
    TokenService, User,
};
use keycard_axum::{AuthLayer, Identity, Require, RequireLayer};
use serde_json::{Value, json};
use tower::ServiceExt;
use tower_http::cors::CorsLayer;

/// alice ("1") and root ("2", admin), their access tokens, and the JWT chain.
struct Fx {
    chain: Authenticators,
    alice: String,
    root: String,
}

async fn fx() -> Fx {
    let users = InMemoryUserStore::new();
    users.insert(User::new("1", "alice"), "alice-password");
    users.insert(User::new("2", "root").admin(true), "root-password");
    let (alice, root) = (users.get("1").unwrap(), users.get("2").unwrap());
    let settings = Settings::builder()
        .hmac_secret("axum-cases-secret-0123456789abcdef0123")
        .build()
        .unwrap();
    let tokens = TokenService::builder(settings)
        .users(users)
        .build()
        .unwrap();
    let alice = format!("Bearer {}", tokens.obtain_for(&alice).await.unwrap().access);
    let root = format!("Bearer {}", tokens.obtain_for(&root).await.unwrap().access);
    Fx {
        chain: Authenticators::new().with(JwtAuthentication::new(tokens)),
        alice,
        root,
    }
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

async fn send(app: &Router, method: Method, path: &str, headers: &[(&str, &str)]) -> Answer {
    let mut req = Request::builder().method(method).uri(path);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = app
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let (parts, body) = res.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
    Answer {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

async fn get_as(app: &Router, path: &str, auth: Option<&str>) -> Answer {
    match auth {
        Some(a) => send(app, Method::GET, path, &[("authorization", a)]).await,
        None => send(app, Method::GET, path, &[]).await,
    }
}

async fn ok() -> Json<Value> {
    Json(json!({ "ok": true }))
}

/// Collects what `tracing` writes while it is the default subscriber.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

fn capture_logs() -> (Logs, tracing::subscriber::DefaultGuard) {
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::ERROR)
        .finish();
    (logs, tracing::subscriber::set_default(subscriber))
}

// ---- PO3 --------------------------------------------------------------------------------

#[tokio::test]
async fn po3_unknown_path_is_404_not_401() {
    let fx = fx().await;
    let app = Router::new()
        .route(
            "/api/me/",
            get(ok).route_layer(RequireLayer::new(IsAuthenticated)),
        )
        .route(
            "/api/admin/",
            get(ok).route_layer(RequireLayer::new(IsAdmin)),
        )
        .route_layer(AuthLayer::new(fx.chain));

    assert_eq!(
        get_as(&app, "/api/nowhere/", None).await.status,
        StatusCode::NOT_FOUND
    );
    // Auth runs only where a route matched: not even a bad token turns a 404 into a 401.
    assert_eq!(
        get_as(&app, "/api/nowhere/", Some("Bearer garbage"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get_as(&app, "/api/me/", None).await.status,
        StatusCode::UNAUTHORIZED
    );

    // A known route, authenticated, lacking the permission: 403, never 404.
    let denied = get_as(&app, "/api/admin/", Some(&fx.alice)).await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    assert_eq!(denied.body["code"], "permission_denied");
    assert_eq!(
        get_as(&app, "/api/admin/", Some(&fx.root)).await.status,
        StatusCode::OK
    );
}

// ---- PO4 --------------------------------------------------------------------------------

#[tokio::test]
async fn po4_public_route_under_a_protected_prefix() {
    let fx = fx().await;
    // The whole /api/v1 group is protected; the login route is declared after the group's
    // policy, so the policy does not cover it.
    let v1 = Router::new()
        .route("/items", get(ok))
        .route("/orders", get(ok))
        .route_layer(RequireLayer::new(IsAuthenticated))
        .route("/auth/login", post(ok));
    let app = Router::new()
        .nest("/api/v1", v1)
        .route_layer(AuthLayer::new(fx.chain));

    let login = send(&app, Method::POST, "/api/v1/auth/login", &[]).await;
    assert_eq!(login.status, StatusCode::OK);
    let items = get_as(&app, "/api/v1/items", None).await;
    assert_eq!(items.status, StatusCode::UNAUTHORIZED);
    assert_eq!(items.body["code"], "not_authenticated");
    assert_eq!(
        items.headers[header::WWW_AUTHENTICATE],
        r#"Bearer realm="api""#
    );
    assert_eq!(
        get_as(&app, "/api/v1/orders", None).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        get_as(&app, "/api/v1/items", Some(&fx.alice)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        get_as(&app, "/api/v1/unknown", None).await.status,
        StatusCode::NOT_FOUND
    );
}

// ---- PO5 --------------------------------------------------------------------------------

#[tokio::test]
async fn po5_policy_extractor_without_auth_layer_is_a_logged_500() {
    let (logs, _guard) = capture_logs();
    let app = Router::new().route(
        "/api/me/",
        get(|_: Require<IsAuthenticated>| async { "never" }),
    );
    let res = get_as(&app, "/api/me/", None).await;
    assert_eq!(res.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        res.body,
        json!({ "detail": "A server error occurred.", "code": "server_error" })
    );
    let logged = logs.text();
    assert!(logged.contains("ERROR"), "{logged}");
    assert!(logged.contains("keycard::tower::AuthLayer"), "{logged}");
}

#[tokio::test]
async fn po5_require_layer_without_auth_layer_is_a_logged_500() {
    let (logs, _guard) = capture_logs();
    let app = Router::new().route(
        "/api/admin/",
        get(ok).route_layer(RequireLayer::new(IsAdmin)),
    );
    let res = get_as(&app, "/api/admin/", Some("Bearer whatever")).await;
    assert_eq!(res.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(res.body["code"], "server_error");
    assert!(
        logs.text().contains("keycard::tower::AuthLayer"),
        "{}",
        logs.text()
    );
}

#[tokio::test]
async fn po5_merging_an_unprotected_router_keeps_each_routes_protection() {
    let fx = fx().await;
    let protected = Router::new()
        .route(
            "/api/me/",
            get(|me: Identity| async move { me.username().to_owned() }),
        )
        .route(
            "/api/admin/",
            get(ok).route_layer(RequireLayer::new(IsAdmin)),
        )
        .route_layer(AuthLayer::new(fx.chain.clone()));
    let unprotected = Router::new().route("/api/health/", get(ok));

    for app in [
        protected.clone().merge(unprotected.clone()),
        unprotected.merge(protected),
    ] {
        assert_eq!(
            get_as(&app, "/api/health/", None).await.status,
            StatusCode::OK
        );
        // The unprotected route never authenticates: a bad token does not matter there.
        assert_eq!(
            get_as(&app, "/api/health/", Some("Bearer garbage"))
                .await
                .status,
            StatusCode::OK
        );
        assert_eq!(
            get_as(&app, "/api/me/", None).await.status,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            get_as(&app, "/api/me/", Some(&fx.alice)).await.body,
            json!("alice")
        );
        assert_eq!(
            get_as(&app, "/api/admin/", Some(&fx.alice)).await.status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            get_as(&app, "/api/admin/", Some(&fx.root)).await.status,
            StatusCode::OK
        );
    }
}

// ---- AD1 --------------------------------------------------------------------------------

async fn hello(me: Option<Identity>) -> Json<Value> {
    Json(json!({ "user": me.map(|me| me.username().to_owned()) }))
}

#[tokio::test]
async fn ad1_optional_identity() {
    let fx = fx().await;
    let app = Router::new()
        .route("/hello", get(hello))
        .layer(AuthLayer::new(fx.chain));

    let anonymous = get_as(&app, "/hello", None).await;
    assert_eq!(
        (anonymous.status, anonymous.body),
        (StatusCode::OK, json!({ "user": null }))
    );
    let alice = get_as(&app, "/hello", Some(&fx.alice)).await;
    assert_eq!(
        (alice.status, alice.body),
        (StatusCode::OK, json!({ "user": "alice" }))
    );
    // Bad credentials are an error, not an anonymous request.
    let bad = get_as(&app, "/hello", Some("Bearer abc.def.ghi")).await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
    assert_eq!(bad.body["code"], "token_not_valid");
    assert!(
        bad.headers[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .contains(r#"error="invalid_token""#)
    );
}

// ---- AD2 --------------------------------------------------------------------------------

#[tokio::test]
async fn ad2_cors_preflight_and_refusals_carry_cors_headers() {
    let fx = fx().await;
    let cors = CorsLayer::new()
        .allow_origin(["https://app.example"
            .parse::<axum::http::HeaderValue>()
            .unwrap()])
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE]);
    let app = Router::new()
        .route(
            "/api/me/",
            get(|me: Identity| async move { me.username().to_owned() }),
        )
        .route(
            "/api/admin/",
            get(ok).route_layer(RequireLayer::new(IsAdmin)),
        )
        .route_layer(AuthLayer::new(fx.chain))
        // Outermost: preflights are answered before authentication.
        .layer(cors);
    let origin = ("origin", "https://app.example");

    let preflight = send(
        &app,
        Method::OPTIONS,
        "/api/me/",
        &[
            origin,
            ("access-control-request-method", "GET"),
            ("access-control-request-headers", "authorization"),
        ],
    )
    .await;
    assert!(preflight.status.is_success(), "{}", preflight.status);
    assert_eq!(
        preflight.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://app.example"
    );

    for (path, auth, status) in [
        ("/api/me/", None, StatusCode::UNAUTHORIZED),
        ("/api/me/", Some("Bearer garbage"), StatusCode::UNAUTHORIZED),
        (
            "/api/admin/",
            Some(fx.alice.as_str()),
            StatusCode::FORBIDDEN,
        ),
        ("/api/me/", Some(fx.alice.as_str()), StatusCode::OK),
    ] {
        let mut headers = vec![origin];
        if let Some(a) = auth {
            headers.push(("authorization", a));
        }
        let res = send(&app, Method::GET, path, &headers).await;
        assert_eq!(res.status, status, "{path} {auth:?}");
        assert_eq!(
            res.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            "https://app.example",
            "{path} {auth:?}"
        );
    }
}

// ---- AU6 --------------------------------------------------------------------------------

#[tokio::test]
async fn au6_stale_token_on_a_public_route() {
    let fx = fx().await;
    let public = || Router::new().route("/api/public/", get(hello));

    // The JWT authenticator in front of a public route: bad credentials are a 401 (DRF).
    let strict = public().route_layer(AuthLayer::new(fx.chain.clone()));
    assert_eq!(
        get_as(&strict, "/api/public/", None).await.status,
        StatusCode::OK
    );
    let stale = get_as(&strict, "/api/public/", Some("Bearer garbage")).await;
    assert_eq!(stale.status, StatusCode::UNAUTHORIZED);
    assert_eq!(stale.body["code"], "token_not_valid");

    // The same route with no authenticators: 200.
    let none = public().route_layer(AuthLayer::new(Authenticators::new()));
    assert_eq!(
        get_as(&none, "/api/public/", Some("Bearer garbage"))
            .await
            .status,
        StatusCode::OK
    );

    // The explicit per-route opt-out: a lenient layer on the public route only, beside
    // strictly authenticated routes.
    let app = Router::new()
        .route(
            "/api/public/",
            get(hello).layer(AuthLayer::new(fx.chain.clone()).lenient()),
        )
        .merge(
            Router::new()
                .route(
                    "/api/me/",
                    get(|me: Identity| async move { me.username().to_owned() }),
                )
                .route_layer(AuthLayer::new(fx.chain)),
        );
    let res = get_as(&app, "/api/public/", Some("Bearer garbage")).await;
    assert_eq!(
        (res.status, res.body),
        (StatusCode::OK, json!({ "user": null }))
    );
    let res = get_as(&app, "/api/public/", Some(&fx.alice)).await;
    assert_eq!(res.body, json!({ "user": "alice" }));
    assert_eq!(
        get_as(&app, "/api/me/", Some("Bearer garbage"))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
}
