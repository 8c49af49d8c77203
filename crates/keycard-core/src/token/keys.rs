//! Keys by `kid`: sign with the current one, verify with any still listed.

use std::fmt;
use std::sync::Arc;

use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{AlgorithmFamily, DecodingKey, EncodingKey};

pub use jsonwebtoken::Algorithm;

use super::hs::HmacKey;
use crate::crypto::ensure_provider;
use crate::settings::ConfigError;

/// The shortest HMAC secret keycard accepts for `alg`: the size of its hash (RFC 7518 §3.2).
pub fn min_hmac_secret_len(alg: Algorithm) -> usize {
    match alg {
        Algorithm::HS384 => 48,
        Algorithm::HS512 => 64,
        _ => 32,
    }
}

/// One key, pinned to exactly one algorithm, with an optional `kid`. A key with a signing
/// half can sign; every key can verify. `Debug` never shows key material.
#[derive(Clone)]
pub struct Key {
    alg: Algorithm,
    kid: Option<Arc<str>>,
    encoding: Option<Arc<EncodingKey>>,
    decoding: Arc<DecodingKey>,
    public_jwk: Option<Arc<Jwk>>,
    /// HS* keys, keyed once for the hot path (see `token::hs`); `None` for other families.
    hmac: Option<HmacKey>,
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .field("can_sign", &self.encoding.is_some())
            .field("material", &"******")
            .finish()
    }
}

const SELF_TEST_MESSAGE: &[u8] = b"keycard.self-test";

impl Key {
    /// An HMAC key (HS256/384/512) from a shared secret, refused when shorter than the hash.
    ///
    /// ```
    /// use keycard_core::{Algorithm, Key};
    /// assert!(Key::hmac(Algorithm::HS256, b"too short").is_err());
    /// assert!(Key::hmac(Algorithm::HS256, b"0123456789abcdef0123456789abcdef").is_ok());
    /// ```
    pub fn hmac(alg: Algorithm, secret: &[u8]) -> Result<Self, ConfigError> {
        if alg.family() != AlgorithmFamily::Hmac {
            return Err(ConfigError::KeyAlgorithmMismatch {
                alg: format!("{alg:?}"),
            });
        }
        let min = min_hmac_secret_len(alg);
        if secret.len() < min {
            return Err(ConfigError::WeakSecret {
                alg: format!("{alg:?}"),
                min,
                got: secret.len(),
            });
        }
        ensure_provider();
        let encoding = EncodingKey::from_secret(secret).map_err(|_| bad_key("HMAC secret"))?;
        let decoding = DecodingKey::from_secret(secret).map_err(|_| bad_key("HMAC secret"))?;
        let mut key = Self::finish(alg, Some(encoding), decoding, None)?;
        key.hmac = HmacKey::new(alg, secret);
        key.self_test_hmac()?;
        Ok(key)
    }

    /// A signing key from a private key in PEM (PKCS#8 for EC and Ed25519; PKCS#1 or PKCS#8
    /// for RSA). The public half is derived from it.
    pub fn private_pem(alg: Algorithm, pem: &[u8]) -> Result<Self, ConfigError> {
        ensure_provider();
        let encoding = match alg.family() {
            AlgorithmFamily::Rsa => EncodingKey::from_rsa_pem(pem),
            AlgorithmFamily::Ec => EncodingKey::from_ec_pem(pem),
            AlgorithmFamily::Ed => EncodingKey::from_ed_pem(pem),
            AlgorithmFamily::Hmac => {
                return Err(ConfigError::KeyAlgorithmMismatch {
                    alg: format!("{alg:?}"),
                });
            }
        }
        .map_err(|_| bad_key("private key PEM"))?;
        Self::from_encoding(alg, encoding)
    }

    /// A signing key from a private key in DER (PKCS#1 RSA, PKCS#8 EC or Ed25519).
    pub fn private_der(alg: Algorithm, der: &[u8]) -> Result<Self, ConfigError> {
        ensure_provider();
        let encoding = match alg.family() {
            AlgorithmFamily::Rsa => EncodingKey::from_rsa_der(der),
            AlgorithmFamily::Ec => EncodingKey::from_ec_der(der),
            AlgorithmFamily::Ed => EncodingKey::from_ed_der(der),
            AlgorithmFamily::Hmac => {
                return Err(ConfigError::KeyAlgorithmMismatch {
                    alg: format!("{alg:?}"),
                });
            }
        };
        Self::from_encoding(alg, encoding)
    }

    /// A fresh Ed25519 signing key (EdDSA) from the operating system's generator: the simplest
    /// way to rotate keys in a running service (see [`KeyRotation`](crate::token::KeyRotation)).
    ///
    /// ```
    /// use keycard_core::{Algorithm, Key};
    /// let key = Key::generate_ed25519().unwrap().with_kid("2026-01");
    /// assert_eq!(key.algorithm(), Algorithm::EdDSA);
    /// assert!(key.can_sign() && key.public_jwk_value().is_some());
    /// ```
    pub fn generate_ed25519() -> Result<Self, ConfigError> {
        // PKCS#8 v1 (RFC 8410 §7): the fixed prefix of an Ed25519 private key, then its seed.
        const PREFIX: [u8; 16] = [
            0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22,
            0x04, 0x20,
        ];
        let seed: [u8; 32] = rand::random();
        let mut der = Vec::with_capacity(48);
        der.extend_from_slice(&PREFIX);
        der.extend_from_slice(&seed);
        Self::private_der(Algorithm::EdDSA, &der)
    }

    fn from_encoding(alg: Algorithm, encoding: EncodingKey) -> Result<Self, ConfigError> {
        let jwk = Jwk::from_encoding_key(&encoding, alg).map_err(|_| bad_key("private key"))?;
        let decoding = DecodingKey::from_jwk(&jwk).map_err(|_| bad_key("private key"))?;
        Self::finish(alg, Some(encoding), decoding, Some(jwk))
    }

    /// A verify-only key from a public key in PEM (SPKI, or PKCS#1 for RSA).
    pub fn public_pem(alg: Algorithm, pem: &[u8]) -> Result<Self, ConfigError> {
        ensure_provider();
        let decoding = match alg.family() {
            AlgorithmFamily::Rsa => DecodingKey::from_rsa_pem(pem),
            AlgorithmFamily::Ec => DecodingKey::from_ec_pem(pem),
            AlgorithmFamily::Ed => DecodingKey::from_ed_pem(pem),
            AlgorithmFamily::Hmac => {
                return Err(ConfigError::KeyAlgorithmMismatch {
                    alg: format!("{alg:?}"),
                });
            }
        }
        .map_err(|_| bad_key("public key PEM"))?;
        let jwk = Jwk::from_decoding_key(&decoding, Some(alg)).ok();
        Self::finish(alg, None, decoding, jwk)
    }

    /// A verify-only key from a JWK. Its `alg`, when present, must equal `alg`; an `oct` (HMAC)
    /// JWK is refused: a key never becomes an HMAC key because of what a JWK says.
    pub fn public_jwk(alg: Algorithm, jwk: &Jwk) -> Result<Self, ConfigError> {
        ensure_provider();
        if alg.family() == AlgorithmFamily::Hmac {
            return Err(ConfigError::KeyAlgorithmMismatch {
                alg: format!("{alg:?}"),
            });
        }
        if let Some(key_alg) = jwk.common.key_algorithm
            && format!("{key_alg:?}") != format!("{alg:?}")
        {
            return Err(ConfigError::KeyAlgorithmMismatch {
                alg: format!("{alg:?}"),
            });
        }
        let decoding = DecodingKey::from_jwk(jwk).map_err(|_| bad_key("JWK"))?;
        if decoding.family() != alg.family() {
            return Err(ConfigError::KeyAlgorithmMismatch {
                alg: format!("{alg:?}"),
            });
        }
        let key = Self::finish(alg, None, decoding, Some(jwk.clone()))?;
        Ok(match &jwk.common.key_id {
            Some(kid) => key.with_kid(kid.as_str()),
            None => key,
        })
    }

    fn finish(
        alg: Algorithm,
        encoding: Option<EncodingKey>,
        decoding: DecodingKey,
        jwk: Option<Jwk>,
    ) -> Result<Self, ConfigError> {
        if !curve_fits(alg, jwk.as_ref()) {
            return Err(ConfigError::KeyAlgorithmMismatch {
                alg: format!("{alg:?}"),
            });
        }
        let key = Self {
            alg,
            kid: None,
            encoding: encoding.map(Arc::new),
            decoding: Arc::new(decoding),
            public_jwk: jwk
                .filter(|_| alg.family() != AlgorithmFamily::Hmac)
                .map(Arc::new),
            hmac: None,
        };
        key.self_test()?;
        Ok(key)
    }

    /// Sign-and-verify round trip (or, for verify-only keys, a verification that must not
    /// error): a key that cannot work is refused at start-up, not on the first request.
    fn self_test(&self) -> Result<(), ConfigError> {
        let what = format!("{:?} key", self.alg);
        match &self.encoding {
            Some(enc) => {
                let sig = jsonwebtoken::crypto::sign(SELF_TEST_MESSAGE, enc, self.alg)
                    .map_err(|_| ConfigError::KeySelfTest { key: what.clone() })?;
                match jsonwebtoken::crypto::verify(
                    &sig,
                    SELF_TEST_MESSAGE,
                    &self.decoding,
                    self.alg,
                ) {
                    Ok(true) => Ok(()),
                    _ => Err(ConfigError::KeySelfTest { key: what }),
                }
            }
            None => {
                jsonwebtoken::crypto::verify("AAAA", SELF_TEST_MESSAGE, &self.decoding, self.alg)
                    .map(|_| ())
                    .map_err(|_| ConfigError::KeySelfTest { key: what })
            }
        }
    }

    /// Names this key with a `kid`; tokens it signs carry it.
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(Arc::from(kid.into()));
        self
    }

    /// The algorithm this key is pinned to.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }
    /// The key id.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }
    /// Whether this key can sign.
    pub fn can_sign(&self) -> bool {
        self.encoding.is_some()
    }
    /// The public JWK of an asymmetric key (never for HMAC keys, never with private members).
    pub fn public_jwk_value(&self) -> Option<Jwk> {
        let mut jwk = (**self.public_jwk.as_ref()?).clone();
        jwk.common.key_id = self.kid.as_deref().map(str::to_owned);
        Some(jwk)
    }
    pub(crate) fn encoding(&self) -> Option<&EncodingKey> {
        self.encoding.as_deref()
    }
    pub(crate) fn decoding(&self) -> &DecodingKey {
        &self.decoding
    }
    /// The key id, shared.
    pub(crate) fn kid_arc(&self) -> Option<&Arc<str>> {
        self.kid.as_ref()
    }
    /// The pre-keyed HMAC of an HS* key.
    pub(crate) fn hmac_key(&self) -> Option<&HmacKey> {
        self.hmac.as_ref()
    }

    /// The pre-keyed HMAC must sign exactly as jsonwebtoken does, and verify what it signs.
    fn self_test_hmac(&self) -> Result<(), ConfigError> {
        let what = || ConfigError::KeySelfTest {
            key: format!("{:?} key", self.alg),
        };
        let (Some(hmac), Some(enc)) = (&self.hmac, &self.encoding) else {
            return Err(what());
        };
        let theirs =
            jsonwebtoken::crypto::sign(SELF_TEST_MESSAGE, enc, self.alg).map_err(|_| what())?;
        if hmac.sign_b64(SELF_TEST_MESSAGE) != theirs {
            return Err(what());
        }
        Ok(())
    }
}

/// Whether an EC or EdDSA key is on the curve its algorithm names. A verify-only key cannot
/// prove itself with a signature, and the aws-lc-rs backend parses a public key only when a
/// token arrives (answering every token "bad signature" for a P-384 key pinned to ES256), so
/// the curve is checked here, from the key's JWK; a key whose JWK cannot be made is refused.
fn curve_fits(alg: Algorithm, jwk: Option<&Jwk>) -> bool {
    use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve};
    let want = match alg {
        Algorithm::ES256 => EllipticCurve::P256,
        Algorithm::ES384 => EllipticCurve::P384,
        Algorithm::EdDSA => EllipticCurve::Ed25519,
        _ => return true,
    };
    match jwk.map(|j| &j.algorithm) {
        Some(AlgorithmParameters::EllipticCurve(p)) => p.curve == want,
        Some(AlgorithmParameters::OctetKeyPair(p)) => p.curve == want,
        _ => false,
    }
}

fn bad_key(what: &'static str) -> ConfigError {
    ConfigError::BadKey { what }
}

/// The keys of a service: the current signing key (none on a service that only verifies, such
/// as one reading its issuer's JWKS) and any number of keys still accepted for verification
/// (rotation without logging everyone out). The algorithm allow-list is the set of the keys'
/// algorithms — never what a token says.
///
/// A `KeySet` is immutable; keys change at run time by swapping whole sets, through a
/// [`KeySource`](crate::token::KeySource).
///
/// ```
/// use keycard_core::{Algorithm, Key, KeySet};
/// let old = Key::hmac(Algorithm::HS256, &[1u8; 32]).unwrap().with_kid("2025");
/// let new = Key::hmac(Algorithm::HS256, &[2u8; 32]).unwrap().with_kid("2026");
/// let keys = KeySet::new(new).unwrap().with_verifier(old).unwrap();
/// assert_eq!(keys.signing_key().and_then(|k| k.kid()), Some("2026"));
/// assert_eq!(keys.len(), 2);
/// ```
#[derive(Clone, Debug)]
pub struct KeySet {
    signing: Option<usize>,
    keys: Vec<Key>,
}

impl KeySet {
    /// A set whose current signing key is `signing`.
    pub fn new(signing: Key) -> Result<Self, ConfigError> {
        if !signing.can_sign() {
            return Err(ConfigError::NoSigningKey);
        }
        Ok(Self {
            signing: Some(0),
            keys: vec![signing],
        })
    }

    /// A set that only verifies (no signing key): a peer's public keys, or its JWKS. It may be
    /// empty — then it verifies nothing.
    ///
    /// ```
    /// use keycard_core::{Algorithm, Key, KeySet};
    /// let pem = include_bytes!("../../tests/keys/ed25519_public.pem");
    /// let peer = Key::public_pem(Algorithm::EdDSA, pem).unwrap().with_kid("peer-1");
    /// let keys = KeySet::verify_only([peer]).unwrap();
    /// assert!(keys.signing_key().is_none());
    /// assert!(keys.select(Algorithm::EdDSA, Some("peer-1")).is_some());
    /// ```
    pub fn verify_only(keys: impl IntoIterator<Item = Key>) -> Result<Self, ConfigError> {
        let mut set = Self {
            signing: None,
            keys: Vec::new(),
        };
        for key in keys {
            set = set.with_verifier(key)?;
        }
        Ok(set)
    }

    /// Adds a verify-only (or retired) key. Two keys may not share a `kid`.
    pub fn with_verifier(mut self, key: Key) -> Result<Self, ConfigError> {
        if key.kid.is_some() && self.keys.iter().any(|k| k.kid == key.kid) {
            return Err(ConfigError::DuplicateKid);
        }
        self.keys.push(key);
        Ok(self)
    }

    /// The key new tokens are signed with; `None` in a verify-only set.
    pub fn signing_key(&self) -> Option<&Key> {
        self.signing.map(|i| &self.keys[i])
    }

    /// Every key, signing key first.
    pub fn keys(&self) -> impl Iterator<Item = &Key> {
        self.signing_key().into_iter().chain(
            self.keys
                .iter()
                .enumerate()
                .filter(|(i, _)| Some(*i) != self.signing)
                .map(|(_, k)| k),
        )
    }

    /// How many keys the set holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the set holds no key at all (a verify-only set before its first fetch).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The key named `kid`.
    pub fn get(&self, kid: &str) -> Option<&Key> {
        self.keys.iter().find(|k| k.kid.as_deref() == Some(kid))
    }

    /// This set with the key named `kid` as its signing key; the previous signing key stays,
    /// as a verifier. The key must be able to sign.
    pub fn with_signing(mut self, kid: &str) -> Result<Self, ConfigError> {
        let i = self
            .keys
            .iter()
            .position(|k| k.kid.as_deref() == Some(kid))
            .ok_or(ConfigError::UnknownKid)?;
        if !self.keys[i].can_sign() {
            return Err(ConfigError::NoSigningKey);
        }
        self.signing = Some(i);
        Ok(self)
    }

    /// This set without the key named `kid`. The signing key cannot be removed: promote
    /// another one first.
    pub fn without(mut self, kid: &str) -> Result<Self, ConfigError> {
        let i = self
            .keys
            .iter()
            .position(|k| k.kid.as_deref() == Some(kid))
            .ok_or(ConfigError::UnknownKid)?;
        match self.signing {
            Some(s) if s == i => return Err(ConfigError::RemoveSigningKey),
            Some(s) if s > i => self.signing = Some(s - 1),
            _ => {}
        }
        self.keys.remove(i);
        Ok(self)
    }

    /// Whether some key is pinned to `alg`.
    pub fn allows(&self, alg: Algorithm) -> bool {
        self.keys.iter().any(|k| k.alg == alg)
    }

    /// The key to verify a token with, from its header's `alg` and `kid`. With a `kid`: that
    /// key, and its algorithm must be `alg`. Without: the only key pinned to `alg`, or none
    /// (ambiguous sets need a `kid`).
    pub fn select(&self, alg: Algorithm, kid: Option<&str>) -> Option<&Key> {
        match kid {
            Some(kid) => self
                .keys
                .iter()
                .find(|k| k.kid.as_deref() == Some(kid) && k.alg == alg),
            None => {
                let mut it = self.keys.iter().filter(|k| k.alg == alg);
                let first = it.next()?;
                it.next().is_none().then_some(first)
            }
        }
    }

    /// The public JWKS document of the asymmetric keys (HMAC secrets are never listed).
    pub fn public_jwks(&self) -> jsonwebtoken::jwk::JwkSet {
        jsonwebtoken::jwk::JwkSet {
            keys: self.keys().filter_map(Key::public_jwk_value).collect(),
        }
    }
}
