//! JWKS documents (RFC 7517 §5): reading another service's, serving our own.
//!
//! Reading is strict about what a key may become and lenient about what it skips: an entry
//! that cannot be a verification key of an allowed algorithm is left out, with the reason,
//! and the rest of the document still counts.

use http::{HeaderValue, StatusCode};
use jsonwebtoken::AlgorithmFamily;
use jsonwebtoken::jwk::Jwk;
use serde_json::Value;

use super::keys::{Algorithm, Key};
use super::service::TokenService;
use crate::endpoints::EndpointResponse;

/// Where a service publishes its JWKS (the path [`jwks_response`] is served at by
/// keycard-axum's `jwks_router` and keycard-actix's `jwks_service`).
pub const JWKS_PATH: &str = "/.well-known/jwks.json";

/// How long clients and caches may keep the served JWKS (`Cache-Control: public, max-age=…`).
/// Publish a new key at least this long (plus the verifiers' own cache time) before signing
/// with it.
pub const JWKS_MAX_AGE_SECS: u64 = 300;

/// The most entries read from one JWKS; the rest are skipped (a real JWKS holds a handful).
pub const MAX_JWKS_ENTRIES: usize = 100;

/// A document that is not a JWKS at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected a JWKS (a JSON object with a \"keys\" array), got {0}")]
pub struct NotAJwks(pub &'static str);

/// A JWKS entry left out, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedJwk {
    /// Its `kid`, if it had one (as sent: print it with `{:?}`).
    pub kid: Option<String>,
    /// Why it cannot be used.
    pub reason: &'static str,
}

/// The usable keys of a JWKS, and the entries skipped.
#[derive(Debug, Clone)]
pub struct ParsedJwks {
    /// Verify-only keys, each pinned to one algorithm of the allow-list.
    pub keys: Vec<Key>,
    /// The entries left out.
    pub skipped: Vec<SkippedJwk>,
}

/// Reads a JWKS into verify-only keys, each pinned to one of `algorithms`.
///
/// Skipped: entries of unknown `kty` and `oct` (a key never becomes an HMAC key because of a
/// JWKS), entries with private members, `use` other than `sig`, `key_ops` without `verify`,
/// an `alg` outside `algorithms`, a key that does not fit its algorithm, a repeated `kid`.
/// A JWK's `alg`, when present, is the algorithm its key is pinned to; without one, the key
/// takes the first algorithm of `algorithms` that fits it (RSA: the first RS*/PS* listed; EC
/// and OKP: the one their curve names).
///
/// ```
/// use keycard_core::{Algorithm, Key, token::parse_jwks};
/// let ed = Key::generate_ed25519().unwrap().with_kid("ed-1");
/// let doc = serde_json::json!({"keys": [
///     ed.public_jwk_value().unwrap(),
///     {"kty": "oct", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA", "kid": "h"},
/// ]});
/// let parsed = parse_jwks(&serde_json::to_vec(&doc).unwrap(), &[Algorithm::EdDSA]).unwrap();
/// assert_eq!(parsed.keys.len(), 1);
/// assert_eq!(parsed.keys[0].kid(), Some("ed-1"));
/// assert_eq!(parsed.skipped[0].reason, "not an asymmetric key (kty RSA, EC or OKP)");
/// assert!(parse_jwks(b"<html>", &[Algorithm::EdDSA]).is_err());
/// ```
pub fn parse_jwks(body: &[u8], algorithms: &[Algorithm]) -> Result<ParsedJwks, NotAJwks> {
    let doc: Value =
        serde_json::from_slice(body).map_err(|_| NotAJwks("a body that is not JSON"))?;
    let Value::Object(doc) = doc else {
        return Err(NotAJwks("JSON that is not an object"));
    };
    let Some(Value::Array(entries)) = doc.get("keys") else {
        return Err(NotAJwks("an object without a \"keys\" array"));
    };
    let mut out = ParsedJwks {
        keys: Vec::new(),
        skipped: Vec::new(),
    };
    for (i, entry) in entries.iter().enumerate() {
        let kid = entry.get("kid").and_then(Value::as_str).map(str::to_owned);
        let verdict = if i >= MAX_JWKS_ENTRIES {
            Err("beyond the most entries read from one JWKS")
        } else {
            read_entry(entry, algorithms).and_then(|key| match key.kid() {
                Some(k) if out.keys.iter().any(|o| o.kid() == Some(k)) => {
                    Err("a kid already used by an earlier entry")
                }
                _ => Ok(key),
            })
        };
        match verdict {
            Ok(key) => out.keys.push(key),
            Err(reason) => out.skipped.push(SkippedJwk { kid, reason }),
        }
    }
    Ok(out)
}

const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

fn read_entry(entry: &Value, algorithms: &[Algorithm]) -> Result<Key, &'static str> {
    let Value::Object(obj) = entry else {
        return Err("not a JSON object");
    };
    let family = match obj.get("kty").and_then(Value::as_str) {
        Some("RSA") => AlgorithmFamily::Rsa,
        Some("EC") => AlgorithmFamily::Ec,
        Some("OKP") => AlgorithmFamily::Ed,
        _ => return Err("not an asymmetric key (kty RSA, EC or OKP)"),
    };
    if PRIVATE_MEMBERS.iter().any(|m| obj.contains_key(*m)) {
        return Err("carries private key members");
    }
    match obj.get("use") {
        None => {}
        Some(Value::String(u)) if u == "sig" => {}
        Some(_) => return Err("its use is not sig"),
    }
    match obj.get("key_ops") {
        None => {}
        Some(Value::Array(ops)) if ops.iter().any(|o| o == "verify") => {}
        Some(_) => return Err("its key_ops do not include verify"),
    }
    let curve = obj.get("crv").and_then(Value::as_str);
    let alg = match obj.get("alg") {
        Some(Value::String(name)) => {
            let alg = name
                .parse::<Algorithm>()
                .map_err(|_| "its alg is not a signature algorithm")?;
            if !algorithms.contains(&alg) {
                return Err("its alg is not among the allowed algorithms");
            }
            alg
        }
        Some(_) => return Err("its alg is not a string"),
        None => *algorithms
            .iter()
            .find(|a| fits(**a, family, curve))
            .ok_or("no allowed algorithm fits it")?,
    };
    if !fits(alg, family, curve) {
        return Err("its alg does not fit its key type or curve");
    }
    let jwk: Jwk = serde_json::from_value(entry.clone()).map_err(|_| "not a well-formed JWK")?;
    Key::public_jwk(alg, &jwk).map_err(|_| "its key does not fit its algorithm")
}

/// Whether `alg` can be the algorithm of a key of this family and curve.
fn fits(alg: Algorithm, family: AlgorithmFamily, curve: Option<&str>) -> bool {
    alg.family() == family
        && match alg {
            Algorithm::ES256 => curve == Some("P-256"),
            Algorithm::ES384 => curve == Some("P-384"),
            Algorithm::EdDSA => curve == Some("Ed25519"),
            _ => true,
        }
}

/// The answer of `GET /.well-known/jwks.json`: the public JWK of every key of the current set
/// — never a private member, never an HMAC secret — after dropping retired keys whose last
/// token has expired; `Cache-Control: public, max-age=300`. The adapters serve it.
///
/// ```
/// use keycard_core::{InMemoryUserStore, Key, Settings, TokenService, token::jwks_response};
/// let key = Key::generate_ed25519().unwrap().with_kid("ed-1");
/// let settings = Settings::builder().signing_key(key).build().unwrap();
/// let tokens = TokenService::builder(settings).users(InMemoryUserStore::new()).build().unwrap();
/// let res = jwks_response(&tokens);
/// let doc: serde_json::Value = serde_json::from_slice(&res.body).unwrap();
/// assert_eq!(doc["keys"][0]["kid"], "ed-1");
/// assert!(doc["keys"][0].get("d").is_none());
/// ```
pub fn jwks_response(tokens: &TokenService) -> EndpointResponse {
    let s = tokens.settings();
    s.key_source().prune(s.now());
    let jwks = s.key_source().load().public_jwks();
    // A JwkSet of public parameters always serializes.
    let body = serde_json::to_vec(&jwks).unwrap_or_else(|_| br#"{"keys":[]}"#.to_vec());
    let cache = format!("public, max-age={JWKS_MAX_AGE_SECS}");
    EndpointResponse {
        status: StatusCode::OK,
        headers: vec![
            (
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (
                http::header::CACHE_CONTROL,
                HeaderValue::from_str(&cache)
                    .unwrap_or_else(|_| HeaderValue::from_static("no-cache")),
            ),
        ],
        body,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failing test panics with the value
mod tests {
    use serde_json::json;

    use super::*;

    const ALL: [Algorithm; 4] = [
        Algorithm::RS256,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::EdDSA,
    ];

    fn doc(keys: Vec<Value>) -> Vec<u8> {
        serde_json::to_vec(&json!({ "keys": keys })).unwrap()
    }

    fn ed_jwk(kid: &str) -> Value {
        serde_json::to_value(
            Key::generate_ed25519()
                .unwrap()
                .with_kid(kid)
                .public_jwk_value()
                .unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn jwks_unusable_entries_are_skipped_with_a_reason() {
        let with = |k: &str, v: Value| {
            let mut j = ed_jwk("x");
            j[k] = v;
            j
        };
        let entries = vec![
            ed_jwk("good"),
            json!({"kty": "oct", "k": "AAAA"}),
            json!({"kty": "XYZ"}),
            with("d", json!("AAAA")),
            with("use", json!("enc")),
            with("key_ops", json!(["encrypt"])),
            with("alg", json!("RS256")),
            with("alg", json!("HS256")),
            with("alg", json!("RSA-OAEP")),
            with("crv", json!("X25519")),
            {
                let mut j = with("crv", json!("X25519"));
                j.as_object_mut().unwrap().remove("alg");
                j
            },
            json!("not an object"),
            ed_jwk("good"),
        ];
        let parsed = parse_jwks(&doc(entries), &ALL).unwrap();
        assert_eq!(parsed.keys.len(), 1);
        let reasons: Vec<&str> = parsed.skipped.iter().map(|s| s.reason).collect();
        assert_eq!(
            reasons,
            [
                "not an asymmetric key (kty RSA, EC or OKP)",
                "not an asymmetric key (kty RSA, EC or OKP)",
                "carries private key members",
                "its use is not sig",
                "its key_ops do not include verify",
                "its alg does not fit its key type or curve",
                "its alg is not among the allowed algorithms",
                "its alg is not a signature algorithm",
                "its alg does not fit its key type or curve",
                "no allowed algorithm fits it",
                "not a JSON object",
                "a kid already used by an earlier entry",
            ]
        );
    }

    #[test]
    fn jwks_alg_must_be_allowed_and_is_the_pin() {
        let mut j = ed_jwk("a");
        j["alg"] = json!("EdDSA");
        j["use"] = json!("sig");
        let parsed = parse_jwks(&doc(vec![j.clone()]), &[Algorithm::EdDSA]).unwrap();
        assert_eq!(parsed.keys[0].algorithm(), Algorithm::EdDSA);
        let parsed = parse_jwks(&doc(vec![j]), &[Algorithm::RS256]).unwrap();
        assert!(parsed.keys.is_empty());
    }

    #[test]
    fn jwks_not_a_jwks_says_so() {
        for (body, what) in [
            (&b"<html>hi</html>"[..], "a body that is not JSON"),
            (b"[1,2]", "JSON that is not an object"),
            (b"{\"issuer\":\"x\"}", "an object without a \"keys\" array"),
        ] {
            let e = parse_jwks(body, &ALL).unwrap_err();
            assert_eq!(e.0, what);
            assert!(e.to_string().contains("expected a JWKS"));
        }
    }
}
