//! The token service: simplejwt's views (obtain, refresh, verify, blacklist, sliding) without HTTP.

use std::fmt;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde_json::{Map, Value};

use super::claims::{Claims, TokenKind};
use super::verify::{Verified, Verifier};
use crate::error::{AuthError, TokenError};
use crate::settings::{ConfigError, Settings};
use crate::store::{
    RevocationStore, SpendOutcome, StoreError, TokenRecord, TokenState, User, UserStore,
};

/// Adds the application's claims to every token of a login (simplejwt's `get_token` override).
/// They are carried into every access token minted from that session, rotations included.
pub type ClaimsHook = Arc<dyn Fn(&User) -> Map<String, Value> + Send + Sync>;

/// An access token and, when issued, a refresh token (the JSON of the obtain/refresh endpoints).
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct TokenPair {
    /// The access token.
    pub access: String,
    /// The refresh token (absent from a refresh without rotation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh: Option<String>,
}

impl fmt::Debug for TokenPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenPair")
            .field("access", &"******")
            .field("refresh", &self.refresh.as_ref().map(|_| "******"))
            .finish()
    }
}

/// A sliding token (`{"token"}`).
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct SlidingToken {
    /// The token.
    pub token: String,
}

impl fmt::Debug for SlidingToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SlidingToken(******)")
    }
}

struct Inner {
    settings: Arc<Settings>,
    verifier: Verifier,
    users: Arc<dyn UserStore>,
    store: Option<Arc<dyn RevocationStore>>,
    hook: Option<ClaimsHook>,
}

/// The token life cycle: obtain a pair, refresh it (rotating and detecting reuse), verify,
/// blacklist (log out: the whole session ends), and sliding tokens. Cheap to clone.
///
/// ```
/// use keycard_core::{InMemoryRevocationStore, InMemoryUserStore, Settings, TokenService, User};
/// use std::sync::Arc;
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let users = InMemoryUserStore::new();
/// users.insert(User::new("1", "alice"), "pw");
/// let settings = Settings::builder()
///     .hmac_secret([1u8; 32])
///     .rotate_refresh_tokens(true)
///     .blacklist_after_rotation(true)
///     .build()
///     .unwrap();
/// let tokens = TokenService::builder(settings)
///     .users(users)
///     .store(InMemoryRevocationStore::new())
///     .build()
///     .unwrap();
/// let pair = tokens.obtain("alice", "pw").await.unwrap();
/// let next = tokens.refresh(pair.refresh.as_deref().unwrap()).await.unwrap();
/// // The first refresh token is spent: presenting it again revokes the session.
/// assert!(tokens.refresh(pair.refresh.as_deref().unwrap()).await.is_err());
/// assert!(tokens.verify_access(&next.access).await.is_err());
/// # });
/// ```
#[derive(Clone)]
pub struct TokenService(Arc<Inner>);

impl fmt::Debug for TokenService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenService")
            .field("store", &self.0.store.is_some())
            .finish_non_exhaustive()
    }
}

/// Builds a [`TokenService`], refusing settings that need a store when none is given.
#[must_use]
pub struct TokenServiceBuilder {
    settings: Settings,
    users: Option<Arc<dyn UserStore>>,
    store: Option<Arc<dyn RevocationStore>>,
    hook: Option<ClaimsHook>,
    blacklist_endpoint: bool,
    cache_entries: usize,
}

impl TokenServiceBuilder {
    /// The user store (required).
    pub fn users(mut self, users: impl UserStore) -> Self {
        self.users = Some(Arc::new(users));
        self
    }
    /// The user store, shared.
    pub fn users_arc(mut self, users: Arc<dyn UserStore>) -> Self {
        self.users = Some(users);
        self
    }
    /// The revocation store.
    pub fn store(mut self, store: impl RevocationStore) -> Self {
        self.store = Some(Arc::new(store));
        self
    }
    /// The revocation store, shared.
    pub fn store_arc(mut self, store: Arc<dyn RevocationStore>) -> Self {
        self.store = Some(store);
        self
    }
    /// A hook adding claims to every token of a login.
    pub fn claims_hook(
        mut self,
        hook: impl Fn(&User) -> Map<String, Value> + Send + Sync + 'static,
    ) -> Self {
        self.hook = Some(Arc::new(hook));
        self
    }
    /// Declares that the blacklist endpoint will be mounted (it needs a store).
    pub fn with_blacklist_endpoint(mut self, on: bool) -> Self {
        self.blacklist_endpoint = on;
        self
    }
    /// How many verified tokens the service's verifier remembers (default
    /// [`DEFAULT_CACHE_ENTRIES`](super::DEFAULT_CACHE_ENTRIES); 0: none). A token presented
    /// again then costs a lookup instead of a verification; see [`Verifier::with_cache`] for
    /// what is checked again on every use (revocation always is).
    pub fn verified_token_cache(mut self, entries: usize) -> Self {
        self.cache_entries = entries;
        self
    }
    /// Builds the service.
    pub fn build(self) -> Result<TokenService, ConfigError> {
        let users = self.users.ok_or(ConfigError::Invalid {
            name: "users",
            problem: "the token service needs a UserStore: call .users(...)",
        })?;
        if self.store.is_none() {
            if self.settings.rotate_refresh_tokens {
                return Err(ConfigError::MissingStore {
                    feature: "rotate_refresh_tokens",
                });
            }
            if self.blacklist_endpoint {
                return Err(ConfigError::MissingStore {
                    feature: "the blacklist endpoint",
                });
            }
            if self.settings.password_change_revocation {
                return Err(ConfigError::MissingStore {
                    feature: "password_change_revocation",
                });
            }
        }
        let settings = Arc::new(self.settings);
        Ok(TokenService(Arc::new(Inner {
            verifier: Verifier::new(settings.clone()).with_cache(self.cache_entries),
            settings,
            users,
            store: self.store,
            hook: self.hook,
        })))
    }
}

fn unavailable(e: StoreError) -> AuthError {
    tracing::error!(target: "keycard::store", error = %e, "revocation or user store failed");
    AuthError::ServiceUnavailable
}

/// The session a token belongs to. Tokens minted elsewhere (simplejwt) carry no session id:
/// the chain keycard continues from one of them is named after its `jti` (see `refresh`).
fn session_of(claims: &Claims) -> &str {
    claims.session().unwrap_or(claims.jti())
}

fn random_id() -> String {
    let bytes: [u8; 16] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl TokenService {
    /// A builder for `settings`.
    pub fn builder(settings: Settings) -> TokenServiceBuilder {
        TokenServiceBuilder {
            settings,
            users: None,
            store: None,
            hook: None,
            blacklist_endpoint: false,
            cache_entries: super::DEFAULT_CACHE_ENTRIES,
        }
    }

    /// The settings.
    pub fn settings(&self) -> &Arc<Settings> {
        &self.0.settings
    }
    /// The verifier.
    pub fn verifier(&self) -> &Verifier {
        &self.0.verifier
    }
    /// The user store.
    pub fn users(&self) -> &Arc<dyn UserStore> {
        &self.0.users
    }
    /// The revocation store, if any.
    pub fn store(&self) -> Option<&Arc<dyn RevocationStore>> {
        self.0.store.as_ref()
    }

    fn s(&self) -> &Settings {
        &self.0.settings
    }

    /// Every verification goes through the key source: a remote one may fetch keys first, or
    /// refetch once for a `kid` it lacks (see `KeySource::verify`).
    async fn verified(
        &self,
        token: &[u8],
        kinds: &[TokenKind],
        allow_expired: bool,
    ) -> Result<Verified, AuthError> {
        let s = self.s();
        s.keys
            .verify(&self.0.verifier, token, kinds, allow_expired)
            .await
    }

    /// Until when a revoked session must stay revoked: past the last expiry any of its tokens
    /// can have, leeway included.
    fn session_until(&self, now: u64) -> u64 {
        let s = self.s();
        let longest = s
            .refresh_lifetime
            .max(s.sliding_refresh_lifetime)
            .max(s.access_lifetime);
        now.saturating_add(longest.as_secs())
            .saturating_add(s.leeway)
    }

    /// Until when the store must remember a presented token: as long as the verifier would
    /// still accept it — its `exp`, or for a sliding token its `refresh_exp` (it can be
    /// refreshed after `exp`), plus the leeway. A record forgotten earlier lets a spent token
    /// be spent again, or a blacklisted one come back (tokens minted elsewhere carry no
    /// session id, so the jti record is their only guard).
    fn keep_until(&self, claims: &Claims) -> u64 {
        let s = self.s();
        let mut until = claims.exp();
        if claims.kind() == TokenKind::Sliding {
            // The verifier proved the claim a NumericDate within range.
            let refresh_exp = claims
                .get(&s.sliding_refresh_exp_claim)
                .and_then(Value::as_f64)
                .unwrap_or(0.0) as u64;
            until = until.max(refresh_exp);
        }
        until.saturating_add(s.leeway)
    }

    /// Signs `claims` with the current signing key (its `kid`, when it has one, in the header).
    pub fn sign(&self, claims: &Map<String, Value>) -> Result<String, AuthError> {
        let keys = self.s().keys.load();
        let key = keys.signing_key().ok_or(AuthError::Misconfigured {
            detail: "no signing key: this service's key source only verifies tokens",
        })?;
        let mut header = Map::new();
        header.insert("alg".into(), format!("{:?}", key.algorithm()).into());
        header.insert("typ".into(), "JWT".into());
        if let Some(kid) = key.kid() {
            header.insert("kid".into(), kid.into());
        }
        let mut token = String::with_capacity(256);
        let h = serde_json::to_vec(&header).map_err(|_| AuthError::ServiceUnavailable)?;
        let p = serde_json::to_vec(claims).map_err(|_| AuthError::ServiceUnavailable)?;
        URL_SAFE_NO_PAD.encode_string(h, &mut token);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(p, &mut token);
        // HS* keys sign with their pre-keyed HMAC (checked against jsonwebtoken at start-up).
        if let Some(hmac) = key.hmac_key() {
            let sig = hmac.sign_b64(token.as_bytes());
            token.push('.');
            token.push_str(&sig);
            return Ok(token);
        }
        // The signing key passed its self-test at start-up; a failure here is not the
        // client's fault.
        let encoding = key.encoding().ok_or(AuthError::Misconfigured {
            detail: "the signing key cannot sign",
        })?;
        let sig = jsonwebtoken::crypto::sign(token.as_bytes(), encoding, key.algorithm()).map_err(
            |_| AuthError::Misconfigured {
                detail: "signing failed",
            },
        )?;
        token.push('.');
        token.push_str(&sig);
        Ok(token)
    }

    /// The claims every token of a login for `user` starts from.
    fn base_claims(&self, user: &User, session: &str) -> Map<String, Value> {
        let s = self.s();
        let mut c = match &self.0.hook {
            Some(hook) => hook(user),
            None => Map::new(),
        };
        c.insert(s.user_id_claim.clone(), user.id.clone().into());
        c.insert(s.session_claim.clone(), session.into());
        if let Some(iss) = &s.issuer {
            c.insert("iss".into(), iss.clone().into());
        }
        if let Some(aud) = &s.audience {
            c.insert("aud".into(), aud.to_claim());
        }
        if s.password_change_revocation
            && let Some(fp) = &user.password_fingerprint
        {
            c.insert(s.revoke_token_claim.clone(), fp.clone().into());
        }
        c
    }

    fn stamp(
        &self,
        mut c: Map<String, Value>,
        kind: TokenKind,
        lifetime: u64,
        now: u64,
        new_jti: bool,
    ) -> Map<String, Value> {
        let s = self.s();
        c.insert(s.token_type_claim.clone(), kind.as_str().into());
        c.insert("exp".into(), now.saturating_add(lifetime).into());
        c.insert("iat".into(), now.into());
        if new_jti || !c.contains_key(&s.jti_claim) {
            c.insert(s.jti_claim.clone(), random_id().into());
        }
        c
    }

    /// An access token carrying the claims of `from` (a refresh token's), simplejwt's
    /// `refresh.access_token`.
    fn access_from(&self, from: &Map<String, Value>, now: u64) -> Result<String, AuthError> {
        let s = self.s();
        let mut c = from.clone();
        c.remove(&s.sliding_refresh_exp_claim);
        c.remove("nbf");
        let c = self.stamp(c, TokenKind::Access, s.access_lifetime.as_secs(), now, true);
        self.sign(&c)
    }

    async fn record(
        &self,
        claims: &Map<String, Value>,
        user_id: &str,
        session: &str,
        exp: u64,
    ) -> Result<(), AuthError> {
        if let Some(store) = &self.0.store {
            let jti = claims
                .get(&self.s().jti_claim)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            // Kept through the leeway, like every record (see `keep_until`).
            let expires_at = exp.saturating_add(self.s().leeway);
            let rec = TokenRecord {
                jti,
                session: session.to_owned(),
                user_id: user_id.to_owned(),
                expires_at,
            };
            store.record_issued(&rec).await.map_err(unavailable)?;
        }
        Ok(())
    }

    /// Checks a username and password and mints a pair (the obtain endpoint).
    /// Wrong credentials, and inactive users when checked, are `no_active_account`.
    pub async fn obtain(&self, username: &str, password: &str) -> Result<TokenPair, AuthError> {
        let user = self.check_credentials(username, password).await?;
        self.obtain_for(&user).await
    }

    async fn check_credentials(&self, username: &str, password: &str) -> Result<User, AuthError> {
        let user = self
            .0
            .users
            .check_password(username, password)
            .await
            .map_err(unavailable)?;
        match user {
            Some(u) if u.is_active || !self.s().check_user_is_active => Ok(u),
            _ => Err(AuthError::no_active_account()),
        }
    }

    /// Mints a pair for a user already authenticated by other means (a new session).
    pub async fn obtain_for(&self, user: &User) -> Result<TokenPair, AuthError> {
        let now = self.s().now();
        let session = random_id();
        let lifetime = self.s().refresh_lifetime.as_secs();
        let refresh = self.stamp(
            self.base_claims(user, &session),
            TokenKind::Refresh,
            lifetime,
            now,
            true,
        );
        self.record(&refresh, &user.id, &session, now.saturating_add(lifetime))
            .await?;
        Ok(TokenPair {
            access: self.access_from(&refresh, now)?,
            refresh: Some(self.sign(&refresh)?),
        })
    }

    /// Verifies a token as an access credential (its kind among
    /// [`auth_token_kinds`](Settings::auth_token_kinds)) and checks its session is not revoked.
    pub async fn verify_access(&self, token: &str) -> Result<Claims, AuthError> {
        self.verify_access_bytes(token.as_bytes()).await
    }

    /// [`verify_access`](Self::verify_access) on raw header bytes.
    pub async fn verify_access_bytes(&self, token: &[u8]) -> Result<Claims, AuthError> {
        let claims = self
            .verified(token, &self.s().auth_token_kinds, false)
            .await?
            .claims;
        self.check_not_revoked(&claims, false).await?;
        Ok(claims)
    }

    async fn check_not_revoked(
        &self,
        claims: &Claims,
        spent_is_revoked: bool,
    ) -> Result<(), AuthError> {
        let Some(store) = &self.0.store else {
            return Ok(());
        };
        if let Some(session) = claims.session()
            && store
                .is_session_revoked(session)
                .await
                .map_err(unavailable)?
        {
            return Err(AuthError::invalid_token(TokenError::Blacklisted));
        }
        if claims.kind() != TokenKind::Access {
            match store.token_state(claims.jti()).await.map_err(unavailable)? {
                Some(TokenState::Blacklisted) => {
                    return Err(AuthError::invalid_token(TokenError::Blacklisted));
                }
                Some(TokenState::Spent) if spent_is_revoked => {
                    return Err(AuthError::invalid_token(TokenError::Blacklisted));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Loads the user of a refresh/sliding token: gone or inactive → `no_active_account`;
    /// password changed (when checked) → the token is revoked and `password_changed`.
    async fn token_user(&self, claims: &Claims) -> Result<User, AuthError> {
        let user = self
            .0
            .users
            .find_by_id(claims.user_id())
            .await
            .map_err(unavailable)?;
        let user = match user {
            Some(u) if u.is_active || !self.s().check_user_is_active => u,
            _ => return Err(AuthError::no_active_account_for_token()),
        };
        if self.password_changed(claims, &user) {
            self.revoke(claims).await?;
            return Err(AuthError::password_changed());
        }
        Ok(user)
    }

    /// Whether `claims` predate the user's current password (when that check is on).
    pub fn password_changed(&self, claims: &Claims, user: &User) -> bool {
        let s = self.s();
        s.password_change_revocation
            && claims.get(&s.revoke_token_claim).and_then(Value::as_str)
                != user.password_fingerprint.as_deref()
    }

    async fn revoke(&self, claims: &Claims) -> Result<(), AuthError> {
        let Some(store) = &self.0.store else {
            return Ok(());
        };
        store
            .blacklist(claims.jti(), self.keep_until(claims))
            .await
            .map_err(unavailable)?;
        store
            .revoke_session(session_of(claims), self.session_until(self.s().now()))
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// Exchanges a refresh token for a new access token (the refresh endpoint). With rotation
    /// the refresh token is spent and a new one returned; presenting a spent token again is
    /// reuse: it fails and revokes the whole session.
    pub async fn refresh(&self, refresh: &str) -> Result<TokenPair, AuthError> {
        let s = self.s();
        let claims = self
            .verified(refresh.as_bytes(), &[TokenKind::Refresh], false)
            .await?
            .claims;
        self.check_not_revoked(&claims, false).await?;
        self.token_user(&claims).await?;
        let now = s.now();
        // A token minted elsewhere starts a session here: what keycard mints from it carries
        // the id, so that reuse or logout can end them all.
        let session = session_of(&claims).to_owned();
        let mut all = claims.as_map().clone();
        if claims.session().is_none() {
            all.insert(s.session_claim.clone(), session.as_str().into());
        }
        if !s.rotate_refresh_tokens {
            return Ok(TokenPair {
                access: self.access_from(&all, now)?,
                refresh: None,
            });
        }
        if s.blacklist_after_rotation {
            // Builder guarantees a store whenever rotation is on.
            let store = self.0.store.as_ref().ok_or(AuthError::ServiceUnavailable)?;
            let outcome = store
                .spend(
                    claims.jti(),
                    Some(&session),
                    self.keep_until(&claims),
                    self.session_until(now),
                )
                .await
                .map_err(unavailable)?;
            match outcome {
                SpendOutcome::Spent => {}
                SpendOutcome::Reused => {
                    // `?`, not `%`: Debug escapes CR/LF and ANSI escapes a user id may carry.
                    tracing::warn!(target: "keycard::token", user_id = ?claims.user_id(), "refresh token reuse detected; session revoked");
                    return Err(AuthError::invalid_token(TokenError::Reused));
                }
                SpendOutcome::Revoked => {
                    return Err(AuthError::invalid_token(TokenError::Blacklisted));
                }
            }
        }
        let lifetime = s.refresh_lifetime.as_secs();
        let next = self.stamp(all, TokenKind::Refresh, lifetime, now, true);
        self.record(
            &next,
            claims.user_id(),
            &session,
            now.saturating_add(lifetime),
        )
        .await?;
        Ok(TokenPair {
            access: self.access_from(&next, now)?,
            refresh: Some(self.sign(&next)?),
        })
    }

    /// Verifies any token keycard minted (the verify endpoint): signature, claims, and that it
    /// is not blacklisted, spent (after rotation), or of a revoked session.
    pub async fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        let claims = self.verified(token.as_bytes(), &[], false).await?.claims;
        self.check_not_revoked(&claims, self.s().blacklist_after_rotation)
            .await?;
        Ok(claims)
    }

    /// Blacklists a refresh (or sliding) token — logging out: its whole session ends, the
    /// access tokens issued from it included. A token already blacklisted, spent or of a
    /// revoked session is `token_not_valid`.
    pub async fn blacklist(&self, token: &str) -> Result<(), AuthError> {
        let store = self.0.store.as_ref().ok_or(AuthError::Misconfigured {
            detail: "the blacklist endpoint needs a RevocationStore",
        })?;
        let claims = self
            .verified(
                token.as_bytes(),
                &[TokenKind::Refresh, TokenKind::Sliding],
                false,
            )
            .await?
            .claims;
        self.check_not_revoked(&claims, true).await?;
        if !store
            .blacklist(claims.jti(), self.keep_until(&claims))
            .await
            .map_err(unavailable)?
        {
            return Err(AuthError::invalid_token(TokenError::Blacklisted));
        }
        store
            .revoke_session(session_of(&claims), self.session_until(self.s().now()))
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// Checks a username and password and mints a sliding token.
    pub async fn obtain_sliding(
        &self,
        username: &str,
        password: &str,
    ) -> Result<SlidingToken, AuthError> {
        let user = self.check_credentials(username, password).await?;
        self.sliding_for(&user).await
    }

    /// Mints a sliding token for a user (a new session).
    pub async fn sliding_for(&self, user: &User) -> Result<SlidingToken, AuthError> {
        let s = self.s();
        let now = s.now();
        let session = random_id();
        let refresh_exp = now.saturating_add(s.sliding_refresh_lifetime.as_secs());
        let mut c = self.base_claims(user, &session);
        c.insert(s.sliding_refresh_exp_claim.clone(), refresh_exp.into());
        let c = self.stamp(
            c,
            TokenKind::Sliding,
            s.sliding_lifetime.as_secs(),
            now,
            true,
        );
        self.record(&c, &user.id, &session, refresh_exp).await?;
        Ok(SlidingToken {
            token: self.sign(&c)?,
        })
    }

    /// Refreshes a sliding token: the same `jti` and `refresh_exp`, a new `exp`. A sliding
    /// token whose `exp` has passed can still be refreshed until `refresh_exp` (the sliding
    /// window simplejwt's documentation describes).
    pub async fn refresh_sliding(&self, token: &str) -> Result<SlidingToken, AuthError> {
        let s = self.s();
        let claims = self
            .verified(token.as_bytes(), &[TokenKind::Sliding], true)
            .await?
            .claims;
        let now = s.now();
        // The verifier proved the claim present and a NumericDate.
        let refresh_exp = claims
            .get(&s.sliding_refresh_exp_claim)
            .and_then(Value::as_f64)
            .unwrap_or(0.0) as u64;
        if refresh_exp.saturating_add(s.leeway) <= now {
            return Err(AuthError::invalid_token(TokenError::RefreshExpired));
        }
        self.check_not_revoked(&claims, false).await?;
        self.token_user(&claims).await?;
        let lifetime = s
            .sliding_lifetime
            .as_secs()
            .min(refresh_exp.saturating_sub(now).max(1));
        let c = self.stamp(
            claims.as_map().clone(),
            TokenKind::Sliding,
            lifetime,
            now,
            false,
        );
        Ok(SlidingToken {
            token: self.sign(&c)?,
        })
    }
}
