//! Authentication: DRF's authentication classes, tried in order.
//!
//! An [`Authenticator`] looks at the request head and answers one of three things
//! ([`Outcome`]): *not my credentials* (try the next), *this identity*, or *bad credentials*
//! (stop: 401). [`Authenticators`] is the ordered chain, with DRF's rules:
//!
//! - the first answer wins, and a failure stops the chain — bad credentials are an error even
//!   on a public route (case AU6; see the adapters for an explicit per-route opt-out);
//! - the *first* authenticator's challenge is the `WWW-Authenticate` of every 401; when it has
//!   none, the answer is 403 instead (case AU7);
//! - an authenticator must answer *not mine* for credentials it does not own, or it hides
//!   the ones behind it (case AU10; see [`JwtAuthentication::only_jwt_shaped`]).

mod apikey;
mod basic;
mod cookie;
mod header;
mod jwt;

pub use crate::error::Challenge;
pub use apikey::TokenAuthentication;
pub use basic::BasicAuthentication;
pub use cookie::CookieAuthentication;
pub use header::{Credentials, HeaderLookup, HeaderSource, parse_credentials};
pub use jwt::{JwtAuthentication, JwtStatelessAuthentication};

use std::fmt;
use std::sync::Arc;

use crate::BoxFuture;
use crate::error::AuthError;
use crate::identity::Identity;

/// What authenticators see of a request: its head, no body.
#[derive(Clone, Copy)]
pub struct RequestHead<'a> {
    /// The method, upper case.
    pub method: &'a str,
    /// The path.
    pub path: &'a str,
    /// The query string, without `?`.
    pub query: Option<&'a str>,
    /// The headers.
    pub headers: &'a (dyn HeaderSource + Sync),
}

impl fmt::Debug for RequestHead<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Headers are not shown: they hold credentials.
        f.debug_struct("RequestHead")
            .field("method", &self.method)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl<'a> RequestHead<'a> {
    /// The head of an `http` request.
    pub fn from_http<B>(req: &'a http::Request<B>) -> Self {
        Self::from_parts(req.method(), req.uri(), req.headers())
    }
    /// A head from its parts.
    pub fn from_parts(
        method: &'a http::Method,
        uri: &'a http::Uri,
        headers: &'a http::HeaderMap,
    ) -> Self {
        Self {
            method: method.as_str(),
            path: uri.path(),
            query: uri.query(),
            headers,
        }
    }
}

/// What the chain established about a request; adapters store it in the request's
/// extensions, and extractors and policy layers read it.
#[derive(Debug, Clone, Default)]
pub struct AuthOutcome {
    /// The caller, or `None` for an anonymous request.
    pub identity: Option<Identity>,
    /// The chain's challenge, for the 401 a policy may need to send.
    pub challenge: Option<Challenge>,
}

impl AuthOutcome {
    /// Checks `policy` against this request (view level): anonymous and denied → 401 (403
    /// without a challenge), authenticated and denied → 403.
    pub fn enforce<P: crate::Policy + ?Sized>(
        &self,
        policy: &P,
        method: &str,
        path: &str,
    ) -> Result<(), AuthError> {
        let ctx = crate::PolicyContext::new(method, path, self.identity.as_ref());
        crate::policy::enforce(policy, &ctx, self.challenge.as_ref())
    }

    /// Checks `policy` against one object: the view-level check, then the object-level one.
    pub fn enforce_object<P: crate::Policy + ?Sized>(
        &self,
        policy: &P,
        method: &str,
        path: &str,
        object: &dyn std::any::Any,
    ) -> Result<(), AuthError> {
        let ctx = crate::PolicyContext::new(method, path, self.identity.as_ref());
        crate::policy::enforce_object(policy, &ctx, object, self.challenge.as_ref())
    }

    /// The caller, for extractors that need one (`Identity`): anonymous → 401
    /// `not_authenticated` with the chain's challenge (403 without one).
    pub fn require_identity(&self) -> Result<&Identity, AuthError> {
        self.identity
            .as_ref()
            .ok_or_else(|| AuthError::not_authenticated(self.challenge.clone()))
    }

    /// The verified token's claims read into the application's type `T`, for `Claims<T>`
    /// extractors. Anonymous, or authenticated without a token (Basic, API key) → 401
    /// `not_authenticated`: this route needs a token. Claims that do not fit `T` → 401
    /// `token_not_valid` ("Token has an invalid claim"): the token is not one this route accepts.
    ///
    /// ```
    /// use keycard_core::{AuthOutcome, Challenge, Identity, InMemoryUserStore, Settings, TokenService, User};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// #[derive(Debug, serde::Deserialize)]
    /// struct Mine { user_id: String }
    /// #[derive(Debug, serde::Deserialize)]
    /// struct NeedsTenant { #[allow(dead_code)] tenant: String }
    ///
    /// let user = User::new("1", "alice");
    /// let tokens = TokenService::builder(Settings::builder().hmac_secret([4u8; 32]).build().unwrap())
    ///     .users(InMemoryUserStore::new())
    ///     .build()
    ///     .unwrap();
    /// let claims = tokens.verify_access(&tokens.obtain_for(&user).await.unwrap().access).await.unwrap();
    /// let challenge = Some(Challenge::bearer("api"));
    /// let with_token = AuthOutcome { identity: Some(Identity::from_token(user.clone(), claims, "jwt")), challenge: challenge.clone() };
    /// assert_eq!(with_token.claims_as::<Mine>().unwrap().user_id, "1");
    /// assert_eq!(with_token.claims_as::<NeedsTenant>().unwrap_err().code(), "token_not_valid");
    ///
    /// let basic = AuthOutcome { identity: Some(Identity::from_user(user, "basic")), challenge: challenge.clone() };
    /// assert_eq!(basic.claims_as::<Mine>().unwrap_err().code(), "not_authenticated");
    /// let anonymous = AuthOutcome { identity: None, challenge };
    /// assert_eq!(anonymous.claims_as::<Mine>().unwrap_err().status(), 401);
    /// # });
    /// ```
    pub fn claims_as<T: serde::de::DeserializeOwned>(&self) -> Result<T, AuthError> {
        let claims = self
            .require_identity()?
            .claims()
            .ok_or_else(|| AuthError::not_authenticated(self.challenge.clone()))?;
        claims.deserialize().map_err(|_| {
            AuthError::invalid_token(crate::error::TokenError::InvalidClaim)
                .with_challenge(self.challenge.clone())
        })
    }
}

/// An authenticator's answer.
#[derive(Debug)]
pub enum Outcome {
    /// No credentials of mine: try the next authenticator.
    NotMine,
    /// These credentials are good: this is the caller.
    Authenticated(Identity),
    /// These credentials are mine and bad: stop with this error.
    Failed(AuthError),
}

/// An authentication class.
///
/// ```
/// use keycard_core::{Authenticator, BoxFuture, Challenge, Identity, Outcome, RequestHead, User};
/// use keycard_core::authn::HeaderLookup;
///
/// /// Trusts a header set by a gateway that already authenticated the caller.
/// struct Gateway;
/// impl Authenticator for Gateway {
///     fn authenticate<'a>(&'a self, head: &'a RequestHead<'_>) -> BoxFuture<'a, Outcome> {
///         let outcome = match head.headers.lookup("x-gateway-user") {
///             HeaderLookup::One(id) => match std::str::from_utf8(id) {
///                 Ok(id) => Outcome::Authenticated(Identity::from_user(User::new(id, id), "gateway")),
///                 Err(_) => Outcome::NotMine,
///             },
///             _ => Outcome::NotMine,
///         };
///         Box::pin(std::future::ready(outcome))
///     }
///     fn challenge(&self) -> Option<Challenge> { None }
///     fn name(&self) -> &'static str { "gateway" }
/// }
/// ```
pub trait Authenticator: Send + Sync + 'static {
    /// Looks at the request head and answers.
    fn authenticate<'a>(&'a self, head: &'a RequestHead<'_>) -> BoxFuture<'a, Outcome>;
    /// The `WWW-Authenticate` challenge (DRF's `authenticate_header`), or none.
    fn challenge(&self) -> Option<Challenge>;
    /// A short name, recorded in the [`Identity`].
    fn name(&self) -> &'static str;
}

/// The ordered chain (DRF's `authentication_classes`).
///
/// ```
/// use keycard_core::{Authenticators, BasicAuthentication, InMemoryUserStore, RequestHead};
/// use std::sync::Arc;
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let chain = Authenticators::new().with(BasicAuthentication::new(Arc::new(InMemoryUserStore::new()), "api"));
/// let req = http::Request::get("/").body(()).unwrap();
/// // No credentials: anonymous, not an error.
/// assert!(chain.authenticate(&RequestHead::from_http(&req)).await.unwrap().is_none());
/// # });
/// ```
#[derive(Clone, Default)]
pub struct Authenticators {
    list: Vec<Arc<dyn Authenticator>>,
    challenge: Option<Challenge>,
}

impl fmt::Debug for Authenticators {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.list.iter().map(|a| a.name()))
            .finish()
    }
}

impl Authenticators {
    /// An empty chain: every request is anonymous.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends an authenticator.
    #[must_use]
    pub fn with(self, authenticator: impl Authenticator) -> Self {
        self.with_arc(Arc::new(authenticator))
    }

    /// Appends a shared authenticator.
    #[must_use]
    pub fn with_arc(mut self, authenticator: Arc<dyn Authenticator>) -> Self {
        if self.list.is_empty() {
            self.challenge = authenticator.challenge();
        }
        self.list.push(authenticator);
        self
    }

    /// The chain's challenge: the first authenticator's. `None` turns 401s into 403s.
    pub fn challenge(&self) -> Option<&Challenge> {
        self.challenge.as_ref()
    }

    /// How many authenticators the chain holds.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether the chain is empty.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Runs the chain: `Ok(Some(identity))`, `Ok(None)` (anonymous), or the error to answer
    /// with, its challenge already decided.
    pub async fn authenticate(
        &self,
        head: &RequestHead<'_>,
    ) -> Result<Option<Identity>, AuthError> {
        for (i, a) in self.list.iter().enumerate() {
            match a.authenticate(head).await {
                Outcome::NotMine => continue,
                Outcome::Authenticated(id) => return Ok(Some(id)),
                Outcome::Failed(err) => {
                    tracing::debug!(target: "keycard::authn", authenticator = a.name(), code = err.code(), "credentials refused");
                    let challenge = match (&self.challenge, i) {
                        (Some(c), 0) => Some(c.clone()),
                        // Another authenticator failed: the first one's challenge, without
                        // error attributes that would describe the wrong scheme.
                        (Some(c), _) => Some(c.plain()),
                        (None, _) => None,
                    };
                    return Err(err.with_challenge(challenge));
                }
            }
        }
        Ok(None)
    }

    /// Runs the chain and packs the answer for the request's extensions.
    pub async fn outcome(&self, head: &RequestHead<'_>) -> Result<AuthOutcome, AuthError> {
        let identity = self.authenticate(head).await?;
        Ok(AuthOutcome {
            identity,
            challenge: self.challenge.clone(),
        })
    }

    /// Like [`outcome`](Self::outcome), but bad credentials make the request anonymous instead
    /// of failing it: the explicit per-route opt-out for public routes that must ignore stale
    /// tokens (case AU6). Store failures still fail (503).
    pub async fn outcome_lenient(&self, head: &RequestHead<'_>) -> Result<AuthOutcome, AuthError> {
        match self.authenticate(head).await {
            Ok(identity) => Ok(AuthOutcome {
                identity,
                challenge: self.challenge.clone(),
            }),
            Err(e) if e.is_authentication() => Ok(AuthOutcome {
                identity: None,
                challenge: self.challenge.clone(),
            }),
            Err(e) => Err(e),
        }
    }

    /// The "not authenticated" error of this chain.
    pub fn not_authenticated(&self) -> AuthError {
        AuthError::not_authenticated(self.challenge.clone())
    }
}

#[cfg(test)]
mod tests;
