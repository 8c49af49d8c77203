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
//! all the same). The tests run the whole store suite on a one-node Redis Cluster, which
//! refuses any script whose keys span slots. The connection itself is to one server (a
//! standalone Redis, a primary behind Sentinel's address, or a cluster-aware proxy): a
//! Redis Cluster client is not wired in yet.
//!
//! # Session checks cost no round trip
//!
//! [`is_session_revoked`](keycard_core::RevocationStore::is_session_revoked) runs on every
//! authenticated request. It answers from a local view of the revoked sessions, kept
//! current through pub/sub:
//!
//! - every revocation (logout, reuse, [`revoke_session`](keycard_core::RevocationStore::revoke_session))
//!   is written by a Lua script that, in the same atomic step, `PUBLISH`es the session on
//!   the prefix's revocations channel;
//! - each store instance runs one tokio task that `SUBSCRIBE`s to that channel and to a
//!   heartbeat channel of its own, rebuilds the view from a `SCAN` of the revoked-session
//!   keys (so nothing revoked while it was not listening is missed), then applies every
//!   message it receives;
//! - every [heartbeat interval](RedisStoreConfig::heartbeat_interval) (default 250 ms) it
//!   publishes, on its own heartbeat channel, the instant it sent the heartbeat.
//!
//! **The staleness bound.** Redis delivers one subscriber connection's messages in the order
//! it executed the `PUBLISH`es, so once the heartbeat sent at instant `t` has come back,
//! every revocation committed before `t` has been applied to the view. The view answers
//! "not revoked" only while the newest heartbeat that came back was sent less than
//! [`max_staleness`](RedisStoreConfig::max_staleness) ago (default 1 s). Hence: **once a
//! revocation call has returned, on any process, every check that starts
//! `max_staleness` later, on any process, answers "revoked" or fails with
//! `StoreError::Unavailable` — never "not revoked"**, whatever happens to the subscription
//! or the network. In practice a revocation reaches the other instances in well under a
//! millisecond on one host. (On Redis Cluster, where `PUBLISH` travels over the cluster
//! bus, add that bus's delay.)
//!
//! **When the view cannot answer** — starting up, subscription dropped, heartbeat late, or a
//! server that is down or frozen — a check either asks Redis directly (one round trip, the
//! default) or fails closed at once with `StoreError::Unavailable`, as [`WhenViewStale`]
//! says; keycard turns `Unavailable` into 503. A session the view knows to be revoked is
//! answered "revoked" in either mode. The task reconnects by itself (backoff 50 ms doubling
//! to 1 s), resyncs, and the view is fresh again at the first heartbeat after the resync.
//! The view can also be [switched off](RedisStoreConfig::local_view): every check then asks
//! Redis.
//!
//! The view holds one entry per revoked session until the revocation ends (the session's
//! longest token lifetime plus the grace); ended entries are never answered and are
//! dropped periodically.

mod config;
mod keys;
mod scripts;
mod store;
mod view;

pub use config::{RedisStoreConfig, WhenViewStale};
pub use store::{ConnectError, REDIS_URL_ENV, RedisRevocationStore};
