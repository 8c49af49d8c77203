//! Shared by the Redis tests: finding the server (or skipping loudly), per-test key prefixes,
//! throwaway servers, and the store suite every `RevocationStore` must pass.
//!
//! The tests read `KEYCARD_REDIS_URL` (default `redis://127.0.0.1:6379`). When no server
//! answers there, each Redis test prints a SKIPPED banner to stderr and passes — unless
//! `KEYCARD_REQUIRE_REDIS=1`, when it fails.

#![allow(dead_code, unreachable_pub, missing_docs, clippy::unwrap_used)]

pub mod suite;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use keycard_redis::{RedisRevocationStore, RedisStoreConfig};

pub const DEFAULT_URL: &str = "redis://127.0.0.1:6379";

pub fn redis_url() -> String {
    std::env::var("KEYCARD_REDIS_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_URL.to_owned())
}

fn required() -> bool {
    std::env::var("KEYCARD_REQUIRE_REDIS").is_ok_and(|v| v.trim() == "1")
}

/// The URL without its password, for messages.
fn shown(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((_, host)) => format!("{scheme}://***@{host}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// Says loudly that `test` was skipped, or fails it when Redis is required.
pub fn skip(test: &str, why: &str) {
    if required() {
        panic!("KEYCARD_REQUIRE_REDIS=1 but {test} cannot run: {why}");
    }
    // Straight to the process's stderr: libtest captures `eprintln!` of passing tests, and
    // a skip must be seen.
    let banner = format!(
        "\n********************************************************************************\n\
         *** SKIPPED {test}: {why}\n\
         *** (start redis-server and set KEYCARD_REDIS_URL; KEYCARD_REQUIRE_REDIS=1 makes this fail)\n\
         ********************************************************************************\n"
    );
    let _ = std::io::Write::write_all(&mut std::io::stderr(), banner.as_bytes());
}

/// The shared server's URL when it answers a PING within a second; `None` (after saying so
/// loudly) when it does not.
pub async fn server(test: &str) -> Option<String> {
    let url = redis_url();
    if ping(&url, Duration::from_secs(1)).await {
        Some(url)
    } else {
        skip(test, &format!("no Redis server answers at {}", shown(&url)));
        None
    }
}

pub async fn ping(url: &str, within: Duration) -> bool {
    let Ok(client) = redis::Client::open(url) else {
        return false;
    };
    let attempt = async {
        let mut c = client.get_multiplexed_async_connection().await?;
        redis::cmd("PING").query_async::<String>(&mut c).await
    };
    matches!(tokio::time::timeout(within, attempt).await, Ok(Ok(_)))
}

/// A prefix no other test (or run) uses, so that tests run in parallel on one server.
pub fn prefix(test: &str) -> String {
    format!("kctest:{test}:{:016x}", rand::random::<u64>())
}

/// Test settings: short timeouts and bound, so failures show fast.
pub fn config(prefix: &str) -> RedisStoreConfig {
    RedisStoreConfig::new()
        .prefix(prefix)
        .timeout(Duration::from_millis(500))
        .heartbeat_interval(Duration::from_millis(100))
        .max_staleness(Duration::from_millis(500))
}

pub async fn store(url: &str, config: RedisStoreConfig) -> RedisRevocationStore {
    let store = RedisRevocationStore::connect_with(url, config)
        .await
        .unwrap();
    assert!(
        store.wait_for_fresh_view(Duration::from_secs(5)).await,
        "the view never became fresh"
    );
    store
}

/// A plain connection for looking at the keys the store wrote.
pub async fn raw(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// Polls `check` until it holds, at most `within`; returns how long it took.
pub async fn eventually<F, Fut>(within: Duration, mut check: F) -> Option<Duration>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if check().await {
            return Some(start.elapsed());
        }
        if start.elapsed() > within {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A redis-server of the test's own, on a free port, killed when dropped.
pub struct Throwaway {
    pub port: u16,
    child: Option<Child>,
    /// Set for a one-node Redis Cluster: its `nodes.conf`.
    cluster_config: Option<std::path::PathBuf>,
}

impl Throwaway {
    /// Starts one; `None` (after saying so, or failing when Redis is required) when the
    /// `redis-server` binary is missing.
    pub async fn start(test: &str) -> Option<Self> {
        Self::start_with(test, false).await
    }

    /// A one-node Redis Cluster owning all 16384 slots: a client needs no redirects, and the
    /// server refuses (`CROSSSLOT`) any script whose keys span slots.
    pub async fn start_cluster(test: &str) -> Option<Self> {
        let t = Self::start_with(test, true).await?;
        let url = t.url();
        let mut c = raw(&url).await;
        let _: () = redis::cmd("CLUSTER")
            .arg("ADDSLOTSRANGE")
            .arg(0)
            .arg(16383)
            .query_async(&mut c)
            .await
            .unwrap();
        let ok = eventually(Duration::from_secs(10), || {
            let mut c = c.clone();
            async move {
                let info: String = redis::cmd("CLUSTER")
                    .arg("INFO")
                    .query_async(&mut c)
                    .await
                    .unwrap();
                info.contains("cluster_state:ok")
            }
        })
        .await;
        assert!(ok.is_some(), "the one-node cluster never came up");
        Some(t)
    }

    async fn start_with(test: &str, cluster: bool) -> Option<Self> {
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let cluster_config = cluster.then(|| {
            std::env::temp_dir().join(format!(
                "keycard-redis-nodes-{port}-{:08x}.conf",
                rand::random::<u32>()
            ))
        });
        let mut t = Self {
            port,
            child: None,
            cluster_config,
        };
        if let Err(e) = t.spawn() {
            skip(test, &format!("cannot start redis-server: {e}"));
            return None;
        }
        assert!(
            t.wait_up().await,
            "the throwaway redis-server on port {port} never answered"
        );
        Some(t)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self) -> std::io::Result<()> {
        let mut cmd = Command::new("redis-server");
        let port = self.port.to_string();
        cmd.args([
            "--port",
            &port,
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ]);
        if let Some(conf) = &self.cluster_config {
            cmd.arg("--cluster-enabled")
                .arg("yes")
                .arg("--cluster-config-file")
                .arg(conf);
        }
        let child = cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn()?;
        self.child = Some(child);
        Ok(())
    }

    async fn wait_up(&self) -> bool {
        let url = self.url();
        eventually(Duration::from_secs(10), || {
            ping(&url, Duration::from_millis(200))
        })
        .await
        .is_some()
    }

    /// Kills the server (as a crash would).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts a fresh server on the same port.
    pub async fn restart(&mut self) {
        self.kill();
        // The port is free again once the old process is reaped; retry a few times in case
        // the kernel is slow to release it.
        for _ in 0..20 {
            self.spawn().unwrap();
            if self.wait_up().await {
                return;
            }
            self.kill();
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("could not restart redis-server on port {}", self.port);
    }

    /// Freezes (`SIGSTOP`) or thaws (`SIGCONT`) the server: a hung server, not a dead one.
    pub fn signal(&self, sig: &str) {
        let pid = self.child.as_ref().unwrap().id();
        let ok = Command::new("kill")
            .args([sig, &pid.to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {sig} {pid} failed");
    }
}

impl Drop for Throwaway {
    fn drop(&mut self) {
        // SIGKILL ends a frozen process too.
        self.kill();
        if let Some(conf) = &self.cluster_config {
            let _ = std::fs::remove_file(conf);
        }
    }
}
