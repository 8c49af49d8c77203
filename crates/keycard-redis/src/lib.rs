//! keycard's [`RevocationStore`](keycard_core::RevocationStore) on Redis: one revocation
//! state for every process of an application. Logging out on one process ends the session
//! on all of them; a refresh token is spendable exactly once across all of them.
//!
//! ```no_run
//! use keycard_core::{InMemoryUserStore, Settings, TokenService, User};
//! use keycard_redis::RedisRevocationStore;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let users = InMemoryUserStore::new();
//! users.insert(User::new("1", "alice"), "alice-password");
//! let settings = Settings::builder()
//!     .hmac_secret("a-secret-that-is-at-least-32-bytes-long!")
//!     .rotate_refresh_tokens(true)
//!     .blacklist_after_rotation(true)
//!     .build()?;
//! let store = RedisRevocationStore::connect("redis://127.0.0.1:6379").await?;
//! let tokens = TokenService::builder(settings).users(users).store(store).build()?;
//!
//! let pair = tokens.obtain("alice", "alice-password").await?;
//! let refresh = pair.refresh.expect("rotation is on");
//! let next = tokens.refresh(&refresh).await?; // spends `refresh`, on every process at once
//! assert!(tokens.refresh(&refresh).await.is_err()); // reuse: the whole session is revoked
//! assert!(tokens.verify_access(&next.access).await.is_err());
//! # Ok(()) }
//! ```
//!
//! Or let the environment decide: [`RedisRevocationStore::from_env`] connects to
//! `KEYCARD_REDIS_URL` when it is set, and answers `None` (use the in-memory store) when not.
//!
//! # Semantics
//!
//! The same as [`InMemoryRevocationStore`](keycard_core::InMemoryRevocationStore), shared:
//!
//! - `spend` is one Lua script: revoked session or blacklisted token → `Revoked`; already
//!   spent → the session is revoked (and announced) in the same step → `Reused`; otherwise
//!   the token is marked spent → `Spent`. Of any number of concurrent spends of one token,
//!   on any number of processes, exactly one is `Spent`.
//! - Every key expires with its record (`PXAT` the token's `exp`, or the session's end, plus
//!   a [retention grace](RedisStoreConfig::retention_grace) covering the leeway), so nothing
//!   needs purging: [`purge_expired`](keycard_core::RevocationStore::purge_expired) answers
//!   `Ok(0)`. A record whose expiry plus grace has already passed is forgotten at once.
//! - Every call runs under a [timeout](RedisStoreConfig::timeout) (default 1 s); an
//!   unreachable, slow or restarting server is `StoreError::Unavailable`, which keycard
//!   answers with 503 `service_unavailable`. The connection is re-established by itself when
//!   the server returns.
//! - Needs Redis 7.0 or later (checked at connect).
//!
//! # Key layout
//!
//! Under a configurable [prefix](RedisStoreConfig::prefix) (default `keycard`); the `{…}`
//! part is the Redis Cluster hash tag, so the keys one script touches share a slot:
//!
//! | key | holds |
//! |---|---|
//! | `P:session:{S}` | session `S` is revoked |
//! | `P:token:{H}:J` | the state of token `J` (`o`, `s`, `b`), homed at its session `H` |
//! | `P:home:{J}` | the home `H` of token `J`'s record (the calls that know only `J` read it) |
//! | channel `P:revoked-sessions` | `<expiry ms>:<session>` for each revocation |
//! | channel `P:heartbeat:<instance>` | one store instance's heartbeats to itself |
//!
//! A token's record is homed at the session it was recorded with, so `spend` reads and
//! writes the token and its session in one slot. A token the store never recorded and
//! that is blacklisted before it is ever spent is homed at its own `jti`; a later spend of
//! it checks its session in a separate step (it is blacklisted, so the answer is `Revoked`
//! all the same). The key layout is Cluster-ready; the connection itself is to one server
//! (or a proxy): a Cluster client is not wired in yet.
//!
//! # Session checks cost no round trip
//!
//! [`is_session_revoked`](keycard_core::RevocationStore::is_session_revoked) runs on every
//! authenticated request. It answers from a local view of the revoked sessions, kept
//! current through pub/sub, with a staleness bound: **a session revoked on Redis, by any
//! process, more than [`max_staleness`](RedisStoreConfig::max_staleness) (default 1 s)
//! before a check, is seen as revoked by that check** — whatever happens to the
//! subscription. While the view cannot promise that (starting up, subscription down,
//! heartbeat late) a check either asks Redis directly or fails closed with
//! `StoreError::Unavailable`, as [`WhenViewStale`] says. The module doc of the view has the
//! argument; in short: each instance heartbeats to itself over its own subscription
//! connection, and Redis delivers one connection's messages in order.

mod config;
mod keys;
mod scripts;
mod store;
mod view;

pub use config::{RedisStoreConfig, WhenViewStale};
pub use store::{ConnectError, REDIS_URL_ENV, RedisRevocationStore};
