//! Refusals, rendered by keycard-core's one renderer.

use std::fmt;

use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use keycard_core::AuthError;

/// Every way keycard refuses a request on actix-web: the extractors' error and what the
/// middleware answers with. It wraps keycard-core's [`AuthError`] (match on
/// [`auth_error`](Self::auth_error) for the exact cause) and renders through
/// [`AuthError::render`], so status, headers and body are the same bytes an axum app sends.
///
/// ```
/// use actix_web::ResponseError;
/// use keycard_actix::Rejection;
/// use keycard_core::{AuthError, Challenge};
///
/// let rejection = Rejection::from(AuthError::not_authenticated(Some(Challenge::bearer("api"))));
/// assert_eq!(rejection.status(), 401);
/// assert_eq!(
///     rejection.body_text(),
///     r#"{"detail":"Authentication credentials were not provided.","code":"not_authenticated"}"#
/// );
/// let res = rejection.error_response();
/// assert_eq!(res.headers().get("www-authenticate").unwrap(), r#"Bearer realm="api""#);
/// assert_eq!(res.headers().get("content-type").unwrap(), "application/json");
/// ```
#[derive(Debug, Clone)]
pub struct Rejection(AuthError);

impl Rejection {
    /// The keycard-core error behind this rejection.
    pub fn auth_error(&self) -> &AuthError {
        &self.0
    }

    /// Unwraps the keycard-core error.
    pub fn into_inner(self) -> AuthError {
        self.0
    }

    /// The HTTP status (401, 403, 400, 500 or 503).
    pub fn status(&self) -> StatusCode {
        status(self.0.status().as_u16())
    }

    /// The rendered body, as text.
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.0.render().body).into_owned()
    }
}

impl From<AuthError> for Rejection {
    fn from(err: AuthError) -> Self {
        Self(err)
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for Rejection {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

impl ResponseError for Rejection {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse {
        render(&self.0)
    }
}

/// An actix status from a keycard-core (`http` 1) status code.
fn status(code: u16) -> StatusCode {
    // keycard-core only produces standard codes, all valid in `http` 0.2 too.
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// Renders `err` into an actix response, through keycard-core's renderer.
pub(crate) fn render(err: &AuthError) -> HttpResponse {
    tracing::trace!(target: crate::LOG_TARGET, status = err.status().as_u16(), code = err.code(), "request refused");
    let rendered = err.render();
    response(rendered.status.as_u16(), &rendered.headers, rendered.body)
}

/// Copies a keycard-core answer (`http` 1 types) into an actix response (`http` 0.2 types).
pub(crate) fn response(
    code: u16,
    headers: &[(http::HeaderName, http::HeaderValue)],
    body: Vec<u8>,
) -> HttpResponse {
    let mut res = HttpResponse::with_body(status(code), body).map_into_boxed_body();
    for (name, value) in headers {
        // Names and values are valid in `http` 1, and the two crates' rules are the same.
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_str().as_bytes()),
            HeaderValue::from_bytes(value.as_bytes()),
        ) {
            res.headers_mut().append(name, value);
        }
    }
    res
}

#[cfg(test)]
mod tests {
    use keycard_core::{Challenge, TokenError};

    use super::*;

    #[test]
    fn status_and_display_are_the_core_errors() {
        let cases = [
            (
                AuthError::not_authenticated(Some(Challenge::bearer("api"))),
                401,
            ),
            (AuthError::not_authenticated(None), 403),
            (
                AuthError::invalid_token(TokenError::Expired)
                    .with_challenge(Some(Challenge::bearer("api"))),
                401,
            ),
            (AuthError::permission_denied(), 403),
            (AuthError::field("refresh", "This field is required."), 400),
            (AuthError::ServiceUnavailable, 503),
            (AuthError::Misconfigured { detail: "x" }, 500),
        ];
        for (err, status) in cases {
            let rejection = Rejection::from(err.clone());
            assert_eq!(rejection.status().as_u16(), status, "{err:?}");
            assert_eq!(rejection.status_code(), rejection.status());
            assert_eq!(rejection.to_string(), err.to_string());
            assert_eq!(
                rejection.body_text().as_bytes(),
                err.render().body.as_slice()
            );
        }
    }

    #[test]
    fn response_keeps_every_header_value_in_order() {
        let headers = [
            (
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/json"),
            ),
            (http::header::VARY, http::HeaderValue::from_static("origin")),
            (
                http::header::VARY,
                http::HeaderValue::from_static("authorization"),
            ),
        ];
        let res = response(418, &headers, b"{}".to_vec());
        assert_eq!(res.status().as_u16(), 418);
        let vary: Vec<_> = res
            .headers()
            .get_all("vary")
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        assert_eq!(vary, ["origin", "authorization"]);
    }

    #[test]
    fn misconfiguration_names_nothing_in_the_response() {
        let res = Rejection::from(AuthError::Misconfigured {
            detail: "the KeycardAuth middleware is missing",
        })
        .error_response();
        assert_eq!(res.status(), 500);
        let body = actix_web::body::MessageBody::try_into_bytes(res.into_body()).unwrap();
        assert!(!String::from_utf8_lossy(&body).contains("KeycardAuth"));
    }
}
