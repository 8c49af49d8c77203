//! `keycard jwks`: the public JWKS of the configured key set.

use std::process::ExitCode;

use crate::cli::JwksArgs;
use crate::{Failure, Result, config};

/// Runs `keycard jwks`.
pub(crate) fn run(args: &JwksArgs) -> Result<ExitCode> {
    let settings = config::load(&args.settings, None)?;
    let jwks = settings.keys().public_jwks();
    if jwks.keys.is_empty() {
        eprintln!(
            "keycard: note: no public keys to publish: the configured keys are HMAC secrets, which are never listed"
        );
    }
    let text = if args.compact {
        serde_json::to_string(&jwks)
    } else {
        serde_json::to_string_pretty(&jwks)
    }
    .map_err(|e| Failure::usage(format!("cannot write the JWKS: {e}")))?;
    crate::output::emitln(&text)?;
    Ok(ExitCode::SUCCESS)
}
