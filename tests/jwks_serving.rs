//! Case AD8 on both adapters: an issuer with RS256, ES256, EdDSA (and an HMAC) key serves
//! `/.well-known/jwks.json` with every public key — never a private member, never an HMAC
//! secret — byte for byte alike on axum and actix-web; after a rotation the old key stays
//! listed (and its tokens accepted) until its last token has expired.

#![allow(clippy::unwrap_used, clippy::result_large_err)]

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use keycard_core::token::KeyRotation;
use keycard_core::{
    Algorithm, FrozenClock, InMemoryUserStore, Key, KeySet, Settings, TokenService, User,
};
use serde_json::Value;
use tower::ServiceExt;

const T0: u64 = 1_796_300_000;

fn pem(name: &str) -> Vec<u8> {
    std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("crates/keycard-core/tests/keys")
            .join(name),
    )
    .unwrap()
}

struct Issuer {
    tokens: TokenService,
    rotation: KeyRotation,
    clock: FrozenClock,
}

fn issuer() -> Issuer {
    let keys = KeySet::new(
        Key::private_pem(Algorithm::RS256, &pem("rsa_private.pem"))
            .unwrap()
            .with_kid("rs"),
    )
    .unwrap()
    .with_verifier(
        Key::private_pem(Algorithm::ES256, &pem("ec256_private.pem"))
            .unwrap()
            .with_kid("ec"),
    )
    .unwrap()
    .with_verifier(
        Key::private_pem(Algorithm::EdDSA, &pem("ed25519_private.pem"))
            .unwrap()
            .with_kid("ed"),
    )
    .unwrap()
    .with_verifier(
        Key::hmac(Algorithm::HS256, &[9u8; 32])
            .unwrap()
            .with_kid("h"),
    )
    .unwrap();
    let rotation = KeyRotation::new(keys);
    let clock = FrozenClock::new(T0);
    let settings = Settings::builder()
        .key_source(&rotation)
        .clock(Arc::new(clock.clone()))
        .build()
        .unwrap();
    let users = InMemoryUserStore::new();
    users.insert(User::new("1", "alice"), "alice-password");
    let tokens = TokenService::builder(settings)
        .users(users)
        .build()
        .unwrap();
    Issuer {
        tokens,
        rotation,
        clock,
    }
}

/// One answer: status, `Cache-Control`, `Content-Type`, body.
type Answer = (u16, String, String, Vec<u8>);

async fn axum_get(tokens: &TokenService) -> Answer {
    let app: axum::Router = axum::Router::new().merge(keycard_axum::jwks_router(tokens.clone()));
    let req = axum::http::Request::get("/.well-known/jwks.json")
        .body(Body::empty())
        .unwrap();
    let res = app.oneshot(req).await.unwrap();
    let h = |n: &str| res.headers()[n].to_str().unwrap().to_owned();
    let (status, cache, ctype) = (res.status().as_u16(), h("cache-control"), h("content-type"));
    let body = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, cache, ctype, body.to_vec())
}

async fn actix_get(tokens: &TokenService) -> Answer {
    use actix_web::{App, test};
    let app =
        test::init_service(App::new().service(keycard_actix::jwks_service(tokens.clone()))).await;
    let req = test::TestRequest::get()
        .uri("/.well-known/jwks.json")
        .to_request();
    let res = test::call_service(&app, req).await;
    let h = |n: &str| res.headers().get(n).unwrap().to_str().unwrap().to_owned();
    let (status, cache, ctype) = (res.status().as_u16(), h("cache-control"), h("content-type"));
    let body = test::read_body(res).await;
    (status, cache, ctype, body.to_vec())
}

/// The served JWKS on both adapters (asserting they agree); its kids.
async fn served(tokens: &TokenService) -> BTreeSet<String> {
    let a = axum_get(tokens).await;
    let b = actix_get(tokens).await;
    assert_eq!(a, b, "axum and actix serve the same answer");
    let (status, cache, ctype, body) = a;
    assert_eq!(status, 200);
    assert_eq!(cache, "public, max-age=300");
    assert_eq!(ctype, "application/json");
    let doc: Value = serde_json::from_slice(&body).unwrap();
    let keys = doc["keys"].as_array().unwrap();
    for k in keys {
        for private in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
            assert!(k.get(private).is_none(), "{private} served in {k}");
        }
        assert_ne!(k["kty"], "oct");
    }
    keys.iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

fn kids(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

#[actix_web::test]
async fn ad8_every_public_key_and_never_a_secret_on_both_adapters() {
    let i = issuer();
    assert_eq!(served(&i.tokens).await, kids(&["rs", "ec", "ed"]));
    // The key set's own JWKS is what is served (the CLI's `keycard jwks` prints it too).
    let direct = serde_json::to_value(i.tokens.settings().keys().public_jwks()).unwrap();
    let (_, _, _, body) = axum_get(&i.tokens).await;
    assert_eq!(serde_json::from_slice::<Value>(&body).unwrap(), direct);
}

#[actix_web::test]
async fn ad8_tokens_of_asymmetric_keys_carry_their_kid() {
    let i = issuer();
    let pair = i.tokens.obtain_for(&User::new("1", "alice")).await.unwrap();
    let header: Value =
        serde_json::from_slice(&base64_url_decode(pair.access.split('.').next().unwrap())).unwrap();
    assert_eq!(header["kid"], "rs");
    assert_eq!(header["alg"], "RS256");
}

#[actix_web::test]
async fn ad8_rotation_keeps_the_old_key_listed_and_accepted_until_its_last_token_expired() {
    let i = issuer();
    let user = User::new("1", "alice");
    let old = i.tokens.obtain_for(&user).await.unwrap();

    // Publish the next key first: listed, not yet signing.
    i.rotation
        .add_next(Key::generate_ed25519().unwrap().with_kid("ed-2"))
        .unwrap();
    assert_eq!(served(&i.tokens).await, kids(&["rs", "ec", "ed", "ed-2"]));
    let still_old = i.tokens.obtain_for(&user).await.unwrap();
    assert!(header_kid(&still_old.access) == "rs");

    // Sign with it; retire the old one until its last token has expired.
    i.rotation.promote("ed-2").unwrap();
    let deadline = i.tokens.settings().key_retirement_deadline();
    assert_eq!(deadline, T0 + 86_400, "the refresh lifetime is the longest");
    i.rotation.retire_after("rs", deadline).unwrap();
    let new = i.tokens.obtain_for(&user).await.unwrap();
    assert_eq!(header_kid(&new.access), "ed-2");
    i.tokens.verify_access(&old.access).await.unwrap();
    i.tokens
        .refresh(old.refresh.as_deref().unwrap())
        .await
        .unwrap();

    // Until the deadline, the retired key is listed.
    i.clock.set(deadline);
    assert_eq!(served(&i.tokens).await, kids(&["rs", "ec", "ed", "ed-2"]));
    // Past it, it goes (the old refresh token has expired by then anyway).
    i.clock.set(deadline + 1);
    assert_eq!(served(&i.tokens).await, kids(&["ec", "ed", "ed-2"]));
    assert!(
        i.tokens
            .refresh(old.refresh.as_deref().unwrap())
            .await
            .is_err()
    );
}

fn header_kid(token: &str) -> String {
    let header: Value =
        serde_json::from_slice(&base64_url_decode(token.split('.').next().unwrap())).unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

fn base64_url_decode(s: &str) -> Vec<u8> {
    // A tiny decoder keeps this test free of a base64 dependency.
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => panic!("not base64url"),
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}
