//! The store's settings.

use std::time::Duration;

/// What [`is_session_revoked`](keycard_core::RevocationStore::is_session_revoked) does while
/// the local view of revoked sessions cannot be trusted (the subscription is down, or its
/// heartbeat is late).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum WhenViewStale {
    /// Ask Redis directly (one `EXISTS` per check) until the view is back; when Redis cannot
    /// answer either, the check fails with `StoreError::Unavailable` (503). The default.
    #[default]
    DirectLookup,
    /// Fail every check that the view cannot answer with `StoreError::Unavailable` (503),
    /// without a round trip. A session the view already knows to be revoked is still
    /// answered `true`.
    FailClosed,
}

/// The settings of a [`RedisRevocationStore`](crate::RedisRevocationStore).
///
/// ```
/// use std::time::Duration;
/// use keycard_redis::{RedisStoreConfig, WhenViewStale};
///
/// let config = RedisStoreConfig::new()
///     .prefix("myapp:auth")
///     .timeout(Duration::from_millis(500))
///     .when_view_stale(WhenViewStale::FailClosed);
/// assert_eq!(config.get_prefix(), "myapp:auth");
/// assert_eq!(config.get_max_staleness(), Duration::from_secs(1));
/// ```
#[derive(Debug, Clone)]
pub struct RedisStoreConfig {
    pub(crate) prefix: String,
    pub(crate) timeout: Duration,
    pub(crate) retention_grace: Duration,
    pub(crate) heartbeat_interval: Duration,
    pub(crate) max_staleness: Duration,
    pub(crate) when_view_stale: WhenViewStale,
    pub(crate) local_view: bool,
}

impl Default for RedisStoreConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl RedisStoreConfig {
    /// The defaults: prefix `keycard`, a 1 s timeout, 300 s of retention grace, a heartbeat
    /// every 250 ms, a staleness bound of 1 s, and direct lookups while the view is stale.
    pub fn new() -> Self {
        Self {
            prefix: "keycard".to_owned(),
            timeout: Duration::from_secs(1),
            retention_grace: Duration::from_secs(300),
            heartbeat_interval: Duration::from_millis(250),
            max_staleness: Duration::from_secs(1),
            when_view_stale: WhenViewStale::DirectLookup,
            local_view: true,
        }
    }

    /// The prefix of every key and channel (default `keycard`). Give each application (or
    /// environment) sharing one Redis its own. Must be non-empty and hold no `{` or `}` (they
    /// would change the keys' hash slots).
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The longest any store call may take, connection attempts included (default 1 s);
    /// past it the call fails with `StoreError::Unavailable`, which keycard answers with 503.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How long past its expiry a record is kept (default 300 s, keycard's largest leeway).
    /// Keep it at least the settings' leeway: a token is still accepted that long after its
    /// `exp`, and its spent or blacklisted mark must outlive it.
    pub fn retention_grace(mut self, grace: Duration) -> Self {
        self.retention_grace = grace;
        self
    }

    /// How often the store checks that its subscription delivers (default 250 ms). Must be
    /// shorter than the staleness bound.
    pub fn heartbeat_interval(mut self, interval: Duration) -> Self {
        self.heartbeat_interval = interval;
        self
    }

    /// The staleness bound of the local view (default 1 s): a session revoked on Redis (by
    /// any process) more than this long ago is seen as revoked by every check. Past it
    /// without a heartbeat, checks follow [`when_view_stale`](Self::when_view_stale).
    pub fn max_staleness(mut self, bound: Duration) -> Self {
        self.max_staleness = bound;
        self
    }

    /// What session checks do while the local view is stale (default
    /// [`WhenViewStale::DirectLookup`]).
    pub fn when_view_stale(mut self, policy: WhenViewStale) -> Self {
        self.when_view_stale = policy;
        self
    }

    /// Whether to keep the local view of revoked sessions at all (default `true`). Without
    /// it no subscription is made and every session check asks Redis (one `PEXPIRETIME`
    /// round trip; staleness zero), whatever [`when_view_stale`](Self::when_view_stale) says:
    /// for servers or proxies without pub/sub.
    pub fn local_view(mut self, on: bool) -> Self {
        self.local_view = on;
        self
    }

    /// The key prefix.
    pub fn get_prefix(&self) -> &str {
        &self.prefix
    }
    /// The per-call timeout.
    pub fn get_timeout(&self) -> Duration {
        self.timeout
    }
    /// The retention grace.
    pub fn get_retention_grace(&self) -> Duration {
        self.retention_grace
    }
    /// The heartbeat interval.
    pub fn get_heartbeat_interval(&self) -> Duration {
        self.heartbeat_interval
    }
    /// The staleness bound.
    pub fn get_max_staleness(&self) -> Duration {
        self.max_staleness
    }
    /// The behaviour while the view is stale.
    pub fn get_when_view_stale(&self) -> WhenViewStale {
        self.when_view_stale
    }

    /// Whether the local view is kept.
    pub fn get_local_view(&self) -> bool {
        self.local_view
    }

    /// Reads the optional overrides from the environment, on top of `self`:
    ///
    /// | variable | setting | example |
    /// |---|---|---|
    /// | `KEYCARD_REDIS_PREFIX` | [`prefix`](Self::prefix) | `myapp` |
    /// | `KEYCARD_REDIS_TIMEOUT_MS` | [`timeout`](Self::timeout) | `500` |
    /// | `KEYCARD_REDIS_MAX_STALENESS_MS` | [`max_staleness`](Self::max_staleness) | `2000` |
    /// | `KEYCARD_REDIS_WHEN_STALE` | [`when_view_stale`](Self::when_view_stale) | `lookup` or `fail-closed` |
    pub fn with_env(self) -> Result<Self, crate::ConnectError> {
        self.with_lookup(|name| std::env::var(name).ok())
    }

    pub(crate) fn with_lookup(
        mut self,
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, crate::ConnectError> {
        let millis = |name: &str| -> Result<Option<Duration>, crate::ConnectError> {
            get(name)
                .map(|v| {
                    v.trim()
                        .parse::<u64>()
                        .map(Duration::from_millis)
                        .map_err(|_| {
                            crate::ConnectError::InvalidConfig(format!(
                                "{name} must be a number of milliseconds"
                            ))
                        })
                })
                .transpose()
        };
        if let Some(p) = get("KEYCARD_REDIS_PREFIX") {
            self.prefix = p;
        }
        if let Some(t) = millis("KEYCARD_REDIS_TIMEOUT_MS")? {
            self.timeout = t;
        }
        if let Some(t) = millis("KEYCARD_REDIS_MAX_STALENESS_MS")? {
            self.max_staleness = t;
            self.heartbeat_interval = self.heartbeat_interval.min(t / 4);
        }
        if let Some(w) = get("KEYCARD_REDIS_WHEN_STALE") {
            self.when_view_stale = match w.trim() {
                "lookup" | "direct" | "direct-lookup" => WhenViewStale::DirectLookup,
                "fail-closed" | "closed" => WhenViewStale::FailClosed,
                _ => {
                    return Err(crate::ConnectError::InvalidConfig(
                        "KEYCARD_REDIS_WHEN_STALE must be `lookup` or `fail-closed`".into(),
                    ));
                }
            };
        }
        Ok(self)
    }

    /// Checks the settings hold together.
    pub(crate) fn validate(&self) -> Result<(), crate::ConnectError> {
        let bad = |m: &str| Err(crate::ConnectError::InvalidConfig(m.to_owned()));
        if self.prefix.is_empty() || self.prefix.contains(['{', '}']) {
            return bad("the key prefix must be non-empty and hold no `{` or `}`");
        }
        if self.timeout.is_zero() {
            return bad("the timeout must be positive");
        }
        if self.heartbeat_interval.is_zero() || self.heartbeat_interval >= self.max_staleness {
            return bad(
                "the heartbeat interval must be positive and shorter than the staleness bound",
            );
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_overrides_the_defaults() {
        let env = |name: &str| match name {
            "KEYCARD_REDIS_PREFIX" => Some("app".to_owned()),
            "KEYCARD_REDIS_TIMEOUT_MS" => Some("250".to_owned()),
            "KEYCARD_REDIS_MAX_STALENESS_MS" => Some("400".to_owned()),
            "KEYCARD_REDIS_WHEN_STALE" => Some("fail-closed".to_owned()),
            _ => None,
        };
        let c = RedisStoreConfig::new().with_lookup(env).unwrap();
        assert_eq!(c.get_prefix(), "app");
        assert_eq!(c.get_timeout(), Duration::from_millis(250));
        assert_eq!(c.get_max_staleness(), Duration::from_millis(400));
        assert_eq!(c.get_heartbeat_interval(), Duration::from_millis(100));
        assert_eq!(c.get_when_view_stale(), WhenViewStale::FailClosed);
        c.validate().unwrap();
    }

    #[test]
    fn bad_settings_are_refused() {
        assert!(RedisStoreConfig::new().prefix("a{b").validate().is_err());
        assert!(RedisStoreConfig::new().prefix("").validate().is_err());
        assert!(
            RedisStoreConfig::new()
                .timeout(Duration::ZERO)
                .validate()
                .is_err()
        );
        assert!(
            RedisStoreConfig::new()
                .heartbeat_interval(Duration::from_secs(2))
                .validate()
                .is_err()
        );
        let env = |name: &str| (name == "KEYCARD_REDIS_TIMEOUT_MS").then(|| "soon".to_owned());
        assert!(RedisStoreConfig::new().with_lookup(env).is_err());
        RedisStoreConfig::new().validate().unwrap();
    }
}
