//! End to end: the axum contract app (examples/axum_app.rs, the same router) on a real TCP
//! port, driven over HTTP with a real client, as ../shared/contract/check.py drives it.

#![allow(clippy::unwrap_used)]

#[allow(dead_code)]
#[path = "../examples/axum_app.rs"]
mod axum_app;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use keycard::{FrozenClock, InMemoryUserStore, Settings, TokenService, User};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::sync::oneshot;

/// The running app: its address, and the switch that stops it.
struct Server {
    base: String,
    stop: Option<oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Server {
    async fn start() -> Self {
        let contract = axum_app::contract::from_env().unwrap();
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let app = axum_app::app(contract.tokens, contract.authenticators);
        let done = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
        });
        Self {
            base: format!("http://{addr}"),
            stop: Some(stop),
            done,
        }
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(Duration::from_secs(10), self.done)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
    }
}

struct Client {
    http: reqwest::Client,
    base: String,
}

struct Answer {
    status: StatusCode,
    www: Option<String>,
    content_type: Option<String>,
    cache_control: Option<String>,
    body: Value,
}

impl Client {
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        auth: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.unwrap();
        let header = |name: &str| {
            res.headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        let (status, www, content_type, cache_control) = (
            res.status(),
            header("www-authenticate"),
            header("content-type"),
            header("cache-control"),
        );
        let bytes = res.bytes().await.unwrap();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Answer {
            status,
            www,
            content_type,
            cache_control,
            body,
        }
    }

    async fn get(&self, path: &str, auth: Option<&str>) -> Answer {
        self.send(reqwest::Method::GET, path, auth, None).await
    }

    async fn post(&self, path: &str, auth: Option<&str>, body: Value) -> Answer {
        self.send(reqwest::Method::POST, path, auth, Some(body))
            .await
    }

    async fn login(&self, username: &str, password: &str) -> (String, String) {
        let res = self
            .post(
                "/api/token/",
                None,
                json!({ "username": username, "password": password }),
            )
            .await;
        assert_eq!(res.status, StatusCode::OK, "login {username}: {}", res.body);
        (
            res.body["access"].as_str().unwrap().to_owned(),
            res.body["refresh"].as_str().unwrap().to_owned(),
        )
    }
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// What a refusal's `WWW-Authenticate` must be.
#[derive(Clone, Copy)]
enum Www {
    /// No such header (403s, 404s, login failures).
    Absent,
    /// Present and containing this text.
    Has(&'static str),
    /// Not checked (the token endpoints' 401s, which check.py leaves open).
    Any,
}

/// Checks a refusal: status, JSON body with `detail` and this `code`, and the challenge.
#[track_caller]
fn refused(res: &Answer, status: StatusCode, code: &str, www: Www) {
    assert_eq!(res.status, status, "{}", res.body);
    assert_eq!(res.content_type.as_deref(), Some("application/json"));
    assert_eq!(res.body["code"], code, "{}", res.body);
    assert!(res.body["detail"].is_string(), "{}", res.body);
    match www {
        Www::Has(want) => {
            let got = res.www.as_deref().unwrap_or_default();
            assert!(
                got.contains(want),
                "WWW-Authenticate {got:?} lacks {want:?}"
            );
        }
        Www::Absent => assert!(
            res.www.is_none(),
            "unexpected WWW-Authenticate {:?}",
            res.www
        ),
        Www::Any => {}
    }
}

/// A token signed with the contract's secret, but minted by a service with other settings
/// (another issuer, a clock in the past…): the app must refuse it.
async fn foreign_token(
    configure: impl FnOnce(keycard::SettingsBuilder) -> keycard::SettingsBuilder,
) -> String {
    // The app's own secret (as check.py does): only the other settings differ.
    let secret = std::env::var("KEYCARD_SECRET")
        .unwrap_or_else(|_| axum_app::contract::DEFAULT_SECRET.to_owned());
    let users = InMemoryUserStore::new();
    let alice = User::new("1", "alice");
    users.insert(alice.clone(), "x");
    let settings = configure(Settings::builder().hmac_secret(secret))
        .build()
        .unwrap();
    let tokens = TokenService::builder(settings)
        .users(users)
        .build()
        .unwrap();
    tokens.obtain_for(&alice).await.unwrap().access
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_contract_over_real_http() {
    let server = Server::start().await;
    let c = Client {
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap(),
        base: server.base.clone(),
    };
    let not_provided = Www::Has(r#"Bearer realm="api""#);
    let invalid = Www::Has(r#"error="invalid_token""#);

    // Token obtain.
    let (access, refresh) = c.login("alice", "alice-password").await;
    let (root_access, _) = c.login("root", "root-password").await;
    let res = c
        .post(
            "/api/token/",
            None,
            json!({ "username": "alice", "password": "nope" }),
        )
        .await;
    refused(
        &res,
        StatusCode::UNAUTHORIZED,
        "no_active_account",
        Www::Absent,
    );
    assert_eq!(res.cache_control.as_deref(), Some("no-store"));
    let res = c
        .post(
            "/api/token/",
            None,
            json!({ "username": "carol", "password": "carol-password" }),
        )
        .await;
    refused(
        &res,
        StatusCode::UNAUTHORIZED,
        "no_active_account",
        Www::Absent,
    );
    let res = c
        .post("/api/token/", None, json!({ "username": "alice" }))
        .await;
    assert_eq!(
        (res.status, res.body),
        (
            StatusCode::BAD_REQUEST,
            json!({ "password": ["This field is required."] })
        )
    );

    // Authentication on public and protected routes.
    let res = c.get("/api/public/", None).await;
    assert_eq!(
        (res.status, res.body),
        (StatusCode::OK, json!({ "public": true }))
    );
    refused(
        &c.get("/api/public/", Some("Bearer garbage")).await,
        StatusCode::UNAUTHORIZED,
        "token_not_valid",
        invalid,
    );
    refused(
        &c.get("/api/me/", None).await,
        StatusCode::UNAUTHORIZED,
        "not_authenticated",
        not_provided,
    );
    let res = c.get("/api/me/", Some(&bearer(&access))).await;
    assert_eq!(
        (res.status, res.body),
        (
            StatusCode::OK,
            json!({ "user_id": "1", "username": "alice" })
        )
    );
    assert_eq!(
        c.get("/api/me/", Some(&format!("bearer {access}")))
            .await
            .status,
        StatusCode::OK
    );
    refused(
        &c.get("/api/me/", Some(&bearer(&refresh))).await,
        StatusCode::UNAUTHORIZED,
        "token_not_valid",
        invalid,
    );
    refused(
        &c.get("/api/me/", Some("Basic YWxpY2U6YWxpY2UtcGFzc3dvcmQ="))
            .await,
        StatusCode::UNAUTHORIZED,
        "not_authenticated",
        not_provided,
    );
    refused(
        &c.get("/api/me/", Some("Bearer")).await,
        StatusCode::UNAUTHORIZED,
        "bad_authorization_header",
        Www::Has(r#"error="invalid_request""#),
    );
    let extra = format!("Bearer {access} extra");
    refused(
        &c.get("/api/me/", Some(&extra)).await,
        StatusCode::UNAUTHORIZED,
        "bad_authorization_header",
        not_provided,
    );

    // Tokens signed with the right key that the app must still refuse.
    let wrong_iss = foreign_token(|s| s.issuer("other").audience("contract-api")).await;
    refused(
        &c.get("/api/me/", Some(&bearer(&wrong_iss))).await,
        StatusCode::UNAUTHORIZED,
        "token_not_valid",
        invalid,
    );
    let wrong_aud = foreign_token(|s| s.issuer("keycard-contract").audience("other")).await;
    refused(
        &c.get("/api/me/", Some(&bearer(&wrong_aud))).await,
        StatusCode::UNAUTHORIZED,
        "token_not_valid",
        invalid,
    );
    let an_hour_ago = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 3600;
    let expired = foreign_token(|s| {
        s.issuer("keycard-contract")
            .audience("contract-api")
            .clock(Arc::new(FrozenClock::new(an_hour_ago)))
    })
    .await;
    let res = c.get("/api/me/", Some(&bearer(&expired))).await;
    refused(
        &res,
        StatusCode::UNAUTHORIZED,
        "token_not_valid",
        Www::Has("Token is expired"),
    );

    // Per-route policies.
    let res = c.get("/api/articles/", None).await;
    assert_eq!(
        (res.status, res.body),
        (StatusCode::OK, json!({ "articles": [] }))
    );
    refused(
        &c.post("/api/articles/", None, json!({})).await,
        StatusCode::UNAUTHORIZED,
        "not_authenticated",
        not_provided,
    );
    let res = c
        .post("/api/articles/", Some(&bearer(&access)), json!({}))
        .await;
    assert_eq!(
        (res.status, res.body),
        (StatusCode::CREATED, json!({ "created": true }))
    );
    refused(
        &c.get("/api/admin/", None).await,
        StatusCode::UNAUTHORIZED,
        "not_authenticated",
        not_provided,
    );
    refused(
        &c.get("/api/admin/", Some(&bearer(&access))).await,
        StatusCode::FORBIDDEN,
        "permission_denied",
        Www::Absent,
    );
    assert_eq!(
        c.get("/api/admin/", Some(&bearer(&root_access))).await.body,
        json!({ "admin": true })
    );
    assert_eq!(
        c.get("/api/profile/alice/", Some(&bearer(&access)))
            .await
            .body,
        json!({ "profile": "alice" })
    );
    refused(
        &c.get("/api/profile/root/", Some(&bearer(&access))).await,
        StatusCode::FORBIDDEN,
        "permission_denied",
        Www::Absent,
    );
    assert_eq!(
        c.get("/api/profile/alice/", Some(&bearer(&root_access)))
            .await
            .status,
        StatusCode::OK
    );
    refused(
        &c.get("/api/profile/alice/", None).await,
        StatusCode::UNAUTHORIZED,
        "not_authenticated",
        not_provided,
    );

    // Unknown paths stay 404 (PO3), with a token or without.
    refused(
        &c.get("/api/nowhere/", None).await,
        StatusCode::NOT_FOUND,
        "not_found",
        Www::Absent,
    );
    refused(
        &c.get("/api/nowhere/", Some("Bearer garbage")).await,
        StatusCode::NOT_FOUND,
        "not_found",
        Www::Absent,
    );

    // Verify, refresh with rotation, logout ending the whole session.
    assert_eq!(
        c.post("/api/token/verify/", None, json!({ "token": access }))
            .await
            .status,
        StatusCode::OK
    );
    refused(
        &c.post("/api/token/verify/", None, json!({ "token": "x.y.z" }))
            .await,
        StatusCode::UNAUTHORIZED,
        "token_not_valid",
        Www::Any,
    );
    let (a_access, a_refresh) = c.login("alice", "alice-password").await;
    let rotated = c
        .post("/api/token/refresh/", None, json!({ "refresh": a_refresh }))
        .await;
    assert_eq!(rotated.status, StatusCode::OK);
    assert_eq!(rotated.cache_control.as_deref(), Some("no-store"));
    let a1_refresh = rotated.body["refresh"].as_str().unwrap().to_owned();
    let a1_access = rotated.body["access"].as_str().unwrap().to_owned();
    assert_ne!(a1_refresh, a_refresh);
    assert_eq!(
        c.post(
            "/api/token/blacklist/",
            None,
            json!({ "refresh": a1_refresh })
        )
        .await
        .status,
        StatusCode::OK
    );
    refused(
        &c.post(
            "/api/token/refresh/",
            None,
            json!({ "refresh": a1_refresh }),
        )
        .await,
        StatusCode::UNAUTHORIZED,
        "token_not_valid",
        Www::Any,
    );
    refused(
        &c.post("/api/token/verify/", None, json!({ "token": a1_refresh }))
            .await,
        StatusCode::UNAUTHORIZED,
        "token_not_valid",
        Www::Any,
    );
    refused(
        &c.get("/api/me/", Some(&bearer(&a_access))).await,
        StatusCode::UNAUTHORIZED,
        "token_not_valid",
        invalid,
    );
    refused(
        &c.get("/api/me/", Some(&bearer(&a1_access))).await,
        StatusCode::UNAUTHORIZED,
        "token_not_valid",
        invalid,
    );

    // Reuse of a rotated refresh token revokes its session; other sessions live on.
    let (_, b_refresh) = c.login("alice", "alice-password").await;
    let b1 = c
        .post("/api/token/refresh/", None, json!({ "refresh": b_refresh }))
        .await;
    assert_eq!(b1.status, StatusCode::OK);
    refused(
        &c.post("/api/token/refresh/", None, json!({ "refresh": b_refresh }))
            .await,
        StatusCode::UNAUTHORIZED,
        "token_not_valid",
        Www::Any,
    );
    let b1_access = b1.body["access"].as_str().unwrap();
    refused(
        &c.get("/api/me/", Some(&bearer(b1_access))).await,
        StatusCode::UNAUTHORIZED,
        "token_not_valid",
        invalid,
    );
    assert_eq!(
        c.get("/api/me/", Some(&bearer(&access))).await.status,
        StatusCode::OK
    );

    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_finishes_and_stops_listening() {
    let server = Server::start().await;
    let base = server.base.clone();
    let http = reqwest::Client::new();
    assert_eq!(
        http.get(format!("{base}/api/public/"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    server.stop().await;
    assert!(
        http.get(format!("{base}/api/public/"))
            .send()
            .await
            .is_err(),
        "still answering after shutdown"
    );
}
