//! HTTP Basic authentication (DRF's `BasicAuthentication`).

use std::borrow::Cow;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::header::{Credentials, HeaderLookup, parse_credentials};
use super::{Authenticator, Challenge, Outcome, RequestHead};
use crate::BoxFuture;
use crate::error::AuthError;
use crate::identity::Identity;
use crate::store::UserStore;

const CODE: &str = "authentication_failed";

/// DRF's `BasicAuthentication` against a [`UserStore`]: `Basic base64(user:password)`, the
/// credentials decoded as UTF-8, or as latin-1 when they are not UTF-8 (what browsers send).
#[derive(Clone)]
pub struct BasicAuthentication {
    users: Arc<dyn UserStore>,
    challenge: Challenge,
    schemes: Vec<String>,
}

impl std::fmt::Debug for BasicAuthentication {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BasicAuthentication")
            .field("challenge", &self.challenge)
            .finish_non_exhaustive()
    }
}

impl BasicAuthentication {
    /// Basic authentication against `users`, challenging with `Basic realm="…"`.
    pub fn new(users: Arc<dyn UserStore>, realm: impl Into<String>) -> Self {
        Self {
            users,
            challenge: Challenge::basic(realm.into()),
            schemes: vec!["Basic".to_owned()],
        }
    }

    fn decode(value: &[u8]) -> Result<(String, String), AuthError> {
        let bad = || {
            AuthError::failed(
                CODE,
                "Invalid basic header. Credentials not correctly base64 encoded.",
            )
        };
        let bytes = STANDARD.decode(value).map_err(|_| bad())?;
        let text: Cow<'_, str> = match std::str::from_utf8(&bytes) {
            Ok(s) => Cow::Borrowed(s),
            // latin-1: every byte is the code point of the same value.
            Err(_) => Cow::Owned(bytes.iter().map(|&b| char::from(b)).collect()),
        };
        let (user, password) = text.split_once(':').ok_or_else(bad)?;
        Ok((user.to_owned(), password.to_owned()))
    }

    async fn run(&self, value: &[u8]) -> Result<Identity, AuthError> {
        let (username, password) = Self::decode(value)?;
        let user = self
            .users
            .check_password(&username, &password)
            .await
            .map_err(|e| {
                tracing::error!(target: "keycard::store", error = %e, "user store failed");
                AuthError::ServiceUnavailable
            })?;
        match user {
            Some(u) if u.is_active => Ok(Identity::from_user(u, "basic")),
            Some(_) => Err(AuthError::failed(CODE, "User inactive or deleted.")),
            None => Err(AuthError::failed(CODE, "Invalid username/password.")),
        }
    }
}

impl Authenticator for BasicAuthentication {
    fn authenticate<'a>(&'a self, head: &'a RequestHead<'_>) -> BoxFuture<'a, Outcome> {
        let value = match head.headers.lookup("authorization") {
            HeaderLookup::Missing => return Box::pin(std::future::ready(Outcome::NotMine)),
            // A transport problem, not a credential one: the same code as the JWT authenticator's,
            // so two headers answer alike whichever built-in comes first.
            HeaderLookup::Many => {
                return Box::pin(std::future::ready(Outcome::Failed(AuthError::bad_header(
                    "Invalid basic header. Authorization header must be sent once.",
                ))));
            }
            HeaderLookup::One(v) => v,
        };
        let failed = |msg: &'static str| -> BoxFuture<'a, Outcome> {
            Box::pin(std::future::ready(Outcome::Failed(AuthError::failed(
                CODE, msg,
            ))))
        };
        match parse_credentials(value, &self.schemes) {
            Credentials::NotMine => Box::pin(std::future::ready(Outcome::NotMine)),
            Credentials::Missing => failed("Invalid basic header. No credentials provided."),
            Credentials::Several => {
                failed("Invalid basic header. Credentials string should not contain spaces.")
            }
            Credentials::Value(v) => Box::pin(async move {
                match self.run(v).await {
                    Ok(id) => Outcome::Authenticated(id),
                    Err(e) => Outcome::Failed(e),
                }
            }),
        }
    }
    fn challenge(&self) -> Option<Challenge> {
        Some(self.challenge.clone())
    }
    fn name(&self) -> &'static str {
        "basic"
    }
}
