//! The in-memory revocation store: one process, bounded memory.

use std::collections::HashMap;
use std::future::ready;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use super::{RevocationStore, SpendOutcome, StoreError, TokenRecord, TokenState};
use crate::BoxFuture;
use crate::clock::{Clock, SystemClock};

/// How many writes between two automatic purges of expired records.
const PURGE_EVERY: u64 = 1024;

#[derive(Default)]
struct Tokens {
    /// jti → (state, expires_at)
    by_jti: HashMap<String, (TokenState, u64)>,
}

/// The revocation store of a single process. Memory stays bounded: every record expires with
/// its token, and expired records are purged automatically every 1024 writes (and on
/// [`purge_expired`](RevocationStore::purge_expired)).
///
/// Session checks — on every authenticated request — take a read lock on a map that is
/// usually empty, and skip even that when no session has ever been revoked.
///
/// ```
/// use keycard_core::{InMemoryRevocationStore, RevocationStore, SpendOutcome};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let store = InMemoryRevocationStore::new();
/// let far = u64::MAX / 2;
/// assert_eq!(store.spend("jti-1", Some("s1"), far, far).await.unwrap(), SpendOutcome::Spent);
/// assert_eq!(store.spend("jti-1", Some("s1"), far, far).await.unwrap(), SpendOutcome::Reused);
/// assert!(store.is_session_revoked("s1").await.unwrap());
/// # });
/// ```
pub struct InMemoryRevocationStore {
    tokens: Mutex<Tokens>,
    sessions: RwLock<HashMap<String, u64>>,
    revoked_sessions: AtomicUsize,
    writes: AtomicU64,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for InMemoryRevocationStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InMemoryRevocationStore")
            .field("tokens", &self.lock_tokens().by_jti.len())
            .field(
                "revoked_sessions",
                &self.revoked_sessions.load(Ordering::Relaxed),
            )
            .finish()
    }
}

impl Default for InMemoryRevocationStore {
    fn default() -> Self {
        Self::new()
    }
}

impl InMemoryRevocationStore {
    /// An empty store on the system clock.
    pub fn new() -> Self {
        Self::with_clock(Arc::new(SystemClock))
    }

    /// An empty store whose automatic purge reads `clock` (use the token service's clock).
    pub fn with_clock(clock: Arc<dyn Clock>) -> Self {
        Self {
            tokens: Mutex::new(Tokens::default()),
            sessions: RwLock::new(HashMap::new()),
            revoked_sessions: AtomicUsize::new(0),
            writes: AtomicU64::new(0),
            clock,
        }
    }

    /// How many records the store holds (tokens and revoked sessions).
    pub fn len(&self) -> usize {
        self.lock_tokens().by_jti.len() + self.read_sessions().len()
    }

    /// Whether the store holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    // A poisoned lock only means another thread panicked mid-operation; every operation
    // leaves the maps consistent, so the data is still good to use.
    fn lock_tokens(&self) -> MutexGuard<'_, Tokens> {
        self.tokens.lock().unwrap_or_else(|e| e.into_inner())
    }
    fn read_sessions(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, u64>> {
        self.sessions.read().unwrap_or_else(|e| e.into_inner())
    }
    fn write_sessions(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, u64>> {
        self.sessions.write().unwrap_or_else(|e| e.into_inner())
    }

    fn session_revoked(&self, session: &str) -> bool {
        if self.revoked_sessions.load(Ordering::Acquire) == 0 {
            return false;
        }
        self.read_sessions().contains_key(session)
    }

    fn revoke(&self, session: &str, until: u64) {
        let mut sessions = self.write_sessions();
        let entry = sessions.entry(session.to_owned()).or_insert(until);
        *entry = (*entry).max(until);
        self.revoked_sessions
            .store(sessions.len(), Ordering::Release);
    }

    fn wrote(&self) {
        if self.writes.fetch_add(1, Ordering::Relaxed) % PURGE_EVERY == PURGE_EVERY - 1 {
            self.purge(self.clock.now());
        }
    }

    fn purge(&self, now: u64) -> usize {
        let mut removed = 0;
        {
            let mut tokens = self.lock_tokens();
            let before = tokens.by_jti.len();
            tokens.by_jti.retain(|_, (_, exp)| *exp >= now);
            removed += before - tokens.by_jti.len();
        }
        let mut sessions = self.write_sessions();
        let before = sessions.len();
        sessions.retain(|_, until| *until >= now);
        removed += before - sessions.len();
        self.revoked_sessions
            .store(sessions.len(), Ordering::Release);
        removed
    }
}

impl RevocationStore for InMemoryRevocationStore {
    fn record_issued<'a>(
        &'a self,
        record: &'a TokenRecord,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.lock_tokens()
            .by_jti
            .entry(record.jti.clone())
            .or_insert((TokenState::Outstanding, record.expires_at));
        self.wrote();
        Box::pin(ready(Ok(())))
    }

    fn spend<'a>(
        &'a self,
        jti: &'a str,
        session: Option<&'a str>,
        expires_at: u64,
        session_until: u64,
    ) -> BoxFuture<'a, Result<SpendOutcome, StoreError>> {
        // One lock over the token map makes check-and-set atomic; the session map is only
        // written while it is held, so no spend can slip between a check and a revoke.
        let mut tokens = self.lock_tokens();
        let outcome = if session.is_some_and(|s| self.session_revoked(s)) {
            SpendOutcome::Revoked
        } else {
            match tokens.by_jti.get(jti).map(|(state, _)| *state) {
                Some(TokenState::Blacklisted) => SpendOutcome::Revoked,
                Some(TokenState::Spent) => {
                    if let Some(s) = session {
                        self.revoke(s, session_until);
                    }
                    SpendOutcome::Reused
                }
                Some(TokenState::Outstanding) | None => {
                    tokens
                        .by_jti
                        .insert(jti.to_owned(), (TokenState::Spent, expires_at));
                    SpendOutcome::Spent
                }
            }
        };
        drop(tokens);
        self.wrote();
        Box::pin(ready(Ok(outcome)))
    }

    fn blacklist<'a>(
        &'a self,
        jti: &'a str,
        expires_at: u64,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        let mut tokens = self.lock_tokens();
        let prev = tokens
            .by_jti
            .insert(jti.to_owned(), (TokenState::Blacklisted, expires_at));
        drop(tokens);
        self.wrote();
        Box::pin(ready(Ok(!matches!(
            prev,
            Some((TokenState::Blacklisted, _))
        ))))
    }

    fn revoke_session<'a>(
        &'a self,
        session: &'a str,
        until: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        let _tokens = self.lock_tokens();
        self.revoke(session, until);
        drop(_tokens);
        self.wrote();
        Box::pin(ready(Ok(())))
    }

    fn is_session_revoked<'a>(
        &'a self,
        session: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        // Asked on every authenticated request: answered with a zero-sized future, so the
        // box allocates nothing.
        if self.session_revoked(session) {
            Box::pin(Answer::<true>)
        } else {
            Box::pin(Answer::<false>)
        }
    }

    fn token_state<'a>(
        &'a self,
        jti: &'a str,
    ) -> BoxFuture<'a, Result<Option<TokenState>, StoreError>> {
        Box::pin(ready(Ok(self
            .lock_tokens()
            .by_jti
            .get(jti)
            .map(|(s, _)| *s))))
    }

    fn purge_expired(&self, now: u64) -> BoxFuture<'_, Result<usize, StoreError>> {
        Box::pin(ready(Ok(self.purge(now))))
    }
}

/// A future that is ready at once with `Ok(B)`; zero-sized, so boxing it allocates nothing.
struct Answer<const B: bool>;

impl<const B: bool> std::future::Future for Answer<B> {
    type Output = Result<bool, StoreError>;
    fn poll(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        std::task::Poll::Ready(Ok(B))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failing test panics with the value
mod tests {
    use super::*;
    use crate::clock::FrozenClock;

    fn block<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn purge_removes_expired_records_and_keeps_the_rest() {
        block(async {
            let s = InMemoryRevocationStore::new();
            s.blacklist("old", 100).await.unwrap();
            s.blacklist("new", 300).await.unwrap();
            s.revoke_session("sess-old", 100).await.unwrap();
            s.revoke_session("sess-new", 300).await.unwrap();
            assert_eq!(s.purge_expired(200).await.unwrap(), 2);
            assert_eq!(s.token_state("old").await.unwrap(), None);
            assert_eq!(
                s.token_state("new").await.unwrap(),
                Some(TokenState::Blacklisted)
            );
            assert!(!s.is_session_revoked("sess-old").await.unwrap());
            assert!(s.is_session_revoked("sess-new").await.unwrap());
        });
    }

    #[test]
    fn memory_stays_bounded_under_a_long_run_of_logouts() {
        block(async {
            let clock = FrozenClock::new(1_000);
            let s = InMemoryRevocationStore::with_clock(Arc::new(clock.clone()));
            for i in 0..20_000u64 {
                clock.set(1_000 + i);
                // Each record lives 100 s.
                s.blacklist(&format!("j{i}"), 1_000 + i + 100)
                    .await
                    .unwrap();
                s.revoke_session(&format!("s{i}"), 1_000 + i + 100)
                    .await
                    .unwrap();
            }
            assert!(
                s.len() < 2 * (PURGE_EVERY as usize + 200),
                "store grew to {}",
                s.len()
            );
        });
    }

    #[test]
    fn spend_on_blacklisted_or_revoked_is_revoked() {
        block(async {
            let s = InMemoryRevocationStore::new();
            s.blacklist("j", u64::MAX).await.unwrap();
            assert_eq!(
                s.spend("j", None, 10, 10).await.unwrap(),
                SpendOutcome::Revoked
            );
            s.revoke_session("sess", u64::MAX).await.unwrap();
            assert_eq!(
                s.spend("k", Some("sess"), 10, 10).await.unwrap(),
                SpendOutcome::Revoked
            );
        });
    }
}
