//! Tokens: keys, claims, strict verification, and the token service (simplejwt's views).

mod cache;
mod claims;
mod header;
mod hs;
mod jwks;
mod keys;
#[cfg(feature = "remote-keys")]
mod remote;
mod service;
mod source;
mod verify;

pub use cache::{CACHEABLE_TOKEN_LEN, DEFAULT_CACHE_ENTRIES};
pub use claims::{Claims, TokenKind};
pub use jwks::{
    JWKS_MAX_AGE_SECS, JWKS_PATH, MAX_JWKS_ENTRIES, NotAJwks, ParsedJwks, SkippedJwk,
    jwks_response, parse_jwks,
};
pub use keys::{Algorithm, Key, KeySet, min_hmac_secret_len};
#[cfg(feature = "remote-keys")]
pub use remote::{KeySourceError, RemoteKeys, RemoteKeysBuilder};
pub use service::{ClaimsHook, SlidingToken, TokenPair, TokenService, TokenServiceBuilder};
pub use source::{CurrentKeys, KeyRotation, KeySource};
pub use verify::{Verified, Verifier};
