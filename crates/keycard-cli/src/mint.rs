//! `keycard mint`: a token from the service's own settings, through keycard's token service.

use std::process::ExitCode;

use keycard_core::{InMemoryRevocationStore, InMemoryUserStore, Settings, TokenService, User};
use serde_json::{Map, Value};

use crate::cli::{Kind, MintArgs};
use crate::output::Output;
use crate::{Failure, Result, config, time};

/// Parses `NAME=VALUE` pairs: VALUE as JSON when it parses, as text otherwise.
pub(crate) fn parse_claims(pairs: &[String]) -> Result<Map<String, Value>> {
    let mut out = Map::new();
    for pair in pairs {
        let Some((name, value)) = pair.split_once('=') else {
            return Err(Failure::usage(
                "--claim takes NAME=VALUE (e.g. --claim is_staff=true)",
            ));
        };
        let name = name.trim();
        if name.is_empty() {
            return Err(Failure::usage("--claim: the claim name is empty"));
        }
        let value = serde_json::from_str::<Value>(value)
            .unwrap_or_else(|_| Value::String(value.to_owned()));
        if out.insert(name.to_owned(), value).is_some() {
            return Err(Failure::usage(format!("--claim {name} is given twice")));
        }
    }
    Ok(out)
}

/// The claims keycard writes itself; setting them by hand would make a token the service
/// would not have minted.
fn managed_claims(s: &Settings) -> [&str; 10] {
    [
        "exp",
        "iat",
        "nbf",
        "iss",
        "aud",
        s.user_id_claim(),
        s.token_type_claim(),
        s.jti_claim(),
        s.session_claim(),
        s.sliding_refresh_exp_claim(),
    ]
}

/// Runs `keycard mint`.
pub(crate) fn run(args: &MintArgs, out: &Output) -> Result<ExitCode> {
    let user_id = args.user.trim();
    if user_id.is_empty() || user_id.len() > 256 {
        return Err(Failure::usage("--user: the user id must be 1 to 256 bytes"));
    }
    let extra = parse_claims(&args.claims)?;
    let settings = config::load(&args.settings, None)?;
    if let Some(name) = extra
        .keys()
        .find(|k| managed_claims(&settings).contains(&k.as_str()))
    {
        return Err(Failure::usage(format!(
            "--claim {name}: keycard sets this claim itself"
        )));
    }
    let now = settings.now();
    // A throwaway store: the service records what it issues in its own store; a minted token
    // is one the service never issued, so there is nothing to share. Rotation settings
    // need a store to build at all.
    let tokens = TokenService::builder(settings)
        .users(InMemoryUserStore::new())
        .store(InMemoryRevocationStore::new())
        .claims_hook(move |_| extra.clone())
        .build()?;
    let user = User::new(user_id, "");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|e| Failure::usage(format!("cannot start: {e}")))?;
    let token = runtime
        .block_on(async {
            match args.kind {
                Kind::Access => tokens.obtain_for(&user).await.map(|p| p.access),
                Kind::Refresh => tokens.obtain_for(&user).await.and_then(|p| {
                    p.refresh.ok_or(keycard_core::AuthError::Misconfigured {
                        detail: "no refresh token was issued",
                    })
                }),
                Kind::Sliding => tokens.sliding_for(&user).await.map(|t| t.token),
            }
        })
        .map_err(|e| Failure::usage(format!("cannot mint: {e}")))?;
    crate::output::emitln(&token)?;
    if out.stderr_is_terminal {
        let s = tokens.settings();
        let life = match args.kind {
            Kind::Access => s.access_lifetime(),
            Kind::Refresh => s.refresh_lifetime(),
            Kind::Sliding => s.sliding_lifetime(),
        };
        let exp = now.saturating_add(life.as_secs());
        eprintln!(
            "keycard: {} token for user {user_id}, expires {} ({})",
            args.kind.token_kind(),
            time::iso8601(exp).unwrap_or_default(),
            time::relative(exp, now)
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claim_values_are_json_or_text() {
        let c = parse_claims(&[
            "is_staff=true".into(),
            "n=42".into(),
            "roles=[\"a\",\"b\"]".into(),
            "username=alice".into(),
            "quoted=\"42\"".into(),
            "eq=a=b".into(),
            "empty=".into(),
        ])
        .unwrap();
        assert_eq!(c["is_staff"], true);
        assert_eq!(c["n"], 42);
        assert_eq!(c["roles"], serde_json::json!(["a", "b"]));
        assert_eq!(c["username"], "alice");
        assert_eq!(c["quoted"], "42");
        assert_eq!(c["eq"], "a=b");
        assert_eq!(c["empty"], "");
    }

    #[test]
    fn bad_claim_arguments_are_usage_errors() {
        for bad in [&["no-equals"][..], &["=1"], &["a=1", "a=2"]] {
            let args: Vec<String> = bad.iter().map(|s| (*s).to_owned()).collect();
            assert_eq!(parse_claims(&args).unwrap_err().code, 2, "{bad:?}");
        }
    }
}
