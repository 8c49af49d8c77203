//! End to end: the actix contract app (examples/actix_app.rs) on a real TCP port, called by a
//! real HTTP client (reqwest with rustls) — the wire, not `actix_web::test`.

#![allow(clippy::unwrap_used, clippy::result_large_err)]

// The example's routes; its `main` and start-up helpers are unused here.
#[allow(dead_code)]
#[path = "../examples/actix_app.rs"]
mod app;

use actix_web::HttpServer;
use serde_json::{Value, json};

/// Starts the contract app on a free port; returns its base URL and a handle to stop it.
async fn start() -> (String, actix_web::dev::ServerHandle) {
    let contract = app::contract::from_env().expect("the contract's default settings are valid");
    let (tokens, authenticators) = (contract.tokens, contract.authenticators);
    let server = HttpServer::new(move || app::app(tokens.clone(), authenticators.clone()))
        .workers(1)
        .bind(("127.0.0.1", 0))
        .expect("bind a free port");
    let addr = server.addrs()[0];
    let server = server.run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    (format!("http://{addr}"), handle)
}

struct Answer {
    status: u16,
    www: Option<String>,
    content_type: Option<String>,
    cache_control: Option<String>,
    body: Value,
}

async fn send(req: reqwest::RequestBuilder) -> Answer {
    let res = req.send().await.expect("the server answers");
    let header = |name: &str| {
        res.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let (status, www, content_type, cache_control) = (
        res.status().as_u16(),
        header("www-authenticate"),
        header("content-type"),
        header("cache-control"),
    );
    let bytes = res.bytes().await.unwrap();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or(Value::Null)
    };
    Answer {
        status,
        www,
        content_type,
        cache_control,
        body,
    }
}

#[actix_web::test]
async fn contract_app_over_real_http() {
    let (base, server) = start().await;
    let http = reqwest::Client::new();
    let url = |path: &str| format!("{base}{path}");

    // Log in.
    let login = send(
        http.post(url("/api/token/"))
            .json(&json!({"username": "alice", "password": "alice-password"})),
    )
    .await;
    assert_eq!(login.status, 200);
    assert_eq!(login.cache_control.as_deref(), Some("no-store"));
    let access = login.body["access"].as_str().unwrap().to_owned();
    let refresh = login.body["refresh"].as_str().unwrap().to_owned();

    // Public, protected, admin and object-level routes.
    let public = send(http.get(url("/api/public/"))).await;
    assert_eq!(
        (public.status, public.body.clone()),
        (200, json!({"public": true}))
    );
    let me = send(http.get(url("/api/me/")).bearer_auth(&access)).await;
    assert_eq!(
        (me.status, me.body.clone()),
        (200, json!({"user_id": "1", "username": "alice"}))
    );
    let anon = send(http.get(url("/api/me/"))).await;
    assert_eq!(anon.status, 401);
    assert_eq!(anon.www.as_deref(), Some(r#"Bearer realm="api""#));
    assert_eq!(anon.content_type.as_deref(), Some("application/json"));
    assert_eq!(anon.body["code"], "not_authenticated");
    let stale = send(http.get(url("/api/public/")).bearer_auth("garbage")).await;
    assert_eq!(
        (stale.status, stale.body["code"].clone()),
        (401, json!("token_not_valid"))
    );
    assert!(stale.www.unwrap().contains(r#"error="invalid_token""#));
    let admin = send(http.get(url("/api/admin/")).bearer_auth(&access)).await;
    assert_eq!(
        (admin.status, admin.body["code"].clone()),
        (403, json!("permission_denied"))
    );
    assert_eq!(admin.www, None);
    assert_eq!(
        send(http.get(url("/api/profile/alice/")).bearer_auth(&access))
            .await
            .status,
        200
    );
    assert_eq!(
        send(http.get(url("/api/profile/root/")).bearer_auth(&access))
            .await
            .status,
        403
    );
    assert_eq!(
        send(
            http.post(url("/api/articles/"))
                .bearer_auth(&access)
                .json(&json!({}))
        )
        .await
        .status,
        201
    );
    assert_eq!(
        send(http.post(url("/api/articles/")).json(&json!({})))
            .await
            .status,
        401
    );

    // Unknown paths stay 404, token or not; a known path with another method is a 405; both
    // with the axum app's JSON bodies.
    let not_found = json!({"detail": "Not found.", "code": "not_found"});
    for req in [
        http.get(url("/api/nothing/")),
        http.get(url("/api/nothing/")).bearer_auth("garbage"),
        http.get(url("/nothing")),
    ] {
        let res = send(req).await;
        assert_eq!((res.status, res.body), (404, not_found.clone()));
    }
    for (req, method) in [
        (http.get(url("/api/token/")), "GET"),
        (http.post(url("/api/public/")), "POST"),
        (http.delete(url("/api/admin/")), "DELETE"),
        (http.put(url("/api/articles/")), "PUT"),
    ] {
        let res = send(req).await;
        let detail = format!("Method \"{method}\" not allowed.");
        assert_eq!(
            (res.status, res.body),
            (405, json!({"detail": detail, "code": "method_not_allowed"}))
        );
    }

    // HEAD answers like GET, without a body (as axum's `get` routes do).
    let head = send(http.head(url("/api/articles/"))).await;
    assert_eq!((head.status, head.body), (200, Value::Null));
    assert_eq!(send(http.head(url("/api/me/"))).await.status, 401);

    // Rotate, log out: the session's access tokens stop working at once.
    let rotated = send(
        http.post(url("/api/token/refresh/"))
            .json(&json!({"refresh": refresh})),
    )
    .await;
    assert_eq!(rotated.status, 200);
    let out = send(
        http.post(url("/api/token/blacklist/"))
            .json(&json!({"refresh": rotated.body["refresh"]})),
    )
    .await;
    assert_eq!(out.status, 200);
    let after = send(http.get(url("/api/me/")).bearer_auth(&access)).await;
    assert_eq!(
        (after.status, after.body["code"].clone()),
        (401, json!("token_not_valid"))
    );

    // A body over the cap is refused, not read.
    let big = "x".repeat(keycard::endpoints::MAX_BODY + 1);
    let res = send(
        http.post(url("/api/token/"))
            .header("content-type", "application/json")
            .body(big),
    )
    .await;
    assert_eq!(res.status, 400);

    server.stop(true).await;
}
