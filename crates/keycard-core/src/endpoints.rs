//! The token endpoints' HTTP behaviour, decided once: request bodies validated into DRF-style
//! 400 field maps, the token service called, the answer rendered with
//! `Cache-Control: no-store`. The adapters only route to [`handle`] (or
//! [`TokenEndpoints::handle`], which also knows the cookie mode) and copy its answer.

use std::fmt;

use http::{HeaderName, HeaderValue, StatusCode};
use serde_json::{Map, Value};

use crate::authn::{HeaderLookup, HeaderSource};
use crate::cookie::{CookieJar, CookieSettings, check_csrf, find_cookie};
use crate::error::{AuthError, Challenge, TokenError};
use crate::token::{TokenPair, TokenService};

/// One of the token endpoints (simplejwt's views).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `TokenObtainPairView`: `{"username","password"}` → `{"access","refresh"}`.
    Obtain,
    /// `TokenRefreshView`: `{"refresh"}` → `{"access","refresh"}` (rotated) or `{"access"}`.
    Refresh,
    /// `TokenVerifyView`: `{"token"}` → `{}`.
    Verify,
    /// `TokenBlacklistView`: `{"refresh"}` → `{}` (logs the session out).
    Blacklist,
    /// `TokenObtainSlidingView`: `{"username","password"}` → `{"token"}`.
    ObtainSliding,
    /// `TokenRefreshSlidingView`: `{"token"}` → `{"token"}`.
    RefreshSliding,
}

impl Endpoint {
    /// The conventional path below the mount point (`obtain` is the mount point itself in
    /// simplejwt's URL conf: `/api/token/`).
    pub fn path(self) -> &'static str {
        match self {
            Self::Obtain => "/",
            Self::Refresh => "/refresh/",
            Self::Verify => "/verify/",
            Self::Blacklist => "/blacklist/",
            Self::ObtainSliding => "/sliding/",
            Self::RefreshSliding => "/sliding/refresh/",
        }
    }
}

/// The largest request body the endpoints read (adapters enforce it before buffering).
pub const MAX_BODY: usize = 16 * 1024;

/// An endpoint's answer, ready to be copied into any framework's response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointResponse {
    /// The status.
    pub status: StatusCode,
    /// `Content-Type`, `Cache-Control: no-store`, and `WWW-Authenticate` when an error has one.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// The JSON body.
    pub body: Vec<u8>,
}

impl EndpointResponse {
    fn ok(body: &impl serde::Serialize) -> Self {
        // Serializing token pairs and empty objects cannot fail.
        let body = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
        Self::with_no_store(
            StatusCode::OK,
            vec![(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            body,
        )
    }
    fn error(e: &AuthError) -> Self {
        let r = e.render();
        Self::with_no_store(r.status, r.headers, r.body)
    }
    fn with_no_store(
        status: StatusCode,
        mut headers: Vec<(HeaderName, HeaderValue)>,
        body: Vec<u8>,
    ) -> Self {
        headers.push((
            http::header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ));
        Self {
            status,
            headers,
            body,
        }
    }
    /// Into an `http::Response`.
    pub fn into_response<B: From<Vec<u8>>>(self) -> http::Response<B> {
        let mut res = http::Response::new(B::from(self.body));
        *res.status_mut() = self.status;
        for (k, v) in self.headers {
            res.headers_mut().append(k, v);
        }
        res
    }
}

/// The answer for a body larger than [`MAX_BODY`].
pub fn too_large() -> EndpointResponse {
    EndpointResponse::error(&AuthError::BadRequest {
        detail: "Request body is too large.".into(),
    })
}

/// Reads a JSON object body and the required string fields, DRF-style: every problem of
/// every field reported at once, `{"field": ["This field is required."]}`.
pub fn parse_fields<const N: usize>(
    body: &[u8],
    fields: [&str; N],
) -> Result<[String; N], AuthError> {
    let map = parse_object(body)?;
    let mut errors = std::collections::BTreeMap::new();
    let mut out: [String; N] = std::array::from_fn(|_| String::new());
    for (slot, name) in out.iter_mut().zip(fields) {
        let problem = match map.get(name) {
            None => Some("This field is required."),
            Some(v) => match string_field(v) {
                Ok(s) => {
                    *slot = s.to_owned();
                    None
                }
                Err(p) => Some(p),
            },
        };
        if let Some(p) = problem {
            errors.insert(name.to_owned(), vec![p.to_owned()]);
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(AuthError::Validation(errors))
    }
}

fn parse_object(body: &[u8]) -> Result<Map<String, Value>, AuthError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(AuthError::BadRequest {
            detail: "Invalid data. Expected a JSON object.".into(),
        }),
        Err(_) => Err(AuthError::BadRequest {
            detail: "JSON parse error.".into(),
        }),
    }
}

fn string_field(v: &Value) -> Result<&str, &'static str> {
    match v {
        Value::Null => Err("This field may not be null."),
        Value::String(s) if s.is_empty() => Err("This field may not be blank."),
        Value::String(s) => Ok(s),
        _ => Err("Not a valid string."),
    }
}

/// One optional string field of an optional JSON object body (cookie mode: the refresh token
/// may come from its cookie instead). An empty body is no field; a present field is held to
/// the same rules as a required one.
fn parse_optional(body: &[u8], field: &str) -> Result<Option<String>, AuthError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    match parse_object(body)?.get(field) {
        None => Ok(None),
        Some(v) => string_field(v)
            .map(|s| Some(s.to_owned()))
            .map_err(|p| AuthError::field(field, p)),
    }
}

/// Runs one endpoint on a request body.
///
/// ```
/// use keycard_core::endpoints::{handle, Endpoint};
/// # use keycard_core::{InMemoryUserStore, Settings, TokenService};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// # let tokens = TokenService::builder(Settings::builder().hmac_secret([3u8; 32]).build().unwrap())
/// #     .users(InMemoryUserStore::new()).build().unwrap();
/// let res = handle(&tokens, Endpoint::Obtain, br#"{"username":"alice"}"#).await;
/// assert_eq!(res.status, 400);
/// assert_eq!(res.body, br#"{"password":["This field is required."]}"#);
/// assert!(res.headers.iter().any(|(k, v)| k == "cache-control" && v == "no-store"));
/// # });
/// ```
pub async fn handle(tokens: &TokenService, endpoint: Endpoint, body: &[u8]) -> EndpointResponse {
    let result = match endpoint {
        Endpoint::Obtain => match parse_fields(body, ["username", "password"]) {
            Ok([u, p]) => tokens
                .obtain(&u, &p)
                .await
                .map(|pair| EndpointResponse::ok(&pair)),
            Err(e) => Err(e),
        },
        Endpoint::Refresh => match parse_fields(body, ["refresh"]) {
            Ok([r]) => tokens
                .refresh(&r)
                .await
                .map(|pair| EndpointResponse::ok(&pair)),
            Err(e) => Err(e),
        },
        Endpoint::Verify => match parse_fields(body, ["token"]) {
            Ok([t]) => tokens
                .verify(&t)
                .await
                .map(|_| EndpointResponse::ok(&Map::new())),
            Err(e) => Err(e),
        },
        Endpoint::Blacklist => match parse_fields(body, ["refresh"]) {
            Ok([r]) => tokens
                .blacklist(&r)
                .await
                .map(|()| EndpointResponse::ok(&Map::new())),
            Err(e) => Err(e),
        },
        Endpoint::ObtainSliding => match parse_fields(body, ["username", "password"]) {
            Ok([u, p]) => tokens
                .obtain_sliding(&u, &p)
                .await
                .map(|t| EndpointResponse::ok(&t)),
            Err(e) => Err(e),
        },
        Endpoint::RefreshSliding => match parse_fields(body, ["token"]) {
            Ok([t]) => tokens
                .refresh_sliding(&t)
                .await
                .map(|t| EndpointResponse::ok(&t)),
            Err(e) => Err(e),
        },
    };
    result.unwrap_or_else(|e| error_response(tokens, e))
}

/// What the endpoints read of a request: its body, and (in cookie mode) its headers —
/// `Cookie`, `Host`, `Origin`, `Referer`, `Content-Type` and the CSRF header.
#[derive(Clone, Copy)]
pub struct EndpointRequest<'a> {
    /// The body bytes (at most [`MAX_BODY`], enforced by the adapter).
    pub body: &'a [u8],
    /// The request headers.
    pub headers: &'a (dyn HeaderSource + Sync),
}

impl fmt::Debug for EndpointRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Bodies hold passwords and tokens, headers cookies: sizes only.
        f.debug_struct("EndpointRequest")
            .field("body", &format_args!("<{} bytes>", self.body.len()))
            .finish_non_exhaustive()
    }
}

/// The token endpoints with their options: the [`TokenService`] and, for browser clients,
/// the cookie mode ([`with_cookies`](Self::with_cookies)). Cheap to clone; what the adapters'
/// routers take (a `TokenService` converts into one without cookies).
///
/// In cookie mode (see `docs/cookies.md`):
///
/// - **obtain** sets the access token, refresh token and CSRF cookies and answers `{}` (or the
///   pair, with [`tokens_in_body`](crate::cookie::CookieSettingsBuilder::tokens_in_body));
/// - **refresh** reads the refresh token from the body or, when the body has none (an empty
///   body is fine), from its cookie; sets the new cookies; a refused cookie is cleared;
/// - **blacklist** (logout) reads the refresh token the same way, revokes its session and
///   clears the three cookies;
/// - every one of them needs a CSRF proof: a refresh token read from its cookie the rule of
///   [`check_csrf`]; otherwise (obtain, a token in the body) that rule **or** a JSON body
///   (`Content-Type: application/json`, which no cross-site form can send), so that no other
///   site can log a browser into an account of its choosing. Failing: 403 `csrf_failed`.
///
/// Verify and the sliding-token endpoints are the same with or without cookies.
///
/// ```
/// use keycard_core::cookie::CookieSettings;
/// use keycard_core::endpoints::{Endpoint, EndpointRequest, TokenEndpoints};
/// # use keycard_core::{InMemoryUserStore, Settings, TokenService, User};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// # let users = InMemoryUserStore::new();
/// # users.insert(User::new("1", "alice"), "pw");
/// # let tokens = TokenService::builder(Settings::builder().hmac_secret([3u8; 32]).build().unwrap())
/// #     .users(users).build().unwrap();
/// let endpoints = TokenEndpoints::new(tokens).with_cookies(CookieSettings::default());
/// let mut headers = http::HeaderMap::new();
/// headers.insert("content-type", "application/json".parse().unwrap());
/// let body = br#"{"username":"alice","password":"pw"}"#;
/// let res = endpoints.handle(Endpoint::Obtain, &EndpointRequest { body, headers: &headers }).await;
/// assert_eq!((res.status.as_u16(), res.body.as_slice()), (200, &b"{}"[..]));
/// let set: Vec<_> = res.headers.iter().filter(|(k, _)| k == "set-cookie").map(|(_, v)| v.to_str().unwrap()).collect();
/// assert!(set[0].starts_with("keycard_access=ey") && set[0].ends_with("; Max-Age=300; HttpOnly; Secure; SameSite=Lax"));
/// assert!(set[1].starts_with("keycard_refresh=ey") && set[1].contains("; Path=/api/token/;"));
/// assert!(set[2].starts_with("csrftoken=") && !set[2].contains("HttpOnly"));
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct TokenEndpoints {
    tokens: TokenService,
    cookies: Option<CookieSettings>,
}

impl From<TokenService> for TokenEndpoints {
    fn from(tokens: TokenService) -> Self {
        Self::new(tokens)
    }
}

/// Why a cookie-mode endpoint refused, and whether its cookies are dead and go.
struct Refusal {
    error: AuthError,
    clear: bool,
}

impl From<AuthError> for Refusal {
    fn from(error: AuthError) -> Self {
        Self {
            error,
            clear: false,
        }
    }
}

const LOGIN_CSRF: &str =
    "CSRF Failed: send the request body as application/json, or the CSRF token.";

impl TokenEndpoints {
    /// The endpoints of `tokens`, tokens in the JSON body (simplejwt's behaviour).
    pub fn new(tokens: TokenService) -> Self {
        Self {
            tokens,
            cookies: None,
        }
    }

    /// Cookie mode: the tokens go in cookies set with `cookies` (see the type's docs).
    #[must_use]
    pub fn with_cookies(mut self, cookies: CookieSettings) -> Self {
        self.cookies = Some(cookies);
        self
    }

    /// The token service.
    pub fn tokens(&self) -> &TokenService {
        &self.tokens
    }

    /// The cookie settings, in cookie mode.
    pub fn cookies(&self) -> Option<&CookieSettings> {
        self.cookies.as_ref()
    }

    /// Runs one endpoint on a request: [`handle`] without cookies, the cookie mode's rules with.
    pub async fn handle(&self, endpoint: Endpoint, req: &EndpointRequest<'_>) -> EndpointResponse {
        let Some(cookies) = &self.cookies else {
            return handle(&self.tokens, endpoint, req.body).await;
        };
        let result = match endpoint {
            Endpoint::Obtain => self.obtain(cookies, req).await,
            Endpoint::Refresh => self.refresh(cookies, req).await,
            Endpoint::Blacklist => self.blacklist(cookies, req).await,
            other => return handle(&self.tokens, other, req.body).await,
        };
        result.unwrap_or_else(|Refusal { error, clear }| {
            let mut res = error_response(&self.tokens, error);
            if clear {
                let mut jar = CookieJar::new(cookies, req.headers);
                // Only fails on a bug (see `CookieJar::push`); the refusal stands either way.
                if jar.clear_all().is_ok() {
                    res.headers.extend(jar.into_headers());
                }
            }
            res
        })
    }

    async fn obtain(
        &self,
        cookies: &CookieSettings,
        req: &EndpointRequest<'_>,
    ) -> Result<EndpointResponse, Refusal> {
        login_csrf(cookies, req)?;
        let [u, p] = parse_fields(req.body, ["username", "password"])?;
        let pair = self.tokens.obtain(&u, &p).await?;
        Ok(self.with_pair(cookies, req, &pair, crate::cookie::new_csrf_token())?)
    }

    async fn refresh(
        &self,
        cookies: &CookieSettings,
        req: &EndpointRequest<'_>,
    ) -> Result<EndpointResponse, Refusal> {
        let (token, from_cookie) = self.refresh_token(cookies, req)?;
        let pair = self.tokens.refresh(&token).await.map_err(|error| Refusal {
            clear: from_cookie && dead_token(&error),
            error,
        })?;
        // Kept for the session (minted at login): a script that read it a moment ago still
        // sends the right one. A missing or malformed one is replaced.
        let csrf = match find_cookie(req.headers, cookies.csrf_name()) {
            HeaderLookup::One(v) if crate::cookie::well_formed_csrf(v) => {
                String::from_utf8_lossy(v).into_owned()
            }
            _ => crate::cookie::new_csrf_token(),
        };
        Ok(self.with_pair(cookies, req, &pair, csrf)?)
    }

    async fn blacklist(
        &self,
        cookies: &CookieSettings,
        req: &EndpointRequest<'_>,
    ) -> Result<EndpointResponse, Refusal> {
        let (token, from_cookie) = self.refresh_token(cookies, req)?;
        self.tokens
            .blacklist(&token)
            .await
            .map_err(|error| Refusal {
                clear: from_cookie && dead_token(&error),
                error,
            })?;
        let mut res = EndpointResponse::ok(&Map::new());
        let mut jar = CookieJar::new(cookies, req.headers);
        jar.clear_all()?;
        res.headers.extend(jar.into_headers());
        Ok(res)
    }

    /// The refresh token of a refresh or logout request: the body's, else the cookie's, each
    /// with its CSRF proof.
    fn refresh_token(
        &self,
        cookies: &CookieSettings,
        req: &EndpointRequest<'_>,
    ) -> Result<(String, bool), Refusal> {
        if let Some(token) = parse_optional(req.body, "refresh")? {
            login_csrf(cookies, req)?;
            return Ok((token, false));
        }
        match find_cookie(req.headers, cookies.refresh_name()) {
            HeaderLookup::One(v) if !v.is_empty() => {
                check_csrf(cookies, "POST", req.headers)?;
                let token = std::str::from_utf8(v).map_err(|_| Refusal {
                    error: AuthError::invalid_token(TokenError::Malformed),
                    clear: true,
                })?;
                Ok((token.to_owned(), true))
            }
            HeaderLookup::Many => Err(AuthError::failed(
                "bad_cookie",
                "The refresh token cookie must be sent once.",
            )
            .into()),
            _ => Err(AuthError::field("refresh", "This field is required.").into()),
        }
    }

    /// A success in cookie mode: the cookies set, the body `{}` or the pair.
    fn with_pair(
        &self,
        cookies: &CookieSettings,
        req: &EndpointRequest<'_>,
        pair: &TokenPair,
        csrf: String,
    ) -> Result<EndpointResponse, AuthError> {
        let s = self.tokens.settings();
        let mut jar = CookieJar::new(cookies, req.headers);
        jar.access(&pair.access, s.access_lifetime().as_secs())?;
        if let Some(refresh) = &pair.refresh {
            jar.refresh(refresh, s.refresh_lifetime().as_secs())?;
        }
        // The CSRF token lives as long as a refresh token: a page asks for a new access token
        // with it after the old one expired.
        jar.csrf(&csrf, s.refresh_lifetime().as_secs())?;
        let mut res = if cookies.tokens_in_body() {
            EndpointResponse::ok(pair)
        } else {
            EndpointResponse::ok(&Map::new())
        };
        res.headers.extend(jar.into_headers());
        Ok(res)
    }
}

/// The CSRF proof of a request that brings its own credentials in the body (a login, a token
/// in the body): a JSON body, or what [`check_csrf`] accepts.
fn login_csrf(cookies: &CookieSettings, req: &EndpointRequest<'_>) -> Result<(), AuthError> {
    if crate::cookie::is_json(req.headers) || check_csrf(cookies, "POST", req.headers).is_ok() {
        Ok(())
    } else {
        Err(AuthError::CsrfFailed { detail: LOGIN_CSRF })
    }
}

/// Whether a refresh token refused with this error can never work again (its cookie goes),
/// as opposed to a store that is down or a wrongly wired app.
fn dead_token(e: &AuthError) -> bool {
    e.is_authentication() || matches!(e, AuthError::NoActiveAccount { .. })
}

fn error_response(tokens: &TokenService, e: AuthError) -> EndpointResponse {
    if let AuthError::Misconfigured { detail } = &e {
        tracing::error!(target: "keycard::endpoints", "{detail}");
    }
    // The token service's errors carry no challenge, and the 401 family without one is a
    // 403 (AU7). These views challenge like simplejwt's (`Bearer realm="api"`, the first
    // header type), so a rejected token is 401 `token_not_valid` here as on every route.
    EndpointResponse::error(&e.with_challenge(Some(challenge(tokens))))
}

fn challenge(tokens: &TokenService) -> Challenge {
    tokens.settings().challenge()
}
