//! The JWT authenticators: user-loading (DRF's `JWTAuthentication`) and stateless
//! (`JWTStatelessUserAuthentication`).

use std::future::Future;

use http::HeaderName;

use super::header::{Credentials, HeaderLookup, parse_credentials};
use super::{Authenticator, Challenge, Outcome, RequestHead};
use crate::BoxFuture;
use crate::error::AuthError;
use crate::identity::Identity;
use crate::store::User;
use crate::token::{Claims, TokenService};

const MULTIPLE_HEADERS: &str = "Authorization header must be sent once.";
const NO_TOKEN: &str = "Authorization header must contain two space-delimited values";
const SEVERAL: &str = "Authorization header must contain a single token";

/// What the header holds for a token authenticator.
enum Found<'a> {
    NotMine,
    Token(&'a [u8]),
    Bad(AuthError),
}

#[derive(Debug, Clone)]
struct BearerReader {
    header: HeaderName,
    schemes: Vec<String>,
    only_jwt_shaped: bool,
}

impl BearerReader {
    fn new(tokens: &TokenService) -> Self {
        let s = tokens.settings();
        Self {
            header: s.header_name().clone(),
            schemes: s.header_types().to_vec(),
            only_jwt_shaped: false,
        }
    }

    fn read<'a>(&self, head: &'a RequestHead<'_>) -> Found<'a> {
        let value = match head.headers.lookup(self.header.as_str()) {
            HeaderLookup::Missing => return Found::NotMine,
            HeaderLookup::Many => return Found::Bad(AuthError::bad_header(MULTIPLE_HEADERS)),
            HeaderLookup::One(v) => v,
        };
        match parse_credentials(value, &self.schemes) {
            Credentials::NotMine => Found::NotMine,
            Credentials::Missing => Found::Bad(AuthError::bad_header(NO_TOKEN)),
            Credentials::Several => Found::Bad(AuthError::bad_header(SEVERAL)),
            Credentials::Value(t) if self.only_jwt_shaped && !jwt_shaped(t) => Found::NotMine,
            Credentials::Value(t) => Found::Token(t),
        }
    }
}

/// Three non-empty base64url segments: the shape of a compact JWS.
fn jwt_shaped(t: &[u8]) -> bool {
    let mut parts = 0;
    for seg in t.split(|b| *b == b'.') {
        parts += 1;
        if seg.is_empty()
            || !seg
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
        {
            return false;
        }
    }
    parts == 3
}

fn challenge_for(tokens: &TokenService) -> Challenge {
    tokens.settings().challenge()
}

/// Loads the user a verified access token names, as DRF's `JWTAuthentication.get_user`:
/// gone → `user_not_found`, inactive (when checked) → `user_inactive`, password changed
/// (when checked) → `password_changed`; a store failure is 503. Shared by every
/// user-loading token authenticator.
pub(crate) async fn load_user(tokens: &TokenService, claims: &Claims) -> Result<User, AuthError> {
    let user = tokens
        .users()
        .find_by_id(claims.user_id())
        .await
        .map_err(|e| {
            tracing::error!(target: "keycard::store", error = %e, "user store failed");
            AuthError::ServiceUnavailable
        })?;
    let user = user.ok_or_else(AuthError::user_not_found)?;
    if !user.is_active && tokens.settings().check_user_is_active() {
        return Err(AuthError::user_inactive());
    }
    if tokens.password_changed(claims, &user) {
        return Err(AuthError::password_changed());
    }
    Ok(user)
}

/// DRF's `JWTAuthentication`: verifies the bearer token with the token engine, checks its
/// session is not revoked, and loads the user through the [`UserStore`](crate::UserStore):
/// gone → `user_not_found`, inactive → `user_inactive`, password changed (when checked) →
/// `password_changed`.
///
/// ```
/// use keycard_core::{Authenticators, JwtAuthentication, TokenService};
/// fn chain(tokens: TokenService) -> Authenticators {
///     Authenticators::new().with(JwtAuthentication::new(tokens))
/// }
/// ```
#[derive(Debug, Clone)]
pub struct JwtAuthentication {
    tokens: TokenService,
    reader: BearerReader,
    challenge: Challenge,
}

impl JwtAuthentication {
    /// The authenticator, reading the header name and types from the token service's settings.
    pub fn new(tokens: TokenService) -> Self {
        Self {
            reader: BearerReader::new(&tokens),
            challenge: challenge_for(&tokens),
            tokens,
        }
    }

    /// Answer *not mine* for values that are not JWT-shaped (three base64url segments), so an
    /// authenticator for opaque tokens of the same scheme can sit behind this one (case AU10).
    #[must_use]
    pub fn only_jwt_shaped(mut self, on: bool) -> Self {
        self.reader.only_jwt_shaped = on;
        self
    }

    async fn run(&self, token: &[u8]) -> Result<Identity, AuthError> {
        let claims = self.tokens.verify_access_bytes(token).await?;
        let user = load_user(&self.tokens, &claims).await?;
        Ok(Identity::from_token(user, claims, "jwt"))
    }
}

/// The authenticator's answer: one boxed future per request (the verification's own future
/// lives inside it, unboxed).
fn answer<'a, F>(found: Found<'a>, run: impl FnOnce(&'a [u8]) -> F) -> BoxFuture<'a, Outcome>
where
    F: Future<Output = Result<Identity, AuthError>> + Send + 'a,
{
    match found {
        Found::NotMine => Box::pin(std::future::ready(Outcome::NotMine)),
        Found::Bad(e) => Box::pin(std::future::ready(Outcome::Failed(e))),
        Found::Token(t) => {
            let fut = run(t);
            Box::pin(async move {
                match fut.await {
                    Ok(id) => Outcome::Authenticated(id),
                    Err(e) => Outcome::Failed(e),
                }
            })
        }
    }
}

impl Authenticator for JwtAuthentication {
    fn authenticate<'a>(&'a self, head: &'a RequestHead<'_>) -> BoxFuture<'a, Outcome> {
        answer(self.reader.read(head), |t| self.run(t))
    }
    fn challenge(&self) -> Option<Challenge> {
        Some(self.challenge.clone())
    }
    fn name(&self) -> &'static str {
        "jwt"
    }
}

/// DRF's `JWTStatelessUserAuthentication`: the identity comes from the claims alone, no user
/// store call. `is_admin` from an `is_staff` (or `is_admin`) claim, absent meaning false;
/// the username from a `username` claim; scopes and roles from `scope`/`scp`/`roles`.
/// A revoked session is still refused when the token service has a revocation store.
#[derive(Debug, Clone)]
pub struct JwtStatelessAuthentication {
    tokens: TokenService,
    reader: BearerReader,
    challenge: Challenge,
}

impl JwtStatelessAuthentication {
    /// The authenticator, reading the header name and types from the token service's settings.
    pub fn new(tokens: TokenService) -> Self {
        Self {
            reader: BearerReader::new(&tokens),
            challenge: challenge_for(&tokens),
            tokens,
        }
    }

    /// See [`JwtAuthentication::only_jwt_shaped`].
    #[must_use]
    pub fn only_jwt_shaped(mut self, on: bool) -> Self {
        self.reader.only_jwt_shaped = on;
        self
    }

    async fn run(&self, token: &[u8]) -> Result<Identity, AuthError> {
        let claims = self.tokens.verify_access_bytes(token).await?;
        Ok(Identity::from_token(
            user_from_claims(&claims),
            claims,
            "jwt_stateless",
        ))
    }
}

fn user_from_claims(claims: &Claims) -> User {
    let flag = |name: &str| {
        claims
            .get(name)
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false)
    };
    let username = claims
        .get("username")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default();
    User::new(claims.user_id(), username).admin(flag("is_staff") || flag("is_admin"))
}

impl Authenticator for JwtStatelessAuthentication {
    fn authenticate<'a>(&'a self, head: &'a RequestHead<'_>) -> BoxFuture<'a, Outcome> {
        answer(self.reader.read(head), |t| self.run(t))
    }
    fn challenge(&self) -> Option<Challenge> {
        Some(self.challenge.clone())
    }
    fn name(&self) -> &'static str {
        "jwt_stateless"
    }
}
