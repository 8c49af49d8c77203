//! The token endpoints' HTTP behaviour, decided once: request bodies validated into DRF-style
//! 400 field maps, the token service called, the answer rendered with
//! `Cache-Control: no-store`. The adapters only route to [`handle`] and copy its answer.

use http::{HeaderName, HeaderValue, StatusCode};
use serde_json::{Map, Value};

use crate::error::{AuthError, Challenge};
use crate::token::TokenService;

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
        Self::with_no_store(StatusCode::OK, vec![(http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body)
    }
    fn error(e: &AuthError) -> Self {
        let r = e.render();
        Self::with_no_store(r.status, r.headers, r.body)
    }
    fn with_no_store(status: StatusCode, mut headers: Vec<(HeaderName, HeaderValue)>, body: Vec<u8>) -> Self {
        headers.push((http::header::CACHE_CONTROL, HeaderValue::from_static("no-store")));
        Self { status, headers, body }
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
    EndpointResponse::error(&AuthError::BadRequest { detail: "Request body is too large.".into() })
}

/// Reads a JSON object body and the required string fields, DRF-style: every problem of
/// every field reported at once, `{"field": ["This field is required."]}`.
pub fn parse_fields<const N: usize>(body: &[u8], fields: [&str; N]) -> Result<[String; N], AuthError> {
    let map: Map<String, Value> = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => m,
        Ok(_) => {
            return Err(AuthError::BadRequest { detail: "Invalid data. Expected a JSON object.".into() });
        }
        Err(_) => return Err(AuthError::BadRequest { detail: "JSON parse error.".into() }),
    };
    let mut errors = std::collections::BTreeMap::new();
    let mut out: [String; N] = std::array::from_fn(|_| String::new());
    for (slot, name) in out.iter_mut().zip(fields) {
        let problem = match map.get(name) {
            None => Some("This field is required."),
            Some(Value::Null) => Some("This field may not be null."),
            Some(Value::String(s)) if s.is_empty() => Some("This field may not be blank."),
            Some(Value::String(s)) => {
                *slot = s.clone();
                None
            }
            Some(_) => Some("Not a valid string."),
        };
        if let Some(p) = problem {
            errors.insert(name.to_owned(), vec![p.to_owned()]);
        }
    }
    if errors.is_empty() { Ok(out) } else { Err(AuthError::Validation(errors)) }
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
            Ok([u, p]) => tokens.obtain(&u, &p).await.map(|pair| EndpointResponse::ok(&pair)),
            Err(e) => Err(e),
        },
        Endpoint::Refresh => match parse_fields(body, ["refresh"]) {
            Ok([r]) => tokens.refresh(&r).await.map(|pair| EndpointResponse::ok(&pair)),
            Err(e) => Err(e),
        },
        Endpoint::Verify => match parse_fields(body, ["token"]) {
            Ok([t]) => tokens.verify(&t).await.map(|_| EndpointResponse::ok(&Map::new())),
            Err(e) => Err(e),
        },
        Endpoint::Blacklist => match parse_fields(body, ["refresh"]) {
            Ok([r]) => tokens.blacklist(&r).await.map(|()| EndpointResponse::ok(&Map::new())),
            Err(e) => Err(e),
        },
        Endpoint::ObtainSliding => match parse_fields(body, ["username", "password"]) {
            Ok([u, p]) => tokens.obtain_sliding(&u, &p).await.map(|t| EndpointResponse::ok(&t)),
            Err(e) => Err(e),
        },
        Endpoint::RefreshSliding => match parse_fields(body, ["token"]) {
            Ok([t]) => tokens.refresh_sliding(&t).await.map(|t| EndpointResponse::ok(&t)),
            Err(e) => Err(e),
        },
    };
    result.unwrap_or_else(|e| {
        if let AuthError::Misconfigured { detail } = &e {
            tracing::error!(target: "keycard::endpoints", "{detail}");
        }
        // The token service's errors carry no challenge, and the 401 family without one is a
        // 403 (AU7). These views challenge like simplejwt's (`Bearer realm="api"`, the first
        // header type), so a rejected token is 401 `token_not_valid` here as on every route.
        EndpointResponse::error(&e.with_challenge(Some(challenge(tokens))))
    })
}

fn challenge(tokens: &TokenService) -> Challenge {
    let s = tokens.settings();
    // The settings builder guarantees at least one header type.
    let scheme = s.header_types().first().cloned().unwrap_or_else(|| "Bearer".to_owned());
    Challenge::new(scheme, s.realm().to_owned(), true)
}
