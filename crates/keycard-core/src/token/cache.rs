//! Verify once, remember: a bounded cache of verified tokens.
//!
//! A client presents the same access token on every request until it expires, and
//! verifying it again — base64, HMAC or a signature, two JSON parses — is most of what
//! authentication costs. The [`Verifier`](super::Verifier) remembers the tokens it accepted:
//!
//! - keyed by the whole token, byte for byte (a hit compares every byte), and by the key
//!   set that verified it — a rotated, retired or re-fetched set (any other `KeySet`) is a
//!   miss, and the stale entry goes;
//! - only successes are remembered, so nothing a client can send without a valid signature
//!   ever enters it;
//! - on every hit the checks that depend on the call are run again, in the verifier's
//!   order: `exp` against now and the leeway (unless the caller allows expired tokens), `nbf`
//!   and `iat` against now (a clock may go back), and the kinds the caller accepts. Every
//!   other rule depends only on the token's bytes, the settings (immutable) and the key set
//!   (compared by identity);
//! - revocation is never cached: the token service asks its revocation store on every
//!   request, hit or miss;
//! - bounded: a fixed number of entries (tokens up to [`CACHEABLE_TOKEN_LEN`] bytes), in
//!   shards with a lock each; a full shard evicts an arbitrary entry.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};
use std::sync::{Arc, Mutex, MutexGuard};

use super::claims::Claims;
use super::keys::{Algorithm, KeySet};

/// Tokens longer than this are verified every time (keycard's own are about 300 bytes).
pub const CACHEABLE_TOKEN_LEN: usize = 2048;

/// The default number of entries of a [`Verifier`](super::Verifier)'s cache.
pub const DEFAULT_CACHE_ENTRIES: usize = 4096;

const SHARDS: usize = 16;

/// What a hit hands back.
pub(super) struct Hit {
    pub(super) claims: Claims,
    pub(super) alg: Algorithm,
    pub(super) kid: Option<Arc<str>>,
    /// `nbf` and `iat`, rounded up.
    pub(super) nbf: Option<u64>,
    pub(super) iat: Option<u64>,
}

struct Entry {
    token: Box<[u8]>,
    /// The key set that verified the token; held, so its address names it while we compare.
    keys: Arc<KeySet>,
    claims: Claims,
    alg: Algorithm,
    kid: Option<Arc<str>>,
    not_before: (Option<u64>, Option<u64>),
}

/// The map's keys are already keyed hashes.
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used; fold anything else in, never panic.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type Shard = HashMap<u64, Entry, BuildHasherDefault<Prehashed>>;

/// The cache; see the [module docs](self).
pub(crate) struct VerifiedCache {
    shards: Box<[Mutex<Shard>]>,
    per_shard: usize,
    /// Per-cache random keys of the slot hash.
    keys: (u64, u64),
}

impl fmt::Debug for VerifiedCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedCache")
            .field("capacity", &self.capacity())
            .field("len", &self.len())
            .finish()
    }
}

impl VerifiedCache {
    /// A cache of about `entries` tokens (rounded up to a multiple of the shard count);
    /// `None` for zero.
    pub(crate) fn new(entries: usize) -> Option<Self> {
        if entries == 0 {
            return None;
        }
        let per_shard = entries.div_ceil(SHARDS);
        Some(Self {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            per_shard,
            keys: {
                let r = RandomState::new();
                (r.hash_one(0x6b63_u16), r.hash_one(0x6361_u16))
            },
        })
    }

    pub(crate) fn capacity(&self) -> usize {
        self.per_shard * SHARDS
    }

    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(s).len()).sum()
    }

    /// A keyed hash of the token's length and last 16 bytes — its signature's: unpredictable
    /// for any token that verified, the only tokens ever inserted. A token crafted to land
    /// on an entry's slot costs one probe and a comparison of the whole token, then a full
    /// verification: nothing a client sends can lengthen the probes (the shards stay
    /// below capacity) or make a miss look like a hit.
    fn slot(&self, token: &[u8]) -> (u64, &Mutex<Shard>) {
        let n = token.len();
        let word = |end: usize| {
            let mut w = [0u8; 8];
            let start = end.saturating_sub(8);
            w[8 - (end - start)..].copy_from_slice(&token[start..end]);
            u64::from_le_bytes(w)
        };
        let (a, b) = (word(n), word(n.saturating_sub(8)));
        let h = mix(a ^ self.keys.0, b ^ self.keys.1 ^ n as u64);
        // Bits the shard's own table does not use (it takes the low bits and the top seven).
        (h, &self.shards[(h >> 32) as usize % SHARDS])
    }

    /// The entry for exactly `token`, verified under exactly `keys`.
    pub(super) fn get(&self, token: &[u8], keys: &KeySet) -> Option<Hit> {
        if token.len() > CACHEABLE_TOKEN_LEN {
            return None;
        }
        let (h, shard) = self.slot(token);
        let mut shard = lock(shard);
        let e = shard.get(&h)?;
        if *e.token != *token {
            return None;
        }
        if !std::ptr::eq(Arc::as_ptr(&e.keys), keys) {
            // Verified under keys that are no longer the current ones.
            shard.remove(&h);
            return None;
        }
        Some(Hit {
            claims: e.claims.clone(),
            alg: e.alg,
            kid: e.kid.clone(),
            nbf: e.not_before.0,
            iat: e.not_before.1,
        })
    }

    /// Remembers a token that has just verified under `keys`.
    pub(super) fn insert(
        &self,
        token: &[u8],
        keys: Arc<KeySet>,
        claims: Claims,
        alg: Algorithm,
        kid: Option<Arc<str>>,
        not_before: (Option<u64>, Option<u64>),
    ) {
        if token.len() > CACHEABLE_TOKEN_LEN {
            return;
        }
        let (h, shard) = self.slot(token);
        let entry = Entry {
            token: token.into(),
            keys,
            claims,
            alg,
            kid,
            not_before,
        };
        let mut shard = lock(shard);
        if shard.len() >= self.per_shard
            && !shard.contains_key(&h)
            && let Some(victim) = shard.keys().next().copied()
        {
            shard.remove(&victim);
        }
        shard.insert(h, entry);
    }
}

/// Folded multiply: every bit of both words reaches every bit of the result.
fn mix(a: u64, b: u64) -> u64 {
    let m = u128::from(a).wrapping_mul(u128::from(b | 1) ^ 0x9e37_79b9_7f4a_7c15);
    let h = (m as u64) ^ ((m >> 64) as u64);
    h ^ h.rotate_left(29)
}

// A poisoned lock only means a thread panicked while holding it; every operation leaves
// the map consistent.
fn lock(m: &Mutex<Shard>) -> MutexGuard<'_, Shard> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failing test panics with the value
mod tests {
    use super::*;
    use crate::token::claims::ClaimsData;
    use crate::token::{Key, TokenKind};

    fn claims(jti: &str) -> Claims {
        Claims::from(ClaimsData {
            kind: TokenKind::Access,
            jti: jti.to_owned(),
            user_id: "1".to_owned(),
            session: None,
            exp: 10,
            iat: None,
            all: serde_json::Map::new(),
        })
    }

    fn keys() -> Arc<KeySet> {
        Arc::new(KeySet::new(Key::hmac(Algorithm::HS256, &[1u8; 32]).unwrap()).unwrap())
    }

    #[test]
    fn memory_stays_bounded_whatever_is_inserted() {
        let cache = VerifiedCache::new(64).unwrap();
        let keys = keys();
        for i in 0..10_000 {
            let token = format!("header.payload.signature-{i}");
            cache.insert(
                token.as_bytes(),
                keys.clone(),
                claims(&token),
                Algorithm::HS256,
                None,
                (None, None),
            );
            assert!(cache.len() <= cache.capacity());
        }
        assert!(cache.len() > cache.capacity() / 2, "{}", cache.len());
        // Too long to remember.
        let long = "x".repeat(CACHEABLE_TOKEN_LEN + 1);
        cache.insert(
            long.as_bytes(),
            keys.clone(),
            claims("l"),
            Algorithm::HS256,
            None,
            (None, None),
        );
        assert!(cache.get(long.as_bytes(), &keys).is_none());
        assert!(VerifiedCache::new(0).is_none());
    }

    #[test]
    fn a_hit_needs_the_same_bytes_and_the_same_key_set() {
        let cache = VerifiedCache::new(64).unwrap();
        let (k1, k2) = (keys(), keys());
        cache.insert(
            b"a.b.c",
            k1.clone(),
            claims("j"),
            Algorithm::HS256,
            None,
            (Some(5), Some(4)),
        );
        let hit = cache.get(b"a.b.c", &k1).unwrap();
        assert_eq!(
            (hit.claims.jti(), hit.nbf, hit.iat),
            ("j", Some(5), Some(4))
        );
        assert!(cache.get(b"a.b.d", &k1).is_none());
        assert!(cache.get(b"a.b.cc", &k1).is_none());
        // Another set (even with the same keys) is a miss, and the entry goes.
        assert!(cache.get(b"a.b.c", &k2).is_none());
        assert!(cache.get(b"a.b.c", &k1).is_none());
        assert_eq!(cache.len(), 0);
    }
}
