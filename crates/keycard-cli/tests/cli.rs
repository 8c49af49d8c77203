//! The built `keycard` binary, run as an operator runs it: every subcommand, garbage input,
//! exit statuses, and keygen → mint → verify round trips for each algorithm family.

// A failing test panics with the value: unwrap is the report.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

const SECRET: &str = "contract-secret-0123456789abcdef0123456789abcdef";

/// What a run left behind.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:?}"))
    }
    /// Exit status 2 and one `keycard: error:` line on stderr, nothing on stdout.
    fn assert_usage_error(&self, contains: &str) {
        assert_eq!(self.code, 2, "{self:?}");
        self.assert_one_error_line(contains);
    }
    fn assert_one_error_line(&self, contains: &str) {
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "one line of error: {self:?}");
        assert!(lines[0].starts_with("keycard: error: "), "{self:?}");
        assert!(lines[0].contains(contains), "wanted {contains:?}: {self:?}");
        assert!(self.stdout.is_empty(), "{self:?}");
    }
}

/// The binary with no `KEYCARD_*` variable from the test's own environment.
fn keycard() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_keycard"));
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("KEYCARD_") {
            cmd.env_remove(k);
        }
    }
    cmd.env_remove("NO_COLOR");
    cmd
}

fn run_with(mut cmd: Command, args: &[&str], stdin: Option<&[u8]>) -> Run {
    cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    let mut child = cmd.spawn().unwrap();
    if let Some(bytes) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        // The binary may stop reading early (a size cap): a broken pipe here is fine.
        let _ = pipe.write_all(bytes);
    }
    let out = child.wait_with_output().unwrap();
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(
        !run.stderr.contains("panicked"),
        "the binary panicked: {run:?}"
    );
    assert_ne!(run.code, 101, "the binary panicked: {run:?}");
    run
}

fn run(args: &[&str]) -> Run {
    run_with(keycard(), args, None)
}

/// The contract's HS256 settings in the environment.
fn contract_env() -> Command {
    let mut cmd = keycard();
    cmd.env("KEYCARD_SECRET", SECRET)
        .env("KEYCARD_ISSUER", "keycard-contract")
        .env("KEYCARD_AUDIENCE", "contract-api");
    cmd
}

fn run_env(cmd: Command, args: &[&str]) -> Run {
    run_with(cmd, args, None)
}

fn b64(s: &str) -> String {
    URL_SAFE_NO_PAD.encode(s)
}

/// An unsigned-looking token with this header and payload (its signature is junk).
fn token(header: &Value, payload: &Value) -> String {
    format!(
        "{}.{}.c2lnbmF0dXJl",
        b64(&header.to_string()),
        b64(&payload.to_string())
    )
}

fn mint(env: Command, args: &[&str]) -> String {
    let mut all = vec!["mint"];
    all.extend_from_slice(args);
    let r = run_env(env, &all);
    assert_eq!(r.code, 0, "{r:?}");
    let t = r.stdout.trim().to_owned();
    assert_eq!(t.split('.').count(), 3, "{r:?}");
    assert_eq!(
        r.stdout.lines().count(),
        1,
        "only the token on stdout: {r:?}"
    );
    t
}

// ---------------------------------------------------------------------------------------
// help and usage

#[test]
fn help_lists_every_subcommand_with_examples() {
    let r = run(&["--help"]);
    assert_eq!(r.code, 0, "{r:?}");
    for word in [
        "keygen",
        "mint",
        "inspect",
        "verify",
        "jwks",
        "Examples:",
        "Exit status",
    ] {
        assert!(r.stdout.contains(word), "{word}: {}", r.stdout);
    }
    for sub in ["keygen", "mint", "inspect", "verify", "jwks"] {
        let r = run(&[sub, "--help"]);
        assert_eq!(r.code, 0, "{r:?}");
        assert!(r.stdout.contains("Examples:"), "{sub}: {}", r.stdout);
    }
    let r = run(&["--version"]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.starts_with("keycard "), "{r:?}");
}

#[test]
fn usage_errors_are_one_line_and_exit_2() {
    run(&["frobnicate"]).assert_usage_error("unrecognized subcommand");
    run(&["keygen", "--alg", "ES257"]).assert_usage_error("ES256");
    run(&["keygen", "--alg", "RS256", "--bits", "1024"]).assert_usage_error("2048, 3072 or 4096");
    run(&["keygen", "--alg", "ES256", "--kid", "has space"]).assert_usage_error("--kid");
    run(&["keygen", "--alg", "HS256", "--format", "jwk"]).assert_usage_error("asymmetric");
    run(&["mint"]).assert_usage_error("--user");
    run(&["verify", "--at", "yesterday", "a.b.c"]).assert_usage_error("Unix seconds");
    // No key configured: a configuration error, with what to set.
    run(&["mint", "--user", "1"]).assert_usage_error("KEYCARD_SECRET");
    run(&["jwks"]).assert_usage_error("no signing key");
    run(&["verify", "a.b.c"]).assert_usage_error("no signing key");
    // No subcommand at all: the help, on stderr, exit 2.
    let r = run(&[]);
    assert_eq!(r.code, 2, "{r:?}");
}

#[test]
fn bad_settings_are_one_line_exit_2_and_never_echo_the_secret() {
    let mut env = keycard();
    env.env("KEYCARD_SECRET", "hunter2-too-short");
    let r = run_env(env, &["mint", "--user", "1"]);
    r.assert_usage_error("at least 32 bytes");
    assert!(!r.stderr.contains("hunter2"), "{r:?}");

    let mut env = contract_env();
    env.env("KEYCARD_LEEWAY", "sixty-hunter2");
    let r = run_env(env, &["jwks"]);
    r.assert_usage_error("KEYCARD_LEEWAY");
    assert!(!r.stderr.contains("hunter2"), "{r:?}");

    run(&["jwks", "--config", "/nonexistent/keycard.toml"])
        .assert_usage_error("/nonexistent/keycard.toml");
}

// ---------------------------------------------------------------------------------------
// keygen

#[test]
fn keygen_hmac_secrets_have_the_hash_length_and_sign_tokens() {
    for (alg, bytes) in [("HS256", 32), ("HS384", 48), ("HS512", 64)] {
        let r = run(&["keygen", "--alg", alg]);
        assert_eq!(r.code, 0, "{r:?}");
        assert_eq!(r.stdout.lines().count(), 1, "the secret alone: {r:?}");
        let secret = r.stdout.trim();
        assert_eq!(
            URL_SAFE_NO_PAD.decode(secret).unwrap().len(),
            bytes,
            "{alg}"
        );

        let env = || {
            let mut c = keycard();
            c.env("KEYCARD_ALGORITHM", alg)
                .env("KEYCARD_SECRET", secret);
            c
        };
        let t = mint(env(), &["--user", "7"]);
        let v = run_env(env(), &["verify", "--json", &t]);
        assert_eq!(v.code, 0, "{v:?}");
        assert_eq!(v.json()["alg"], alg);
        // Another secret refuses it.
        let mut other = keycard();
        other
            .env("KEYCARD_ALGORITHM", alg)
            .env("KEYCARD_SECRET", SECRET.repeat(2));
        let v = run_env(other, &["verify", &t]);
        assert_eq!(v.code, 1, "{v:?}");
        assert!(v.stdout.contains("Token signature is invalid"), "{v:?}");
    }
    let r = run(&["keygen", "--alg", "hs256", "--kid", "2026-01", "--json"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.json()["kid"], "2026-01");
    assert_eq!(r.json()["alg"], "HS256");
}

/// keygen --out, then a service configured with the private key mints, verifies and
/// publishes; a service holding only the public key verifies.
fn round_trip(alg: &str, extra: &[&str], kty: &str) {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("signing");
    let prefix_s = prefix.to_str().unwrap();
    let mut args = vec!["keygen", "--alg", alg, "--out", prefix_s];
    args.extend_from_slice(extra);
    let r = run(&args);
    assert_eq!(r.code, 0, "{r:?}");
    let private = PathBuf::from(format!("{prefix_s}.pem"));
    let public = PathBuf::from(format!("{prefix_s}.pub.pem"));
    assert!(
        std::fs::read_to_string(&private)
            .unwrap()
            .starts_with("-----BEGIN PRIVATE KEY-----")
    );
    assert!(
        std::fs::read_to_string(&public)
            .unwrap()
            .starts_with("-----BEGIN PUBLIC KEY-----")
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&private).unwrap().permissions().mode() & 0o777,
            0o600,
            "{alg}"
        );
    }

    let service = || {
        let mut c = keycard();
        c.env("KEYCARD_ALGORITHM", alg)
            .env("KEYCARD_SIGNING_KEY_FILE", &private)
            .env("KEYCARD_ISSUER", "keycard-cli-test");
        c
    };
    let t = mint(
        service(),
        &["--user", "42", "--claim", "roles=[\"editor\"]"],
    );
    let v = run_env(service(), &["verify", "--json", "--kind", "access", &t]);
    assert_eq!(v.code, 0, "{alg}: {v:?}");
    let v = v.json();
    assert_eq!(v["valid"], true);
    assert_eq!(v["alg"], alg);
    assert_eq!(v["user_id"], "42");
    assert_eq!(v["claims"]["roles"], json!(["editor"]));
    assert_eq!(v["claims"]["iss"], "keycard-cli-test");

    let jwks = run_env(service(), &["jwks"]);
    assert_eq!(jwks.code, 0, "{jwks:?}");
    let keys = jwks.json()["keys"].as_array().unwrap().clone();
    assert_eq!(keys.len(), 1, "{jwks:?}");
    assert_eq!(keys[0]["kty"], kty);
    assert!(
        keys[0].get("d").is_none(),
        "no private member in a JWKS: {jwks:?}"
    );

    // A service with another key of the same algorithm refuses the token.
    let other_dir = tempfile::tempdir().unwrap();
    let other_prefix = other_dir.path().join("other");
    let mut args = vec![
        "keygen",
        "--alg",
        alg,
        "--out",
        other_prefix.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    assert_eq!(run(&args).code, 0);
    let mut other_service = keycard();
    other_service
        .env("KEYCARD_ALGORITHM", alg)
        .env(
            "KEYCARD_SIGNING_KEY_FILE",
            format!("{}.pem", other_prefix.display()),
        )
        .env("KEYCARD_ISSUER", "keycard-cli-test");
    let v = run_env(other_service, &["verify", &t]);
    assert_eq!(v.code, 1, "{alg}: {v:?}");
    assert!(v.stdout.contains("Token signature is invalid"), "{v:?}");
}

#[test]
fn round_trip_es256() {
    round_trip("ES256", &[], "EC");
}

#[test]
fn round_trip_es384() {
    round_trip("ES384", &[], "EC");
}

#[test]
fn round_trip_eddsa() {
    round_trip("EdDSA", &[], "OKP");
}

#[test]
fn round_trip_rs256() {
    round_trip("RS256", &["--bits", "2048"], "RSA");
}

#[test]
fn round_trip_ps256() {
    round_trip("PS256", &["--bits", "2048"], "RSA");
}

#[test]
fn keygen_jwk_pairs_share_a_kid_and_only_the_private_one_has_d() {
    for (alg, kty, extra) in [
        ("ES256", "EC", None),
        ("EdDSA", "OKP", None),
        ("RS256", "RSA", Some("2048")),
    ] {
        let mut args = vec!["keygen", "--alg", alg, "--format", "jwk", "--json"];
        if let Some(bits) = extra {
            args.extend_from_slice(&["--bits", bits]);
        }
        let r = run(&args);
        assert_eq!(r.code, 0, "{r:?}");
        let o = r.json();
        let (private, public) = (&o["private"], &o["public"]);
        assert_eq!(o["format"], "jwk");
        for jwk in [private, public] {
            assert_eq!(jwk["kty"], kty);
            assert_eq!(jwk["alg"], alg);
            assert_eq!(jwk["use"], "sig");
            assert_eq!(jwk["kid"], o["kid"]);
        }
        // The default kid is the RFC 7638 thumbprint: 32 bytes of SHA-256, base64url.
        assert_eq!(
            URL_SAFE_NO_PAD
                .decode(o["kid"].as_str().unwrap())
                .unwrap()
                .len(),
            32
        );
        assert!(private["d"].is_string() && public.get("d").is_none(), "{o}");
        if kty == "RSA" {
            for m in ["p", "q", "dp", "dq", "qi"] {
                assert!(
                    private[m].is_string() && public.get(m).is_none(),
                    "{m}: {o}"
                );
            }
        }
    }
    let r = run(&[
        "keygen", "--alg", "ES384", "--format", "jwk", "--kid", "k-2026",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.json()["public"]["kid"], "k-2026");
}

#[test]
fn keygen_pem_to_stdout_is_private_then_public() {
    let r = run(&["keygen", "--alg", "EdDSA"]);
    assert_eq!(r.code, 0, "{r:?}");
    let private = r.stdout.find("-----BEGIN PRIVATE KEY-----").unwrap();
    let public = r.stdout.find("-----BEGIN PUBLIC KEY-----").unwrap();
    assert!(private < public, "{r:?}");
}

#[test]
fn keygen_never_overwrites_a_key() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("k");
    let p = prefix.to_str().unwrap();
    assert_eq!(run(&["keygen", "--alg", "HS256", "--out", p]).code, 0);
    let first = std::fs::read_to_string(format!("{p}.secret")).unwrap();
    run(&["keygen", "--alg", "HS256", "--out", p]).assert_usage_error("exists");
    assert_eq!(
        std::fs::read_to_string(format!("{p}.secret")).unwrap(),
        first
    );
    let r = run(&["keygen", "--alg", "ES256", "--out", p, "--json"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.json()["files"]["private"]
            .as_str()
            .unwrap()
            .ends_with("k.pem")
    );
    assert!(
        r.json().get("private").is_none(),
        "no key material when writing files: {r:?}"
    );
}

// ---------------------------------------------------------------------------------------
// mint

#[test]
fn mint_makes_each_kind_with_the_services_claims() {
    let t = mint(
        contract_env(),
        &[
            "--user",
            "1",
            "--claim",
            "scope=articles:read",
            "--claim",
            "is_staff=true",
        ],
    );
    let i = run(&["inspect", "--json", &t]);
    assert_eq!(i.code, 0, "{i:?}");
    let c = &i.json()["claims"];
    assert_eq!(c["token_type"], "access");
    assert_eq!(c["user_id"], "1", "a string, as simplejwt writes it");
    assert_eq!(c["iss"], "keycard-contract");
    assert_eq!(c["aud"], "contract-api");
    assert_eq!(c["scope"], "articles:read");
    assert_eq!(c["is_staff"], true);
    assert!(
        c["jti"].is_string() && c["exp"].is_u64() && c["iat"].is_u64(),
        "{c}"
    );
    assert_eq!(c["exp"].as_u64().unwrap() - c["iat"].as_u64().unwrap(), 300);

    let refresh = mint(contract_env(), &["--user", "1", "--kind", "refresh"]);
    let v = run_env(contract_env(), &["verify", "--kind", "refresh", &refresh]);
    assert_eq!(v.code, 0, "{v:?}");
    let v = run_env(contract_env(), &["verify", "--kind", "access", &refresh]);
    assert_eq!(v.code, 1, "{v:?}");
    assert!(v.stdout.contains("Token has wrong type"), "{v:?}");

    let sliding = mint(contract_env(), &["--user", "1", "--kind", "sliding"]);
    let i = run(&["inspect", &sliding]);
    assert!(
        i.stdout.contains("refresh_exp") && i.stdout.contains("refreshable for another 1 day"),
        "{i:?}"
    );
    assert_eq!(
        run_env(contract_env(), &["verify", "--kind", "sliding", &sliding]).code,
        0
    );
}

#[test]
fn mint_refuses_claims_keycard_manages_and_bad_users() {
    for claim in [
        "exp=1",
        "iat=1",
        "iss=x",
        "aud=x",
        "user_id=2",
        "token_type=refresh",
        "jti=x",
        "sid=x",
    ] {
        run_env(contract_env(), &["mint", "--user", "1", "--claim", claim])
            .assert_usage_error("keycard sets this claim");
    }
    let mut env = contract_env();
    env.env("KEYCARD_USER_ID_CLAIM", "sub");
    run_env(env, &["mint", "--user", "1", "--claim", "sub=2"]).assert_usage_error("--claim sub");
    run_env(contract_env(), &["mint", "--user", ""]).assert_usage_error("--user");
    run_env(contract_env(), &["mint", "--user", &"x".repeat(257)]).assert_usage_error("--user");
    run_env(
        contract_env(),
        &["mint", "--user", "1", "--claim", "noequals"],
    )
    .assert_usage_error("NAME=VALUE");
}

#[test]
fn settings_come_from_a_toml_file_with_the_environment_over_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("keycard.toml");
    std::fs::write(
        &config,
        format!("secret = \"{SECRET}\"\nissuer = \"from-toml\"\naudience = \"contract-api\"\naccess_token_lifetime = 60\n"),
    )
    .unwrap();
    let c = config.to_str().unwrap();
    let t = mint(keycard(), &["--config", c, "--user", "5"]);
    let claims = run(&["inspect", "--json", &t]).json()["claims"].clone();
    assert_eq!(claims["iss"], "from-toml");
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        60
    );

    // KEYCARD_CONFIG works like --config; KEYCARD_ISSUER overrides the file.
    let mut env = keycard();
    env.env("KEYCARD_CONFIG", c)
        .env("KEYCARD_ISSUER", "from-env");
    let t2 = mint(env, &["--user", "5"]);
    assert_eq!(
        run(&["inspect", "--json", &t2]).json()["claims"]["iss"],
        "from-env"
    );

    let v = run_env(keycard(), &["verify", "--config", c, &t]);
    assert_eq!(v.code, 0, "{v:?}");
    let mut env = keycard();
    env.env("KEYCARD_CONFIG", c);
    let v = run_env(env, &["verify", &t2]);
    assert_eq!(v.code, 1, "a token of another issuer: {v:?}");
    assert!(v.stdout.contains("Token issuer is invalid"), "{v:?}");

    std::fs::write(&config, "secrett = \"typo\"\n").unwrap();
    run(&["jwks", "--config", c]).assert_usage_error("cannot read settings");
}

// ---------------------------------------------------------------------------------------
// inspect

#[test]
fn inspect_labels_unverified_and_reads_times() {
    let t = token(
        &json!({"alg": "HS256", "typ": "JWT"}),
        &json!({"token_type": "access", "exp": 1_796_300_300u64, "iat": 1_796_300_000u64, "jti": "j", "user_id": "1"}),
    );
    let r = run(&["inspect", "--at", "1796300060", &t]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.starts_with("UNVERIFIED"), "{r:?}");
    for want in [
        "2026-12-03T12:18:20Z",
        "expires in 4 min",
        "issued 1 min ago",
        "\"1\"",
        "not checked",
    ] {
        assert!(r.stdout.contains(want), "{want}: {}", r.stdout);
    }
    assert!(!r.stdout.contains('\x1b'), "no colour into a pipe: {r:?}");
    let r = run(&["inspect", "--at", "2026-12-03T15:18:20Z", &t]);
    assert!(r.stdout.contains("expired 3 h ago"), "{r:?}");

    let j = run(&["inspect", "--json", "--at", "1796300060", &t]).json();
    assert_eq!(j["verified"], false);
    assert_eq!(j["header"]["alg"], "HS256");
    assert_eq!(j["claims"]["user_id"], "1");
    assert_eq!(j["times"]["exp"]["utc"], "2026-12-03T12:18:20Z");
    assert_eq!(j["times"]["exp"]["relative"], "expires in 4 min");
    assert_eq!(j["times"]["exp"]["seconds_from_now"], 240);

    // From stdin, with the `Bearer ` of a copied header.
    let r = run_with(
        keycard(),
        &["inspect"],
        Some(format!("Bearer {t}\n").as_bytes()),
    );
    assert_eq!(r.code, 0, "{r:?}");
    let r = run_with(keycard(), &["inspect", "-"], Some(t.as_bytes()));
    assert_eq!(r.code, 0, "{r:?}");
}

#[test]
fn inspect_points_out_what_keycard_would_refuse() {
    let t = token(&json!({"alg": "none"}), &json!({"user_id": "1"}));
    let r = run(&["inspect", &t]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("alg is none"), "{r:?}");
    assert!(r.stdout.contains("no exp claim"), "{r:?}");
    let r = run(&[
        "inspect",
        &token(&json!({"alg": "HS256"}), &json!({"exp": "tomorrow"})),
    ]);
    assert!(r.stdout.contains("not a NumericDate"), "{r:?}");
}

#[test]
fn inspect_cannot_be_used_to_drive_the_terminal() {
    let t = token(
        &json!({"alg": "HS256", "x\u{1b}[2J": 1}),
        &json!({"exp": 1, "name": "\u{1b}]0;pwned\u{7}\u{1b}[31mred", "bidi": "abc\u{202e}fed"}),
    );
    for args in [
        vec!["inspect", t.as_str()],
        vec!["inspect", "--json", t.as_str()],
    ] {
        let r = run(&args);
        assert_eq!(r.code, 0, "{r:?}");
        assert!(
            !r.stdout.contains('\x1b') && !r.stdout.contains('\x07'),
            "{r:?}"
        );
        if args.len() == 2 {
            assert!(!r.stdout.contains('\u{202e}'), "{r:?}");
        }
    }
}

#[test]
fn inspect_garbage_is_a_clear_error_never_a_crash() {
    let long = "a".repeat(2 * 1024 * 1024);
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"not-a-token".to_vec(), "found 1"),
        (b"a.b".to_vec(), "found 2"),
        (b"a.b.c".to_vec(), "header is not"),
        (b"a.b.c.d".to_vec(), "found 4"),
        (b"....".to_vec(), "JWE"),
        (b"a.b.c.d.e".to_vec(), "JWE"),
        (b"e30.!!!.c".to_vec(), "payload is not base64url"),
        (
            format!("{}.{}.c", b64("{}"), b64("[1,2]")).into_bytes(),
            "payload is not a JSON object",
        ),
        (
            format!("{}.{}.c", b64("{}"), b64("{\"a\":")).into_bytes(),
            "payload is not a JSON object",
        ),
        (b"Bearer".to_vec(), "without a token"),
        (b"Bearer   \n".to_vec(), "without a token"),
        (b"  \n".to_vec(), "empty"),
        (b"".to_vec(), "empty"),
        (b"\xff\xfe\x00garbage".to_vec(), "not text"),
        (long.into_bytes(), "larger than 1 MiB"),
    ];
    for (input, want) in cases {
        let r = run_with(keycard(), &["inspect"], Some(&input));
        assert_eq!(
            r.code,
            1,
            "{:?}: {r:?}",
            String::from_utf8_lossy(&input[..input.len().min(40)])
        );
        r.assert_one_error_line(want);
        if input.len() > 8 && input.is_ascii() {
            assert!(
                !r.stderr.contains(std::str::from_utf8(&input).unwrap()),
                "never echoes the input: {r:?}"
            );
        }
    }
    // As an argument too, and through verify.
    let r = run(&["inspect", "x.y"]);
    assert_eq!(r.code, 1, "{r:?}");
    let r = run_env(contract_env(), &["verify", "x.y"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stdout.contains("invalid: Token is invalid"), "{r:?}");
}

// ---------------------------------------------------------------------------------------
// verify

#[test]
fn verify_gives_the_fixed_reason_and_exit_status() {
    let t = mint(contract_env(), &["--user", "1"]);
    let ok = run_env(contract_env(), &["verify", &t]);
    assert_eq!(ok.code, 0, "{ok:?}");
    assert!(
        ok.stdout.starts_with("valid: access token for user \"1\""),
        "{ok:?}"
    );

    let iat = run(&["inspect", "--json", &t]).json()["claims"]["iat"]
        .as_u64()
        .unwrap();
    let later = (iat + 3600).to_string();
    let expired = run_env(contract_env(), &["verify", "--at", &later, &t]);
    assert_eq!(expired.code, 1, "{expired:?}");
    assert_eq!(expired.stdout.trim(), "invalid: Token is expired");
    let j = run_env(contract_env(), &["verify", "--json", "--at", &later, &t]);
    assert_eq!(j.code, 1);
    assert_eq!(
        j.json(),
        json!({"valid": false, "code": "token_not_valid", "reason": "Token is expired"})
    );

    let mut other_aud = contract_env();
    other_aud.env("KEYCARD_AUDIENCE", "another-api");
    let r = run_env(other_aud, &["verify", &t]);
    assert_eq!(
        (r.code, r.stdout.trim()),
        (1, "invalid: Token audience is invalid")
    );

    let forged = token(
        &json!({"alg": "none", "typ": "JWT"}),
        &json!({"exp": 9_999_999_999u64, "user_id": "1"}),
    );
    let r = run_env(contract_env(), &["verify", &forged]);
    assert_eq!(
        (r.code, r.stdout.trim()),
        (1, "invalid: Token algorithm is not allowed")
    );
}

// ---------------------------------------------------------------------------------------
// jwks

#[test]
fn jwks_of_hmac_keys_is_empty_with_a_note() {
    let r = run_env(contract_env(), &["jwks", "--compact"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.stdout.trim(), r#"{"keys":[]}"#);
    assert!(r.stderr.contains("never listed"), "{r:?}");
}

// ---------------------------------------------------------------------------------------
// simplejwt's tokens

fn fixtures() -> Option<Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/simplejwt/tokens.json");
    match std::fs::read(&path) {
        Ok(bytes) => Some(serde_json::from_slice(&bytes).unwrap()),
        Err(e) => {
            eprintln!(
                "SKIPPED: simplejwt fixtures not found at {} ({e}); nothing checked",
                path.display()
            );
            None
        }
    }
}

#[test]
fn simplejwt_tokens_inspect_and_verify_as_their_kind() {
    let Some(f) = fixtures() else { return };
    let minted_at = f["minted_at"].as_u64().unwrap();
    let at = (minted_at + 60).to_string();
    let s = &f["settings"];
    for fixture in f["tokens"].as_array().unwrap() {
        let t = fixture["token"].as_str().unwrap();
        let kind = fixture["kind"].as_str().unwrap();
        let r = run(&["inspect", "--json", "--at", &at, t]);
        assert_eq!(r.code, 0, "{r:?}");
        let j = r.json();
        assert_eq!(
            j["claims"], fixture["claims"],
            "inspect shows exactly simplejwt's claims"
        );
        assert_eq!(j["header"], fixture["header"]);
        assert_eq!(j["times"]["iat"]["relative"], "issued 1 min ago");
        let text = run(&["inspect", "--at", &at, t]);
        assert!(
            text.stdout.starts_with("UNVERIFIED") && text.stdout.contains(kind),
            "{text:?}"
        );

        if fixture["alg"] != "HS256" {
            // keycard's settings cannot yet say "verify RS256 with this public key" without
            // a private key of that algorithm to sign with (see the crate README).
            continue;
        }
        let mut env = keycard();
        env.env("KEYCARD_SECRET", s["signing_key"].as_str().unwrap())
            .env("KEYCARD_ISSUER", s["issuer"].as_str().unwrap())
            .env("KEYCARD_AUDIENCE", s["audience"].as_str().unwrap());
        let v = run_env(env, &["verify", "--json", "--kind", kind, "--at", &at, t]);
        assert_eq!(v.code, 0, "{kind}: {v:?}");
        assert_eq!(v.json()["kind"], kind);
        assert_eq!(v.json()["user_id"], "1");
    }
}
