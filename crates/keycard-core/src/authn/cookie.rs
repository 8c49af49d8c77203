//! The cookie authenticator: the access token read from an `HttpOnly` cookie, with the CSRF
//! check (DRF's `SessionAuthentication`, simplejwt's tokens inside).

use super::{Authenticator, Challenge, HeaderLookup, Outcome, RequestHead};
use crate::BoxFuture;
use crate::cookie::{CookieSettings, check_csrf, find_cookie};
use crate::error::AuthError;
use crate::identity::Identity;
use crate::token::TokenService;

/// Reads the access token from the [access cookie](CookieSettings::access_name), verifies it
/// and loads its user exactly as [`JwtAuthentication`](super::JwtAuthentication) does a bearer
/// token (`token_not_valid`, `user_not_found`, `user_inactive`, `password_changed`), then holds
/// the request to the CSRF rule ([`check_csrf`]): an unsafe method without a matching
/// double-submit token or a trusted `Origin`/`Referer` fails with 403 `csrf_failed`.
///
/// - No access cookie, or an empty one (a cleared cookie): *not mine*, the next authenticator
///   is asked.
/// - The cookie twice (two paths or domains; one may be planted): 401 `bad_cookie`.
/// - No challenge of its own (DRF's `SessionAuthentication` has no `authenticate_header`):
///   put it **after** [`JwtAuthentication`](super::JwtAuthentication) in the chain, so that 401s
///   carry the bearer challenge and a request with an `Authorization` header is authenticated
///   by the header, free of the CSRF rule. First in a chain, it turns the chain's 401s into 403s.
///
/// ```
/// use keycard_core::cookie::CookieSettings;
/// use keycard_core::{Authenticators, CookieAuthentication, JwtAuthentication, TokenService};
/// fn chain(tokens: TokenService, cookies: CookieSettings) -> Authenticators {
///     Authenticators::new()
///         .with(JwtAuthentication::new(tokens.clone()))
///         .with(CookieAuthentication::new(tokens, cookies))
/// }
/// ```
#[derive(Debug, Clone)]
pub struct CookieAuthentication {
    tokens: TokenService,
    cookies: CookieSettings,
}

impl CookieAuthentication {
    /// The authenticator, reading the cookie and the CSRF rule from `cookies` (the same
    /// settings the token endpoints set the cookies with).
    pub fn new(tokens: TokenService, cookies: CookieSettings) -> Self {
        Self { tokens, cookies }
    }

    /// The cookie settings.
    pub fn cookies(&self) -> &CookieSettings {
        &self.cookies
    }

    async fn run(&self, token: &[u8], head: &RequestHead<'_>) -> Result<Identity, AuthError> {
        let claims = self.tokens.verify_access_bytes(token).await?;
        let user = super::jwt::load_user(&self.tokens, &claims).await?;
        // After the token, as DRF enforces CSRF once the user is known: a request whose cookie
        // is stale is answered 401 (refresh), not 403.
        check_csrf(&self.cookies, head.method, head.headers)?;
        Ok(Identity::from_token(user, claims, "cookie"))
    }
}

impl Authenticator for CookieAuthentication {
    fn authenticate<'a>(&'a self, head: &'a RequestHead<'_>) -> BoxFuture<'a, Outcome> {
        match find_cookie(head.headers, self.cookies.access_name()) {
            HeaderLookup::Missing | HeaderLookup::One(b"") => {
                Box::pin(std::future::ready(Outcome::NotMine))
            }
            HeaderLookup::Many => Box::pin(std::future::ready(Outcome::Failed(AuthError::failed(
                "bad_cookie",
                "The access token cookie must be sent once.",
            )))),
            HeaderLookup::One(token) => Box::pin(async move {
                match self.run(token, head).await {
                    Ok(id) => Outcome::Authenticated(id),
                    Err(e) => Outcome::Failed(e),
                }
            }),
        }
    }
    fn challenge(&self) -> Option<Challenge> {
        None
    }
    fn name(&self) -> &'static str {
        "cookie"
    }
}
