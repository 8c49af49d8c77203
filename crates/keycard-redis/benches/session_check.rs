//! The per-request access check with the Redis store (warm local view) next to the in-memory
//! store, in the same run, so the ratio holds on any machine; and a direct Redis lookup for
//! scale (what a check would cost without the view).
//!
//! Needs a Redis server at `KEYCARD_REDIS_URL` (default `redis://127.0.0.1:6379`); without
//! one only the in-memory rows run.
//!
//! `cargo bench -p keycard-redis --bench session_check -- --warm-up-time 1 --measurement-time 3`

// `criterion_group!` defines a public function without documentation.
#![allow(missing_docs, clippy::unwrap_used)]

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use keycard_core::{
    InMemoryRevocationStore, InMemoryUserStore, RevocationStore, Settings, TokenService, User,
};
use keycard_redis::{RedisRevocationStore, RedisStoreConfig};

/// Checks answered from memory are ready futures: one poll completes them.
fn now_or_never<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("this check went to the network: the view is not warm"),
    }
}

fn service(store: Arc<dyn RevocationStore>) -> TokenService {
    let users = InMemoryUserStore::new();
    users.insert(User::new("1", "alice"), "alice-password");
    let settings = Settings::builder()
        .hmac_secret("a-secret-that-is-at-least-32-bytes-long!")
        .build()
        .unwrap();
    TokenService::builder(settings)
        .users(users)
        .store_arc(store)
        .build()
        .unwrap()
}

fn redis(rt: &tokio::runtime::Runtime) -> Option<RedisRevocationStore> {
    let url =
        std::env::var("KEYCARD_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let prefix = format!("kcbench:{:016x}", rand::random::<u64>());
    let store = rt.block_on(async {
        let s = RedisRevocationStore::connect_with(&url, RedisStoreConfig::new().prefix(prefix))
            .await
            .ok()?;
        s.wait_for_fresh_view(Duration::from_secs(5))
            .await
            .then_some(s)
    });
    if store.is_none() {
        eprintln!(
            "\n*** SKIPPED the Redis rows: no Redis server answers at KEYCARD_REDIS_URL ***\n"
        );
    }
    store
}

/// The ratio the issue asks for, redis_warm_view / in_memory, printed after criterion's rows:
/// the median of seven interleaved timings of each check, in this same run.
fn ratio(name: &str, in_memory: impl Fn(), redis_warm_view: impl Fn()) {
    const N: u32 = 100_000;
    let time = |f: &dyn Fn()| {
        let start = Instant::now();
        for _ in 0..N {
            f();
        }
        start.elapsed() / N
    };
    let (mut m, mut r) = (Vec::new(), Vec::new());
    for _ in 0..7 {
        m.push(time(&in_memory));
        r.push(time(&redis_warm_view));
    }
    m.sort();
    r.sort();
    println!(
        "{name}: in_memory {:?}, redis_warm_view {:?} per check: ratio {:.2}",
        m[3],
        r[3],
        r[3].as_secs_f64() / m[3].as_secs_f64()
    );
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let memory = Arc::new(InMemoryRevocationStore::new());
    let redis = redis(&rt);

    // Some revoked sessions, so the checks do the map lookup rather than the empty shortcut.
    let far = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    rt.block_on(async {
        for i in 0..1000 {
            let s = format!("revoked-{i}");
            memory.revoke_session(&s, far).await.unwrap();
            if let Some(r) = &redis {
                r.revoke_session(&s, far).await.unwrap();
            }
        }
    });

    let mut g = c.benchmark_group("is_session_revoked");
    g.bench_function("in_memory", |b| {
        b.iter(|| now_or_never(memory.is_session_revoked(black_box("live"))).unwrap())
    });
    if let Some(r) = &redis {
        g.bench_function("redis_warm_view", |b| {
            b.iter(|| {
                assert!(r.view_is_fresh(), "the view went stale during the bench");
                now_or_never(r.is_session_revoked(black_box("live"))).unwrap()
            })
        });
        let direct = rt
            .block_on(RedisRevocationStore::connect_with(
                &std::env::var("KEYCARD_REDIS_URL")
                    .unwrap_or_else(|_| "redis://127.0.0.1:6379".into()),
                RedisStoreConfig::new()
                    .prefix(r.config().get_prefix())
                    .local_view(false),
            ))
            .unwrap();
        g.bench_function("redis_direct_lookup", |b| {
            b.iter(|| {
                rt.block_on(direct.is_session_revoked(black_box("live")))
                    .unwrap()
            })
        });
    }
    g.finish();
    if let Some(r) = &redis {
        ratio(
            "is_session_revoked",
            || assert!(!now_or_never(memory.is_session_revoked(black_box("live"))).unwrap()),
            || assert!(!now_or_never(r.is_session_revoked(black_box("live"))).unwrap()),
        );
        assert!(r.view_is_fresh(), "the view went stale during the ratio");
    }

    let mut g = c.benchmark_group("verify_access");
    let mem_service = service(memory.clone());
    let token = rt
        .block_on(mem_service.obtain("alice", "alice-password"))
        .unwrap()
        .access;
    g.bench_function("in_memory", |b| {
        b.iter(|| now_or_never(mem_service.verify_access(black_box(&token))).unwrap())
    });
    if let Some(r) = &redis {
        let redis_service = service(Arc::new(r.clone()));
        let redis_token = rt
            .block_on(redis_service.obtain("alice", "alice-password"))
            .unwrap()
            .access;
        g.bench_function("redis_warm_view", |b| {
            b.iter(|| now_or_never(redis_service.verify_access(black_box(&redis_token))).unwrap())
        });
        g.finish();
        ratio(
            "verify_access",
            || drop(now_or_never(mem_service.verify_access(black_box(&token))).unwrap()),
            || drop(now_or_never(redis_service.verify_access(black_box(&redis_token))).unwrap()),
        );
        assert!(r.view_is_fresh(), "the view went stale during the ratio");
    } else {
        g.finish();
    }
}

criterion_group!(session_check, benches);
criterion_main!(session_check);
