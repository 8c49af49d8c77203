//! Rotation under concurrency: N tasks refreshing one token (exactly one wins), and logout
//! racing refresh, on a multi-thread runtime. The in-memory store answers without awaiting,
//! so a wrapper yields to the scheduler before every store call: the tasks then interleave
//! at each of the service's store round trips, as they would against Redis.

// A failing test panics with the value: unwrap is the report. AuthError's size is the
// library's business, not the tests'.
#![allow(clippy::unwrap_used, clippy::result_large_err)]

#[path = "tokens_support.rs"]
mod support;

use std::sync::Arc;

use keycard_core::{
    AuthError, BoxFuture, FrozenClock, InMemoryRevocationStore, RevocationStore, SpendOutcome,
    StoreError, TokenError, TokenPair, TokenRecord, TokenState,
};
use support::*;
use tokio::sync::Barrier;

struct Yielding(Arc<InMemoryRevocationStore>);

impl RevocationStore for Yielding {
    fn record_issued<'a>(
        &'a self,
        record: &'a TokenRecord,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            tokio::task::yield_now().await;
            self.0.record_issued(record).await
        })
    }
    fn spend<'a>(
        &'a self,
        jti: &'a str,
        session: Option<&'a str>,
        expires_at: u64,
        session_until: u64,
    ) -> BoxFuture<'a, Result<SpendOutcome, StoreError>> {
        Box::pin(async move {
            tokio::task::yield_now().await;
            self.0.spend(jti, session, expires_at, session_until).await
        })
    }
    fn blacklist<'a>(
        &'a self,
        jti: &'a str,
        expires_at: u64,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            tokio::task::yield_now().await;
            self.0.blacklist(jti, expires_at).await
        })
    }
    fn revoke_session<'a>(
        &'a self,
        session: &'a str,
        until: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            tokio::task::yield_now().await;
            self.0.revoke_session(session, until).await
        })
    }
    fn is_session_revoked<'a>(
        &'a self,
        session: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            tokio::task::yield_now().await;
            self.0.is_session_revoked(session).await
        })
    }
    fn token_state<'a>(
        &'a self,
        jti: &'a str,
    ) -> BoxFuture<'a, Result<Option<TokenState>, StoreError>> {
        Box::pin(async move {
            tokio::task::yield_now().await;
            self.0.token_state(jti).await
        })
    }
    fn purge_expired(&self, now: u64) -> BoxFuture<'_, Result<usize, StoreError>> {
        Box::pin(async move {
            tokio::task::yield_now().await;
            self.0.purge_expired(now).await
        })
    }
}

fn multi_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap()
}

/// Settings: rotation with blacklist-after-rotation (`spend`), rotation alone, or neither.
#[derive(Debug, Clone, Copy)]
enum Mode {
    RotateAndSpend,
    RotateOnly,
    NoRotation,
}

fn svc(mode: Mode, clock: &FrozenClock) -> Svc {
    let b = contract(clock);
    let b = match mode {
        Mode::RotateAndSpend => b.rotate_refresh_tokens(true).blacklist_after_rotation(true),
        Mode::RotateOnly => b.rotate_refresh_tokens(true),
        Mode::NoRotation => b,
    };
    let mut s = service(b, clock);
    let yielding: Arc<dyn RevocationStore> = Arc::new(Yielding(s.store.clone()));
    s.tokens = keycard_core::TokenService::builder(s.tokens.settings().as_ref().clone())
        .users_arc(s.users.clone())
        .store_arc(yielding)
        .build()
        .unwrap();
    s
}

fn token_error(e: &AuthError) -> TokenError {
    match e {
        AuthError::InvalidToken { error, .. } => *error,
        other => panic!("expected an invalid token, got {other:?}"),
    }
}

#[test]
fn tk_concurrency_32_tasks_refreshing_one_token_exactly_one_wins() {
    let rt = multi_thread();
    rt.block_on(async {
        for round in 0..25 {
            let clock = FrozenClock::new(T0);
            let s = svc(Mode::RotateAndSpend, &clock);
            let r = refresh_of(&s.tokens.obtain_for(&s.alice).await.unwrap());
            let barrier = Arc::new(Barrier::new(32));
            let tasks: Vec<_> = (0..32)
                .map(|_| {
                    let (tokens, r, barrier) = (s.tokens.clone(), r.clone(), barrier.clone());
                    tokio::spawn(async move {
                        barrier.wait().await;
                        tokens.refresh(&r).await
                    })
                })
                .collect();
            let mut wins = Vec::new();
            let mut losses = Vec::new();
            for t in tasks {
                match t.await.expect("no task panics") {
                    Ok(pair) => wins.push(pair),
                    Err(e) => losses.push(token_error(&e)),
                }
            }
            assert_eq!(wins.len(), 1, "round {round}: {} winners", wins.len());
            assert_eq!(losses.len(), 31);
            // The losers presented a spent token (reuse) or found its session revoked by an
            // earlier loser's reuse.
            assert!(
                losses
                    .iter()
                    .all(|e| matches!(e, TokenError::Reused | TokenError::Blacklisted)),
                "{losses:?}"
            );
            assert!(losses.contains(&TokenError::Reused));
            // Reuse is treated as theft: the whole session ends, the winner's new pair included.
            let win = &wins[0];
            assert_eq!(
                token_error(&s.tokens.verify_access(&win.access).await.unwrap_err()),
                TokenError::Blacklisted
            );
            assert_eq!(
                s.store
                    .token_state(payload(&r)["jti"].as_str().unwrap())
                    .await
                    .unwrap(),
                Some(TokenState::Spent)
            );
        }
    });
}

#[test]
fn tk_concurrency_32_spends_of_one_jti_in_the_store_give_one_spent() {
    let rt = multi_thread();
    rt.block_on(async {
        for _ in 0..25 {
            let store = Arc::new(InMemoryRevocationStore::new());
            let barrier = Arc::new(Barrier::new(32));
            let tasks: Vec<_> = (0..32)
                .map(|_| {
                    let (store, barrier) = (store.clone(), barrier.clone());
                    tokio::spawn(async move {
                        barrier.wait().await;
                        store
                            .spend("j", Some("s"), u64::MAX / 2, u64::MAX / 2)
                            .await
                            .unwrap()
                    })
                })
                .collect();
            let mut spent = 0;
            for t in tasks {
                match t.await.unwrap() {
                    SpendOutcome::Spent => spent += 1,
                    SpendOutcome::Reused | SpendOutcome::Revoked => {}
                }
            }
            assert_eq!(spent, 1);
        }
    });
}

/// The invariant of logout racing refresh, checked after both have finished:
/// - at least one of them succeeded (a refresh fails only because the logout got there first);
/// - if the logout succeeded, no token of that session verifies any more — the presented
///   refresh token, its access token, and the pair the refresh may have minted;
/// - if the logout failed, the refresh won, and its pair works (the client was not logged out
///   and was told so).
///
/// So never both a successful logout and a fresh pair that still works.
async fn check_race(
    s: &Svc,
    pair: &TokenPair,
    refreshed: &Result<TokenPair, AuthError>,
    logout: &Result<(), AuthError>,
    ctx: &str,
) {
    let r = refresh_of(pair);
    assert!(
        refreshed.is_ok() || logout.is_ok(),
        "{ctx}: both failed: {refreshed:?} / {logout:?}"
    );
    match logout {
        Ok(()) => {
            assert!(
                s.tokens.verify(&r).await.is_err(),
                "{ctx}: the logged-out token verifies"
            );
            assert!(
                s.tokens.verify_access(&pair.access).await.is_err(),
                "{ctx}: its access token works"
            );
            if let Ok(new) = refreshed {
                assert!(
                    s.tokens.verify_access(&new.access).await.is_err(),
                    "{ctx}: the racing refresh's access works"
                );
                if let Some(r2) = &new.refresh {
                    assert!(
                        s.tokens.verify(r2).await.is_err(),
                        "{ctx}: the racing refresh's refresh token verifies"
                    );
                    assert!(
                        s.tokens.refresh(r2).await.is_err(),
                        "{ctx}: the racing refresh's refresh token refreshes"
                    );
                }
            }
        }
        Err(e) => {
            assert_eq!(
                token_error(e),
                TokenError::Blacklisted,
                "{ctx}: logout refused for another reason"
            );
            let new = refreshed.as_ref().unwrap();
            s.tokens
                .verify_access(&new.access)
                .await
                .unwrap_or_else(|e| panic!("{ctx}: winner's access refused: {e:?}"));
        }
    }
}

#[test]
fn tk_concurrency_logout_racing_refresh_never_leaves_a_working_pair_after_a_successful_logout() {
    let rt = multi_thread();
    rt.block_on(async {
        let mut outcomes = std::collections::BTreeMap::new();
        for mode in [Mode::RotateAndSpend, Mode::RotateOnly, Mode::NoRotation] {
            for round in 0..150 {
                let clock = FrozenClock::new(T0);
                let s = svc(mode, &clock);
                let pair = s.tokens.obtain_for(&s.alice).await.unwrap();
                let r = refresh_of(&pair);
                let barrier = Arc::new(Barrier::new(2));
                // Alternate which task is spawned (and so usually polled) first.
                let logout_first = round % 2 == 0;
                let spawn_logout =
                    |tokens: keycard_core::TokenService, r: String, barrier: Arc<Barrier>| {
                        tokio::spawn(async move {
                            barrier.wait().await;
                            tokens.blacklist(&r).await
                        })
                    };
                let early = logout_first
                    .then(|| spawn_logout(s.tokens.clone(), r.clone(), barrier.clone()));
                let refresh = {
                    let (tokens, r, barrier) = (s.tokens.clone(), r.clone(), barrier.clone());
                    tokio::spawn(async move {
                        barrier.wait().await;
                        tokens.refresh(&r).await
                    })
                };
                let logout = match early {
                    Some(task) => task,
                    None => spawn_logout(s.tokens.clone(), r.clone(), barrier.clone()),
                };
                let (refreshed, logout) = (refresh.await.unwrap(), logout.await.unwrap());
                *outcomes
                    .entry((format!("{mode:?}"), refreshed.is_ok(), logout.is_ok()))
                    .or_insert(0) += 1;
                check_race(
                    &s,
                    &pair,
                    &refreshed,
                    &logout,
                    &format!("{mode:?} round {round}"),
                )
                .await;
            }
        }
        // Which interleavings happened (shown with --nocapture): the invariant held in all.
        eprintln!("(mode, refresh ok, logout ok) → rounds: {outcomes:?}");
    });
}
