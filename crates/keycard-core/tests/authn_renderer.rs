//! The app replaces the error body renderer once, globally: every error — the chain's, a
//! policy's, the endpoints' — goes through it, status and headers unchanged. Its own test
//! binary, because the renderer is process-wide.

#![allow(clippy::unwrap_used)]

use http::HeaderValue;
use keycard_core::error::{ErrorRenderer, set_renderer};
use keycard_core::{AuthError, Challenge, TokenError};

struct Problem;
impl ErrorRenderer for Problem {
    fn render_body(&self, err: &AuthError) -> (HeaderValue, Vec<u8>) {
        let body = serde_json::json!({"title": err.detail(), "type": err.code(), "status": err.status().as_u16()});
        (
            HeaderValue::from_static("application/problem+json"),
            body.to_string().into_bytes(),
        )
    }
}

#[test]
fn custom_renderer_replaces_every_body_once() {
    assert!(set_renderer(Problem));
    assert!(!set_renderer(Problem), "a second install is refused");

    let e = AuthError::invalid_token(TokenError::Expired)
        .with_challenge(Some(Challenge::bearer("api")));
    let r = e.render();
    assert_eq!(r.status, 401);
    assert_eq!(
        r.body,
        br#"{"status":401,"title":"Token is expired","type":"token_not_valid"}"#
    );
    let header = |name| {
        r.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_str().unwrap().to_owned())
    };
    assert_eq!(
        header(http::header::CONTENT_TYPE).as_deref(),
        Some("application/problem+json")
    );
    assert_eq!(
        header(http::header::WWW_AUTHENTICATE).as_deref(),
        Some(r#"Bearer realm="api", error="invalid_token", error_description="Token is expired""#)
    );

    // The token endpoints' errors too, with no-store kept.
    let tokens = keycard_core::TokenService::builder(
        keycard_core::Settings::builder()
            .hmac_secret([2u8; 32])
            .build()
            .unwrap(),
    )
    .users(keycard_core::InMemoryUserStore::new())
    .build()
    .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let res = rt.block_on(keycard_core::endpoints::handle(
        &tokens,
        keycard_core::endpoints::Endpoint::Verify,
        b"[]",
    ));
    assert_eq!(res.status, 400);
    assert_eq!(
        res.body,
        br#"{"status":400,"title":"Invalid data. Expected a JSON object.","type":"parse_error"}"#
    );
    assert!(
        res.headers
            .iter()
            .any(|(k, v)| k == http::header::CACHE_CONTROL && v == "no-store")
    );
}
