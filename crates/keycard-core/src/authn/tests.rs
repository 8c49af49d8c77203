//! Chain and header cases (AU4, AU5, AU7, AU8, AU10, AU11, HX1–HX3).

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use super::*;
use crate::store::{InMemoryUserStore, User};
use crate::{Settings, TokenService};

fn block<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

fn users() -> Arc<InMemoryUserStore> {
    let u = InMemoryUserStore::new();
    u.insert(User::new("42", "user42"), "pw");
    Arc::new(u)
}

fn service(users: Arc<InMemoryUserStore>) -> TokenService {
    TokenService::builder(Settings::builder().hmac_secret([9u8; 32]).build().unwrap())
        .users_arc(users)
        .build()
        .unwrap()
}

fn head_with(headers: &http::HeaderMap) -> RequestHead<'_> {
    RequestHead {
        method: "GET",
        path: "/",
        query: None,
        headers,
    }
}

fn auth_header(v: &[u8]) -> http::HeaderMap {
    let mut h = http::HeaderMap::new();
    h.insert(
        http::header::AUTHORIZATION,
        http::HeaderValue::from_bytes(v).unwrap(),
    );
    h
}

#[test]
fn smoke_jwt_chain_accepts_minted_access_token() {
    block(async {
        let u = users();
        let tokens = service(u.clone());
        let pair = tokens.obtain_for(&u.get("42").unwrap()).await.unwrap();
        let chain = Authenticators::new().with(JwtAuthentication::new(tokens));
        let h = auth_header(format!("Bearer {}", pair.access).as_bytes());
        let id = chain.authenticate(&head_with(&h)).await.unwrap().unwrap();
        assert_eq!(id.user_id(), "42");
        assert_eq!(id.authenticator(), "jwt");
    });
}

// ---------------------------------------------------------------------------------------
// The chain's rules, with scripted authenticators.

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::error::TokenError;
use crate::store::{InMemoryApiKeyStore, InMemoryRevocationStore};

/// Answers what it is told and counts how often it is asked.
struct Scripted {
    answer: fn() -> Outcome,
    challenge: Option<Challenge>,
    calls: Arc<AtomicUsize>,
    name: &'static str,
}

fn scripted(
    answer: fn() -> Outcome,
    challenge: Option<Challenge>,
    name: &'static str,
) -> (Scripted, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    (
        Scripted {
            answer,
            challenge,
            calls: calls.clone(),
            name,
        },
        calls,
    )
}

impl Authenticator for Scripted {
    fn authenticate<'a>(&'a self, _: &'a RequestHead<'_>) -> crate::BoxFuture<'a, Outcome> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Box::pin(std::future::ready((self.answer)()))
    }
    fn challenge(&self) -> Option<Challenge> {
        self.challenge.clone()
    }
    fn name(&self) -> &'static str {
        self.name
    }
}

fn not_mine() -> Outcome {
    Outcome::NotMine
}
fn alice() -> Outcome {
    Outcome::Authenticated(Identity::from_user(User::new("1", "alice"), "scripted"))
}
fn expired() -> Outcome {
    Outcome::Failed(AuthError::invalid_token(TokenError::Expired))
}
fn down() -> Outcome {
    Outcome::Failed(AuthError::ServiceUnavailable)
}

fn run(chain: &Authenticators) -> Result<Option<Identity>, AuthError> {
    let h = http::HeaderMap::new();
    block(chain.authenticate(&head_with(&h)))
}

#[test]
fn empty_chain_is_anonymous_and_its_not_authenticated_is_403() {
    let chain = Authenticators::new();
    assert!(chain.is_empty() && chain.challenge().is_none());
    assert!(run(&chain).unwrap().is_none());
    let e = chain.not_authenticated();
    assert_eq!((e.status().as_u16(), e.code()), (403, "not_authenticated"));
}

#[test]
fn first_answer_wins_and_later_authenticators_are_not_asked() {
    let (a, _) = scripted(not_mine, Some(Challenge::bearer("api")), "a");
    let (b, b_calls) = scripted(alice, None, "b");
    let (c, c_calls) = scripted(expired, None, "c");
    let chain = Authenticators::new().with(a).with(b).with(c);
    assert_eq!(run(&chain).unwrap().unwrap().user_id(), "1");
    assert_eq!(
        (
            b_calls.load(Ordering::SeqCst),
            c_calls.load(Ordering::SeqCst)
        ),
        (1, 0)
    );
    assert_eq!(format!("{chain:?}"), r#"["a", "b", "c"]"#);
    assert_eq!(chain.len(), 3);
}

#[test]
fn a_failure_stops_the_chain() {
    let (a, _) = scripted(expired, Some(Challenge::bearer("api")), "a");
    let (b, b_calls) = scripted(alice, None, "b");
    let chain = Authenticators::new().with(a).with(b);
    let e = run(&chain).unwrap_err();
    assert_eq!(e.code(), "token_not_valid");
    assert_eq!(b_calls.load(Ordering::SeqCst), 0);
}

#[test]
fn first_authenticators_failure_keeps_rfc6750_attributes_later_ones_are_plain() {
    let bearer = || Some(Challenge::bearer("api"));
    let (a, _) = scripted(expired, bearer(), "a");
    let e = run(&Authenticators::new().with(a)).unwrap_err();
    assert_eq!(
        e.www_authenticate().unwrap(),
        r#"Bearer realm="api", error="invalid_token", error_description="Token is expired""#
    );
    let (a, _) = scripted(not_mine, bearer(), "a");
    let (b, _) = scripted(expired, Some(Challenge::basic("other")), "b");
    let e = run(&Authenticators::new().with(a).with(b)).unwrap_err();
    // The chain's challenge is the first one's, and it does not describe the second's error.
    assert_eq!(e.www_authenticate().unwrap(), r#"Bearer realm="api""#);
    assert_eq!(e.status(), 401);
}

#[test]
fn only_the_first_authenticators_challenge_counts() {
    let (a, _) = scripted(not_mine, None, "a");
    let (b, _) = scripted(not_mine, Some(Challenge::bearer("api")), "b");
    let chain = Authenticators::new().with(a).with(b);
    assert!(chain.challenge().is_none());
    assert_eq!(chain.not_authenticated().status(), 403);
}

#[test]
fn a_store_failure_is_503_whatever_the_challenge() {
    for challenge in [Some(Challenge::bearer("api")), None] {
        let (a, _) = scripted(down, challenge, "a");
        let chain = Authenticators::new().with(a);
        let e = run(&chain).unwrap_err();
        assert_eq!(e.status(), 503);
        assert!(e.www_authenticate().is_none());
        // The lenient outcome does not hide it either.
        let h = http::HeaderMap::new();
        assert_eq!(
            block(chain.outcome_lenient(&head_with(&h)))
                .unwrap_err()
                .status(),
            503
        );
    }
}

#[test]
fn shared_authenticators_through_with_arc() {
    let (a, calls) = scripted(alice, Some(Challenge::bearer("api")), "a");
    let shared: Arc<dyn Authenticator> = Arc::new(a);
    let one = Authenticators::new().with_arc(shared.clone());
    let two = Authenticators::new().with_arc(shared);
    run(&one).unwrap();
    run(&two).unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(one.challenge(), two.challenge());
}

// ---------------------------------------------------------------------------------------
// Header parsing

#[test]
fn parse_credentials_table() {
    let bearer = ["Bearer".to_owned()];
    let two = ["JWT".to_owned(), "Bearer".to_owned()];
    let cases: [(&[u8], &[String], Credentials<'_>); 22] = [
        (b"Bearer abc", &bearer, Credentials::Value(b"abc")),
        (b"Bearer  abc", &bearer, Credentials::Value(b"abc")),
        (b"\t Bearer\t\tabc \t", &bearer, Credentials::Value(b"abc")),
        (b"bEARER abc", &bearer, Credentials::Value(b"abc")),
        (b"jwt abc", &two, Credentials::Value(b"abc")),
        (b"Bearer abc", &two, Credentials::Value(b"abc")),
        (b"Bearer", &bearer, Credentials::Missing),
        (b"Bearer \t ", &bearer, Credentials::Missing),
        (b"Bearer a b", &bearer, Credentials::Several),
        (b"Bearer a\tb", &bearer, Credentials::Several),
        (b"Bearer a,b", &bearer, Credentials::Several),
        (b"Bearer ,", &bearer, Credentials::Several),
        (b"Bearer a,", &bearer, Credentials::Several),
        (b"", &bearer, Credentials::NotMine),
        (b"   ", &bearer, Credentials::NotMine),
        (b"Token abc", &bearer, Credentials::NotMine),
        (b"Bearerabc", &bearer, Credentials::NotMine),
        (b"Bearer,abc", &bearer, Credentials::NotMine),
        (b"Bear abc", &bearer, Credentials::NotMine),
        // Non-breaking space and vertical tab are not separators: no scheme matches.
        (b"Bearer\xc2\xa0abc", &bearer, Credentials::NotMine),
        (b"Bearer\x0babc", &bearer, Credentials::NotMine),
        (b"Bearer abc", &[], Credentials::NotMine),
    ];
    for (value, schemes, want) in cases {
        assert_eq!(
            parse_credentials(value, schemes),
            want,
            "{:?}",
            String::from_utf8_lossy(value)
        );
    }
}

#[test]
fn credentials_and_lookups_redact_in_debug() {
    let schemes = ["Bearer".to_owned()];
    let c = parse_credentials(b"Bearer s3cr3t-t0ken", &schemes);
    assert_eq!(format!("{c:?}"), "Value(******)");
    let h = auth_header(b"Bearer s3cr3t-t0ken");
    let l = h.lookup("authorization");
    assert_eq!(format!("{l:?}"), "One(<19 bytes>)");
}

#[test]
fn header_map_lookup_missing_one_many_and_case() {
    let mut h = http::HeaderMap::new();
    assert_eq!(h.lookup("authorization"), HeaderLookup::Missing);
    h.insert(
        http::header::AUTHORIZATION,
        http::HeaderValue::from_static("Bearer x"),
    );
    assert_eq!(h.lookup("authorization"), HeaderLookup::One(b"Bearer x"));
    assert_eq!(h.lookup("Authorization"), HeaderLookup::One(b"Bearer x"));
    h.append(
        http::header::AUTHORIZATION,
        http::HeaderValue::from_static("Bearer x"),
    );
    assert_eq!(h.lookup("authorization"), HeaderLookup::Many);
}

#[test]
fn only_jwt_shaped_answers_not_mine_for_other_shapes() {
    block(async {
        let u = users();
        let tokens = service(u);
        let chain = Authenticators::new()
            .with(JwtAuthentication::new(tokens.clone()).only_jwt_shaped(true));
        for not_jwt in [
            &b"opaque"[..],
            b"a.b",
            b"a.b.c.d",
            b"a..c",
            b".b.c",
            b"a.b.",
            b"a=.b.c",
            b"a+b.c.d",
            b"a.b.c\xff",
        ] {
            let mut v = b"Bearer ".to_vec();
            v.extend_from_slice(not_jwt);
            let h = auth_header(&v);
            assert!(
                chain.authenticate(&head_with(&h)).await.unwrap().is_none(),
                "{:?}",
                String::from_utf8_lossy(not_jwt)
            );
        }
        let h = auth_header(b"Bearer aaa.bbb.ccc");
        assert_eq!(
            chain.authenticate(&head_with(&h)).await.unwrap_err().code(),
            "token_not_valid"
        );
        // Without the option, anything after Bearer is the JWT authenticator's.
        let strict = Authenticators::new().with(JwtAuthentication::new(tokens));
        let h = auth_header(b"Bearer opaque");
        assert_eq!(
            strict
                .authenticate(&head_with(&h))
                .await
                .unwrap_err()
                .code(),
            "token_not_valid"
        );
    });
}

// ---------------------------------------------------------------------------------------
// Built-in authenticators beyond the cases

#[test]
fn stateless_jwt_still_refuses_a_revoked_session() {
    block(async {
        let u = users();
        let settings = Settings::builder().hmac_secret([9u8; 32]).build().unwrap();
        let tokens = TokenService::builder(settings)
            .users_arc(u.clone())
            .store(InMemoryRevocationStore::new())
            .build()
            .unwrap();
        let pair = tokens.obtain_for(&u.get("42").unwrap()).await.unwrap();
        let chain = Authenticators::new().with(JwtStatelessAuthentication::new(tokens.clone()));
        let h = auth_header(format!("Bearer {}", pair.access).as_bytes());
        assert!(chain.authenticate(&head_with(&h)).await.unwrap().is_some());
        tokens
            .blacklist(pair.refresh.as_deref().unwrap())
            .await
            .unwrap();
        let e = chain.authenticate(&head_with(&h)).await.unwrap_err();
        assert_eq!(
            (e.code(), e.detail().as_ref()),
            ("token_not_valid", "Token is blacklisted")
        );
    });
}

#[test]
fn jwt_authenticator_refuses_a_refresh_token() {
    block(async {
        let u = users();
        let tokens = service(u.clone());
        let pair = tokens.obtain_for(&u.get("42").unwrap()).await.unwrap();
        let chain = Authenticators::new().with(JwtAuthentication::new(tokens));
        let h = auth_header(format!("Bearer {}", pair.refresh.unwrap()).as_bytes());
        let e = chain.authenticate(&head_with(&h)).await.unwrap_err();
        assert_eq!(
            (e.code(), e.detail().as_ref()),
            ("token_not_valid", "Token has wrong type")
        );
    });
}

async fn ask(chain: &Authenticators, v: &[u8]) -> Result<Option<String>, (u16, String, String)> {
    let h = auth_header(v);
    let r = chain.authenticate(&head_with(&h)).await;
    r.map(|o| o.map(|i| i.user_id().to_owned())).map_err(|e| {
        (
            e.status().as_u16(),
            e.code().to_owned(),
            e.detail().into_owned(),
        )
    })
}

#[test]
fn token_authentication_keys_keywords_and_headers() {
    block(async {
        let keys = Arc::new(InMemoryApiKeyStore::new());
        keys.insert("k-1", User::new("1", "alice"));
        keys.insert("k-3", User::new("3", "carol").active(false));
        let chain = Authenticators::new().with(TokenAuthentication::new(keys.clone(), "api"));
        assert_eq!(ask(&chain, b"Token k-1").await, Ok(Some("1".to_owned())));
        assert_eq!(ask(&chain, b"token k-1").await, Ok(Some("1".to_owned())));
        assert_eq!(ask(&chain, b"Bearer k-1").await, Ok(None));
        assert_eq!(
            ask(&chain, b"Token k-2").await,
            Err((401, "authentication_failed".into(), "Invalid token.".into()))
        );
        assert_eq!(
            ask(&chain, b"Token k-3").await,
            Err((
                401,
                "authentication_failed".into(),
                "User inactive or deleted.".into()
            ))
        );
        assert_eq!(
            ask(&chain, b"Token").await,
            Err((
                401,
                "authentication_failed".into(),
                "Invalid token header. No credentials provided.".into()
            ))
        );
        assert_eq!(
            ask(&chain, b"Token a b").await,
            Err((
                401,
                "authentication_failed".into(),
                "Invalid token header. Token string should not contain spaces.".into()
            ))
        );
        assert_eq!(
            ask(&chain, b"Token \xff").await,
            Err((
                401,
                "authentication_failed".into(),
                "Invalid token header. Token string should not contain invalid characters.".into()
            ))
        );
        // Custom keyword and header.
        let custom = Authenticators::new().with(
            TokenAuthentication::new(keys, "api")
                .keyword("ApiKey")
                .header(http::HeaderName::from_static("x-api-key")),
        );
        let mut h = http::HeaderMap::new();
        h.insert("x-api-key", http::HeaderValue::from_static("apikey k-1"));
        assert_eq!(
            custom
                .authenticate(&head_with(&h))
                .await
                .unwrap()
                .unwrap()
                .authenticator(),
            "token"
        );
        assert_eq!(
            custom.challenge().unwrap().to_string(),
            r#"ApiKey realm="api""#
        );
        let h = auth_header(b"ApiKey k-1");
        assert!(
            custom.authenticate(&head_with(&h)).await.unwrap().is_none(),
            "Authorization is not read"
        );
    });
}

#[test]
fn identity_merges_scopes_and_roles_from_store_and_claims() {
    block(async {
        let u = Arc::new(InMemoryUserStore::new());
        u.insert(
            User::new("42", "user42")
                .with_scopes(["a", "b"])
                .with_roles(["editor"]),
            "pw",
        );
        let settings = Settings::builder().hmac_secret([9u8; 32]).build().unwrap();
        let tokens = TokenService::builder(settings)
            .users_arc(u.clone())
            .claims_hook(|_| {
                let mut m = serde_json::Map::new();
                m.insert("scope".into(), "b c".into());
                m.insert("roles".into(), serde_json::json!(["editor", "admin-ish"]));
                m
            })
            .build()
            .unwrap();
        let pair = tokens.obtain_for(&u.get("42").unwrap()).await.unwrap();
        let chain = Authenticators::new().with(JwtAuthentication::new(tokens));
        let h = auth_header(format!("Bearer {}", pair.access).as_bytes());
        let id = chain.authenticate(&head_with(&h)).await.unwrap().unwrap();
        assert_eq!(id.scopes(), ["a", "b", "c"]);
        assert_eq!(id.roles(), ["editor", "admin-ish"]);
        assert!(id.claims().is_some());
    });
}
