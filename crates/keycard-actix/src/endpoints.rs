//! The token endpoints (simplejwt's token views) as an actix-web scope or configuration.
//!
//! keycard-core's [`TokenEndpoints::handle`] decides everything (validation, DRF-style 400
//! field maps, `Cache-Control: no-store`, and in cookie mode the CSRF proof and the
//! `Set-Cookie` headers); this module reads the body, at most
//! [`MAX_BODY`](keycard_core::endpoints::MAX_BODY) bytes, and the headers, and copies the answer.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, Scope, web};
use keycard_core::AuthError;
use keycard_core::endpoints::{self, Endpoint, EndpointRequest, MAX_BODY, TokenEndpoints};

use crate::ActixHeaders;
use crate::rejection::{render, response};

/// The endpoints [`configure`] and [`token_scope`] mount: obtain, refresh, verify, blacklist.
const DEFAULT_ENDPOINTS: [Endpoint; 4] = [
    Endpoint::Obtain,
    Endpoint::Refresh,
    Endpoint::Verify,
    Endpoint::Blacklist,
];

/// The token endpoints under `path`, simplejwt's URL conf: `POST {path}/` (obtain),
/// `{path}/refresh/`, `{path}/verify/`, `{path}/blacklist/`. The blacklist endpoint needs a
/// revocation store: declare it with `TokenServiceBuilder::with_blacklist_endpoint(true)`, so
/// that a missing store is refused at start-up.
///
/// Takes a [`TokenService`](keycard_core::TokenService) (tokens in the JSON bodies, as
/// simplejwt) or a [`TokenEndpoints`] in cookie mode, for browser clients:
/// `TokenEndpoints::new(tokens).with_cookies(cookie_settings)` (see keycard-core's `cookie`
/// module: cookies set by obtain and refresh, read by refresh and logout, CSRF-checked).
///
/// The endpoints allow anyone; when the scope sits under a [`KeycardAuth`](crate::KeycardAuth),
/// bad credentials on them are a 401 as everywhere, so mount them beside it, or under a
/// [`lenient`](crate::KeycardAuth::lenient) one.
///
/// ```
/// use actix_web::{App, test};
/// use keycard_core::{InMemoryUserStore, Settings, TokenService};
///
/// # actix_web::rt::System::new().block_on(async {
/// let tokens = TokenService::builder(Settings::builder().hmac_secret([1u8; 32]).build().unwrap())
///     .users(InMemoryUserStore::new())
///     .build()
///     .unwrap();
/// let app = test::init_service(App::new().service(keycard_actix::token_scope("/api/token", tokens))).await;
/// let req = test::TestRequest::post().uri("/api/token/").set_payload(r#"{"username":"alice"}"#).to_request();
/// let res = test::call_service(&app, req).await;
/// assert_eq!(res.status(), 400);
/// assert_eq!(res.headers().get("cache-control").unwrap(), "no-store");
/// assert_eq!(test::read_body(res).await, r#"{"password":["This field is required."]}"#);
/// # });
/// ```
pub fn token_scope(path: &str, tokens: impl Into<TokenEndpoints>) -> Scope {
    web::scope(path).configure(configure(tokens))
}

/// The token endpoints as a configuration function, for `App::configure` or
/// `Scope::configure`: the same endpoints as [`token_scope`], at paths relative to where it
/// is applied.
///
/// ```
/// use actix_web::{App, web};
/// # use keycard_core::{InMemoryUserStore, Settings, TokenService};
/// # let tokens = TokenService::builder(Settings::builder().hmac_secret([1u8; 32]).build().unwrap())
/// #     .users(InMemoryUserStore::new()).build().unwrap();
/// let app = App::new().service(web::scope("/auth/jwt").configure(keycard_actix::configure(tokens)));
/// ```
pub fn configure(tokens: impl Into<TokenEndpoints>) -> impl FnOnce(&mut web::ServiceConfig) {
    configure_endpoints(tokens, &DEFAULT_ENDPOINTS)
}

/// Like [`configure`], with the endpoints to mount chosen one by one (the sliding-token
/// endpoints, or a set without blacklist), each at its [`Endpoint::path`].
///
/// ```
/// use actix_web::{App, web};
/// use keycard_core::endpoints::Endpoint;
/// # use keycard_core::{InMemoryUserStore, Settings, TokenService};
/// # let tokens = TokenService::builder(Settings::builder().hmac_secret([1u8; 32]).build().unwrap())
/// #     .users(InMemoryUserStore::new()).build().unwrap();
/// let sliding = keycard_actix::configure_endpoints(tokens, &[Endpoint::ObtainSliding, Endpoint::RefreshSliding]);
/// let app = App::new().service(web::scope("/api/token").configure(sliding));
/// ```
pub fn configure_endpoints(
    tokens: impl Into<TokenEndpoints>,
    endpoints: &[Endpoint],
) -> impl FnOnce(&mut web::ServiceConfig) {
    let tokens: TokenEndpoints = tokens.into();
    let endpoints = endpoints.to_vec();
    move |cfg| {
        for endpoint in endpoints {
            let tokens = tokens.clone();
            // A resource, not `cfg.route`: another method is then a 405, not a 404.
            cfg.service(web::resource(endpoint.path()).post(
                move |req: HttpRequest, payload: web::Payload| {
                    let tokens = tokens.clone();
                    async move { answer(&tokens, endpoint, &req, payload).await }
                },
            ));
        }
    }
}

/// Reads at most [`MAX_BODY`] bytes and hands them, with the headers, to keycard-core.
async fn answer(
    tokens: &TokenEndpoints,
    endpoint: Endpoint,
    req: &HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let answer = match declared {
        // Refused before reading a byte of it.
        Some(len) if len > MAX_BODY as u64 => endpoints::too_large(),
        _ => match payload.to_bytes_limited(MAX_BODY).await {
            Ok(Ok(body)) => {
                let headers = ActixHeaders(req.headers());
                let req = EndpointRequest {
                    body: &body,
                    headers: &headers,
                };
                tokens.handle(endpoint, &req).await
            }
            Err(_limit_exceeded) => endpoints::too_large(),
            Ok(Err(read_error)) => {
                // The connection broke mid-body; the client is most likely gone.
                tracing::debug!(target: crate::LOG_TARGET, error = %read_error, "token endpoint could not read the request body");
                let mut res = render(&AuthError::BadRequest {
                    detail: "The request body could not be read.".into(),
                });
                res.headers_mut()
                    .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                return res;
            }
        },
    };
    response(answer.status.as_u16(), &answer.headers, answer.body)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use actix_web::{App, test};
    use keycard_core::cookie::CookieSettings;
    use keycard_core::{InMemoryRevocationStore, InMemoryUserStore, Settings, TokenService, User};

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

    #[actix_web::test]
    async fn cookie_mode_reads_the_cookie_header_and_sends_every_set_cookie() {
        let endpoints = TokenEndpoints::new(tokens()).with_cookies(CookieSettings::default());
        let app =
            test::init_service(App::new().service(token_scope("/api/token", endpoints))).await;
        let req = test::TestRequest::post()
            .uri("/api/token/")
            .insert_header(("content-type", "application/json"))
            .set_payload(r#"{"username":"alice","password":"alice-password"}"#)
            .to_request();
        let res = test::call_service(&app, req).await;
        assert_eq!(res.status(), 200);
        let set: Vec<String> = res
            .headers()
            .get_all("set-cookie")
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        assert_eq!(set.len(), 3, "{set:?}");
        assert_eq!(test::read_body(res).await, "{}");
        let refresh = set[1].split(';').next().unwrap();
        let csrf = set[2]
            .split(';')
            .next()
            .unwrap()
            .trim_start_matches("csrftoken=");
        // Refresh from the cookie, the cookies split over two `Cookie` headers as HTTP/2
        // clients send them.
        let req = test::TestRequest::post()
            .uri("/api/token/refresh/")
            .append_header(("cookie", refresh.to_owned()))
            .append_header(("cookie", format!("csrftoken={csrf}")))
            .insert_header(("x-csrftoken", csrf))
            .to_request();
        let res = test::call_service(&app, req).await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers().get_all("set-cookie").count(), 3);
        // Without the CSRF token: 403 csrf_failed, nothing set.
        let req = test::TestRequest::post()
            .uri("/api/token/refresh/")
            .insert_header(("cookie", refresh.to_owned()))
            .to_request();
        let res = test::call_service(&app, req).await;
        assert_eq!(res.status(), 403);
        assert!(res.headers().get("set-cookie").is_none());
        assert!(res.headers().get("www-authenticate").is_none());
    }
}
