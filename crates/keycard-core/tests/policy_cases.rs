//! The permission-policy cases that need no web framework (../shared/cases/policies.md: PO1,
//! PO2, PO6, PO7, PO8), through `AuthOutcome::enforce` / `enforce_object` and `AuthError::render`.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use http::HeaderMap;
use keycard_core::policy::{Denial, object_policy};
use keycard_core::{
    AllowAny, AuthError, AuthOutcome, Authenticators, Challenge, FrozenClock, HasClaim, HasRole,
    HasScope, Identity, IsAdmin, IsAuthenticated, IsAuthenticatedOrReadOnly, JwtAuthentication,
    Policy, PolicyContext, PolicyExt, RequestHead, Settings, TokenService, User,
};
use serde_json::{Value, json};

const NOW: u64 = 1_796_300_000;
const BEARER: &str = r#"Bearer realm="api""#;
const DEFAULT_DENIAL: &str = "You do not have permission to perform this action.";
const NOT_PROVIDED: &str = "Authentication credentials were not provided.";

fn block<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

fn outcome(identity: Option<Identity>) -> AuthOutcome {
    AuthOutcome {
        identity,
        challenge: Some(Challenge::bearer("api")),
    }
}

fn user(id: &str) -> Identity {
    Identity::from_user(User::new(id, format!("user{id}")), "test")
}

fn admin() -> Identity {
    Identity::from_user(User::new("99", "root").admin(true), "test")
}

/// status, body, WWW-Authenticate — as the client sees them.
fn rendered(r: Result<(), AuthError>) -> (u16, Value, Option<String>) {
    match r {
        Ok(()) => (200, Value::Null, None),
        Err(e) => {
            let r = e.render();
            let www = r
                .headers
                .iter()
                .find(|(k, _)| k == http::header::WWW_AUTHENTICATE)
                .map(|(_, v)| v.to_str().unwrap().to_owned());
            (
                r.status.as_u16(),
                serde_json::from_slice(&r.body).unwrap(),
                www,
            )
        }
    }
}

fn denied(detail: &str, code: &str) -> (u16, Value, Option<String>) {
    (403, json!({"detail": detail, "code": code}), None)
}

fn not_authenticated() -> (u16, Value, Option<String>) {
    (
        401,
        json!({"detail": NOT_PROVIDED, "code": "not_authenticated"}),
        Some(BEARER.to_owned()),
    )
}

// ---------------------------------------------------------------------------------------
// PO1 OR at object level

struct Article {
    owner: String,
}

fn is_owner() -> impl Policy + Clone {
    object_policy(|ctx: &PolicyContext<'_>, a: &Article| {
        ctx.identity.is_some_and(|i| i.user_id() == a.owner)
    })
}

#[test]
fn po1_admin_or_owner_at_object_level() {
    let policy = IsAdmin | is_owner();
    let article = Article { owner: "1".into() };
    let check = |id: Option<Identity>| {
        rendered(outcome(id).enforce_object(&policy, "GET", "/articles/1", &article))
    };
    assert_eq!(
        check(Some(user("2"))),
        denied(DEFAULT_DENIAL, "permission_denied")
    );
    assert_eq!(check(Some(user("1"))).0, 200);
    assert_eq!(check(Some(admin())).0, 200);
    assert_eq!(check(None), not_authenticated());
}

#[test]
fn po1_or_at_object_level_is_never_object_or_object() {
    /// Allows every request, denies every object.
    struct ViewOnly;
    impl Policy for ViewOnly {
        fn has_permission(&self, _: &PolicyContext<'_>) -> Result<(), Denial> {
            Ok(())
        }
        fn has_object_permission(
            &self,
            _: &PolicyContext<'_>,
            _: &dyn std::any::Any,
        ) -> Result<(), Denial> {
            Err(Denial::new("Not this object.", "not_this_object"))
        }
    }
    // User 2 fails IsAdmin's view check; IsAdmin's object check would allow (it has none).
    // `A.object ∨ B.object` would let user 2 in; `(A.view ∧ A.object) ∨ …` does not.
    let policy = ViewOnly.with_message("Not this object.", "not_this_object") | IsAdmin;
    let article = Article { owner: "1".into() };
    let r = rendered(outcome(Some(user("2"))).enforce_object(&policy, "GET", "/", &article));
    assert_eq!(r, denied("Not this object.", "not_this_object"));
    let policy = IsAdmin | ViewOnly;
    let r = rendered(outcome(Some(user("2"))).enforce_object(&policy, "GET", "/", &article));
    assert_eq!(r, denied(DEFAULT_DENIAL, "permission_denied"));
    assert_eq!(
        rendered(outcome(Some(admin())).enforce_object(&policy, "GET", "/", &article)).0,
        200
    );
}

// ---------------------------------------------------------------------------------------
// PO2 messages survive composition

/// Denies everyone, with its own message and code.
#[derive(Debug, Clone, Copy)]
struct A;
impl Policy for A {
    fn has_permission(&self, _: &PolicyContext<'_>) -> Result<(), Denial> {
        Err(Denial::new("Custom Message A", "a"))
    }
}

fn policy_a() -> A {
    A
}

#[test]
fn po2_and_keeps_the_denying_operands_message() {
    let o = outcome(Some(user("2")));
    let want = denied("Custom Message A", "a");
    assert_eq!(
        rendered(o.enforce(&policy_a().and(IsAuthenticated), "GET", "/")),
        want
    );
    assert_eq!(
        rendered(o.enforce(&IsAuthenticated.and(policy_a()), "GET", "/")),
        want
    );
    // Byte for byte.
    let e = o
        .enforce(&IsAuthenticated.and(policy_a()), "GET", "/")
        .unwrap_err();
    assert_eq!(
        e.render().body,
        br#"{"detail":"Custom Message A","code":"a"}"#
    );
}

#[test]
fn po2_or_with_both_failing_keeps_the_first_operands_message() {
    let o = outcome(Some(user("2")));
    let b = IsAdmin.with_message("Custom Message B", "b");
    assert_eq!(
        rendered(o.enforce(&policy_a().or(b.clone()), "GET", "/")),
        denied("Custom Message A", "a")
    );
    assert_eq!(
        rendered(o.enforce(&b.clone().or(policy_a()), "GET", "/")),
        denied("Custom Message B", "b")
    );
    assert_eq!(
        rendered(o.enforce(&(IsAdmin | b), "GET", "/")),
        denied(DEFAULT_DENIAL, "permission_denied")
    );
}

#[test]
fn po2_messages_survive_depth() {
    let o = outcome(Some(user("2")));
    // IsAuthenticated & (AllowAny & (IsAuthenticated & (A | IsAdmin))): A's message comes out.
    let deep = IsAuthenticated & (AllowAny & (IsAuthenticated & policy_a().or(IsAdmin)));
    assert_eq!(
        rendered(o.enforce(&deep, "GET", "/")),
        denied("Custom Message A", "a")
    );
    // A with_message around the whole expression wins over the operands'.
    let wrapped = deep.with_message("Outer.", "outer");
    assert_eq!(
        rendered(o.enforce(&wrapped, "GET", "/")),
        denied("Outer.", "outer")
    );
    // Anonymous: 401 whatever the message.
    assert_eq!(
        rendered(outcome(None).enforce(&wrapped, "GET", "/")),
        not_authenticated()
    );
}

// ---------------------------------------------------------------------------------------
// PO6 denial is never a 500

#[test]
fn po6_every_policy_denial_is_403_or_401_never_500() {
    let policies: Vec<Box<dyn Policy>> = vec![
        Box::new(IsAuthenticated),
        Box::new(IsAdmin),
        Box::new(IsAuthenticatedOrReadOnly),
        Box::new(HasScope::new("x")),
        Box::new(HasRole::new("x")),
        Box::new(HasClaim::present("x")),
        Box::new(!AllowAny),
        Box::new(IsAdmin & HasScope::new("x")),
        Box::new(IsAdmin | HasRole::new("x")),
        Box::new(policy_a()),
        Box::new(is_owner()),
    ];
    let article = Article { owner: "1".into() };
    for (i, p) in policies.iter().enumerate() {
        for (id, denial) in [(Some(user("2")), 403), (None, 401)] {
            let o = outcome(id.clone());
            let r = o
                .enforce(p, "POST", "/")
                .and_then(|()| o.enforce_object(p, "POST", "/", &article));
            let (status, body, _) = rendered(r);
            assert!(
                status == 200 || status == denial,
                "policy {i}, identity {id:?}: {status} {body}"
            );
            if status != 200 {
                assert!(body["code"].is_string() && body["detail"].is_string());
            }
        }
    }
}

#[test]
fn po6_infrastructure_failure_is_503_json() {
    let (status, body, www) = rendered(Err(AuthError::ServiceUnavailable));
    assert_eq!(
        (status, body, www),
        (
            503,
            json!({"detail": "The authentication service is temporarily unavailable.", "code": "service_unavailable"}),
            None
        )
    );
    let r = AuthError::ServiceUnavailable.render();
    assert!(
        r.headers
            .iter()
            .any(|(k, v)| k == http::header::CONTENT_TYPE && v == "application/json")
    );
}

#[test]
fn po6_misconfiguration_is_500_without_naming_the_missing_piece() {
    let e = AuthError::Misconfigured {
        detail: "RequireLayer without AuthLayer",
    };
    let (status, body, _) = rendered(Err(e));
    assert_eq!(
        (status, body),
        (
            500,
            json!({"detail": "A server error occurred.", "code": "server_error"})
        )
    );
}

// ---------------------------------------------------------------------------------------
// PO7 scopes

const INSUFFICIENT: &str =
    r#"Bearer realm="api", error="insufficient_scope", scope="orders:write""#;

fn scope_denied() -> (u16, Value, Option<String>) {
    (
        403,
        json!({"detail": "You do not have the scope this action needs.", "code": "permission_denied"}),
        Some(INSUFFICIENT.to_owned()),
    )
}

#[test]
fn po7_scope_claim_space_separated_and_scp_array() {
    block(async {
        let settings = Settings::builder()
            .hmac_secret([3u8; 32])
            .clock(Arc::new(FrozenClock::new(NOW)))
            .build()
            .unwrap();
        let tokens_with = |claims: Value| {
            TokenService::builder(settings.clone())
                .users(keycard_core::InMemoryUserStore::new())
                .claims_hook(move |_| claims.as_object().cloned().unwrap_or_default())
                .build()
                .unwrap()
        };
        let policy = HasScope::new("orders:write");
        for (claims, ok) in [
            (json!({"scope": "orders:read orders:write"}), true),
            (json!({"scp": ["orders:write"]}), true),
            (json!({"scp": "orders:write"}), true),
            (
                json!({"scope": "orders:read", "scp": ["orders:write", "x"]}),
                true,
            ),
            (json!({"scope": "orders:read"}), false),
            (json!({"scope": "orders:writer"}), false),
            (json!({"scp": ["orders:read"]}), false),
            (json!({}), false),
        ] {
            let tokens = tokens_with(claims.clone());
            let access = tokens
                .obtain_for(&User::new("42", "u"))
                .await
                .unwrap()
                .access;
            let chain =
                Authenticators::new().with(keycard_core::JwtStatelessAuthentication::new(tokens));
            let mut h = HeaderMap::new();
            h.insert(
                http::header::AUTHORIZATION,
                format!("Bearer {access}").parse().unwrap(),
            );
            let head = RequestHead {
                method: "POST",
                path: "/orders",
                query: None,
                headers: &h,
            };
            let o = chain.outcome(&head).await.unwrap();
            let r = rendered(o.enforce(&policy, "POST", "/orders"));
            if ok {
                assert_eq!(r.0, 200, "{claims}");
            } else {
                assert_eq!(r, scope_denied(), "{claims}");
            }
        }
    });
}

#[test]
fn po7_insufficient_scope_challenge() {
    let o = outcome(Some(Identity::from_user(
        User::new("1", "a").with_scopes(["orders:read"]),
        "test",
    )));
    assert_eq!(
        rendered(o.enforce(&HasScope::new("orders:write"), "POST", "/")),
        scope_denied()
    );
    // Composed: the scope survives `&` and a message override.
    let p =
        IsAuthenticated & HasScope::new("orders:write").with_message("Need orders:write.", "scope");
    let (status, body, www) = rendered(o.enforce(&p, "POST", "/"));
    assert_eq!(
        (status, body, www.as_deref()),
        (
            403,
            json!({"detail": "Need orders:write.", "code": "scope"}),
            Some(INSUFFICIENT)
        )
    );
    // Anonymous: 401 not_authenticated, no insufficient_scope.
    assert_eq!(
        rendered(outcome(None).enforce(&HasScope::new("orders:write"), "POST", "/")),
        not_authenticated()
    );
    // A chain without an RFC 6750 challenge (Basic first) sends no insufficient_scope header.
    let basic = AuthOutcome {
        identity: o.identity.clone(),
        challenge: Some(Challenge::basic("api")),
    };
    assert_eq!(
        rendered(basic.enforce(&HasScope::new("orders:write"), "POST", "/")).2,
        None
    );
}

// ---------------------------------------------------------------------------------------
// PO8 read-only

#[test]
fn po8_is_authenticated_or_read_only() {
    let anon = outcome(None);
    for m in ["GET", "HEAD", "OPTIONS"] {
        assert_eq!(
            rendered(anon.enforce(&IsAuthenticatedOrReadOnly, m, "/articles")).0,
            200,
            "{m}"
        );
    }
    for m in ["POST", "PUT", "PATCH", "DELETE"] {
        assert_eq!(
            rendered(anon.enforce(&IsAuthenticatedOrReadOnly, m, "/articles")),
            not_authenticated(),
            "{m}"
        );
    }
    let authed = outcome(Some(user("1")));
    for m in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
        assert_eq!(
            rendered(authed.enforce(&IsAuthenticatedOrReadOnly, m, "/articles")).0,
            200,
            "{m}"
        );
    }
}

#[test]
fn po8_through_the_jwt_chain() {
    block(async {
        let users = keycard_core::InMemoryUserStore::new();
        users.insert(User::new("1", "alice"), "pw");
        let settings = Settings::builder().hmac_secret([3u8; 32]).build().unwrap();
        let tokens = TokenService::builder(settings)
            .users(users)
            .build()
            .unwrap();
        let access = tokens.obtain("alice", "pw").await.unwrap().access;
        let chain = Authenticators::new().with(JwtAuthentication::new(tokens));
        let none = HeaderMap::new();
        let mut with = HeaderMap::new();
        with.insert(
            http::header::AUTHORIZATION,
            format!("Bearer {access}").parse().unwrap(),
        );
        for (h, method, want) in [
            (&none, "GET", 200),
            (&none, "POST", 401),
            (&with, "POST", 200),
        ] {
            let head = RequestHead {
                method,
                path: "/api/articles/",
                query: None,
                headers: h,
            };
            let o = chain.outcome(&head).await.unwrap();
            assert_eq!(
                rendered(o.enforce(&IsAuthenticatedOrReadOnly, method, "/api/articles/")).0,
                want,
                "{method}"
            );
        }
    });
}
