//! The verifier's cache of verified tokens (`Verifier::with_cache`): a token presented again
//! answers exactly what a fresh verification would — the clock, the caller's kinds, the key
//! set and the revocation store are consulted on every use.

// A failing test panics with the value: unwrap is the report. AuthError's size is the
// library's business, not the tests'.
#![allow(clippy::unwrap_used, clippy::result_large_err)]

#[path = "tokens_support.rs"]
mod support;

use std::sync::Arc;
use std::time::Duration;

use keycard_core::token::{KeyRotation, Verifier};
use keycard_core::{Algorithm, FrozenClock, Key, KeySet, Settings, TokenError, TokenKind};
use serde_json::{Value, json};
use support::*;

const ACCESS: &[TokenKind] = &[TokenKind::Access];

/// The same settings, one verifier remembering tokens and one that does not.
fn pair(clock: &FrozenClock) -> (Verifier, Verifier) {
    let settings = Arc::new(contract(clock).build().unwrap());
    (
        Verifier::new(settings.clone()).with_cache(64),
        Verifier::new(settings).with_cache(0),
    )
}

/// Both verifiers, each asked twice: all four answers must be the same.
#[track_caller]
fn agree(
    cached: &Verifier,
    fresh: &Verifier,
    token: &str,
    kinds: &[TokenKind],
    allow_expired: bool,
) -> Result<(), TokenError> {
    let want = fresh
        .verify(token.as_bytes(), kinds, allow_expired)
        .map(|v| v.claims);
    for _ in 0..2 {
        let got = cached
            .verify(token.as_bytes(), kinds, allow_expired)
            .map(|v| v.claims);
        assert_eq!(got, want, "cached and fresh verification disagree");
    }
    want.map(|_| ())
}

#[test]
fn the_default_verifier_remembers_and_a_hit_returns_the_same_claims() {
    let clock = FrozenClock::new(T0);
    let v = verifier(contract(&clock));
    assert_eq!(
        v.cache_capacity(),
        keycard_core::token::DEFAULT_CACHE_ENTRIES
    );
    let t = token_with(access_payload(T0));
    let first = v.verify(t.as_bytes(), ACCESS, false).unwrap();
    let again = v.verify(t.as_bytes(), ACCESS, false).unwrap();
    assert_eq!(first.claims, again.claims);
    assert_eq!((first.alg, first.kid), (again.alg, again.kid));
}

#[test]
fn expiry_is_checked_on_every_use() {
    let clock = FrozenClock::new(T0);
    let (cached, fresh) = pair(&clock);
    let t = token_with(access_payload(T0));
    agree(&cached, &fresh, &t, ACCESS, false).unwrap();
    clock.set(T0 + 299);
    agree(&cached, &fresh, &t, ACCESS, false).unwrap();
    clock.set(T0 + 300);
    assert_eq!(
        agree(&cached, &fresh, &t, ACCESS, false),
        Err(TokenError::Expired)
    );
    // Refreshing a sliding token allows an expired one: the cache must not answer Expired.
    assert_eq!(agree(&cached, &fresh, &t, ACCESS, true), Ok(()));
}

#[test]
fn a_clock_going_back_refuses_tokens_from_the_future_again() {
    let clock = FrozenClock::new(T0 + 100);
    let (cached, fresh) = pair(&clock);
    let mut p = access_payload(T0);
    p.insert("iat".into(), json!(T0 + 50));
    p.insert("nbf".into(), json!(T0 + 60));
    let t = token_with(p);
    agree(&cached, &fresh, &t, ACCESS, false).unwrap();
    clock.set(T0 + 55);
    assert_eq!(
        agree(&cached, &fresh, &t, ACCESS, false),
        Err(TokenError::NotYetValid)
    );
    // Without nbf, the iat check is the one that refuses.
    let mut p = access_payload(T0);
    p.insert("iat".into(), json!(T0 + 50));
    let t = token_with(p);
    clock.set(T0 + 100);
    agree(&cached, &fresh, &t, ACCESS, false).unwrap();
    clock.set(T0 + 10);
    assert_eq!(
        agree(&cached, &fresh, &t, ACCESS, false),
        Err(TokenError::IssuedInFuture)
    );
}

#[test]
fn the_kinds_of_each_call_are_checked_on_every_use() {
    let clock = FrozenClock::new(T0);
    let (cached, fresh) = pair(&clock);
    let t = token_with(access_payload(T0));
    agree(&cached, &fresh, &t, &[], false).unwrap();
    assert_eq!(
        agree(&cached, &fresh, &t, &[TokenKind::Refresh], false),
        Err(TokenError::WrongType)
    );
    agree(&cached, &fresh, &t, ACCESS, false).unwrap();
    // Expired and of the wrong kind: the verifier's order says Expired.
    clock.set(T0 + 1000);
    assert_eq!(
        agree(&cached, &fresh, &t, &[TokenKind::Refresh], false),
        Err(TokenError::Expired)
    );
}

#[test]
fn a_token_one_byte_away_from_a_remembered_one_is_verified_afresh() {
    let clock = FrozenClock::new(T0);
    let (cached, fresh) = pair(&clock);
    let t = token_with(access_payload(T0));
    agree(&cached, &fresh, &t, ACCESS, false).unwrap();
    let mut bytes = t.clone().into_bytes();
    for i in [0, t.len() / 2, t.len() - 1] {
        let keep = bytes[i];
        bytes[i] = if keep == b'A' { b'B' } else { b'A' };
        let other = String::from_utf8(bytes.clone()).unwrap();
        assert!(agree(&cached, &fresh, &other, ACCESS, false).is_err());
        bytes[i] = keep;
    }
    // The same token with a trailing dot or a non-canonical last character.
    assert_eq!(
        agree(&cached, &fresh, &format!("{t}."), ACCESS, false),
        Err(TokenError::Malformed)
    );
}

#[test]
fn a_key_removed_from_the_set_no_longer_verifies_remembered_tokens() {
    let clock = FrozenClock::new(T0);
    let k1 = Key::hmac(Algorithm::HS256, SECRET.as_bytes())
        .unwrap()
        .with_kid("k1");
    let k2 = Key::hmac(Algorithm::HS256, &[7u8; 32])
        .unwrap()
        .with_kid("k2");
    let rotation = KeyRotation::new(KeySet::new(k1).unwrap().with_verifier(k2).unwrap());
    let settings = Settings::builder()
        .key_source(&rotation)
        .issuer(ISS)
        .audience(AUD)
        .clock(Arc::new(clock.clone()))
        .build()
        .unwrap();
    let v = Verifier::new(Arc::new(settings));
    let t = craft(
        &json!({"alg": "HS256", "typ": "JWT", "kid": "k1"}),
        &Value::Object(access_payload(T0)),
    );
    v.verify(t.as_bytes(), ACCESS, false).unwrap();
    v.verify(t.as_bytes(), ACCESS, false).unwrap();
    rotation.promote("k2").unwrap();
    // Still listed (as a verifier): still accepted, under the new set.
    v.verify(t.as_bytes(), ACCESS, false).unwrap();
    rotation.remove("k1").unwrap();
    for _ in 0..2 {
        assert_eq!(
            v.verify(t.as_bytes(), ACCESS, false).unwrap_err(),
            TokenError::UnknownKey
        );
    }
}

#[test]
fn revocation_is_never_remembered() {
    block_on(async {
        let clock = FrozenClock::new(T0);
        let svc = service(contract(&clock), &clock);
        let pair = svc.tokens.obtain_for(&svc.alice).await.unwrap();
        for _ in 0..3 {
            svc.tokens.verify_access(&pair.access).await.unwrap();
        }
        svc.tokens.blacklist(&refresh_of(&pair)).await.unwrap();
        for _ in 0..2 {
            assert_invalid(
                svc.tokens.verify_access(&pair.access).await,
                TokenError::Blacklisted,
                pair.access.as_bytes(),
            );
        }
    });
}

#[test]
fn the_token_service_cache_can_be_sized_or_turned_off() {
    let clock = FrozenClock::new(T0);
    let off = service_with(contract(&clock), &clock, |b| b.verified_token_cache(0));
    assert_eq!(off.tokens.verifier().cache_capacity(), 0);
    let small = service_with(contract(&clock), &clock, |b| b.verified_token_cache(10));
    assert!((10..=32).contains(&small.tokens.verifier().cache_capacity()));
}

#[test]
fn many_tokens_through_a_small_cache_all_verify_and_expire_correctly() {
    let clock = FrozenClock::new(T0);
    let settings = Arc::new(
        contract(&clock)
            .leeway(Duration::from_secs(5))
            .build()
            .unwrap(),
    );
    let cached = Verifier::new(settings.clone()).with_cache(16);
    let fresh = Verifier::new(settings).with_cache(0);
    let tokens: Vec<String> = (0..200)
        .map(|i| {
            let mut p = access_payload(T0);
            p.insert("exp".into(), json!(T0 + 10 + i % 7));
            p.insert("jti".into(), json!(format!("jti-{i}")));
            token_with(p)
        })
        .collect();
    for round in 0..3 {
        clock.set(T0 + round * 5);
        for t in tokens.iter().chain(tokens.iter().rev()) {
            agree(&cached, &fresh, t, ACCESS, false).ok();
        }
    }
}
