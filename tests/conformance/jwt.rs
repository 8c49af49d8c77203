//! Hand-made HS256 tokens for the conformance suite: a hostile token must be minted byte by
//! byte (duplicate members, raw headers, stripped signatures) where a JWT library would
//! refuse to, so the pieces are put together here from HMAC-SHA256 and base64url.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// HMAC-SHA256 (RFC 2104).
pub(crate) fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC takes keys of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// base64url without padding (RFC 7515 §2).
pub(crate) fn b64url(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

/// base64url without padding, decoded; `None` for anything else.
pub(crate) fn b64url_decode(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

/// `header.payload.signature`, the signature HS256 over the first two with `key`.
pub(crate) fn hs256(header: &[u8], payload: &[u8], key: &[u8]) -> String {
    let input = format!("{}.{}", b64url(header), b64url(payload));
    let sig = b64url(&hmac_sha256(key, input.as_bytes()));
    format!("{input}.{sig}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(b64url(&mac), "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM");
    }
}
