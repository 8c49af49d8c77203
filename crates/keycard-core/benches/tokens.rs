//! HS256 on the hot path: keycard's strict verifier and signer next to the raw cost of the
//! same token — split, base64url decode, HMAC-SHA256 and one `serde_json` parse (or, for
//! signing, one serialization, base64url and HMAC) — and jsonwebtoken's own `decode`, all
//! in the same run so the ratios hold on any machine.
//!
//! keycard's verifier remembers the tokens it accepted, so it is measured three ways: a
//! token it has not seen before (`fresh`: the cache turned off, and `pool`: a cache of the
//! default size fed 20 000 distinct tokens in turn, every lookup a miss and an insert, next
//! to the raw pipeline on the same pool), and the same token again (`cache hit`).
//!
//! `cargo bench -p keycard-core --bench tokens -- --warm-up-time 1 --measurement-time 3`

// `criterion_group!` defines a public function without documentation.
#![allow(missing_docs)]

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Criterion, criterion_group, criterion_main};
use hmac::{Hmac, Mac};
use keycard_core::{
    Algorithm, InMemoryRevocationStore, InMemoryUserStore, Settings, TokenKind, TokenService, User,
};
use serde_json::{Map, Value};
use sha2::Sha256;

const SECRET: &str = "contract-secret-0123456789abcdef0123456789abcdef";
const ISS: &str = "keycard-contract";
const AUD: &str = "contract-api";

/// The in-memory stores answer with ready futures: one poll completes them, no runtime needed.
fn now_or_never<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("the in-memory stores never wait"),
    }
}

/// The raw pipeline of a verification: what any HS256 JWT check must do at least.
fn raw_verify(token: &[u8], mac: &Hmac<Sha256>) -> Option<Map<String, Value>> {
    let mut parts = token.splitn(3, |b| *b == b'.');
    let (h, p, s) = (parts.next()?, parts.next()?, parts.next()?);
    let _header = URL_SAFE_NO_PAD.decode(h).ok()?;
    let sig = URL_SAFE_NO_PAD.decode(s).ok()?;
    let mut mac = mac.clone();
    mac.update(&token[..h.len() + 1 + p.len()]);
    mac.verify_slice(&sig).ok()?;
    let payload = URL_SAFE_NO_PAD.decode(p).ok()?;
    serde_json::from_slice(&payload).ok()
}

/// The raw pipeline of signing: one serialization, base64url, HMAC-SHA256, base64url.
fn raw_sign(header: &[u8], claims: &Map<String, Value>, mac: &Hmac<Sha256>) -> String {
    let mut out = String::with_capacity(256);
    URL_SAFE_NO_PAD.encode_string(header, &mut out);
    out.push('.');
    URL_SAFE_NO_PAD.encode_string(
        serde_json::to_vec(claims).expect("claims serialize"),
        &mut out,
    );
    let mut mac = mac.clone();
    mac.update(out.as_bytes());
    let sig = mac.finalize().into_bytes();
    out.push('.');
    URL_SAFE_NO_PAD.encode_string(sig, &mut out);
    out
}

fn hs256(c: &mut Criterion) {
    let settings = Settings::builder()
        .hmac_secret(SECRET)
        .issuer(ISS)
        .audience(AUD)
        .build()
        .expect("valid settings");
    let tokens = TokenService::builder(settings)
        .users(InMemoryUserStore::new())
        .store(InMemoryRevocationStore::new())
        .build()
        .expect("a token service");
    // A typical access token: the contract's claims plus a session id, minted just now.
    let pair = now_or_never(tokens.obtain_for(&User::new("1", "alice"))).expect("a pair");
    let token = pair.access;
    let verifier = tokens.verifier().clone();
    let uncached = verifier.clone().with_cache(0);
    // Distinct tokens, many more than the cache holds: each one is new to the verifier.
    let pool: Vec<String> = (0..20_000)
        .map(|_| {
            now_or_never(tokens.obtain_for(&User::new("1", "alice")))
                .expect("a pair")
                .access
        })
        .collect();
    let pool_verifier = verifier
        .clone()
        .with_cache(keycard_core::token::DEFAULT_CACHE_ENTRIES);
    let claims = verifier
        .verify(token.as_bytes(), &[TokenKind::Access], false)
        .expect("valid")
        .claims;
    let claims_map = claims.as_map().clone();
    let mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("any key length");
    let header = br#"{"alg":"HS256","typ":"JWT"}"#;

    // Every contender accepts the token (and the raw pipelines agree with keycard).
    assert_eq!(
        raw_verify(token.as_bytes(), &mac).as_ref(),
        Some(&claims_map)
    );
    assert!(
        verifier
            .verify(
                raw_sign(header, &claims_map, &mac).as_bytes(),
                &[TokenKind::Access],
                false
            )
            .is_ok()
    );
    let jwt_key = jsonwebtoken::DecodingKey::from_secret(SECRET.as_bytes()).expect("an HMAC key");
    let mut validation = jsonwebtoken::Validation::new(Algorithm::HS256);
    validation.set_audience(&[AUD]);
    validation.set_issuer(&[ISS]);
    assert!(jsonwebtoken::decode::<Map<String, Value>>(&token, &jwt_key, &validation).is_ok());
    assert!(now_or_never(tokens.verify_access(&token)).is_ok());

    let mut g = c.benchmark_group("hs256");
    g.bench_function("verify/keycard Verifier::verify fresh", |b| {
        b.iter(|| {
            uncached
                .verify(black_box(token.as_bytes()), &[TokenKind::Access], false)
                .expect("valid")
        })
    });
    g.bench_function("verify/keycard Verifier::verify cache hit", |b| {
        b.iter(|| {
            verifier
                .verify(black_box(token.as_bytes()), &[TokenKind::Access], false)
                .expect("valid")
        })
    });
    g.bench_function("verify/raw split+b64+hmac+1 json parse", |b| {
        b.iter(|| raw_verify(black_box(token.as_bytes()), &mac).expect("valid"))
    });
    let mut next = pool.iter().cycle();
    g.bench_function("verify/keycard Verifier::verify pool", |b| {
        b.iter(|| {
            let t = next.next().expect("endless");
            pool_verifier
                .verify(black_box(t.as_bytes()), &[TokenKind::Access], false)
                .expect("valid")
        })
    });
    let mut next = pool.iter().cycle();
    g.bench_function("verify/raw pool", |b| {
        b.iter(|| {
            let t = next.next().expect("endless");
            raw_verify(black_box(t.as_bytes()), &mac).expect("valid")
        })
    });
    g.bench_function("verify/jsonwebtoken::decode", |b| {
        b.iter(|| {
            jsonwebtoken::decode::<Map<String, Value>>(black_box(&token), &jwt_key, &validation)
                .expect("valid")
        })
    });
    g.bench_function(
        "verify/keycard TokenService::verify_access (+ store)",
        |b| b.iter(|| now_or_never(tokens.verify_access(black_box(&token))).expect("valid")),
    );
    g.bench_function("sign/keycard TokenService::sign", |b| {
        b.iter(|| tokens.sign(black_box(&claims_map)).expect("signs"))
    });
    g.bench_function("sign/raw json+b64+hmac", |b| {
        b.iter(|| raw_sign(header, black_box(&claims_map), &mac))
    });
    g.finish();
}

criterion_group!(benches, hs256);
criterion_main!(benches);
