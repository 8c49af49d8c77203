//! `keycard verify`: the service's verification, from its settings alone.

use std::process::ExitCode;
use std::sync::Arc;

use keycard_core::token::Verifier;
use serde_json::json;

use crate::cli::VerifyArgs;
use crate::inspect::read_token;
use crate::output::{Output, safe};
use crate::{Result, config, time};

/// Runs `keycard verify`: exit 0 valid, 1 invalid (with the reason), 2 usage or settings.
pub(crate) fn run(args: &VerifyArgs, out: &Output) -> Result<ExitCode> {
    let token = read_token(args.token.as_deref())?;
    let settings = Arc::new(config::load(&args.settings, args.at)?);
    let now = settings.now();
    let kinds: Vec<keycard_core::TokenKind> =
        args.kind.map(|k| k.token_kind()).into_iter().collect();
    let verifier = Verifier::new(settings);
    match verifier.verify(token.as_bytes(), &kinds, false) {
        Ok(v) => {
            let c = &v.claims;
            if args.json {
                crate::output::emitln(
                    &json!({
                        "valid": true,
                        "kind": c.kind().as_str(),
                        "user_id": c.user_id(),
                        "jti": c.jti(),
                        "session": c.session(),
                        "alg": format!("{:?}", v.alg),
                        "kid": v.kid,
                        "exp": c.exp(),
                        "expires": time::iso8601(c.exp()),
                        "claims": c.as_map(),
                    })
                    .to_string(),
                )?;
            } else {
                crate::output::emitln(&format!(
                    "{}: {} token for user {}, signed with {}{}, expires {} ({})",
                    out.green("valid"),
                    c.kind(),
                    safe(&serde_json::Value::from(c.user_id()).to_string()),
                    format_args!("{:?}", v.alg),
                    v.kid
                        .as_deref()
                        .map(|k| format!(" (kid {})", safe(k)))
                        .unwrap_or_default(),
                    time::iso8601(c.exp()).unwrap_or_default(),
                    time::relative(c.exp(), now),
                ))?;
                crate::output::emitln(&out.dim(
                    "checked: size, shape, header, algorithm, key, signature, times, iss, aud, type, claims; \
                     not checked here: revocation (logout, spent refresh tokens) and the user",
                ))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            if args.json {
                crate::output::emitln(&json!({ "valid": false, "code": "token_not_valid", "reason": e.description() }).to_string())?;
            } else {
                crate::output::emitln(&format!("{}: {}", out.red("invalid"), e.description()))?;
            }
            Ok(ExitCode::from(1))
        }
    }
}
