//! Interoperability with djangorestframework-simplejwt: the real tokens of
//! `../shared/fixtures/simplejwt/tokens.json` (simplejwt 5.5.1, PyJWT 2.15) are accepted as
//! the kind they are, and the tokens keycard mints with the same settings carry what
//! simplejwt reads. A Django service and a keycard service sharing a secret accept each
//! other's tokens, so a team can move endpoints one at a time.
//!
//! The fixtures live outside this repository (`/work/shared` is a sibling of the repository
//! root); when the file is absent these tests say so on stderr and pass without checking.

// A failing test panics with the value: unwrap is the report. AuthError's size is the
// library's business, not the tests'.
#![allow(clippy::unwrap_used, clippy::result_large_err)]

#[path = "tokens_support.rs"]
mod support;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use keycard_core::token::Verifier;
use keycard_core::{Algorithm, FrozenClock, Key, Settings, SettingsBuilder, TokenError, TokenKind};
use serde_json::Value;
use support::*;

fn fixture_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/simplejwt/tokens.json")
}

/// The fixture file, or `None` (with a loud note) when it is not there.
fn fixtures() -> Option<Value> {
    let path = fixture_path();
    match std::fs::read(&path) {
        Ok(bytes) => Some(serde_json::from_slice(&bytes).expect("tokens.json is JSON")),
        Err(e) => {
            eprintln!(
                "SKIPPED: simplejwt fixtures not found at {} ({e}); nothing checked",
                path.display()
            );
            None
        }
    }
}

fn str_of<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str()
        .unwrap_or_else(|| panic!("fixture field {k} is a string"))
}

/// The fixtures' settings, as keycard settings, on `clock`.
fn settings_of(f: &Value, clock: &FrozenClock) -> SettingsBuilder {
    let s = &f["settings"];
    assert_eq!(str_of(s, "algorithm"), "HS256");
    Settings::builder()
        .hmac_secret(str_of(s, "signing_key"))
        .issuer(str_of(s, "issuer"))
        .audience(str_of(s, "audience"))
        .access_lifetime(Duration::from_secs(
            s["access_lifetime_s"].as_u64().unwrap(),
        ))
        .refresh_lifetime(Duration::from_secs(
            s["refresh_lifetime_s"].as_u64().unwrap(),
        ))
        .user_id_claim(str_of(s, "user_id_claim"))
        .token_type_claim(str_of(s, "token_type_claim"))
        .jti_claim(str_of(s, "jti_claim"))
        .clock(Arc::new(clock.clone()))
}

fn kind_of(k: &str) -> TokenKind {
    TokenKind::parse(k).unwrap_or_else(|| panic!("unknown fixture kind {k}"))
}

fn verifier_for(f: &Value, alg: &str, clock: &FrozenClock) -> Verifier {
    let mut b = settings_of(f, clock);
    if alg == "RS256" {
        let pem = str_of(f, "rs256_public_pem");
        b = b.verifying_key(
            Key::public_pem(Algorithm::RS256, pem.as_bytes()).expect("the fixture's public key"),
        );
    }
    Verifier::new(Arc::new(
        b.build().expect("the fixtures' settings are valid"),
    ))
}

#[test]
fn fixtures_path_is_the_shared_sibling_of_the_repository() {
    // /work/main/crates/keycard-core/../../../shared = /work/shared
    let repo_root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    assert!(
        repo_root.join("Cargo.toml").is_file(),
        "two levels up is the repository root"
    );
    let shared = repo_root.join("../shared");
    if !shared.is_dir() {
        eprintln!("SKIPPED: {} is absent", shared.display());
    }
}

#[test]
fn fixtures_every_simplejwt_token_is_accepted_as_its_kind() {
    let Some(f) = fixtures() else { return };
    let minted_at = f["minted_at"].as_u64().unwrap();
    let tokens = f["tokens"].as_array().unwrap();
    assert_eq!(
        tokens.len(),
        4,
        "refresh, access, sliding (HS256) and access (RS256)"
    );
    for t in tokens {
        let (kind, alg, token) = (
            kind_of(str_of(t, "kind")),
            str_of(t, "alg"),
            str_of(t, "token"),
        );
        let clock = FrozenClock::new(minted_at + 1);
        let v = verifier_for(&f, alg, &clock);
        let ok = v
            .verify(token.as_bytes(), &[kind], false)
            .unwrap_or_else(|e| panic!("simplejwt {alg} {kind} refused: {e:?}"));
        let want = &t["claims"];
        assert_eq!(ok.claims.kind(), kind);
        assert_eq!(ok.claims.user_id(), str_of(want, "user_id"));
        assert_eq!(ok.claims.jti(), str_of(want, "jti"));
        assert_eq!(ok.claims.exp(), want["exp"].as_u64().unwrap());
        assert_eq!(ok.claims.iat(), want["iat"].as_u64());
        assert_eq!(ok.claims.session(), None, "simplejwt has no session id");
        assert_eq!(ok.alg, alg.parse::<Algorithm>().unwrap());
        assert_eq!(
            &Value::Object(ok.claims.as_map().clone()),
            want,
            "every claim is carried as JSON"
        );

        // It is that kind and no other.
        for other in [TokenKind::Access, TokenKind::Refresh, TokenKind::Sliding] {
            if other != kind {
                let r = v.verify(token.as_bytes(), &[other], false);
                assert_refused(r, TokenError::WrongType, token.as_bytes());
            }
        }
        // Inside [minted_at, exp) only.
        let exp = ok.claims.exp();
        clock.set(exp - 1);
        v.verify(token.as_bytes(), &[kind], false).unwrap();
        clock.set(exp);
        assert_refused(
            v.verify(token.as_bytes(), &[kind], false),
            TokenError::Expired,
            token.as_bytes(),
        );
    }
}

fn fixture_token<'a>(f: &'a Value, kind: &str, alg: &str) -> &'a str {
    let t = f["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["kind"] == kind && t["alg"] == alg)
        .unwrap();
    str_of(t, "token")
}

#[test]
fn fixtures_simplejwt_tokens_work_with_the_token_service() {
    let Some(f) = fixtures() else { return };
    let minted_at = f["minted_at"].as_u64().unwrap();
    block_on(async {
        let clock = FrozenClock::new(minted_at + 1);
        let svc = service(
            settings_of(&f, &clock)
                .rotate_refresh_tokens(true)
                .blacklist_after_rotation(true),
            &clock,
        );
        // The access token authenticates; the refresh token refreshes, keeping the claims
        // simplejwt put in it (name, scope).
        let access = svc
            .tokens
            .verify_access(fixture_token(&f, "access", "HS256"))
            .await
            .unwrap();
        assert_eq!(access.scopes(), ["articles:read", "articles:write"]);
        let refresh = fixture_token(&f, "refresh", "HS256");
        svc.tokens.verify(refresh).await.unwrap();
        let pair = svc.tokens.refresh(refresh).await.unwrap();
        let a = payload(&pair.access);
        assert_eq!(
            (a["user_id"].as_str(), a["name"].as_str()),
            (Some("1"), Some("Alice Example"))
        );
        svc.tokens.verify_access(&pair.access).await.unwrap();
        // Rotation spent it: presenting it again is reuse, and ends what keycard minted from it.
        assert_invalid(
            svc.tokens.refresh(refresh).await,
            TokenError::Reused,
            refresh.as_bytes(),
        );
        assert_invalid(
            svc.tokens.verify_access(&pair.access).await,
            TokenError::Blacklisted,
            pair.access.as_bytes(),
        );

        // The sliding token, where sliding tokens authenticate.
        let svc = service(
            settings_of(&f, &clock).auth_token_kinds([TokenKind::Sliding]),
            &clock,
        );
        let sliding = fixture_token(&f, "sliding", "HS256");
        svc.tokens.verify_access(sliding).await.unwrap();
        let next = svc.tokens.refresh_sliding(sliding).await.unwrap().token;
        assert_eq!(payload(&next)["jti"], payload(sliding)["jti"]);
        assert_eq!(
            payload(&next)["refresh_exp"],
            payload(sliding)["refresh_exp"]
        );
    });
}

#[test]
fn fixtures_the_rs256_token_is_refused_without_its_public_key() {
    let Some(f) = fixtures() else { return };
    let clock = FrozenClock::new(f["minted_at"].as_u64().unwrap() + 1);
    let v = Verifier::new(Arc::new(settings_of(&f, &clock).build().unwrap()));
    let t = fixture_token(&f, "access", "RS256");
    assert_refused(
        v.verify(t.as_bytes(), &[TokenKind::Access], false),
        TokenError::Algorithm,
        t.as_bytes(),
    );
}

#[test]
fn fixtures_keycard_tokens_carry_what_simplejwt_reads() {
    block_on(async {
        let clock = FrozenClock::new(T0);
        let svc = service(contract(&clock), &clock);
        let pair = svc.tokens.obtain_for(&svc.alice).await.unwrap();
        let sliding = svc.tokens.sliding_for(&svc.alice).await.unwrap().token;
        for (token, kind, life) in [
            (pair.access.as_str(), "access", 300),
            (pair.refresh.as_deref().unwrap(), "refresh", 86_400),
            (sliding.as_str(), "sliding", 300),
        ] {
            let h = header(token);
            assert_eq!(
                (h["alg"].as_str(), h["typ"].as_str()),
                (Some("HS256"), Some("JWT"))
            );
            let p = payload(token);
            assert_eq!(p["token_type"], kind);
            assert!(
                p["exp"].is_u64() && p["iat"].is_u64(),
                "NumericDates as integers: {p:?}"
            );
            assert_eq!(
                p["exp"].as_u64().unwrap() - p["iat"].as_u64().unwrap(),
                life
            );
            assert_eq!(p["iat"], T0);
            let jti = p["jti"].as_str().expect("jti is a string");
            assert!(
                jti.len() == 32 && jti.bytes().all(|b| b.is_ascii_hexdigit()),
                "128 random bits, hex: {jti}"
            );
            assert_eq!(p["user_id"], Value::from("1"), "user_id as a string");
            assert_eq!(
                (p["iss"].as_str(), p["aud"].as_str()),
                (Some(ISS), Some(AUD))
            );
        }
        assert_eq!(payload(&sliding)["refresh_exp"], T0 + 86_400);
    });
}

#[test]
fn fixtures_keycard_tokens_pass_a_pyjwt_style_decode() {
    // What PyJWT (simplejwt's backend) checks — signature, exp, aud, iss — done by another
    // implementation, jsonwebtoken's own `decode`, at the real current time.
    block_on(async {
        let svc = service(
            Settings::builder()
                .hmac_secret(SECRET)
                .issuer(ISS)
                .audience(AUD),
            &FrozenClock::new(T0),
        );
        let pair = svc.tokens.obtain_for(&svc.alice).await.unwrap();
        let mut validation = jsonwebtoken::Validation::new(Algorithm::HS256);
        validation.set_audience(&[AUD]);
        validation.set_issuer(&[ISS]);
        validation.set_required_spec_claims(&["exp", "aud", "iss"]);
        let key = jsonwebtoken::DecodingKey::from_secret(SECRET.as_bytes()).unwrap();
        for t in [&pair.access, pair.refresh.as_ref().unwrap()] {
            let data = jsonwebtoken::decode::<serde_json::Map<String, Value>>(t, &key, &validation)
                .unwrap();
            assert_eq!(data.claims["user_id"], "1");
        }
    });
}
