//! The local view of revoked sessions, and the task that keeps it current.
//!
//! How it works, and the staleness bound it gives, is told in the crate documentation.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt as _;
use redis::aio::ConnectionManager;

use crate::keys::Keys;

/// The current unix time in milliseconds.
pub(crate) fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The revoked sessions this process knows of, with the unix millisecond each one's
/// revocation ends.
#[derive(Debug)]
pub(crate) struct View {
    sessions: RwLock<HashMap<String, u64>>,
    /// `sessions.len()`, read without the lock: most checks find no session revoked at all.
    count: AtomicUsize,
    /// Microseconds since `base` (plus one) when the newest heartbeat received was sent;
    /// 0 when none was received since the last (re)subscription.
    fresh_as_of: AtomicU64,
    base: Instant,
    max_staleness: Duration,
}

impl View {
    pub(crate) fn new(max_staleness: Duration) -> Self {
        Self {
            sessions: RwLock::new(HashMap::new()),
            count: AtomicUsize::new(0),
            fresh_as_of: AtomicU64::new(0),
            base: Instant::now(),
            max_staleness,
        }
    }

    /// Microseconds since `base`, plus one so that 0 can mean "never".
    fn now_us(&self) -> u64 {
        self.base.elapsed().as_micros() as u64 + 1
    }

    /// Whether the view may answer "not revoked" (see the module doc).
    pub(crate) fn is_fresh(&self) -> bool {
        let as_of = self.fresh_as_of.load(Ordering::Acquire);
        as_of != 0
            && Duration::from_micros(self.now_us().saturating_sub(as_of)) <= self.max_staleness
    }

    /// Whether the view holds `session` as revoked (and not yet expired).
    pub(crate) fn contains(&self, session: &str) -> bool {
        if self.count.load(Ordering::Acquire) == 0 {
            return false;
        }
        // A poisoned lock only means a writer panicked; each write leaves the map whole.
        let sessions = self.sessions.read().unwrap_or_else(|e| e.into_inner());
        sessions
            .get(session)
            .is_some_and(|&until| until > unix_ms())
    }

    pub(crate) fn insert(&self, session: &str, until_ms: u64) {
        let mut sessions = self.sessions.write().unwrap_or_else(|e| e.into_inner());
        match sessions.get_mut(session) {
            Some(u) => *u = (*u).max(until_ms),
            None => {
                sessions.insert(session.to_owned(), until_ms);
            }
        }
        self.count.store(sessions.len(), Ordering::Release);
    }

    /// Replaces the whole view with a resynced one.
    fn replace(&self, fresh: HashMap<String, u64>) {
        let mut sessions = self.sessions.write().unwrap_or_else(|e| e.into_inner());
        *sessions = fresh;
        self.count.store(sessions.len(), Ordering::Release);
    }

    /// Drops the revocations that have ended.
    fn prune(&self) {
        if self.count.load(Ordering::Acquire) == 0 {
            return;
        }
        let now = unix_ms();
        let mut sessions = self.sessions.write().unwrap_or_else(|e| e.into_inner());
        sessions.retain(|_, until| *until > now);
        self.count.store(sessions.len(), Ordering::Release);
    }

    fn heartbeat_received(&self, sent_us: u64) {
        self.fresh_as_of.fetch_max(sent_us, Ordering::AcqRel);
    }

    fn mark_stale(&self) {
        self.fresh_as_of.store(0, Ordering::Release);
    }

    /// How many revoked sessions the view holds.
    pub(crate) fn len(&self) -> usize {
        self.count.load(Ordering::Acquire)
    }
}

/// What the subscriber task needs.
pub(crate) struct Subscriber {
    pub(crate) view: Arc<View>,
    pub(crate) client: redis::Client,
    pub(crate) conn: ConnectionManager,
    pub(crate) keys: Keys,
    pub(crate) instance: u64,
    pub(crate) timeout: Duration,
    pub(crate) heartbeat_interval: Duration,
}

const BACKOFF_MIN: Duration = Duration::from_millis(50);
const BACKOFF_MAX: Duration = Duration::from_secs(1);
/// Ended revocations are dropped from the view every this many heartbeats.
const PRUNE_EVERY_TICKS: u64 = 64;
/// How many keys one `SCAN` step asks for while resyncing.
const SCAN_COUNT: usize = 1000;

impl Subscriber {
    /// Subscribes, resyncs, follows; on any failure, waits and starts again. Runs until the
    /// store is dropped (which aborts the task).
    pub(crate) async fn run(mut self) {
        let mut backoff = BACKOFF_MIN;
        loop {
            self.view.mark_stale();
            match self.follow().await {
                Ok(()) => {
                    tracing::warn!(target: "keycard::redis", "revocation subscription ended; reconnecting");
                    backoff = BACKOFF_MIN;
                }
                Err(e) => {
                    tracing::warn!(target: "keycard::redis", error = %e, "revocation subscription failed; retrying");
                }
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(BACKOFF_MAX);
        }
    }

    /// One subscription's life: `Ok` when it ended, `Err` when it could not be set up or lost
    /// its heartbeat.
    async fn follow(&mut self) -> Result<(), String> {
        let t = self.timeout;
        let revocations = self.keys.revocations_channel();
        let heartbeats = self.keys.heartbeat_channel(self.instance);
        let mut pubsub = timed(t, self.client.get_async_pubsub()).await?;
        timed(t, pubsub.subscribe(&[&revocations, &heartbeats])).await?;
        let mut messages = pubsub.into_on_message();

        // Subscribed first, scanned second: a revocation committed before the scan began is
        // in the scan, one committed after the subscription is in the stream.
        let synced = self.scan_sessions().await?;
        let n = synced.len();
        self.view.replace(synced);
        tracing::debug!(target: "keycard::redis", sessions = n, "revocation view resynced");

        let mut ticks: u64 = 0;
        let mut ticker = tokio::time::interval(self.heartbeat_interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_heartbeat = Instant::now();
        // No heartbeat for this long: the subscription is dead even if the socket is not.
        let give_up = self.heartbeat_interval * 4 + t;
        loop {
            tokio::select! {
                msg = messages.next() => {
                    let Some(msg) = msg else { return Ok(()) };
                    let payload = String::from_utf8_lossy(msg.get_payload_bytes());
                    if msg.get_channel_name() == heartbeats {
                        if let Ok(sent) = payload.parse::<u64>() {
                            last_heartbeat = Instant::now();
                            self.view.heartbeat_received(sent);
                        }
                    } else if let Some((until, session)) = payload.split_once(':')
                        && let Ok(until) = until.parse::<u64>()
                    {
                        self.view.insert(session, until);
                    }
                }
                _ = ticker.tick() => {
                    if last_heartbeat.elapsed() > give_up {
                        return Err("no heartbeat came back; resubscribing".into());
                    }
                    let sent = self.view.now_us();
                    let mut publish = redis::cmd("PUBLISH");
                    publish.arg(&heartbeats).arg(sent);
                    if let Err(e) = timed(t, publish.query_async::<i64>(&mut self.conn)).await {
                        tracing::debug!(target: "keycard::redis", error = %e, "heartbeat not sent");
                    }
                    // Checks ignore ended revocations anyway; pruning only frees memory, so
                    // take the write lock rarely.
                    ticks += 1;
                    if ticks.is_multiple_of(PRUNE_EVERY_TICKS) {
                        self.view.prune();
                    }
                }
            }
        }
    }

    /// Every revoked session on the server, with the end of its revocation.
    async fn scan_sessions(&mut self) -> Result<HashMap<String, u64>, String> {
        let pattern = self.keys.session_pattern();
        let mut found = HashMap::new();
        let mut cursor: u64 = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = timed(
                self.timeout,
                redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(SCAN_COUNT)
                    .query_async(&mut self.conn),
            )
            .await?;
            if !keys.is_empty() {
                let mut pipe = redis::pipe();
                for k in &keys {
                    pipe.cmd("PEXPIRETIME").arg(k);
                }
                let expiries: Vec<i64> =
                    timed(self.timeout, pipe.query_async(&mut self.conn)).await?;
                for (k, exp) in keys.iter().zip(expiries) {
                    let Some(session) = self.keys.session_of(k) else {
                        continue;
                    };
                    // -2: gone since the scan saw it; -1: no expiry (not written by keycard).
                    match exp {
                        -2 => {}
                        -1 => {
                            found.insert(session, u64::MAX);
                        }
                        e => {
                            found.insert(session, e as u64);
                        }
                    }
                }
            }
            if next == 0 {
                return Ok(found);
            }
            cursor = next;
        }
    }
}

/// Runs `f` under `t`, flattening both failures into a message.
async fn timed<T>(
    t: Duration,
    f: impl Future<Output = redis::RedisResult<T>>,
) -> Result<T, String> {
    match tokio::time::timeout(t, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("timed out after {t:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_view_answers_only_while_fresh_and_forgets_ended_revocations() {
        let v = View::new(Duration::from_millis(50));
        assert!(!v.is_fresh());
        v.heartbeat_received(v.now_us());
        assert!(v.is_fresh());
        std::thread::sleep(Duration::from_millis(80));
        assert!(!v.is_fresh());

        v.insert("s1", unix_ms() + 60_000);
        v.insert("old", unix_ms() - 1);
        assert!(v.contains("s1"));
        assert!(!v.contains("old"));
        assert!(!v.contains("s2"));
        assert_eq!(v.len(), 2);
        v.prune();
        assert_eq!(v.len(), 1);
        v.mark_stale();
        assert!(!v.is_fresh());
    }
}
