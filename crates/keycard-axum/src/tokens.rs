//! The token endpoints (simplejwt's token views) as an axum [`Router`].
//!
//! keycard-core's [`TokenEndpoints::handle`] decides everything (validation into DRF-style 400
//! field maps, the token service call, `Cache-Control: no-store`, and in cookie mode the CSRF
//! proof and the `Set-Cookie` headers); this module routes, reads the body (at most
//! [`MAX_BODY`] bytes) and the headers, and copies the answer.

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use axum::routing::post;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use keycard_core::AuthError;
use keycard_core::endpoints::{self, Endpoint, EndpointRequest, MAX_BODY, TokenEndpoints};

/// The endpoints [`token_router`] mounts: obtain, refresh, verify, blacklist (the same set
/// as keycard-actix's `token_scope`).
pub const DEFAULT_ENDPOINTS: [Endpoint; 4] = [
    Endpoint::Obtain,
    Endpoint::Refresh,
    Endpoint::Verify,
    Endpoint::Blacklist,
];

/// The token endpoints, to [`nest`](Router::nest) where the app likes: `POST /` (obtain),
/// `/refresh/`, `/verify/`, `/blacklist/`, each at its [`Endpoint::path`].
///
/// Takes a [`TokenService`](keycard_core::TokenService) (tokens in the JSON bodies, as
/// simplejwt) or a [`TokenEndpoints`] in cookie mode, for browser clients:
/// `TokenEndpoints::new(tokens).with_cookies(cookie_settings)` (see keycard-core's `cookie`
/// module: cookies set by obtain and refresh, read by refresh and logout, CSRF-checked).
///
/// Nest it at a path **with** a trailing slash (`.nest("/api/token/", …)`) for simplejwt's
/// URLs: `POST /api/token/`, `/api/token/refresh/`, … (axum maps the nested `/` to the
/// prefix itself, so `.nest("/api/token", …)` would serve obtain at `/api/token`).
///
/// The blacklist endpoint needs a revocation store: declare it with
/// `TokenServiceBuilder::with_blacklist_endpoint(true)`, so that a missing store is refused at
/// start-up. The endpoints allow anyone; mount them outside the routes an
/// [`AuthLayer`](keycard_tower::AuthLayer) covers (or under a lenient one), so that a stale
/// access token sent along does not stop a login.
///
/// ```
/// use axum::{Router, body::Body, http::Request};
/// use keycard_core::{InMemoryUserStore, Settings, TokenService};
/// use tower::ServiceExt;
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let tokens = TokenService::builder(Settings::builder().hmac_secret([1u8; 32]).build().unwrap())
///     .users(InMemoryUserStore::new())
///     .build()
///     .unwrap();
/// let app: Router = Router::new().nest("/api/token/", keycard_axum::token_router(tokens));
/// let req = Request::post("/api/token/").body(Body::from(r#"{"username":"alice"}"#)).unwrap();
/// let res = app.oneshot(req).await.unwrap();
/// assert_eq!(res.status(), 400);
/// assert_eq!(res.headers()["cache-control"], "no-store");
/// let body = axum::body::to_bytes(res.into_body(), 1024).await.unwrap();
/// assert_eq!(body, r#"{"password":["This field is required."]}"#);
/// # });
/// ```
pub fn token_router<S>(tokens: impl Into<TokenEndpoints>) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    token_router_with(tokens, &DEFAULT_ENDPOINTS)
}

/// Like [`token_router`], with the endpoints chosen one by one: the sliding-token pair, or a
/// set without blacklist.
///
/// ```
/// use axum::Router;
/// use keycard_core::endpoints::Endpoint;
/// # use keycard_core::{InMemoryUserStore, Settings, TokenService};
/// # let tokens = TokenService::builder(Settings::builder().hmac_secret([1u8; 32]).build().unwrap())
/// #     .users(InMemoryUserStore::new()).build().unwrap();
/// let sliding = keycard_axum::token_router_with(tokens, &[Endpoint::ObtainSliding, Endpoint::RefreshSliding]);
/// let app: Router = Router::new().nest("/api/token/", sliding); // /api/token/sliding/, /api/token/sliding/refresh/
/// ```
pub fn token_router_with<S>(tokens: impl Into<TokenEndpoints>, endpoints: &[Endpoint]) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let tokens: TokenEndpoints = tokens.into();
    let mut router = Router::new();
    for &endpoint in endpoints {
        let tokens = tokens.clone();
        router = router.route(
            endpoint.path(),
            post(move |req: Request| {
                let tokens = tokens.clone();
                async move { answer(&tokens, endpoint, req).await }
            }),
        );
    }
    router
}

/// Reads at most [`MAX_BODY`] bytes and hands them, with the headers, to keycard-core.
async fn answer(tokens: &TokenEndpoints, endpoint: Endpoint, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let answer = match declared {
        // Refused before reading a byte of it.
        Some(len) if len > MAX_BODY as u64 => endpoints::too_large(),
        _ => match Limited::new(body, MAX_BODY).collect().await {
            Ok(body) => {
                let req = EndpointRequest {
                    body: &body.to_bytes(),
                    headers: &parts.headers,
                };
                tokens.handle(endpoint, &req).await
            }
            Err(err) if err.is::<LengthLimitError>() => endpoints::too_large(),
            Err(err) => {
                // The connection broke mid-body; the client is most likely gone.
                tracing::debug!(target: crate::LOG_TARGET, error = %err, "token endpoint could not read the request body");
                let mut res = crate::rejection::render(&AuthError::BadRequest {
                    detail: "The request body could not be read.".into(),
                });
                res.headers_mut()
                    .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                return res;
            }
        },
    };
    answer.into_response::<Body>()
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;
    use keycard_core::{InMemoryRevocationStore, InMemoryUserStore, Settings, TokenService, User};
    use tower::ServiceExt;

    use super::*;

    fn tokens() -> TokenService {
        let users = InMemoryUserStore::new();
        users.insert(User::new("1", "alice"), "alice-password");
        let settings = Settings::builder()
            .hmac_secret([2u8; 32])
            .rotate_refresh_tokens(true)
            .blacklist_after_rotation(true)
            .build()
            .unwrap();
        TokenService::builder(settings)
            .users(users)
            .store(InMemoryRevocationStore::new())
            .with_blacklist_endpoint(true)
            .build()
            .unwrap()
    }

    fn app(tokens: TokenService) -> Router {
        Router::new().nest("/api/token/", token_router(tokens))
    }

    async fn post_json(
        app: &Router,
        path: &str,
        body: impl Into<Body>,
    ) -> (StatusCode, axum::http::HeaderMap, serde_json::Value) {
        let req = Request::post(path)
            .header("content-type", "application/json")
            .body(body.into())
            .unwrap();
        let res = app.clone().oneshot(req).await.unwrap();
        let (parts, body) = res.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        (
            parts.status,
            parts.headers,
            serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
        )
    }

    #[tokio::test]
    async fn obtain_refresh_verify_blacklist_at_simplejwt_paths() {
        let app = app(tokens());
        let (status, headers, pair) = post_json(
            &app,
            "/api/token/",
            r#"{"username":"alice","password":"alice-password"}"#,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers["cache-control"], "no-store");
        let refresh = pair["refresh"].as_str().unwrap().to_owned();

        let (status, _, rotated) = post_json(
            &app,
            "/api/token/refresh/",
            format!(r#"{{"refresh":"{refresh}"}}"#),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let rotated = rotated["refresh"].as_str().unwrap().to_owned();
        assert_ne!(rotated, refresh);

        let (status, _, body) = post_json(
            &app,
            "/api/token/verify/",
            format!(r#"{{"token":"{rotated}"}}"#),
        )
        .await;
        assert_eq!((status, body), (StatusCode::OK, serde_json::json!({})));

        let (status, _, _) = post_json(
            &app,
            "/api/token/blacklist/",
            format!(r#"{{"refresh":"{rotated}"}}"#),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let (status, headers, body) = post_json(
            &app,
            "/api/token/verify/",
            format!(r#"{{"token":"{rotated}"}}"#),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["code"], "token_not_valid");
        assert_eq!(headers["cache-control"], "no-store");
    }

    #[tokio::test]
    async fn wrong_password_and_bad_bodies_are_answered_by_core() {
        let app = app(tokens());
        let (status, _, body) = post_json(
            &app,
            "/api/token/",
            r#"{"username":"alice","password":"nope"}"#,
        )
        .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("no_active_account"))
        );
        let (status, _, body) = post_json(&app, "/api/token/", "{{{").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body["detail"].is_string());
        let (status, _, body) = post_json(&app, "/api/token/refresh/", "{}").await;
        assert_eq!(
            (status, body),
            (
                StatusCode::BAD_REQUEST,
                serde_json::json!({"refresh": ["This field is required."]})
            )
        );
    }

    #[tokio::test]
    async fn oversized_body_is_refused_without_reading_it_all() {
        let app = app(tokens());
        let big = format!(
            r#"{{"username":"{}","password":"x"}}"#,
            "a".repeat(MAX_BODY)
        );
        // No Content-Length header: the limit holds while reading.
        let (status, headers, body) = post_json(&app, "/api/token/", big).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(headers["cache-control"], "no-store");
        assert_eq!(body["detail"], "Request body is too large.");
        // A declared length over the limit is refused before reading the body.
        let req = Request::post("/api/token/")
            .header("content-length", (MAX_BODY + 1).to_string())
            .body(Body::from("{}"))
            .unwrap();
        let res = app.clone().oneshot(req).await.unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .unwrap();
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&bytes).unwrap()["detail"],
            "Request body is too large."
        );
    }

    #[tokio::test]
    async fn only_the_chosen_endpoints_are_mounted() {
        let app: Router = Router::new().nest(
            "/api/token/",
            token_router_with(tokens(), &[Endpoint::Verify]),
        );
        let (status, _, _) = post_json(&app, "/api/token/", "{}").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _, _) = post_json(&app, "/api/token/verify/", "{}").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }

    #[tokio::test]
    async fn cookie_mode_reads_the_cookie_header_and_sends_every_set_cookie() {
        let cookies = keycard_core::cookie::CookieSettings::default();
        let app: Router = Router::new().nest(
            "/api/token/",
            token_router(TokenEndpoints::new(tokens()).with_cookies(cookies)),
        );
        let (status, headers, body) = post_json(
            &app,
            "/api/token/",
            r#"{"username":"alice","password":"alice-password"}"#,
        )
        .await;
        assert_eq!((status, body), (StatusCode::OK, serde_json::json!({})));
        let set: Vec<&str> = headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect();
        assert_eq!(set.len(), 3, "{set:?}");
        let refresh = set[1].split(';').next().unwrap();
        let csrf = set[2]
            .split(';')
            .next()
            .unwrap()
            .trim_start_matches("csrftoken=");
        assert!(refresh.starts_with("keycard_refresh="));
        // Logout with the refresh cookie and the CSRF token: 200, the three cookies cleared.
        let req = Request::post("/api/token/blacklist/")
            .header("cookie", format!("{refresh}; csrftoken={csrf}"))
            .header("x-csrftoken", csrf)
            .body(Body::empty())
            .unwrap();
        let res = app.clone().oneshot(req).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let cleared = res.headers().get_all("set-cookie").iter().count();
        assert_eq!(cleared, 3);
    }

    #[tokio::test]
    async fn sliding_pair_can_be_mounted() {
        let app: Router = Router::new().nest(
            "/api/token/",
            token_router_with(
                tokens(),
                &[Endpoint::ObtainSliding, Endpoint::RefreshSliding],
            ),
        );
        let (status, headers, body) = post_json(
            &app,
            "/api/token/sliding/",
            r#"{"username":"alice","password":"alice-password"}"#,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(headers["cache-control"], "no-store");
        let token = body["token"].as_str().unwrap().to_owned();
        let (status, _, body) = post_json(
            &app,
            "/api/token/sliding/refresh/",
            format!(r#"{{"token":"{token}"}}"#),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body["token"].is_string());
    }
}
