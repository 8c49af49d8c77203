//! Property tests: nothing a client sends panics the verifier or the token service, and
//! every refusal is a `TokenError` from the fixed vocabulary — for arbitrary bytes, and for
//! arbitrary JSON in the header or the payload, correctly base64url-encoded and carrying a
//! valid HMAC-SHA256 signature (so the checks behind the signature run too).

// A failing test panics with the value: unwrap is the report. AuthError's size is the
// library's business, not the tests'.
#![allow(clippy::unwrap_used, clippy::result_large_err)]

#[path = "tokens_support.rs"]
mod support;

use std::sync::OnceLock;

use keycard_core::token::Verifier;
use keycard_core::{AuthError, FrozenClock, TokenError, TokenKind};
use proptest::prelude::*;
use serde_json::{Map, Value};
use support::*;

fn shared_verifier() -> &'static Verifier {
    static V: OnceLock<Verifier> = OnceLock::new();
    V.get_or_init(|| {
        verifier(contract(&FrozenClock::new(T0)).leeway(std::time::Duration::from_secs(30)))
    })
}

const NAMES: &[&str] = &[
    "alg",
    "typ",
    "kid",
    "crit",
    "b64",
    "zip",
    "enc",
    "cty",
    "jku",
    "x5u",
    "exp",
    "iat",
    "nbf",
    "iss",
    "aud",
    "jti",
    "user_id",
    "token_type",
    "sid",
    "refresh_exp",
    "sub",
];

const WORDS: &[&str] = &[
    "HS256",
    "hs256",
    "none",
    "RS256",
    "JWT",
    "at+jwt",
    "access",
    "refresh",
    "sliding",
    "keycard-contract",
    "contract-api",
    "1",
    "",
];

fn key() -> impl Strategy<Value = String> {
    prop_oneof![3 => prop::sample::select(NAMES).prop_map(str::to_owned), 1 => ".{0,12}"]
}

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (T0 - 400..T0 + 400).prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f)
            .map(Value::Number)),
        (-1e3f64..1e3).prop_map(|d| Value::from(T0 as f64 + d)),
    ]
}

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        number(),
        prop::sample::select(WORDS).prop_map(Value::from),
        ".{0,16}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// A JSON object: arbitrary members over a base, each base member kept, dropped or replaced.
fn object_over(base: Map<String, Value>) -> impl Strategy<Value = Map<String, Value>> {
    let n = base.len();
    (
        prop::collection::vec(prop_oneof![4 => Just(None), 1 => Just(Some(None)), 2 => json().prop_map(|v| Some(Some(v)))], n),
        prop::collection::vec((key(), json()), 0..4),
    )
        .prop_map(move |(edits, extra)| {
            let mut m = Map::new();
            for ((k, v), edit) in base.iter().zip(edits) {
                match edit {
                    None => {
                        m.insert(k.clone(), v.clone());
                    }
                    Some(None) => {}
                    Some(Some(new)) => {
                        m.insert(k.clone(), new);
                    }
                }
            }
            for (k, v) in extra {
                m.insert(k, v);
            }
            m
        })
}

fn hs256_header() -> Map<String, Value> {
    match hs_header() {
        Value::Object(m) => m,
        _ => unreachable!(),
    }
}

/// Runs the verifier for every kind set; it must answer, and a refusal must describe itself
/// in the fixed vocabulary and render as a 401 without echoing the token.
fn check(token: &[u8]) -> Vec<Result<(), TokenError>> {
    let mut out = Vec::new();
    for kinds in [
        &[TokenKind::Access][..],
        &[TokenKind::Refresh],
        &[],
        &[TokenKind::Sliding],
    ] {
        for allow_expired in [false, true] {
            let r = shared_verifier().verify(token, kinds, allow_expired);
            if let Err(e) = &r {
                assert!(!e.description().is_empty());
                assert_invalid_err(&AuthError::invalid_token(*e), *e, token);
            }
            out.push(r.map(|_| ()));
        }
    }
    out
}

/// When the verifier accepts, the claims really are what the rules demand.
fn assert_accepted_claims_are_sound(payload: &Map<String, Value>) {
    let exp = &payload["exp"];
    assert!(
        exp.is_number(),
        "accepted without a numeric exp: {payload:?}"
    );
    assert_eq!(payload.get("iss"), Some(&Value::from(ISS)));
    assert!(payload.get("aud").is_some());
    assert!(payload["jti"].is_string());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

    #[test]
    fn prop_arbitrary_bytes_never_panic_and_are_refused(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        for r in check(&bytes) {
            prop_assert!(r.is_err());
        }
    }

    #[test]
    fn prop_arbitrary_base64url_text_never_panics(s in "[A-Za-z0-9_.=+/ -]{0,600}") {
        for r in check(s.as_bytes()) {
            prop_assert!(r.is_err());
        }
    }

    #[test]
    fn prop_arbitrary_bytes_in_any_segment_with_a_valid_signature_never_panic(
        h in prop::collection::vec(any::<u8>(), 0..256),
        p in prop::collection::vec(any::<u8>(), 0..256),
        which in 0..3usize,
    ) {
        let good_h = hs_header().to_string().into_bytes();
        let good_p = Value::Object(access_payload(T0)).to_string().into_bytes();
        let (h, p) = match which { 0 => (h, good_p), 1 => (good_h, p), _ => (h, p) };
        let t = craft_segments(&b64(&h), &b64(&p));
        check(t.as_bytes());
    }

    #[test]
    fn prop_arbitrary_json_header_with_a_valid_signature_never_panics(header in json()) {
        let t = craft(&header, &Value::Object(access_payload(T0)));
        let results = check(t.as_bytes());
        if results.iter().any(Result::is_ok) {
            prop_assert_eq!(&header["alg"], &Value::from("HS256"));
        }
    }

    #[test]
    fn prop_mutated_json_header_with_a_valid_signature_never_panics(header in object_over(hs256_header())) {
        let t = craft(&Value::Object(header.clone()), &Value::Object(access_payload(T0)));
        let results = check(t.as_bytes());
        if results.iter().any(Result::is_ok) {
            prop_assert_eq!(&header["alg"], &Value::from("HS256"));
            for refused in ["crit", "b64", "zip", "enc"] {
                prop_assert!(!header.contains_key(refused));
            }
        }
    }

    #[test]
    fn prop_arbitrary_json_payload_with_a_valid_signature_never_panics(payload in json()) {
        let t = craft(&hs_header(), &payload);
        let results = check(t.as_bytes());
        if results.iter().any(Result::is_ok) {
            assert_accepted_claims_are_sound(payload.as_object().expect("only objects are accepted"));
        }
    }

    #[test]
    fn prop_mutated_claims_with_a_valid_signature_never_panic(payload in object_over(access_payload(T0))) {
        let t = token_with(payload.clone());
        let results = check(t.as_bytes());
        if results.iter().any(Result::is_ok) {
            assert_accepted_claims_are_sound(&payload);
        }
    }

    #[test]
    fn prop_the_token_service_never_panics_on_arbitrary_input(
        s in prop_oneof![".{0,300}", "[A-Za-z0-9_-]{1,40}\\.[A-Za-z0-9_-]{1,40}\\.[A-Za-z0-9_-]{1,40}"],
        payload in object_over(access_payload(T0)),
    ) {
        let svc = service_for_props();
        let crafted = token_with(payload);
        block_on(async {
            for t in [s.as_str(), crafted.as_str()] {
                for r in [
                    svc.tokens.verify_access(t).await.map(|_| ()),
                    svc.tokens.verify(t).await.map(|_| ()),
                    svc.tokens.refresh(t).await.map(|_| ()),
                    svc.tokens.refresh_sliding(t).await.map(|_| ()),
                    svc.tokens.blacklist(t).await,
                ] {
                    if let Err(e) = r {
                        // Every refusal of a token is a 401-family answer; nothing is a 500.
                        assert_ne!(e.status(), 500, "{e:?}");
                    }
                }
            }
        });
    }
}

fn service_for_props() -> &'static Svc {
    static S: OnceLock<Svc> = OnceLock::new();
    S.get_or_init(|| {
        let clock = FrozenClock::new(T0);
        service(
            contract(&clock)
                .rotate_refresh_tokens(true)
                .blacklist_after_rotation(true),
            &clock,
        )
    })
}

#[test]
fn prop_helpers_accept_the_unmutated_token() {
    let t = token_with(access_payload(T0));
    assert!(check(t.as_bytes())[0].is_ok());
}
