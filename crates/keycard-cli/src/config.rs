//! The service's settings, read the way a service reads them: a TOML file (`--config`), then
//! the `KEYCARD_*` environment over it.

use std::sync::Arc;

use keycard_core::{FrozenClock, Settings};

use crate::cli::SettingsArgs;
use crate::{Failure, Result};

/// Builds the settings; `at` freezes the clock at that instant (for `verify --at`).
pub(crate) fn load(args: &SettingsArgs, at: Option<u64>) -> Result<Settings> {
    let mut builder = Settings::builder();
    if let Some(at) = at {
        builder = builder.clock(Arc::new(FrozenClock::new(at)));
    }
    if let Some(path) = &args.config {
        builder = builder.from_toml_file(path)?;
    }
    builder.from_env()?.build().map_err(|e| match e {
        keycard_core::ConfigError::NoSigningKey => Failure::usage(
            "settings: no signing key: set KEYCARD_SECRET (HMAC) or KEYCARD_ALGORITHM and \
             KEYCARD_SIGNING_KEY_FILE, or pass --config FILE",
        ),
        other => other.into(),
    })
}
