//! The command line, as clap sees it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const MAIN_EXAMPLES: &str = "\
Examples:
  # A secret for HS256, straight into the service's environment
  export KEYCARD_SECRET=\"$(keycard keygen --alg HS256)\"

  # An ES256 key pair in files (private key mode 0600)
  keycard keygen --alg ES256 --out keys/signing

  # A token for user 42, from the same settings the service reads
  keycard mint --user 42 --claim scope=articles:read

  # What is in this token? Is it valid for this service? Why not?
  keycard inspect \"$TOKEN\"
  keycard verify \"$TOKEN\"

  # The public keys, for clients and other services
  keycard jwks > jwks.json

Settings come from KEYCARD_* environment variables, over a TOML file given with --config
(or KEYCARD_CONFIG): the same ones the service reads (see docs/settings.md).

Exit status: 0 success; 1 invalid token (verify) or unreadable token (inspect);
2 usage or configuration error.";

/// The `keycard` command.
#[derive(Debug, Parser)]
#[command(
    name = "keycard",
    version,
    about = "Keys and tokens for services protected by keycard: keygen, mint, inspect, verify, jwks.",
    after_help = MAIN_EXAMPLES,
    propagate_version = true
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Make a signing key pair (PEM or JWK) or an HMAC secret, and prove that keycard loads it.
    #[command(after_help = KEYGEN_EXAMPLES)]
    Keygen(KeygenArgs),
    /// Sign a token with the service's settings (its keys, issuer, audience, lifetimes).
    #[command(after_help = MINT_EXAMPLES)]
    Mint(MintArgs),
    /// Show a token's header and claims, with readable times. Checks NOTHING.
    #[command(after_help = INSPECT_EXAMPLES)]
    Inspect(InspectArgs),
    /// Verify a token as the service would; exit 0 when valid, 1 (and the reason) when not.
    #[command(after_help = VERIFY_EXAMPLES)]
    Verify(VerifyArgs),
    /// Print the public JWKS of the configured keys (HMAC secrets are never listed).
    #[command(after_help = JWKS_EXAMPLES)]
    Jwks(JwksArgs),
}

const KEYGEN_EXAMPLES: &str = "\
Examples:
  keycard keygen --alg HS256                       # a base64url secret for KEYCARD_SECRET
  keycard keygen --alg ES256 --out keys/2026-01    # keys/2026-01.pem (0600), keys/2026-01.pub.pem
  keycard keygen --alg EdDSA --format jwk --kid 2026-01
  keycard keygen --alg RS256 --bits 4096 --json

Without --out, the private key and then the public key go to stdout. The kid defaults to the
key's RFC 7638 thumbprint. Every key is loaded back with keycard and a token signed with it
is verified with its public half before anything is printed.";

const MINT_EXAMPLES: &str = "\
Examples:
  keycard mint --user 42
  keycard mint --user 42 --kind refresh
  keycard mint --user 42 --claim username=alice --claim is_staff=true --claim roles='[\"editor\"]'
  KEYCARD_ACCESS_TOKEN_LIFETIME=60 keycard mint --config /etc/myapp/keycard.toml --user 42

--claim values are JSON when they parse as JSON (true, 42, [\"a\"], \"text\"), text otherwise.
The claims keycard manages (exp, iat, nbf, iss, aud, the token type, jti, user id and session
claims) cannot be set. The token is printed alone on stdout.";

const INSPECT_EXAMPLES: &str = "\
Examples:
  keycard inspect eyJhbGciOi...
  pbpaste | keycard inspect               # the token on stdin keeps it out of shell history
  keycard inspect --json \"$TOKEN\" | jq .claims.exp

Nothing is verified: use `keycard verify` for that. Control characters in claims are escaped,
so a hostile token cannot drive your terminal.";

const VERIFY_EXAMPLES: &str = "\
Examples:
  keycard verify \"$TOKEN\" && echo ok
  keycard verify --kind access \"$TOKEN\"
  keycard verify --at 2026-06-01T12:00:00Z \"$TOKEN\"     # as the service saw it then
  keycard verify --json \"$TOKEN\"

Checks what the service checks from the settings alone: size, shape, header, algorithm and
key, signature, exp/nbf/iat with the leeway, iss, aud, the token type and required claims.
It cannot see the revocation store (logout, spent refresh tokens) or the user store (user
gone or inactive): the service checks those on top.";

const JWKS_EXAMPLES: &str = "\
Examples:
  keycard jwks
  KEYCARD_ALGORITHM=ES256 KEYCARD_SIGNING_KEY_FILE=keys/2026-01.pem keycard jwks > jwks.json";

/// The algorithms keygen makes keys for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Alg {
    /// ECDSA on P-256 with SHA-256.
    #[value(name = "ES256")]
    Es256,
    /// ECDSA on P-384 with SHA-384.
    #[value(name = "ES384")]
    Es384,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    #[value(name = "RS256")]
    Rs256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    #[value(name = "RS384")]
    Rs384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    #[value(name = "RS512")]
    Rs512,
    /// RSASSA-PSS with SHA-256.
    #[value(name = "PS256")]
    Ps256,
    /// RSASSA-PSS with SHA-384.
    #[value(name = "PS384")]
    Ps384,
    /// RSASSA-PSS with SHA-512.
    #[value(name = "PS512")]
    Ps512,
    /// Ed25519.
    #[value(name = "EdDSA")]
    EdDsa,
    /// HMAC with SHA-256 (a shared secret).
    #[value(name = "HS256")]
    Hs256,
    /// HMAC with SHA-384 (a shared secret).
    #[value(name = "HS384")]
    Hs384,
    /// HMAC with SHA-512 (a shared secret).
    #[value(name = "HS512")]
    Hs512,
}

impl Alg {
    /// keycard's (jsonwebtoken's) algorithm.
    pub(crate) fn algorithm(self) -> keycard_core::Algorithm {
        use keycard_core::Algorithm as A;
        match self {
            Self::Es256 => A::ES256,
            Self::Es384 => A::ES384,
            Self::Rs256 => A::RS256,
            Self::Rs384 => A::RS384,
            Self::Rs512 => A::RS512,
            Self::Ps256 => A::PS256,
            Self::Ps384 => A::PS384,
            Self::Ps512 => A::PS512,
            Self::EdDsa => A::EdDSA,
            Self::Hs256 => A::HS256,
            Self::Hs384 => A::HS384,
            Self::Hs512 => A::HS512,
        }
    }
}

/// How an asymmetric key is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum KeyFormat {
    /// PKCS#8 private key and SPKI public key, in PEM (what KEYCARD_SIGNING_KEY_FILE reads).
    Pem,
    /// A private JWK and its public JWK (RFC 7517), both with the kid.
    Jwk,
}

/// The kinds of token mint makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Kind {
    /// An access token (what authenticates requests).
    Access,
    /// A refresh token (what the refresh endpoint takes).
    Refresh,
    /// A sliding token (authenticates and refreshes itself).
    Sliding,
}

impl Kind {
    /// keycard's token kind.
    pub(crate) fn token_kind(self) -> keycard_core::TokenKind {
        match self {
            Self::Access => keycard_core::TokenKind::Access,
            Self::Refresh => keycard_core::TokenKind::Refresh,
            Self::Sliding => keycard_core::TokenKind::Sliding,
        }
    }
}

/// Where the service's settings come from.
#[derive(Debug, Clone, Args)]
pub(crate) struct SettingsArgs {
    /// A TOML settings file (keys as in docs/settings.md); KEYCARD_* variables override it.
    #[arg(long, value_name = "FILE", env = "KEYCARD_CONFIG")]
    pub(crate) config: Option<PathBuf>,
}

/// `keycard keygen`.
#[derive(Debug, Args)]
pub(crate) struct KeygenArgs {
    /// The algorithm the key is for.
    #[arg(long, value_enum, ignore_case = true)]
    pub(crate) alg: Alg,
    /// The key id (default: the key's RFC 7638 JWK thumbprint; none for HMAC secrets).
    #[arg(long, value_name = "KID")]
    pub(crate) kid: Option<String>,
    /// How to write an asymmetric key.
    #[arg(long, value_enum, default_value_t = KeyFormat::Pem)]
    pub(crate) format: KeyFormat,
    /// RSA modulus size in bits (2048, 3072 or 4096).
    #[arg(long, default_value_t = 3072, value_parser = parse_bits)]
    pub(crate) bits: usize,
    /// Write files PREFIX.pem / PREFIX.pub.pem (or .jwk / .pub.jwk, or .secret) instead of
    /// printing; the private file is created with mode 0600 and never overwritten.
    #[arg(long, value_name = "PREFIX")]
    pub(crate) out: Option<PathBuf>,
    /// One JSON object on stdout (alg, kid, format, private, public or secret; or the files).
    #[arg(long)]
    pub(crate) json: bool,
}

fn parse_bits(s: &str) -> Result<usize, String> {
    match s.trim() {
        "2048" => Ok(2048),
        "3072" => Ok(3072),
        "4096" => Ok(4096),
        _ => Err("RSA keys are 2048, 3072 or 4096 bits".to_owned()),
    }
}

/// `keycard mint`.
#[derive(Debug, Args)]
pub(crate) struct MintArgs {
    /// The user id the token is for (the user id claim, a string).
    #[arg(long, value_name = "ID")]
    pub(crate) user: String,
    /// An extra claim, NAME=VALUE; VALUE is JSON when it parses as JSON, text otherwise.
    #[arg(long = "claim", value_name = "NAME=VALUE")]
    pub(crate) claims: Vec<String>,
    /// The kind of token.
    #[arg(long, value_enum, default_value_t = Kind::Access)]
    pub(crate) kind: Kind,
    #[command(flatten)]
    pub(crate) settings: SettingsArgs,
}

/// `keycard inspect`.
#[derive(Debug, Args)]
pub(crate) struct InspectArgs {
    /// The token (a leading `Bearer ` is ignored); `-` or nothing reads it from stdin.
    pub(crate) token: Option<String>,
    /// Judge the times as of this instant (Unix seconds or 2026-01-31T12:00:00Z) instead of now.
    #[arg(long, value_name = "TIME", value_parser = crate::time::parse_instant)]
    pub(crate) at: Option<u64>,
    /// One JSON object on stdout.
    #[arg(long)]
    pub(crate) json: bool,
}

/// `keycard verify`.
#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// The token (a leading `Bearer ` is ignored); `-` or nothing reads it from stdin.
    pub(crate) token: Option<String>,
    /// Accept only this kind (default: any kind, as the verify endpoint does).
    #[arg(long, value_enum)]
    pub(crate) kind: Option<Kind>,
    /// Verify as of this instant (Unix seconds or 2026-01-31T12:00:00Z) instead of now.
    #[arg(long, value_name = "TIME", value_parser = crate::time::parse_instant)]
    pub(crate) at: Option<u64>,
    /// One JSON object on stdout.
    #[arg(long)]
    pub(crate) json: bool,
    #[command(flatten)]
    pub(crate) settings: SettingsArgs,
}

/// `keycard jwks`.
#[derive(Debug, Args)]
pub(crate) struct JwksArgs {
    /// One line of JSON instead of indented JSON.
    #[arg(long)]
    pub(crate) compact: bool,
    #[command(flatten)]
    pub(crate) settings: SettingsArgs,
}
