//! End to end in a real browser (issue 10): the axum example app — the contract's routes and
//! the cookie example page, as its `main` serves them — on a free port, and
//! `e2e/browser/cookie_demo.mjs` driving headless Chromium through the page with
//! playwright-core: log in, call a protected route, write, refresh, forged form posts from a
//! same-site and a cross-site origin refused, log out.
//!
//! Needs `node`, Debian's Chromium (`/usr/bin/chromium`, or `CHROMIUM=…`) and
//! `npm ci --prefix e2e/browser`. Without them the test prints a SKIPPED banner and passes —
//! unless `KEYCARD_REQUIRE_BROWSER=1` (CI sets it), which makes it fail.

#![allow(clippy::unwrap_used)]

#[allow(dead_code)]
#[path = "../examples/axum_app.rs"]
mod axum_app;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long the browser run may take, start-up included.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(180);

fn required() -> bool {
    std::env::var("KEYCARD_REQUIRE_BROWSER").is_ok_and(|v| v == "1")
}

/// Straight to the process's stderr: libtest captures `eprintln!` of passing tests, and a
/// skip (or the browser's report) must be seen.
fn say(text: &str) {
    let _ = std::io::stderr().write_all(text.as_bytes());
}

fn skip(why: &str) {
    assert!(
        !required(),
        "KEYCARD_REQUIRE_BROWSER=1 but the browser test cannot run: {why}"
    );
    say(&format!(
        "\n********************************************************************************\n\
         *** SKIPPED cookie_demo_in_headless_chromium: {why}\n\
         *** (apt-get install chromium; npm ci --prefix e2e/browser; KEYCARD_REQUIRE_BROWSER=1 makes this fail)\n\
         ********************************************************************************\n"
    ));
}

/// What the run needs, or why it cannot run.
fn prerequisites() -> Result<(PathBuf, PathBuf), String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("e2e/browser");
    let chromium = std::env::var_os("CHROMIUM")
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    if !chromium.exists() {
        return Err(format!("no Chromium at {}", chromium.display()));
    }
    match Command::new("node").arg("--version").output() {
        Ok(o) if o.status.success() => {}
        _ => return Err("no `node` on PATH".into()),
    }
    if !dir.join("node_modules/playwright-core").is_dir() {
        return Err(format!(
            "playwright-core is not installed in {}",
            dir.display()
        ));
    }
    Ok((dir, chromium))
}

/// Runs the browser script against `base`, killing it after the timeout; its exit status and
/// everything it printed.
fn run_browser(dir: &Path, chromium: &Path, base: &str) -> (bool, String) {
    let mut child = Command::new("node")
        .arg("cookie_demo.mjs")
        .arg(base)
        .current_dir(dir)
        .env("CHROMIUM", chromium)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > BROWSER_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut report = out.join().unwrap();
    report.push_str(&err.join().unwrap());
    match status {
        Some(s) => (s.success(), report),
        None => (
            false,
            format!("{report}\n(killed after {BROWSER_TIMEOUT:?})"),
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookie_demo_in_headless_chromium() {
    let (dir, chromium) = match prerequisites() {
        Ok(p) => p,
        Err(why) => return skip(&why),
    };

    // The app as the example's `main` composes it.
    let contract = axum_app::contract::from_env().unwrap();
    let app = axum_app::app(contract.tokens.clone(), contract.authenticators)
        .merge(axum_app::cookie_demo::router(contract.tokens));
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });

    let (ok, report) = {
        let base = base.clone();
        tokio::task::spawn_blocking(move || run_browser(&dir, &chromium, &base))
            .await
            .unwrap()
    };
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(10), server).await;

    say(&format!(
        "\n--- e2e/browser/cookie_demo.mjs against {base} ---\n{report}---\n"
    ));
    assert!(ok, "the browser run failed:\n{report}");
    assert!(
        report.contains("checks passed in Chromium"),
        "the browser run did not finish:\n{report}"
    );
}
