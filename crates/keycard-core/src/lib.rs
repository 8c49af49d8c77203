//! keycard-core: Django REST Framework's request-auth model and djangorestframework-simplejwt's
//! token life cycle, without any web framework.
//!
//! The pieces, with their DRF names:
//!
//! | keycard | DRF / simplejwt |
//! |---|---|
//! | [`Settings`] | `SIMPLE_JWT` |
//! | [`KeySet`] | `SIGNING_KEY`, `VERIFYING_KEY` |
//! | [`Claims`] | a token's payload |
//! | [`Authenticator`], [`Authenticators`] | authentication classes, `authentication_classes` |
//! | [`Identity`] | `request.user`, `request.auth` |
//! | [`Policy`] | permission classes (composed with `&`, `\|`, `!`) |
//! | [`UserStore`] | the user model |
//! | [`TokenService`] | the token views (obtain, refresh, verify, blacklist) |
//! | [`RevocationStore`] | the `token_blacklist` app |
//! | [`AuthError`] | `NotAuthenticated`, `AuthenticationFailed`, `PermissionDenied` |
//! | [`CookieAuthentication`], [`cookie`] | `SessionAuthentication` and its CSRF check, with tokens in cookies |
//!
//! ```
//! use keycard_core::{Settings, TokenService, InMemoryUserStore, InMemoryRevocationStore, User};
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let users = InMemoryUserStore::new();
//! users.insert(User::new("1", "alice"), "alice-password");
//! let settings = Settings::builder()
//!     .hmac_secret("a-secret-that-is-at-least-32-bytes-long!")
//!     .rotate_refresh_tokens(true)
//!     .blacklist_after_rotation(true)
//!     .build()
//!     .unwrap();
//! let tokens = TokenService::builder(settings)
//!     .users(users)
//!     .store(InMemoryRevocationStore::new())
//!     .build()
//!     .unwrap();
//! let pair = tokens.obtain("alice", "alice-password").await.unwrap();
//! let access = tokens.verify_access(&pair.access).await.unwrap();
//! assert_eq!(access.user_id(), "1");
//! # });
//! ```

pub mod authn;
pub mod clock;
pub mod cookie;
pub mod crypto;
pub mod endpoints;
pub mod error;
pub mod identity;
pub mod policy;
pub mod settings;
pub mod store;
pub mod token;

pub use authn::{
    AuthOutcome, Authenticator, Authenticators, BasicAuthentication, Challenge,
    CookieAuthentication, HeaderSource, JwtAuthentication, JwtStatelessAuthentication, Outcome,
    RequestHead, TokenAuthentication,
};
pub use clock::{Clock, FrozenClock, SystemClock};
pub use error::{AuthError, ErrorBody, ErrorRenderer, RenderedError, TokenError};
pub use identity::Identity;
pub use policy::{
    AllowAny, And, Denial, HasClaim, HasRole, HasScope, IsAdmin, IsAuthenticated,
    IsAuthenticatedOrReadOnly, Not, Or, Policy, PolicyContext, PolicyExt,
};
pub use settings::{Audience, ConfigError, Settings, SettingsBuilder};
pub use store::{
    ApiKeyStore, InMemoryApiKeyStore, InMemoryRevocationStore, InMemoryUserStore, RevocationStore,
    SpendOutcome, StoreError, TokenRecord, TokenState, User, UserStore,
};
pub use token::{Algorithm, Claims, Key, KeySet, SlidingToken, TokenKind, TokenPair, TokenService};

/// A boxed, sendable future: the return type of the object-safe store and authenticator traits.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;
