//! [`RedisRevocationStore`]: the [`RevocationStore`] on Redis.

use std::future::{Future, ready};
use std::sync::Arc;
use std::time::Duration;

use keycard_core::{BoxFuture, RevocationStore, SpendOutcome, StoreError, TokenRecord, TokenState};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{ErrorKind, RedisError};

use crate::config::{RedisStoreConfig, WhenViewStale};
use crate::keys::Keys;
use crate::scripts;
use crate::view::{Subscriber, View};

/// The environment variable naming the Redis server, read by
/// [`RedisRevocationStore::from_env`]: `redis://[:password@]host[:port][/db]`.
pub const REDIS_URL_ENV: &str = "KEYCARD_REDIS_URL";

/// 9999-12-31T23:59:59Z: later expiries are clamped here (Redis refuses overflowing ones,
/// and the scripts' numbers stay exact below 2^53 ms).
const MAX_EXPIRY_SECS: u64 = 253_402_300_799;

/// Why a [`RedisRevocationStore`] could not be set up.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The settings or the URL are wrong.
    #[error("invalid Redis store settings: {0}")]
    InvalidConfig(String),
    /// The server did not answer within the timeout.
    #[error("Redis unavailable: {0}")]
    Unavailable(String),
    /// The server answered but cannot serve keycard (it needs Redis 7.0 or later).
    #[error("unsuitable Redis server: {0}")]
    Unsupported(String),
}

/// The [`RevocationStore`] on Redis: refresh rotation, reuse detection, blacklisting and
/// session revocation shared by every process of an application. See the
/// [crate documentation](crate) for the key layout, the local view and its staleness bound.
///
/// Cheap to clone: clones share one connection and one local view. Dropping the last clone
/// stops the background subscription.
#[derive(Clone)]
pub struct RedisRevocationStore {
    inner: Arc<Inner>,
}

struct Inner {
    conn: ConnectionManager,
    keys: Keys,
    config: RedisStoreConfig,
    view: Arc<View>,
    /// `None` when the local view is off.
    subscriber: Option<AbortOnDrop>,
}

/// Stops the subscriber task with the store.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl std::fmt::Debug for RedisRevocationStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisRevocationStore")
            .field("prefix", &self.inner.config.prefix)
            .field("view_fresh", &self.inner.view.is_fresh())
            .field("view_sessions", &self.inner.view.len())
            .field(
                "subscriber_running",
                &self
                    .inner
                    .subscriber
                    .as_ref()
                    .is_some_and(|t| !t.0.is_finished()),
            )
            .finish_non_exhaustive()
    }
}

impl RedisRevocationStore {
    /// Connects with the default [`RedisStoreConfig`]. See
    /// [`connect_with`](Self::connect_with).
    pub async fn connect(url: &str) -> Result<Self, ConnectError> {
        Self::connect_with(url, RedisStoreConfig::new()).await
    }

    /// Connects to the Redis server at `url` (`redis://[:password@]host[:port][/db]`, or
    /// `redis+unix:///path`), checks it is Redis 7.0 or later, and starts the task that keeps
    /// the local view of revoked sessions current (it must be called inside a tokio runtime).
    ///
    /// Fails when the server does not answer within the timeout: start Redis first. Once
    /// connected, the store reconnects by itself whenever the server goes away and returns.
    /// Waits up to the timeout for the local view's first sync; until it comes, session
    /// checks follow [`WhenViewStale`].
    pub async fn connect_with(url: &str, config: RedisStoreConfig) -> Result<Self, ConnectError> {
        config.validate()?;
        // The URL may carry a password: never echo it.
        let client = redis::Client::open(url).map_err(|e| {
            ConnectError::InvalidConfig(format!("the Redis URL is invalid ({:?})", e.kind()))
        })?;
        let timeout = config.timeout;
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(timeout)
            .set_response_timeout(timeout)
            // Each call has its own timeout; reconnection is retried briefly, then again on
            // the next call, so a returning server is found within a call or two.
            .set_number_of_retries(2)
            .set_factor(10)
            .set_max_delay(200);
        let mut conn = tokio::time::timeout(
            timeout,
            client.get_connection_manager_with_config(manager_config),
        )
        .await
        .map_err(|_| ConnectError::Unavailable(format!("no answer within {timeout:?}")))?
        .map_err(|e| ConnectError::Unavailable(e.to_string()))?;
        let mut probe = redis::cmd("PEXPIRETIME");
        probe.arg(format!("{}:probe", config.prefix));
        match tokio::time::timeout(timeout, probe.query_async::<i64>(&mut conn)).await {
            Err(_) => {
                return Err(ConnectError::Unavailable(format!(
                    "no answer within {timeout:?}"
                )));
            }
            Ok(Err(e)) if e.kind() == ErrorKind::ResponseError => {
                return Err(ConnectError::Unsupported(format!(
                    "keycard needs Redis 7.0 or later ({e})"
                )));
            }
            Ok(Err(e)) => return Err(ConnectError::Unavailable(e.to_string())),
            Ok(Ok(_)) => {}
        }

        let keys = Keys::new(&config.prefix);
        let view = Arc::new(View::new(config.max_staleness));
        let subscriber = config.local_view.then(|| {
            let subscriber = Subscriber {
                view: view.clone(),
                client,
                conn: conn.clone(),
                keys: keys.clone(),
                instance: rand_instance_id(),
                timeout,
                heartbeat_interval: config.heartbeat_interval,
            };
            AbortOnDrop(tokio::spawn(subscriber.run()))
        });
        let store = Self {
            inner: Arc::new(Inner {
                conn,
                keys,
                config,
                view,
                subscriber,
            }),
        };
        if store.inner.subscriber.is_some() {
            store.wait_for_fresh_view(timeout).await;
        }
        Ok(store)
    }

    /// Connects to the server named by `KEYCARD_REDIS_URL`, with the defaults overridden by
    /// the environment ([`RedisStoreConfig::with_env`]); `Ok(None)` when the variable is unset
    /// or empty, so an application can fall back to the in-memory store:
    ///
    /// ```no_run
    /// use std::sync::Arc;
    /// use keycard_core::{InMemoryRevocationStore, RevocationStore};
    /// use keycard_redis::RedisRevocationStore;
    ///
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let store: Arc<dyn RevocationStore> = match RedisRevocationStore::from_env().await? {
    ///     Some(redis) => Arc::new(redis),
    ///     None => Arc::new(InMemoryRevocationStore::new()),
    /// };
    /// # Ok(()) }
    /// ```
    pub async fn from_env() -> Result<Option<Self>, ConnectError> {
        let url = match std::env::var(REDIS_URL_ENV) {
            Ok(u) if !u.trim().is_empty() => u,
            _ => return Ok(None),
        };
        let config = RedisStoreConfig::new().with_env()?;
        Self::connect_with(url.trim(), config).await.map(Some)
    }

    /// The store's settings.
    pub fn config(&self) -> &RedisStoreConfig {
        &self.inner.config
    }

    /// Whether the local view of revoked sessions is fresh (within the staleness bound), so
    /// that session checks cost no round trip. For health checks and metrics. Always
    /// `false` with the [local view](RedisStoreConfig::local_view) off.
    pub fn view_is_fresh(&self) -> bool {
        self.inner.view.is_fresh()
    }

    /// Waits until the local view is fresh, at most `within`; returns whether it is.
    pub async fn wait_for_fresh_view(&self, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        while !self.inner.view.is_fresh() {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        true
    }

    /// The absolute expiry, in unix milliseconds, of a record that may be forgotten after
    /// `at` (unix seconds): `at` plus the grace, clamped.
    fn expiry_ms(&self, at: u64) -> u64 {
        let grace = self.inner.config.retention_grace.as_millis() as u64;
        at.min(MAX_EXPIRY_SECS)
            .saturating_mul(1000)
            .saturating_add(grace)
            .min(MAX_EXPIRY_SECS * 1000)
    }

    fn conn(&self) -> ConnectionManager {
        self.inner.conn.clone()
    }

    /// Runs one store call under the timeout.
    async fn call<T>(
        &self,
        f: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, StoreError> {
        let t = self.inner.config.timeout;
        match tokio::time::timeout(t, f).await {
            Ok(r) => r.map_err(store_error),
            Err(_) => Err(StoreError::Unavailable(format!(
                "Redis did not answer within {t:?}"
            ))),
        }
    }

    /// Where `jti`'s record lives: the home already recorded, else `preferred` (recorded now,
    /// to live until `expiry_ms` at least).
    async fn home(
        &self,
        conn: &mut ConnectionManager,
        jti: &str,
        preferred: &str,
        expiry_ms: u64,
    ) -> redis::RedisResult<String> {
        scripts::HOME
            .key(self.inner.keys.home(jti))
            .arg(preferred)
            .arg(expiry_ms)
            .invoke_async(conn)
            .await
    }

    async fn revoke(
        &self,
        conn: &mut ConnectionManager,
        session: &str,
        until: u64,
    ) -> redis::RedisResult<()> {
        let keys = &self.inner.keys;
        let expiry: u64 = scripts::REVOKE
            .key(keys.session(session))
            .arg(until)
            .arg(self.expiry_ms(until))
            .arg(keys.revocations_channel())
            .arg(session)
            .invoke_async(conn)
            .await?;
        self.inner.view.insert(session, expiry);
        Ok(())
    }

    async fn spend_inner(
        &self,
        jti: &str,
        session: Option<&str>,
        expires_at: u64,
        session_until: u64,
    ) -> redis::RedisResult<SpendOutcome> {
        let keys = &self.inner.keys;
        let mut conn = self.conn();
        let token_expiry = self.expiry_ms(expires_at);
        let home = self
            .home(&mut conn, jti, session.unwrap_or(jti), token_expiry)
            .await?;
        let mut spend = scripts::SPEND.key(keys.token(&home, jti));
        spend.arg(token_expiry);
        let atomic_session = session.filter(|s| *s == home);
        if let Some(s) = atomic_session {
            spend
                .key(keys.session(s))
                .arg(session_until)
                .arg(self.expiry_ms(session_until));
            spend.arg(keys.revocations_channel()).arg(s);
        } else if let Some(s) = session {
            // The token was first seen without its session (blacklisted before it was ever
            // recorded), so its record and its session live in different slots: check and
            // revoke the session in separate steps. Only tokens the store never recorded
            // take this path.
            let revoked: bool = redis::cmd("EXISTS")
                .arg(keys.session(s))
                .query_async(&mut conn)
                .await?;
            if revoked {
                return Ok(SpendOutcome::Revoked);
            }
        }
        let reply: Vec<u64> = spend.invoke_async(&mut conn).await?;
        let outcome = match reply.first() {
            Some(0) => SpendOutcome::Spent,
            Some(1) => SpendOutcome::Reused,
            Some(2) => SpendOutcome::Revoked,
            _ => {
                return Err(RedisError::from((
                    ErrorKind::TypeError,
                    "unexpected reply from the spend script",
                )));
            }
        };
        if outcome == SpendOutcome::Reused {
            match (atomic_session, session, reply.get(1)) {
                (Some(s), _, Some(&expiry)) => self.inner.view.insert(s, expiry),
                (None, Some(s), _) => self.revoke(&mut conn, s, session_until).await?,
                _ => {}
            }
        }
        Ok(outcome)
    }

    /// `is_session_revoked` when the view cannot answer.
    async fn lookup_session(&self, session: &str) -> Result<bool, StoreError> {
        let mut conn = self.conn();
        let key = self.inner.keys.session(session);
        let expiry: i64 = self
            .call(
                redis::cmd("PEXPIRETIME")
                    .arg(key)
                    .query_async::<i64>(&mut conn),
            )
            .await?;
        match expiry {
            -2 => Ok(false),
            -1 => Ok(true),
            e => {
                self.inner.view.insert(session, e as u64);
                Ok(true)
            }
        }
    }
}

impl RevocationStore for RedisRevocationStore {
    fn record_issued<'a>(
        &'a self,
        record: &'a TokenRecord,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.call(async move {
            let mut conn = self.conn();
            let expiry = self.expiry_ms(record.expires_at);
            let home = self
                .home(&mut conn, &record.jti, &record.session, expiry)
                .await?;
            let _: i64 = scripts::RECORD
                .key(self.inner.keys.token(&home, &record.jti))
                .arg(expiry)
                .invoke_async(&mut conn)
                .await?;
            Ok(())
        }))
    }

    fn spend<'a>(
        &'a self,
        jti: &'a str,
        session: Option<&'a str>,
        expires_at: u64,
        session_until: u64,
    ) -> BoxFuture<'a, Result<SpendOutcome, StoreError>> {
        Box::pin(self.call(self.spend_inner(jti, session, expires_at, session_until)))
    }

    fn blacklist<'a>(
        &'a self,
        jti: &'a str,
        expires_at: u64,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(self.call(async move {
            let mut conn = self.conn();
            let expiry = self.expiry_ms(expires_at);
            let home = self.home(&mut conn, jti, jti, expiry).await?;
            let fresh: i64 = scripts::BLACKLIST
                .key(self.inner.keys.token(&home, jti))
                .arg(expiry)
                .invoke_async(&mut conn)
                .await?;
            Ok(fresh == 1)
        }))
    }

    fn revoke_session<'a>(
        &'a self,
        session: &'a str,
        until: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.call(async move {
            let mut conn = self.conn();
            self.revoke(&mut conn, session, until).await
        }))
    }

    fn is_session_revoked<'a>(
        &'a self,
        session: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        let view = &self.inner.view;
        // Freshness first, then the map: a heartbeat seen fresh here was processed after
        // every revocation it vouches for, so the map read next holds them all. (The other
        // order could pair an old map with a newer heartbeat.)
        let fresh = view.is_fresh();
        // A revocation only ends by expiring, so a revoked session in the view is an answer
        // even when the view is stale.
        if view.contains(session) {
            return Box::pin(ready(Ok(true)));
        }
        if fresh {
            return Box::pin(ready(Ok(false)));
        }
        match self.inner.config.when_view_stale {
            WhenViewStale::FailClosed if self.inner.subscriber.is_some() => {
                Box::pin(ready(Err(StoreError::Unavailable(
                    "the local view of revoked sessions is stale (Redis subscription down)".into(),
                ))))
            }
            _ => Box::pin(self.lookup_session(session)),
        }
    }

    fn token_state<'a>(
        &'a self,
        jti: &'a str,
    ) -> BoxFuture<'a, Result<Option<TokenState>, StoreError>> {
        Box::pin(self.call(async move {
            let mut conn = self.conn();
            let keys = &self.inner.keys;
            let home: Option<String> = redis::cmd("GET")
                .arg(keys.home(jti))
                .query_async(&mut conn)
                .await?;
            let Some(home) = home else { return Ok(None) };
            let state: Option<String> = redis::cmd("GET")
                .arg(keys.token(&home, jti))
                .query_async(&mut conn)
                .await?;
            Ok(match state.as_deref() {
                Some("o") => Some(TokenState::Outstanding),
                Some("s") => Some(TokenState::Spent),
                Some("b") => Some(TokenState::Blacklisted),
                _ => None,
            })
        }))
    }

    /// Always `Ok(0)`: every key carries its own expiry and Redis forgets it by itself.
    fn purge_expired(&self, _now: u64) -> BoxFuture<'_, Result<usize, StoreError>> {
        Box::pin(ready(Ok(0)))
    }
}

/// Unreachable, timed out, loading, failing over: `Unavailable` (503, retry later).
/// Anything else the server says is `Backend`.
fn store_error(e: RedisError) -> StoreError {
    let unavailable = e.is_io_error()
        || e.is_unrecoverable_error()
        || e.is_cluster_error()
        || matches!(
            e.kind(),
            ErrorKind::BusyLoadingError | ErrorKind::MasterDown | ErrorKind::ReadOnly
        );
    if unavailable {
        StoreError::Unavailable(e.to_string())
    } else {
        StoreError::Backend(e.to_string())
    }
}

/// A random id naming this instance's heartbeat channel.
fn rand_instance_id() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    // RandomState is seeded from the OS per process and per instance: enough to tell the
    // instances sharing one Redis apart.
    RandomState::new().hash_one((std::process::id(), std::time::SystemTime::now()))
}
