//! The two stores keycard talks to: the application's users ([`UserStore`]) and the shared
//! revocation state ([`RevocationStore`], simplejwt's `token_blacklist` app), plus the API-key
//! store of [`TokenAuthentication`](crate::TokenAuthentication). Each comes with an
//! in-memory implementation.

mod memory;
mod users;

pub use memory::InMemoryRevocationStore;
pub use users::{InMemoryApiKeyStore, InMemoryUserStore, password_fingerprint};

use crate::BoxFuture;

/// A store could not answer. Maps to 503 `service_unavailable`: keycard fails closed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The backing service is unreachable or timed out.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The backing service answered something unexpected.
    #[error("store error: {0}")]
    Backend(String),
}

/// A user, as keycard needs to see it.
#[derive(Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct User {
    /// The id, as a string (numbers and UUIDs are carried in their text form).
    pub id: String,
    /// The login name.
    pub username: String,
    /// Inactive users cannot log in or use their tokens (when the setting checks it).
    pub is_active: bool,
    /// Administrator (DRF's `is_staff`).
    pub is_admin: bool,
    /// Scopes the user holds.
    pub scopes: Vec<String>,
    /// Roles the user holds.
    pub roles: Vec<String>,
    /// A fingerprint of the stored password hash (never of the password), for
    /// password-change revocation. `None` when the store does not support it.
    pub password_fingerprint: Option<String>,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The fingerprint is derived from the password hash: it stays out of logs.
        f.debug_struct("User")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("is_active", &self.is_active)
            .field("is_admin", &self.is_admin)
            .field("scopes", &self.scopes)
            .field("roles", &self.roles)
            .field(
                "password_fingerprint",
                &self.password_fingerprint.as_ref().map(|_| "******"),
            )
            .finish()
    }
}

impl User {
    /// An active, non-admin user.
    pub fn new(id: impl Into<String>, username: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            username: username.into(),
            is_active: true,
            ..Self::default()
        }
    }
    /// Sets the admin flag.
    pub fn admin(mut self, yes: bool) -> Self {
        self.is_admin = yes;
        self
    }
    /// Sets the active flag.
    pub fn active(mut self, yes: bool) -> Self {
        self.is_active = yes;
        self
    }
    /// Adds scopes.
    pub fn with_scopes<I: IntoIterator<Item = S>, S: Into<String>>(mut self, scopes: I) -> Self {
        self.scopes.extend(scopes.into_iter().map(Into::into));
        self
    }
    /// Adds roles.
    pub fn with_roles<I: IntoIterator<Item = S>, S: Into<String>>(mut self, roles: I) -> Self {
        self.roles.extend(roles.into_iter().map(Into::into));
        self
    }
}

/// The application's users (DRF's user model and `USER_AUTHENTICATION_RULE`).
pub trait UserStore: Send + Sync + 'static {
    /// Loads a user by id. An id that cannot name a user of this store (say, not a UUID in a
    /// UUID-keyed store) is `Ok(None)`, never an error.
    fn find_by_id<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<User>, StoreError>>;
    /// Checks a username and password; `Ok(Some(user))` when they match (active or not:
    /// the caller decides), `Ok(None)` otherwise. Must take the same time for unknown users.
    fn check_password<'a>(
        &'a self,
        username: &'a str,
        password: &'a str,
    ) -> BoxFuture<'a, Result<Option<User>, StoreError>>;
}

/// API keys for [`TokenAuthentication`](crate::TokenAuthentication) (DRF's `authtoken`).
pub trait ApiKeyStore: Send + Sync + 'static {
    /// The user owning `key`, compared in constant time.
    fn find<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<User>, StoreError>>;
}

/// What the store knows of a refresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenState {
    /// Issued and not yet used (simplejwt's `OutstandingToken`).
    Outstanding,
    /// Used once for a rotation; using it again is reuse.
    Spent,
    /// Blacklisted (logged out).
    Blacklisted,
}

/// An issued refresh (or sliding) token, as recorded in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// The token's `jti`.
    pub jti: String,
    /// The session it belongs to.
    pub session: String,
    /// Its owner.
    pub user_id: String,
    /// Its `exp`: the record may be forgotten after this.
    pub expires_at: u64,
}

/// The answer of [`RevocationStore::spend`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpendOutcome {
    /// First use: the token is now spent; the caller may mint the next pair.
    Spent,
    /// The token was already spent: reuse. The store has revoked its whole session.
    Reused,
    /// The token is blacklisted or its session revoked.
    Revoked,
}

/// The revocation state behind rotation, reuse detection, logout and blacklisting. Every
/// operation is atomic on its own: two concurrent `spend`s of one token give one `Spent`.
///
/// Every record carries an expiry (the token's `exp`, or the latest `exp` of a session's
/// tokens), after which it may be forgotten.
pub trait RevocationStore: Send + Sync + 'static {
    /// Records a freshly issued refresh token as outstanding.
    fn record_issued<'a>(
        &'a self,
        record: &'a TokenRecord,
    ) -> BoxFuture<'a, Result<(), StoreError>>;
    /// Spends a refresh token, atomically: revoked session or blacklisted `jti` → `Revoked`;
    /// already spent → revoke the session until `session_until` and answer `Reused`;
    /// otherwise mark it spent (until `expires_at`) → `Spent`.
    fn spend<'a>(
        &'a self,
        jti: &'a str,
        session: Option<&'a str>,
        expires_at: u64,
        session_until: u64,
    ) -> BoxFuture<'a, Result<SpendOutcome, StoreError>>;
    /// Blacklists one token until `expires_at`; `Ok(false)` when it already was.
    fn blacklist<'a>(
        &'a self,
        jti: &'a str,
        expires_at: u64,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;
    /// Revokes a whole session (every token carrying its id) until `until`.
    fn revoke_session<'a>(
        &'a self,
        session: &'a str,
        until: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>>;
    /// Whether a session is revoked. On the hot path of every request: keep it cheap.
    fn is_session_revoked<'a>(
        &'a self,
        session: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;
    /// What the store knows of a token id.
    fn token_state<'a>(
        &'a self,
        jti: &'a str,
    ) -> BoxFuture<'a, Result<Option<TokenState>, StoreError>>;
    /// Forgets every record whose expiry is before `now`; returns how many were removed.
    fn purge_expired(&self, now: u64) -> BoxFuture<'_, Result<usize, StoreError>>;
}

impl<T: UserStore + ?Sized> UserStore for std::sync::Arc<T> {
    fn find_by_id<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<User>, StoreError>> {
        (**self).find_by_id(id)
    }
    fn check_password<'a>(
        &'a self,
        username: &'a str,
        password: &'a str,
    ) -> BoxFuture<'a, Result<Option<User>, StoreError>> {
        (**self).check_password(username, password)
    }
}
