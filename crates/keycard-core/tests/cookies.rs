//! Tokens in cookies (issue 10): `CookieAuthentication` in a chain beside the bearer
//! authenticator, the CSRF rule as the chain applies it (method × origin × token × which
//! authenticator answered), and the token endpoints' cookie mode (exact `Set-Cookie` lines,
//! refresh and logout from the cookie, CSRF proofs, cookies cleared when dead).

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use keycard_core::cookie::CookieSettings;
use keycard_core::endpoints::{
    Endpoint, EndpointRequest, EndpointResponse, TokenEndpoints, handle,
};
use keycard_core::{
    AuthError, Authenticators, CookieAuthentication, FrozenClock, InMemoryRevocationStore,
    InMemoryUserStore, JwtAuthentication, RequestHead, Settings, TokenService, User,
};
use serde_json::{Value, json};

const NOW: u64 = 1_796_300_000;
const TRUSTED: &str = "https://app.example.com";
const CSRF: &str = "abcdefghijklmnopqrstuvwxyz012345";

fn block<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

struct World {
    tokens: TokenService,
    clock: Arc<FrozenClock>,
    cookies: CookieSettings,
}

fn world_with(cookies: CookieSettings) -> World {
    let users = InMemoryUserStore::new();
    users.insert(User::new("1", "alice"), "alice-password");
    users.insert(User::new("3", "carol").active(false), "carol-password");
    let clock = Arc::new(FrozenClock::new(NOW));
    let settings = Settings::builder()
        .hmac_secret("contract-secret-0123456789abcdef0123456789abcdef")
        .issuer("keycard-contract")
        .audience("contract-api")
        .rotate_refresh_tokens(true)
        .blacklist_after_rotation(true)
        .clock(clock.clone())
        .build()
        .unwrap();
    let tokens = TokenService::builder(settings)
        .users(users)
        .store(InMemoryRevocationStore::with_clock(clock.clone()))
        .with_blacklist_endpoint(true)
        .build()
        .unwrap();
    World {
        tokens,
        clock,
        cookies,
    }
}

fn world() -> World {
    world_with(
        CookieSettings::builder()
            .trusted_origins([TRUSTED])
            .build()
            .unwrap(),
    )
}

fn headers(pairs: &[(&str, &str)]) -> http::HeaderMap {
    let mut h = http::HeaderMap::new();
    for (k, v) in pairs {
        h.append(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            http::HeaderValue::from_str(v).unwrap(),
        );
    }
    h
}

impl World {
    fn chain(&self) -> Authenticators {
        Authenticators::new()
            .with(JwtAuthentication::new(self.tokens.clone()))
            .with(CookieAuthentication::new(
                self.tokens.clone(),
                self.cookies.clone(),
            ))
    }

    fn access(&self) -> String {
        block(self.tokens.obtain("alice", "alice-password"))
            .unwrap()
            .access
    }

    fn authenticate(
        &self,
        chain: &Authenticators,
        method: &str,
        h: &http::HeaderMap,
    ) -> Result<Option<String>, AuthError> {
        let method = http::Method::from_bytes(method.as_bytes()).unwrap();
        let uri: http::Uri = "/api/notes/".parse().unwrap();
        let head = RequestHead::from_parts(&method, &uri, h);
        block(chain.authenticate(&head)).map(|id| id.map(|id| id.authenticator().to_owned()))
    }

    fn endpoints(&self) -> TokenEndpoints {
        TokenEndpoints::new(self.tokens.clone()).with_cookies(self.cookies.clone())
    }

    fn call(&self, ep: Endpoint, body: &str, h: &http::HeaderMap) -> Answer {
        let res = block(self.endpoints().handle(
            ep,
            &EndpointRequest {
                body: body.as_bytes(),
                headers: h,
            },
        ));
        Answer::from(res)
    }
}

#[derive(Debug)]
struct Answer {
    status: u16,
    body: Value,
    set_cookie: Vec<String>,
    www: Option<String>,
}

impl From<EndpointResponse> for Answer {
    fn from(res: EndpointResponse) -> Self {
        let all = |name: &str| -> Vec<String> {
            res.headers
                .iter()
                .filter(|(k, _)| k == name)
                .map(|(_, v)| v.to_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!(all("cache-control"), ["no-store"]);
        assert_eq!(all("content-type"), ["application/json"]);
        Answer {
            status: res.status.as_u16(),
            body: serde_json::from_slice(&res.body).unwrap(),
            set_cookie: all("set-cookie"),
            www: all("www-authenticate").pop(),
        }
    }
}

impl Answer {
    /// The value a `Set-Cookie` line sets for `name`.
    fn cookie(&self, name: &str) -> Option<String> {
        self.set_cookie
            .iter()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .map(|rest| rest.split(';').next().unwrap().to_owned())
    }
    /// The lines with the values blanked: the attributes, exactly.
    fn shapes(&self) -> Vec<String> {
        self.set_cookie
            .iter()
            .map(|l| {
                let (nv, attrs) = l.split_once(';').unwrap();
                let (name, value) = nv.split_once('=').unwrap();
                format!("{name}={};{attrs}", if value.is_empty() { "" } else { "…" })
            })
            .collect()
    }
}

// ------------------------------------------------------------------------------------------
// The authenticator and the CSRF rule in the chain

#[test]
fn a_cookie_authenticates_a_safe_request_as_the_cookie_authenticator() {
    let w = world();
    let at = w.access();
    let h = headers(&[("cookie", &format!("theme=dark; keycard_access={at}"))]);
    assert_eq!(
        w.authenticate(&w.chain(), "GET", &h).unwrap().as_deref(),
        Some("cookie")
    );
}

/// Method × origin × token × who authenticated: the CSRF rule binds requests a cookie
/// authenticated, and only those.
#[test]
#[allow(clippy::type_complexity)]
fn csrf_matrix_through_the_chain() {
    let w = world();
    let chain = w.chain();
    let at = w.access();
    let methods = ["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"];
    let origins: [(&str, Option<(&str, &str)>, bool); 5] = [
        ("none", None, false),
        ("trusted", Some(("origin", TRUSTED)), true),
        ("untrusted", Some(("origin", "https://evil.example")), false),
        (
            "trusted referer",
            Some(("referer", "https://app.example.com/notes")),
            true,
        ),
        (
            "untrusted referer",
            Some(("referer", "http://app.example.com/")),
            false,
        ),
    ];
    let tokens: [(&str, Option<&str>, Option<&str>, bool); 4] = [
        ("absent", None, None, false),
        ("cookie only", Some(CSRF), None, false),
        ("matching", Some(CSRF), Some(CSRF), true),
        (
            "mismatch",
            Some(CSRF),
            Some("zyxwvutsrqponmlkjihgfedcba543210"),
            false,
        ),
    ];
    // How the access token travels: (cookie, Authorization header) → who answers.
    let carriers = [
        ("cookie", true, false),
        ("header", false, true),
        ("both", true, true),
    ];
    let mut n = 0;
    for method in methods {
        for (oname, origin, trusted) in origins {
            for (tname, csrf_cookie, csrf_header, matching) in tokens {
                for (carrier, in_cookie, in_header) in carriers {
                    let mut cookie = String::new();
                    if in_cookie {
                        cookie.push_str(&format!("keycard_access={at}; "));
                    }
                    if let Some(c) = csrf_cookie {
                        cookie.push_str(&format!("csrftoken={c}"));
                    }
                    let bearer = format!("Bearer {at}");
                    let mut pairs = vec![];
                    if !cookie.is_empty() {
                        pairs.push(("cookie", cookie.as_str()));
                    }
                    if in_header {
                        pairs.push(("authorization", bearer.as_str()));
                    }
                    if let Some(h) = csrf_header {
                        pairs.push(("x-csrftoken", h));
                    }
                    if let Some(o) = origin {
                        pairs.push(o);
                    }
                    let got = w.authenticate(&chain, method, &headers(&pairs));
                    let ctx = format!("{method}, origin {oname}, token {tname}, by {carrier}");
                    let safe = matches!(method, "GET" | "HEAD" | "OPTIONS");
                    if in_header {
                        // The bearer authenticator answers first: no CSRF rule.
                        assert_eq!(got.unwrap().as_deref(), Some("jwt"), "{ctx}");
                    } else if safe || trusted || matching {
                        assert_eq!(got.unwrap().as_deref(), Some("cookie"), "{ctx}");
                    } else {
                        let e = got.unwrap_err();
                        assert_eq!(
                            (e.status().as_u16(), e.code()),
                            (403, "csrf_failed"),
                            "{ctx}"
                        );
                        assert!(e.www_authenticate().is_none(), "{ctx}");
                        let r = e.render();
                        assert!(
                            r.headers.iter().all(|(k, _)| k != "www-authenticate"),
                            "{ctx}"
                        );
                    }
                    n += 1;
                }
            }
        }
    }
    assert_eq!(n, 7 * 5 * 4 * 3);
}

#[test]
fn csrf_failure_renders_the_drf_body() {
    let w = world();
    let h = headers(&[("cookie", &format!("keycard_access={}", w.access()))]);
    let e = w.authenticate(&w.chain(), "POST", &h).unwrap_err();
    let body: Value = serde_json::from_slice(&e.render().body).unwrap();
    assert_eq!(
        body,
        json!({"detail": "CSRF Failed: CSRF token missing.", "code": "csrf_failed"})
    );
    let h = headers(&[
        (
            "cookie",
            &format!("keycard_access={}; csrftoken={CSRF}", w.access()),
        ),
        ("x-csrftoken", "wrong-wrong-wrong-wrong"),
    ]);
    let e = w.authenticate(&w.chain(), "POST", &h).unwrap_err();
    assert_eq!(e.detail(), "CSRF Failed: CSRF token incorrect.");
}

#[test]
fn a_stale_cookie_is_a_401_with_the_bearer_challenge_even_on_a_forged_post() {
    let w = world();
    let at = w.access();
    w.clock.advance(301);
    let h = headers(&[("cookie", &format!("keycard_access={at}"))]);
    for method in ["GET", "POST"] {
        let e = w.authenticate(&w.chain(), method, &h).unwrap_err();
        assert_eq!((e.status().as_u16(), e.code()), (401, "token_not_valid"));
        // Another authenticator failed: the first one's challenge, without error attributes.
        assert_eq!(e.www_authenticate().unwrap(), r#"Bearer realm="api""#);
    }
}

#[test]
fn garbage_duplicates_and_empty_cookies() {
    let w = world();
    let chain = w.chain();
    let e = w
        .authenticate(
            &chain,
            "GET",
            &headers(&[("cookie", "keycard_access=garbage")]),
        )
        .unwrap_err();
    assert_eq!(e.code(), "token_not_valid");
    let at = w.access();
    let twice = headers(&[
        ("cookie", &format!("keycard_access={at}")),
        ("cookie", &format!("keycard_access={at}")),
    ]);
    let e = w.authenticate(&chain, "GET", &twice).unwrap_err();
    assert_eq!((e.status().as_u16(), e.code()), (401, "bad_cookie"));
    // A cleared cookie (or a client that keeps empty ones) is no credential: anonymous.
    assert_eq!(
        w.authenticate(&chain, "POST", &headers(&[("cookie", "keycard_access=")]))
            .unwrap(),
        None
    );
    assert_eq!(
        w.authenticate(&chain, "POST", &headers(&[("cookie", "other=1")]))
            .unwrap(),
        None
    );
    // Quoted, as RFC 6265 allows.
    let quoted = headers(&[("cookie", &format!("keycard_access=\"{at}\""))]);
    assert_eq!(
        w.authenticate(&chain, "GET", &quoted).unwrap().as_deref(),
        Some("cookie")
    );
    // Non-ASCII and huge values are refused, not a panic.
    let big = format!("keycard_access={}", "a".repeat(100_000));
    for v in ["keycard_access=tök.en.x", big.as_str()] {
        let h = headers(&[("cookie", v)]);
        assert_eq!(
            w.authenticate(&chain, "GET", &h).unwrap_err().code(),
            "token_not_valid"
        );
    }
}

#[test]
fn the_cookies_user_is_loaded_like_the_bearers() {
    let w = world();
    let carol = User::new("3", "carol");
    let at = block(w.tokens.obtain_for(&carol)).unwrap().access;
    let e = w
        .authenticate(
            &w.chain(),
            "GET",
            &headers(&[("cookie", &format!("keycard_access={at}"))]),
        )
        .unwrap_err();
    assert_eq!(e.code(), "user_inactive");
    let ghost = block(w.tokens.obtain_for(&User::new("99", "ghost")))
        .unwrap()
        .access;
    let e = w
        .authenticate(
            &w.chain(),
            "GET",
            &headers(&[("cookie", &format!("keycard_access={ghost}"))]),
        )
        .unwrap_err();
    assert_eq!(e.code(), "user_not_found");
}

#[test]
fn cookie_first_in_the_chain_has_no_challenge_so_401s_become_403s() {
    let w = world();
    let chain = Authenticators::new().with(CookieAuthentication::new(
        w.tokens.clone(),
        w.cookies.clone(),
    ));
    assert!(chain.challenge().is_none());
    let e = w
        .authenticate(
            &chain,
            "GET",
            &headers(&[("cookie", "keycard_access=garbage")]),
        )
        .unwrap_err();
    assert_eq!((e.status().as_u16(), e.code()), (403, "token_not_valid"));
}

#[test]
fn a_lenient_chain_still_refuses_a_forged_request() {
    let w = world();
    let h = headers(&[("cookie", &format!("keycard_access={}", w.access()))]);
    let method = http::Method::POST;
    let uri: http::Uri = "/".parse().unwrap();
    let head = RequestHead::from_parts(&method, &uri, &h);
    let e = block(w.chain().outcome_lenient(&head)).unwrap_err();
    assert_eq!(e.code(), "csrf_failed");
}

// ------------------------------------------------------------------------------------------
// The token endpoints in cookie mode

fn json_headers(extra: &[(&str, &str)]) -> http::HeaderMap {
    let mut pairs = vec![("content-type", "application/json")];
    pairs.extend_from_slice(extra);
    headers(&pairs)
}

const LOGIN: &str = r#"{"username":"alice","password":"alice-password"}"#;

#[test]
fn obtain_sets_three_cookies_with_exact_attributes_and_answers_an_empty_object() {
    let w = world();
    let a = w.call(Endpoint::Obtain, LOGIN, &json_headers(&[]));
    assert_eq!((a.status, &a.body), (200, &json!({})));
    assert_eq!(
        a.shapes(),
        [
            "keycard_access=…; Path=/; Max-Age=300; HttpOnly; Secure; SameSite=Lax",
            "keycard_refresh=…; Path=/api/token/; Max-Age=86400; HttpOnly; Secure; SameSite=Lax",
            "csrftoken=…; Path=/; Max-Age=86400; Secure; SameSite=Lax",
        ]
    );
    let at = a.cookie("keycard_access").unwrap();
    assert_eq!(block(w.tokens.verify_access(&at)).unwrap().user_id(), "1");
    assert_eq!(a.cookie("csrftoken").unwrap().len(), 43);
}

#[test]
fn obtain_can_return_the_tokens_in_the_body_too() {
    let w = world_with(
        CookieSettings::builder()
            .tokens_in_body(true)
            .build()
            .unwrap(),
    );
    let a = w.call(Endpoint::Obtain, LOGIN, &json_headers(&[]));
    assert_eq!(
        a.body["access"].as_str().unwrap(),
        a.cookie("keycard_access").unwrap()
    );
    assert_eq!(
        a.body["refresh"].as_str().unwrap(),
        a.cookie("keycard_refresh").unwrap()
    );
}

#[test]
fn obtain_refuses_a_form_that_another_site_could_send() {
    let w = world();
    for ct in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ] {
        let a = w.call(
            Endpoint::Obtain,
            LOGIN,
            &headers(&[("content-type", ct), ("origin", "https://evil.example")]),
        );
        assert_eq!(
            (a.status, a.body["code"].as_str()),
            (403, Some("csrf_failed")),
            "{ct}"
        );
        assert!(a.set_cookie.is_empty() && a.www.is_none());
    }
    // The same body from a trusted origin is fine.
    let a = w.call(
        Endpoint::Obtain,
        LOGIN,
        &headers(&[("content-type", "text/plain"), ("origin", TRUSTED)]),
    );
    assert_eq!(a.status, 200);
    // Wrong password: the usual 401, no cookies.
    let a = w.call(
        Endpoint::Obtain,
        r#"{"username":"alice","password":"x"}"#,
        &json_headers(&[]),
    );
    assert_eq!(
        (a.status, a.body["code"].as_str()),
        (401, Some("no_active_account"))
    );
    assert!(a.set_cookie.is_empty());
}

fn logged_in(w: &World) -> (String, String, String) {
    let a = w.call(Endpoint::Obtain, LOGIN, &json_headers(&[]));
    (
        a.cookie("keycard_access").unwrap(),
        a.cookie("keycard_refresh").unwrap(),
        a.cookie("csrftoken").unwrap(),
    )
}

#[test]
fn refresh_from_the_cookie_with_the_csrf_token_rotates_both_cookies_and_keeps_the_csrf_token() {
    let w = world();
    let (_, rt, csrf) = logged_in(&w);
    let h = headers(&[
        ("cookie", &format!("keycard_refresh={rt}; csrftoken={csrf}")),
        ("x-csrftoken", &csrf),
    ]);
    let a = w.call(Endpoint::Refresh, "", &h);
    assert_eq!((a.status, &a.body), (200, &json!({})), "{a:?}");
    assert_eq!(a.shapes().len(), 3);
    assert_ne!(a.cookie("keycard_refresh").unwrap(), rt);
    assert_eq!(a.cookie("csrftoken").unwrap(), csrf);
    // `{}` as a body is no token either.
    let rt2 = a.cookie("keycard_refresh").unwrap();
    let h = headers(&[
        (
            "cookie",
            &format!("keycard_refresh={rt2}; csrftoken={csrf}"),
        ),
        ("x-csrftoken", &csrf),
    ]);
    assert_eq!(w.call(Endpoint::Refresh, "{}", &h).status, 200);
}

#[test]
fn refresh_from_the_cookie_without_a_csrf_proof_is_refused_and_changes_nothing() {
    let w = world();
    let (_, rt, csrf) = logged_in(&w);
    for extra in [
        vec![],
        vec![("origin", "https://evil.example")],
        vec![("x-csrftoken", "nope-nope-nope-nope")],
    ] {
        let cookie = format!("keycard_refresh={rt}; csrftoken={csrf}");
        let mut pairs = vec![
            ("cookie", cookie.as_str()),
            ("content-type", "application/json"),
        ];
        pairs.extend(extra);
        let a = w.call(Endpoint::Refresh, "", &headers(&pairs));
        assert_eq!(
            (a.status, a.body["code"].as_str()),
            (403, Some("csrf_failed"))
        );
        assert!(a.set_cookie.is_empty() && a.www.is_none());
    }
    // The refresh token was not spent: it still works with the proof.
    let h = headers(&[
        ("cookie", &format!("keycard_refresh={rt}")),
        ("origin", TRUSTED),
    ]);
    assert_eq!(w.call(Endpoint::Refresh, "", &h).status, 200);
}

#[test]
fn a_refused_refresh_cookie_is_cleared() {
    let w = world();
    let (_, rt, csrf) = logged_in(&w);
    let h = headers(&[
        ("cookie", &format!("keycard_refresh={rt}; csrftoken={csrf}")),
        ("x-csrftoken", &csrf),
    ]);
    assert_eq!(w.call(Endpoint::Refresh, "", &h).status, 200);
    // Reuse of the spent one: 401, its session revoked, and the dead cookies go.
    let a = w.call(Endpoint::Refresh, "", &h);
    assert_eq!(
        (a.status, a.body["code"].as_str()),
        (401, Some("token_not_valid"))
    );
    assert_eq!(
        a.www.as_deref(),
        Some(
            r#"Bearer realm="api", error="invalid_token", error_description="Token has already been used; its session is revoked""#
        )
    );
    assert_eq!(
        a.shapes(),
        [
            "keycard_access=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax",
            "keycard_refresh=; Path=/api/token/; Max-Age=0; HttpOnly; Secure; SameSite=Lax",
            "csrftoken=; Path=/; Max-Age=0; Secure; SameSite=Lax",
        ]
    );
}

#[test]
fn refresh_with_the_token_in_a_json_body_needs_no_csrf_token() {
    let w = world();
    let (_, rt, _) = logged_in(&w);
    let a = w.call(
        Endpoint::Refresh,
        &format!(r#"{{"refresh":"{rt}"}}"#),
        &json_headers(&[]),
    );
    assert_eq!(a.status, 200);
    assert_eq!(
        a.cookie("csrftoken").unwrap().len(),
        43,
        "a fresh CSRF token when none came"
    );
    // The same body as a cross-site text/plain form: refused (it would plant the sender's session).
    let (_, rt, _) = logged_in(&w);
    let a = w.call(
        Endpoint::Refresh,
        &format!(r#"{{"refresh":"{rt}"}}"#),
        &headers(&[("content-type", "text/plain")]),
    );
    assert_eq!(
        (a.status, a.body["code"].as_str()),
        (403, Some("csrf_failed"))
    );
}

#[test]
fn refresh_without_any_token_and_with_two_cookies() {
    let w = world();
    let a = w.call(Endpoint::Refresh, "", &json_headers(&[]));
    assert_eq!(
        (a.status, &a.body),
        (400, &json!({"refresh": ["This field is required."]}))
    );
    let a = w.call(Endpoint::Refresh, r#"{"refresh":""}"#, &json_headers(&[]));
    assert_eq!(
        (a.status, &a.body),
        (400, &json!({"refresh": ["This field may not be blank."]}))
    );
    let a = w.call(Endpoint::Refresh, "nope", &json_headers(&[]));
    assert_eq!(
        (a.status, a.body["detail"].as_str()),
        (400, Some("JSON parse error."))
    );
    let (_, rt, csrf) = logged_in(&w);
    let h = headers(&[
        (
            "cookie",
            &format!("keycard_refresh={rt}; keycard_refresh=x; csrftoken={csrf}"),
        ),
        ("x-csrftoken", &csrf),
    ]);
    let a = w.call(Endpoint::Refresh, "", &h);
    assert_eq!(
        (a.status, a.body["code"].as_str()),
        (401, Some("bad_cookie"))
    );
    assert!(a.set_cookie.is_empty());
}

#[test]
fn logout_from_the_cookie_ends_the_session_and_clears_the_cookies() {
    let w = world();
    let (at, rt, csrf) = logged_in(&w);
    let h = headers(&[
        (
            "cookie",
            &format!("keycard_access={at}; keycard_refresh={rt}; csrftoken={csrf}"),
        ),
        ("x-csrftoken", &csrf),
    ]);
    let a = w.call(Endpoint::Blacklist, "", &h);
    assert_eq!((a.status, &a.body), (200, &json!({})));
    assert_eq!(
        a.shapes(),
        [
            "keycard_access=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax",
            "keycard_refresh=; Path=/api/token/; Max-Age=0; HttpOnly; Secure; SameSite=Lax",
            "csrftoken=; Path=/; Max-Age=0; Secure; SameSite=Lax",
        ]
    );
    assert_eq!(
        block(w.tokens.verify_access(&at)).unwrap_err().code(),
        "token_not_valid"
    );
    // Again: the token is dead, 401, and the cookies are cleared once more.
    let a = w.call(Endpoint::Blacklist, "", &h);
    assert_eq!((a.status, a.set_cookie.len()), (401, 3));
    // A forged logout (no proof) does nothing.
    let (_, rt, _) = logged_in(&w);
    let a = w.call(
        Endpoint::Blacklist,
        "",
        &headers(&[("cookie", &format!("keycard_refresh={rt}"))]),
    );
    assert_eq!(
        (a.status, a.body["code"].as_str(), a.set_cookie.len()),
        (403, Some("csrf_failed"), 0)
    );
}

#[test]
fn insecure_on_loopback_leaves_secure_out_for_a_loopback_host_only() {
    let w = world_with(
        CookieSettings::builder()
            .insecure_on_loopback(true)
            .build()
            .unwrap(),
    );
    let a = w.call(
        Endpoint::Obtain,
        LOGIN,
        &json_headers(&[("host", "127.0.0.1:8000")]),
    );
    assert!(
        a.set_cookie.iter().all(|l| !l.contains("Secure")),
        "{:?}",
        a.set_cookie
    );
    let a = w.call(
        Endpoint::Obtain,
        LOGIN,
        &json_headers(&[("host", "api.example.com")]),
    );
    assert!(
        a.set_cookie.iter().all(|l| l.contains("; Secure;")),
        "{:?}",
        a.set_cookie
    );
}

#[test]
fn without_cookies_the_endpoints_answer_as_handle_does() {
    let w = world();
    let plain = TokenEndpoints::from(w.tokens.clone());
    assert!(plain.cookies().is_none());
    for (ep, body) in [
        (Endpoint::Obtain, LOGIN),
        (Endpoint::Obtain, "{}"),
        (Endpoint::Refresh, ""),
        (Endpoint::Verify, r#"{"token":"x"}"#),
        (Endpoint::Blacklist, r#"{"refresh":"x.y.z"}"#),
    ] {
        let h = headers(&[
            ("cookie", "keycard_refresh=x"),
            ("content-type", "application/json"),
        ]);
        let a = block(plain.handle(
            ep,
            &EndpointRequest {
                body: body.as_bytes(),
                headers: &h,
            },
        ));
        let b = block(handle(&w.tokens, ep, body.as_bytes()));
        assert_eq!(a.status, b.status, "{ep:?} {body}");
        assert!(a.headers.iter().all(|(k, _)| k != "set-cookie"));
        if ep != Endpoint::Obtain || body != LOGIN {
            assert_eq!(a.body, b.body, "{ep:?} {body}");
        }
    }
    // Verify is the same in cookie mode: it reads no cookie.
    let a = w.call(
        Endpoint::Verify,
        "",
        &json_headers(&[("cookie", "keycard_access=x")]),
    );
    assert_eq!(a.status, 400);
}
