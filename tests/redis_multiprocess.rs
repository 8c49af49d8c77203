//! Multi-process end to end on a real Redis (issue 6): two processes of the axum contract app
//! (`examples/axum_app.rs`) on two ports, sharing one redis-server of the test's own through
//! `KEYCARD_REDIS_URL` and a random `KEYCARD_REDIS_PREFIX`, driven over HTTP by reqwest.
//!
//! - A logout on one process ends the session on the other within the store's documented
//!   staleness bound (`RedisStoreConfig::max_staleness`, default 1 s).
//! - Ten concurrent refreshes of one token, spread over both processes: exactly one succeeds.
//! - Redis stops: login, refresh and logout answer 503 `service_unavailable`, a session
//!   revoked before the outage stays refused, a live one fails closed; Redis starts again on
//!   the same port: service resumes without restarting the apps.
//!
//! The app binary: `cargo test` builds the package's examples along with its tests. When it
//! is missing, or older than the sources it is built from (`cargo test --test
//! redis_multiprocess` alone does not build examples), the test builds it with `cargo build
//! --example axum_app`. `KEYCARD_AXUM_APP_BIN` names another binary to use instead.
//!
//! Needs `redis-server` (7.0 or later) on the `PATH`. Without it each test prints a SKIPPED
//! banner to stderr and passes — unless `KEYCARD_REQUIRE_REDIS=1` (set by `.ci/run`), which
//! fails it. Every process a test starts is killed when the test ends, however it ends
//! (drop guards; a test runner that is itself SIGKILLed cannot clean up).

#![allow(missing_docs, clippy::unwrap_used)]

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant, SystemTime};

use reqwest::StatusCode;
use serde_json::{Value, json};

// --- skipping loudly ---------------------------------------------------------------------

fn required() -> bool {
    std::env::var("KEYCARD_REQUIRE_REDIS").is_ok_and(|v| v.trim() == "1")
}

/// Says loudly that `test` was skipped, or fails it when Redis is required.
fn skip(test: &str, why: &str) {
    if required() {
        panic!("KEYCARD_REQUIRE_REDIS=1 but {test} cannot run: {why}");
    }
    // Straight to the process's stderr: libtest captures `eprintln!` of passing tests, and a
    // skip must be seen.
    let banner = format!(
        "\n********************************************************************************\n\
         *** SKIPPED {test}: {why}\n\
         *** (install redis-server 7.0+; KEYCARD_REQUIRE_REDIS=1 makes this fail)\n\
         ********************************************************************************\n"
    );
    let _ = std::io::stderr().write_all(banner.as_bytes());
}

/// A few random bytes, hex: enough to keep runs and tests apart on one machine.
fn random_hex() -> String {
    use std::hash::{BuildHasher, RandomState};
    let n = RandomState::new().hash_one((std::process::id(), SystemTime::now()));
    format!("{n:016x}")
}

// --- a redis-server of the test's own ----------------------------------------------------

/// A redis-server on a free port, with its data in a directory of its own (append-only
/// file, fsync on every write: what was acknowledged survives a crash), killed and removed
/// when dropped.
struct RedisServer {
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts one; `None` (after skipping loudly, or failing when Redis is required) when the
    /// `redis-server` binary is missing.
    fn start(test: &str) -> Option<Self> {
        match Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
        {
            Ok(s) if s.success() => {}
            Ok(s) => {
                skip(test, &format!("`redis-server --version` failed ({s})"));
                return None;
            }
            Err(e) => {
                skip(test, &format!("redis-server is not installed ({e})"));
                return None;
            }
        }
        // A few tries: the port found free may be taken before the server binds it.
        let mut last_log = String::new();
        for _ in 0..3 {
            let port = free_port();
            let dir =
                std::env::temp_dir().join(format!("keycard-multiprocess-{port}-{}", random_hex()));
            std::fs::create_dir_all(&dir).unwrap();
            let mut server = Self {
                port,
                dir,
                child: None,
            };
            server.spawn();
            if server.wait_up(Duration::from_secs(20)) {
                return Some(server);
            }
            last_log = server.log();
        }
        panic!("redis-server never answered PING; its last log:\n{last_log}");
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ])
            .arg("--dir")
            .arg(&self.dir)
            .arg("--logfile")
            .arg(self.dir.join("redis.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
    }

    /// Whether the server answers `PING` with `PONG` (not `LOADING`) within `within`.
    fn wait_up(&mut self, within: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < within {
            if let Some(Ok(Some(_))) = self.child.as_mut().map(Child::try_wait) {
                return false; // it exited (port taken?)
            }
            if ping(self.port) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// Kills the server, as a crash would.
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the server again on the same port, with the data it had.
    fn restart(&mut self) {
        self.kill();
        // The port is free once the old process is reaped; retry in case the kernel is slow.
        for _ in 0..20 {
            self.spawn();
            if self.wait_up(Duration::from_secs(10)) {
                return;
            }
            self.kill();
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!(
            "could not restart redis-server on port {}; its log:\n{}",
            self.port,
            self.log()
        );
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A free port below Linux's ephemeral range (32768+), so that the outgoing connections the
/// kernel numbers meanwhile cannot take it while the server is down for the outage test.
fn free_port() -> u16 {
    let seed = u64::from_str_radix(&random_hex(), 16).unwrap();
    (0..200u64)
        .map(|i| 21_000 + ((seed.wrapping_add(i.wrapping_mul(7_919))) % 11_000) as u16)
        .find(|&p| TcpListener::bind(("127.0.0.1", p)).is_ok())
        .expect("no free port in 21000..32000")
}

/// `PING` over a plain socket: `+PONG` when the server is up and done loading.
fn ping(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    if s.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 64];
    matches!(s.read(&mut buf), Ok(n) if buf[..n].starts_with(b"+PONG"))
}

// --- the axum example app, as a process ----------------------------------------------------

/// The package's features this test was built with, so that a build of the example here
/// matches the one `cargo test` made.
fn features() -> Vec<&'static str> {
    let mut f = Vec::new();
    if cfg!(feature = "rust_crypto") {
        f.push("rust_crypto");
    }
    if cfg!(feature = "aws_lc_rs") {
        f.push("aws_lc_rs");
    }
    if cfg!(feature = "actix") {
        f.push("actix");
    }
    if cfg!(feature = "tower") {
        f.push("tower");
    }
    if cfg!(feature = "axum") {
        f.push("axum");
    }
    if cfg!(feature = "redis") {
        f.push("redis");
    }
    f
}

/// The newest modification time of the files under `path`.
fn newest(path: &Path) -> Option<SystemTime> {
    let meta = std::fs::metadata(path).ok()?;
    if meta.is_file() {
        return meta.modified().ok();
    }
    std::fs::read_dir(path)
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| newest(&e.path()))
        .max()
}

/// The axum example's binary, built if it is missing or older than its sources. Once per
/// test process.
fn axum_app_binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("KEYCARD_AXUM_APP_BIN") {
            return PathBuf::from(bin);
        }
        // target/<profile>/deps/redis_multiprocess-<hash> → target/<profile>/examples/axum_app
        let exe = std::env::current_exe().unwrap();
        let profile_dir = exe.parent().and_then(Path::parent).unwrap().to_owned();
        let bin = profile_dir
            .join("examples")
            .join(format!("axum_app{}", std::env::consts::EXE_SUFFIX));
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let sources = [
            "Cargo.toml",
            "Cargo.lock",
            "src",
            "examples/axum_app.rs",
            "examples/common",
            "crates/keycard-core/src",
            "crates/keycard-core/Cargo.toml",
            "crates/keycard-redis/src",
            "crates/keycard-redis/Cargo.toml",
            "crates/keycard-tower/src",
            "crates/keycard-tower/Cargo.toml",
            "crates/keycard-axum/src",
            "crates/keycard-axum/Cargo.toml",
        ];
        let sources_at = sources.iter().filter_map(|p| newest(&root.join(p))).max();
        let built_at = std::fs::metadata(&bin).and_then(|m| m.modified()).ok();
        let fresh = matches!((built_at, sources_at), (Some(b), Some(s)) if b >= s);
        if fresh {
            return bin;
        }
        let _ = writeln!(
            std::io::stderr(),
            "redis_multiprocess: {} is {}; building it (cargo build --example axum_app)",
            bin.display(),
            if built_at.is_some() {
                "older than its sources"
            } else {
                "missing"
            }
        );
        let mut cargo = Command::new(env!("CARGO"));
        cargo
            .current_dir(root)
            .args(["build", "--quiet", "-p", "keycard", "--example", "axum_app"])
            .args(["--no-default-features", "--features", &features().join(",")]);
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            cargo.arg("--release");
        }
        if let Some(target_dir) = profile_dir.parent() {
            cargo.env("CARGO_TARGET_DIR", target_dir);
        }
        let ok = cargo.status().is_ok_and(|s| s.success());
        match (ok, built_at) {
            (true, _) => {}
            // A colleague's half-saved file must not take this test down: an older build of
            // the app still serves the contract.
            (false, Some(_)) => {
                let _ = writeln!(
                    std::io::stderr(),
                    "redis_multiprocess: WARNING: the build failed; using the older {}",
                    bin.display()
                );
            }
            (false, None) => panic!("cargo build --example axum_app failed"),
        }
        assert!(bin.exists(), "no app binary at {}", bin.display());
        bin
    })
    .clone()
}

/// One process of the axum example, killed when dropped (its log printed when the test is
/// failing).
struct App {
    name: &'static str,
    base: String,
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
}

impl App {
    /// Starts the app on a port of its choosing (`KEYCARD_ADDR=127.0.0.1:0`), on the Redis at
    /// `redis_url` under `prefix`, and waits for its start-up line.
    fn start(name: &'static str, bin: &Path, redis_url: &str, prefix: &str) -> Self {
        let mut cmd = Command::new(bin);
        // Nothing from the test's own environment (CI sets KEYCARD_REDIS_URL to its shared
        // server) but what is set here.
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("KEYCARD_") {
                cmd.env_remove(k);
            }
        }
        let mut child = cmd
            .env("KEYCARD_ADDR", "127.0.0.1:0")
            .env("KEYCARD_REDIS_URL", redis_url)
            .env("KEYCARD_REDIS_PREFIX", prefix)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        let lines = log.clone();
        // Drains the app's stderr for its whole life (a full pipe would block it).
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.split("listening on http://").nth(1) {
                    let addr = rest.split_whitespace().next().unwrap_or("").to_owned();
                    let _ = tx.send(addr);
                }
                lines.lock().unwrap_or_else(|e| e.into_inner()).push(line);
            }
        });
        let mut app = Self {
            name,
            base: String::new(),
            child,
            log,
        };
        let start = Instant::now();
        loop {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(addr) => {
                    app.base = format!("http://{addr}");
                    return app;
                }
                Err(_) if start.elapsed() > Duration::from_secs(60) => {
                    panic!("app {name} did not start within 60 s")
                }
                Err(_) => {
                    if let Ok(Some(status)) = app.child.try_wait() {
                        panic!("app {name} exited at start-up ({status})");
                    }
                }
            }
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Whether the process is still the one started (never restarted, never crashed).
    fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let log = self.log.lock().unwrap_or_else(|e| e.into_inner());
            let tail = &log[log.len().saturating_sub(60)..];
            let _ = writeln!(
                std::io::stderr(),
                "--- last lines of app {} ({}) ---\n{}\n---",
                self.name,
                self.base,
                tail.join("\n")
            );
        }
    }
}

/// One Redis, two app processes sharing it under one random prefix.
struct Setup {
    // Fields drop in order: the apps first, then the server.
    a: App,
    b: App,
    redis: RedisServer,
    http: reqwest::Client,
}

impl Setup {
    async fn start(test: &str) -> Option<Self> {
        let redis = tokio::task::block_in_place(|| RedisServer::start(test))?;
        let bin = tokio::task::spawn_blocking(axum_app_binary).await.unwrap();
        let prefix = format!("kcmp:{test}:{}", random_hex());
        let url = redis.url();
        let (a, b) = tokio::task::spawn_blocking(move || {
            let a = App::start("A", &bin, &url, &prefix);
            let b = App::start("B", &bin, &url, &prefix);
            (a, b)
        })
        .await
        .unwrap();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .build()
            .unwrap();
        Some(Self { a, b, redis, http })
    }
}

// --- HTTP ----------------------------------------------------------------------------------

struct Answer {
    status: StatusCode,
    content_type: String,
    body: Value,
}

impl Answer {
    fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }

    fn str(&self, field: &str) -> String {
        self.body[field]
            .as_str()
            .unwrap_or_else(|| panic!("no {field} in {}", self.body))
            .to_owned()
    }
}

async fn answer(req: reqwest::RequestBuilder) -> Answer {
    let res = req.send().await.expect("the app answers");
    let status = res.status();
    let content_type = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let bytes = res.bytes().await.unwrap();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Answer {
        status,
        content_type,
        body,
    }
}

async fn post(http: &reqwest::Client, app: &App, path: &str, body: Value) -> Answer {
    answer(http.post(app.url(path)).json(&body)).await
}

async fn login(http: &reqwest::Client, app: &App) -> Answer {
    post(
        http,
        app,
        "/api/token/",
        json!({ "username": "alice", "password": "alice-password" }),
    )
    .await
}

async fn refresh(http: &reqwest::Client, app: &App, refresh: &str) -> Answer {
    post(
        http,
        app,
        "/api/token/refresh/",
        json!({ "refresh": refresh }),
    )
    .await
}

async fn logout(http: &reqwest::Client, app: &App, refresh: &str) -> Answer {
    post(
        http,
        app,
        "/api/token/blacklist/",
        json!({ "refresh": refresh }),
    )
    .await
}

async fn me(http: &reqwest::Client, app: &App, access: &str) -> Answer {
    answer(http.get(app.url("/api/me/")).bearer_auth(access)).await
}

/// A token pair from a 200 answer.
fn pair(a: &Answer) -> (String, String) {
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    (a.str("access"), a.str("refresh"))
}

fn assert_refused(a: &Answer, what: &str) {
    assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{what}: {}", a.body);
    assert_eq!(a.code(), "token_not_valid", "{what}: {}", a.body);
}

/// The contract's 503: JSON, `code: "service_unavailable"`, a `detail`.
fn assert_unavailable(a: &Answer, what: &str) {
    assert_eq!(
        a.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{what}: {}",
        a.body
    );
    assert!(
        a.content_type.starts_with("application/json"),
        "{what}: content-type {:?}",
        a.content_type
    );
    assert_eq!(a.code(), "service_unavailable", "{what}: {}", a.body);
    assert!(a.body["detail"].is_string(), "{what}: {}", a.body);
}

/// The documented staleness bound: the store's default `max_staleness` (the apps run with the
/// defaults).
fn bound() -> Duration {
    keycard_redis::RedisStoreConfig::new().get_max_staleness()
}

/// Slack on top of the bound for the HTTP round trips of a loaded machine.
const MARGIN: Duration = Duration::from_secs(2);

/// After a revocation that returned (to the client) at `revoked_at`, polls `access` on `app`
/// until it is refused; asserts that every request it let through started within the bound
/// (the store's guarantee: a check starting `max_staleness` after the revocation returned
/// answers "revoked"), and that a request started past the bound is refused. Returns the
/// observed staleness: from the revocation's return to the start of the first refused request.
async fn refused_within_bound(
    http: &reqwest::Client,
    app: &App,
    access: &str,
    revoked_at: Instant,
) -> Duration {
    let observed = loop {
        let started = Instant::now();
        let a = me(http, app, access).await;
        let since = started - revoked_at;
        if a.status == StatusCode::UNAUTHORIZED {
            assert_refused(&a, "access after logout");
            break since;
        }
        assert_eq!(
            a.status,
            StatusCode::OK,
            "app {}: only 200 or 401 while Redis is up: {}",
            app.name,
            a.body
        );
        assert!(
            since < bound(),
            "app {} let a revoked session through {since:?} after the revocation returned \
             (bound {:?})",
            app.name,
            bound()
        );
        assert!(since < bound() + MARGIN, "never refused");
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    // Past the bound, whatever the path: refused.
    let wait = (revoked_at + bound()).saturating_duration_since(Instant::now());
    tokio::time::sleep(wait).await;
    assert_refused(&me(http, app, access).await, "access past the bound");
    observed
}

// --- the tests -----------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_on_one_process_ends_the_session_on_the_other_within_the_staleness_bound() {
    let test = "logout_on_one_process_ends_the_session_on_the_other_within_the_staleness_bound";
    let Some(mut s) = Setup::start(test).await else {
        return;
    };
    let http = s.http.clone();
    let mut worst = Duration::ZERO;
    // Six rounds, the two processes swapping parts: `a` logs in, `b` refreshes and logs out.
    for round in 0..6 {
        let (a, b) = if round % 2 == 0 {
            (&s.a, &s.b)
        } else {
            (&s.b, &s.a)
        };

        // Login on `a`, refresh on `b`: `b` spends what `a` recorded.
        let (access1, refresh1) = pair(&login(&http, a).await);
        let (access2, refresh2) = pair(&refresh(&http, b, &refresh1).await);
        for app in [a, b] {
            for access in [&access1, &access2] {
                let r = me(&http, app, access).await;
                assert_eq!(r.status, StatusCode::OK, "app {}: {}", app.name, r.body);
                assert_eq!(r.body["username"], "alice");
            }
        }
        // The rotated token is spent for `a` too (verify refuses it without spending it
        // again, which would be reuse).
        let v = post(&http, a, "/api/token/verify/", json!({ "token": refresh1 })).await;
        assert_refused(&v, "verifying a token spent on the other process");

        // Logout on `b`; `a` refuses the session within the bound.
        let out = logout(&http, b, &refresh2).await;
        assert_eq!(out.status, StatusCode::OK, "{}", out.body);
        let revoked_at = Instant::now();
        let observed = refused_within_bound(&http, a, &access2, revoked_at).await;
        worst = worst.max(observed);
        eprintln!(
            "{test}: round {round}: the logout on {} was seen by {} after at most {observed:?}",
            b.name, a.name
        );
        // The whole session: the older access token, on both; its refresh token, on `a`.
        for app in [a, b] {
            assert_refused(
                &me(&http, app, &access1).await,
                "older access of the session",
            );
            assert_refused(&me(&http, app, &access2).await, "access after logout");
        }
        assert_refused(&refresh(&http, a, &refresh2).await, "refresh after logout");
        // Another login is a new session, unaffected.
        let (access3, _) = pair(&login(&http, b).await);
        assert_eq!(me(&http, a, &access3).await.status, StatusCode::OK);
    }
    eprintln!(
        "{test}: worst observed staleness {worst:?} (documented bound {:?})",
        bound()
    );

    assert!(s.a.running() && s.b.running());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_concurrent_refreshes_of_one_token_across_both_processes_spend_it_once() {
    let test = "ten_concurrent_refreshes_of_one_token_across_both_processes_spend_it_once";
    let Some(mut s) = Setup::start(test).await else {
        return;
    };
    let http = s.http.clone();
    for round in 0..3 {
        let (_, token) = pair(&login(&http, if round % 2 == 0 { &s.a } else { &s.b }).await);
        let urls = [
            s.a.url("/api/token/refresh/"),
            s.b.url("/api/token/refresh/"),
        ];
        let start = Arc::new(tokio::sync::Barrier::new(10));
        let tasks: Vec<_> = (0..10)
            .map(|i| {
                let (http, url, token, start) = (
                    http.clone(),
                    urls[i % 2].clone(),
                    token.clone(),
                    start.clone(),
                );
                tokio::spawn(async move {
                    start.wait().await;
                    answer(http.post(url).json(&json!({ "refresh": token }))).await
                })
            })
            .collect();
        let mut won = Vec::new();
        for (i, t) in tasks.into_iter().enumerate() {
            let a = t.await.unwrap();
            if a.status == StatusCode::OK {
                won.push((i, a));
            } else {
                assert_refused(&a, &format!("round {round}, losing refresh {i}"));
            }
        }
        assert_eq!(
            won.len(),
            1,
            "round {round}: {} of 10 concurrent refreshes succeeded",
            won.len()
        );
        // The nine reuses revoked the session, the winner's new tokens included.
        let (i, winner) = won.pop().unwrap();
        let (access, next) = pair(&winner);
        let revoked_at = Instant::now();
        for app in [&s.a, &s.b] {
            refused_within_bound(&http, app, &access, revoked_at).await;
            assert_refused(&refresh(&http, app, &next).await, "the winner's refresh");
        }
        eprintln!(
            "{test}: round {round}: exactly one of 10 succeeded (request {i}, on {})",
            if i % 2 == 0 { "A" } else { "B" }
        );
    }
    assert!(s.a.running() && s.b.running());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_outage_answers_503_keeps_revoked_sessions_out_and_recovers_without_restarts() {
    let test = "redis_outage_answers_503_keeps_revoked_sessions_out_and_recovers_without_restarts";
    let Some(mut s) = Setup::start(test).await else {
        return;
    };
    let http = s.http.clone();

    // Before: one session logged out (on B; A has seen it), one live.
    let (revoked_access, revoked_refresh) = pair(&login(&http, &s.a).await);
    let out = logout(&http, &s.b, &revoked_refresh).await;
    assert_eq!(out.status, StatusCode::OK, "{}", out.body);
    refused_within_bound(&http, &s.a, &revoked_access, Instant::now()).await;
    let (live_access, live_refresh) = pair(&login(&http, &s.b).await);
    for app in [&s.a, &s.b] {
        assert_eq!(me(&http, app, &live_access).await.status, StatusCode::OK);
    }

    // Redis dies.
    s.redis.kill();
    let down_at = Instant::now();
    // Right away (inside the staleness window) and through and past the bound: the revoked
    // session never gets in; the live one fails closed once its process cannot vouch for it
    // any more. The endpoints are tried in between: each may take up to the store's timeout.
    let mut rounds_past_bound = 0;
    let mut endpoints_checked = false;
    while rounds_past_bound < 3 {
        assert!(
            down_at.elapsed() < Duration::from_secs(60),
            "the outage checks took over a minute"
        );
        for app in [&s.a, &s.b] {
            assert_refused(
                &me(&http, app, &revoked_access).await,
                &format!("app {}: a session revoked before the outage", app.name),
            );
            let started = Instant::now();
            let live = me(&http, app, &live_access).await;
            if started - down_at >= bound() {
                assert_unavailable(&live, "a live session past the bound, Redis down");
            } else {
                assert!(
                    live.status == StatusCode::OK || live.status == StatusCode::SERVICE_UNAVAILABLE,
                    "app {}: live session while Redis is down: {} {}",
                    app.name,
                    live.status,
                    live.body
                );
            }
        }
        if !endpoints_checked {
            for app in [&s.a, &s.b] {
                assert_unavailable(&login(&http, app).await, "login while Redis is down");
                assert_unavailable(
                    &refresh(&http, app, &live_refresh).await,
                    "refresh while Redis is down",
                );
                assert_unavailable(
                    &logout(&http, app, &live_refresh).await,
                    "logout while Redis is down",
                );
            }
            endpoints_checked = true;
        }
        if down_at.elapsed() >= bound() {
            rounds_past_bound += 1;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Redis returns on the same port, with its data; the same processes serve again.
    tokio::task::block_in_place(|| s.redis.restart());
    let back_at = Instant::now();
    for app in [&s.a, &s.b] {
        loop {
            let r = login(&http, app).await;
            if r.status == StatusCode::OK {
                break;
            }
            assert_unavailable(&r, "login while Redis comes back");
            assert!(
                back_at.elapsed() < Duration::from_secs(20),
                "app {} did not recover within 20 s",
                app.name
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    eprintln!(
        "{test}: both apps serve logins again {:?} after Redis restarted",
        back_at.elapsed()
    );
    for app in [&s.a, &s.b] {
        assert_refused(
            &me(&http, app, &revoked_access).await,
            "a session revoked before the outage, after it",
        );
        loop {
            let live = me(&http, app, &live_access).await;
            if live.status == StatusCode::OK {
                break;
            }
            assert_unavailable(&live, "the live session while Redis comes back");
            assert!(back_at.elapsed() < Duration::from_secs(20));
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    // The refresh and logout that failed left no trace: the token is still spendable once.
    let (access, next) = pair(&refresh(&http, &s.a, &live_refresh).await);
    let out = logout(&http, &s.b, &next).await;
    assert_eq!(out.status, StatusCode::OK, "{}", out.body);
    let observed = refused_within_bound(&http, &s.a, &access, Instant::now()).await;
    eprintln!("{test}: after the outage, a logout on B reached A in at most {observed:?}");

    assert!(s.a.running(), "app A was restarted or died");
    assert!(s.b.running(), "app B was restarted or died");
}
