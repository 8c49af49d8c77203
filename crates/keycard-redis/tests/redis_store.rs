//! The Redis store against a real redis-server (see `common` for how it is found, and how a
//! missing one is skipped loudly or, with `KEYCARD_REQUIRE_REDIS=1`, fails the run).

#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use keycard_core::{
    InMemoryRevocationStore, InMemoryUserStore, RevocationStore, Settings, SpendOutcome,
    StoreError, TokenRecord, TokenService, User,
};
use keycard_redis::{RedisRevocationStore, RedisStoreConfig, WhenViewStale};
use redis::AsyncCommands as _;

use common::{Throwaway, config, eventually, now, prefix, raw, server, store, suite::store_suite};

// --- the shared suite --------------------------------------------------------------------

#[tokio::test]
async fn store_suite_in_memory() {
    store_suite(&InMemoryRevocationStore::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_suite_redis() {
    let Some(url) = server("store_suite_redis").await else {
        return;
    };
    let s = store(&url, config(&prefix("suite"))).await;
    store_suite(&s).await;
    // Twice on one store: the suite's ids do not collide with themselves.
    store_suite(&s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_suite_redis_with_direct_lookups_only() {
    // The same behaviour when the view is never trusted: every check asks Redis.
    let Some(url) = server("store_suite_redis_with_direct_lookups_only").await else {
        return;
    };
    let cfg = config(&prefix("suite-direct"))
        .local_view(false)
        .when_view_stale(WhenViewStale::FailClosed);
    let s = RedisRevocationStore::connect_with(&url, cfg).await.unwrap();
    store_suite(&s).await;
    assert!(!s.view_is_fresh());
}

// --- atomicity ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_spends_of_one_token_give_exactly_one_spent() {
    let Some(url) = server("concurrent_spends_of_one_token_give_exactly_one_spent").await else {
        return;
    };
    let p = prefix("race");
    // Two instances, two connections: as two processes would.
    let a = store(&url, config(&p)).await;
    let b = store(&url, config(&p)).await;
    for round in 0..5 {
        let (jti, session) = (format!("j{round}"), format!("s{round}"));
        let rec = TokenRecord {
            jti: jti.clone(),
            session: session.clone(),
            user_id: "u".into(),
            expires_at: now() + 600,
        };
        a.record_issued(&rec).await.unwrap();
        let mut tasks = Vec::new();
        for i in 0..16 {
            let s = if i % 2 == 0 { a.clone() } else { b.clone() };
            let (jti, session) = (jti.clone(), session.clone());
            tasks.push(tokio::spawn(async move {
                s.spend(&jti, Some(&session), now() + 600, now() + 900)
                    .await
                    .unwrap()
            }));
        }
        let mut outcomes = Vec::new();
        for t in tasks {
            outcomes.push(t.await.unwrap());
        }
        let spent = outcomes
            .iter()
            .filter(|o| **o == SpendOutcome::Spent)
            .count();
        let reused = outcomes
            .iter()
            .filter(|o| **o == SpendOutcome::Reused)
            .count();
        assert_eq!(spent, 1, "round {round}: {outcomes:?}");
        assert!(
            reused >= 1,
            "round {round}: the first loser sees reuse: {outcomes:?}"
        );
        assert!(a.is_session_revoked(&session).await.unwrap());
        assert!(b.is_session_revoked(&session).await.unwrap());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reuse_on_one_instance_revokes_the_session_on_another() {
    let Some(url) = server("reuse_on_one_instance_revokes_the_session_on_another").await else {
        return;
    };
    let p = prefix("reuse");
    let a = store(&url, config(&p)).await;
    let b = store(&url, config(&p).when_view_stale(WhenViewStale::FailClosed)).await;
    let far = now() + 600;
    assert_eq!(
        a.spend("j", Some("s"), far, far).await.unwrap(),
        SpendOutcome::Spent
    );
    assert!(!b.is_session_revoked("s").await.unwrap());
    assert_eq!(
        b.spend("j", Some("s"), far, far).await.unwrap(),
        SpendOutcome::Reused
    );
    assert!(
        b.is_session_revoked("s").await.unwrap(),
        "the reusing instance knows at once"
    );
    let seen = eventually(Duration::from_millis(500), || async {
        a.is_session_revoked("s").await.unwrap_or(false)
    })
    .await;
    assert!(seen.is_some(), "instance a never saw the revocation");
    assert_eq!(
        a.spend("j2", Some("s"), far, far).await.unwrap(),
        SpendOutcome::Revoked
    );
}

// --- expiry ------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_key_expires_with_its_record_plus_the_grace() {
    let Some(url) = server("every_key_expires_with_its_record_plus_the_grace").await else {
        return;
    };
    let p = prefix("ttl");
    let grace = Duration::from_secs(30);
    let s = store(&url, config(&p).retention_grace(grace)).await;
    let (exp, until) = (now() + 600, now() + 900);
    let rec = TokenRecord {
        jti: "j1".into(),
        session: "s1".into(),
        user_id: "u".into(),
        expires_at: exp,
    };
    s.record_issued(&rec).await.unwrap();
    s.spend("j2", Some("s2"), exp, until).await.unwrap();
    s.spend("j2", Some("s2"), exp, until).await.unwrap(); // reuse: revokes s2
    s.blacklist("j3", exp).await.unwrap();
    s.revoke_session("s4", until).await.unwrap();
    s.spend("j5", None, exp, until).await.unwrap();

    let mut c = raw(&url).await;
    let keys: Vec<String> = c.keys(format!("{p}:*")).await.unwrap();
    assert_eq!(keys.len(), 10, "{keys:?}");
    let g = grace.as_millis() as i64;
    for k in &keys {
        let pttl: i64 = c.pttl(k).await.unwrap();
        assert!(pttl > 0, "{k} has no expiry (PTTL {pttl})");
        let at: i64 = redis::cmd("PEXPIRETIME")
            .arg(k)
            .query_async(&mut c)
            .await
            .unwrap();
        let want = if k.contains(":session:") { until } else { exp } as i64 * 1000 + g;
        assert_eq!(at, want, "{k}");
    }
    // Expiries only move later: blacklisting with an earlier exp keeps the later one.
    s.blacklist("j1", now() + 60).await.unwrap();
    let at: i64 = redis::cmd("PEXPIRETIME")
        .arg(format!("{p}:token:{{s1}}:j1"))
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(at, exp as i64 * 1000 + g);
    // Nothing to purge: Redis forgets by itself.
    assert_eq!(s.purge_expired(now() + 10_000).await.unwrap(), 0);
    // A record whose expiry and grace have passed is forgotten at once.
    s.blacklist("gone", now() - 3600).await.unwrap();
    assert_eq!(s.token_state("gone").await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_script_keeps_to_one_hash_slot_on_a_cluster() {
    // A one-node Redis Cluster refuses any script whose keys span slots (CROSSSLOT), so the
    // whole suite passing on it proves the layout; hostile ids included.
    let test = "every_script_keeps_to_one_hash_slot_on_a_cluster";
    let Some(server) = Throwaway::start_cluster(test).await else {
        return;
    };
    let url = server.url();
    let mut c = raw(&url).await;
    let refused = redis::cmd("EVAL")
        .arg("return 1")
        .arg(2)
        .arg("a")
        .arg("b")
        .query_async::<i64>(&mut c)
        .await;
    assert!(
        refused.is_err_and(|e| e.kind() == redis::ErrorKind::CrossSlot),
        "the server does not check slots"
    );

    let p = prefix("cluster");
    let a = store(&url, config(&p)).await;
    let b = store(&url, config(&p)).await;
    store_suite(&a).await;

    let far = now() + 600;
    for (j, s) in [("j{1}", "sess}x"), ("", ""), ("{", "}")] {
        assert_eq!(
            a.spend(j, Some(s), far, far).await.unwrap(),
            SpendOutcome::Spent
        );
        assert_eq!(
            b.spend(j, Some(s), far, far).await.unwrap(),
            SpendOutcome::Reused
        );
        let seen = eventually(Duration::from_secs(1), || async {
            a.is_session_revoked(s).await.unwrap_or(false)
        })
        .await;
        assert!(
            seen.is_some(),
            "revocation of {s:?} not seen across instances on the cluster"
        );
    }
    let keys: Vec<String> = c.keys(format!("{p}:*")).await.unwrap();
    for k in keys.iter().filter(|k| k.contains(":token:")) {
        let tag = &k[k.find('{').unwrap()..=k.find('}').unwrap()];
        let session_key = format!("{p}:session:{tag}");
        let slot = |key: &str| {
            let mut c = c.clone();
            let key = key.to_owned();
            async move {
                redis::cmd("CLUSTER")
                    .arg("KEYSLOT")
                    .arg(key)
                    .query_async::<i64>(&mut c)
                    .await
                    .unwrap()
            }
        };
        assert_eq!(
            slot(k).await,
            slot(&session_key).await,
            "{k} vs {session_key}"
        );
    }
}

// --- the local view ----------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocations_reach_other_instances_within_the_staleness_bound() {
    let Some(url) = server("revocations_reach_other_instances_within_the_staleness_bound").await
    else {
        return;
    };
    let p = prefix("propagate");
    let bound = RedisStoreConfig::new().get_max_staleness();
    let a = store(&url, config(&p)).await;
    // FailClosed: b answers only from its view, never by asking Redis.
    let b = store(
        &url,
        config(&p)
            .max_staleness(bound)
            .when_view_stale(WhenViewStale::FailClosed),
    )
    .await;
    let mut worst = Duration::ZERO;
    for i in 0..20 {
        let session = format!("s{i}");
        assert!(!b.is_session_revoked(&session).await.unwrap());
        let start = Instant::now();
        a.revoke_session(&session, now() + 60).await.unwrap();
        let took = eventually(bound, || async {
            b.is_session_revoked(&session).await.unwrap_or(false)
        })
        .await;
        let took = took.unwrap_or_else(|| panic!("{session} not seen within {bound:?}"));
        assert!(start.elapsed() <= bound + Duration::from_millis(50));
        worst = worst.max(took);
    }
    eprintln!("revocation seen by the other instance after at most {worst:?} (bound {bound:?})");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_checks_are_answered_from_the_view_without_a_round_trip() {
    let Some(url) = server("session_checks_are_answered_from_the_view_without_a_round_trip").await
    else {
        return;
    };
    let p = prefix("local");
    let s = store(&url, config(&p).when_view_stale(WhenViewStale::FailClosed)).await;
    s.revoke_session("gone", now() + 60).await.unwrap();
    // FailClosed never asks Redis; 10 000 checks answered in well under a round trip each.
    let start = Instant::now();
    for i in 0..10_000 {
        let session = if i % 100 == 0 { "gone" } else { "live" };
        let revoked = match s.is_session_revoked(session).await {
            Ok(r) => r,
            // The view went stale under load (a slow machine): not what this test measures.
            Err(_) => continue,
        };
        assert_eq!(revoked, session == "gone");
    }
    let per_check = start.elapsed() / 10_000;
    eprintln!("session check from the local view: {per_check:?} each");
    assert!(
        per_check < Duration::from_micros(50),
        "{per_check:?} per check"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_subscription_is_resynced_and_never_answers_a_revoked_session_as_live() {
    let test = "a_lost_subscription_is_resynced_and_never_answers_a_revoked_session_as_live";
    let Some(mut server) = Throwaway::start(test).await else {
        return;
    };
    let url = server.url();
    let p = prefix("resync");
    let bound = Duration::from_millis(500);
    let a = store(&url, config(&p)).await;
    let b = store(
        &url,
        config(&p)
            .max_staleness(bound)
            .when_view_stale(WhenViewStale::FailClosed),
    )
    .await;

    // Cut every subscription, and revoke while b is not listening.
    let mut c = raw(&url).await;
    let _: redis::Value = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("pubsub")
        .query_async(&mut c)
        .await
        .unwrap();
    a.revoke_session("missed", now() + 60).await.unwrap();
    let revoked_at = Instant::now();
    // From now on b may say "revoked" or "unavailable", never "live", once the bound has
    // passed; and it comes back by itself with the missed revocation.
    let back = eventually(Duration::from_secs(10), || async {
        let answer = b.is_session_revoked("missed").await;
        if revoked_at.elapsed() > bound {
            assert!(
                !matches!(answer, Ok(false)),
                "a revoked session answered live {:?} after",
                revoked_at.elapsed()
            );
        }
        matches!(answer, Ok(true)) && b.view_is_fresh()
    })
    .await;
    assert!(back.is_some(), "b never resynced");
    assert!(b.is_session_revoked("missed").await.unwrap());

    // The same with a direct-lookup instance, through a server restart.
    let d = store(&url, config(&p)).await;
    server.restart().await;
    a.revoke_session("after-restart", now() + 60).await.ok();
    let back = eventually(Duration::from_secs(10), || async {
        a.revoke_session("after-restart", now() + 60).await.is_ok()
            && d.view_is_fresh()
            && matches!(d.is_session_revoked("after-restart").await, Ok(true))
    })
    .await;
    assert!(back.is_some(), "the view never came back after a restart");
}

// --- outages -----------------------------------------------------------------------------

async fn assert_every_call_unavailable(s: &RedisRevocationStore, within: Duration, when: &str) {
    let far = now() + 600;
    let rec = TokenRecord {
        jti: "j".into(),
        session: "s".into(),
        user_id: "u".into(),
        expires_at: far,
    };
    let checks: Vec<(&str, Result<(), StoreError>)> = vec![
        ("record_issued", timed(within, s.record_issued(&rec)).await),
        (
            "spend",
            timed(within, s.spend("j", Some("s"), far, far))
                .await
                .map(|_| ()),
        ),
        (
            "blacklist",
            timed(within, s.blacklist("j", far)).await.map(|_| ()),
        ),
        (
            "revoke_session",
            timed(within, s.revoke_session("s", far)).await,
        ),
        (
            "token_state",
            timed(within, s.token_state("j")).await.map(|_| ()),
        ),
    ];
    for (name, r) in checks {
        assert!(
            matches!(r, Err(StoreError::Unavailable(_))),
            "{when}: {name} answered {r:?}"
        );
    }
}

/// Runs a store call, failing the test if it takes longer than `within`.
async fn timed<T>(
    within: Duration,
    f: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    let start = Instant::now();
    let r = f.await;
    assert!(
        start.elapsed() <= within,
        "a call took {:?} (limit {within:?})",
        start.elapsed()
    );
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_server_is_unavailable_within_the_timeout_and_recovery_is_automatic() {
    let test = "a_dead_server_is_unavailable_within_the_timeout_and_recovery_is_automatic";
    let Some(mut server) = Throwaway::start(test).await else {
        return;
    };
    let url = server.url();
    let timeout = Duration::from_millis(300);
    let cfg = config(&prefix("dead")).timeout(timeout);
    let direct = store(&url, cfg.clone()).await;
    let closed = store(&url, cfg.when_view_stale(WhenViewStale::FailClosed)).await;
    direct.revoke_session("revoked", now() + 600).await.unwrap();
    let seen = eventually(Duration::from_secs(1), || async {
        closed.is_session_revoked("revoked").await.unwrap()
    })
    .await;
    assert!(seen.is_some());

    server.kill();
    let limit = timeout + Duration::from_millis(300);
    assert_every_call_unavailable(&direct, limit, "server dead").await;
    // Session checks: the revoked session stays revoked; a live one is not answered live
    // once the view has gone stale.
    assert!(direct.is_session_revoked("revoked").await.unwrap());
    assert!(
        eventually(Duration::from_secs(2), || async { !direct.view_is_fresh() })
            .await
            .is_some()
    );
    let r = timed(limit, direct.is_session_revoked("live")).await;
    assert!(
        matches!(r, Err(StoreError::Unavailable(_))),
        "direct lookup with the server dead: {r:?}"
    );
    let r = timed(limit, closed.is_session_revoked("live")).await;
    assert!(
        matches!(r, Err(StoreError::Unavailable(_))),
        "fail closed with the server dead: {r:?}"
    );

    server.restart().await;
    let far = now() + 600;
    let back = eventually(Duration::from_secs(10), || async {
        direct.spend("after", Some("s"), far, far).await.is_ok()
    })
    .await;
    assert!(back.is_some(), "the store never recovered");
    assert!(
        eventually(Duration::from_secs(10), || async {
            closed.is_session_revoked("live").await.is_ok()
        })
        .await
        .is_some()
    );
    assert_eq!(
        direct.spend("after", Some("s"), far, far).await.unwrap(),
        SpendOutcome::Reused
    );
    eprintln!("recovered {:?} after the server returned", back.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_server_is_unavailable_within_the_timeout() {
    let test = "a_hung_server_is_unavailable_within_the_timeout";
    let Some(server) = Throwaway::start(test).await else {
        return;
    };
    let url = server.url();
    let timeout = Duration::from_millis(300);
    let s = store(&url, config(&prefix("hung")).timeout(timeout)).await;
    server.signal("-STOP");
    let limit = timeout + Duration::from_millis(300);
    assert_every_call_unavailable(&s, limit, "server frozen").await;
    let r = eventually(Duration::from_secs(3), || async { !s.view_is_fresh() }).await;
    assert!(r.is_some(), "the view stayed fresh with the server frozen");
    let r = timed(limit, s.is_session_revoked("live")).await;
    assert!(matches!(r, Err(StoreError::Unavailable(_))), "{r:?}");
    server.signal("-CONT");
    let far = now() + 600;
    let back = eventually(Duration::from_secs(10), || async {
        s.spend("j", Some("s"), far, far).await.is_ok()
    })
    .await;
    assert!(back.is_some(), "the store never recovered");
    assert!(s.wait_for_fresh_view(Duration::from_secs(10)).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connecting_to_no_server_fails_within_the_timeout() {
    let test = "connecting_to_no_server_fails_within_the_timeout";
    let Some(mut server) = Throwaway::start(test).await else {
        return;
    };
    let url = server.url();
    server.kill();
    let start = Instant::now();
    let r =
        RedisRevocationStore::connect_with(&url, config("p").timeout(Duration::from_millis(300)))
            .await;
    assert!(r.is_err());
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    let r = RedisRevocationStore::connect_with("not a url", RedisStoreConfig::new()).await;
    assert!(
        matches!(r, Err(keycard_redis::ConnectError::InvalidConfig(_))),
        "{r:?}"
    );
}

// --- with the token service, as two processes ---------------------------------------------

fn service(store: RedisRevocationStore) -> TokenService {
    let users = InMemoryUserStore::new();
    users.insert(User::new("1", "alice"), "alice-password");
    let settings = Settings::builder()
        .hmac_secret("a-secret-that-is-at-least-32-bytes-long!")
        .rotate_refresh_tokens(true)
        .blacklist_after_rotation(true)
        .build()
        .unwrap();
    TokenService::builder(settings)
        .users(users)
        .store(store)
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_token_services_share_rotation_reuse_and_logout() {
    let Some(url) = server("two_token_services_share_rotation_reuse_and_logout").await else {
        return;
    };
    let p = prefix("service");
    let a = service(store(&url, config(&p)).await);
    let b = service(store(&url, config(&p)).await);

    // Log in on a, refresh on b, log out on b: a refuses the access token within the bound.
    let pair = a.obtain("alice", "alice-password").await.unwrap();
    let next = b.refresh(pair.refresh.as_deref().unwrap()).await.unwrap();
    a.verify_access(&next.access).await.unwrap();
    b.blacklist(next.refresh.as_deref().unwrap()).await.unwrap();
    let refused = eventually(Duration::from_millis(500), || async {
        a.verify_access(&next.access).await.is_err()
    })
    .await;
    assert!(
        refused.is_some(),
        "a still accepts the access token of a logged-out session"
    );
    assert!(
        a.refresh(next.refresh.as_deref().unwrap()).await.is_err(),
        "a refreshes a blacklisted token"
    );

    // Ten concurrent refreshes of one token over both: exactly one wins.
    let pair = a.obtain("alice", "alice-password").await.unwrap();
    let refresh = Arc::new(pair.refresh.unwrap());
    let mut tasks = Vec::new();
    for i in 0..10 {
        let svc = if i % 2 == 0 { a.clone() } else { b.clone() };
        let refresh = refresh.clone();
        tasks.push(tokio::spawn(
            async move { svc.refresh(&refresh).await.is_ok() },
        ));
    }
    let mut wins = 0;
    for t in tasks {
        wins += usize::from(t.await.unwrap());
    }
    assert_eq!(wins, 1);
}
