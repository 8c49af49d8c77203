//! The authentication cases (../shared/cases/authentication.md, AU1–AU11) and the transport
//! rows of the hostile cases (HX1–HX6), at the level of `Authenticators::authenticate`,
//! `AuthOutcome::enforce` and `AuthError::render`.
//!
//! Every answer is checked whole: status, body `code` and `detail`, and `WWW-Authenticate`.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderMap, HeaderValue};
use keycard_core::authn::{Credentials, parse_credentials};
use keycard_core::endpoints::{Endpoint, handle};
use keycard_core::{
    AllowAny, AuthError, AuthOutcome, Authenticator, Authenticators, BasicAuthentication,
    BoxFuture, Challenge, Clock, FrozenClock, Identity, InMemoryRevocationStore, InMemoryUserStore,
    IsAdmin, IsAuthenticated, JwtAuthentication, JwtStatelessAuthentication, Outcome, Policy,
    RequestHead, Settings, SettingsBuilder, StoreError, TokenService, User, UserStore,
};
use serde_json::{Value, json};

const NOW: u64 = 1_796_300_000;
const SECRET: [u8; 32] = [0x5a; 32];
const BEARER: &str = r#"Bearer realm="api""#;

fn block<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

struct Env {
    users: Arc<InMemoryUserStore>,
    tokens: TokenService,
    clock: FrozenClock,
}

/// User 42 (`user42` / `pw`), a frozen clock, the given settings; a revocation store when asked.
fn env_with(store: bool, f: impl FnOnce(SettingsBuilder) -> SettingsBuilder) -> Env {
    let clock = FrozenClock::new(NOW);
    let users = Arc::new(InMemoryUserStore::new());
    users.insert(User::new("42", "user42"), "pw");
    let settings = f(Settings::builder()
        .hmac_secret(SECRET)
        .clock(Arc::new(clock.clone())))
    .build()
    .unwrap();
    let mut b = TokenService::builder(settings).users_arc(users.clone());
    if store {
        b = b.store(InMemoryRevocationStore::with_clock(Arc::new(clock.clone())));
    }
    Env {
        users,
        tokens: b.build().unwrap(),
        clock,
    }
}

fn env() -> Env {
    env_with(false, |b| b)
}

impl Env {
    /// A and R: a pair for user 42.
    async fn pair(&self) -> (String, String) {
        let user = self.users.get("42").unwrap();
        let pair = self.tokens.obtain_for(&user).await.unwrap();
        (pair.access, pair.refresh.unwrap())
    }
    fn jwt_chain(&self) -> Authenticators {
        Authenticators::new().with(JwtAuthentication::new(self.tokens.clone()))
    }
}

fn headers(pairs: &[(&str, &[u8])]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (name, value) in pairs {
        h.append(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_bytes(value).unwrap(),
        );
    }
    h
}

fn authz(value: impl AsRef<[u8]>) -> HeaderMap {
    headers(&[("authorization", value.as_ref())])
}

/// What the client sees.
#[derive(Debug)]
struct Answer {
    status: u16,
    body: Value,
    www: Option<String>,
    identity: Option<Identity>,
}

impl Answer {
    fn from_error(e: &AuthError) -> Self {
        let r = e.render();
        let www = r
            .headers
            .iter()
            .find(|(k, _)| k == http::header::WWW_AUTHENTICATE)
            .map(|(_, v)| v.to_str().unwrap().to_owned());
        assert_eq!(
            www,
            e.www_authenticate(),
            "rendered header and www_authenticate() agree"
        );
        assert!(
            r.headers
                .iter()
                .any(|(k, v)| k == http::header::CONTENT_TYPE && v == "application/json"),
            "JSON content type"
        );
        assert_eq!(r.status, e.status());
        Self {
            status: r.status.as_u16(),
            body: serde_json::from_slice(&r.body).unwrap(),
            www,
            identity: None,
        }
    }
    fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or_default()
    }
    fn user_id(&self) -> Option<&str> {
        self.identity.as_ref().map(Identity::user_id)
    }
    #[track_caller]
    fn assert(&self, status: u16, code: &str, detail: &str, www: Option<&str>) {
        assert_eq!(self.status, status, "status of {self:?}");
        assert_eq!(
            self.body,
            json!({"detail": detail, "code": code}),
            "body of {self:?}"
        );
        assert_eq!(self.www.as_deref(), www, "WWW-Authenticate of {self:?}");
    }
    #[track_caller]
    fn assert_ok_as(&self, user: &str) {
        assert_eq!(self.status, 200, "{self:?}");
        assert_eq!(self.user_id(), Some(user), "{self:?}");
    }
}

/// Runs the chain and the route's policy: the request's answer up to the handler.
async fn request_full(
    chain: &Authenticators,
    policy: &(impl Policy + ?Sized),
    method: &str,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Answer {
    let head = RequestHead {
        method,
        path: "/protected",
        query,
        headers,
    };
    let outcome: AuthOutcome = match chain.outcome(&head).await {
        Ok(o) => o,
        Err(e) => return Answer::from_error(&e),
    };
    match outcome.enforce(policy, method, "/protected") {
        Ok(()) => Answer {
            status: 200,
            body: Value::Null,
            www: None,
            identity: outcome.identity,
        },
        Err(e) => Answer::from_error(&e),
    }
}

async fn request(
    chain: &Authenticators,
    policy: &(impl Policy + ?Sized),
    headers: &HeaderMap,
) -> Answer {
    request_full(chain, policy, "GET", None, headers).await
}

fn invalid_token_www(description: &str) -> String {
    format!(r#"Bearer realm="api", error="invalid_token", error_description="{description}""#)
}

fn endpoint(tokens: &TokenService, ep: Endpoint, body: Value) -> Answer {
    let res = block(handle(tokens, ep, body.to_string().as_bytes()));
    let www = res
        .headers
        .iter()
        .find(|(k, _)| k == http::header::WWW_AUTHENTICATE)
        .map(|(_, v)| v.to_str().unwrap().to_owned());
    Answer {
        status: res.status.as_u16(),
        body: serde_json::from_slice(&res.body).unwrap(),
        www,
        identity: None,
    }
}

// ---------------------------------------------------------------------------------------
// AU1 user deleted after issue

#[test]
fn au1_deleted_user_refresh_is_no_active_account() {
    let env = env();
    let (_, r) = block(env.pair());
    assert!(env.users.remove("42"));
    let err = block(env.tokens.refresh(&r)).unwrap_err();
    let a = Answer::from_error(&err);
    a.assert(
        401,
        "no_active_account",
        "No active account found for the given token.",
        None,
    );
    // The same through the refresh endpoint.
    let a = endpoint(&env.tokens, Endpoint::Refresh, json!({"refresh": r}));
    a.assert(
        401,
        "no_active_account",
        "No active account found for the given token.",
        None,
    );
}

#[test]
fn au1_deleted_user_protected_route_is_user_not_found() {
    block(async {
        let env = env();
        let (a, _) = env.pair().await;
        assert!(env.users.remove("42"));
        let ans = request(
            &env.jwt_chain(),
            &IsAuthenticated,
            &authz(format!("Bearer {a}")),
        )
        .await;
        ans.assert(
            401,
            "user_not_found",
            "User not found",
            Some(&invalid_token_www("User not found")),
        );
    });
}

// ---------------------------------------------------------------------------------------
// AU2 user deactivated after issue

#[test]
fn au2_inactive_user_refresh_is_no_active_account() {
    let env = env();
    let (_, r) = block(env.pair());
    assert!(env.users.set_active("42", false));
    let err = block(env.tokens.refresh(&r)).unwrap_err();
    Answer::from_error(&err).assert(
        401,
        "no_active_account",
        "No active account found for the given token.",
        None,
    );
}

#[test]
fn au2_inactive_user_protected_route_is_user_inactive() {
    block(async {
        let env = env();
        let (a, _) = env.pair().await;
        env.users.set_active("42", false);
        let ans = request(
            &env.jwt_chain(),
            &IsAuthenticated,
            &authz(format!("Bearer {a}")),
        )
        .await;
        ans.assert(
            401,
            "user_inactive",
            "User is inactive",
            Some(&invalid_token_www("User is inactive")),
        );
    });
}

#[test]
fn au2_inactive_user_succeeds_everywhere_when_the_check_is_off() {
    block(async {
        let env = env_with(false, |b| b.check_user_is_active(false));
        env.users.set_active("42", false);
        let pair = env.tokens.obtain("user42", "pw").await.unwrap();
        let next = env
            .tokens
            .refresh(pair.refresh.as_deref().unwrap())
            .await
            .unwrap();
        for access in [pair.access, next.access] {
            let ans = request(
                &env.jwt_chain(),
                &IsAuthenticated,
                &authz(format!("Bearer {access}")),
            )
            .await;
            ans.assert_ok_as("42");
        }
    });
}

// ---------------------------------------------------------------------------------------
// AU3 password changed (opt-in revocation)

#[test]
fn au3_tokens_carry_a_fingerprint_of_the_hash_not_the_password() {
    let env = env_with(true, |b| b.password_change_revocation(true));
    let (a, r) = block(env.pair());
    let fp = env.users.get("42").unwrap().password_fingerprint.unwrap();
    for t in [&a, &r] {
        let claims = block(env.tokens.verify(t)).unwrap();
        assert_eq!(
            claims.get("hash_password").and_then(Value::as_str),
            Some(fp.as_str())
        );
        assert!(!claims.as_map().values().any(|v| v.as_str() == Some("pw")));
    }
}

#[test]
fn au3_password_change_revokes_access_and_refresh_without_a_loop() {
    block(async {
        let env = env_with(true, |b| b.password_change_revocation(true));
        let (a, r) = env.pair().await;
        assert!(env.users.set_password("42", "new-pw"));

        let ans = request(
            &env.jwt_chain(),
            &IsAuthenticated,
            &authz(format!("Bearer {a}")),
        )
        .await;
        let detail = "The user's password has been changed.";
        ans.assert(
            401,
            "password_changed",
            detail,
            Some(&invalid_token_www(detail)),
        );

        let err = env.tokens.refresh(&r).await.unwrap_err();
        assert_eq!(err.code(), "password_changed");
        // R is now revoked: a second refresh is token_not_valid, not another password_changed.
        let err = env.tokens.refresh(&r).await.unwrap_err();
        assert_eq!(
            (err.code(), err.detail().as_ref()),
            ("token_not_valid", "Token is blacklisted")
        );

        // A fresh login with the new password works.
        let pair = env.tokens.obtain("user42", "new-pw").await.unwrap();
        let ans = request(
            &env.jwt_chain(),
            &IsAuthenticated,
            &authz(format!("Bearer {}", pair.access)),
        )
        .await;
        ans.assert_ok_as("42");
    });
}

#[test]
fn au3_refresh_endpoint_answers_401_for_a_changed_password_then_blacklisted() {
    let env = env_with(true, |b| b.password_change_revocation(true));
    let (_, r) = block(env.pair());
    env.users.set_password("42", "new-pw");
    let detail = "The user's password has been changed.";
    endpoint(&env.tokens, Endpoint::Refresh, json!({"refresh": r})).assert(
        401,
        "password_changed",
        detail,
        Some(&invalid_token_www(detail)),
    );
    endpoint(&env.tokens, Endpoint::Refresh, json!({"refresh": r})).assert(
        401,
        "token_not_valid",
        "Token is blacklisted",
        Some(&invalid_token_www("Token is blacklisted")),
    );
}

// ---------------------------------------------------------------------------------------
// AU4 header whitespace

#[test]
fn au4_whitespace_around_and_between_is_accepted() {
    block(async {
        let env = env();
        let (a, _) = env.pair().await;
        let chain = env.jwt_chain();
        for value in [
            format!("Bearer  {a}"),
            format!(" Bearer {a} "),
            format!("Bearer\t{a}"),
            format!("\tBearer \t {a}\t"),
        ] {
            request(&chain, &IsAuthenticated, &authz(&value))
                .await
                .assert_ok_as("42");
        }
    });
}

#[test]
fn au4_bearer_alone_is_bad_authorization_header() {
    block(async {
        let env = env();
        let chain = env.jwt_chain();
        let detail = "Authorization header must contain two space-delimited values";
        let www =
            format!(r#"Bearer realm="api", error="invalid_request", error_description="{detail}""#);
        for value in ["Bearer", "Bearer ", "  bearer\t "] {
            request(&chain, &IsAuthenticated, &authz(value))
                .await
                .assert(401, "bad_authorization_header", detail, Some(&www));
        }
        // Also on a public route: a malformed header is an error, not anonymity.
        request(&chain, &AllowAny, &authz("Bearer")).await.assert(
            401,
            "bad_authorization_header",
            detail,
            Some(&www),
        );
    });
}

#[test]
fn au4_extra_value_is_bad_authorization_header() {
    block(async {
        let env = env();
        let (a, _) = env.pair().await;
        let detail = "Authorization header must contain a single token";
        let www =
            format!(r#"Bearer realm="api", error="invalid_request", error_description="{detail}""#);
        let ans = request(
            &env.jwt_chain(),
            &IsAuthenticated,
            &authz(format!("Bearer {a} extra")),
        )
        .await;
        ans.assert(401, "bad_authorization_header", detail, Some(&www));
    });
}

#[test]
fn au4_empty_value_and_other_scheme_are_not_authenticated() {
    block(async {
        let env = env();
        let (a, _) = env.pair().await;
        let chain = env.jwt_chain();
        for value in [
            String::new(),
            "   ".to_owned(),
            format!("Token {a}"),
            format!("Bearer{a}"),
        ] {
            request(&chain, &IsAuthenticated, &authz(&value))
                .await
                .assert(
                    401,
                    "not_authenticated",
                    "Authentication credentials were not provided.",
                    Some(BEARER),
                );
        }
    });
}

// ---------------------------------------------------------------------------------------
// AU5 scheme case and configured types

#[test]
fn au5_scheme_is_case_insensitive_and_challenge_keeps_configured_spelling() {
    block(async {
        let env = env();
        let (a, _) = env.pair().await;
        let chain = env.jwt_chain();
        for scheme in ["bearer", "BEARER", "BeArEr"] {
            request(&chain, &IsAuthenticated, &authz(format!("{scheme} {a}")))
                .await
                .assert_ok_as("42");
        }
        assert_eq!(chain.challenge().unwrap().to_string(), BEARER);
        request(&chain, &IsAuthenticated, &HeaderMap::new())
            .await
            .assert(
                401,
                "not_authenticated",
                "Authentication credentials were not provided.",
                Some(BEARER),
            );
    });
}

#[test]
fn au5_several_header_types_challenge_with_the_first() {
    block(async {
        let env = env_with(false, |b| b.header_types(["JWT", "Bearer"]));
        let (a, _) = env.pair().await;
        let chain = env.jwt_chain();
        for scheme in ["JWT", "jwt", "Bearer"] {
            request(&chain, &IsAuthenticated, &authz(format!("{scheme} {a}")))
                .await
                .assert_ok_as("42");
        }
        request(&chain, &IsAuthenticated, &HeaderMap::new())
            .await
            .assert(
                401,
                "not_authenticated",
                "Authentication credentials were not provided.",
                Some(r#"JWT realm="api""#),
            );
        let ans = request(&chain, &IsAuthenticated, &authz("JWT garbage")).await;
        let www = r#"JWT realm="api", error="invalid_token", error_description="Token is invalid""#;
        ans.assert(401, "token_not_valid", "Token is invalid", Some(www));
    });
}

#[test]
fn au5_custom_header_name() {
    block(async {
        let env = env_with(false, |b| b.header_name("X-Access-Token"));
        let (a, _) = env.pair().await;
        let chain = env.jwt_chain();
        let h = headers(&[("x-access-token", format!("Bearer {a}").as_bytes())]);
        request(&chain, &IsAuthenticated, &h)
            .await
            .assert_ok_as("42");
        // Authorization is not read any more.
        request(&chain, &IsAuthenticated, &authz(format!("Bearer {a}")))
            .await
            .assert(
                401,
                "not_authenticated",
                "Authentication credentials were not provided.",
                Some(BEARER),
            );
    });
}

// ---------------------------------------------------------------------------------------
// AU6 stale token on a public route

#[test]
fn au6_public_route_without_header_is_anonymous() {
    block(async {
        let env = env();
        let ans = request(&env.jwt_chain(), &AllowAny, &HeaderMap::new()).await;
        assert_eq!((ans.status, ans.user_id()), (200, None));
    });
}

#[test]
fn au6_public_route_with_garbage_token_is_token_not_valid() {
    block(async {
        let env = env();
        let ans = request(&env.jwt_chain(), &AllowAny, &authz("Bearer garbage")).await;
        ans.assert(
            401,
            "token_not_valid",
            "Token is invalid",
            Some(&invalid_token_www("Token is invalid")),
        );
    });
}

#[test]
fn au6_public_route_without_authenticators_ignores_the_header() {
    block(async {
        let ans = request(&Authenticators::new(), &AllowAny, &authz("Bearer garbage")).await;
        assert_eq!((ans.status, ans.user_id()), (200, None));
    });
}

#[test]
fn au6_lenient_outcome_is_the_explicit_opt_out() {
    block(async {
        let env = env();
        let (a, _) = env.pair().await;
        let chain = env.jwt_chain();
        for bad in ["Bearer garbage", "Bearer", "Bearer a b"] {
            let h = authz(bad);
            let head = RequestHead {
                method: "GET",
                path: "/",
                query: None,
                headers: &h,
            };
            let out = chain.outcome_lenient(&head).await.unwrap();
            assert!(out.identity.is_none(), "{bad}");
            assert_eq!(
                out.challenge.as_ref().map(ToString::to_string).as_deref(),
                Some(BEARER)
            );
        }
        // A good token still authenticates.
        let h = authz(format!("Bearer {a}"));
        let head = RequestHead {
            method: "GET",
            path: "/",
            query: None,
            headers: &h,
        };
        assert_eq!(
            chain
                .outcome_lenient(&head)
                .await
                .unwrap()
                .identity
                .unwrap()
                .user_id(),
            "42"
        );
    });
}

#[test]
fn au6_lenient_outcome_still_fails_closed_when_a_store_is_down() {
    block(async {
        let env = env();
        let (a, _) = env.pair().await;
        let tokens = TokenService::builder(
            Settings::builder()
                .hmac_secret(SECRET)
                .clock(Arc::new(env.clock.clone()))
                .build()
                .unwrap(),
        )
        .users(DownStore)
        .build()
        .unwrap();
        let chain = Authenticators::new().with(JwtAuthentication::new(tokens));
        let h = authz(format!("Bearer {a}"));
        let head = RequestHead {
            method: "GET",
            path: "/",
            query: None,
            headers: &h,
        };
        let err = chain.outcome_lenient(&head).await.unwrap_err();
        assert_eq!(err.status(), 503);
    });
}

// ---------------------------------------------------------------------------------------
// AU7 first authenticator decides 401 vs 403

/// An authenticator for an `X-Custom` header, with no challenge (like DRF's SessionAuthentication).
struct NoChallenge;
impl Authenticator for NoChallenge {
    fn authenticate<'a>(&'a self, head: &'a RequestHead<'_>) -> BoxFuture<'a, Outcome> {
        let out = match head.headers.lookup("x-custom") {
            keycard_core::authn::HeaderLookup::One(b"good") => {
                Outcome::Authenticated(Identity::from_user(User::new("7", "custom"), "custom"))
            }
            keycard_core::authn::HeaderLookup::Missing => Outcome::NotMine,
            _ => Outcome::Failed(AuthError::failed(
                "authentication_failed",
                "Bad custom credentials.",
            )),
        };
        Box::pin(std::future::ready(out))
    }
    fn challenge(&self) -> Option<Challenge> {
        None
    }
    fn name(&self) -> &'static str {
        "custom"
    }
}

#[test]
fn au7_first_authenticator_without_challenge_gives_403() {
    block(async {
        let env = env();
        let chain = Authenticators::new()
            .with(NoChallenge)
            .with(JwtAuthentication::new(env.tokens.clone()));
        let ans = request(&chain, &IsAuthenticated, &HeaderMap::new()).await;
        ans.assert(
            403,
            "not_authenticated",
            "Authentication credentials were not provided.",
            None,
        );
    });
}

#[test]
fn au7_first_authenticator_with_challenge_gives_401() {
    block(async {
        let env = env();
        let chain = Authenticators::new()
            .with(JwtAuthentication::new(env.tokens.clone()))
            .with(NoChallenge);
        let ans = request(&chain, &IsAuthenticated, &HeaderMap::new()).await;
        ans.assert(
            401,
            "not_authenticated",
            "Authentication credentials were not provided.",
            Some(BEARER),
        );
        // The second authenticator's failure is a 401 with the first one's challenge, plain.
        let ans = request(&chain, &IsAuthenticated, &headers(&[("x-custom", b"bad")])).await;
        ans.assert(
            401,
            "authentication_failed",
            "Bad custom credentials.",
            Some(BEARER),
        );
    });
}

#[test]
fn au7_expired_jwt_behind_a_challengeless_authenticator_gives_403_with_token_not_valid() {
    block(async {
        let env = env();
        let (a, _) = env.pair().await;
        env.clock.advance(301);
        let chain = Authenticators::new()
            .with(NoChallenge)
            .with(JwtAuthentication::new(env.tokens.clone()));
        let ans = request(&chain, &IsAuthenticated, &authz(format!("Bearer {a}"))).await;
        ans.assert(403, "token_not_valid", "Token is expired", None);
        // First in the chain, the same token is a 401 that says it expired.
        let ans = request(
            &env.jwt_chain(),
            &IsAuthenticated,
            &authz(format!("Bearer {a}")),
        )
        .await;
        ans.assert(
            401,
            "token_not_valid",
            "Token is expired",
            Some(&invalid_token_www("Token is expired")),
        );
    });
}

#[test]
fn au7_authenticated_by_the_second_authenticator() {
    block(async {
        let env = env();
        let chain = Authenticators::new()
            .with(JwtAuthentication::new(env.tokens.clone()))
            .with(NoChallenge);
        let ans = request(&chain, &IsAuthenticated, &headers(&[("x-custom", b"good")])).await;
        ans.assert_ok_as("7");
        assert_eq!(ans.identity.unwrap().authenticator(), "custom");
    });
}

// ---------------------------------------------------------------------------------------
// AU8 Basic authentication with UTF-8

fn basic_chain() -> (Arc<InMemoryUserStore>, Authenticators) {
    let users = Arc::new(InMemoryUserStore::new());
    users.insert(User::new("1", "user1"), "pässwörd");
    let chain = Authenticators::new().with(BasicAuthentication::new(users.clone(), "api"));
    (users, chain)
}

#[test]
fn au8_basic_utf8_credentials() {
    block(async {
        let (_, chain) = basic_chain();
        let value = format!("Basic {}", STANDARD.encode("user1:pässwörd".as_bytes()));
        let ans = request(&chain, &IsAuthenticated, &authz(value)).await;
        ans.assert_ok_as("1");
        assert_eq!(ans.identity.unwrap().authenticator(), "basic");
    });
}

#[test]
fn au8_basic_latin1_credentials() {
    block(async {
        let (_, chain) = basic_chain();
        let latin1: Vec<u8> = "user1:pässwörd"
            .chars()
            .map(|c| u8::try_from(u32::from(c)).unwrap())
            .collect();
        assert!(std::str::from_utf8(&latin1).is_err(), "really latin-1");
        let value = format!("Basic {}", STANDARD.encode(&latin1));
        request(&chain, &IsAuthenticated, &authz(value))
            .await
            .assert_ok_as("1");
    });
}

#[test]
fn au8_basic_not_base64() {
    block(async {
        let (_, chain) = basic_chain();
        let ans = request(&chain, &IsAuthenticated, &authz("Basic !!!")).await;
        ans.assert(
            401,
            "authentication_failed",
            "Invalid basic header. Credentials not correctly base64 encoded.",
            Some(r#"Basic realm="api""#),
        );
    });
}

#[test]
fn au8_basic_alone() {
    block(async {
        let (_, chain) = basic_chain();
        let ans = request(&chain, &IsAuthenticated, &authz("Basic")).await;
        ans.assert(
            401,
            "authentication_failed",
            "Invalid basic header. No credentials provided.",
            Some(r#"Basic realm="api""#),
        );
    });
}

#[test]
fn au8_basic_wrong_password_inactive_user_and_no_colon() {
    block(async {
        let (users, chain) = basic_chain();
        let basic = |s: &str| authz(format!("Basic {}", STANDARD.encode(s)));
        let www = Some(r#"Basic realm="api""#);
        request(&chain, &IsAuthenticated, &basic("user1:wrong"))
            .await
            .assert(
                401,
                "authentication_failed",
                "Invalid username/password.",
                www,
            );
        request(&chain, &IsAuthenticated, &basic("user1"))
            .await
            .assert(
                401,
                "authentication_failed",
                "Invalid basic header. Credentials not correctly base64 encoded.",
                www,
            );
        users.set_active("1", false);
        request(&chain, &IsAuthenticated, &basic("user1:pässwörd"))
            .await
            .assert(
                401,
                "authentication_failed",
                "User inactive or deleted.",
                www,
            );
        // No credentials: the Basic challenge, no error.
        request(&chain, &IsAuthenticated, &HeaderMap::new())
            .await
            .assert(
                401,
                "not_authenticated",
                "Authentication credentials were not provided.",
                www,
            );
    });
}

// ---------------------------------------------------------------------------------------
// AU9 user id types

#[test]
fn au9_minted_tokens_carry_the_user_id_as_a_string() {
    let env = env();
    let (a, r) = block(env.pair());
    for t in [&a, &r] {
        let claims = block(env.tokens.verify(t)).unwrap();
        assert_eq!(claims.get("user_id"), Some(&json!("42")));
    }
}

#[test]
fn au9_user_id_claim_sub() {
    block(async {
        let env = env_with(false, |b| b.user_id_claim("sub"));
        let (a, _) = env.pair().await;
        let claims = env.tokens.verify(&a).await.unwrap();
        assert_eq!(claims.get("sub"), Some(&json!("42")));
        assert_eq!(claims.get("user_id"), None);
        request(
            &env.jwt_chain(),
            &IsAuthenticated,
            &authz(format!("Bearer {a}")),
        )
        .await
        .assert_ok_as("42");
    });
}

fn legacy_claims(user_id: Value) -> serde_json::Map<String, Value> {
    let Value::Object(m) = json!({
        "token_type": "access",
        "jti": "legacy-jti",
        "user_id": user_id,
        "exp": NOW + 60,
        "iat": NOW,
    }) else {
        unreachable!()
    };
    m
}

#[test]
fn au9_legacy_numeric_user_id_authenticates_the_string_id() {
    block(async {
        let env = env();
        let token = env.tokens.sign(&legacy_claims(json!(42))).unwrap();
        request(
            &env.jwt_chain(),
            &IsAuthenticated,
            &authz(format!("Bearer {token}")),
        )
        .await
        .assert_ok_as("42");
    });
}

/// A store keyed by UUIDs: an id that is not one names nobody.
struct UuidUsers;
fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups
            .iter()
            .all(|g| g.bytes().all(|b| b.is_ascii_hexdigit()))
}
impl UserStore for UuidUsers {
    fn find_by_id<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<User>, StoreError>> {
        let found = is_uuid(id)
            .then(|| User::new(id, "uuid-user"))
            .filter(|u| u.id == "6f1c1a2e-0f3a-4d5b-9c1e-2a3b4c5d6e7f");
        Box::pin(std::future::ready(Ok(found)))
    }
    fn check_password<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
    ) -> BoxFuture<'a, Result<Option<User>, StoreError>> {
        Box::pin(std::future::ready(Ok(None)))
    }
}

#[test]
fn au9_unparseable_user_id_is_user_not_found() {
    block(async {
        let clock = FrozenClock::new(NOW);
        let settings = Settings::builder()
            .hmac_secret(SECRET)
            .clock(Arc::new(clock))
            .build()
            .unwrap();
        let tokens = TokenService::builder(settings)
            .users(UuidUsers)
            .build()
            .unwrap();
        let chain = Authenticators::new().with(JwtAuthentication::new(tokens.clone()));
        let bad = tokens.sign(&legacy_claims(json!("not-a-uuid"))).unwrap();
        let ans = request(&chain, &IsAuthenticated, &authz(format!("Bearer {bad}"))).await;
        ans.assert(
            401,
            "user_not_found",
            "User not found",
            Some(&invalid_token_www("User not found")),
        );
        let good = tokens
            .sign(&legacy_claims(json!(
                "6f1c1a2e-0f3a-4d5b-9c1e-2a3b4c5d6e7f"
            )))
            .unwrap();
        request(&chain, &IsAuthenticated, &authz(format!("Bearer {good}")))
            .await
            .assert_ok_as("6f1c1a2e-0f3a-4d5b-9c1e-2a3b4c5d6e7f");
    });
}

// ---------------------------------------------------------------------------------------
// AU10 a second authenticator for the same scheme

/// Opaque bearer tokens (`opaque-…`), counting how often it is asked.
#[derive(Default, Clone)]
struct OpaqueBearer(Arc<AtomicUsize>);
impl Authenticator for OpaqueBearer {
    fn authenticate<'a>(&'a self, head: &'a RequestHead<'_>) -> BoxFuture<'a, Outcome> {
        self.0.fetch_add(1, Ordering::SeqCst);
        let schemes = ["Bearer".to_owned()];
        let out = match head.headers.lookup("authorization") {
            keycard_core::authn::HeaderLookup::One(v) => match parse_credentials(v, &schemes) {
                Credentials::Value(b"opaque-123") => {
                    Outcome::Authenticated(Identity::from_user(User::new("9", "svc"), "opaque"))
                }
                Credentials::Value(t) if t.starts_with(b"opaque-") => Outcome::Failed(
                    AuthError::failed("authentication_failed", "Unknown opaque token."),
                ),
                _ => Outcome::NotMine,
            },
            _ => Outcome::NotMine,
        };
        Box::pin(std::future::ready(out))
    }
    fn challenge(&self) -> Option<Challenge> {
        Some(Challenge::bearer("api"))
    }
    fn name(&self) -> &'static str {
        "opaque"
    }
}

#[test]
fn au10_jwt_first_claims_an_opaque_bearer_and_the_second_is_not_asked() {
    block(async {
        let env = env();
        let opaque = OpaqueBearer::default();
        let chain = Authenticators::new()
            .with(JwtAuthentication::new(env.tokens.clone()))
            .with(opaque.clone());
        let ans = request(&chain, &IsAuthenticated, &authz("Bearer opaque-123")).await;
        ans.assert(
            401,
            "token_not_valid",
            "Token is invalid",
            Some(&invalid_token_www("Token is invalid")),
        );
        assert_eq!(
            opaque.0.load(Ordering::SeqCst),
            0,
            "the second authenticator was not asked"
        );
    });
}

#[test]
fn au10_only_jwt_shaped_lets_the_opaque_authenticator_answer() {
    block(async {
        let env = env();
        let (a, _) = env.pair().await;
        let opaque = OpaqueBearer::default();
        let chain = Authenticators::new()
            .with(JwtAuthentication::new(env.tokens.clone()).only_jwt_shaped(true))
            .with(opaque.clone());
        let ans = request(&chain, &IsAuthenticated, &authz("Bearer opaque-123")).await;
        ans.assert_ok_as("9");
        assert_eq!(opaque.0.load(Ordering::SeqCst), 1);
        // JWT-shaped values are still the JWT authenticator's: a bad one stops the chain.
        let ans = request(&chain, &IsAuthenticated, &authz("Bearer aaa.bbb.ccc")).await;
        assert_eq!((ans.status, ans.code()), (401, "token_not_valid"));
        assert_eq!(opaque.0.load(Ordering::SeqCst), 1);
        // And good ones authenticate through it.
        let ans = request(&chain, &IsAuthenticated, &authz(format!("Bearer {a}"))).await;
        ans.assert_ok_as("42");
        assert_eq!(ans.identity.unwrap().authenticator(), "jwt");
        // A bad opaque token fails in the opaque authenticator, under the chain's (first) challenge.
        let ans = request(&chain, &IsAuthenticated, &authz("Bearer opaque-999")).await;
        ans.assert(
            401,
            "authentication_failed",
            "Unknown opaque token.",
            Some(BEARER),
        );
    });
}

// ---------------------------------------------------------------------------------------
// AU11 stateless user

/// Counts user-store lookups: the stateless authenticator must make none.
struct CountingUsers {
    inner: InMemoryUserStore,
    finds: AtomicUsize,
}
impl UserStore for CountingUsers {
    fn find_by_id<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<User>, StoreError>> {
        self.finds.fetch_add(1, Ordering::SeqCst);
        self.inner.find_by_id(id)
    }
    fn check_password<'a>(
        &'a self,
        u: &'a str,
        p: &'a str,
    ) -> BoxFuture<'a, Result<Option<User>, StoreError>> {
        self.inner.check_password(u, p)
    }
}

#[derive(serde::Deserialize)]
struct AppClaims {
    tenant: String,
    user_id: String,
}

#[test]
fn au11_stateless_identity_from_claims_alone() {
    block(async {
        let users = Arc::new(CountingUsers {
            inner: InMemoryUserStore::new(),
            finds: AtomicUsize::new(0),
        });
        let settings = Settings::builder()
            .hmac_secret(SECRET)
            .clock(Arc::new(FrozenClock::new(NOW)))
            .build()
            .unwrap();
        let tokens = TokenService::builder(settings)
            .users_arc(users.clone())
            .claims_hook(|u: &User| {
                let mut m = serde_json::Map::new();
                m.insert("tenant".into(), "acme".into());
                m.insert("username".into(), u.username.clone().into());
                if u.is_admin {
                    m.insert("is_staff".into(), true.into());
                }
                m
            })
            .build()
            .unwrap();
        let chain = Authenticators::new().with(JwtStatelessAuthentication::new(tokens.clone()));

        let plain = tokens
            .obtain_for(&User::new("42", "alice"))
            .await
            .unwrap()
            .access;
        let staff = tokens
            .obtain_for(&User::new("43", "root").admin(true))
            .await
            .unwrap()
            .access;

        let ans = request(&chain, &IsAuthenticated, &authz(format!("Bearer {plain}"))).await;
        ans.assert_ok_as("42");
        let id = ans.identity.unwrap();
        assert_eq!(id.user_id(), "42");
        assert_eq!(id.username(), "alice");
        assert!(!id.is_admin());
        assert_eq!(id.authenticator(), "jwt_stateless");
        let mine: AppClaims = id.claims_as().unwrap();
        assert_eq!(
            (mine.tenant.as_str(), mine.user_id.as_str()),
            ("acme", "42")
        );

        request(&chain, &IsAdmin, &authz(format!("Bearer {plain}")))
            .await
            .assert(
                403,
                "permission_denied",
                "You do not have permission to perform this action.",
                None,
            );
        request(&chain, &IsAdmin, &authz(format!("Bearer {staff}")))
            .await
            .assert_ok_as("43");

        assert_eq!(users.finds.load(Ordering::SeqCst), 0, "no user store call");
    });
}

// ---------------------------------------------------------------------------------------
// PO6 (authenticator side): infrastructure failures are 503 JSON, never 500 or a panic

struct DownStore;
impl UserStore for DownStore {
    fn find_by_id<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<Option<User>, StoreError>> {
        Box::pin(std::future::ready(Err(StoreError::Unavailable(
            "connection refused to 10.0.0.1".into(),
        ))))
    }
    fn check_password<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
    ) -> BoxFuture<'a, Result<Option<User>, StoreError>> {
        Box::pin(std::future::ready(Err(StoreError::Unavailable(
            "connection refused to 10.0.0.1".into(),
        ))))
    }
}

#[test]
fn po6_user_store_down_is_503_json_without_the_store_error() {
    block(async {
        let env = env();
        let (a, _) = env.pair().await;
        let settings = Settings::builder()
            .hmac_secret(SECRET)
            .clock(Arc::new(env.clock.clone()))
            .build()
            .unwrap();
        let tokens = TokenService::builder(settings)
            .users(DownStore)
            .build()
            .unwrap();
        let down: Arc<dyn UserStore> = Arc::new(DownStore);
        for chain in [
            Authenticators::new().with(JwtAuthentication::new(tokens.clone())),
            Authenticators::new().with(BasicAuthentication::new(down, "api")),
        ] {
            let value = if chain.challenge().unwrap().scheme() == "Basic" {
                format!("Basic {}", STANDARD.encode("u:p"))
            } else {
                format!("Bearer {a}")
            };
            let ans = request(&chain, &IsAuthenticated, &authz(value)).await;
            ans.assert(
                503,
                "service_unavailable",
                "The authentication service is temporarily unavailable.",
                None,
            );
            assert!(!ans.body.to_string().contains("10.0.0.1"));
        }
    });
}

// ---------------------------------------------------------------------------------------
// Transport rows (hostile.md HX1–HX6) and header oddities

fn not_authenticated(ans: &Answer) {
    ans.assert(
        401,
        "not_authenticated",
        "Authentication credentials were not provided.",
        Some(BEARER),
    );
}

#[test]
fn hx1_no_authorization_on_a_protected_route() {
    block(async {
        let env = env();
        not_authenticated(&request(&env.jwt_chain(), &IsAuthenticated, &HeaderMap::new()).await);
    });
}

#[test]
fn hx2_basic_credentials_to_the_jwt_authenticator_are_no_credentials() {
    block(async {
        let env = env();
        not_authenticated(
            &request(
                &env.jwt_chain(),
                &IsAuthenticated,
                &authz("Basic dXNlcjpwYXNz"),
            )
            .await,
        );
    });
}

#[test]
fn hx3_comma_separated_values_are_bad_authorization_header() {
    block(async {
        let env = env();
        let detail = "Authorization header must contain a single token";
        let www =
            format!(r#"Bearer realm="api", error="invalid_request", error_description="{detail}""#);
        for value in ["Bearer a,b", "Bearer a, b", "Bearer ,"] {
            request(&env.jwt_chain(), &IsAuthenticated, &authz(value))
                .await
                .assert(401, "bad_authorization_header", detail, Some(&www));
        }
    });
}

#[test]
fn hx4_oversized_token_is_refused_before_decoding() {
    block(async {
        let env = env();
        let www = invalid_token_www("Token is too large");
        // 1 MB of bytes that are not base64url: any decoding would answer "Token is invalid".
        let huge = format!("Bearer {}", "!".repeat(1024 * 1024));
        request(&env.jwt_chain(), &IsAuthenticated, &authz(&huge))
            .await
            .assert(401, "token_not_valid", "Token is too large", Some(&www));
        // Just over the default 8 KiB cap, with a JWT shape.
        let (a, _) = env.pair().await;
        let over = format!("Bearer {a}{}", "A".repeat(8 * 1024));
        request(&env.jwt_chain(), &IsAuthenticated, &authz(&over))
            .await
            .assert(401, "token_not_valid", "Token is too large", Some(&www));
        // With a smaller configured cap, the minted token itself is over it.
        let env = env_with(false, |b| b.max_token_size(256));
        let (a, _) = env.pair().await;
        assert!(a.len() > 256);
        request(
            &env.jwt_chain(),
            &IsAuthenticated,
            &authz(format!("Bearer {a}")),
        )
        .await
        .assert(401, "token_not_valid", "Token is too large", Some(&www));
    });
}

#[test]
fn hx5_characters_outside_base64url_are_invalid_and_never_reflected() {
    block(async {
        let env = env();
        let (a, _) = env.pair().await;
        let www = invalid_token_www("Token is invalid");
        let mid = a.len() / 2;
        let bad: [&[u8]; 6] = [b"\"", b"\\", b"%", "é".as_bytes(), b"\xff", b"\x80"];
        for ch in bad {
            let mut token = a.as_bytes()[..mid].to_vec();
            token.extend_from_slice(ch);
            token.extend_from_slice(&a.as_bytes()[mid..]);
            let mut value = b"Bearer ".to_vec();
            value.extend_from_slice(&token);
            let ans = request(&env.jwt_chain(), &IsAuthenticated, &authz(&value)).await;
            ans.assert(401, "token_not_valid", "Token is invalid", Some(&www));
            // The token alone: a quote or backslash at the start of a token.
            let mut value = b"Bearer ".to_vec();
            value.extend_from_slice(ch);
            value.extend_from_slice(b"x\"y\\z");
            let ans = request(&env.jwt_chain(), &IsAuthenticated, &authz(&value)).await;
            ans.assert(401, "token_not_valid", "Token is invalid", Some(&www));
        }
    });
}

#[test]
fn hx6_token_in_the_query_string_is_ignored() {
    block(async {
        let env = env();
        let (a, _) = env.pair().await;
        let q = format!("access_token={a}");
        let ans = request_full(
            &env.jwt_chain(),
            &IsAuthenticated,
            "GET",
            Some(&q),
            &HeaderMap::new(),
        )
        .await;
        not_authenticated(&ans);
    });
}

#[test]
fn two_authorization_headers_are_bad_authorization_header() {
    block(async {
        let env = env();
        let (a, _) = env.pair().await;
        let bearer = format!("Bearer {a}");
        let detail = "Authorization header must be sent once.";
        let www =
            format!(r#"Bearer realm="api", error="invalid_request", error_description="{detail}""#);
        for pair in [
            [bearer.as_bytes(), bearer.as_bytes()],
            [bearer.as_bytes(), b"Basic dXNlcjpwYXNz"],
            [b"", bearer.as_bytes()],
        ] {
            let h = headers(&[("authorization", pair[0]), ("authorization", pair[1])]);
            request(&env.jwt_chain(), &AllowAny, &h).await.assert(
                401,
                "bad_authorization_header",
                detail,
                Some(&www),
            );
        }
    });
}

#[test]
fn two_authorization_headers_are_bad_authorization_header_whichever_builtin_comes_first() {
    block(async {
        let env = env();
        let users: Arc<dyn UserStore> = env.users.clone();
        let keys = Arc::new(keycard_core::InMemoryApiKeyStore::new());
        let chains = [
            (
                Authenticators::new().with(BasicAuthentication::new(users.clone(), "api")),
                r#"Basic realm="api""#,
            ),
            (
                Authenticators::new().with(keycard_core::TokenAuthentication::new(keys, "api")),
                r#"Token realm="api""#,
            ),
        ];
        for (chain, www) in chains {
            let h = headers(&[
                ("authorization", b"Basic dXNlcjpwYXNz"),
                ("authorization", b"Token abc"),
            ]);
            let ans = request(&chain, &AllowAny, &h).await;
            assert_eq!(
                (ans.status, ans.code(), ans.www.as_deref()),
                (401, "bad_authorization_header", Some(www)),
                "{ans:?}"
            );
        }
    });
}

#[test]
fn obs_text_bytes_are_an_answer_and_never_reflected() {
    block(async {
        let env = env();
        let users: Arc<dyn UserStore> = env.users.clone();
        let keys = Arc::new(keycard_core::InMemoryApiKeyStore::new());
        let chains = [
            env.jwt_chain(),
            Authenticators::new().with(BasicAuthentication::new(users, "api")),
            Authenticators::new().with(keycard_core::TokenAuthentication::new(keys, "api")),
        ];
        let values: [&[u8]; 8] = [
            b"Bearer \xff\xfe\xfd",
            b"Bearer \xc3\xa9\xc3\xa9.\xc3\xa9.\xc3\xa9",
            b"\xbfBearer abc",
            b"Be\xe4rer abc",
            b"Basic \xff\xff\xff\xff",
            b"Basic d\xe4Nlcjp",
            b"Token \xe2\x82\xac\xe2\x82\xac",
            b"Token \x80\x81",
        ];
        for chain in &chains {
            for v in values {
                let ans = request(chain, &IsAuthenticated, &authz(v)).await;
                assert!(matches!(ans.status, 401 | 403), "{v:?} → {ans:?}");
                let rendered = format!("{} {:?}", ans.body, ans.www);
                assert!(rendered.is_ascii(), "only ASCII goes out: {rendered}");
                for marker in ["\u{e9}", "\u{20ac}", "\u{fffd}", "abc", "dXNl"] {
                    assert!(
                        !rendered.contains(marker),
                        "{marker:?} reflected in {rendered}"
                    );
                }
            }
        }
    });
}

#[test]
fn debug_output_never_shows_the_credential() {
    block(async {
        let env = env();
        let (a, _) = env.pair().await;
        let h = authz(format!("Bearer {a}"));
        let head = RequestHead {
            method: "GET",
            path: "/",
            query: None,
            headers: &h,
        };
        let id = env.jwt_chain().authenticate(&head).await.unwrap().unwrap();
        let sig = a.rsplit('.').next().unwrap();
        for dbg in [
            format!("{id:?}"),
            format!("{head:?}"),
            format!("{:?}", env.jwt_chain()),
        ] {
            assert!(!dbg.contains(&a) && !dbg.contains(sig), "{dbg}");
        }
        let schemes = ["Bearer".to_owned()];
        let creds = parse_credentials(h.get("authorization").unwrap().as_bytes(), &schemes);
        let dbg = format!("{creds:?}");
        // Derived Debug on bytes prints them as numbers; either form must not appear.
        let as_numbers = format!("{:?}", a.as_bytes());
        assert!(
            !dbg.contains(&a) && !dbg.contains(&as_numbers[1..40]),
            "{dbg}"
        );
    });
}

#[test]
fn clock_is_frozen_for_these_tests() {
    let env = env();
    assert_eq!(env.tokens.settings().now(), NOW);
    assert_eq!(env.clock.now(), NOW);
}
