//! A verified token's claims.

use std::fmt;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// The kinds of token keycard mints (simplejwt's token classes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenKind {
    /// Short-lived, authenticates requests.
    Access,
    /// Long-lived, exchanged for new access tokens.
    Refresh,
    /// One token that both authenticates and refreshes itself until `refresh_exp`.
    Sliding,
}

impl TokenKind {
    /// The value of the token type claim.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Access => "access",
            Self::Refresh => "refresh",
            Self::Sliding => "sliding",
        }
    }
    /// Parses the token type claim's value.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "access" => Some(Self::Access),
            "refresh" => Some(Self::Refresh),
            "sliding" => Some(Self::Sliding),
            _ => None,
        }
    }
}

impl fmt::Display for TokenKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The claims of a verified token: the ones keycard checks, typed, and every claim as JSON
/// for the application's own (read them with [`Claims::deserialize`] or [`Claims::get`]).
///
/// Cheap to clone (one `Arc`): the verifier's cache of verified tokens hands out the claims
/// it parsed once.
#[derive(Clone, PartialEq)]
pub struct Claims(Arc<ClaimsData>);

/// What [`Claims`] share.
#[derive(PartialEq)]
pub(crate) struct ClaimsData {
    pub(crate) kind: TokenKind,
    pub(crate) jti: String,
    pub(crate) user_id: String,
    pub(crate) session: Option<String>,
    pub(crate) exp: u64,
    pub(crate) iat: Option<u64>,
    pub(crate) all: Map<String, Value>,
}

impl From<ClaimsData> for Claims {
    fn from(data: ClaimsData) -> Self {
        Self(Arc::new(data))
    }
}

impl fmt::Debug for Claims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Claims")
            .field("kind", &self.0.kind)
            .field("jti", &self.0.jti)
            .field("user_id", &self.0.user_id)
            .field("session", &self.0.session)
            .field("exp", &self.0.exp)
            .finish_non_exhaustive()
    }
}

impl Claims {
    /// The token's kind.
    pub fn kind(&self) -> TokenKind {
        self.0.kind
    }
    /// The token id (`jti`).
    pub fn jti(&self) -> &str {
        &self.0.jti
    }
    /// The user id, as a string (a legacy numeric id is carried in its text form).
    pub fn user_id(&self) -> &str {
        &self.0.user_id
    }
    /// The session id shared by every token of one login (absent in tokens from other issuers).
    pub fn session(&self) -> Option<&str> {
        self.0.session.as_deref()
    }
    /// Expiry, seconds since the epoch.
    pub fn exp(&self) -> u64 {
        self.0.exp
    }
    /// Issued-at, seconds since the epoch.
    pub fn iat(&self) -> Option<u64> {
        self.0.iat
    }
    /// One claim as JSON.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.all.get(name)
    }
    /// Every claim.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0.all
    }
    /// The claims read into the application's own type.
    ///
    /// ```
    /// # use keycard_core::Claims;
    /// #[derive(serde::Deserialize)]
    /// struct Mine { name: String }
    /// # fn f(c: &Claims) -> Option<String> {
    /// let mine: Mine = c.deserialize().ok()?;
    /// # Some(mine.name) }
    /// ```
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(serde_json::Value::Object(self.0.all.clone()))
    }
    /// Scopes from a space-separated `scope` claim and/or a `scp` claim (array or string).
    pub fn scopes(&self) -> Vec<String> {
        let mut out = Vec::new();
        for name in ["scope", "scp"] {
            collect_words(self.0.all.get(name), &mut out);
        }
        out
    }
    /// Roles from a `roles` claim (array or space-separated string).
    pub fn roles(&self) -> Vec<String> {
        let mut out = Vec::new();
        collect_words(self.0.all.get("roles"), &mut out);
        out
    }
}

fn collect_words(v: Option<&Value>, out: &mut Vec<String>) {
    match v {
        Some(Value::String(s)) => out.extend(s.split_ascii_whitespace().map(str::to_owned)),
        Some(Value::Array(items)) => {
            out.extend(items.iter().filter_map(Value::as_str).map(str::to_owned));
        }
        _ => {}
    }
}
