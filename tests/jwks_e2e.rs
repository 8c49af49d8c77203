//! End to end: the example pair on real TCP ports. The issuer (examples/jwks_issuer.rs, axum)
//! mints EdDSA tokens and publishes its JWKS and discovery document; the resource
//! (examples/jwks_resource.rs, actix-web) knows only the issuer's URL. Logins at one are
//! honoured at the other, through a key rotation at the issuer, and through the issuer
//! going away (the last good keys stay in use).

#![allow(clippy::unwrap_used, clippy::result_large_err)]

#[allow(dead_code)]
#[path = "../examples/jwks_issuer.rs"]
mod issuer_app;

#[allow(dead_code)]
#[path = "../examples/jwks_resource.rs"]
mod resource_app;

use std::time::Duration;

use actix_web::HttpServer;
use serde_json::{Value, json};

/// Starts the issuer on a free port (on this runtime); returns its URL and its task.
async fn start_issuer() -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let issuer = issuer_app::issuer(&url).unwrap();
    let app = issuer_app::app(issuer, &url);
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (url, task)
}

/// Starts the resource, trusting `issuer`; returns its URL and a handle to stop it.
async fn start_resource(issuer: &str) -> (String, actix_web::dev::ServerHandle) {
    let resource = resource_app::resource(issuer, Duration::from_millis(300)).unwrap();
    let server = HttpServer::new(move || resource_app::app(resource.clone()))
        .workers(2)
        .bind(("127.0.0.1", 0))
        .unwrap();
    let addr = server.addrs()[0];
    let server = server.run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    (format!("http://{addr}"), handle)
}

async fn login(http: &reqwest::Client, issuer: &str, user: &str) -> String {
    let res = http
        .post(format!("{issuer}/api/token/"))
        .json(&json!({"username": user, "password": format!("{user}-password")}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json::<Value>().await.unwrap()["access"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn whoami(http: &reqwest::Client, resource: &str, token: Option<&str>) -> (u16, Value) {
    let mut req = http.get(format!("{resource}/api/whoami/"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[actix_web::test]
async fn jwks_example_pair_issuer_on_axum_resource_on_actix() {
    let (issuer, issuer_task) = start_issuer().await;
    let (resource, resource_server) = start_resource(&issuer).await;
    let http = reqwest::Client::new();

    // The issuer's JWKS: its one EdDSA key, public members only.
    let jwks: Value = http
        .get(format!("{issuer}/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(
        (keys[0]["kty"].as_str(), keys[0]["crv"].as_str()),
        (Some("OKP"), Some("Ed25519"))
    );
    assert!(keys[0].get("d").is_none());

    // A login at the issuer is honoured at the resource.
    let alice = login(&http, &issuer, "alice").await;
    assert_eq!(
        whoami(&http, &resource, Some(&alice)).await,
        (200, json!({"user_id": "1"}))
    );
    let (status, body) = whoami(&http, &resource, None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("not_authenticated"))
    );
    let (status, body) = whoami(&http, &resource, Some("garbage")).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("token_not_valid"))
    );

    // The issuer rotates its key; tokens of the new key are accepted after one refetch
    // (past the resource's cool-down), and the old key's tokens still are.
    tokio::time::sleep(Duration::from_millis(350)).await;
    let root = login(&http, &issuer, "root").await;
    let rotated: Value = http
        .post(format!("{issuer}/admin/rotate/"))
        .bearer_auth(&root)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let new_kid = rotated["kid"].as_str().unwrap().to_owned();
    let alice2 = login(&http, &issuer, "alice").await;
    assert_ne!(alice2, alice);
    assert_eq!(whoami(&http, &resource, Some(&alice2)).await.0, 200);
    assert_eq!(whoami(&http, &resource, Some(&alice)).await.0, 200);
    let jwks: Value = http
        .get(format!("{issuer}/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        jwks["keys"].as_array().unwrap().len(),
        2,
        "the retired key stays listed"
    );
    assert!(
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["kid"] == new_kid.as_str())
    );

    // The issuer goes away: the resource keeps the last good keys.
    issuer_task.abort();
    let _ = issuer_task.await;
    for token in [&alice, &alice2] {
        assert_eq!(whoami(&http, &resource, Some(token)).await.0, 200);
    }

    resource_server.stop(true).await;
}

#[actix_web::test]
async fn jwks_example_resource_without_its_issuer_answers_503() {
    // A port nobody listens on.
    let url = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let (resource, server) = start_resource(&url).await;
    let http = reqwest::Client::new();
    // A well-formed token of some issuer the resource cannot reach.
    let (issuer, task) = start_issuer().await;
    let token = login(&http, &issuer, "alice").await;
    task.abort();
    let (status, body) = whoami(&http, &resource, Some(&token)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (503, Some("service_unavailable"))
    );
    server.stop(true).await;
}
