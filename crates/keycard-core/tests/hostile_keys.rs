//! The key and start-up rows of `../shared/cases/hostile.md` — AX3 (algorithm pinning),
//! AX4 (ECDSA signature shapes), AX6 (weak secrets), AX7 (the crypto backend), AX8 (keys
//! that cannot work), KX1 (lifetimes and leeway) — with real RSA, EC and Ed25519 keys from
//! `tests/keys/` (generated with openssl, see its README).

// A failing test panics with the value: unwrap is the report. AuthError's size is the
// library's business, not the tests'.
#![allow(clippy::unwrap_used, clippy::result_large_err)]

#[path = "tokens_support.rs"]
mod support;

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::EncodingKey;
use keycard_core::crypto::{BACKEND, ensure_provider};
use keycard_core::token::Verifier;
use keycard_core::{
    Algorithm, ConfigError, FrozenClock, Key, KeySet, Settings, SettingsBuilder, TokenError,
    TokenKind,
};
use serde_json::{Map, Value, json};
use support::*;

const ACCESS: &[TokenKind] = &[TokenKind::Access];

fn rsa_private() -> Vec<u8> {
    key_file("rsa_private.pem")
}
fn rsa_public() -> Vec<u8> {
    key_file("rsa_public.pem")
}

/// Contract claims and clock around a given signing key.
fn with_key(key: Key) -> SettingsBuilder {
    Settings::builder()
        .signing_key(key)
        .issuer(ISS)
        .audience(AUD)
        .clock(Arc::new(FrozenClock::new(T0)))
}

fn verifier_for(b: SettingsBuilder) -> Verifier {
    Verifier::new(Arc::new(b.build().expect("valid settings")))
}

/// Signs `header`.`payload` with jsonwebtoken's primitive directly (not through keycard).
fn sign_raw(
    enc: &EncodingKey,
    alg: Algorithm,
    header: &Value,
    payload: &Map<String, Value>,
) -> String {
    ensure_provider();
    let input = format!(
        "{}.{}",
        b64(header.to_string()),
        b64(Value::Object(payload.clone()).to_string())
    );
    let sig = jsonwebtoken::crypto::sign(input.as_bytes(), enc, alg).expect("the test key signs");
    format!("{input}.{sig}")
}

fn rsa_enc() -> EncodingKey {
    EncodingKey::from_rsa_pem(&rsa_private()).unwrap()
}

fn hdr(alg: &str, kid: Option<&str>) -> Value {
    match kid {
        Some(k) => json!({"alg": alg, "typ": "JWT", "kid": k}),
        None => json!({"alg": alg, "typ": "JWT"}),
    }
}

#[track_caller]
fn refused_by(v: &Verifier, token: &str, want: TokenError) {
    assert_refused(
        v.verify(token.as_bytes(), ACCESS, false),
        want,
        token.as_bytes(),
    );
}

// -------------------------------------------------------------------------------- AX3

#[test]
fn ax3_rs256_key_refuses_ps256_and_rs512_signed_with_the_same_key() {
    let v = verifier_for(with_key(
        Key::private_pem(Algorithm::RS256, &rsa_private()).unwrap(),
    ));
    let p = access_payload(T0);
    v.verify(
        sign_raw(&rsa_enc(), Algorithm::RS256, &hdr("RS256", None), &p).as_bytes(),
        ACCESS,
        false,
    )
    .unwrap();
    for alg in [
        Algorithm::PS256,
        Algorithm::RS512,
        Algorithm::RS384,
        Algorithm::PS512,
    ] {
        let t = sign_raw(&rsa_enc(), alg, &hdr(&format!("{alg:?}"), None), &p);
        refused_by(&v, &t, TokenError::Algorithm);
    }
    // The same with a verify-only public key.
    let v = verifier_for(
        Settings::builder()
            .hmac_secret(SECRET)
            .verifying_key(Key::public_pem(Algorithm::RS256, &rsa_public()).unwrap())
            .issuer(ISS)
            .audience(AUD)
            .clock(Arc::new(FrozenClock::new(T0))),
    );
    v.verify(
        sign_raw(&rsa_enc(), Algorithm::RS256, &hdr("RS256", None), &p).as_bytes(),
        ACCESS,
        false,
    )
    .unwrap();
    refused_by(
        &v,
        &sign_raw(&rsa_enc(), Algorithm::PS256, &hdr("PS256", None), &p),
        TokenError::Algorithm,
    );
}

#[test]
fn ax3_hs256_signed_with_the_rsa_public_key_is_refused() {
    // The classic confusion: the public key's PEM bytes used as an HMAC secret.
    let v = verifier_for(with_key(
        Key::private_pem(Algorithm::RS256, &rsa_private()).unwrap(),
    ));
    for secret in [rsa_public(), pem_to_der(&rsa_public())] {
        let t = sign_raw(
            &EncodingKey::from_secret(&secret).unwrap(),
            Algorithm::HS256,
            &hdr("HS256", None),
            &access_payload(T0),
        );
        refused_by(&v, &t, TokenError::Algorithm);
    }
}

#[test]
fn ax3_each_key_is_pinned_to_one_algorithm_and_another_is_allowed_only_explicitly() {
    // The same RSA key pair, explicitly allowed for PS256 as a second, separately named key.
    let v = verifier_for(
        with_key(
            Key::private_pem(Algorithm::RS256, &rsa_private())
                .unwrap()
                .with_kid("rs"),
        )
        .verifying_key(
            Key::public_pem(Algorithm::PS256, &rsa_public())
                .unwrap()
                .with_kid("ps"),
        ),
    );
    let p = access_payload(T0);
    let t = |alg: Algorithm, kid: Option<&str>| {
        sign_raw(&rsa_enc(), alg, &hdr(&format!("{alg:?}"), kid), &p)
    };
    for (alg, kid) in [
        (Algorithm::RS256, Some("rs")),
        (Algorithm::PS256, Some("ps")),
        (Algorithm::PS256, None),
        (Algorithm::RS256, None),
    ] {
        let ok = v
            .verify(t(alg, kid).as_bytes(), ACCESS, false)
            .unwrap_or_else(|e| panic!("{alg:?} {kid:?}: {e:?}"));
        assert_eq!(ok.alg, alg);
        assert_eq!(
            ok.kid.as_deref(),
            Some(if alg == Algorithm::RS256 { "rs" } else { "ps" })
        );
    }
    // A kid names a key, and the key's algorithm must be the token's.
    refused_by(&v, &t(Algorithm::PS256, Some("rs")), TokenError::UnknownKey);
    refused_by(&v, &t(Algorithm::RS256, Some("ps")), TokenError::UnknownKey);
    refused_by(
        &v,
        &t(Algorithm::RS256, Some("nope")),
        TokenError::UnknownKey,
    );
    refused_by(&v, &t(Algorithm::RS512, Some("rs")), TokenError::Algorithm);
}

#[test]
fn ax3_two_keys_for_one_algorithm_need_a_kid() {
    let v = verifier_for(
        with_key(
            Key::private_pem(Algorithm::RS256, &rsa_private())
                .unwrap()
                .with_kid("new"),
        )
        .verifying_key(
            Key::public_pem(Algorithm::RS256, &rsa_public())
                .unwrap()
                .with_kid("old"),
        ),
    );
    let p = access_payload(T0);
    refused_by(
        &v,
        &sign_raw(&rsa_enc(), Algorithm::RS256, &hdr("RS256", None), &p),
        TokenError::UnknownKey,
    );
    v.verify(
        sign_raw(&rsa_enc(), Algorithm::RS256, &hdr("RS256", Some("old")), &p).as_bytes(),
        ACCESS,
        false,
    )
    .unwrap();
}

#[test]
fn ax3_duplicate_kids_are_refused_at_startup() {
    let a = Key::hmac(Algorithm::HS256, &[1; 32]).unwrap().with_kid("k");
    let b = Key::hmac(Algorithm::HS256, &[2; 32]).unwrap().with_kid("k");
    assert_eq!(
        KeySet::new(a).unwrap().with_verifier(b).unwrap_err(),
        ConfigError::DuplicateKid
    );
}

// -------------------------------------------------------------------------------- AX4

fn es256() -> (Verifier, EncodingKey) {
    let v = verifier_for(with_key(
        Key::private_pem(Algorithm::ES256, &key_file("ec256_private.pem")).unwrap(),
    ));
    (
        v,
        EncodingKey::from_ec_pem(&key_file("ec256_private.pem")).unwrap(),
    )
}

fn der_integer(x: &[u8]) -> Vec<u8> {
    let mut x: Vec<u8> = x.iter().copied().skip_while(|b| *b == 0).collect();
    if x.first().is_none_or(|b| b & 0x80 != 0) {
        x.insert(0, 0);
    }
    let mut out = vec![0x02, x.len() as u8];
    out.extend(x);
    out
}

/// ASN.1 DER `ECDSA-Sig-Value` of a raw `r || s` signature (what OpenSSL emits).
fn der_signature(raw: &[u8]) -> Vec<u8> {
    let (r, s) = raw.split_at(raw.len() / 2);
    let body = [der_integer(r), der_integer(s)].concat();
    let mut out = vec![0x30, body.len() as u8];
    out.extend(body);
    out
}

fn resign(token: &str, sig: &[u8]) -> String {
    let (input, _) = token.rsplit_once('.').unwrap();
    format!("{input}.{}", b64(sig))
}

#[test]
fn ax4_es256_baseline_verifies() {
    let (v, enc) = es256();
    let t = sign_raw(
        &enc,
        Algorithm::ES256,
        &hdr("ES256", None),
        &access_payload(T0),
    );
    assert_eq!(unb64(t.rsplit('.').next().unwrap()).len(), 64);
    v.verify(t.as_bytes(), ACCESS, false).unwrap();
}

#[test]
fn ax4_es256_all_zero_signature_is_invalid() {
    let (v, enc) = es256();
    let t = sign_raw(
        &enc,
        Algorithm::ES256,
        &hdr("ES256", None),
        &access_payload(T0),
    );
    refused_by(&v, &resign(&t, &[0; 64]), TokenError::Signature);
    // r = s = n, the group order: reduces to zero.
    let n: Vec<u8> = (0..32)
        .map(|i| {
            u8::from_str_radix(
                &"FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551"
                    [2 * i..2 * i + 2],
                16,
            )
            .unwrap()
        })
        .collect();
    refused_by(
        &v,
        &resign(&t, &[n.clone(), n].concat()),
        TokenError::Signature,
    );
}

#[test]
fn ax4_es256_der_encoded_signature_is_invalid() {
    let (v, enc) = es256();
    let t = sign_raw(
        &enc,
        Algorithm::ES256,
        &hdr("ES256", None),
        &access_payload(T0),
    );
    let raw = unb64(t.rsplit('.').next().unwrap());
    let der = der_signature(&raw);
    assert!(
        (68..=72).contains(&der.len()),
        "DER of a P-256 signature is 68–72 bytes"
    );
    refused_by(&v, &resign(&t, &der), TokenError::Signature);
}

#[test]
fn ax4_es256_65_byte_signature_is_invalid() {
    let (v, enc) = es256();
    let t = sign_raw(
        &enc,
        Algorithm::ES256,
        &hdr("ES256", None),
        &access_payload(T0),
    );
    let raw = unb64(t.rsplit('.').next().unwrap());
    for sig in [
        [&raw[..], &[0]].concat(),
        [&[0], &raw[..]].concat(),
        [&[4], &raw[..]].concat(),
        raw[..63].to_vec(),
        vec![],
    ] {
        if sig.is_empty() {
            refused_by(
                &v,
                &format!("{}.", t.rsplit_once('.').unwrap().0),
                TokenError::Malformed,
            );
        } else {
            refused_by(&v, &resign(&t, &sig), TokenError::Signature);
        }
    }
}

#[test]
fn ax4_zero_signatures_for_es384_and_eddsa_are_invalid() {
    for (alg, name, file, len) in [
        (Algorithm::ES384, "ES384", "ec384_private.pem", 96),
        (Algorithm::EdDSA, "EdDSA", "ed25519_private.pem", 64),
    ] {
        let v = verifier_for(with_key(Key::private_pem(alg, &key_file(file)).unwrap()));
        let enc = match alg {
            Algorithm::EdDSA => EncodingKey::from_ed_pem(&key_file(file)).unwrap(),
            _ => EncodingKey::from_ec_pem(&key_file(file)).unwrap(),
        };
        let t = sign_raw(&enc, alg, &hdr(name, None), &access_payload(T0));
        assert_eq!(unb64(t.rsplit('.').next().unwrap()).len(), len);
        v.verify(t.as_bytes(), ACCESS, false).unwrap();
        refused_by(&v, &resign(&t, &vec![0; len]), TokenError::Signature);
    }
}

// -------------------------------------------------------------------------------- AX6

#[test]
fn ax6_short_or_empty_hmac_secret_is_refused_at_startup_with_a_clear_message() {
    for (alg, min) in [
        (Algorithm::HS256, 32),
        (Algorithm::HS384, 48),
        (Algorithm::HS512, 64),
    ] {
        for len in [0, 1, min - 1] {
            let secret = vec![b'k'; len];
            let e = Settings::builder()
                .algorithm(alg)
                .hmac_secret(&secret)
                .build()
                .unwrap_err();
            assert_eq!(
                e,
                ConfigError::WeakSecret {
                    alg: format!("{alg:?}"),
                    min,
                    got: len
                }
            );
            let msg = e.to_string();
            assert!(
                msg.contains(&format!("at least {min} bytes")) && msg.contains("keygen"),
                "{msg}"
            );
            assert!(Key::hmac(alg, &secret).is_err());
        }
        Settings::builder()
            .algorithm(alg)
            .hmac_secret(vec![b'k'; min])
            .build()
            .unwrap();
    }
}

#[test]
fn ax6_weak_secret_from_toml_is_refused_and_not_echoed() {
    let e = Settings::builder()
        .from_toml_str("secret = \"hunter2\"")
        .unwrap()
        .build()
        .unwrap_err();
    assert!(matches!(e, ConfigError::WeakSecret { got: 7, .. }), "{e:?}");
    assert!(!e.to_string().contains("hunter2"));
}

#[test]
fn ax6_an_hmac_key_is_never_made_for_another_family() {
    for alg in [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA] {
        assert!(matches!(
            Key::hmac(alg, &[7; 64]),
            Err(ConfigError::KeyAlgorithmMismatch { .. })
        ));
    }
    // Nor from a PEM loader asked for HS256.
    assert!(matches!(
        Key::private_pem(Algorithm::HS256, &rsa_private()),
        Err(ConfigError::KeyAlgorithmMismatch { .. })
    ));
    assert!(matches!(
        Key::public_pem(Algorithm::HS256, &rsa_public()),
        Err(ConfigError::KeyAlgorithmMismatch { .. })
    ));
}

// -------------------------------------------------------------------------------- AX7
//
// With neither backend enabled keycard-core does not compile: `crypto.rs` has a
// `compile_error!` for `not(any(feature = "rust_crypto", feature = "aws_lc_rs"))`, so that
// case cannot reach a test binary. Both enabled (`cargo test -p keycard-core
// --all-features`) runs these same tests with aws-lc-rs installed by keycard.

#[test]
fn ax7_ensure_provider_installs_one_provider_from_any_number_of_threads() {
    let handles: Vec<_> = (0..8)
        .map(|_| std::thread::spawn(ensure_provider))
        .collect();
    for h in handles {
        h.join().expect("ensure_provider never panics");
    }
    ensure_provider();
    let p = jsonwebtoken::crypto::CryptoProvider::try_get_default()
        .expect("a provider after ensure_provider");
    #[cfg(feature = "aws_lc_rs")]
    assert!(
        std::ptr::eq(p, &jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER),
        "with aws_lc_rs on, aws-lc-rs wins"
    );
    #[cfg(not(feature = "aws_lc_rs"))]
    assert!(std::ptr::eq(
        p,
        &jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER
    ));
}

#[test]
fn ax7_backend_name_follows_the_features() {
    let want = if cfg!(feature = "aws_lc_rs") {
        "aws_lc_rs"
    } else {
        "rust_crypto"
    };
    assert_eq!(BACKEND, want);
}

#[test]
fn ax7_every_family_signs_and_verifies_on_the_first_request() {
    // Whatever the features, a service built from keys signs and verifies without a panic.
    block_on(async {
        for (alg, file) in [
            (Algorithm::HS512, ""),
            (Algorithm::RS256, "rsa_private.pem"),
            (Algorithm::PS384, "rsa_private.pem"),
            (Algorithm::ES256, "ec256_private.pem"),
            (Algorithm::ES384, "ec384_private.pem"),
            (Algorithm::EdDSA, "ed25519_private.pem"),
        ] {
            let key = if file.is_empty() {
                Key::hmac(alg, &[9; 64])
            } else {
                Key::private_pem(alg, &key_file(file))
            }
            .unwrap_or_else(|e| panic!("{alg:?}: {e}"));
            let clock = FrozenClock::new(T0);
            let svc = service(with_key(key).clock(Arc::new(clock.clone())), &clock);
            let pair = svc.tokens.obtain_for(&svc.alice).await.unwrap();
            assert_eq!(header(&pair.access)["alg"], format!("{alg:?}"));
            svc.tokens
                .verify_access(&pair.access)
                .await
                .unwrap_or_else(|e| panic!("{alg:?}: {e:?}"));
            svc.tokens.refresh(&refresh_of(&pair)).await.unwrap();
        }
    });
}

#[test]
fn ax7_public_keys_verify_what_the_private_keys_sign() {
    for (alg, private, public) in [
        (Algorithm::RS256, "rsa_private.pem", "rsa_public.pem"),
        (Algorithm::ES256, "ec256_private.pem", "ec256_public.pem"),
        (Algorithm::ES384, "ec384_private.pem", "ec384_public.pem"),
        (
            Algorithm::EdDSA,
            "ed25519_private.pem",
            "ed25519_public.pem",
        ),
    ] {
        let signer = Key::private_pem(alg, &key_file(private)).unwrap();
        let svc = service(with_key(signer), &FrozenClock::new(T0));
        let t = svc.tokens.sign(&access_payload(T0)).unwrap();
        // A peer that holds only the public key (an HMAC key of its own to sign with).
        let peer = verifier_for(
            Settings::builder()
                .hmac_secret(SECRET)
                .verifying_key(Key::public_pem(alg, &key_file(public)).unwrap())
                .issuer(ISS)
                .audience(AUD)
                .clock(Arc::new(FrozenClock::new(T0))),
        );
        peer.verify(t.as_bytes(), ACCESS, false)
            .unwrap_or_else(|e| panic!("{alg:?}: {e:?}"));
        // And through its JWK.
        let jwk = Key::public_pem(alg, &key_file(public))
            .unwrap()
            .public_jwk_value()
            .expect("a public JWK");
        let peer = verifier_for(
            Settings::builder()
                .hmac_secret(SECRET)
                .verifying_key(Key::public_jwk(alg, &jwk).unwrap())
                .issuer(ISS)
                .audience(AUD)
                .clock(Arc::new(FrozenClock::new(T0))),
        );
        peer.verify(t.as_bytes(), ACCESS, false)
            .unwrap_or_else(|e| panic!("{alg:?} via JWK: {e:?}"));
    }
}

// -------------------------------------------------------------------------------- AX8

#[track_caller]
fn refused_key(r: Result<Key, ConfigError>) -> ConfigError {
    let e = r.expect_err("the key must be refused at start-up");
    assert!(
        matches!(
            e,
            ConfigError::BadKey { .. }
                | ConfigError::KeySelfTest { .. }
                | ConfigError::KeyAlgorithmMismatch { .. }
        ),
        "{e:?}"
    );
    e
}

#[test]
fn ax8_bad_pem_is_refused_at_startup() {
    let rsa = rsa_private();
    let truncated = &rsa[..rsa.len() / 2];
    let mut flipped = rsa.clone();
    let mid = flipped.len() / 2;
    flipped[mid] = if flipped[mid] == b'A' { b'B' } else { b'A' };
    for (alg, pem) in [
        (Algorithm::RS256, &b""[..]),
        (Algorithm::RS256, b"not a pem at all"),
        (Algorithm::RS256, truncated),
        (Algorithm::RS256, &flipped[..]),
        (
            Algorithm::RS256,
            b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        ),
        (Algorithm::RS256, &rsa_public()[..]),
        (Algorithm::ES256, &rsa[..]),
        (Algorithm::EdDSA, &rsa[..]),
        (Algorithm::RS256, &key_file("ec256_private.pem")[..]),
        (Algorithm::ES256, &key_file("ed25519_private.pem")[..]),
    ] {
        let e = refused_key(Key::private_pem(alg, pem));
        assert!(
            e.to_string().contains("PKCS#8"),
            "the message says what format to use: {e}"
        );
    }
    for (alg, pem) in [
        (Algorithm::RS256, &b"garbage"[..]),
        (Algorithm::ES256, &rsa_public()[..]),
        (Algorithm::EdDSA, &key_file("ec256_public.pem")[..]),
        (Algorithm::RS256, &key_file("ed25519_public.pem")[..]),
    ] {
        refused_key(Key::public_pem(alg, pem));
    }
}

#[test]
fn ax8_sec1_ec_key_is_refused_at_startup() {
    let sec1 = key_file("ec256_sec1.pem");
    assert!(sec1.starts_with(b"-----BEGIN EC PRIVATE KEY-----"));
    let e = refused_key(Key::private_pem(Algorithm::ES256, &sec1));
    assert!(e.to_string().contains("PKCS#8"), "{e}");
    // The same key in DER.
    refused_key(Key::private_der(Algorithm::ES256, &pem_to_der(&sec1)));
    // The PKCS#8 form of the same key is fine.
    Key::private_pem(Algorithm::ES256, &key_file("ec256_private.pem")).unwrap();
    Key::private_der(
        Algorithm::ES256,
        &pem_to_der(&key_file("ec256_private.pem")),
    )
    .unwrap();
}

#[test]
fn ax8_key_of_the_wrong_curve_is_refused_at_startup() {
    refused_key(Key::private_pem(
        Algorithm::ES256,
        &key_file("ec384_private.pem"),
    ));
    refused_key(Key::private_pem(
        Algorithm::ES384,
        &key_file("ec256_private.pem"),
    ));
    refused_key(Key::public_pem(
        Algorithm::ES256,
        &key_file("ec384_public.pem"),
    ));
    refused_key(Key::public_pem(
        Algorithm::ES384,
        &key_file("ec256_public.pem"),
    ));
    // A JWK without `alg` whose curve is P-384, offered for ES256.
    let mut jwk = Key::public_pem(Algorithm::ES384, &key_file("ec384_public.pem"))
        .unwrap()
        .public_jwk_value()
        .unwrap();
    jwk.common.key_algorithm = None;
    refused_key(Key::public_jwk(Algorithm::ES256, &jwk));
    Key::public_jwk(Algorithm::ES384, &jwk).unwrap();
}

#[test]
fn ax8_garbage_der_is_refused_at_startup() {
    for alg in [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA] {
        refused_key(Key::private_der(alg, b""));
        refused_key(Key::private_der(alg, &[0x30, 0x03, 0x02, 0x01, 0x00]));
    }
}

#[test]
fn ax8_a_key_file_that_cannot_sign_fails_the_settings_build() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/keys");
    let toml = format!(
        "algorithm = \"ES256\"\nsigning_key_file = {:?}\n",
        dir.join("ec256_sec1.pem").display().to_string()
    );
    let e = Settings::builder()
        .from_toml_str(&toml)
        .unwrap()
        .build()
        .unwrap_err();
    assert!(
        matches!(
            e,
            ConfigError::BadKey { .. } | ConfigError::KeySelfTest { .. }
        ),
        "{e:?}"
    );
    let toml = format!(
        "algorithm = \"ES256\"\nsigning_key_file = {:?}\n",
        dir.join("ec256_private.pem").display().to_string()
    );
    Settings::builder()
        .from_toml_str(&toml)
        .unwrap()
        .build()
        .unwrap();
    let e = Settings::builder()
        .from_toml_str("signing_key_file = \"/nonexistent/key.pem\"")
        .unwrap_err();
    assert!(matches!(e, ConfigError::Source { .. }), "{e:?}");
}

#[test]
fn ax8_jwks_never_hold_hmac_keys_and_jwk_algorithms_are_pinned() {
    let rsa = Key::public_pem(Algorithm::RS256, &rsa_public()).unwrap();
    let jwk = rsa.public_jwk_value().unwrap();
    // A JWK that says RS256 cannot become a PS256 key.
    assert!(matches!(
        Key::public_jwk(Algorithm::PS256, &jwk),
        Err(ConfigError::KeyAlgorithmMismatch { .. })
    ));
    assert!(matches!(
        Key::public_jwk(Algorithm::HS256, &jwk),
        Err(ConfigError::KeyAlgorithmMismatch { .. })
    ));
    let oct: jsonwebtoken::jwk::Jwk =
        serde_json::from_value(json!({"kty": "oct", "k": b64([7u8; 32])})).unwrap();
    assert!(Key::public_jwk(Algorithm::RS256, &oct).is_err());
    let set = KeySet::new(Key::hmac(Algorithm::HS256, &[1; 32]).unwrap())
        .unwrap()
        .with_verifier(rsa)
        .unwrap();
    assert_eq!(set.public_jwks().keys.len(), 1);
}

#[test]
fn keys_settings_and_services_never_show_key_material_in_debug() {
    let hmac = Key::hmac(Algorithm::HS256, SECRET.as_bytes()).unwrap();
    let rsa = Key::private_pem(Algorithm::RS256, &rsa_private()).unwrap();
    let settings = with_key(rsa.clone())
        .verifying_key(hmac.clone())
        .build()
        .unwrap();
    let svc = service(contract(&FrozenClock::new(T0)), &FrozenClock::new(T0));
    let pem_line = String::from_utf8(rsa_private())
        .unwrap()
        .lines()
        .nth(3)
        .unwrap()
        .to_owned();
    for dbg in [
        format!("{hmac:?}"),
        format!("{rsa:?}"),
        format!("{settings:?}"),
        format!("{:?}", svc.tokens),
    ] {
        assert!(!dbg.contains(SECRET) && !dbg.contains(&pem_line), "{dbg}");
        assert!(
            !dbg.contains("99, 111, 110, 116"),
            "secret bytes as a list: {dbg}"
        ); // "cont"
    }
    let pair = block_on(svc.tokens.obtain_for(&svc.alice)).unwrap();
    assert!(!format!("{pair:?}").contains(&pair.access));
}

// -------------------------------------------------------------------------------- KX1

#[test]
fn kx1_zero_lifetimes_are_refused_at_startup() {
    type Set = fn(SettingsBuilder, Duration) -> SettingsBuilder;
    let setters: [(&str, Set); 4] = [
        ("access_lifetime", SettingsBuilder::access_lifetime),
        ("refresh_lifetime", SettingsBuilder::refresh_lifetime),
        ("sliding_lifetime", SettingsBuilder::sliding_lifetime),
        (
            "sliding_refresh_lifetime",
            SettingsBuilder::sliding_refresh_lifetime,
        ),
    ];
    for (name, set) in setters {
        for d in [
            Duration::ZERO,
            Duration::from_millis(999),
            Duration::MAX,
            Duration::from_secs(u64::MAX),
        ] {
            let e = set(Settings::builder().hmac_secret(SECRET), d)
                .build()
                .unwrap_err();
            assert_eq!(e, ConfigError::Lifetime { name }, "{name} = {d:?}");
            assert!(
                e.to_string().contains("between 1 second and 10 years"),
                "{e}"
            );
        }
        set(
            Settings::builder().hmac_secret(SECRET),
            Duration::from_secs(1),
        )
        .build()
        .unwrap();
        set(
            Settings::builder().hmac_secret(SECRET),
            keycard_core::settings::MAX_LIFETIME,
        )
        .build()
        .unwrap();
    }
}

#[test]
fn kx1_leeway_over_300s_is_refused_at_startup() {
    for (d, secs) in [
        (Duration::from_secs(301), 301),
        (Duration::from_millis(300_001), 300),
        (Duration::MAX, u64::MAX),
    ] {
        let e = Settings::builder()
            .hmac_secret(SECRET)
            .leeway(d)
            .build()
            .unwrap_err();
        assert_eq!(e, ConfigError::Leeway { secs });
        assert!(e.to_string().contains("at most 300 s"), "{e}");
    }
    assert_eq!(
        Settings::builder()
            .hmac_secret(SECRET)
            .leeway(Duration::from_secs(300))
            .build()
            .unwrap()
            .leeway(),
        300
    );
    let e = Settings::builder()
        .from_toml_str(
            "secret = \"contract-secret-0123456789abcdef0123456789abcdef\"\nleeway = 3600",
        )
        .unwrap()
        .build()
        .unwrap_err();
    assert_eq!(e, ConfigError::Leeway { secs: 3600 });
}

#[test]
fn kx1_longest_settings_and_extreme_clocks_never_overflow() {
    block_on(async {
        let ten_years = keycard_core::settings::MAX_LIFETIME;
        let max_leeway = keycard_core::settings::MAX_LEEWAY;
        // The last second keycard reads as a date (9999-12-31T23:59:59Z), the epoch, u64::MAX.
        for now in [253_402_300_799, 0, u64::MAX] {
            let clock = FrozenClock::new(now);
            let b = contract(&clock)
                .access_lifetime(ten_years)
                .refresh_lifetime(ten_years)
                .sliding_lifetime(ten_years)
                .sliding_refresh_lifetime(ten_years)
                .leeway(max_leeway)
                .rotate_refresh_tokens(true)
                .blacklist_after_rotation(true);
            let svc = service(b, &clock);
            // Minting may refuse (a date past 9999 cannot be verified) but never panics.
            if let Ok(pair) = svc.tokens.obtain_for(&svc.alice).await {
                let _ = svc.tokens.verify_access(&pair.access).await;
                let _ = svc.tokens.refresh(&refresh_of(&pair)).await;
                let _ = svc.tokens.blacklist(&refresh_of(&pair)).await;
            }
            if let Ok(s) = svc.tokens.sliding_for(&svc.alice).await {
                let _ = svc.tokens.refresh_sliding(&s.token).await;
            }
            // Crafted tokens with the largest dates keycard reads, at the extreme clock.
            let mut p = access_payload(T0);
            for k in ["exp", "iat", "nbf"] {
                p.insert(k.into(), json!(253_402_300_799u64));
            }
            let _ = svc.tokens.verify(&token_with(p)).await;
        }
    });
}
