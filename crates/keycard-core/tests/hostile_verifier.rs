//! The structure, algorithm, header-parameter, claims, life-cycle and transport rows of
//! `../shared/cases/hostile.md` that the verifier answers (SX*, AX1/AX2/AX5, PX*, CX*,
//! LX1–LX3, HX4/HX5), with hand-crafted tokens: base64url + HMAC-SHA256 written here, not
//! by the code under test. Every refusal is checked as the whole "401 invalid" answer
//! (see `support::assert_invalid_err`): exact `TokenError`, code, challenge, no leak.

// A failing test panics with the value: unwrap is the report. AuthError's size is the
// library's business, not the tests'.
#![allow(clippy::unwrap_used, clippy::result_large_err)]

#[path = "tokens_support.rs"]
mod support;

use std::time::Duration;

use keycard_core::token::{Verified, Verifier};
use keycard_core::{FrozenClock, TokenError, TokenKind};
use serde_json::{Map, Value, json};
use support::*;

const ACCESS: &[TokenKind] = &[TokenKind::Access];

fn v() -> Verifier {
    verifier(contract(&FrozenClock::new(T0)))
}

fn run(token: &str) -> Result<Verified, TokenError> {
    v().verify(token.as_bytes(), ACCESS, false)
}

#[track_caller]
fn refused(token: &str, want: TokenError) {
    assert_refused(run(token), want, token.as_bytes());
}

fn good() -> String {
    token_with(access_payload(T0))
}

fn parts(t: &str) -> (String, String, String) {
    let mut it = t.split('.').map(str::to_owned);
    (it.next().unwrap(), it.next().unwrap(), it.next().unwrap())
}

fn with(mut p: Map<String, Value>, k: &str, val: Value) -> Map<String, Value> {
    p.insert(k.into(), val);
    p
}

fn without(mut p: Map<String, Value>, k: &str) -> Map<String, Value> {
    p.remove(k);
    p
}

/// A token whose header is `h` (JSON text) and whose payload is the good one, HS256-signed.
fn with_header(h: &str) -> String {
    craft_raw(h, &Value::Object(access_payload(T0)).to_string())
}

#[test]
fn baseline_the_good_token_is_accepted() {
    let ok = run(&good()).unwrap();
    assert_eq!(
        (ok.claims.user_id(), ok.claims.kind(), ok.claims.exp()),
        ("1", TokenKind::Access, T0 + 300)
    );
    assert_eq!(ok.alg, keycard_core::Algorithm::HS256);
}

// ------------------------------------------------------------------- structure and encoding

#[test]
fn sx1_two_four_or_five_segments_are_invalid() {
    let (h, p, s) = parts(&good());
    for t in [
        format!("{h}.{p}"),
        format!("{h}.{p}.{s}.{s}"),
        format!("{h}.{p}.{s}.{s}.{s}"),
        format!("{h}.{p}.{s}."),
    ] {
        refused(&t, TokenError::Malformed);
    }
    // Four segments where the first three are still a valid token: no prefix matching.
    refused(&format!("{}.{p}", good()), TokenError::Malformed);
    refused("", TokenError::Malformed);
    refused(".", TokenError::Malformed);
    refused("..", TokenError::Malformed);
}

#[test]
fn sx2_stripped_signature_is_invalid() {
    let (h, p, _) = parts(&good());
    refused(&format!("{h}.{p}."), TokenError::Malformed);
    refused(&format!("{h}.{p}"), TokenError::Malformed);
}

#[test]
fn sx3_non_base64url_characters_or_padding_inside_a_segment_are_invalid() {
    let (h, p, s) = parts(&good());
    let mid = p.len() / 2;
    for bad in ["+", "/", " ", "\n", "=", "==", "\t", "\r\n"] {
        refused(&format!("{h}{bad}.{p}.{s}"), TokenError::Malformed);
        refused(
            &format!("{h}.{}{bad}{}.{s}", &p[..mid], &p[mid..]),
            TokenError::Malformed,
        );
        refused(&format!("{h}.{p}.{s}{bad}"), TokenError::Malformed);
        // Re-signed over the altered text, so only the encoding rule can refuse it.
        let altered = format!("{}{bad}{}", &p[..mid], &p[mid..]);
        refused(&craft_segments(&h, &altered), TokenError::Malformed);
    }
    // Standard base64 (`+`/`/`) of the same bytes, validly signed.
    let std_header = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        br#"{"alg":"HS256","x":"???>>>"}"#,
    );
    assert!(
        std_header.contains('/') && std_header.contains('+'),
        "{std_header}"
    );
    refused(
        &craft_segments(&std_header.replace('=', ""), &p),
        TokenError::Malformed,
    );
    // The same header in base64url is fine: only the alphabet was refused.
    run(&craft_segments(&b64(r#"{"alg":"HS256","x":"???>>>"}"#), &p)).unwrap();
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Flips the lowest bit of the last character: for a segment whose length is not a multiple
/// of four, those bits lie beyond the data and a canonical encoder writes them as zero.
fn flip_low_bit_of_last_char(seg: &str) -> String {
    assert!(
        !seg.len().is_multiple_of(4),
        "this segment has no spare bits"
    );
    let last = *seg.as_bytes().last().unwrap();
    let i = ALPHABET.iter().position(|c| *c == last).unwrap();
    let mut out = seg[..seg.len() - 1].to_owned();
    out.push(ALPHABET[i ^ 1] as char);
    out
}

#[test]
fn sx3_last_character_changed_in_its_low_bits_is_invalid() {
    let (h, p, s) = parts(&good());
    // HS256: 32 bytes → 43 characters, the last one carrying 4 spare bits.
    assert_eq!(s.len(), 43);
    refused(
        &format!("{h}.{p}.{}", flip_low_bit_of_last_char(&s)),
        TokenError::Malformed,
    );
    // A header of 16 bytes (22 characters, 4 spare bits), re-signed so only the rule refuses it.
    let h16 = b64(r#"{"alg":"HS256" }"#);
    assert_eq!(h16.len(), 22);
    run(&craft_segments(&h16, &p)).unwrap();
    refused(
        &craft_segments(&flip_low_bit_of_last_char(&h16), &p),
        TokenError::Malformed,
    );
    // Same for the payload, padded to a length with spare bits.
    let mut pl = access_payload(T0);
    let mut n = 0;
    let p2 = loop {
        pl.insert("x".into(), "y".repeat(n).into());
        let e = b64(Value::Object(pl.clone()).to_string());
        if !e.len().is_multiple_of(4) {
            break e;
        }
        n += 1;
    };
    run(&craft_segments(&h, &p2)).unwrap();
    refused(
        &craft_segments(&h, &flip_low_bit_of_last_char(&p2)),
        TokenError::Malformed,
    );
}

#[test]
fn sx4_header_array_string_empty_or_bom_prefixed_is_invalid() {
    for h in [
        "[]",
        "\"x\"",
        "",
        "null",
        "1",
        "{",
        "\u{feff}{\"alg\":\"HS256\",\"typ\":\"JWT\"}",
        "{\"alg\":\"HS256\"} x",
    ] {
        refused(&with_header(h), TokenError::Malformed);
    }
    // The same shapes as payloads.
    for p in ["[]", "\"x\"", "null", "\u{feff}{}"] {
        refused(
            &craft_raw(&hs_header().to_string(), p),
            TokenError::Malformed,
        );
    }
}

#[test]
fn sx5_header_with_100000_members_is_stopped_by_the_size_cap() {
    let mut h = String::from("{\"alg\":\"HS256\"");
    for i in 0..100_000 {
        h.push_str(&format!(",\"m{i}\":0"));
    }
    h.push('}');
    let t = with_header(&h);
    refused(&t, TokenError::TooLarge);
    // Even with the largest cap keycard allows (1 MiB).
    let big = verifier(contract(&FrozenClock::new(T0)).max_token_size(1024 * 1024));
    assert_refused(
        big.verify(t.as_bytes(), ACCESS, false),
        TokenError::TooLarge,
        t.as_bytes(),
    );
}

#[test]
fn sx6_json_serialized_jws_is_invalid() {
    let (h, p, s) = parts(&good());
    let general =
        json!({"payload": p, "signatures": [{"protected": h, "signature": s}]}).to_string();
    let flattened = json!({"payload": p, "protected": h, "signature": s}).to_string();
    refused(&general, TokenError::Malformed);
    refused(&flattened, TokenError::Malformed);
    // …and base64url-wrapped as the header, so it passes the character check: a JSON
    // object without `alg`.
    refused(
        &format!("{}.{}.{}", b64(&flattened), p, s),
        TokenError::Algorithm,
    );
    refused(&b64(&flattened), TokenError::Malformed);
}

// -------------------------------------------------------------------------- algorithm

#[test]
fn ax1_alg_none_in_any_case_with_an_empty_signature_is_invalid() {
    let p = b64(Value::Object(access_payload(T0)).to_string());
    for alg in ["none", "None", "NONE", "nOnE"] {
        let h = b64(json!({"alg": alg, "typ": "JWT"}).to_string());
        refused(&format!("{h}.{p}."), TokenError::Malformed);
        // With some signature bytes (a valid HMAC over the input, even): still refused.
        refused(&craft_segments(&h, &p), TokenError::Algorithm);
    }
}

#[test]
fn ax2_alg_missing_empty_array_or_lower_case_is_invalid() {
    for h in [
        json!({"typ": "JWT"}),
        json!({"alg": ""}),
        json!({"alg": ["HS256"]}),
        json!({"alg": "hs256"}),
        json!({"alg": "HS256 "}),
        json!({"alg": null}),
        json!({"alg": 256}),
        json!({"alg": {"name": "HS256"}}),
    ] {
        refused(
            &craft(&h, &Value::Object(access_payload(T0))),
            TokenError::Algorithm,
        );
    }
}

#[test]
fn ax2_alg_of_another_family_or_size_is_invalid() {
    // Only HS256 is configured: HS512 (same secret), RS256, ES256, EdDSA are all refused.
    for alg in ["HS384", "HS512", "RS256", "PS256", "ES256", "EdDSA"] {
        refused(
            &with_header(&json!({"alg": alg}).to_string()),
            TokenError::Algorithm,
        );
    }
}

#[test]
fn ax5_duplicate_alg_member_is_invalid() {
    for h in [
        r#"{"alg":"none","alg":"HS256"}"#,
        r#"{"alg":"HS256","alg":"none"}"#,
        r#"{"alg":"HS256","alg":"HS256"}"#,
        r#"{"alg":"HS256","typ":"JWT","typ":"JWT"}"#,
    ] {
        refused(&with_header(h), TokenError::Malformed);
    }
}

#[test]
fn ax_wrong_secret_is_a_bad_signature() {
    let t = good();
    let (h, p, _) = parts(&t);
    let sig = hs256(
        b"another-secret-of-at-least-32-bytes!!",
        format!("{h}.{p}").as_bytes(),
    );
    refused(&format!("{h}.{p}.{sig}"), TokenError::Signature);
    // A payload changed after signing.
    let p2 = b64(Value::Object(with(access_payload(T0), "user_id", "2".into())).to_string());
    refused(&format!("{h}.{p2}.{}", parts(&t).2), TokenError::Signature);
}

// ------------------------------------------------------------------- header parameters

#[test]
fn px1_crit_and_b64_are_invalid() {
    for h in [
        json!({"alg": "HS256", "crit": ["exp"]}),
        json!({"alg": "HS256", "crit": []}),
        json!({"alg": "HS256", "b64": false}),
        json!({"alg": "HS256", "b64": true}),
        json!({"alg": "HS256", "crit": ["b64"], "b64": false}),
    ] {
        refused(&with_header(&h.to_string()), TokenError::HeaderParameter);
    }
}

#[test]
fn px2_typ_wrong_for_the_route_is_invalid() {
    // The header's typ: only JWT-ish values.
    for typ in [
        json!("JWS"),
        json!("refresh"),
        json!("JOSE+JSON"),
        json!(""),
        json!(1),
        json!(null),
        json!(["JWT"]),
    ] {
        refused(
            &with_header(&json!({"alg": "HS256", "typ": typ}).to_string()),
            TokenError::HeaderParameter,
        );
    }
    for typ in ["JWT", "jwt", "at+jwt", "application/at+jwt"] {
        run(&with_header(
            &json!({"alg": "HS256", "typ": typ}).to_string(),
        ))
        .unwrap();
    }
    // A refresh-typed token on an API route.
    refused(
        &token_with(with(access_payload(T0), "token_type", "refresh".into())),
        TokenError::WrongType,
    );
}

#[test]
fn px3_control_characters_in_kid_typ_sub_are_not_reflected() {
    for evil in [
        "a\r\nSet-Cookie: x=1",
        "nul\u{0}byte",
        "\u{1b}[31mred\u{1b}[0m",
        "é\u{202e}",
    ] {
        // kid: unknown key (no key has a kid) → 401, and the answer is the fixed sentence.
        refused(
            &with_header(&json!({"alg": "HS256", "kid": evil}).to_string()),
            TokenError::UnknownKey,
        );
        refused(
            &with_header(&json!({"alg": "HS256", "typ": evil}).to_string()),
            TokenError::HeaderParameter,
        );
        // sub is not a claim keycard reads: the token is fine and the value is carried as data.
        let ok = run(&token_with(with(access_payload(T0), "sub", evil.into()))).unwrap();
        assert_eq!(ok.claims.get("sub"), Some(&Value::from(evil)));
    }
}

#[test]
fn px3_kid_of_wrong_type_is_invalid() {
    refused(
        &with_header(&json!({"alg": "HS256", "kid": 1}).to_string()),
        TokenError::Malformed,
    );
}

#[test]
fn px4_zip_or_enc_is_invalid() {
    for h in [
        json!({"alg": "HS256", "zip": "DEF"}),
        json!({"alg": "HS256", "enc": "A256GCM"}),
        json!({"alg": "HS256", "zip": null}),
    ] {
        refused(&with_header(&h.to_string()), TokenError::HeaderParameter);
    }
}

// ---------------------------------------------------------------------- claims and time

#[test]
fn cx1_exp_missing_is_invalid() {
    refused(
        &token_with(without(access_payload(T0), "exp")),
        TokenError::MissingClaim,
    );
}

#[test]
fn cx1_exp_of_wrong_type_or_impossible_value_is_invalid() {
    for raw in [
        "\"1896300000\"",
        "null",
        "-1",
        "1e300",
        "18446744073709551616",
        "true",
        "[]",
        "{}",
        "-0.5",
        "1e20",
    ] {
        let exp: Value = serde_json::from_str(raw).unwrap();
        refused(
            &token_with(with(access_payload(T0), "exp", exp)),
            TokenError::InvalidClaim,
        );
    }
    // Raw text, so no JSON library rewrites the number first.
    let p = Value::Object(without(access_payload(T0), "exp")).to_string();
    for num in ["18446744073709551616", "1e300", "-1", "1E400"] {
        let text = format!("{{\"exp\":{num},{}", &p[1..]);
        let t = craft_raw(&hs_header().to_string(), &text);
        let r = run(&t);
        // 1E400 is beyond f64: serde_json refuses the document itself.
        let want = if num == "1E400" {
            TokenError::Malformed
        } else {
            TokenError::InvalidClaim
        };
        assert_refused(r, want, t.as_bytes());
    }
}

#[test]
fn cx2_exp_float_in_the_future_is_accepted() {
    let ok = run(&token_with(with(
        access_payload(T0),
        "exp",
        json!((T0 + 300) as f64 + 0.75),
    )))
    .unwrap();
    assert_eq!(ok.claims.exp(), T0 + 300);
    // A float just past now is accepted; a float just before now is expired.
    run(&token_with(with(
        access_payload(T0),
        "exp",
        json!(T0 as f64 + 1.5),
    )))
    .unwrap();
    refused(
        &token_with(with(access_payload(T0), "exp", json!(T0 as f64 + 0.5))),
        TokenError::Expired,
    );
}

#[test]
fn cx3_exp_30s_ago_with_leeway_0_says_expired() {
    let t = token_with(with(access_payload(T0 - 330), "exp", (T0 - 30).into()));
    let err = keycard_core::AuthError::invalid_token(run(&t).unwrap_err())
        .with_challenge(Some(keycard_core::Challenge::bearer("api")));
    assert_invalid_err(&err, TokenError::Expired, t.as_bytes());
    assert!(
        err.www_authenticate()
            .unwrap()
            .contains(r#"error_description="Token is expired""#)
    );
}

#[test]
fn cx4_nbf_or_iat_as_a_string_is_invalid() {
    for claim in ["nbf", "iat"] {
        refused(
            &token_with(with(access_payload(T0), claim, T0.to_string().into())),
            TokenError::InvalidClaim,
        );
        refused(
            &token_with(with(access_payload(T0), claim, Value::Null)),
            TokenError::InvalidClaim,
        );
    }
}

#[test]
fn cx5_iat_in_the_future_beyond_the_leeway_is_invalid() {
    refused(
        &token_with(with(access_payload(T0), "iat", (T0 + 1).into())),
        TokenError::IssuedInFuture,
    );
    let v = verifier(contract(&FrozenClock::new(T0)).leeway(Duration::from_secs(60)));
    let t = token_with(with(access_payload(T0), "iat", (T0 + 61).into()));
    assert_refused(
        v.verify(t.as_bytes(), ACCESS, false),
        TokenError::IssuedInFuture,
        t.as_bytes(),
    );
    v.verify(
        token_with(with(access_payload(T0), "iat", (T0 + 60).into())).as_bytes(),
        ACCESS,
        false,
    )
    .unwrap();
}

#[test]
fn cx6_aud_wrong_or_present_without_configured_audience_is_invalid() {
    refused(
        &token_with(with(access_payload(T0), "aud", "other-api".into())),
        TokenError::Audience,
    );
    refused(
        &token_with(without(access_payload(T0), "aud")),
        TokenError::Audience,
    );
    let no_aud = verifier(
        keycard_core::Settings::builder()
            .hmac_secret(SECRET)
            .issuer(ISS)
            .clock(std::sync::Arc::new(FrozenClock::new(T0))),
    );
    let t = good();
    assert_refused(
        no_aud.verify(t.as_bytes(), ACCESS, false),
        TokenError::Audience,
        t.as_bytes(),
    );
    no_aud
        .verify(
            token_with(without(access_payload(T0), "aud")).as_bytes(),
            ACCESS,
            false,
        )
        .unwrap();
}

#[test]
fn cx7_aud_list_accepted_when_it_names_ours_empty_or_number_refused() {
    let v = verifier(
        keycard_core::Settings::builder()
            .hmac_secret(SECRET)
            .issuer(ISS)
            .audience("api")
            .clock(std::sync::Arc::new(FrozenClock::new(T0))),
    );
    let go = |aud: Value| {
        let t = token_with(with(access_payload(T0), "aud", aud));
        (v.verify(t.as_bytes(), ACCESS, false), t)
    };
    go(json!(["x", "api"])).0.unwrap();
    go(json!("api")).0.unwrap();
    for bad in [
        json!([]),
        json!(5),
        json!(["x"]),
        json!(["api", 5]),
        json!(null),
        json!({"api": true}),
        json!("API"),
    ] {
        let (r, t) = go(bad);
        assert_refused(r, TokenError::Audience, t.as_bytes());
    }
}

#[test]
fn cx7_audience_list_setting_accepts_any_of_them() {
    let v = verifier(
        keycard_core::Settings::builder()
            .hmac_secret(SECRET)
            .audience(keycard_core::Audience::Many(vec!["a".into(), "b".into()]))
            .clock(std::sync::Arc::new(FrozenClock::new(T0))),
    );
    let p = without(access_payload(T0), "iss");
    for ok in [json!("b"), json!(["z", "a"])] {
        v.verify(
            token_with(with(p.clone(), "aud", ok)).as_bytes(),
            ACCESS,
            false,
        )
        .unwrap();
    }
    let t = token_with(with(p, "aud", json!("c")));
    assert_refused(
        v.verify(t.as_bytes(), ACCESS, false),
        TokenError::Audience,
        t.as_bytes(),
    );
}

#[test]
fn cx8_iss_missing_wrong_or_array_is_invalid() {
    refused(
        &token_with(without(access_payload(T0), "iss")),
        TokenError::Issuer,
    );
    for iss in [
        json!("someone-else"),
        json!([ISS]),
        json!(null),
        json!(1),
        json!("keycard-contract "),
    ] {
        refused(
            &token_with(with(access_payload(T0), "iss", iss)),
            TokenError::Issuer,
        );
    }
}

#[test]
fn cx9_duplicate_exp_is_invalid() {
    let p = Value::Object(without(access_payload(T0), "exp")).to_string();
    for (first, second) in [(T0 + 300, T0 - 1), (T0 - 1, T0 + 300)] {
        let text = format!(
            "{{\"exp\":{first},{},\"exp\":{second}}}",
            &p[1..p.len() - 1]
        );
        refused(
            &craft_raw(&hs_header().to_string(), &text),
            TokenError::Malformed,
        );
    }
    // Any duplicate member, not only exp.
    let p = Value::Object(access_payload(T0)).to_string();
    refused(
        &craft_raw(
            &hs_header().to_string(),
            &format!("{{\"user_id\":\"2\",{}", &p[1..]),
        ),
        TokenError::Malformed,
    );
}

#[test]
fn cx10_user_id_missing_or_of_wrong_type_is_invalid() {
    refused(
        &token_with(without(access_payload(T0), "user_id")),
        TokenError::MissingClaim,
    );
    for bad in [
        json!(true),
        json!(1.5),
        json!([]),
        json!({}),
        json!(null),
        json!(""),
        json!("x".repeat(257)),
    ] {
        refused(
            &token_with(with(access_payload(T0), "user_id", bad)),
            TokenError::InvalidClaim,
        );
    }
    // Legacy numeric ids name the same user as their text form.
    assert_eq!(
        run(&token_with(with(access_payload(T0), "user_id", json!(42))))
            .unwrap()
            .claims
            .user_id(),
        "42"
    );
}

// ------------------------------------------------------------------------- life cycle

#[test]
fn lx1_access_token_at_the_refresh_endpoint_is_invalid() {
    let t = good();
    assert_refused(
        v().verify(t.as_bytes(), &[TokenKind::Refresh], false),
        TokenError::WrongType,
        t.as_bytes(),
    );
    block_on(async {
        let clock = FrozenClock::new(T0);
        let svc = service(contract(&clock).rotate_refresh_tokens(true), &clock);
        assert_invalid(
            svc.tokens.refresh(&t).await,
            TokenError::WrongType,
            t.as_bytes(),
        );
    });
}

#[test]
fn lx2_token_without_token_type_or_jti_is_invalid() {
    refused(
        &token_with(without(access_payload(T0), "token_type")),
        TokenError::MissingClaim,
    );
    refused(
        &token_with(without(access_payload(T0), "jti")),
        TokenError::MissingClaim,
    );
    refused(
        &token_with(with(access_payload(T0), "token_type", "id".into())),
        TokenError::WrongType,
    );
    refused(
        &token_with(with(access_payload(T0), "token_type", json!(1))),
        TokenError::InvalidClaim,
    );
    for jti in [json!(""), json!(7), json!(null), json!("j".repeat(257))] {
        refused(
            &token_with(with(access_payload(T0), "jti", jti)),
            TokenError::InvalidClaim,
        );
    }
    // A sliding token without its refresh_exp.
    let t = token_with(with(access_payload(T0), "token_type", "sliding".into()));
    assert_refused(
        v().verify(t.as_bytes(), &[], false),
        TokenError::MissingClaim,
        t.as_bytes(),
    );
}

#[test]
fn lx3_blacklisted_jti_is_invalid() {
    block_on(async {
        let clock = FrozenClock::new(T0);
        let svc = service(contract(&clock), &clock);
        let r = token_with(with(
            with(access_payload(T0), "token_type", "refresh".into()),
            "exp",
            (T0 + 3600).into(),
        ));
        svc.tokens.blacklist(&r).await.unwrap();
        assert_invalid(
            svc.tokens.verify(&r).await,
            TokenError::Blacklisted,
            r.as_bytes(),
        );
        assert_invalid(
            svc.tokens.refresh(&r).await,
            TokenError::Blacklisted,
            r.as_bytes(),
        );
    });
}

// ------------------------------------------------------------- transport, at the verifier

#[test]
fn hx4_token_over_the_cap_is_refused_before_any_decoding() {
    // 1 MB of characters no decoder accepts: "too large", not "malformed", so nothing decoded.
    for filler in ["%", "A", "\u{0}"] {
        let t = filler.repeat(1_000_000);
        refused(&t, TokenError::TooLarge);
    }
    let t = "A".repeat(8 * 1024 + 1);
    refused(&t, TokenError::TooLarge);
    let small = verifier(contract(&FrozenClock::new(T0)).max_token_size(256));
    let t = good();
    assert!(t.len() > 256);
    assert_refused(
        small.verify(t.as_bytes(), ACCESS, false),
        TokenError::TooLarge,
        t.as_bytes(),
    );
}

#[test]
fn hx5_characters_outside_base64url_are_invalid_and_never_reflected() {
    let (h, p, s) = parts(&good());
    for bad in [
        "\"", "\\", "%", "é", "\u{0}", "\r\n", "😀", "\u{7f}", ",", ";", "<script>",
    ] {
        for t in [
            format!("{bad}{h}.{p}.{s}"),
            format!("{h}.{p}{bad}.{s}"),
            format!("{h}.{p}.{s}{bad}"),
        ] {
            // `refused` also checks the challenge is exactly the fixed sentence, in visible ASCII.
            refused(&t, TokenError::Malformed);
        }
    }
    // Raw bytes that are not UTF-8 at all.
    let mut t = good().into_bytes();
    t.insert(5, 0xff);
    assert_refused(v().verify(&t, ACCESS, false), TokenError::Malformed, &t);
}

/// Records every event's fields the way a formatting subscriber would: `record_str` and
/// `?value` through `Debug` (escaped), `%value` through `Display` (raw).
struct Capture(std::sync::Arc<std::sync::Mutex<String>>);

struct Fields<'a>(&'a mut String);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        use std::fmt::Write;
        let _ = write!(self.0, "{}={:?} ", field.name(), value);
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        event.record(&mut Fields(&mut self.0.lock().unwrap()));
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[test]
fn px3_control_characters_in_the_user_id_are_not_logged_raw() {
    // The reuse warning names the token's user: a user id with CR/LF or an ANSI escape must
    // not forge log lines or recolour a terminal.
    let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    tracing::subscriber::with_default(Capture(log.clone()), || {
        block_on(async {
            let clock = FrozenClock::new(T0);
            let svc = service(
                contract(&clock)
                    .rotate_refresh_tokens(true)
                    .blacklist_after_rotation(true),
                &clock,
            );
            let mallory = keycard_core::User::new("7\r\nlevel=INFO forged\u{1b}[2J", "mallory");
            svc.users.insert(mallory.clone(), "pw");
            let r = refresh_of(&svc.tokens.obtain_for(&mallory).await.unwrap());
            svc.tokens.refresh(&r).await.unwrap();
            assert_invalid(
                svc.tokens.refresh(&r).await,
                TokenError::Reused,
                r.as_bytes(),
            );
        })
    });
    let log = log.lock().unwrap();
    assert!(
        log.contains("user_id="),
        "the reuse warning was logged: {log:?}"
    );
    assert!(
        !log.contains(['\r', '\n', '\u{1b}']),
        "raw control characters in the log: {log:?}"
    );
}
