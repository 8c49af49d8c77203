//! Settings: everything simplejwt's `SIMPLE_JWT` offers, validated once, at start-up.
//!
//! Build them in code with [`Settings::builder`], or read them from `KEYCARD_*` environment
//! variables ([`SettingsBuilder::from_env`]) or a TOML file ([`SettingsBuilder::from_toml_str`]).
//! [`SettingsBuilder::build`] refuses anything unsafe or impossible with a [`ConfigError`]
//! that says what is wrong and how to fix it.

use std::sync::Arc;
use std::time::Duration;

use http::HeaderName;
use serde::Deserialize;

use crate::clock::{Clock, SystemClock};
use crate::token::{Algorithm, Key, KeySet, KeySource, TokenKind};

/// The largest leeway keycard accepts: five minutes of clock skew is already generous.
pub const MAX_LEEWAY: Duration = Duration::from_secs(300);
/// The longest lifetime keycard accepts (ten years), so no expiry arithmetic can overflow.
pub const MAX_LIFETIME: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// A configuration keycard refuses, with what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No signing key was configured.
    #[error("no signing key: set an HMAC secret (KEYCARD_SECRET) or a private key")]
    NoSigningKey,
    /// An HMAC secret shorter than its hash.
    #[error(
        "the {alg} secret is {got} bytes; it must be at least {min} bytes (the hash size, RFC 7518 §3.2). Generate one with `keycard keygen --alg {alg}` or `openssl rand -base64 48`"
    )]
    WeakSecret {
        /// The algorithm.
        alg: String,
        /// The minimum length in bytes.
        min: usize,
        /// The length given.
        got: usize,
    },
    /// A key that does not fit its algorithm.
    #[error(
        "the key does not fit the algorithm {alg}: pin each key to an algorithm of its own family"
    )]
    KeyAlgorithmMismatch {
        /// The algorithm.
        alg: String,
    },
    /// Key material that cannot be read.
    #[error("the {what} cannot be read: check its format (PEM or DER, PKCS#8 for EC and Ed25519)")]
    BadKey {
        /// What was being read.
        what: &'static str,
    },
    /// A key that failed its sign+verify self-test.
    #[error(
        "the {key} failed its sign+verify self-test: it cannot be used (a SEC1 EC key must be converted to PKCS#8)"
    )]
    KeySelfTest {
        /// Which key.
        key: String,
    },
    /// Two keys with the same `kid`.
    #[error("two keys share a kid: give every key its own")]
    DuplicateKid,
    /// A `kid` that names no key of the set.
    #[error("no key has this kid")]
    UnknownKid,
    /// An attempt to remove or retire the current signing key.
    #[error("the signing key cannot be removed or retired: promote another key first")]
    RemoveSigningKey,
    /// A lifetime of zero, or too long.
    #[error("{name} must be between 1 second and 10 years")]
    Lifetime {
        /// Which setting.
        name: &'static str,
    },
    /// A leeway over the maximum.
    #[error("leeway is {secs} s; it must be at most 300 s")]
    Leeway {
        /// The leeway given.
        secs: u64,
    },
    /// Rotation or blacklisting asked for with no store to keep the state.
    #[error(
        "{feature} needs a revocation store: pass one (InMemoryRevocationStore, or RedisRevocationStore for several processes) or turn the setting off"
    )]
    MissingStore {
        /// What needs it.
        feature: &'static str,
    },
    /// `blacklist_after_rotation` without `rotate_refresh_tokens`.
    #[error(
        "blacklist_after_rotation has no effect without rotate_refresh_tokens: turn rotation on or this off"
    )]
    BlacklistWithoutRotation,
    /// A setting with an impossible value.
    #[error("{name}: {problem}")]
    Invalid {
        /// Which setting.
        name: &'static str,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// An environment variable or TOML file that cannot be read.
    #[error("cannot read settings from {source_name}: {problem}")]
    Source {
        /// The variable or file.
        source_name: String,
        /// What is wrong with it (never the value itself).
        problem: String,
    },
}

/// The expected audience: one value or several; a token must name at least one of them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    /// One audience.
    One(String),
    /// Several; any of them is accepted.
    Many(Vec<String>),
}

impl Audience {
    /// Whether `aud` is one of the accepted audiences.
    pub fn accepts(&self, aud: &str) -> bool {
        match self {
            Self::One(a) => a == aud,
            Self::Many(all) => all.iter().any(|a| a == aud),
        }
    }
    /// The audience written into minted tokens: the single one, or the list.
    pub fn to_claim(&self) -> serde_json::Value {
        match self {
            Self::One(a) => a.as_str().into(),
            Self::Many(all) if all.len() == 1 => all[0].as_str().into(),
            Self::Many(all) => all
                .iter()
                .map(|a| serde_json::Value::from(a.as_str()))
                .collect(),
        }
    }
    fn is_valid(&self) -> bool {
        match self {
            Self::One(a) => !a.is_empty(),
            Self::Many(all) => !all.is_empty() && all.iter().all(|a| !a.is_empty()),
        }
    }
}

impl From<&str> for Audience {
    fn from(s: &str) -> Self {
        Self::One(s.to_owned())
    }
}

/// Validated settings. Built by [`Settings::builder`]; read-only afterwards.
#[derive(Debug, Clone)]
pub struct Settings {
    pub(crate) access_lifetime: Duration,
    pub(crate) refresh_lifetime: Duration,
    pub(crate) rotate_refresh_tokens: bool,
    pub(crate) blacklist_after_rotation: bool,
    pub(crate) keys: KeySource,
    pub(crate) issuer: Option<String>,
    pub(crate) audience: Option<Audience>,
    pub(crate) leeway: u64,
    pub(crate) header_types: Vec<String>,
    pub(crate) header_name: HeaderName,
    pub(crate) user_id_claim: String,
    pub(crate) token_type_claim: String,
    pub(crate) jti_claim: String,
    pub(crate) session_claim: String,
    pub(crate) auth_token_kinds: Vec<TokenKind>,
    pub(crate) sliding_lifetime: Duration,
    pub(crate) sliding_refresh_lifetime: Duration,
    pub(crate) sliding_refresh_exp_claim: String,
    pub(crate) password_change_revocation: bool,
    pub(crate) revoke_token_claim: String,
    pub(crate) check_user_is_active: bool,
    pub(crate) max_token_size: usize,
    pub(crate) realm: String,
    pub(crate) clock: Arc<dyn Clock>,
}

impl Settings {
    /// A builder with simplejwt's defaults where they are safe.
    pub fn builder() -> SettingsBuilder {
        SettingsBuilder::default()
    }
    /// Access-token lifetime (`ACCESS_TOKEN_LIFETIME`, default 5 minutes).
    pub fn access_lifetime(&self) -> Duration {
        self.access_lifetime
    }
    /// Refresh-token lifetime (`REFRESH_TOKEN_LIFETIME`, default 1 day).
    pub fn refresh_lifetime(&self) -> Duration {
        self.refresh_lifetime
    }
    /// `ROTATE_REFRESH_TOKENS`.
    pub fn rotate_refresh_tokens(&self) -> bool {
        self.rotate_refresh_tokens
    }
    /// `BLACKLIST_AFTER_ROTATION`: a rotated token is spent; presenting it again is reuse.
    pub fn blacklist_after_rotation(&self) -> bool {
        self.blacklist_after_rotation
    }
    /// The current key set (it can change at run time: see [`key_source`](Self::key_source)).
    pub fn keys(&self) -> Arc<KeySet> {
        self.keys.current()
    }
    /// Where the keys come from: fixed, rotated locally, or fetched from another service.
    pub fn key_source(&self) -> &KeySource {
        &self.keys
    }
    /// When a key retired now may go: once the last token it signed has expired — now, plus
    /// the longest lifetime any token can have (refresh and sliding windows included), plus
    /// the leeway. See [`KeyRotation::retire_after`](crate::token::KeyRotation::retire_after).
    pub fn key_retirement_deadline(&self) -> u64 {
        let longest = self
            .access_lifetime
            .max(self.refresh_lifetime)
            .max(self.sliding_lifetime)
            .max(self.sliding_refresh_lifetime);
        self.now()
            .saturating_add(longest.as_secs())
            .saturating_add(self.leeway)
    }
    /// `ISSUER`: required and checked when set.
    pub fn issuer(&self) -> Option<&str> {
        self.issuer.as_deref()
    }
    /// `AUDIENCE`: required and checked when set.
    pub fn audience(&self) -> Option<&Audience> {
        self.audience.as_ref()
    }
    /// `LEEWAY`, in seconds.
    pub fn leeway(&self) -> u64 {
        self.leeway
    }
    /// `AUTH_HEADER_TYPES` (default `["Bearer"]`); the first one is the challenge's scheme.
    pub fn header_types(&self) -> &[String] {
        &self.header_types
    }
    /// `AUTH_HEADER_NAME` (default `Authorization`).
    pub fn header_name(&self) -> &HeaderName {
        &self.header_name
    }
    /// `USER_ID_CLAIM` (default `user_id`).
    pub fn user_id_claim(&self) -> &str {
        &self.user_id_claim
    }
    /// `TOKEN_TYPE_CLAIM` (default `token_type`).
    pub fn token_type_claim(&self) -> &str {
        &self.token_type_claim
    }
    /// `JTI_CLAIM` (default `jti`).
    pub fn jti_claim(&self) -> &str {
        &self.jti_claim
    }
    /// The session id claim (default `sid`), shared by every token of one login.
    pub fn session_claim(&self) -> &str {
        &self.session_claim
    }
    /// `AUTH_TOKEN_CLASSES`: which token kinds authenticate requests (default access only).
    pub fn auth_token_kinds(&self) -> &[TokenKind] {
        &self.auth_token_kinds
    }
    /// `SLIDING_TOKEN_LIFETIME`.
    pub fn sliding_lifetime(&self) -> Duration {
        self.sliding_lifetime
    }
    /// `SLIDING_TOKEN_REFRESH_LIFETIME`.
    pub fn sliding_refresh_lifetime(&self) -> Duration {
        self.sliding_refresh_lifetime
    }
    /// `SLIDING_TOKEN_REFRESH_EXP_CLAIM` (default `refresh_exp`).
    pub fn sliding_refresh_exp_claim(&self) -> &str {
        &self.sliding_refresh_exp_claim
    }
    /// `CHECK_REVOKE_TOKEN`: tokens die when the user's password changes (default off).
    pub fn password_change_revocation(&self) -> bool {
        self.password_change_revocation
    }
    /// `REVOKE_TOKEN_CLAIM` (default `hash_password`): carries the password-hash fingerprint.
    pub fn revoke_token_claim(&self) -> &str {
        &self.revoke_token_claim
    }
    /// `CHECK_USER_IS_ACTIVE` (default on): inactive users cannot log in or use tokens.
    pub fn check_user_is_active(&self) -> bool {
        self.check_user_is_active
    }
    /// The largest token accepted, in bytes (default 8 KiB); checked before any decoding.
    pub fn max_token_size(&self) -> usize {
        self.max_token_size
    }
    /// The realm of `WWW-Authenticate` challenges (default `api`).
    pub fn realm(&self) -> &str {
        &self.realm
    }
    /// The token authenticators' challenge: the first header type in the realm, with RFC 6750
    /// attributes (`Bearer realm="api"`).
    pub fn challenge(&self) -> crate::error::Challenge {
        // The builder guarantees at least one header type.
        let scheme = self
            .header_types
            .first()
            .cloned()
            .unwrap_or_else(|| "Bearer".to_owned());
        crate::error::Challenge::new(scheme, self.realm.clone(), true)
    }
    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }
    /// Seconds since the epoch, by the settings' clock.
    pub fn now(&self) -> u64 {
        self.clock.now()
    }
}

/// Builds [`Settings`]; see each method for the simplejwt setting it stands for.
///
/// ```
/// use keycard_core::{Settings, ConfigError};
/// use std::time::Duration;
/// let err = Settings::builder().hmac_secret("short").build().unwrap_err();
/// assert!(matches!(err, ConfigError::WeakSecret { .. }));
/// let s = Settings::builder()
///     .hmac_secret("contract-secret-0123456789abcdef0123456789abcdef")
///     .issuer("keycard-contract")
///     .audience("contract-api")
///     .leeway(Duration::from_secs(10))
///     .build()
///     .unwrap();
/// assert_eq!(s.leeway(), 10);
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct SettingsBuilder {
    access_lifetime: Duration,
    refresh_lifetime: Duration,
    rotate_refresh_tokens: bool,
    blacklist_after_rotation: bool,
    algorithm: Algorithm,
    secret: Option<Vec<u8>>,
    signing_key: Option<Result<Key, ConfigError>>,
    verifying_keys: Vec<Result<Key, ConfigError>>,
    key_source: Option<KeySource>,
    kid: Option<String>,
    issuer: Option<String>,
    audience: Option<Audience>,
    leeway: Duration,
    header_types: Vec<String>,
    header_name: String,
    user_id_claim: String,
    token_type_claim: String,
    jti_claim: String,
    session_claim: String,
    auth_token_kinds: Vec<TokenKind>,
    sliding_lifetime: Duration,
    sliding_refresh_lifetime: Duration,
    sliding_refresh_exp_claim: String,
    password_change_revocation: bool,
    revoke_token_claim: String,
    check_user_is_active: bool,
    max_token_size: usize,
    realm: String,
    clock: Arc<dyn Clock>,
}

impl Default for SettingsBuilder {
    fn default() -> Self {
        Self {
            access_lifetime: Duration::from_secs(300),
            refresh_lifetime: Duration::from_secs(86_400),
            rotate_refresh_tokens: false,
            blacklist_after_rotation: false,
            algorithm: Algorithm::HS256,
            secret: None,
            signing_key: None,
            verifying_keys: Vec::new(),
            key_source: None,
            kid: None,
            issuer: None,
            audience: None,
            leeway: Duration::ZERO,
            header_types: vec!["Bearer".to_owned()],
            header_name: "authorization".to_owned(),
            user_id_claim: "user_id".to_owned(),
            token_type_claim: "token_type".to_owned(),
            jti_claim: "jti".to_owned(),
            session_claim: "sid".to_owned(),
            auth_token_kinds: vec![TokenKind::Access],
            sliding_lifetime: Duration::from_secs(300),
            sliding_refresh_lifetime: Duration::from_secs(86_400),
            sliding_refresh_exp_claim: "refresh_exp".to_owned(),
            password_change_revocation: false,
            revoke_token_claim: "hash_password".to_owned(),
            check_user_is_active: true,
            max_token_size: 8 * 1024,
            realm: "api".to_owned(),
            clock: Arc::new(SystemClock),
        }
    }
}

impl SettingsBuilder {
    /// `ACCESS_TOKEN_LIFETIME`.
    pub fn access_lifetime(mut self, d: Duration) -> Self {
        self.access_lifetime = d;
        self
    }
    /// `REFRESH_TOKEN_LIFETIME`.
    pub fn refresh_lifetime(mut self, d: Duration) -> Self {
        self.refresh_lifetime = d;
        self
    }
    /// `ROTATE_REFRESH_TOKENS` (needs a revocation store).
    pub fn rotate_refresh_tokens(mut self, on: bool) -> Self {
        self.rotate_refresh_tokens = on;
        self
    }
    /// `BLACKLIST_AFTER_ROTATION` (needs rotation and a revocation store).
    pub fn blacklist_after_rotation(mut self, on: bool) -> Self {
        self.blacklist_after_rotation = on;
        self
    }
    /// `ALGORITHM` for the secret given to [`hmac_secret`](Self::hmac_secret) (default HS256).
    pub fn algorithm(mut self, alg: Algorithm) -> Self {
        self.algorithm = alg;
        self
    }
    /// `SIGNING_KEY` as an HMAC secret, for the configured HS* algorithm.
    pub fn hmac_secret(mut self, secret: impl AsRef<[u8]>) -> Self {
        self.secret = Some(secret.as_ref().to_vec());
        self
    }
    /// The `kid` of the signing key (from [`hmac_secret`](Self::hmac_secret) or a key file),
    /// unless the key already has one.
    pub fn kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }
    /// `SIGNING_KEY` as a ready key (asymmetric or HMAC); replaces any secret.
    pub fn signing_key(mut self, key: Key) -> Self {
        self.signing_key = Some(Ok(key));
        self
    }
    /// `VERIFYING_KEY`: another key accepted for verification (a retired or a peer's key).
    pub fn verifying_key(mut self, key: Key) -> Self {
        self.verifying_keys.push(Ok(key));
        self
    }
    /// Where the keys come from at run time, instead of a secret or keys given here: a
    /// [`KeyRotation`](crate::token::KeyRotation), or (feature `remote-keys`) a
    /// [`RemoteKeys`](crate::token::RemoteKeys) — simplejwt's `JWK_URL`. A source without a
    /// signing key makes a service that only verifies. Giving both a source and keys is refused.
    pub fn key_source(mut self, source: impl Into<KeySource>) -> Self {
        self.key_source = Some(source.into());
        self
    }
    /// `ISSUER`.
    pub fn issuer(mut self, iss: impl Into<String>) -> Self {
        self.issuer = Some(iss.into());
        self
    }
    /// `AUDIENCE`: one string or a list.
    pub fn audience(mut self, aud: impl Into<Audience>) -> Self {
        self.audience = Some(aud.into());
        self
    }
    /// `LEEWAY` (at most 300 s).
    pub fn leeway(mut self, d: Duration) -> Self {
        self.leeway = d;
        self
    }
    /// `AUTH_HEADER_TYPES`; the first is used in challenges.
    pub fn header_types<I: IntoIterator<Item = S>, S: Into<String>>(mut self, types: I) -> Self {
        self.header_types = types.into_iter().map(Into::into).collect();
        self
    }
    /// `AUTH_HEADER_NAME`, as an HTTP header name (`X-Access-Token`).
    pub fn header_name(mut self, name: impl Into<String>) -> Self {
        self.header_name = name.into();
        self
    }
    /// `USER_ID_CLAIM` (`user_id`, or `sub`).
    pub fn user_id_claim(mut self, name: impl Into<String>) -> Self {
        self.user_id_claim = name.into();
        self
    }
    /// `TOKEN_TYPE_CLAIM`.
    pub fn token_type_claim(mut self, name: impl Into<String>) -> Self {
        self.token_type_claim = name.into();
        self
    }
    /// `JTI_CLAIM`.
    pub fn jti_claim(mut self, name: impl Into<String>) -> Self {
        self.jti_claim = name.into();
        self
    }
    /// The session id claim (default `sid`).
    pub fn session_claim(mut self, name: impl Into<String>) -> Self {
        self.session_claim = name.into();
        self
    }
    /// `AUTH_TOKEN_CLASSES`: which kinds authenticate requests (`[Sliding]` for sliding tokens).
    pub fn auth_token_kinds<I: IntoIterator<Item = TokenKind>>(mut self, kinds: I) -> Self {
        self.auth_token_kinds = kinds.into_iter().collect();
        self
    }
    /// `SLIDING_TOKEN_LIFETIME`.
    pub fn sliding_lifetime(mut self, d: Duration) -> Self {
        self.sliding_lifetime = d;
        self
    }
    /// `SLIDING_TOKEN_REFRESH_LIFETIME`.
    pub fn sliding_refresh_lifetime(mut self, d: Duration) -> Self {
        self.sliding_refresh_lifetime = d;
        self
    }
    /// `SLIDING_TOKEN_REFRESH_EXP_CLAIM`.
    pub fn sliding_refresh_exp_claim(mut self, name: impl Into<String>) -> Self {
        self.sliding_refresh_exp_claim = name.into();
        self
    }
    /// `CHECK_REVOKE_TOKEN`: revoke tokens on password change.
    pub fn password_change_revocation(mut self, on: bool) -> Self {
        self.password_change_revocation = on;
        self
    }
    /// `REVOKE_TOKEN_CLAIM`.
    pub fn revoke_token_claim(mut self, name: impl Into<String>) -> Self {
        self.revoke_token_claim = name.into();
        self
    }
    /// `CHECK_USER_IS_ACTIVE`.
    pub fn check_user_is_active(mut self, on: bool) -> Self {
        self.check_user_is_active = on;
        self
    }
    /// The largest token accepted, in bytes (default 8192).
    pub fn max_token_size(mut self, bytes: usize) -> Self {
        self.max_token_size = bytes;
        self
    }
    /// The challenge realm (default `api`).
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = realm.into();
        self
    }
    /// The clock (a [`FrozenClock`](crate::FrozenClock) in tests).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Reads `KEYCARD_*` environment variables over this builder (see [`ENV_VARS`]).
    pub fn from_env(self) -> Result<Self, ConfigError> {
        let mut file = SettingsFile::default();
        for (var, field) in ENV_VARS {
            if let Ok(value) = std::env::var(var) {
                file.set(field, &value)
                    .map_err(|problem| ConfigError::Source {
                        source_name: (*var).to_owned(),
                        problem,
                    })?;
            }
        }
        self.apply(file, "the environment")
    }

    /// Reads settings from TOML text over this builder. Keys are the lower-case names of
    /// [`ENV_VARS`] without the `KEYCARD_` prefix; durations are seconds.
    ///
    /// ```
    /// use keycard_core::Settings;
    /// let s = Settings::builder()
    ///     .from_toml_str(r#"
    ///         secret = "contract-secret-0123456789abcdef0123456789abcdef"
    ///         issuer = "keycard-contract"
    ///         audience = ["contract-api", "other-api"]
    ///         access_token_lifetime = 600
    ///     "#)
    ///     .unwrap()
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(s.access_lifetime().as_secs(), 600);
    /// ```
    pub fn from_toml_str(self, text: &str) -> Result<Self, ConfigError> {
        let file: SettingsFile = toml::from_str(text).map_err(|e| ConfigError::Source {
            source_name: "TOML settings".to_owned(),
            problem: e.message().to_owned(),
        })?;
        self.apply(file, "the TOML settings")
    }

    /// Reads settings from a TOML file over this builder.
    pub fn from_toml_file(self, path: impl AsRef<std::path::Path>) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Source {
            source_name: path.display().to_string(),
            problem: e.kind().to_string(),
        })?;
        self.from_toml_str(&text)
    }

    fn apply(mut self, f: SettingsFile, origin: &str) -> Result<Self, ConfigError> {
        let secs = Duration::from_secs;
        if let Some(v) = f.access_token_lifetime {
            self.access_lifetime = secs(v);
        }
        if let Some(v) = f.refresh_token_lifetime {
            self.refresh_lifetime = secs(v);
        }
        if let Some(v) = f.rotate_refresh_tokens {
            self.rotate_refresh_tokens = v;
        }
        if let Some(v) = f.blacklist_after_rotation {
            self.blacklist_after_rotation = v;
        }
        if let Some(v) = f.algorithm {
            self.algorithm = v.parse().map_err(|_| ConfigError::Source {
                source_name: origin.to_owned(),
                problem: "algorithm must be one of HS256 HS384 HS512 RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 EdDSA".to_owned(),
            })?;
        }
        if let Some(v) = f.secret {
            self.secret = Some(v.into_bytes());
        }
        if let Some(v) = f.kid {
            self.kid = Some(v);
        }
        if let Some(path) = f.signing_key_file {
            let pem = read_key_file(&path)?;
            self.signing_key = Some(Key::private_pem(self.algorithm, &pem));
        }
        if let Some(path) = f.verifying_key_file {
            let pem = read_key_file(&path)?;
            self.verifying_keys
                .push(Key::public_pem(self.algorithm, &pem));
        }
        if let Some(v) = f.issuer {
            self.issuer = Some(v);
        }
        if let Some(v) = f.audience {
            self.audience = Some(v);
        }
        if let Some(v) = f.leeway {
            self.leeway = secs(v);
        }
        if let Some(v) = f.auth_header_types {
            self.header_types = v;
        }
        if let Some(v) = f.auth_header_name {
            self.header_name = v;
        }
        if let Some(v) = f.user_id_claim {
            self.user_id_claim = v;
        }
        if let Some(v) = f.token_type_claim {
            self.token_type_claim = v;
        }
        if let Some(v) = f.jti_claim {
            self.jti_claim = v;
        }
        if let Some(v) = f.sliding_token_lifetime {
            self.sliding_lifetime = secs(v);
        }
        if let Some(v) = f.sliding_token_refresh_lifetime {
            self.sliding_refresh_lifetime = secs(v);
        }
        if let Some(v) = f.check_revoke_token {
            self.password_change_revocation = v;
        }
        if let Some(v) = f.check_user_is_active {
            self.check_user_is_active = v;
        }
        if let Some(v) = f.max_token_size {
            self.max_token_size = v;
        }
        if let Some(v) = f.realm {
            self.realm = v;
        }
        Ok(self)
    }

    /// Validates everything and builds the settings.
    pub fn build(self) -> Result<Settings, ConfigError> {
        for (name, d) in [
            ("access_lifetime", self.access_lifetime),
            ("refresh_lifetime", self.refresh_lifetime),
            ("sliding_lifetime", self.sliding_lifetime),
            ("sliding_refresh_lifetime", self.sliding_refresh_lifetime),
        ] {
            if d.as_secs() == 0 || d > MAX_LIFETIME {
                return Err(ConfigError::Lifetime { name });
            }
        }
        if self.leeway > MAX_LEEWAY {
            return Err(ConfigError::Leeway {
                secs: self.leeway.as_secs(),
            });
        }
        if self.blacklist_after_rotation && !self.rotate_refresh_tokens {
            return Err(ConfigError::BlacklistWithoutRotation);
        }
        if self.header_types.is_empty()
            || self
                .header_types
                .iter()
                .any(|t| t.is_empty() || !t.bytes().all(|b| b.is_ascii_graphic()))
        {
            return Err(ConfigError::Invalid {
                name: "auth_header_types",
                problem: "give at least one scheme, each a single word of visible ASCII",
            });
        }
        let header_name = HeaderName::from_bytes(self.header_name.as_bytes()).map_err(|_| {
            ConfigError::Invalid {
                name: "auth_header_name",
                problem: "not a valid HTTP header name",
            }
        })?;
        let claims = [
            &self.user_id_claim,
            &self.token_type_claim,
            &self.jti_claim,
            &self.session_claim,
            &self.sliding_refresh_exp_claim,
            &self.revoke_token_claim,
        ];
        if claims.iter().any(|c| c.is_empty()) {
            return Err(ConfigError::Invalid {
                name: "claim names",
                problem: "claim names cannot be empty",
            });
        }
        for (i, a) in claims.iter().enumerate() {
            if claims[i + 1..].contains(a)
                || ["exp", "iat", "nbf", "iss", "aud"].contains(&a.as_str())
            {
                return Err(ConfigError::Invalid {
                    name: "claim names",
                    problem: "each claim name must be distinct and not a registered time/iss/aud claim",
                });
            }
        }
        if self.auth_token_kinds.is_empty() || self.auth_token_kinds.contains(&TokenKind::Refresh) {
            return Err(ConfigError::Invalid {
                name: "auth_token_kinds",
                problem: "list access and/or sliding; refresh tokens never authenticate requests",
            });
        }
        if !(256..=1024 * 1024).contains(&self.max_token_size) {
            return Err(ConfigError::Invalid {
                name: "max_token_size",
                problem: "must be between 256 bytes and 1 MiB",
            });
        }
        if self.audience.as_ref().is_some_and(|a| !a.is_valid()) {
            return Err(ConfigError::Invalid {
                name: "audience",
                problem: "audiences cannot be empty",
            });
        }
        if self.issuer.as_deref() == Some("") {
            return Err(ConfigError::Invalid {
                name: "issuer",
                problem: "the issuer cannot be empty",
            });
        }
        let keys = match self.key_source {
            Some(_)
                if self.signing_key.is_some()
                    || self.secret.is_some()
                    || !self.verifying_keys.is_empty() =>
            {
                return Err(ConfigError::Invalid {
                    name: "keys",
                    problem: "give either a key source or keys (secret, signing key, verifying keys), not both",
                });
            }
            Some(source) => source,
            None => {
                let signing = match (self.signing_key, self.secret) {
                    (Some(key), _) => key?,
                    (None, Some(secret)) => Key::hmac(self.algorithm, &secret)?,
                    (None, None) => return Err(ConfigError::NoSigningKey),
                };
                // `kid` (KEYCARD_KID) names the signing key however it was given — a secret or
                // a key file — unless the key already carries one (a JWK's own kid).
                let signing = match self.kid {
                    Some(kid) if signing.kid().is_none() => signing.with_kid(kid),
                    _ => signing,
                };
                let mut keys = KeySet::new(signing)?;
                for key in self.verifying_keys {
                    keys = keys.with_verifier(key?)?;
                }
                KeySource::fixed(keys)
            }
        };
        Ok(Settings {
            access_lifetime: self.access_lifetime,
            refresh_lifetime: self.refresh_lifetime,
            rotate_refresh_tokens: self.rotate_refresh_tokens,
            blacklist_after_rotation: self.blacklist_after_rotation,
            keys,
            issuer: self.issuer,
            audience: self.audience,
            leeway: self.leeway.as_secs(),
            header_types: self.header_types,
            header_name,
            user_id_claim: self.user_id_claim,
            token_type_claim: self.token_type_claim,
            jti_claim: self.jti_claim,
            session_claim: self.session_claim,
            auth_token_kinds: self.auth_token_kinds,
            sliding_lifetime: self.sliding_lifetime,
            sliding_refresh_lifetime: self.sliding_refresh_lifetime,
            sliding_refresh_exp_claim: self.sliding_refresh_exp_claim,
            password_change_revocation: self.password_change_revocation,
            revoke_token_claim: self.revoke_token_claim,
            check_user_is_active: self.check_user_is_active,
            max_token_size: self.max_token_size,
            realm: self.realm,
            clock: self.clock,
        })
    }
}

fn read_key_file(path: &str) -> Result<Vec<u8>, ConfigError> {
    std::fs::read(path).map_err(|e| ConfigError::Source {
        source_name: path.to_owned(),
        problem: e.kind().to_string(),
    })
}

/// The environment variables [`SettingsBuilder::from_env`] reads, and the TOML key of each.
pub const ENV_VARS: &[(&str, &str)] = &[
    ("KEYCARD_ACCESS_TOKEN_LIFETIME", "access_token_lifetime"),
    ("KEYCARD_REFRESH_TOKEN_LIFETIME", "refresh_token_lifetime"),
    ("KEYCARD_ROTATE_REFRESH_TOKENS", "rotate_refresh_tokens"),
    (
        "KEYCARD_BLACKLIST_AFTER_ROTATION",
        "blacklist_after_rotation",
    ),
    ("KEYCARD_ALGORITHM", "algorithm"),
    ("KEYCARD_SECRET", "secret"),
    ("KEYCARD_KID", "kid"),
    ("KEYCARD_SIGNING_KEY_FILE", "signing_key_file"),
    ("KEYCARD_VERIFYING_KEY_FILE", "verifying_key_file"),
    ("KEYCARD_ISSUER", "issuer"),
    ("KEYCARD_AUDIENCE", "audience"),
    ("KEYCARD_LEEWAY", "leeway"),
    ("KEYCARD_AUTH_HEADER_TYPES", "auth_header_types"),
    ("KEYCARD_AUTH_HEADER_NAME", "auth_header_name"),
    ("KEYCARD_USER_ID_CLAIM", "user_id_claim"),
    ("KEYCARD_TOKEN_TYPE_CLAIM", "token_type_claim"),
    ("KEYCARD_JTI_CLAIM", "jti_claim"),
    ("KEYCARD_SLIDING_TOKEN_LIFETIME", "sliding_token_lifetime"),
    (
        "KEYCARD_SLIDING_TOKEN_REFRESH_LIFETIME",
        "sliding_token_refresh_lifetime",
    ),
    ("KEYCARD_CHECK_REVOKE_TOKEN", "check_revoke_token"),
    ("KEYCARD_CHECK_USER_IS_ACTIVE", "check_user_is_active"),
    ("KEYCARD_MAX_TOKEN_SIZE", "max_token_size"),
    ("KEYCARD_REALM", "realm"),
];

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingsFile {
    access_token_lifetime: Option<u64>,
    refresh_token_lifetime: Option<u64>,
    rotate_refresh_tokens: Option<bool>,
    blacklist_after_rotation: Option<bool>,
    algorithm: Option<String>,
    secret: Option<String>,
    kid: Option<String>,
    signing_key_file: Option<String>,
    verifying_key_file: Option<String>,
    issuer: Option<String>,
    audience: Option<Audience>,
    leeway: Option<u64>,
    auth_header_types: Option<Vec<String>>,
    auth_header_name: Option<String>,
    user_id_claim: Option<String>,
    token_type_claim: Option<String>,
    jti_claim: Option<String>,
    sliding_token_lifetime: Option<u64>,
    sliding_token_refresh_lifetime: Option<u64>,
    check_revoke_token: Option<bool>,
    check_user_is_active: Option<bool>,
    max_token_size: Option<usize>,
    realm: Option<String>,
}

impl SettingsFile {
    /// Sets one field from an environment variable's text. Error messages never include the
    /// value (it may be a secret).
    fn set(&mut self, field: &str, v: &str) -> Result<(), String> {
        fn num<T: std::str::FromStr>(v: &str) -> Result<T, String> {
            v.trim()
                .parse()
                .map_err(|_| "expected a whole number (seconds or bytes)".to_owned())
        }
        fn flag(v: &str) -> Result<bool, String> {
            match v.trim().to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "on" => Ok(true),
                "0" | "false" | "no" | "off" => Ok(false),
                _ => Err("expected true or false".to_owned()),
            }
        }
        fn list(v: &str) -> Vec<String> {
            v.split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        }
        match field {
            "access_token_lifetime" => self.access_token_lifetime = Some(num(v)?),
            "refresh_token_lifetime" => self.refresh_token_lifetime = Some(num(v)?),
            "rotate_refresh_tokens" => self.rotate_refresh_tokens = Some(flag(v)?),
            "blacklist_after_rotation" => self.blacklist_after_rotation = Some(flag(v)?),
            "algorithm" => self.algorithm = Some(v.trim().to_owned()),
            "secret" => self.secret = Some(v.to_owned()),
            "kid" => self.kid = Some(v.to_owned()),
            "signing_key_file" => self.signing_key_file = Some(v.to_owned()),
            "verifying_key_file" => self.verifying_key_file = Some(v.to_owned()),
            "issuer" => self.issuer = Some(v.to_owned()),
            "audience" => {
                let all = list(v);
                self.audience = Some(if all.len() == 1 {
                    Audience::One(all.into_iter().next().unwrap_or_default())
                } else {
                    Audience::Many(all)
                });
            }
            "leeway" => self.leeway = Some(num(v)?),
            "auth_header_types" => self.auth_header_types = Some(list(v)),
            "auth_header_name" => self.auth_header_name = Some(v.trim().to_owned()),
            "user_id_claim" => self.user_id_claim = Some(v.trim().to_owned()),
            "token_type_claim" => self.token_type_claim = Some(v.trim().to_owned()),
            "jti_claim" => self.jti_claim = Some(v.trim().to_owned()),
            "sliding_token_lifetime" => self.sliding_token_lifetime = Some(num(v)?),
            "sliding_token_refresh_lifetime" => self.sliding_token_refresh_lifetime = Some(num(v)?),
            "check_revoke_token" => self.check_revoke_token = Some(flag(v)?),
            "check_user_is_active" => self.check_user_is_active = Some(flag(v)?),
            "max_token_size" => self.max_token_size = Some(num(v)?),
            "realm" => self.realm = Some(v.to_owned()),
            _ => return Err("unknown setting".to_owned()),
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failing test panics with the value
mod tests {
    use super::*;

    const SECRET: &str = "contract-secret-0123456789abcdef0123456789abcdef";

    #[test]
    fn kx1_zero_lifetime_is_refused() {
        let e = Settings::builder()
            .hmac_secret(SECRET)
            .access_lifetime(Duration::ZERO)
            .build()
            .unwrap_err();
        assert_eq!(
            e,
            ConfigError::Lifetime {
                name: "access_lifetime"
            }
        );
    }

    #[test]
    fn kx1_huge_lifetime_is_refused_without_overflow() {
        let e = Settings::builder()
            .hmac_secret(SECRET)
            .refresh_lifetime(Duration::MAX)
            .build()
            .unwrap_err();
        assert_eq!(
            e,
            ConfigError::Lifetime {
                name: "refresh_lifetime"
            }
        );
    }

    #[test]
    fn kx1_leeway_over_300s_is_refused() {
        let e = Settings::builder()
            .hmac_secret(SECRET)
            .leeway(Duration::from_secs(301))
            .build()
            .unwrap_err();
        assert_eq!(e, ConfigError::Leeway { secs: 301 });
        assert!(e.to_string().contains("at most 300"));
    }

    #[test]
    fn ax6_short_or_empty_secret_is_refused_with_advice() {
        for (alg, secret, min) in [
            (Algorithm::HS256, "", 32),
            (Algorithm::HS256, "31-bytes-31-bytes-31-bytes-31-b", 32),
            (
                Algorithm::HS384,
                "0123456789012345678901234567890123456789",
                48,
            ),
            (Algorithm::HS512, SECRET, 64),
        ] {
            let e = Settings::builder()
                .algorithm(alg)
                .hmac_secret(secret)
                .build()
                .unwrap_err();
            assert_eq!(
                e,
                ConfigError::WeakSecret {
                    alg: format!("{alg:?}"),
                    min,
                    got: secret.len()
                }
            );
            assert!(e.to_string().contains("keygen"), "{e}");
        }
    }

    #[test]
    fn no_key_is_refused() {
        assert_eq!(
            Settings::builder().build().unwrap_err(),
            ConfigError::NoSigningKey
        );
    }

    #[test]
    fn blacklist_without_rotation_is_refused() {
        let e = Settings::builder()
            .hmac_secret(SECRET)
            .blacklist_after_rotation(true)
            .build()
            .unwrap_err();
        assert_eq!(e, ConfigError::BlacklistWithoutRotation);
    }

    #[test]
    fn refresh_tokens_never_authenticate_requests() {
        let e = Settings::builder()
            .hmac_secret(SECRET)
            .auth_token_kinds([TokenKind::Refresh])
            .build()
            .unwrap_err();
        assert!(matches!(
            e,
            ConfigError::Invalid {
                name: "auth_token_kinds",
                ..
            }
        ));
    }

    #[test]
    fn toml_unknown_key_is_refused_and_secret_not_echoed() {
        let e = Settings::builder()
            .from_toml_str("secrett = \"hunter2-hunter2\"")
            .unwrap_err();
        assert!(matches!(e, ConfigError::Source { .. }));
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }

    #[test]
    fn env_values_are_parsed_and_bad_values_named_without_echo() {
        let mut f = SettingsFile::default();
        f.set("audience", "a, b").unwrap();
        assert_eq!(
            f.audience,
            Some(Audience::Many(vec!["a".into(), "b".into()]))
        );
        let err = f.set("leeway", "sixty-secret").unwrap_err();
        assert!(!err.contains("sixty-secret"));
    }

    #[test]
    fn kid_names_a_signing_key_read_from_a_file_too() {
        let pem = include_bytes!("../tests/keys/ed25519_private.pem");
        let key = Key::private_pem(Algorithm::EdDSA, pem).unwrap();
        let s = Settings::builder()
            .signing_key(key)
            .kid("2026-12")
            .build()
            .unwrap();
        assert_eq!(
            s.keys().signing_key().and_then(|k| k.kid()),
            Some("2026-12")
        );
    }
}
