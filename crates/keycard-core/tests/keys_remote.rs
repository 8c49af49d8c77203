//! Keys from another service (feature `remote-keys`): cases AD6, AD7 and LX4 against a JWKS /
//! OpenID Connect server on loopback, started by each test, counting fetches on its side;
//! many requests during a slow refresh; the simplejwt RS256 fixture through a served JWKS.

// A failing test panics with the value: unwrap is the report. AuthError's size is the
// library's business, not the tests'.
#![allow(clippy::unwrap_used, clippy::result_large_err)]

#[path = "support/jwks_server.rs"]
mod jwks_server;

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use jwks_server::{Reply, Server};
use keycard_core::token::{KeySourceError, RemoteKeys};
use keycard_core::{
    Algorithm, AuthError, Challenge, FrozenClock, InMemoryUserStore, Key, Settings, TokenService,
    User,
};
use serde_json::{Value, json};

fn key_file(name: &str) -> Vec<u8> {
    std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/keys")
            .join(name),
    )
    .unwrap()
}

fn ed(kid: &str) -> Key {
    Key::generate_ed25519().unwrap().with_kid(kid)
}

fn rsa(alg: Algorithm, kid: &str) -> Key {
    Key::private_pem(alg, &key_file("rsa_private.pem"))
        .unwrap()
        .with_kid(kid)
}

fn jwks(keys: &[&Key]) -> Value {
    json!({ "keys": keys.iter().map(|k| k.public_jwk_value().unwrap()).collect::<Vec<_>>() })
}

/// An issuer signing with `key`.
fn issuer(key: Key) -> TokenService {
    let settings = Settings::builder().signing_key(key).build().unwrap();
    TokenService::builder(settings)
        .users(InMemoryUserStore::new())
        .build()
        .unwrap()
}

async fn mint(key: &Key) -> String {
    issuer(key.clone())
        .obtain_for(&User::new("42", "alice"))
        .await
        .unwrap()
        .access
}

/// A service that only verifies, with keys from `remote`.
fn resource(remote: &RemoteKeys) -> TokenService {
    let settings = Settings::builder().key_source(remote).build().unwrap();
    TokenService::builder(settings)
        .users(InMemoryUserStore::new())
        .build()
        .unwrap()
}

fn assert_invalid(r: Result<keycard_core::Claims, AuthError>) {
    // As an authenticator renders it: the token service's errors carry no challenge.
    let e = r
        .unwrap_err()
        .with_challenge(Some(Challenge::bearer("api")));
    assert_eq!(
        (e.status().as_u16(), e.code()),
        (401, "token_not_valid"),
        "{e:?}"
    );
}

fn assert_unavailable(r: Result<keycard_core::Claims, AuthError>) {
    let e = r.unwrap_err();
    assert_eq!(
        (e.status().as_u16(), e.code()),
        (503, "service_unavailable"),
        "{e:?}"
    );
}

/// Every log line of the test binary (the fetches run in spawned tasks, on any thread, so
/// one global subscriber writes here); tests pick theirs by their server's URL.
fn logs() -> &'static Mutex<Vec<u8>> {
    static LOGS: OnceLock<Mutex<Vec<u8>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        struct W;
        impl Write for W {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                logs().lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let _ = tracing::subscriber::set_global_default(
            tracing_subscriber::fmt()
                .with_writer(|| W)
                .with_ansi(false)
                .with_max_level(tracing::Level::INFO)
                .finish(),
        );
        Mutex::new(Vec::new())
    })
}

fn error_lines_about(needle: &str) -> Vec<String> {
    let text = String::from_utf8_lossy(&logs().lock().unwrap()).into_owned();
    text.lines()
        .filter(|l| l.contains("ERROR") && l.contains(needle))
        .map(str::to_owned)
        .collect()
}

async fn serve(keys: &[&Key]) -> Server {
    let _ = logs();
    let server = Server::start().await;
    server.set(&server.jwks, Reply::json(&jwks(keys)));
    server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ad6_unknown_kid_refetches_once_per_cool_down_however_many_requests() {
    let a = ed("a");
    let server = serve(&[&a]).await;
    let remote = RemoteKeys::jwks_url(&server.url(&server.jwks))
        .cool_down(Duration::from_millis(500))
        .build()
        .unwrap();
    let svc = resource(&remote);
    svc.verify_access(&mint(&a).await).await.unwrap();
    assert_eq!(server.hits(&server.jwks), 1);
    // The first fetch opened a cool-down window of its own.
    let ghost = mint(&ed("ghost")).await;
    assert_invalid(svc.verify_access(&ghost).await);
    assert_eq!(server.hits(&server.jwks), 1);
    tokio::time::sleep(Duration::from_millis(550)).await;

    // 100 requests at once with a kid the issuer never published.
    let all: Vec<_> = (0..100)
        .map(|_| {
            let (svc, t) = (svc.clone(), ghost.clone());
            tokio::spawn(async move { svc.verify_access(&t).await })
        })
        .collect();
    for h in all {
        assert_invalid(h.await.unwrap());
    }
    assert_eq!(server.hits(&server.jwks), 2, "one refetch for all of them");
    // Still inside the cool-down: no fetch at all.
    for _ in 0..20 {
        assert_invalid(svc.verify_access(&ghost).await);
    }
    assert_eq!(server.hits(&server.jwks), 2);
    // The known key never stopped working.
    svc.verify_access(&mint(&a).await).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lx4_new_kid_accepted_after_one_refetch_and_retired_kid_refused() {
    let (a, b) = (ed("a"), ed("b"));
    let server = serve(&[&a]).await;
    let remote = RemoteKeys::jwks_url(&server.url(&server.jwks))
        .cool_down(Duration::from_millis(300))
        .build()
        .unwrap();
    assert_eq!(remote.refresh().await.unwrap(), 1);
    let svc = resource(&remote);
    let (token_a, token_b) = (mint(&a).await, mint(&b).await);

    // The issuer publishes b: a token signed with it triggers the refetch and passes.
    server.set(&server.jwks, Reply::json(&jwks(&[&a, &b])));
    tokio::time::sleep(Duration::from_millis(350)).await;
    svc.verify_access(&token_b).await.unwrap();
    assert_eq!(server.hits(&server.jwks), 2);

    // The issuer retires a: once refetched, its tokens are refused.
    server.set(&server.jwks, Reply::json(&jwks(&[&b])));
    tokio::time::sleep(Duration::from_millis(350)).await;
    svc.verify_access(&token_a).await.unwrap(); // still in the cached set: no fetch
    assert_eq!(server.hits(&server.jwks), 2);
    assert_invalid(svc.verify_access(&mint(&ed("c")).await).await); // refetch: a is gone
    assert_eq!(server.hits(&server.jwks), 3);
    assert_invalid(svc.verify_access(&token_a).await);
    svc.verify_access(&token_b).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ad6_token_without_kid_is_401_when_the_set_has_several_keys() {
    let one = Key::generate_ed25519().unwrap(); // no kid: its tokens carry none
    let server = serve(&[&ed("a"), &ed("b")]).await;
    let remote = RemoteKeys::jwks_url(&server.url(&server.jwks))
        .build()
        .unwrap();
    let svc = resource(&remote);
    assert_invalid(svc.verify_access(&mint(&one).await).await);

    // With a single key, a token without kid names it unambiguously.
    let single = serve(&[&one]).await;
    let remote = RemoteKeys::jwks_url(&single.url(&single.jwks))
        .build()
        .unwrap();
    resource(&remote)
        .verify_access(&mint(&one).await)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ad6_server_down_keeps_the_last_good_keys_with_one_error_line() {
    let a = ed("a");
    let server = serve(&[&a]).await;
    let url = server.url(&server.jwks);
    let remote = RemoteKeys::jwks_url(&url)
        .ttl(Duration::from_millis(100))
        .cool_down(Duration::from_secs(1))
        .build()
        .unwrap();
    let svc = resource(&remote);
    let token = mint(&a).await;
    svc.verify_access(&token).await.unwrap();

    server.stop();
    // Stale, and past the cool-down of the first fetch: the next request refreshes.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    for _ in 0..50 {
        svc.verify_access(&token).await.unwrap();
    }
    // The background fetch fails; the cool-down holds back every other request.
    tokio::time::sleep(Duration::from_millis(300)).await;
    for _ in 0..50 {
        svc.verify_access(&token).await.unwrap();
    }
    let errors = error_lines_about(&url);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0].contains("keeping the last good keys"),
        "{}",
        errors[0]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ad6_server_down_without_any_keys_is_503_with_one_error_line() {
    let server = serve(&[]).await;
    let url = server.url(&server.jwks);
    server.stop();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let remote = RemoteKeys::jwks_url(&url).build().unwrap();
    let svc = resource(&remote);
    let token = mint(&ed("a")).await;
    for _ in 0..20 {
        assert_unavailable(svc.verify_access(&token).await);
    }
    let errors = error_lines_about(&url);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(errors[0].contains("could not connect"), "{}", errors[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ad6_past_max_stale_the_last_good_keys_expire_into_503() {
    let a = ed("a");
    let server = serve(&[&a]).await;
    let remote = RemoteKeys::jwks_url(&server.url(&server.jwks))
        .ttl(Duration::from_millis(100))
        .max_stale(Duration::from_millis(400))
        .cool_down(Duration::from_millis(100))
        .build()
        .unwrap();
    let svc = resource(&remote);
    let token = mint(&a).await;
    svc.verify_access(&token).await.unwrap();
    server.set(&server.jwks, Reply::raw(500, "oops"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    svc.verify_access(&token).await.unwrap(); // stale but within max_stale
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_unavailable(svc.verify_access(&token).await);
    // The server recovers: keys again, without a restart.
    server.set(&server.jwks, Reply::json(&jwks(&[&a])));
    tokio::time::sleep(Duration::from_millis(150)).await;
    svc.verify_access(&token).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ad6_a_body_that_is_not_a_jwks_names_the_url_and_says_a_jwks_was_expected() {
    let server = serve(&[]).await;
    server.set(&server.jwks, Reply::raw(200, "<html>login page</html>"));
    let url = server.url(&server.jwks);
    let remote = RemoteKeys::jwks_url(&url).build().unwrap();
    let e = remote.refresh().await.unwrap_err();
    assert!(matches!(e, KeySourceError::NotAJwks { .. }), "{e:?}");
    let text = e.to_string();
    assert!(
        text.contains(&url) && text.contains("expected a JWKS"),
        "{text}"
    );
    assert_eq!(error_lines_about(&url).len(), 1);
    assert_unavailable(resource(&remote).verify_access(&mint(&ed("a")).await).await);

    // A JWKS whose every entry is unusable keeps no keys either, and says why.
    server.set(
        &server.jwks,
        Reply::json(&json!({"keys": [{"kty": "oct", "kid": "h", "k": "c2VjcmV0"}]})),
    );
    let e = remote.refresh().await.unwrap_err();
    assert!(
        e.to_string().contains(&url) && e.to_string().contains("\"h\": not an asymmetric key"),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ad6_unusable_entries_are_ignored_and_no_jwks_makes_an_hmac_key() {
    let a = rsa(Algorithm::RS256, "a");
    let secret = [7u8; 32];
    let k = base64_url(&secret);
    let server = serve(&[]).await;
    let mut doc = jwks(&[&a]);
    let entries = doc["keys"].as_array_mut().unwrap();
    entries.push(json!({"kty": "oct", "kid": "h", "k": k, "alg": "HS256"}));
    let mut with_d = a.public_jwk_value().unwrap();
    with_d.common.key_id = Some("private".into());
    let mut with_d = serde_json::to_value(with_d).unwrap();
    with_d["d"] = json!("AAAA");
    entries.push(with_d);
    let mut enc = serde_json::to_value(a.public_jwk_value().unwrap()).unwrap();
    enc["kid"] = json!("enc");
    enc["use"] = json!("enc");
    entries.push(enc);
    entries.push(json!({"kty": "XYZ", "kid": "strange"}));
    server.set(&server.jwks, Reply::json(&doc));

    let remote = RemoteKeys::jwks_url(&server.url(&server.jwks))
        .build()
        .unwrap();
    assert_eq!(remote.refresh().await.unwrap(), 1);
    let svc = resource(&remote);
    svc.verify_access(&mint(&a).await).await.unwrap();
    // A token signed with the oct "key" as an HMAC secret, naming it.
    let hmac = Key::hmac(Algorithm::HS256, &secret).unwrap().with_kid("h");
    assert_invalid(svc.verify_access(&mint(&hmac).await).await);
    // AX3: the RSA key is pinned to RS256; PS256 and RS512 with the same key are refused.
    for alg in [Algorithm::PS256, Algorithm::RS512] {
        assert_invalid(svc.verify_access(&mint(&rsa(alg, "a")).await).await);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ad7_discovery_with_a_path_fetches_exactly_its_document() {
    let a = ed("a");
    for configured in ["/realms/a", "/realms/a/"] {
        let server = serve(&[&a]).await;
        let issuer = server.url(configured);
        let discovered_issuer = server.url("/realms/a");
        let certs = "/realms/a/protocol/openid-connect/certs";
        server.set(
            "/realms/a/.well-known/openid-configuration",
            Reply::json(&json!({"issuer": discovered_issuer, "jwks_uri": server.url(certs)})),
        );
        server.set(certs, Reply::json(&jwks(&[&a])));
        let remote = RemoteKeys::oidc_issuer(&issuer).build().unwrap();
        let svc = resource(&remote);
        svc.verify_access(&mint(&a).await).await.unwrap();
        let hits = server.all_hits();
        assert_eq!(hits.len(), 2, "{configured}: {hits:?}");
        assert_eq!(hits["/realms/a/.well-known/openid-configuration"], 1);
        assert_eq!(hits[certs], 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ad7_the_discovered_issuer_must_be_the_configured_one() {
    let server = serve(&[]).await;
    server.set(
        "/realms/a/.well-known/openid-configuration",
        Reply::json(
            &json!({"issuer": server.url("/realms/evil"), "jwks_uri": server.url(&server.jwks)}),
        ),
    );
    let remote = RemoteKeys::oidc_issuer(&server.url("/realms/a"))
        .build()
        .unwrap();
    let e = remote.refresh().await.unwrap_err();
    assert!(matches!(e, KeySourceError::IssuerMismatch { .. }), "{e:?}");
    assert!(e.to_string().contains("/realms/evil"), "{e}");
    assert_eq!(
        server.hits(&server.jwks),
        0,
        "the keys of a mismatched issuer are never fetched"
    );
    assert_unavailable(resource(&remote).verify_access(&mint(&ed("a")).await).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_requests_in_flight_during_a_slow_refresh_all_succeed() {
    let a = ed("a");
    let server = serve(&[&a]).await;
    let remote = RemoteKeys::jwks_url(&server.url(&server.jwks))
        .ttl(Duration::from_millis(100))
        .cool_down(Duration::from_millis(50))
        .build()
        .unwrap();
    let svc = resource(&remote);
    let token = mint(&a).await;
    svc.verify_access(&token).await.unwrap();
    // Every fetch from now on takes 2 s.
    server.set(
        &server.jwks,
        Reply::json(&jwks(&[&a])).slow(Duration::from_secs(2)),
    );
    tokio::time::sleep(Duration::from_millis(150)).await;

    let started = Instant::now();
    let all: Vec<_> = (0..200)
        .map(|_| {
            let (svc, t) = (svc.clone(), token.clone());
            tokio::spawn(async move { svc.verify_access(&t).await })
        })
        .collect();
    for h in all {
        h.await.unwrap().unwrap();
    }
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "requests waited for the refresh: {:?}",
        started.elapsed()
    );
    // One background refresh for all of them, still in flight.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(server.hits(&server.jwks), 2);

    // A slow refetch for an unknown kid does not hold back tokens of known keys either.
    tokio::time::sleep(Duration::from_millis(2100)).await; // the refresh is done
    let ghost = mint(&ed("ghost")).await;
    let waiting = {
        let svc = svc.clone();
        tokio::spawn(async move { svc.verify_access(&ghost).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    for _ in 0..100 {
        svc.verify_access(&token).await.unwrap();
    }
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert!(
        !waiting.is_finished(),
        "the unknown kid waits for its refetch"
    );
    assert_invalid(waiting.await.unwrap());
    assert_eq!(server.hits(&server.jwks), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixtures_simplejwt_rs256_token_verifies_through_a_served_jwks() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/simplejwt/tokens.json");
    let Ok(bytes) = std::fs::read(&path) else {
        eprintln!(
            "SKIPPED: simplejwt fixtures not found at {}; nothing checked",
            path.display()
        );
        return;
    };
    let f: Value = serde_json::from_slice(&bytes).unwrap();
    let public = Key::public_pem(
        Algorithm::RS256,
        f["rs256_public_pem"].as_str().unwrap().as_bytes(),
    )
    .unwrap();
    let token = f["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["alg"] == "RS256")
        .unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let server = serve(&[&public]).await;
    let remote = RemoteKeys::jwks_url(&server.url(&server.jwks))
        .build()
        .unwrap();
    let s = &f["settings"];
    let settings = Settings::builder()
        .key_source(&remote)
        .issuer(s["issuer"].as_str().unwrap())
        .audience(s["audience"].as_str().unwrap())
        .clock(Arc::new(FrozenClock::new(
            f["minted_at"].as_u64().unwrap() + 1,
        )))
        .build()
        .unwrap();
    let svc = TokenService::builder(settings)
        .users(InMemoryUserStore::new())
        .build()
        .unwrap();
    let claims = svc.verify_access(&token).await.unwrap();
    assert_eq!(claims.user_id(), "1");
    assert_eq!(server.hits(&server.jwks), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resource_service_cannot_sign() {
    let server = serve(&[&ed("a")]).await;
    let remote = RemoteKeys::jwks_url(&server.url(&server.jwks))
        .build()
        .unwrap();
    let e = resource(&remote)
        .obtain_for(&User::new("1", "alice"))
        .await
        .unwrap_err();
    assert_eq!(e.status().as_u16(), 500);
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_right_after_a_refresh_fetches_anew_instead_of_rejoining_the_finished_one() {
    let server = serve(&[&ed("a")]).await;
    let remote = RemoteKeys::jwks_url(&server.url(&server.jwks))
        .build()
        .unwrap();
    for round in 1..=20 {
        let n = if round % 2 == 0 { 1 } else { 2 };
        let keys: Vec<Key> = (0..n).map(|i| ed(&format!("k{i}"))).collect();
        server.set(
            &server.jwks,
            Reply::json(&jwks(&keys.iter().collect::<Vec<_>>())),
        );
        assert_eq!(remote.refresh().await.unwrap(), n, "round {round}");
    }
    assert_eq!(server.hits(&server.jwks), 20);
}
