//! Property tests: no header value panics the parser or the chain, and nothing a client sends
//! is echoed into `WWW-Authenticate` or the body — every answer is built from a fixed
//! vocabulary.

#![allow(clippy::unwrap_used)]

use std::sync::{Arc, OnceLock};

use keycard_core::authn::{Credentials, HeaderLookup, HeaderSource, parse_credentials};
use keycard_core::{
    AuthError, Authenticators, BasicAuthentication, Challenge, FrozenClock, InMemoryApiKeyStore,
    InMemoryUserStore, IsAuthenticated, JwtAuthentication, RequestHead, Settings,
    TokenAuthentication, TokenError, TokenService, User, UserStore,
};
use proptest::prelude::*;

const NOW: u64 = 1_796_300_000;

/// Every `detail` an authentication answer may carry.
fn vocabulary() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = [
        TokenError::Malformed,
        TokenError::TooLarge,
        TokenError::Algorithm,
        TokenError::UnknownKey,
        TokenError::Signature,
        TokenError::HeaderParameter,
        TokenError::Expired,
        TokenError::NotYetValid,
        TokenError::IssuedInFuture,
        TokenError::Audience,
        TokenError::Issuer,
        TokenError::WrongType,
        TokenError::MissingClaim,
        TokenError::InvalidClaim,
        TokenError::Blacklisted,
        TokenError::Reused,
        TokenError::RefreshExpired,
    ]
    .iter()
    .map(TokenError::description)
    .collect();
    v.extend([
        "Authentication credentials were not provided.",
        "Authorization header must be sent once.",
        "Authorization header must contain two space-delimited values",
        "Authorization header must contain a single token",
        "User not found",
        "User is inactive",
        "The user's password has been changed.",
        "Invalid basic header. Credentials not correctly base64 encoded.",
        "Invalid basic header. No credentials provided.",
        "Invalid basic header. Credentials string should not contain spaces.",
        "Invalid basic header. Authorization header must be sent once.",
        "Invalid username/password.",
        "User inactive or deleted.",
        "Invalid token header. No credentials provided.",
        "Invalid token header. Token string should not contain spaces.",
        "Invalid token header. Token string should not contain invalid characters.",
        "Invalid token header. The header must be sent once.",
        "Invalid token.",
    ]);
    v
}

/// Checks an error answer is made of the vocabulary only: the body's detail is one of its
/// sentences, the code a fixed word, and the challenge `Bearer realm="api"` with, at most,
/// a fixed error and a description from the vocabulary.
fn assert_fixed_vocabulary(e: &AuthError) -> Result<(), TestCaseError> {
    let vocab = vocabulary();
    let r = e.render();
    let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    let detail = body["detail"].as_str().unwrap();
    prop_assert!(
        vocab.contains(&detail),
        "detail not in vocabulary: {:?}",
        detail
    );
    let code = body["code"].as_str().unwrap();
    prop_assert!(
        [
            "not_authenticated",
            "bad_authorization_header",
            "token_not_valid",
            "authentication_failed",
            "user_not_found",
            "user_inactive",
            "password_changed"
        ]
        .contains(&code),
        "code {:?}",
        code
    );
    prop_assert_eq!(r.status.as_u16(), 401);
    let www = e.www_authenticate();
    let rendered = r
        .headers
        .iter()
        .find(|(k, _)| k == http::header::WWW_AUTHENTICATE)
        .map(|(_, v)| v.to_str().unwrap().to_owned());
    prop_assert_eq!(&www, &rendered, "header dropped or altered");
    let www = www.unwrap();
    let rest = www.strip_prefix(r#"Bearer realm="api""#).unwrap();
    if !rest.is_empty() {
        let ok = ["invalid_request", "invalid_token"].iter().any(|err| {
            vocab
                .iter()
                .any(|d| rest == format!(r#", error="{err}", error_description="{d}""#))
        });
        prop_assert!(ok, "challenge not from the vocabulary: {}", www);
    }
    Ok(())
}

/// A header source handing out any bytes at all (what a lax server might pass through),
/// including CR, LF, NUL and DEL, which `http::HeaderValue` would refuse.
struct Raw(Vec<Vec<u8>>);
impl HeaderSource for Raw {
    fn lookup(&self, name: &str) -> HeaderLookup<'_> {
        if name != "authorization" {
            return HeaderLookup::Missing;
        }
        match self.0.as_slice() {
            [] => HeaderLookup::Missing,
            [one] => HeaderLookup::One(one),
            _ => HeaderLookup::Many,
        }
    }
}

struct Fixture {
    rt: tokio::runtime::Runtime,
    chain: Authenticators,
    access: String,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let users = Arc::new(InMemoryUserStore::new());
        users.insert(User::new("42", "user42"), "pw");
        let settings = Settings::builder()
            .hmac_secret([0x42; 32])
            .clock(Arc::new(FrozenClock::new(NOW)))
            .build()
            .unwrap();
        let tokens = TokenService::builder(settings)
            .users_arc(users.clone())
            .build()
            .unwrap();
        let access = rt
            .block_on(tokens.obtain_for(&User::new("42", "user42")))
            .unwrap()
            .access;
        let keys = Arc::new(InMemoryApiKeyStore::new());
        keys.insert(
            "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b",
            User::new("42", "user42"),
        );
        let basic_users: Arc<dyn UserStore> = users;
        let chain = Authenticators::new()
            .with(JwtAuthentication::new(tokens))
            .with(BasicAuthentication::new(basic_users, "api"))
            .with(TokenAuthentication::new(keys, "api"));
        Fixture { rt, chain, access }
    })
}

/// Runs the chain and `IsAuthenticated`; checks the answer.
fn check_chain(values: Vec<Vec<u8>>) -> Result<(), TestCaseError> {
    let f = fixture();
    let raw = Raw(values);
    let head = RequestHead {
        method: "GET",
        path: "/",
        query: None,
        headers: &raw,
    };
    let result = f.rt.block_on(f.chain.outcome(&head));
    match result.and_then(|o| o.enforce(&IsAuthenticated, "GET", "/").map(|()| o)) {
        Ok(o) => {
            let id = o.identity.map(|i| i.user_id().to_owned());
            prop_assert_eq!(id.as_deref(), Some("42"));
        }
        Err(e) => assert_fixed_vocabulary(&e)?,
    }
    Ok(())
}

fn schemes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"Bearer ".to_vec()),
        Just(b"bearer\t".to_vec()),
        Just(b" BEARER  ".to_vec()),
        Just(b"Basic ".to_vec()),
        Just(b"Token ".to_vec()),
        Just(b"Bearer".to_vec()),
        Just(Vec::new()),
    ]
}

/// Header values: arbitrary bytes, a known scheme before arbitrary bytes, a scheme before
/// something token-shaped, and a real token with one byte changed or inserted.
fn header_value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..300),
        (schemes(), proptest::collection::vec(any::<u8>(), 0..300)).prop_map(|(mut s, rest)| {
            s.extend(rest);
            s
        }),
        (
            schemes(),
            "[A-Za-z0-9_\\-]{1,40}\\.[A-Za-z0-9_\\-=+/]{0,40}\\.[A-Za-z0-9_\\-\"\\\\%]{0,40}"
        )
            .prop_map(|(mut s, t)| {
                s.extend(t.into_bytes());
                s
            }),
        (any::<prop::sample::Index>(), any::<u8>(), any::<bool>()).prop_map(|(i, b, insert)| {
            let mut t = format!("Bearer {}", fixture().access).into_bytes();
            let at = 7 + i.index(t.len() - 7);
            if insert {
                t.insert(at, b);
            } else {
                t[at] = b;
            }
            t
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn parse_credentials_never_panics_and_returns_a_clean_single_value(
        value in proptest::collection::vec(any::<u8>(), 0..512),
        schemes in proptest::collection::vec("[A-Za-z]{1,8}", 0..3),
    ) {
        match parse_credentials(&value, &schemes) {
            Credentials::Value(v) => {
                prop_assert!(!v.is_empty());
                prop_assert!(!v.iter().any(|b| matches!(b, b' ' | b'\t' | b',')));
                // A sub-slice of the input, not a copy.
                let range = value.as_ptr_range();
                prop_assert!(range.contains(&v.as_ptr()));
            }
            Credentials::NotMine | Credentials::Missing | Credentials::Several => {}
        }
    }

    #[test]
    fn parse_credentials_accepts_any_case_and_surrounding_whitespace(
        token in "[!-+\\--~]{1,64}",
        upper in proptest::collection::vec(any::<bool>(), 6),
        pre in "[ \t]{0,3}", mid in "[ \t]{1,3}", post in "[ \t]{0,3}",
    ) {
        let scheme: String = "bearer".chars().zip(upper).map(|(c, u)| if u { c.to_ascii_uppercase() } else { c }).collect();
        let value = format!("{pre}{scheme}{mid}{token}{post}");
        let schemes = ["Bearer".to_owned()];
        prop_assert_eq!(parse_credentials(value.as_bytes(), &schemes), Credentials::Value(token.as_bytes()));
    }

    #[test]
    fn chain_with_any_raw_header_bytes_answers_from_the_vocabulary(value in header_value()) {
        check_chain(vec![value])?;
    }

    #[test]
    fn chain_with_two_arbitrary_headers_is_bad_authorization_header(a in header_value(), b in header_value()) {
        let f = fixture();
        let raw = Raw(vec![a, b]);
        let head = RequestHead { method: "GET", path: "/", query: None, headers: &raw };
        let e = f.rt.block_on(f.chain.authenticate(&head)).unwrap_err();
        prop_assert_eq!(e.code(), "bad_authorization_header");
        assert_fixed_vocabulary(&e)?;
    }

    #[test]
    fn chain_through_http_header_map_answers_from_the_vocabulary(value in header_value()) {
        // Only values http accepts reach a real server's HeaderMap.
        if let Ok(v) = http::HeaderValue::from_bytes(&value) {
            let f = fixture();
            let mut h = http::HeaderMap::new();
            h.insert(http::header::AUTHORIZATION, v);
            let head = RequestHead { method: "GET", path: "/", query: None, headers: &h };
            match f.rt.block_on(f.chain.outcome(&head)).and_then(|o| o.enforce(&IsAuthenticated, "GET", "/").map(|()| o)) {
                Ok(o) => {
            let id = o.identity.map(|i| i.user_id().to_owned());
            prop_assert_eq!(id.as_deref(), Some("42"));
        }
                Err(e) => assert_fixed_vocabulary(&e)?,
            }
        }
    }

    #[test]
    fn a_marker_in_the_token_never_comes_back(
        scheme in schemes(),
        marker in "[A-Za-z0-9]{16}",
        around in proptest::collection::vec(any::<u8>(), 0..40),
    ) {
        let mut value = scheme;
        value.extend_from_slice(&around);
        value.extend_from_slice(marker.as_bytes());
        value.extend_from_slice(&around);
        let f = fixture();
        let raw = Raw(vec![value]);
        let head = RequestHead { method: "GET", path: "/", query: None, headers: &raw };
        if let Err(e) = f.rt.block_on(f.chain.outcome(&head)).and_then(|o| o.enforce(&IsAuthenticated, "GET", "/")) {
            let r = e.render();
            let body = String::from_utf8(r.body).unwrap();
            let www = e.www_authenticate().unwrap_or_default();
            prop_assert!(!body.contains(&marker) && !www.contains(&marker), "{} / {}", body, www);
        }
    }

    #[test]
    fn any_realm_renders_a_valid_header(realm in any::<String>(), kind in 0u8..4) {
        let c = Challenge::new("Bearer", realm, true);
        let e = match kind {
            0 => AuthError::not_authenticated(Some(c)),
            1 => AuthError::invalid_token(TokenError::Expired).with_challenge(Some(c)),
            2 => AuthError::bad_header("Authorization header must be sent once.").with_challenge(Some(c)),
            _ => AuthError::user_not_found().with_challenge(Some(c)),
        };
        let www = e.www_authenticate().unwrap();
        prop_assert!(http::HeaderValue::from_str(&www).is_ok(), "{:?}", www);
        prop_assert!(www.bytes().all(|b| (0x20..0x7f).contains(&b)));
        prop_assert!(e.render().headers.iter().any(|(k, _)| k == http::header::WWW_AUTHENTICATE));
    }
}

proptest! {
    /// A scheme from the app's configuration (a TokenAuthentication keyword, a custom
    /// authenticator's challenge) never makes the 401 lose its WWW-Authenticate.
    #[test]
    fn any_scheme_renders_a_valid_header(scheme in any::<String>(), realm in any::<String>()) {
        let e = AuthError::not_authenticated(Some(Challenge::new(scheme, realm, true)));
        let www = e.www_authenticate().unwrap();
        prop_assert!(www.bytes().all(|b| (0x20..0x7f).contains(&b)), "{:?}", www);
        prop_assert!(e.render().headers.iter().any(|(k, _)| k == http::header::WWW_AUTHENTICATE));
    }
}

#[test]
fn non_ascii_token_keyword_keeps_the_challenge_header() {
    let keys = Arc::new(InMemoryApiKeyStore::new());
    let chain = Authenticators::new().with(TokenAuthentication::new(keys, "api").keyword("Clé"));
    let e = chain.not_authenticated();
    assert_eq!(e.status(), 401);
    assert_eq!(e.www_authenticate().as_deref(), Some(r#"Cl? realm="api""#));
    assert!(
        e.render()
            .headers
            .iter()
            .any(|(k, _)| k == http::header::WWW_AUTHENTICATE)
    );
}
