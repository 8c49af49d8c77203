//! Strict verification of compact JWS tokens.
//!
//! keycard parses the token itself — strictly — and uses jsonwebtoken only for the signature
//! primitive, so that every rule below holds whatever the library's defaults are:
//!
//! 1. the size cap, before any decoding;
//! 2. exactly three non-empty segments of unpadded base64url, canonical encoding only;
//! 3. the header: a JSON object without duplicate members; `alg` a string naming an
//!    algorithm of the key set (never `none`, never a case variant); `kid`, when present, a
//!    string naming a key pinned to that algorithm; `crit`, `b64`, `zip`, `enc` refused;
//!    `typ`, when present, `JWT` or `at+jwt`; the other registered parameters, when present,
//!    of their registered types (`cty`, `jku`, `x5u`, `x5t`, `x5t#S256`, `url`, `nonce`
//!    strings, `x5c` an array of strings, `jwk` a JWK);
//! 4. the signature, with the selected key;
//! 5. the payload: a JSON object without duplicate members; `exp` required, a NumericDate
//!    (integer or float) and `exp > now - leeway`; `nbf` and `iat` NumericDates when present,
//!    not in the future beyond the leeway (a fraction of a second rounds each check towards
//!    refusal: `exp` down, `nbf` and `iat` up); `iss` and `aud` required and matched when
//!    configured, `aud` refused when not; the token type, `jti` and user id claims required.
//!
//! Every failure is a [`TokenError`] from the fixed vocabulary.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde::de::{MapAccess, Visitor};
use serde_json::{Map, Value};

use super::cache::{DEFAULT_CACHE_ENTRIES, Hit, VerifiedCache};
use super::claims::{Claims, ClaimsData, TokenKind};
use super::header::{JoseHeader, Member};
use super::keys::{Algorithm, Key, KeySet};
use crate::error::TokenError;
use crate::settings::Settings;

/// The latest NumericDate keycard accepts (9999-12-31T23:59:59Z): beyond it, a date is a
/// crafted number, and refusing it keeps all time arithmetic far from overflow.
pub(crate) const MAX_NUMERIC_DATE: u64 = 253_402_300_799;

/// A verified token: its claims and the key that verified it.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The claims.
    pub claims: Claims,
    /// The algorithm of the verifying key.
    pub alg: Algorithm,
    /// The `kid` of the verifying key.
    pub kid: Option<String>,
}

/// Verifies tokens against [`Settings`].
///
/// ```
/// use keycard_core::{Settings, TokenError, TokenKind, token::Verifier};
/// use std::sync::Arc;
/// let settings = Arc::new(Settings::builder().hmac_secret([7u8; 32]).build().unwrap());
/// let v = Verifier::new(settings);
/// assert_eq!(v.verify(b"not.a.token", &[TokenKind::Access], false).unwrap_err(), TokenError::Malformed);
/// ```
///
/// A verifier remembers the tokens it accepted (see [`with_cache`](Self::with_cache)); clones
/// share what it remembers.
#[derive(Debug, Clone)]
pub struct Verifier {
    settings: Arc<Settings>,
    cache: Option<Arc<VerifiedCache>>,
}

impl Verifier {
    /// A verifier for these settings, remembering up to
    /// [`DEFAULT_CACHE_ENTRIES`](super::DEFAULT_CACHE_ENTRIES) verified tokens.
    pub fn new(settings: Arc<Settings>) -> Self {
        Self {
            settings,
            cache: VerifiedCache::new(DEFAULT_CACHE_ENTRIES).map(Arc::new),
        }
    }

    /// This verifier remembering up to `entries` verified tokens (0: none), so that a token
    /// presented again costs a lookup instead of a verification.
    ///
    /// What is remembered is a token that passed every check, keyed by its exact bytes and
    /// the key set that verified it; each time it is presented again the checks that can
    /// change — `exp`, `nbf` and `iat` against the clock, the kinds the caller accepts — run
    /// again, and a change of key set (rotation, a re-fetched JWKS) forgets it. Revocation is
    /// never remembered: the token service asks its store every time. Memory is bounded:
    /// `entries` tokens of up to [`CACHEABLE_TOKEN_LEN`](super::CACHEABLE_TOKEN_LEN) bytes.
    ///
    /// ```
    /// use keycard_core::{Settings, token::Verifier};
    /// use std::sync::Arc;
    /// let settings = Arc::new(Settings::builder().hmac_secret([7u8; 32]).build().unwrap());
    /// let v = Verifier::new(settings).with_cache(0);
    /// assert_eq!(v.cache_capacity(), 0);
    /// ```
    #[must_use]
    pub fn with_cache(mut self, entries: usize) -> Self {
        self.cache = VerifiedCache::new(entries).map(Arc::new);
        self
    }

    /// How many verified tokens this verifier can remember (0: it remembers none).
    pub fn cache_capacity(&self) -> usize {
        self.cache.as_ref().map_or(0, |c| c.capacity())
    }

    /// The settings.
    pub fn settings(&self) -> &Arc<Settings> {
        &self.settings
    }

    /// Verifies `token` as one of `kinds` (any kind when empty). `allow_expired` skips only the
    /// `exp` check (for refreshing a sliding token, whose own limit is `refresh_exp`).
    pub fn verify(
        &self,
        token: &[u8],
        kinds: &[TokenKind],
        allow_expired: bool,
    ) -> Result<Verified, TokenError> {
        let (claims, alg, kid) = self.verify_parts(token, kinds, allow_expired)?;
        Ok(Verified {
            claims,
            alg,
            kid: kid.map(|k| String::from(&*k)),
        })
    }

    fn verify_parts(
        &self,
        token: &[u8],
        kinds: &[TokenKind],
        allow_expired: bool,
    ) -> Result<(Claims, Algorithm, Option<Arc<str>>), TokenError> {
        let s = &*self.settings;
        if token.len() > s.max_token_size {
            return Err(TokenError::TooLarge);
        }
        // One key set for the whole verification, whatever a key source swaps meanwhile.
        let keys = s.keys.load();
        if let Some(cache) = &self.cache
            && let Some(hit) = cache.get(token, &keys)
        {
            self.recheck(&hit, kinds, allow_expired)?;
            return Ok((hit.claims, hit.alg, hit.kid));
        }
        let (header_b64, payload_b64, sig_b64) = split(token)?;

        let mut stack = [0u8; HEADER_STACK];
        let mut heap = Vec::new();
        let header = JoseHeader::parse(decode_segment(header_b64, &mut stack, &mut heap)?)
            .ok_or(TokenError::Malformed)?;
        let (alg, key) = Self::select_key(&keys, &header)?;

        // Segments are proven ASCII by `split`.
        let signing_input = &token[..header_b64.len() + 1 + payload_b64.len()];
        if !verify_signature(key, alg, signing_input, sig_b64)? {
            return Err(TokenError::Signature);
        }

        let mut stack = [0u8; PAYLOAD_STACK];
        let mut heap = Vec::new();
        let payload = parse_object(decode_segment(payload_b64, &mut stack, &mut heap)?)?;
        let claims = self.check_claims(payload, kinds, allow_expired)?;
        let kid = key.kid_arc().cloned();
        if let Some(cache) = &self.cache {
            // Remembered under the set that verified it; if a swap came in between, not at all.
            let current = s.keys.current();
            if std::ptr::eq(Arc::as_ptr(&current), &*keys) {
                // The verifier proved `nbf` and `iat`, when present, NumericDates.
                let ceil = |name| claims.get(name).and_then(|v| numeric_date_ceil(v).ok());
                let not_before = (ceil("nbf"), ceil("iat"));
                cache.insert(token, current, claims.clone(), alg, kid.clone(), not_before);
            }
        }
        Ok((claims, alg, kid))
    }

    /// On a cache hit, the checks that depend on the clock and on the caller, in
    /// `check_claims`' order.
    fn recheck(
        &self,
        hit: &Hit,
        kinds: &[TokenKind],
        allow_expired: bool,
    ) -> Result<(), TokenError> {
        let s = &*self.settings;
        let now = s.now();
        let leeway = s.leeway;
        let c = &hit.claims;
        if !allow_expired && c.exp().saturating_add(leeway) <= now {
            return Err(TokenError::Expired);
        }
        if hit.nbf.is_some_and(|nbf| nbf > now.saturating_add(leeway)) {
            return Err(TokenError::NotYetValid);
        }
        if hit.iat.is_some_and(|iat| iat > now.saturating_add(leeway)) {
            return Err(TokenError::IssuedInFuture);
        }
        if !kinds.is_empty() && !kinds.contains(&c.kind()) {
            return Err(TokenError::WrongType);
        }
        Ok(())
    }

    fn select_key<'k>(
        keys: &'k KeySet,
        header: &JoseHeader<'_>,
    ) -> Result<(Algorithm, &'k Key), TokenError> {
        if header.refused {
            return Err(TokenError::HeaderParameter);
        }
        match &header.typ {
            Member::Absent => {}
            Member::Str(t)
                if ["jwt", "at+jwt", "application/jwt", "application/at+jwt"]
                    .iter()
                    .any(|ok| t.eq_ignore_ascii_case(ok)) => {}
            _ => return Err(TokenError::HeaderParameter),
        }
        let alg = match &header.alg {
            Member::Str(name) => name
                .parse::<Algorithm>()
                .map_err(|_| TokenError::Algorithm)?,
            _ => return Err(TokenError::Algorithm),
        };
        if !keys.allows(alg) {
            return Err(TokenError::Algorithm);
        }
        let kid = match &header.kid {
            Member::Absent => None,
            Member::Str(k) => Some(&**k),
            Member::Other => return Err(TokenError::Malformed),
        };
        let key = keys.select(alg, kid).ok_or(TokenError::UnknownKey)?;
        Ok((alg, key))
    }

    fn check_claims(
        &self,
        all: Map<String, Value>,
        kinds: &[TokenKind],
        allow_expired: bool,
    ) -> Result<Claims, TokenError> {
        let s = &*self.settings;
        let now = s.now();
        let leeway = s.leeway;

        let exp = numeric_date(all.get("exp").ok_or(TokenError::MissingClaim)?)?;
        if !allow_expired && exp.saturating_add(leeway) <= now {
            return Err(TokenError::Expired);
        }
        if let Some(nbf) = all.get("nbf")
            && numeric_date_ceil(nbf)? > now.saturating_add(leeway)
        {
            return Err(TokenError::NotYetValid);
        }
        let iat = match all.get("iat") {
            Some(v) => {
                if numeric_date_ceil(v)? > now.saturating_add(leeway) {
                    return Err(TokenError::IssuedInFuture);
                }
                Some(numeric_date(v)?)
            }
            None => None,
        };
        if let Some(expected) = &s.issuer {
            match all.get("iss") {
                Some(Value::String(iss)) if iss == expected => {}
                _ => return Err(TokenError::Issuer),
            }
        }
        match (&s.audience, all.get("aud")) {
            (None, None) => {}
            (None, Some(_)) | (Some(_), None) => return Err(TokenError::Audience),
            (Some(expected), Some(aud)) => {
                let ok = match aud {
                    Value::String(a) => expected.accepts(a),
                    Value::Array(items) => {
                        !items.is_empty()
                            && items.iter().all(Value::is_string)
                            && items
                                .iter()
                                .filter_map(Value::as_str)
                                .any(|a| expected.accepts(a))
                    }
                    _ => false,
                };
                if !ok {
                    return Err(TokenError::Audience);
                }
            }
        }
        let kind = match all.get(&s.token_type_claim) {
            None => return Err(TokenError::MissingClaim),
            Some(Value::String(t)) => TokenKind::parse(t).ok_or(TokenError::WrongType)?,
            Some(_) => return Err(TokenError::InvalidClaim),
        };
        if !kinds.is_empty() && !kinds.contains(&kind) {
            return Err(TokenError::WrongType);
        }
        let jti = match all.get(&s.jti_claim) {
            None => return Err(TokenError::MissingClaim),
            Some(Value::String(j)) if !j.is_empty() && j.len() <= 256 => j.clone(),
            Some(_) => return Err(TokenError::InvalidClaim),
        };
        let user_id = match all.get(&s.user_id_claim) {
            None => return Err(TokenError::MissingClaim),
            Some(Value::String(u)) if !u.is_empty() && u.len() <= 256 => u.clone(),
            // Legacy tokens carry numeric ids; they name the same user as the string form.
            Some(Value::Number(n)) if n.is_u64() || n.is_i64() => n.to_string(),
            Some(_) => return Err(TokenError::InvalidClaim),
        };
        let session = match all.get(&s.session_claim) {
            None => None,
            Some(Value::String(sid)) if !sid.is_empty() && sid.len() <= 256 => Some(sid.clone()),
            Some(_) => return Err(TokenError::InvalidClaim),
        };
        if kind == TokenKind::Sliding {
            numeric_date(
                all.get(&s.sliding_refresh_exp_claim)
                    .ok_or(TokenError::MissingClaim)?,
            )?;
        }
        Ok(Claims::from(ClaimsData {
            kind,
            jti,
            user_id,
            session,
            exp,
            iat,
            all,
        }))
    }
}

/// The header, payload and signature segments of a compact JWS.
type Segments<'a> = (&'a [u8], &'a [u8], &'a [u8]);

/// Splits a compact JWS into its three segments, refusing anything but base64url characters.
fn split(token: &[u8]) -> Result<Segments<'_>, TokenError> {
    let mut dots = [0usize; 2];
    let mut n = 0;
    for (i, &b) in token.iter().enumerate() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' => {}
            b'.' if n < 2 => {
                dots[n] = i;
                n += 1;
            }
            _ => return Err(TokenError::Malformed),
        }
    }
    if n != 2 {
        return Err(TokenError::Malformed);
    }
    let (h, p, s) = (
        &token[..dots[0]],
        &token[dots[0] + 1..dots[1]],
        &token[dots[1] + 1..],
    );
    if h.is_empty() || p.is_empty() || s.is_empty() {
        return Err(TokenError::Malformed);
    }
    Ok((h, p, s))
}

/// The largest signature decoded on the stack: every HMAC, ECDSA and EdDSA signature, and
/// RSA up to 4096 bits.
const SIG_STACK: usize = 512;

/// Decodes the signature segment once — canonical base64url only: no bits may hide in the
/// last character (`Malformed`) — and checks it with `key`: HS* with the key's pre-keyed HMAC
/// and a constant-time comparison, other families with the crypto provider's verifier.
fn verify_signature(
    key: &Key,
    alg: Algorithm,
    signing_input: &[u8],
    sig_b64: &[u8],
) -> Result<bool, TokenError> {
    let max_len = sig_b64.len().div_ceil(4) * 3;
    if let Some(hmac) = key.hmac_key()
        && max_len <= SIG_STACK
    {
        let mut buf = [0u8; SIG_STACK];
        let n = URL_SAFE_NO_PAD
            .decode_slice(sig_b64, &mut buf)
            .map_err(|_| TokenError::Malformed)?;
        return Ok(hmac.verify(signing_input, &buf[..n]));
    }
    let sig = URL_SAFE_NO_PAD
        .decode(sig_b64)
        .map_err(|_| TokenError::Malformed)?;
    if let Some(hmac) = key.hmac_key() {
        return Ok(hmac.verify(signing_input, &sig));
    }
    // What `jsonwebtoken::crypto::verify` does, without decoding the signature a second time.
    let Some(provider) = jsonwebtoken::crypto::CryptoProvider::try_get_default() else {
        return Ok(false);
    };
    Ok(match (provider.verifier_factory)(&alg, key.decoding()) {
        Ok(verifier) => verifier.verify(signing_input, &sig).is_ok(),
        Err(_) => false,
    })
}

/// A JSON object whose top-level members are unique: with duplicates, which one a reader
/// takes is a parser's choice, and a verifier and an application must never disagree.
struct StrictObject(Map<String, Value>);

impl<'de> Deserialize<'de> for StrictObject {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StrictObject;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<StrictObject, A::Error> {
                let mut out = Map::new();
                while let Some(k) = m.next_key::<String>()? {
                    if out.contains_key(&k) {
                        return Err(serde::de::Error::custom("duplicate member"));
                    }
                    let v: Value = m.next_value()?;
                    out.insert(k, v);
                }
                Ok(StrictObject(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// Header segments up to this size (decoded) are decoded on the stack.
const HEADER_STACK: usize = 256;
/// Payload segments up to this size (decoded) are decoded on the stack.
const PAYLOAD_STACK: usize = 2048;

/// Decodes a segment (canonical base64url only) into `stack` when it fits, else `heap`.
fn decode_segment<'b>(
    b64: &[u8],
    stack: &'b mut [u8],
    heap: &'b mut Vec<u8>,
) -> Result<&'b [u8], TokenError> {
    if b64.len().div_ceil(4) * 3 <= stack.len() {
        let n = URL_SAFE_NO_PAD
            .decode_slice(b64, stack)
            .map_err(|_| TokenError::Malformed)?;
        return Ok(&stack[..n]);
    }
    *heap = URL_SAFE_NO_PAD
        .decode(b64)
        .map_err(|_| TokenError::Malformed)?;
    Ok(heap)
}

fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, TokenError> {
    serde_json::from_slice::<StrictObject>(bytes)
        .map(|o| o.0)
        .map_err(|_| TokenError::Malformed)
}

#[cfg(test)]
fn decode_object(b64: &[u8]) -> Result<Map<String, Value>, TokenError> {
    let mut stack = [0u8; PAYLOAD_STACK];
    let mut heap = Vec::new();
    parse_object(decode_segment(b64, &mut stack, &mut heap)?)
}

/// Reads a NumericDate (RFC 7519 §2: integer or not), floored to whole seconds. Negative,
/// non-finite and absurdly large values are invalid claims.
fn numeric_date(v: &Value) -> Result<u64, TokenError> {
    numeric_date_rounded(v, f64::floor)
}

/// [`numeric_date`], a fraction of a second rounded up: for the "not in the future" checks
/// (`nbf`, `iat`), so that rounding never accepts what the exact value refuses.
fn numeric_date_ceil(v: &Value) -> Result<u64, TokenError> {
    numeric_date_rounded(v, f64::ceil)
}

fn numeric_date_rounded(v: &Value, round: fn(f64) -> f64) -> Result<u64, TokenError> {
    let Value::Number(n) = v else {
        return Err(TokenError::InvalidClaim);
    };
    let secs = if let Some(u) = n.as_u64() {
        u
    } else if let Some(f) = n.as_f64() {
        if !f.is_finite() || f < 0.0 || f > MAX_NUMERIC_DATE as f64 {
            return Err(TokenError::InvalidClaim);
        }
        // In range and finite: the cast is exact once rounded.
        round(f) as u64
    } else {
        return Err(TokenError::InvalidClaim);
    };
    if secs > MAX_NUMERIC_DATE {
        return Err(TokenError::InvalidClaim);
    }
    Ok(secs)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failing test panics with the value
mod tests {
    use super::*;

    #[test]
    fn split_refuses_everything_but_three_base64url_segments() {
        assert!(split(b"a.b.c").is_ok());
        for bad in [
            &b"a.b"[..],
            b"a.b.c.d",
            b"a.b.",
            b".b.c",
            b"a..c",
            b"a.b.c=",
            b"a+.b.c",
            b"a.b.c ",
            b"a.\"b.c",
            b"a.b.\xc3\xa9",
        ] {
            assert_eq!(
                split(bad).unwrap_err(),
                TokenError::Malformed,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn duplicate_members_are_refused() {
        let b64 = URL_SAFE_NO_PAD.encode(br#"{"exp":1,"exp":2}"#);
        assert_eq!(
            decode_object(b64.as_bytes()).unwrap_err(),
            TokenError::Malformed
        );
    }

    #[test]
    fn numeric_dates() {
        use serde_json::json;
        assert_eq!(numeric_date(&json!(1_900_000_000)).unwrap(), 1_900_000_000);
        assert_eq!(numeric_date(&json!(1.9e9)).unwrap(), 1_900_000_000);
        for bad in [
            json!("soon"),
            json!(null),
            json!(-1),
            json!(1e300),
            json!(18446744073709551615u64),
            json!(true),
        ] {
            assert_eq!(
                numeric_date(&bad).unwrap_err(),
                TokenError::InvalidClaim,
                "{bad}"
            );
        }
    }
}
