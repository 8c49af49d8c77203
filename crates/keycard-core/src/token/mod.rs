//! Tokens: keys, claims, strict verification, and the token service (simplejwt's views).

mod claims;
mod keys;
mod service;
mod verify;

pub use claims::{Claims, TokenKind};
pub use keys::{Algorithm, Key, KeySet, min_hmac_secret_len};
pub use service::{ClaimsHook, SlidingToken, TokenPair, TokenService, TokenServiceBuilder};
pub use verify::{Verified, Verifier};
