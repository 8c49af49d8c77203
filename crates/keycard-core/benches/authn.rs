//! The request hot path: the authenticator chain with 1, 3 and 5 authenticators (the first
//! ones answering "not mine", the last the user-loading JWT one with a valid HS256 token),
//! a deep policy expression, and the two together.
//!
//! `cargo bench -p keycard-core --bench authn -- --warm-up-time 1 --measurement-time 3`

#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;
use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use keycard_core::policy::policy_fn;
use keycard_core::{
    AuthOutcome, Authenticators, BasicAuthentication, Challenge, HasRole, HasScope, Identity,
    InMemoryApiKeyStore, InMemoryRevocationStore, InMemoryUserStore, IsAdmin, IsAuthenticated,
    JwtAuthentication, Policy, PolicyContext, RequestHead, Settings, TokenAuthentication,
    TokenService, User, UserStore,
};

fn setup() -> (TokenService, String) {
    let users = Arc::new(InMemoryUserStore::new());
    users.insert(User::new("42", "user42").with_scopes(["a"]), "pw");
    let settings = Settings::builder()
        .hmac_secret("bench-secret-0123456789abcdef0123456789abcdef")
        .issuer("keycard-bench")
        .audience("bench-api")
        .build()
        .unwrap();
    let tokens = TokenService::builder(settings)
        .users_arc(users.clone())
        .store(InMemoryRevocationStore::new())
        .build()
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let access = rt
        .block_on(tokens.obtain_for(&users.get("42").unwrap()))
        .unwrap()
        .access;
    (tokens, access)
}

/// `n - 1` authenticators that answer "not mine" to a Bearer header, then the JWT one.
fn chain(n: usize, tokens: &TokenService) -> Authenticators {
    let users: Arc<dyn UserStore> = Arc::new(InMemoryUserStore::new());
    let keys = Arc::new(InMemoryApiKeyStore::new());
    let mut c = Authenticators::new();
    let fillers: Vec<Box<dyn FnOnce(Authenticators) -> Authenticators>> = vec![
        Box::new({
            let users = users.clone();
            move |c: Authenticators| c.with(BasicAuthentication::new(users, "api"))
        }),
        Box::new({
            let keys = keys.clone();
            move |c: Authenticators| c.with(TokenAuthentication::new(keys, "api"))
        }),
        Box::new({
            let keys = keys.clone();
            move |c: Authenticators| c.with(TokenAuthentication::new(keys, "api").keyword("ApiKey"))
        }),
        Box::new(move |c: Authenticators| {
            c.with(
                TokenAuthentication::new(keys, "api")
                    .header(http::HeaderName::from_static("x-api-key")),
            )
        }),
    ];
    for f in fillers.into_iter().take(n - 1) {
        c = f(c);
    }
    c.with(JwtAuthentication::new(tokens.clone()))
}

fn deep_policy() -> impl Policy {
    IsAuthenticated
        & (IsAdmin
            | (HasScope::new("a")
                & !(HasRole::new("banned")
                    | (HasScope::new("b")
                        & (policy_fn(|ctx| ctx.method == "GET") | !HasRole::new("reader"))))))
}

fn bench_chain(c: &mut Criterion) {
    let (tokens, access) = setup();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut headers = http::HeaderMap::new();
    headers.insert(
        http::header::AUTHORIZATION,
        format!("Bearer {access}").parse().unwrap(),
    );
    let mut group = c.benchmark_group("chain");
    for n in [1, 3, 5] {
        let chain = chain(n, &tokens);
        assert_eq!(chain.len(), n);
        group.bench_with_input(BenchmarkId::from_parameter(n), &chain, |b, chain| {
            b.to_async(&rt).iter(|| async {
                let head = RequestHead {
                    method: "GET",
                    path: "/api/me/",
                    query: None,
                    headers: &headers,
                };
                let id = chain.authenticate(black_box(&head)).await.unwrap();
                black_box(id)
            });
        });
    }
    group.finish();
}

fn bench_policy(c: &mut Criterion) {
    let policy = deep_policy();
    let id = Identity::from_user(
        User::new("42", "user42")
            .with_scopes(["a", "b"])
            .with_roles(["reader"]),
        "bench",
    );
    let outcome = AuthOutcome {
        identity: Some(id),
        challenge: Some(Challenge::bearer("api")),
    };
    // Allowed through the longest path (every operand evaluated), and denied with a render.
    c.bench_function("policy/deep_allow", |b| {
        b.iter(|| black_box(&outcome).enforce(black_box(&policy), "GET", "/api/articles/"));
    });
    let ctx_id = Identity::from_user(
        User::new("42", "user42")
            .with_scopes(["a", "b"])
            .with_roles(["reader"]),
        "bench",
    );
    c.bench_function("policy/deep_has_permission", |b| {
        b.iter(|| {
            policy.has_permission(black_box(&PolicyContext::new("POST", "/", Some(&ctx_id))))
        });
    });
    let denied = AuthOutcome {
        identity: Some(Identity::from_user(User::new("7", "bob"), "bench")),
        challenge: Some(Challenge::bearer("api")),
    };
    c.bench_function("policy/deep_deny_render", |b| {
        b.iter(|| {
            black_box(&denied)
                .enforce(black_box(&policy), "GET", "/")
                .unwrap_err()
                .render()
        });
    });
}

fn bench_hot_path(c: &mut Criterion) {
    let (tokens, access) = setup();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let chain = chain(1, &tokens);
    let policy = deep_policy();
    let mut headers = http::HeaderMap::new();
    headers.insert(
        http::header::AUTHORIZATION,
        format!("Bearer {access}").parse().unwrap(),
    );
    c.bench_function("hot_path/jwt_then_deep_policy", |b| {
        b.to_async(&rt).iter(|| async {
            let head = RequestHead {
                method: "GET",
                path: "/api/articles/",
                query: None,
                headers: &headers,
            };
            let outcome = chain.outcome(black_box(&head)).await.unwrap();
            outcome.enforce(&policy, "GET", "/api/articles/").unwrap();
            black_box(outcome)
        });
    });
}

criterion_group!(benches, bench_chain, bench_policy, bench_hot_path);
criterion_main!(benches);
