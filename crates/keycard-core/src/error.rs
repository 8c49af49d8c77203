//! One error type for every way a request can be refused, and its one renderer.
//!
//! [`AuthError`] knows its HTTP status, its stable `code`, its human `detail` and its
//! `WWW-Authenticate` challenge (RFC 6750 attributes included), and renders itself into the
//! JSON body of the contract. Both adapters call [`AuthError::render`], so axum and actix
//! answer byte for byte alike.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, OnceLock};

use http::{HeaderValue, StatusCode};

/// Why a token was refused: a fixed vocabulary. The descriptions never contain token bytes,
/// key material or a library's error text, so they are safe to put in a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Not a compact JWS of three base64url segments with JSON objects inside.
    #[error("Token is invalid")]
    Malformed,
    /// Longer than the configured maximum; refused before any decoding.
    #[error("Token is too large")]
    TooLarge,
    /// The header's `alg` is not one the key set allows.
    #[error("Token algorithm is not allowed")]
    Algorithm,
    /// No configured key matches the header's `kid` (or it is ambiguous without one).
    #[error("Token signing key is unknown")]
    UnknownKey,
    /// The signature does not verify.
    #[error("Token signature is invalid")]
    Signature,
    /// The header carries a parameter keycard refuses (`crit`, `b64`, `zip`, `enc`, a bad `typ`).
    #[error("Token header is not supported")]
    HeaderParameter,
    /// `exp` has passed (leeway applied). Told apart because clients refresh on it.
    #[error("Token is expired")]
    Expired,
    /// `nbf` is in the future.
    #[error("Token is not yet valid")]
    NotYetValid,
    /// `iat` is in the future beyond the leeway.
    #[error("Token was issued in the future")]
    IssuedInFuture,
    /// `aud` missing, wrong, or present when no audience is configured.
    #[error("Token audience is invalid")]
    Audience,
    /// `iss` missing or wrong.
    #[error("Token issuer is invalid")]
    Issuer,
    /// The token type claim does not match the use (an access token at the refresh endpoint…).
    #[error("Token has wrong type")]
    WrongType,
    /// A required claim (`exp`, the token type, `jti`, the user id…) is missing.
    #[error("Token is missing a required claim")]
    MissingClaim,
    /// A claim has the wrong JSON type or an impossible value.
    #[error("Token has an invalid claim")]
    InvalidClaim,
    /// The token, or its whole session, has been revoked.
    #[error("Token is blacklisted")]
    Blacklisted,
    /// A spent refresh token was presented again: its session is now revoked.
    #[error("Token has already been used; its session is revoked")]
    Reused,
    /// A sliding token's `refresh_exp` has passed.
    #[error("Token 'refresh_exp' claim has expired")]
    RefreshExpired,
}

impl TokenError {
    /// The fixed, human-readable description (also the RFC 6750 `error_description`).
    pub fn description(&self) -> &'static str {
        match self {
            Self::Malformed => "Token is invalid",
            Self::TooLarge => "Token is too large",
            Self::Algorithm => "Token algorithm is not allowed",
            Self::UnknownKey => "Token signing key is unknown",
            Self::Signature => "Token signature is invalid",
            Self::HeaderParameter => "Token header is not supported",
            Self::Expired => "Token is expired",
            Self::NotYetValid => "Token is not yet valid",
            Self::IssuedInFuture => "Token was issued in the future",
            Self::Audience => "Token audience is invalid",
            Self::Issuer => "Token issuer is invalid",
            Self::WrongType => "Token has wrong type",
            Self::MissingClaim => "Token is missing a required claim",
            Self::InvalidClaim => "Token has an invalid claim",
            Self::Blacklisted => "Token is blacklisted",
            Self::Reused => "Token has already been used; its session is revoked",
            Self::RefreshExpired => "Token 'refresh_exp' claim has expired",
        }
    }
}

/// The `WWW-Authenticate` challenge of an authenticator: scheme and realm, plus the
/// RFC 6750 attributes an error adds when rendered.
///
/// ```
/// use keycard_core::Challenge;
/// assert_eq!(Challenge::bearer("api").to_string(), r#"Bearer realm="api""#);
/// ```
///
/// One pointer wide and cheap to clone: the chain hands its challenge to every request's
/// outcome, and it sits inside [`AuthError`], which must stay small to be returned by value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge(Arc<ChallengeParts>);

#[derive(Debug, PartialEq, Eq)]
struct ChallengeParts {
    scheme: Cow<'static, str>,
    realm: Cow<'static, str>,
    rfc6750: bool,
}

impl Challenge {
    /// A challenge for `scheme` in `realm`; `rfc6750` says whether the scheme takes RFC 6750's
    /// `error=` / `error_description=` / `scope=` attributes (Bearer-style schemes do, Basic does not).
    pub fn new(
        scheme: impl Into<Cow<'static, str>>,
        realm: impl Into<Cow<'static, str>>,
        rfc6750: bool,
    ) -> Self {
        Self(Arc::new(ChallengeParts {
            scheme: scheme.into(),
            realm: realm.into(),
            rfc6750,
        }))
    }
    /// `Bearer realm="…"`, with RFC 6750 attributes on errors.
    pub fn bearer(realm: impl Into<Cow<'static, str>>) -> Self {
        Self::new("Bearer", realm, true)
    }
    /// `Basic realm="…"` (RFC 7617).
    pub fn basic(realm: impl Into<Cow<'static, str>>) -> Self {
        Self::new("Basic", realm, false)
    }
    /// The scheme, as configured (`Bearer`, `JWT`, `Basic`…).
    pub fn scheme(&self) -> &str {
        &self.0.scheme
    }
    /// The realm.
    pub fn realm(&self) -> &str {
        &self.0.realm
    }
    /// The same scheme and realm, without RFC 6750 attributes (for another scheme's errors).
    pub fn plain(&self) -> Self {
        if self.0.rfc6750 {
            Self::new(self.0.scheme.clone(), self.0.realm.clone(), false)
        } else {
            self.clone()
        }
    }
    /// Whether this challenge takes RFC 6750 attributes.
    pub fn is_rfc6750(&self) -> bool {
        self.0.rfc6750
    }
    fn render(&self, attrs: &[(&str, &str)]) -> String {
        // The scheme is configuration too (a TokenAuthentication keyword, a custom
        // authenticator's): made visible ASCII like the quoted values, so the header is never
        // dropped and a 401 never goes out without its challenge.
        let mut s = format!(
            "{} realm=\"{}\"",
            quote_safe(&self.0.scheme),
            quote_safe(&self.0.realm)
        );
        if self.0.rfc6750 {
            for (k, v) in attrs {
                s.push_str(", ");
                s.push_str(k);
                s.push_str("=\"");
                s.push_str(&quote_safe(v));
                s.push('"');
            }
        }
        s
    }
}

impl fmt::Display for Challenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(&[]))
    }
}

/// Keeps a quoted-string value visible ASCII without `"` or `\`: nothing a client sent can
/// break out of the header, and control bytes never reach it.
fn quote_safe(v: &str) -> Cow<'_, str> {
    if v.bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
    {
        Cow::Borrowed(v)
    } else {
        Cow::Owned(
            v.chars()
                .map(|c| {
                    if (' '..='~').contains(&c) && c != '"' && c != '\\' {
                        c
                    } else {
                        '?'
                    }
                })
                .collect(),
        )
    }
}

/// Every way keycard refuses a request, with its status, `code`, `detail` and challenge.
///
/// ```
/// use keycard_core::{AuthError, Challenge, TokenError};
/// let err = AuthError::invalid_token(TokenError::Expired).with_challenge(Some(Challenge::bearer("api")));
/// assert_eq!(err.status(), 401);
/// assert_eq!(err.code(), "token_not_valid");
/// assert_eq!(
///     err.www_authenticate().unwrap(),
///     r#"Bearer realm="api", error="invalid_token", error_description="Token is expired""#
/// );
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No credentials, and the route needs an identity (DRF's `NotAuthenticated`).
    #[error("Authentication credentials were not provided.")]
    NotAuthenticated {
        /// The chain's challenge; `None` makes this a 403 (DRF: the first authenticator has none).
        challenge: Option<Challenge>,
    },
    /// The authorization header is malformed (no token, several values, several headers).
    #[error("{detail}")]
    BadHeader {
        /// What is wrong, from a fixed set of sentences.
        detail: &'static str,
        /// The challenge to send.
        challenge: Option<Challenge>,
    },
    /// A token was presented and refused.
    #[error("{error}")]
    InvalidToken {
        /// Why, from the fixed vocabulary.
        error: TokenError,
        /// The challenge to send.
        challenge: Option<Challenge>,
    },
    /// Credentials were understood and refused for another reason (user gone or inactive,
    /// password changed, wrong Basic password, unknown API key).
    #[error("{detail}")]
    Failed {
        /// Stable machine word (`user_not_found`, `user_inactive`, `password_changed`,
        /// `authentication_failed`).
        code: &'static str,
        /// Human sentence.
        detail: Cow<'static, str>,
        /// Whether RFC 6750 would call this `invalid_token` (a rejected bearer token).
        token: bool,
        /// The challenge to send.
        challenge: Option<Challenge>,
    },
    /// Wrong username or password, or an inactive account, at the obtain endpoint; or the
    /// user behind a refresh token is gone.
    #[error("{detail}")]
    NoActiveAccount {
        /// Human sentence.
        detail: &'static str,
    },
    /// Authenticated, and the policy says no.
    #[error("{detail}")]
    PermissionDenied {
        /// Human sentence (the denying policy's message).
        detail: Cow<'static, str>,
        /// Machine word (the denying policy's code).
        code: Cow<'static, str>,
        /// Set when a missing scope is the reason: RFC 6750 `insufficient_scope`.
        scope: Option<Cow<'static, str>>,
        /// The chain's challenge, used only for `insufficient_scope`.
        challenge: Option<Challenge>,
    },
    /// A request body that does not validate: each field mapped to its messages.
    #[error("invalid request body")]
    Validation(BTreeMap<String, Vec<String>>),
    /// A request body that cannot be read at all (not JSON, not an object).
    #[error("{detail}")]
    BadRequest {
        /// Human sentence.
        detail: Cow<'static, str>,
    },
    /// A request authenticated by a cookie failed the CSRF check (an unsafe method without a
    /// matching double-submit token or a trusted `Origin`/`Referer`): 403 `csrf_failed`, never
    /// a challenge (DRF's `SessionAuthentication`: "CSRF Failed: …").
    #[error("{detail}")]
    CsrfFailed {
        /// What is missing or wrong, from a fixed set of sentences (never the request's bytes).
        detail: &'static str,
    },
    /// A store or key source is down: 503, fail closed.
    #[error("The authentication service is temporarily unavailable.")]
    ServiceUnavailable,
    /// The application is wired wrongly (a policy extractor without the auth layer in
    /// front): 500, with the missing piece named in the log, not in the response.
    #[error("{detail}")]
    Misconfigured {
        /// What is missing, for the log.
        detail: &'static str,
    },
}

impl AuthError {
    /// `NotAuthenticated` with the given challenge.
    pub fn not_authenticated(challenge: Option<Challenge>) -> Self {
        Self::NotAuthenticated { challenge }
    }
    /// `InvalidToken` for `error`, challenge set later by the chain.
    pub fn invalid_token(error: TokenError) -> Self {
        Self::InvalidToken {
            error,
            challenge: None,
        }
    }
    /// A malformed authorization header.
    pub fn bad_header(detail: &'static str) -> Self {
        Self::BadHeader {
            detail,
            challenge: None,
        }
    }
    /// A failed authentication with a code and a detail.
    pub fn failed(code: &'static str, detail: impl Into<Cow<'static, str>>) -> Self {
        Self::Failed {
            code,
            detail: detail.into(),
            token: false,
            challenge: None,
        }
    }
    /// A bearer token's user is gone.
    pub fn user_not_found() -> Self {
        Self::Failed {
            code: "user_not_found",
            detail: "User not found".into(),
            token: true,
            challenge: None,
        }
    }
    /// A bearer token's user is inactive.
    pub fn user_inactive() -> Self {
        Self::Failed {
            code: "user_inactive",
            detail: "User is inactive".into(),
            token: true,
            challenge: None,
        }
    }
    /// A bearer token predates the user's last password change.
    pub fn password_changed() -> Self {
        Self::Failed {
            code: "password_changed",
            detail: "The user's password has been changed.".into(),
            token: true,
            challenge: None,
        }
    }
    /// Wrong credentials at the obtain endpoint.
    pub fn no_active_account() -> Self {
        Self::NoActiveAccount {
            detail: "No active account found with the given credentials",
        }
    }
    /// The user behind a refresh token is gone or inactive.
    pub fn no_active_account_for_token() -> Self {
        Self::NoActiveAccount {
            detail: "No active account found for the given token.",
        }
    }
    /// A permission denial with the default DRF message.
    pub fn permission_denied() -> Self {
        Self::PermissionDenied {
            detail: crate::policy::DEFAULT_MESSAGE.into(),
            code: crate::policy::DEFAULT_CODE.into(),
            scope: None,
            challenge: None,
        }
    }
    /// One field's validation message.
    pub fn field(field: &str, message: &str) -> Self {
        let mut map = BTreeMap::new();
        map.insert(field.to_owned(), vec![message.to_owned()]);
        Self::Validation(map)
    }

    /// Replaces the challenge on variants that carry one.
    pub fn with_challenge(mut self, new: Option<Challenge>) -> Self {
        match &mut self {
            Self::NotAuthenticated { challenge }
            | Self::BadHeader { challenge, .. }
            | Self::InvalidToken { challenge, .. }
            | Self::Failed { challenge, .. }
            | Self::PermissionDenied { challenge, .. } => *challenge = new,
            _ => {}
        }
        self
    }

    /// The challenge this error carries, if any.
    pub fn challenge(&self) -> Option<&Challenge> {
        match self {
            Self::NotAuthenticated { challenge }
            | Self::BadHeader { challenge, .. }
            | Self::InvalidToken { challenge, .. }
            | Self::Failed { challenge, .. }
            | Self::PermissionDenied { challenge, .. } => challenge.as_ref(),
            _ => None,
        }
    }

    /// Whether this is a CSRF refusal ([`AuthError::CsrfFailed`]): the credentials were good,
    /// the request may not be the user's own.
    pub fn is_csrf(&self) -> bool {
        matches!(self, Self::CsrfFailed { .. })
    }

    /// Whether this error means "who you are could not be established" (the 401 family).
    pub fn is_authentication(&self) -> bool {
        matches!(
            self,
            Self::NotAuthenticated { .. }
                | Self::BadHeader { .. }
                | Self::InvalidToken { .. }
                | Self::Failed { .. }
        )
    }

    /// The HTTP status. The 401 family becomes 403 when there is no challenge to send
    /// (DRF: the first authenticator has no `authenticate_header`).
    pub fn status(&self) -> StatusCode {
        match self {
            e if e.is_authentication() => {
                if e.challenge().is_some() {
                    StatusCode::UNAUTHORIZED
                } else {
                    StatusCode::FORBIDDEN
                }
            }
            Self::NoActiveAccount { .. } => StatusCode::UNAUTHORIZED,
            Self::PermissionDenied { .. } | Self::CsrfFailed { .. } => StatusCode::FORBIDDEN,
            Self::Validation(_) | Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable machine word of the body's `code`.
    pub fn code(&self) -> &str {
        match self {
            Self::NotAuthenticated { .. } => "not_authenticated",
            Self::BadHeader { .. } => "bad_authorization_header",
            Self::InvalidToken { .. } => "token_not_valid",
            Self::Failed { code, .. } => code,
            Self::NoActiveAccount { .. } => "no_active_account",
            Self::PermissionDenied { code, .. } => code,
            Self::CsrfFailed { .. } => "csrf_failed",
            Self::Validation(_) => "invalid",
            Self::BadRequest { .. } => "parse_error",
            Self::ServiceUnavailable => "service_unavailable",
            Self::Misconfigured { .. } => "server_error",
        }
    }

    /// The human sentence of the body's `detail`.
    pub fn detail(&self) -> Cow<'_, str> {
        match self {
            Self::InvalidToken { error, .. } => Cow::Borrowed(error.description()),
            Self::Failed { detail, .. } | Self::PermissionDenied { detail, .. } => {
                Cow::Borrowed(detail)
            }
            Self::BadRequest { detail } => Cow::Borrowed(detail),
            Self::CsrfFailed { detail } => Cow::Borrowed(detail),
            Self::Validation(_) => Cow::Borrowed("Invalid input."),
            // The missing piece is logged by the adapter; the client gets a plain sentence.
            Self::Misconfigured { .. } => Cow::Borrowed("A server error occurred."),
            other => Cow::Owned(other.to_string()),
        }
    }

    /// The `WWW-Authenticate` value, if this answer carries one.
    pub fn www_authenticate(&self) -> Option<String> {
        let status = self.status();
        let challenge = self.challenge()?;
        match self {
            Self::NotAuthenticated { .. } => Some(challenge.render(&[])),
            Self::BadHeader { detail, .. } => Some(
                challenge.render(&[("error", "invalid_request"), ("error_description", detail)]),
            ),
            Self::InvalidToken { error, .. } => Some(challenge.render(&[
                ("error", "invalid_token"),
                ("error_description", error.description()),
            ])),
            Self::Failed { detail, token, .. } => Some(if *token {
                challenge.render(&[("error", "invalid_token"), ("error_description", detail)])
            } else {
                challenge.render(&[])
            }),
            Self::PermissionDenied {
                scope: Some(scope), ..
            } if status == StatusCode::FORBIDDEN && challenge.is_rfc6750() => {
                Some(challenge.render(&[("error", "insufficient_scope"), ("scope", scope)]))
            }
            _ => None,
        }
    }

    /// Renders the whole answer: status, headers and body, through the global renderer.
    pub fn render(&self) -> RenderedError {
        let (content_type, body) = renderer().render_body(self);
        let mut headers = Vec::with_capacity(2);
        headers.push((http::header::CONTENT_TYPE, content_type));
        if let Some(www) = self.www_authenticate() {
            // Every piece is visible ASCII (see `quote_safe`); the fallback is unreachable.
            if let Ok(v) = HeaderValue::from_str(&www) {
                headers.push((http::header::WWW_AUTHENTICATE, v));
            }
        }
        RenderedError {
            status: self.status(),
            headers,
            body,
        }
    }

    /// Renders into an `http::Response` with any body type built from bytes.
    pub fn into_response<B: From<Vec<u8>>>(&self) -> http::Response<B> {
        self.render().into_response()
    }
}

/// A rendered error: what both adapters send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedError {
    /// The status code.
    pub status: StatusCode,
    /// `Content-Type` and, when present, `WWW-Authenticate`.
    pub headers: Vec<(http::HeaderName, HeaderValue)>,
    /// The body bytes.
    pub body: Vec<u8>,
}

impl RenderedError {
    /// Into an `http::Response`.
    pub fn into_response<B: From<Vec<u8>>>(self) -> http::Response<B> {
        let mut res = http::Response::new(B::from(self.body));
        *res.status_mut() = self.status;
        for (k, v) in self.headers {
            res.headers_mut().insert(k, v);
        }
        res
    }
}

/// The JSON body of an error (`{"detail", "code"}`), as the default renderer writes it.
#[derive(Debug, Clone, serde::Serialize, PartialEq, Eq)]
pub struct ErrorBody<'a> {
    /// Human sentence.
    pub detail: Cow<'a, str>,
    /// Machine word.
    pub code: Cow<'a, str>,
}

/// Turns an error into a body; replace it once, at start-up, with [`set_renderer`].
pub trait ErrorRenderer: Send + Sync + 'static {
    /// The `Content-Type` and the body bytes for `err`.
    fn render_body(&self, err: &AuthError) -> (HeaderValue, Vec<u8>);
}

/// The default renderer: the contract's JSON bodies.
#[derive(Debug, Default, Clone, Copy)]
pub struct JsonRenderer;

impl ErrorRenderer for JsonRenderer {
    fn render_body(&self, err: &AuthError) -> (HeaderValue, Vec<u8>) {
        let body = match err {
            AuthError::Validation(fields) => serde_json::to_vec(fields),
            other => serde_json::to_vec(&ErrorBody {
                detail: other.detail(),
                code: other.code().into(),
            }),
        };
        // Serializing strings and string maps cannot fail.
        (
            HeaderValue::from_static("application/json"),
            body.unwrap_or_default(),
        )
    }
}

static RENDERER: OnceLock<Box<dyn ErrorRenderer>> = OnceLock::new();

/// Installs the process-wide error body renderer. Returns `false` when one was already
/// installed (or an error was already rendered with the default).
pub fn set_renderer(renderer: impl ErrorRenderer) -> bool {
    RENDERER.set(Box::new(renderer)).is_ok()
}

fn renderer() -> &'static dyn ErrorRenderer {
    RENDERER.get_or_init(|| Box::new(JsonRenderer)).as_ref()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn auth_error_stays_small_enough_to_return_by_value() {
        // clippy's result_large_err fires at 128 bytes, on every function returning it.
        assert!(
            std::mem::size_of::<AuthError>() < 128,
            "{}",
            std::mem::size_of::<AuthError>()
        );
        assert_eq!(
            std::mem::size_of::<Option<Challenge>>(),
            std::mem::size_of::<usize>()
        );
    }

    #[test]
    fn plain_drops_rfc6750_and_keeps_scheme_and_realm() {
        let c = Challenge::new("JWT", "shop", true);
        let p = c.plain();
        assert_eq!(
            (p.scheme(), p.realm(), p.is_rfc6750()),
            ("JWT", "shop", false)
        );
        assert!(c.is_rfc6750());
        assert_eq!(Challenge::basic("api").plain(), Challenge::basic("api"));
    }

    fn body(err: &AuthError) -> serde_json::Value {
        serde_json::from_slice(&err.render().body).unwrap()
    }

    #[test]
    fn not_authenticated_with_challenge_is_401_without_error_attribute() {
        let e = AuthError::not_authenticated(Some(Challenge::bearer("api")));
        assert_eq!(e.status(), 401);
        assert_eq!(e.www_authenticate().unwrap(), r#"Bearer realm="api""#);
        assert_eq!(
            body(&e),
            serde_json::json!({"detail":"Authentication credentials were not provided.","code":"not_authenticated"})
        );
    }

    #[test]
    fn without_challenge_the_401_family_is_403_with_no_header() {
        let e = AuthError::invalid_token(TokenError::Expired);
        assert_eq!(e.status(), 403);
        assert!(e.www_authenticate().is_none());
        assert_eq!(body(&e)["code"], "token_not_valid");
    }

    #[test]
    fn bad_header_carries_invalid_request() {
        let e =
            AuthError::bad_header("Authorization header must contain two space-delimited values")
                .with_challenge(Some(Challenge::bearer("api")));
        let www = e.www_authenticate().unwrap();
        assert!(
            www.starts_with(r#"Bearer realm="api", error="invalid_request""#),
            "{www}"
        );
    }

    #[test]
    fn insufficient_scope_names_the_scope() {
        let e = AuthError::PermissionDenied {
            detail: "missing scope".into(),
            code: "permission_denied".into(),
            scope: Some("orders:write".into()),
            challenge: Some(Challenge::bearer("api")),
        };
        assert_eq!(e.status(), 403);
        assert_eq!(
            e.www_authenticate().unwrap(),
            r#"Bearer realm="api", error="insufficient_scope", scope="orders:write""#
        );
    }

    #[test]
    fn plain_denial_has_no_challenge_header() {
        let e = AuthError::permission_denied().with_challenge(Some(Challenge::bearer("api")));
        assert!(e.www_authenticate().is_none());
    }

    #[test]
    fn basic_challenge_takes_no_rfc6750_attributes() {
        let e = AuthError::failed("authentication_failed", "Invalid username/password.")
            .with_challenge(Some(Challenge::basic("api")));
        assert_eq!(e.www_authenticate().unwrap(), r#"Basic realm="api""#);
    }

    #[test]
    fn challenge_values_cannot_break_out_of_quotes() {
        let c = Challenge::new("Bearer", "a\"b\r\nc", true);
        assert_eq!(c.to_string(), r#"Bearer realm="a?b??c""#);
    }

    #[test]
    fn validation_renders_field_map() {
        let e = AuthError::field("password", "This field is required.");
        assert_eq!(e.status(), 400);
        assert_eq!(
            body(&e),
            serde_json::json!({"password":["This field is required."]})
        );
    }

    #[test]
    fn csrf_failed_is_403_without_a_challenge_whatever_the_chain_passes() {
        let e = AuthError::CsrfFailed {
            detail: "CSRF Failed: CSRF token missing.",
        }
        .with_challenge(Some(Challenge::bearer("api")));
        assert_eq!(e.status(), 403);
        assert!(e.challenge().is_none());
        assert!(e.www_authenticate().is_none());
        assert!(e.is_csrf() && !e.is_authentication());
        let r = e.render();
        assert!(
            r.headers
                .iter()
                .all(|(k, _)| k != http::header::WWW_AUTHENTICATE)
        );
        assert_eq!(
            body(&e),
            serde_json::json!({"detail":"CSRF Failed: CSRF token missing.","code":"csrf_failed"})
        );
    }

    #[test]
    fn service_unavailable_is_503_json() {
        let r = AuthError::ServiceUnavailable.render();
        assert_eq!(r.status, 503);
        assert_eq!(
            body(&AuthError::ServiceUnavailable)["code"],
            "service_unavailable"
        );
    }
}
