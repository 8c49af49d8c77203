//! `keycard`: the command for the people who operate keycard-protected services.
//!
//! - `keycard keygen` makes a signing key (PEM or JWK) or an HMAC secret, and proves it loads;
//! - `keycard mint` signs a token with the service's own settings;
//! - `keycard inspect` shows a token's header and claims, UNVERIFIED;
//! - `keycard verify` runs the service's verification and says why a token is refused;
//! - `keycard jwks` prints the public JWKS of the configured keys.
//!
//! Exit status: 0 success, 1 the token is invalid (verify) or unreadable (inspect), 2 a usage
//! or configuration error. Every error is one line on stderr.

#![cfg_attr(test, allow(clippy::unwrap_used))]

use std::process::ExitCode;

use clap::Parser;

mod cli;
mod config;
mod inspect;
mod jwks;
mod keygen;
mod mint;
mod output;
mod time;
mod verify;

use cli::{Cli, Command};

/// A failure with its exit status; the message is printed as one line.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) code: u8,
    pub(crate) message: String,
}

impl Failure {
    /// A usage or configuration error (exit 2).
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Self {
            code: 2,
            message: message.into(),
        }
    }
    /// The input is not what it should be (exit 1).
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self {
            code: 1,
            message: message.into(),
        }
    }
}

impl From<keycard_core::ConfigError> for Failure {
    fn from(e: keycard_core::ConfigError) -> Self {
        Self::usage(format!("settings: {e}"))
    }
}

pub(crate) type Result<T, E = Failure> = std::result::Result<T, E>;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return clap_error(&e),
    };
    let out = output::Output::detect();
    let result = match cli.command {
        Command::Keygen(args) => keygen::run(&args, &out),
        Command::Mint(args) => mint::run(&args, &out),
        Command::Inspect(args) => inspect::run(&args, &out),
        Command::Verify(args) => verify::run(&args, &out),
        Command::Jwks(args) => jwks::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(f) => {
            // An empty message is a quiet stop (stdout closed under us).
            if !f.message.is_empty() {
                eprintln!("keycard: error: {}", output::one_line(&f.message));
            }
            ExitCode::from(f.code)
        }
    }
}

/// clap's errors in one line (its own tips kept), exit 2; `--help` and `--version` as usual.
fn clap_error(e: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            // Printing help to a closed pipe is not worth a panic or a message.
            let _ = e.print();
            ExitCode::from(if e.use_stderr() { 2 } else { 0 })
        }
        _ => {
            // clap's message, its argument list and tips, up to the usage block, on one line.
            let text = e.render().to_string();
            let msg = text
                .lines()
                .map(str::trim)
                .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            let msg = msg.strip_prefix("error: ").unwrap_or(&msg);
            eprintln!("keycard: error: {msg} (see `keycard --help`)");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn subcommands_are_the_documented_ones() {
        let names: Vec<String> = Cli::command()
            .get_subcommands()
            .map(|c| c.get_name().to_owned())
            .collect();
        assert_eq!(names, ["keygen", "mint", "inspect", "verify", "jwks"]);
    }

    #[test]
    fn a_token_argument_parses() {
        let cli = Cli::try_parse_from(["keycard", "inspect", "a.b.c"]).unwrap();
        assert!(matches!(cli.command, Command::Inspect(_)));
    }
}
