//! Shared helpers for the token-engine tests (`tokens_*`, `hostile_*`, `fixtures_*`).
//!
//! Cargo builds every top-level file of `tests/` as its own crate, so this one is also
//! included by the others with `#[path = "tokens_support.rs"] mod support;`. Built on its
//! own it only checks that the helpers hang together.
#![allow(dead_code, unreachable_pub, missing_docs)]
// A failing test panics with the value: unwrap is the report. AuthError's size is the
// library's business, not the tests'.
#![allow(clippy::unwrap_used, clippy::result_large_err)]

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use keycard_core::token::Verifier;
use keycard_core::{
    AuthError, Challenge, FrozenClock, InMemoryRevocationStore, InMemoryUserStore, Settings,
    SettingsBuilder, TokenError, TokenService, User,
};
use serde_json::{Map, Value, json};
use sha2::Sha256;

/// The contract's HMAC secret (also the simplejwt fixtures' `signing_key`).
pub const SECRET: &str = "contract-secret-0123456789abcdef0123456789abcdef";
pub const ISS: &str = "keycard-contract";
pub const AUD: &str = "contract-api";
/// The fixtures' `minted_at`: every test clock starts here.
pub const T0: u64 = 1_796_300_000;

pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn unb64(s: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(s).expect("test input is base64url")
}

/// HMAC-SHA256 of `input` with `secret`, base64url: a JWS HS256 signature.
pub fn hs256(secret: &[u8], input: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(input);
    b64(mac.finalize().into_bytes())
}

/// A compact JWS from raw header and payload *text* (so duplicate members and odd JSON can be
/// written), signed HS256 with `SECRET` whatever the header says.
pub fn craft_raw(header: &str, payload: &str) -> String {
    craft_segments(&b64(header), &b64(payload))
}

/// Signs two already-encoded segments with HS256 and `SECRET`.
pub fn craft_segments(h: &str, p: &str) -> String {
    let input = format!("{h}.{p}");
    let sig = hs256(SECRET.as_bytes(), input.as_bytes());
    format!("{input}.{sig}")
}

/// A compact JWS from JSON values, signed HS256 with `SECRET`.
pub fn craft(header: &Value, payload: &Value) -> String {
    craft_raw(&header.to_string(), &payload.to_string())
}

pub fn hs_header() -> Value {
    json!({"alg": "HS256", "typ": "JWT"})
}

/// A payload the contract verifier accepts at `now`: an access token for user "1".
pub fn access_payload(now: u64) -> Map<String, Value> {
    let v = json!({
        "token_type": "access",
        "exp": now + 300,
        "iat": now,
        "jti": "0123456789abcdef0123456789abcdef",
        "user_id": "1",
        "iss": ISS,
        "aud": AUD,
    });
    match v {
        Value::Object(m) => m,
        _ => unreachable!(),
    }
}

/// A contract token (HS256, `SECRET`) carrying `payload`.
pub fn token_with(payload: Map<String, Value>) -> String {
    craft(&hs_header(), &Value::Object(payload))
}

/// The header or payload of a token, decoded (no verification).
pub fn segment(token: &str, i: usize) -> Map<String, Value> {
    let seg = token.split('.').nth(i).expect("three segments");
    serde_json::from_slice(&unb64(seg)).expect("a JSON object")
}

pub fn payload(token: &str) -> Map<String, Value> {
    segment(token, 1)
}

pub fn header(token: &str) -> Map<String, Value> {
    segment(token, 0)
}

/// The contract settings (HS256 with `SECRET`, issuer, audience) on `clock`.
pub fn contract(clock: &FrozenClock) -> SettingsBuilder {
    Settings::builder()
        .hmac_secret(SECRET)
        .issuer(ISS)
        .audience(AUD)
        .clock(Arc::new(clock.clone()))
}

pub fn verifier(builder: SettingsBuilder) -> Verifier {
    Verifier::new(Arc::new(builder.build().expect("valid settings")))
}

/// A token service with an in-memory revocation store on the same frozen clock, and a user
/// store holding "1"/alice (active). The users are added without a password hash, so tests
/// mint with `obtain_for` and avoid argon2's cost except where a password is the point.
pub struct Svc {
    pub tokens: TokenService,
    pub store: Arc<InMemoryRevocationStore>,
    pub users: Arc<InMemoryUserStore>,
    pub clock: FrozenClock,
    pub alice: User,
}

pub fn service(builder: SettingsBuilder, clock: &FrozenClock) -> Svc {
    service_with(builder, clock, |b| b)
}

pub fn service_with(
    builder: SettingsBuilder,
    clock: &FrozenClock,
    extra: impl FnOnce(
        keycard_core::token::TokenServiceBuilder,
    ) -> keycard_core::token::TokenServiceBuilder,
) -> Svc {
    let store = Arc::new(InMemoryRevocationStore::with_clock(Arc::new(clock.clone())));
    let users = Arc::new(InMemoryUserStore::new());
    let alice = User::new("1", "alice");
    users.insert(alice.clone(), "alice-password");
    // `insert` sets the fingerprint; the copy we mint with must carry it too.
    let alice = users.get("1").expect("just inserted");
    let tokens = extra(
        TokenService::builder(builder.build().expect("valid settings"))
            .users_arc(users.clone())
            .store_arc(store.clone()),
    )
    .build()
    .expect("valid service");
    Svc {
        tokens,
        store,
        users,
        clock: clock.clone(),
        alice,
    }
}

/// The refresh token of a pair (every pair these tests mint has one).
pub fn refresh_of(pair: &keycard_core::TokenPair) -> String {
    pair.refresh.clone().expect("a refresh token")
}

/// Asserts `e` is `InvalidToken { error: want }` and that its rendered answer is the hostile
/// table's "401 invalid": status 401 with a challenge, code `token_not_valid`, challenge with
/// `error="invalid_token"`, the fixed description — and neither the token nor the secret in the
/// body or the header.
#[track_caller]
pub fn assert_invalid_err(e: &AuthError, want: TokenError, token: &[u8]) {
    match e {
        AuthError::InvalidToken { error, .. } => assert_eq!(*error, want, "wrong TokenError"),
        other => panic!("expected InvalidToken({want:?}), got {other:?}"),
    }
    let e = e.clone().with_challenge(Some(Challenge::bearer("api")));
    assert_eq!(e.status(), 401);
    assert_eq!(e.code(), "token_not_valid");
    assert_eq!(e.detail(), want.description());
    let www = e.www_authenticate().expect("a challenge");
    assert_eq!(
        www,
        format!(
            r#"Bearer realm="api", error="invalid_token", error_description="{}""#,
            want.description()
        )
    );
    let rendered = e.render();
    let body = String::from_utf8(rendered.body.clone()).expect("UTF-8 body");
    assert_eq!(
        serde_json::from_str::<Value>(&body).expect("JSON body"),
        json!({"detail": want.description(), "code": "token_not_valid"})
    );
    for (_, v) in &rendered.headers {
        assert!(
            v.to_str()
                .is_ok_and(|v| v.bytes().all(|b| (0x20..0x7f).contains(&b))),
            "header not visible ASCII"
        );
    }
    let leaks = |hay: &str| {
        (token.len() >= 16 && hay.as_bytes().windows(token.len()).any(|w| w == token))
            || hay.contains(SECRET)
    };
    assert!(
        !leaks(&body) && !leaks(&www),
        "token or secret leaked: {body} / {www}"
    );
}

#[track_caller]
pub fn assert_invalid<T: std::fmt::Debug>(r: Result<T, AuthError>, want: TokenError, token: &[u8]) {
    match r {
        Ok(v) => panic!("expected InvalidToken({want:?}), got Ok({v:?})"),
        Err(e) => assert_invalid_err(&e, want, token),
    }
}

/// The verifier-level form: a `TokenError`, checked as the `AuthError` the service makes of it.
#[track_caller]
pub fn assert_refused<T: std::fmt::Debug>(
    r: Result<T, TokenError>,
    want: TokenError,
    token: &[u8],
) {
    assert_invalid(r.map_err(AuthError::invalid_token), want, token);
}

/// A PEM fixture from `tests/keys/`.
pub fn key_file(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/keys")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The DER inside a PEM fixture.
pub fn pem_to_der(pem: &[u8]) -> Vec<u8> {
    let text = std::str::from_utf8(pem).expect("PEM is text");
    let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
    STANDARD.decode(body).expect("PEM body is base64")
}

pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(f)
}

#[test]
fn support_helpers_make_a_token_the_contract_verifier_accepts() {
    let clock = FrozenClock::new(T0);
    let v = verifier(contract(&clock));
    let t = token_with(access_payload(T0));
    let ok = v
        .verify(t.as_bytes(), &[keycard_core::TokenKind::Access], false)
        .expect("accepted");
    assert_eq!(ok.claims.user_id(), "1");
}
