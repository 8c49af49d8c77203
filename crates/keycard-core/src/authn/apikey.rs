//! API keys (DRF's `TokenAuthentication`): `Authorization: Token <key>`.

use std::sync::Arc;

use http::HeaderName;

use super::header::{Credentials, HeaderLookup, parse_credentials};
use super::{Authenticator, Challenge, Outcome, RequestHead};
use crate::BoxFuture;
use crate::error::AuthError;
use crate::identity::Identity;
use crate::store::ApiKeyStore;

const CODE: &str = "authentication_failed";

/// DRF's `TokenAuthentication`: an opaque key after a keyword (default `Token`) in a header
/// (default `Authorization`), looked up in an [`ApiKeyStore`] in constant time.
///
/// ```
/// use keycard_core::{InMemoryApiKeyStore, TokenAuthentication};
/// use std::sync::Arc;
/// let auth = TokenAuthentication::new(Arc::new(InMemoryApiKeyStore::new()), "api").keyword("ApiKey");
/// ```
#[derive(Clone)]
pub struct TokenAuthentication {
    keys: Arc<dyn ApiKeyStore>,
    keyword: Vec<String>,
    header: HeaderName,
    realm: String,
}

impl std::fmt::Debug for TokenAuthentication {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenAuthentication")
            .field("keyword", &self.keyword)
            .field("header", &self.header)
            .finish_non_exhaustive()
    }
}

impl TokenAuthentication {
    /// `Authorization: Token <key>` against `keys`.
    pub fn new(keys: Arc<dyn ApiKeyStore>, realm: impl Into<String>) -> Self {
        Self {
            keys,
            keyword: vec!["Token".to_owned()],
            header: http::header::AUTHORIZATION,
            realm: realm.into(),
        }
    }
    /// The keyword (DRF's `keyword`).
    #[must_use]
    pub fn keyword(mut self, keyword: impl Into<String>) -> Self {
        self.keyword = vec![keyword.into()];
        self
    }
    /// The header to read (`X-Api-Key`, say).
    #[must_use]
    pub fn header(mut self, header: HeaderName) -> Self {
        self.header = header;
        self
    }

    async fn run(&self, key: &[u8]) -> Result<Identity, AuthError> {
        let key = std::str::from_utf8(key).map_err(|_| {
            AuthError::failed(
                CODE,
                "Invalid token header. Token string should not contain invalid characters.",
            )
        })?;
        let user = self.keys.find(key).await.map_err(|e| {
            tracing::error!(target: "keycard::store", error = %e, "API key store failed");
            AuthError::ServiceUnavailable
        })?;
        match user {
            Some(u) if u.is_active => Ok(Identity::from_user(u, "token")),
            Some(_) => Err(AuthError::failed(CODE, "User inactive or deleted.")),
            None => Err(AuthError::failed(CODE, "Invalid token.")),
        }
    }
}

impl Authenticator for TokenAuthentication {
    fn authenticate<'a>(&'a self, head: &'a RequestHead<'_>) -> BoxFuture<'a, Outcome> {
        let failed = |msg: &'static str| -> BoxFuture<'a, Outcome> {
            Box::pin(std::future::ready(Outcome::Failed(AuthError::failed(
                CODE, msg,
            ))))
        };
        let value = match head.headers.lookup(self.header.as_str()) {
            HeaderLookup::Missing => return Box::pin(std::future::ready(Outcome::NotMine)),
            // As in the other built-ins: several headers are `bad_authorization_header`.
            HeaderLookup::Many => {
                return Box::pin(std::future::ready(Outcome::Failed(AuthError::bad_header(
                    "Invalid token header. The header must be sent once.",
                ))));
            }
            HeaderLookup::One(v) => v,
        };
        match parse_credentials(value, &self.keyword) {
            Credentials::NotMine => Box::pin(std::future::ready(Outcome::NotMine)),
            Credentials::Missing => failed("Invalid token header. No credentials provided."),
            Credentials::Several => {
                failed("Invalid token header. Token string should not contain spaces.")
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
        Some(Challenge::new(
            self.keyword[0].clone(),
            self.realm.clone(),
            false,
        ))
    }
    fn name(&self) -> &'static str {
        "token"
    }
}
