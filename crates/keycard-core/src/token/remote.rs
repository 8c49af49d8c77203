//! Keys from another service: a JWKS URL, or an OpenID Connect issuer's discovery document
//! (feature `remote-keys`).
//!
//! The life of a remote key set:
//!
//! - **Cache.** The last good set serves every request, read lock-free; a fetch replaces it
//!   whole, only when it succeeded and holds at least one usable key — a refresh never leaves
//!   a moment with no keys.
//! - **TTL** (default 10 minutes). A request that finds the set older than this starts a
//!   refresh in the background and goes on with the set it has.
//! - **Unknown `kid`.** A token naming a key the set lacks starts a refetch and waits for it,
//!   then is verified once more. At most one fetch starts per **cool-down** window (default
//!   30 s), however many requests arrive; a fetch in flight is shared (single flight). Tokens
//!   naming keys the set has never wait.
//! - **Failures.** A fetch that fails (timeout, default 5 s; HTTP error; a body that is not a
//!   JWKS; no usable key) logs one error line and keeps the last good set, for at most
//!   **max stale** (default 24 hours) after its fetch; past that, or before any fetch
//!   succeeded, requests are answered 503 (`AuthError::ServiceUnavailable`) — fail closed.
//! - **Transport.** reqwest over rustls; HTTPS only, except for loopback hosts (`localhost`,
//!   `127.0.0.0/8`, `[::1]`), redirects included; bodies over 1 MiB are refused.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use reqwest::Url;
use serde_json::Value;
use tokio::sync::watch;

use super::jwks::parse_jwks;
use super::keys::{Algorithm, KeySet};
use super::source::{KeySource, lock};
use crate::error::AuthError;
use crate::settings::ConfigError;

/// The largest JWKS or discovery document read.
const MAX_DOCUMENT: usize = 1024 * 1024;
const LOG_TARGET: &str = "keycard::keys";

/// Why fetching remote keys failed. Every message names the URL (without its query string or
/// credentials); remote values are quoted with `{:?}`, so a hostile server cannot forge log
/// lines.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeySourceError {
    /// The request did not complete: refused, reset, DNS, TLS, or the timeout.
    #[error("fetching {url} failed: {problem}")]
    Fetch {
        /// The URL.
        url: String,
        /// What went wrong.
        problem: String,
    },
    /// An HTTP status other than 2xx (redirects to non-HTTPS hosts are not followed).
    #[error("{url} answered HTTP {status}; expected {expected}")]
    Status {
        /// The URL.
        url: String,
        /// The status code.
        status: u16,
        /// What was expected there.
        expected: &'static str,
    },
    /// A body that is not a JWKS.
    #[error("{url}: expected a JWKS (a JSON object with a \"keys\" array), got {got}")]
    NotAJwks {
        /// The URL.
        url: String,
        /// What came instead.
        got: &'static str,
    },
    /// A JWKS without a single usable key (the last good set is kept).
    #[error("the JWKS at {url} has no usable key: {skipped}")]
    NoUsableKeys {
        /// The URL.
        url: String,
        /// The entries skipped, and why.
        skipped: String,
    },
    /// A discovery document that is not one, or without a usable `jwks_uri`.
    #[error("{url}: expected an OpenID configuration with an issuer and a jwks_uri: {problem}")]
    Discovery {
        /// The discovery URL.
        url: String,
        /// What is wrong.
        problem: String,
    },
    /// The discovered `issuer` is not the configured one (OpenID Connect Discovery §4.3).
    #[error(
        "the OpenID configuration at {url} is for issuer {found:?}, not the configured {expected:?}"
    )]
    IssuerMismatch {
        /// The discovery URL.
        url: String,
        /// The configured issuer.
        expected: String,
        /// The issuer the document names.
        found: String,
    },
    /// No tokio runtime to run the fetch on.
    #[error("remote keys need a tokio runtime to fetch {url}")]
    NoRuntime {
        /// The URL.
        url: String,
    },
}

#[derive(Debug, Clone)]
enum Location {
    Jwks(Url),
    Discovery { issuer: String, url: Url },
}

impl Location {
    fn url(&self) -> &Url {
        match self {
            Self::Jwks(u) | Self::Discovery { url: u, .. } => u,
        }
    }
}

/// Builds [`RemoteKeys`]; every setting has a default.
#[derive(Debug, Clone)]
#[must_use]
pub struct RemoteKeysBuilder {
    location: Result<Location, ConfigError>,
    ttl: Duration,
    cool_down: Duration,
    timeout: Duration,
    max_stale: Duration,
    algorithms: Vec<Algorithm>,
}

/// Keys fetched from another service: its JWKS URL, or found through OpenID Connect
/// discovery from its issuer URL. Cheap to clone; clones share the cache. Use it as the
/// settings' key source:
///
/// ```no_run
/// use keycard_core::{Settings, token::RemoteKeys};
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let keys = RemoteKeys::oidc_issuer("https://sso.example.com/realms/main").build()?;
/// keys.refresh().await?; // optional: fail at start-up rather than on the first request
/// let settings = Settings::builder()
///     .key_source(keys.source())
///     .issuer("https://sso.example.com/realms/main")
///     .build()?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RemoteKeys(Arc<Inner>);

impl fmt::Debug for RemoteKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteKeys")
            .field("url", &redacted(self.0.location.url()))
            .field("keys", &self.0.current.load().len())
            .finish_non_exhaustive()
    }
}

/// The shared state of a remote source (read by [`KeySource`] on every verification).
pub(crate) struct Inner {
    location: Location,
    client: reqwest::Client,
    algorithms: Vec<Algorithm>,
    ttl: Duration,
    cool_down: Duration,
    max_stale: Duration,
    pub(crate) current: ArcSwap<KeySet>,
    /// When `fetched` counts from.
    epoch: Instant,
    /// Milliseconds from `epoch` to the last successful fetch, plus one; 0 before the first.
    fetched: AtomicU64,
    /// Bumped by every successful fetch: a request that saw an older one retries.
    generation: AtomicU64,
    state: Mutex<State>,
}

type Outcome = Option<Result<usize, KeySourceError>>;

#[derive(Default)]
struct State {
    /// When the last fetch started (the cool-down counts from it).
    last_attempt: Option<Instant>,
    /// The fetch in flight, to wait on.
    in_flight: Option<watch::Receiver<Outcome>>,
    /// The `jwks_uri` found by discovery; cleared when fetching it fails.
    jwks_uri: Option<Url>,
}

impl RemoteKeys {
    /// Keys from a JWKS URL (simplejwt's `JWK_URL`).
    pub fn jwks_url(url: &str) -> RemoteKeysBuilder {
        RemoteKeysBuilder::new(parse_url(url, "jwks_url").map(Location::Jwks))
    }

    /// Keys found through OpenID Connect discovery: `{issuer}/.well-known/openid-configuration`
    /// (a trailing slash on the issuer is dropped first, so an issuer with a path keeps it),
    /// whose `issuer` must be the configured one and whose `jwks_uri` is then fetched.
    pub fn oidc_issuer(issuer: &str) -> RemoteKeysBuilder {
        let discovery = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        RemoteKeysBuilder::new(parse_url(&discovery, "oidc_issuer").map(|url| {
            Location::Discovery {
                issuer: issuer.to_owned(),
                url,
            }
        }))
    }

    /// The key source for [`SettingsBuilder::key_source`](crate::SettingsBuilder::key_source).
    pub fn source(&self) -> KeySource {
        KeySource::remote(self.0.clone())
    }

    /// The keys in use (empty before the first successful fetch).
    pub fn current(&self) -> Arc<KeySet> {
        self.0.current.load_full()
    }

    /// Fetches now, cool-down or not (a fetch in flight is joined instead), and waits for
    /// it: at start-up, to fail early; returns how many usable keys the set holds.
    pub async fn refresh(&self) -> Result<usize, KeySourceError> {
        match self.0.start_fetch(true) {
            Some(mut rx) => match rx.wait_for(Option::is_some).await {
                Ok(outcome) => outcome.clone().unwrap_or(Ok(0)),
                Err(_) => Err(self.0.fetch_error("the fetch was cancelled")),
            },
            None => Err(KeySourceError::NoRuntime {
                url: redacted(self.0.location.url()),
            }),
        }
    }
}

impl From<RemoteKeys> for KeySource {
    fn from(keys: RemoteKeys) -> Self {
        keys.source()
    }
}

impl From<&RemoteKeys> for KeySource {
    fn from(keys: &RemoteKeys) -> Self {
        keys.source()
    }
}

impl RemoteKeysBuilder {
    fn new(location: Result<Location, ConfigError>) -> Self {
        Self {
            location,
            ttl: Duration::from_secs(600),
            cool_down: Duration::from_secs(30),
            timeout: Duration::from_secs(5),
            max_stale: Duration::from_secs(24 * 3600),
            algorithms: vec![
                Algorithm::RS256,
                Algorithm::ES256,
                Algorithm::ES384,
                Algorithm::EdDSA,
            ],
        }
    }

    /// How long a fetched set is used before a background refresh (default 10 minutes).
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }
    /// The least time between two fetches, however many unknown `kid`s arrive (default 30 s).
    pub fn cool_down(mut self, cool_down: Duration) -> Self {
        self.cool_down = cool_down;
        self
    }
    /// The longest a fetch may take, connection included (default 5 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
    /// How long the last good set is used while fetches fail, counted from its fetch (default
    /// 24 hours); then requests get 503 until a fetch succeeds.
    pub fn max_stale(mut self, max_stale: Duration) -> Self {
        self.max_stale = max_stale;
        self
    }
    /// The algorithms remote keys may be pinned to (default RS256, ES256, ES384, EdDSA). A
    /// JWK without `alg` takes the first that fits it; HMAC algorithms are refused.
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = algorithms.into_iter().collect();
        self
    }

    /// Checks the settings and makes the (still empty) source; nothing is fetched yet.
    pub fn build(self) -> Result<RemoteKeys, ConfigError> {
        let location = self.location?;
        if self.algorithms.is_empty()
            || self
                .algorithms
                .iter()
                .any(|a| a.family() == jsonwebtoken::AlgorithmFamily::Hmac)
        {
            return Err(ConfigError::Invalid {
                name: "algorithms",
                problem: "remote keys need at least one algorithm, and never an HMAC one (HS256/384/512)",
            });
        }
        for (name, d) in [
            ("ttl", self.ttl),
            ("cool_down", self.cool_down),
            ("timeout", self.timeout),
            ("max_stale", self.max_stale),
        ] {
            if d.is_zero() {
                return Err(ConfigError::Invalid {
                    name,
                    problem: "must be longer than zero",
                });
            }
        }
        if self.max_stale < self.ttl {
            return Err(ConfigError::Invalid {
                name: "max_stale",
                problem: "must be at least the ttl, or every set would expire before its refresh",
            });
        }
        crate::crypto::ensure_provider();
        let client = reqwest::Client::builder()
            .timeout(self.timeout)
            .connect_timeout(self.timeout)
            // Fetches are minutes apart and may come from different runtimes (one per actix
            // worker): a pooled connection would outlive the runtime that drives it.
            .pool_max_idle_per_host(0)
            .redirect(reqwest::redirect::Policy::custom(|attempt| {
                if attempt.previous().len() >= 3 || !secure_or_loopback(attempt.url()) {
                    attempt.stop()
                } else {
                    attempt.follow()
                }
            }))
            .user_agent(concat!("keycard/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|_| ConfigError::Invalid {
                name: "remote keys",
                problem: "the HTTP client cannot start (TLS back end unavailable)",
            })?;
        Ok(RemoteKeys(Arc::new(Inner {
            location,
            client,
            algorithms: self.algorithms,
            ttl: self.ttl,
            cool_down: self.cool_down,
            max_stale: self.max_stale,
            current: ArcSwap::from_pointee(KeySet::verify_only([])?),
            epoch: Instant::now(),
            fetched: AtomicU64::new(0),
            generation: AtomicU64::new(0),
            state: Mutex::new(State::default()),
        })))
    }
}

fn parse_url(url: &str, name: &'static str) -> Result<Url, ConfigError> {
    let parsed = Url::parse(url).map_err(|_| ConfigError::Invalid {
        name,
        problem: "not a URL",
    })?;
    if !secure_or_loopback(&parsed) {
        return Err(ConfigError::Invalid {
            name,
            problem: "keys must come over https (plain http only from localhost, 127.0.0.0/8 or [::1])",
        });
    }
    Ok(parsed)
}

/// HTTPS, or plain HTTP to this machine only.
fn secure_or_loopback(url: &Url) -> bool {
    match url.scheme() {
        "https" => true,
        "http" => url.host_str().is_some_and(|h| {
            h.eq_ignore_ascii_case("localhost")
                || h.trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }),
        _ => false,
    }
}

/// The URL without credentials or query string, for errors and logs.
fn redacted(url: &Url) -> String {
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.set_query(None);
    u.set_fragment(None);
    u.to_string()
}

impl Inner {
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    fn age(&self, now: Instant) -> Option<Duration> {
        match self.fetched.load(Ordering::Acquire) {
            0 => None,
            ms => {
                let at = self.epoch + Duration::from_millis(ms - 1);
                Some(now.saturating_duration_since(at))
            }
        }
    }

    /// Before a verification: keys usable (a refresh started in the background when they
    /// are older than the TTL), or a fetch waited for, or 503.
    pub(crate) async fn ready(self: &Arc<Self>) -> Result<(), AuthError> {
        let now = Instant::now();
        match self.age(now) {
            Some(age) if age <= self.max_stale => {
                if age >= self.ttl {
                    self.start_fetch(false);
                }
                return Ok(());
            }
            _ => {}
        }
        if let Some(mut rx) = self.start_fetch(false) {
            let _ = rx.wait_for(Option::is_some).await;
        }
        match self.age(Instant::now()) {
            Some(age) if age <= self.max_stale => Ok(()),
            _ => Err(AuthError::ServiceUnavailable),
        }
    }

    /// A token named a key the set (as of `seen`) lacks: joins or starts a fetch unless the
    /// cool-down forbids it; `true` when the set changed since, so the token is worth
    /// verifying once more.
    pub(crate) async fn after_unknown_key(self: &Arc<Self>, seen: u64) -> bool {
        if self.generation() == seen
            && let Some(mut rx) = self.start_fetch(false)
        {
            let _ = rx.wait_for(Option::is_some).await;
        }
        self.generation() != seen
    }

    /// The fetch in flight, or a new one (spawned, so that no request's cancellation stops
    /// it); `None` when the cool-down forbids a new one or there is no runtime.
    fn start_fetch(self: &Arc<Self>, force: bool) -> Option<watch::Receiver<Outcome>> {
        let mut st = lock(&self.state);
        // Join the fetch in flight, unless it has already answered (its task is ending).
        if let Some(rx) = &st.in_flight
            && rx.borrow().is_none()
        {
            return Some(rx.clone());
        }
        let now = Instant::now();
        if !force
            && st
                .last_attempt
                .is_some_and(|t| now.saturating_duration_since(t) < self.cool_down)
        {
            return None;
        }
        // Set first, so that even the error below is logged at most once per cool-down.
        st.last_attempt = Some(now);
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::error!(target: LOG_TARGET, "{}", KeySourceError::NoRuntime { url: redacted(self.location.url()) });
            return None;
        };
        let (tx, rx) = watch::channel(None);
        st.in_flight = Some(rx.clone());
        drop(st);
        let me = self.clone();
        runtime.spawn(async move {
            // Clears `in_flight` however the task ends (a runtime shutting down drops it).
            let done = InFlight(&me);
            let outcome = me.fetch_and_store().await;
            // Cleared before the waiters wake, so that the next fetch one of them asks for
            // starts anew instead of joining this one.
            drop(done);
            let _ = tx.send(Some(outcome));
        });
        Some(rx)
    }

    async fn fetch_and_store(&self) -> Result<usize, KeySourceError> {
        match self.fetch().await {
            Ok(set) => {
                let n = set.len();
                self.current.store(Arc::new(set));
                // Millisecond resolution is plenty for ages counted in minutes; +1 keeps 0
                // meaning "never".
                let ms = self
                    .epoch
                    .elapsed()
                    .as_millis()
                    .min(u128::from(u64::MAX - 1)) as u64;
                self.fetched.store(ms + 1, Ordering::Release);
                self.generation.fetch_add(1, Ordering::AcqRel);
                tracing::debug!(target: LOG_TARGET, keys = n, "remote keys fetched");
                Ok(n)
            }
            Err(e) => {
                // One line per failed fetch; the cool-down bounds how often that can be.
                tracing::error!(target: LOG_TARGET, "{e}; keeping the last good keys");
                Err(e)
            }
        }
    }

    fn fetch_error(&self, problem: &str) -> KeySourceError {
        KeySourceError::Fetch {
            url: redacted(self.location.url()),
            problem: problem.to_owned(),
        }
    }

    async fn fetch(&self) -> Result<KeySet, KeySourceError> {
        let url = match &self.location {
            Location::Jwks(url) => url.clone(),
            Location::Discovery { issuer, url } => {
                let known = lock(&self.state).jwks_uri.clone();
                match known {
                    Some(u) => u,
                    None => {
                        let found = self.discover(issuer, url).await?;
                        lock(&self.state).jwks_uri = Some(found.clone());
                        found
                    }
                }
            }
        };
        let result = self.fetch_jwks(&url).await;
        if result.is_err() {
            // The issuer may have moved its keys: discover again next time.
            lock(&self.state).jwks_uri = None;
        }
        result
    }

    async fn fetch_jwks(&self, url: &Url) -> Result<KeySet, KeySourceError> {
        let body = self.get(url, "a JWKS").await?;
        let parsed = parse_jwks(&body, &self.algorithms).map_err(|e| KeySourceError::NotAJwks {
            url: redacted(url),
            got: e.0,
        })?;
        for s in &parsed.skipped {
            tracing::debug!(target: LOG_TARGET, kid = ?s.kid, reason = s.reason, "JWKS entry skipped");
        }
        if parsed.keys.is_empty() {
            let skipped = if parsed.skipped.is_empty() {
                "the keys array is empty".to_owned()
            } else {
                parsed
                    .skipped
                    .iter()
                    .map(|s| format!("{:?}: {}", s.kid.as_deref().unwrap_or("(no kid)"), s.reason))
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            return Err(KeySourceError::NoUsableKeys {
                url: redacted(url),
                skipped,
            });
        }
        // `parse_jwks` already refused repeated kids.
        KeySet::verify_only(parsed.keys).map_err(|_| KeySourceError::NotAJwks {
            url: redacted(url),
            got: "keys sharing a kid",
        })
    }

    async fn discover(&self, issuer: &str, url: &Url) -> Result<Url, KeySourceError> {
        let body = self.get(url, "an OpenID configuration").await?;
        let problem = |p: &str| KeySourceError::Discovery {
            url: redacted(url),
            problem: p.to_owned(),
        };
        let doc: Value = serde_json::from_slice(&body).map_err(|_| problem("not JSON"))?;
        let found = match doc.get("issuer") {
            Some(Value::String(s)) => s,
            _ => return Err(problem("no issuer string")),
        };
        // Equal up to a trailing slash, which issuers write both ways (Auth0 with, Keycloak
        // without); tokens' `iss` is still checked exactly against the settings' issuer.
        if found.trim_end_matches('/') != issuer.trim_end_matches('/') {
            return Err(KeySourceError::IssuerMismatch {
                url: redacted(url),
                expected: issuer.to_owned(),
                found: found.clone(),
            });
        }
        let jwks_uri = match doc.get("jwks_uri") {
            Some(Value::String(s)) => s,
            _ => return Err(problem("no jwks_uri string")),
        };
        let jwks_uri = Url::parse(jwks_uri).map_err(|_| problem("its jwks_uri is not a URL"))?;
        if !secure_or_loopback(&jwks_uri) {
            return Err(problem(
                "its jwks_uri is not https (plain http only on loopback)",
            ));
        }
        Ok(jwks_uri)
    }

    /// GETs `url` (at most `MAX_DOCUMENT` bytes, within the timeout).
    async fn get(&self, url: &Url, expected: &'static str) -> Result<Vec<u8>, KeySourceError> {
        let fail = |e: reqwest::Error| KeySourceError::Fetch {
            url: redacted(url),
            problem: if e.is_timeout() {
                "timed out".to_owned()
            } else if e.is_connect() {
                "could not connect".to_owned()
            } else {
                e.without_url().to_string()
            },
        };
        let mut res = self
            .client
            .get(url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(fail)?;
        if !res.status().is_success() {
            return Err(KeySourceError::Status {
                url: redacted(url),
                status: res.status().as_u16(),
                expected,
            });
        }
        let mut body = Vec::new();
        while let Some(chunk) = res.chunk().await.map_err(fail)? {
            if body.len() + chunk.len() > MAX_DOCUMENT {
                return Err(KeySourceError::Fetch {
                    url: redacted(url),
                    problem: "the document is larger than 1 MiB".to_owned(),
                });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

struct InFlight<'a>(&'a Inner);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        lock(&self.0.state).in_flight = None;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failing test panics with the value
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback() {
        for ok in [
            "https://sso.example.com/jwks",
            "http://localhost:8080/jwks",
            "http://127.0.0.1/jwks",
            "http://127.9.9.9/jwks",
            "http://[::1]:9/jwks",
        ] {
            assert!(RemoteKeys::jwks_url(ok).build().is_ok(), "{ok}");
        }
        for bad in [
            "http://sso.example.com/jwks",
            "http://10.0.0.1/jwks",
            "ftp://localhost/jwks",
            "file:///etc/jwks",
            "not a url",
        ] {
            assert!(RemoteKeys::jwks_url(bad).build().is_err(), "{bad}");
        }
    }

    #[test]
    fn discovery_url_keeps_the_issuer_path_with_or_without_its_slash() {
        for issuer in ["https://host/realms/a", "https://host/realms/a/"] {
            let b = RemoteKeys::oidc_issuer(issuer);
            let Ok(Location::Discovery { url, .. }) = &b.location else {
                panic!("{issuer}")
            };
            assert_eq!(
                url.as_str(),
                "https://host/realms/a/.well-known/openid-configuration"
            );
        }
    }

    #[test]
    fn hmac_and_empty_allow_lists_and_zero_durations_are_refused() {
        let b = || RemoteKeys::jwks_url("https://h/jwks");
        assert!(b().algorithms([Algorithm::HS256]).build().is_err());
        assert!(b().algorithms([]).build().is_err());
        assert!(b().cool_down(Duration::ZERO).build().is_err());
        assert!(
            b().ttl(Duration::from_secs(100))
                .max_stale(Duration::from_secs(10))
                .build()
                .is_err()
        );
    }

    #[test]
    fn redacted_urls_lose_credentials_and_query() {
        let u = Url::parse("https://u:p@h/jwks?token=s#f").unwrap();
        assert_eq!(redacted(&u), "https://h/jwks");
    }
}
