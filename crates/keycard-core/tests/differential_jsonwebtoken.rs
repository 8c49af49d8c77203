//! keycard's verifier against `jsonwebtoken::decode`, configured the same way: HS256 with
//! the same secret, the same issuer and audience, the same leeway (30 s), `exp` required,
//! `validate_nbf` on. keycard parses and checks tokens itself (keyed HMAC, typed header,
//! cache), so this holds it to the library everyone else uses: on the hostile corpus
//! (`../shared/cases/hostile.md`) and on property-generated tokens, both accept and refuse
//! the same tokens — except in the cases listed in [`Stricter`], where keycard refuses
//! deliberately and jsonwebtoken may accept. Those are asserted in that direction only:
//! keycard never accepts a token jsonwebtoken refuses.
//!
//! jsonwebtoken reads the system clock; keycard's clock is frozen at the same second, and a
//! comparison that straddles a second boundary is run again.

// A failing test panics with the value: unwrap is the report.
#![allow(clippy::unwrap_used, clippy::result_large_err)]

#[path = "tokens_support.rs"]
mod support;

use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use keycard_core::token::Verifier;
use keycard_core::{FrozenClock, Settings, TokenError};
use proptest::prelude::*;
use serde::Deserialize;
use serde::de::{MapAccess, Visitor};
use serde_json::{Map, Value, json};
use support::*;

const LEEWAY: u64 = 30;
/// keycard's default token size cap.
const SIZE_CAP: usize = 8 * 1024;
/// The latest NumericDate keycard accepts (9999-12-31T23:59:59Z).
const MAX_DATE: f64 = 253_402_300_799.0;

/// Where keycard is deliberately stricter than `jsonwebtoken::decode` (as configured here).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stricter {
    /// A member name twice in the header or the payload: jsonwebtoken takes one of them.
    DuplicateMember,
    /// `crit`, `b64`, `zip` or `enc` in the header: keycard supports none of them.
    UnsupportedHeaderParameter,
    /// `typ` present and not a JWT media type: jsonwebtoken ignores `typ`.
    HeaderTyp,
    /// `kid` present: keycard's key has none, and a `kid` must name a key; jsonwebtoken,
    /// given one key, ignores it.
    KidNamesNoKey,
    /// A header parameter or claim that is `null`: jsonwebtoken reads it as absent.
    NullMember,
    /// `iss` or `aud` missing while configured: keycard requires them, jsonwebtoken only
    /// requires what `required_spec_claims` names (`exp`).
    IssOrAudMissing,
    /// `iss` an array: jsonwebtoken accepts one that contains the issuer.
    IssArray,
    /// `exp` at the leeway boundary or fractional: keycard wants `exp > now - leeway` with
    /// `exp` rounded down, jsonwebtoken `exp >= now - leeway` with `exp` rounded to nearest.
    ExpBoundary,
    /// A fractional `nbf`: keycard rounds it up, jsonwebtoken to nearest.
    FractionalNbf,
    /// `exp`, `nbf` or `iat` after the year 9999.
    DateBeyond9999,
    /// `iat` not a NumericDate, or in the future beyond the leeway: jsonwebtoken ignores `iat`.
    Iat,
    /// keycard's own claims: the token type, `jti`, the user id, the session id, a sliding
    /// token's `refresh_exp` (simplejwt's; jsonwebtoken knows nothing of them).
    AppClaims,
    /// Longer than keycard's size cap.
    SizeCap,
}

/// The decoded header and payload, members in order (duplicates kept).
struct Parts {
    header: Option<Vec<(String, Value)>>,
    payload: Option<Vec<(String, Value)>>,
}

struct Members(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Members {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Members;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Members, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = m.next_entry::<String, Value>()? {
                    out.push((k, v));
                }
                Ok(Members(out))
            }
        }
        d.deserialize_map(V)
    }
}

fn parts(token: &str) -> Parts {
    let seg = |i: usize| -> Option<Vec<(String, Value)>> {
        let s = token.split('.').nth(i)?;
        let bytes =
            base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, s).ok()?;
        serde_json::from_slice::<Members>(&bytes).ok().map(|m| m.0)
    };
    Parts {
        header: seg(0),
        payload: seg(1),
    }
}

fn get<'a>(members: &'a [(String, Value)], name: &str) -> Option<&'a Value> {
    members
        .iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

fn has_duplicates(members: &[(String, Value)]) -> bool {
    let mut seen = BTreeSet::new();
    members.iter().any(|(k, _)| !seen.insert(k.as_str()))
}

fn numeric(v: &Value) -> Option<f64> {
    v.as_f64().filter(|f| f.is_finite() && *f >= 0.0)
}

fn string_ok(v: Option<&Value>) -> bool {
    matches!(v, Some(Value::String(s)) if !s.is_empty() && s.len() <= 256)
}

/// The exceptions that apply to `token` at `now`.
fn stricter(token: &str, now: u64) -> BTreeSet<Stricter> {
    use Stricter::*;
    let mut out = BTreeSet::new();
    if token.len() > SIZE_CAP {
        out.insert(SizeCap);
    }
    let p = parts(token);
    let now = now as f64;
    let l = LEEWAY as f64;
    if let Some(h) = &p.header {
        if has_duplicates(h) {
            out.insert(DuplicateMember);
        }
        for (k, v) in h {
            match k.as_str() {
                "crit" | "b64" | "zip" | "enc" => {
                    out.insert(UnsupportedHeaderParameter);
                }
                "typ" => {
                    let ok = ["jwt", "at+jwt", "application/jwt", "application/at+jwt"];
                    if !matches!(v, Value::String(t) if ok.iter().any(|o| t.eq_ignore_ascii_case(o)))
                    {
                        out.insert(HeaderTyp);
                    }
                }
                "kid" => {
                    out.insert(KidNamesNoKey);
                }
                _ => {}
            }
            if v.is_null() {
                out.insert(NullMember);
            }
        }
    }
    let Some(c) = &p.payload else {
        return out;
    };
    if has_duplicates(c) {
        out.insert(DuplicateMember);
    }
    for name in ["nbf", "iat", "iss", "aud"] {
        if get(c, name).is_some_and(Value::is_null) {
            out.insert(NullMember);
        }
    }
    if get(c, "iss").is_none() || get(c, "aud").is_none() {
        out.insert(IssOrAudMissing);
    }
    if get(c, "iss").is_some_and(Value::is_array) {
        out.insert(IssArray);
    }
    for name in ["exp", "nbf", "iat"] {
        if get(c, name).and_then(numeric).is_some_and(|d| d > MAX_DATE) {
            out.insert(DateBeyond9999);
        }
    }
    if let Some(exp) = get(c, "exp").and_then(numeric)
        && exp.floor() <= now - l
        && exp.round() >= now - l
    {
        out.insert(ExpBoundary);
    }
    if let Some(nbf) = get(c, "nbf").and_then(numeric)
        && nbf.fract() != 0.0
    {
        out.insert(FractionalNbf);
    }
    match get(c, "iat") {
        None => {}
        Some(v) => match numeric(v) {
            Some(iat) if iat.ceil() <= now + l => {}
            _ => {
                out.insert(Iat);
            }
        },
    }
    let kind = get(c, "token_type").and_then(Value::as_str);
    let user_ok = match get(c, "user_id") {
        Some(Value::Number(n)) => n.is_u64() || n.is_i64(),
        v => string_ok(v),
    };
    let sid_ok = get(c, "sid").is_none_or(|v| string_ok(Some(v)));
    let sliding_ok = kind != Some("sliding") || get(c, "refresh_exp").and_then(numeric).is_some();
    if !matches!(kind, Some("access" | "refresh" | "sliding"))
        || !string_ok(get(c, "jti"))
        || !user_ok
        || !sid_ok
        || !sliding_ok
    {
        out.insert(AppClaims);
    }
    out
}

struct Env {
    clock: FrozenClock,
    keycard: Verifier,
    key: DecodingKey,
    validation: Validation,
}

fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        let clock = FrozenClock::new(system_now());
        let settings = Settings::builder()
            .hmac_secret(SECRET)
            .issuer(ISS)
            .audience(AUD)
            .leeway(Duration::from_secs(LEEWAY))
            .clock(Arc::new(clock.clone()))
            .build()
            .unwrap();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISS]);
        validation.set_audience(&[AUD]);
        validation.leeway = LEEWAY;
        validation.validate_nbf = true;
        Env {
            clock,
            // Every comparison verifies afresh: the cache is tested on its own.
            keycard: Verifier::new(Arc::new(settings)).with_cache(0),
            key: DecodingKey::from_secret(SECRET.as_bytes()).unwrap(),
            validation,
        }
    })
}

fn system_now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

/// keycard's answer, jsonwebtoken's (accepted or not), and the second both saw.
fn judge(token: &str) -> (Result<(), TokenError>, bool, u64) {
    let e = env();
    loop {
        let now = system_now();
        e.clock.set(now);
        let keycard = e.keycard.verify(token.as_bytes(), &[], false).map(|_| ());
        let theirs =
            jsonwebtoken::decode::<Map<String, Value>>(token, &e.key, &e.validation).is_ok();
        if system_now() == now {
            return (keycard, theirs, now);
        }
    }
}

/// The property: keycard accepts only what jsonwebtoken accepts, and refuses what it
/// accepts only for a listed reason.
fn check(token: &str) -> Result<(), String> {
    let (keycard, theirs, now) = judge(token);
    let reasons = stricter(token, now);
    match (&keycard, theirs) {
        (Ok(()), false) => Err(format!(
            "keycard accepted a token jsonwebtoken refuses (now {now}): {}",
            describe(token)
        )),
        (Err(e), true) if reasons.is_empty() => Err(format!(
            "keycard refused ({e:?}) a token jsonwebtoken accepts, for no listed reason (now {now}): {}",
            describe(token)
        )),
        _ => Ok(()),
    }
}

fn describe(token: &str) -> String {
    let dec = |i: usize| {
        token
            .split('.')
            .nth(i)
            .and_then(|s| {
                base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, s).ok()
            })
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_else(|| "<not base64url>".into())
    };
    format!("header {} payload {}", dec(0), dec(1))
}

// ----------------------------------------------------------------------- the hostile corpus

/// A valid payload at `now`.
fn payload_at(now: u64) -> Map<String, Value> {
    access_payload(now)
}

fn with(mut p: Map<String, Value>, k: &str, v: Value) -> Map<String, Value> {
    p.insert(k.into(), v);
    p
}

fn without(mut p: Map<String, Value>, k: &str) -> Map<String, Value> {
    p.remove(k);
    p
}

fn tok(p: Map<String, Value>) -> String {
    token_with(p)
}

fn header_tok(h: &str, now: u64) -> String {
    craft_raw(h, &Value::Object(payload_at(now)).to_string())
}

/// How a corpus row must come out.
enum Want {
    /// Both accept.
    BothAccept,
    /// Both refuse.
    BothRefuse,
    /// keycard refuses, for this listed reason (jsonwebtoken may accept).
    KeycardRefuses(Stricter),
}

fn corpus(now: u64) -> Vec<(&'static str, String, Want)> {
    use Stricter::*;
    use Want::*;
    let good = tok(payload_at(now));
    let mut it = good.split('.');
    let (h, p, s) = (
        it.next().unwrap().to_owned(),
        it.next().unwrap().to_owned(),
        it.next().unwrap().to_owned(),
    );
    let mut rows = vec![
        ("baseline", good.clone(), BothAccept),
        // SX: structure and encoding.
        ("SX1 two segments", format!("{h}.{p}"), BothRefuse),
        ("SX1 four segments", format!("{h}.{p}.{s}.{s}"), BothRefuse),
        ("SX2 no signature", format!("{h}.{p}."), BothRefuse),
        ("SX3 padding", format!("{h}.{p}.{s}="), BothRefuse),
        ("SX3 plus", format!("{h}+.{p}.{s}"), BothRefuse),
        ("SX3 space", format!("{h}.{p} .{s}"), BothRefuse),
        ("SX4 header []", header_tok("[]", now), BothRefuse),
        ("SX4 header string", header_tok("\"x\"", now), BothRefuse),
        (
            "SX4 header BOM",
            header_tok("\u{feff}{\"alg\":\"HS256\"}", now),
            BothRefuse,
        ),
        (
            "SX6 JSON serialization",
            json!({"payload": p, "protected": h, "signature": s}).to_string(),
            BothRefuse,
        ),
        // AX: algorithm.
        (
            "AX1 alg none",
            header_tok(r#"{"alg":"none"}"#, now),
            BothRefuse,
        ),
        (
            "AX1 alg NONE",
            header_tok(r#"{"alg":"NONE"}"#, now),
            BothRefuse,
        ),
        (
            "AX2 alg missing",
            header_tok(r#"{"typ":"JWT"}"#, now),
            BothRefuse,
        ),
        (
            "AX2 alg lower case",
            header_tok(r#"{"alg":"hs256"}"#, now),
            BothRefuse,
        ),
        (
            "AX2 alg array",
            header_tok(r#"{"alg":["HS256"]}"#, now),
            BothRefuse,
        ),
        (
            "AX3 alg HS512",
            header_tok(r#"{"alg":"HS512"}"#, now),
            BothRefuse,
        ),
        (
            "AX5 duplicate alg",
            header_tok(r#"{"alg":"none","alg":"HS256"}"#, now),
            KeycardRefuses(DuplicateMember),
        ),
        // PX: header parameters.
        (
            "PX1 crit",
            header_tok(r#"{"alg":"HS256","crit":["exp"]}"#, now),
            BothRefuse,
        ),
        (
            "PX1 crit []",
            header_tok(r#"{"alg":"HS256","crit":[]}"#, now),
            BothRefuse,
        ),
        (
            "PX1 b64 false",
            header_tok(r#"{"alg":"HS256","b64":false}"#, now),
            BothRefuse,
        ),
        (
            "PX1 b64 true",
            header_tok(r#"{"alg":"HS256","b64":true}"#, now),
            KeycardRefuses(UnsupportedHeaderParameter),
        ),
        (
            "PX2 typ JWS",
            header_tok(r#"{"alg":"HS256","typ":"JWS"}"#, now),
            KeycardRefuses(HeaderTyp),
        ),
        (
            "PX2 typ number",
            header_tok(r#"{"alg":"HS256","typ":1}"#, now),
            BothRefuse,
        ),
        (
            "PX3 kid with CR/LF",
            header_tok(r#"{"alg":"HS256","kid":"a\r\nb"}"#, now),
            KeycardRefuses(KidNamesNoKey),
        ),
        (
            "PX4 zip",
            header_tok(r#"{"alg":"HS256","zip":"DEF"}"#, now),
            KeycardRefuses(UnsupportedHeaderParameter),
        ),
        (
            "PX4 enc",
            header_tok(r#"{"alg":"HS256","enc":"A256GCM"}"#, now),
            KeycardRefuses(UnsupportedHeaderParameter),
        ),
        (
            "registered cty mistyped",
            header_tok(r#"{"alg":"HS256","cty":5}"#, now),
            BothRefuse,
        ),
        (
            "registered x5c mistyped",
            header_tok(r#"{"alg":"HS256","x5c":"a"}"#, now),
            BothRefuse,
        ),
        (
            "registered x5t",
            header_tok(r#"{"alg":"HS256","x5t":"abc"}"#, now),
            BothAccept,
        ),
        // CX: claims and time.
        (
            "CX1 exp missing",
            tok(without(payload_at(now), "exp")),
            BothRefuse,
        ),
        (
            "CX1 exp string",
            tok(with(payload_at(now), "exp", json!("soon"))),
            BothRefuse,
        ),
        (
            "CX1 exp null",
            tok(with(payload_at(now), "exp", Value::Null)),
            BothRefuse,
        ),
        (
            "CX1 exp -1",
            tok(with(payload_at(now), "exp", json!(-1))),
            BothRefuse,
        ),
        (
            "CX1 exp 1e300",
            tok(with(payload_at(now), "exp", json!(1e300))),
            BothRefuse,
        ),
        (
            "CX1 exp 2^64",
            craft_raw(
                &hs_header().to_string(),
                &format!(
                    "{{\"exp\":18446744073709551616,{}",
                    &Value::Object(without(payload_at(now), "exp")).to_string()[1..]
                ),
            ),
            BothRefuse,
        ),
        (
            "CX1 exp after 9999",
            tok(with(payload_at(now), "exp", json!(300_000_000_000u64))),
            KeycardRefuses(DateBeyond9999),
        ),
        (
            "CX2 exp float in the future",
            tok(with(payload_at(now), "exp", json!(now as f64 + 300.75))),
            BothAccept,
        ),
        (
            "CX3 exp long ago",
            tok(with(payload_at(now), "exp", json!(now - 3600))),
            BothRefuse,
        ),
        (
            "exp exactly now - leeway",
            tok(with(payload_at(now), "exp", json!(now - LEEWAY))),
            KeycardRefuses(ExpBoundary),
        ),
        (
            "CX4 nbf string",
            tok(with(payload_at(now), "nbf", json!("x"))),
            BothRefuse,
        ),
        (
            "CX4 iat string",
            tok(with(payload_at(now), "iat", json!("x"))),
            KeycardRefuses(Iat),
        ),
        (
            "nbf beyond the leeway",
            tok(with(payload_at(now), "nbf", json!(now + LEEWAY + 1))),
            BothRefuse,
        ),
        (
            "nbf at the leeway",
            tok(with(payload_at(now), "nbf", json!(now + LEEWAY))),
            BothAccept,
        ),
        (
            "CX5 iat in the future",
            tok(with(payload_at(now), "iat", json!(now + LEEWAY + 1))),
            KeycardRefuses(Iat),
        ),
        (
            "CX6 aud wrong",
            tok(with(payload_at(now), "aud", json!("other"))),
            BothRefuse,
        ),
        (
            "CX6 aud missing",
            tok(without(payload_at(now), "aud")),
            KeycardRefuses(IssOrAudMissing),
        ),
        (
            "CX7 aud list naming ours",
            tok(with(payload_at(now), "aud", json!(["x", AUD]))),
            BothAccept,
        ),
        (
            "CX7 aud []",
            tok(with(payload_at(now), "aud", json!([]))),
            BothRefuse,
        ),
        (
            "CX7 aud 5",
            tok(with(payload_at(now), "aud", json!(5))),
            BothRefuse,
        ),
        (
            "aud null",
            tok(with(payload_at(now), "aud", Value::Null)),
            KeycardRefuses(NullMember),
        ),
        (
            "CX8 iss missing",
            tok(without(payload_at(now), "iss")),
            KeycardRefuses(IssOrAudMissing),
        ),
        (
            "CX8 iss wrong",
            tok(with(payload_at(now), "iss", json!("x"))),
            BothRefuse,
        ),
        (
            "CX8 iss array",
            tok(with(payload_at(now), "iss", json!([ISS]))),
            KeycardRefuses(IssArray),
        ),
        (
            "CX8 iss number",
            tok(with(payload_at(now), "iss", json!(1))),
            BothRefuse,
        ),
        (
            "CX10 user id missing",
            tok(without(payload_at(now), "user_id")),
            KeycardRefuses(AppClaims),
        ),
        (
            "LX2 token_type missing",
            tok(without(payload_at(now), "token_type")),
            KeycardRefuses(AppClaims),
        ),
        (
            "LX2 jti missing",
            tok(without(payload_at(now), "jti")),
            KeycardRefuses(AppClaims),
        ),
        // HX: transport, at the verifier.
        (
            "HX4 over the size cap",
            tok(with(payload_at(now), "pad", json!("x".repeat(SIZE_CAP)))),
            KeycardRefuses(SizeCap),
        ),
        ("HX5 quote", format!("{h}.{p}\".{s}"), BothRefuse),
        (
            "wrong secret",
            {
                let sig = hs256(
                    b"another-secret-of-at-least-32-bytes!!",
                    format!("{h}.{p}").as_bytes(),
                );
                format!("{h}.{p}.{sig}")
            },
            BothRefuse,
        ),
    ];
    // CX9: duplicate exp, either order.
    let rest = Value::Object(without(payload_at(now), "exp")).to_string();
    for (a, b) in [(now + 300, now - 3600), (now - 3600, now + 300)] {
        rows.push((
            "CX9 duplicate exp",
            craft_raw(
                &hs_header().to_string(),
                &format!("{{\"exp\":{a},{},\"exp\":{b}}}", &rest[1..rest.len() - 1]),
            ),
            KeycardRefuses(DuplicateMember),
        ));
    }
    rows
}

#[test]
fn the_hostile_corpus_gets_the_same_answers_but_for_the_listed_exceptions() {
    let mut counts = std::collections::BTreeMap::new();
    for (id, token, want) in corpus(system_now()) {
        let (keycard, theirs, now) = judge(&token);
        match want {
            Want::BothAccept => {
                assert!(
                    keycard.is_ok() && theirs,
                    "{id}: keycard {keycard:?}, jsonwebtoken {theirs}"
                )
            }
            Want::BothRefuse => {
                assert!(
                    keycard.is_err() && !theirs,
                    "{id}: keycard {keycard:?}, jsonwebtoken {theirs}"
                )
            }
            Want::KeycardRefuses(reason) => {
                assert!(keycard.is_err(), "{id}: keycard accepted");
                assert!(
                    stricter(&token, now).contains(&reason),
                    "{id}: the classifier does not see {reason:?}"
                );
                *counts.entry(reason).or_insert(0) += usize::from(theirs);
            }
        }
        // And the general property, on every row.
        check(&token).unwrap_or_else(|e| panic!("{id}: {e}"));
    }
    // The exceptions are real: jsonwebtoken accepts at least these.
    for reason in [
        Stricter::UnsupportedHeaderParameter,
        Stricter::HeaderTyp,
        Stricter::KidNamesNoKey,
        Stricter::NullMember,
        Stricter::IssOrAudMissing,
        Stricter::IssArray,
        Stricter::ExpBoundary,
        Stricter::DateBeyond9999,
        Stricter::Iat,
        Stricter::AppClaims,
        Stricter::SizeCap,
    ] {
        assert!(
            counts.get(&reason).copied().unwrap_or(0) > 0,
            "jsonwebtoken refused every {reason:?} row: not an exception after all?"
        );
    }
}

// ------------------------------------------------------------------- generated tokens

fn pick<T: Clone + std::fmt::Debug + 'static>(items: Vec<T>) -> impl Strategy<Value = T> {
    prop::sample::select(items)
}

/// A time claim relative to now: integers around both leeway boundaries, fractions,
/// strings, null, absurd values — or absent.
fn time_claim(centre: i64) -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        2 => Just(None),
        4 => (-3i64..=3).prop_map(move |d| Some(json!(["rel", centre + d]))),
        2 => (-400i64..400).prop_map(|d| Some(json!(["rel", d]))),
        2 => (-40i64..40, 1u32..100).prop_map(move |(d, f)| Some(json!(["relf", centre + d, f]))),
        1 => pick(vec![json!("soon"), Value::Null, json!(-1), json!(1e300), json!(300_000_000_000u64), json!(true), json!([])]).prop_map(Some),
    ]
}

/// Replaces `["rel", d]` / `["relf", d, f]` with `now + d` / `now + d + f/100`.
fn resolve(v: Value, now: u64) -> Value {
    match v.as_array().map(Vec::as_slice) {
        Some([Value::String(t), d]) if t == "rel" => json!(now as i64 + d.as_i64().unwrap()),
        Some([Value::String(t), d, f]) if t == "relf" => {
            json!(now as f64 + d.as_f64().unwrap() + f.as_f64().unwrap() / 100.0)
        }
        _ => v,
    }
}

#[derive(Debug, Clone)]
struct Gen {
    header: Vec<(String, Value)>,
    claims: Vec<(String, Option<Value>)>,
    duplicate: Option<(bool, String, Value)>,
    wrong_secret: bool,
}

fn header_strategy() -> impl Strategy<Value = Vec<(String, Value)>> {
    let alg = prop_oneof![
        8 => Just(Some(json!("HS256"))),
        1 => pick(vec![json!("hs256"), json!("none"), json!("HS512"), json!("RS256"), json!(256), Value::Null]).prop_map(Some),
        1 => Just(None),
    ];
    let typ = prop_oneof![
        4 => Just(None),
        4 => pick(vec![json!("JWT"), json!("at+jwt"), json!("jwt")]).prop_map(Some),
        1 => pick(vec![json!("JWS"), json!(1), Value::Null, json!("")]).prop_map(Some),
    ];
    let extra = prop_oneof![
        12 => Just(None),
        1 => pick(vec![
            ("kid", json!("k1")), ("crit", json!(["exp"])), ("crit", json!([])), ("b64", json!(true)),
            ("b64", json!(false)), ("zip", json!("DEF")), ("enc", json!("A256GCM")), ("cty", json!("JWT")),
            ("cty", json!(5)), ("cty", Value::Null), ("x5t", json!("abc")), ("x5c", json!(["a"])),
            ("x5c", json!("a")), ("nonce", json!({})), ("custom", json!({"a": [1, null]})),
        ]).prop_map(|(k, v)| Some((k.to_owned(), v))),
    ];
    (alg, typ, extra).prop_map(|(alg, typ, extra)| {
        let mut h = Vec::new();
        if let Some(a) = alg {
            h.push(("alg".to_owned(), a));
        }
        if let Some(t) = typ {
            h.push(("typ".to_owned(), t));
        }
        if let Some((k, v)) = extra {
            h.push((k, v));
        }
        h
    })
}

fn claims_strategy() -> impl Strategy<Value = Vec<(String, Option<Value>)>> {
    let l = LEEWAY as i64;
    let exp = prop_oneof![
        3 => (60i64..600).prop_map(|d| Some(json!(["rel", d]))),
        3 => time_claim(-l),
    ];
    let iss = prop_oneof![
        6 => Just(Some(json!(ISS))),
        1 => pick(vec![None, Some(json!("other")), Some(json!([ISS])), Some(json!([ISS, "x"])), Some(Value::Null), Some(json!(1))]),
    ];
    let aud = prop_oneof![
        6 => Just(Some(json!(AUD))),
        1 => pick(vec![None, Some(json!(["x", AUD])), Some(json!([])), Some(json!(5)), Some(Value::Null), Some(json!("x")), Some(json!([AUD, 5]))]),
    ];
    let kind = prop_oneof![
        8 => pick(vec![json!("access"), json!("refresh")]).prop_map(Some),
        1 => pick(vec![None, Some(json!("sliding")), Some(json!(1)), Some(json!("id"))]),
    ];
    let jti = prop_oneof![
        8 => Just(Some(json!("0123456789abcdef"))),
        1 => pick(vec![None, Some(json!("")), Some(json!(7)), Some(json!("j".repeat(257)))]),
    ];
    let user = prop_oneof![
        8 => Just(Some(json!("1"))),
        1 => pick(vec![None, Some(json!(42)), Some(json!(true)), Some(json!("")), Some(json!(1.5))]),
    ];
    let sid = prop_oneof![
        3 => Just(None),
        3 => Just(Some(json!("s1"))),
        1 => pick(vec![Some(json!("")), Some(json!(1))]),
    ];
    (
        exp,
        time_claim(l),
        prop_oneof![2 => Just(Some(json!(["rel", 0]))), 1 => time_claim(l)],
        iss,
        aud,
        kind,
        jti,
        user,
        sid,
    )
        .prop_map(|(exp, nbf, iat, iss, aud, kind, jti, user, sid)| {
            vec![
                ("exp".to_owned(), exp),
                ("nbf".to_owned(), nbf),
                ("iat".to_owned(), iat),
                ("iss".to_owned(), iss),
                ("aud".to_owned(), aud),
                ("token_type".to_owned(), kind),
                ("jti".to_owned(), jti),
                ("user_id".to_owned(), user),
                ("sid".to_owned(), sid),
            ]
        })
}

fn gen_strategy() -> impl Strategy<Value = Gen> {
    let duplicate = prop_oneof![
        10 => Just(None),
        1 => (any::<bool>(), pick(vec!["exp", "alg", "aud", "user_id", "x"]), pick(vec![json!("HS256"), json!(["rel", -3600]), json!("2")]))
            .prop_map(|(in_header, k, v)| Some((in_header, k.to_owned(), v))),
    ];
    (
        header_strategy(),
        claims_strategy(),
        duplicate,
        prop::bool::weighted(0.05),
    )
        .prop_map(|(header, claims, duplicate, wrong_secret)| Gen {
            header,
            claims,
            duplicate,
            wrong_secret,
        })
}

/// JSON object text from members (duplicates kept, in order).
fn object_text(members: &[(String, Value)]) -> String {
    let body: Vec<String> = members
        .iter()
        .map(|(k, v)| format!("{}:{}", Value::from(k.as_str()), v))
        .collect();
    format!("{{{}}}", body.join(","))
}

fn build(g: &Gen, now: u64) -> String {
    let mut header = g.header.clone();
    let mut payload: Vec<(String, Value)> = g
        .claims
        .iter()
        .filter_map(|(k, v)| v.clone().map(|v| (k.clone(), resolve(v, now))))
        .collect();
    if let Some((in_header, k, v)) = &g.duplicate {
        let target = if *in_header {
            &mut header
        } else {
            &mut payload
        };
        target.push((k.clone(), resolve(v.clone(), now)));
    }
    let input = format!(
        "{}.{}",
        b64(object_text(&header)),
        b64(object_text(&payload))
    );
    let secret: &[u8] = if g.wrong_secret {
        b"another-secret-of-at-least-32-bytes!!"
    } else {
        SECRET.as_bytes()
    };
    format!("{input}.{}", hs256(secret, input.as_bytes()))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn generated_tokens_get_the_same_answers_but_for_the_listed_exceptions(g in gen_strategy()) {
        let token = build(&g, system_now());
        if let Err(e) = check(&token) {
            return Err(TestCaseError::fail(e));
        }
    }
}

#[test]
fn the_generator_makes_tokens_both_accept_and_both_refuse() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let (mut both_ok, mut both_refuse, mut stricter_only) = (0, 0, 0);
    for _ in 0..600 {
        let g = gen_strategy().new_tree(&mut runner).unwrap().current();
        let token = build(&g, system_now());
        match judge(&token) {
            (Ok(()), true, _) => both_ok += 1,
            (Err(_), false, _) => both_refuse += 1,
            (Err(_), true, _) => stricter_only += 1,
            (Ok(()), false, _) => panic!(
                "keycard accepted what jsonwebtoken refused: {}",
                describe(&token)
            ),
        }
    }
    println!(
        "600 generated: {both_ok} accepted by both, {both_refuse} refused by both, {stricter_only} refused by keycard only"
    );
    assert!(
        both_ok >= 30,
        "only {both_ok} of 600 generated tokens were accepted by both"
    );
    assert!(
        both_refuse >= 60,
        "only {both_refuse} of 600 were refused by both"
    );
    assert!(
        stricter_only >= 30,
        "only {stricter_only} of 600 exercised an exception"
    );
}
