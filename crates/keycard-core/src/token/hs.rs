//! HS256/384/512 keyed once.
//!
//! jsonwebtoken builds a boxed verifier — and re-derives the HMAC key pads from the secret —
//! on every call. An HMAC key here is keyed once, when the [`Key`](super::Key) is made; each
//! verification clones the two hash states (a copy of a few dozen bytes) and runs the hash.
//! Tags are compared in constant time (`hmac`'s `verify_slice`, through `subtle`). Same
//! RustCrypto crates as jsonwebtoken's own HMAC; the key's start-up self-test checks both
//! agree.

use hmac::{Hmac, Mac};
use jsonwebtoken::Algorithm;
use sha2::{Sha256, Sha384, Sha512};

/// An HMAC key with its pads already hashed.
#[derive(Clone)]
pub(crate) enum HmacKey {
    Hs256(Hmac<Sha256>),
    Hs384(Hmac<Sha384>),
    Hs512(Hmac<Sha512>),
}

impl HmacKey {
    /// The key for `alg` (an HS* algorithm) and `secret`; `None` for any other algorithm.
    pub(crate) fn new(alg: Algorithm, secret: &[u8]) -> Option<Self> {
        Some(match alg {
            Algorithm::HS256 => Self::Hs256(Hmac::new_from_slice(secret).ok()?),
            Algorithm::HS384 => Self::Hs384(Hmac::new_from_slice(secret).ok()?),
            Algorithm::HS512 => Self::Hs512(Hmac::new_from_slice(secret).ok()?),
            _ => return None,
        })
    }

    /// Whether `tag` is the HMAC of `msg`: lengths must be equal, bytes are compared in
    /// constant time.
    pub(crate) fn verify(&self, msg: &[u8], tag: &[u8]) -> bool {
        match self {
            Self::Hs256(m) => check(m, msg, tag),
            Self::Hs384(m) => check(m, msg, tag),
            Self::Hs512(m) => check(m, msg, tag),
        }
    }

    /// The HMAC of `msg` as unpadded base64url (a JWS signature segment).
    pub(crate) fn sign_b64(&self, msg: &[u8]) -> String {
        use base64::Engine;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        match self {
            Self::Hs256(m) => URL_SAFE_NO_PAD.encode(tag(m, msg)),
            Self::Hs384(m) => URL_SAFE_NO_PAD.encode(tag(m, msg)),
            Self::Hs512(m) => URL_SAFE_NO_PAD.encode(tag(m, msg)),
        }
    }
}

fn check<M: Mac + Clone>(keyed: &M, msg: &[u8], tag: &[u8]) -> bool {
    let mut m = keyed.clone();
    m.update(msg);
    m.verify_slice(tag).is_ok()
}

fn tag<M: Mac + Clone>(keyed: &M, msg: &[u8]) -> impl AsRef<[u8]> {
    let mut m = keyed.clone();
    m.update(msg);
    m.finalize().into_bytes()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failing test panics with the value
mod tests {
    use super::*;

    #[test]
    fn agrees_with_jsonwebtoken_and_refuses_wrong_tags() {
        crate::crypto::ensure_provider();
        for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
            let secret = [9u8; 64];
            let key = HmacKey::new(alg, &secret).unwrap();
            let enc = jsonwebtoken::EncodingKey::from_secret(&secret).unwrap();
            let theirs = jsonwebtoken::crypto::sign(b"msg", &enc, alg).unwrap();
            let ours = key.sign_b64(b"msg");
            assert_eq!(ours, theirs);
            use base64::Engine;
            let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(&ours)
                .unwrap();
            assert!(key.verify(b"msg", &raw));
            assert!(!key.verify(b"msh", &raw));
            assert!(!key.verify(b"msg", &raw[..raw.len() - 1]));
            assert!(!key.verify(b"msg", &[]));
            let mut flipped = raw.clone();
            flipped[0] ^= 1;
            assert!(!key.verify(b"msg", &flipped));
        }
        assert!(HmacKey::new(Algorithm::RS256, &[1u8; 32]).is_none());
    }
}
