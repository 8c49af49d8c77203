//! The hot path (DESIGN.md): a valid HS256 bearer token through `AuthLayer` + `RequireLayer`
//! over a trivial service, against the bare service, in the same run.

#![allow(missing_docs)]

use std::convert::Infallible;

use criterion::{Criterion, criterion_group, criterion_main};
use http::{HeaderValue, Request, Response};
use keycard_core::{
    Authenticators, InMemoryUserStore, IsAuthenticated, JwtAuthentication, Settings, TokenService,
    User,
};
use keycard_tower::{AuthLayer, RequireLayer};
use tower::{ServiceBuilder, ServiceExt, service_fn};

async fn trivial(_: Request<()>) -> Result<Response<Vec<u8>>, Infallible> {
    Ok(Response::new(Vec::new()))
}

fn hot_path(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let users = InMemoryUserStore::new();
    users.insert(User::new("1", "alice"), "alice-password");
    let alice = users.get("1").expect("alice was just inserted");
    let settings = Settings::builder()
        .hmac_secret([5u8; 32])
        .build()
        .expect("settings");
    let tokens = TokenService::builder(settings)
        .users(users)
        .build()
        .expect("token service");
    let access = rt.block_on(tokens.obtain_for(&alice)).expect("mint").access;
    let bearer = HeaderValue::from_str(&format!("Bearer {access}")).expect("header value");

    let bare = service_fn(trivial);
    let guarded = ServiceBuilder::new()
        .layer(AuthLayer::new(
            Authenticators::new().with(JwtAuthentication::new(tokens)),
        ))
        .layer(RequireLayer::new(IsAuthenticated))
        .service_fn(trivial);
    let request = || {
        let mut req = Request::get("/api/me/").body(()).expect("request");
        req.headers_mut()
            .insert(http::header::AUTHORIZATION, bearer.clone());
        req
    };
    // Guard against measuring a refusal.
    let status = rt
        .block_on(guarded.clone().oneshot(request()))
        .expect("infallible")
        .status();
    assert_eq!(status, 200);

    let mut group = c.benchmark_group("hot_path");
    group.bench_function("bare_service", |b| {
        b.to_async(&rt).iter(|| bare.oneshot(request()))
    });
    group.bench_function("auth_and_require_hs256", |b| {
        b.to_async(&rt).iter(|| guarded.clone().oneshot(request()))
    });
    group.finish();
}

criterion_group!(benches, hot_path);
criterion_main!(benches);
