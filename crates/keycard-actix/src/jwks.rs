//! The issuer's public keys at `/.well-known/jwks.json`.
//!
//! keycard-core's [`jwks_response`] decides the answer (the public JWK of every key of the
//! current set, never a private member, never an HMAC secret; retired keys listed until
//! their last token has expired; `Cache-Control: public, max-age=300`); this module routes
//! to it.

use actix_web::{HttpResponse, Resource, web};
use keycard_core::TokenService;
use keycard_core::token::{JWKS_PATH, jwks_response};

use crate::rejection::response;

/// `GET /.well-known/jwks.json` (and `HEAD`) as a resource, for `App::service` at the root of
/// the app: the JWKS other services verify this one's tokens with (keycard's
/// `RemoteKeys::jwks_url`, or any OIDC/JWT library). Keys rotated with a `KeyRotation` show
/// up without a restart. Mount it outside [`KeycardAuth`](crate::KeycardAuth): it is public.
///
/// ```
/// use actix_web::{App, test};
/// use keycard_core::{InMemoryUserStore, Key, Settings, TokenService};
/// # actix_web::rt::System::new().block_on(async {
/// let key = Key::generate_ed25519().unwrap().with_kid("2026-01");
/// let tokens = TokenService::builder(Settings::builder().signing_key(key).build().unwrap())
///     .users(InMemoryUserStore::new())
///     .build()
///     .unwrap();
/// let app = test::init_service(App::new().service(keycard_actix::jwks_service(tokens))).await;
/// let req = test::TestRequest::get().uri("/.well-known/jwks.json").to_request();
/// let res = test::call_service(&app, req).await;
/// assert_eq!(res.status(), 200);
/// assert_eq!(res.headers().get("cache-control").unwrap(), "public, max-age=300");
/// let jwks: serde_json::Value = test::read_body_json(res).await;
/// assert_eq!(jwks["keys"][0]["kid"], "2026-01");
/// # });
/// ```
pub fn jwks_service(tokens: TokenService) -> Resource {
    let tokens = web::Data::new(tokens);
    web::resource(JWKS_PATH)
        .app_data(tokens)
        .route(web::get().to(answer))
        .route(web::head().to(answer))
}

async fn answer(tokens: web::Data<TokenService>) -> HttpResponse {
    let r = jwks_response(&tokens);
    response(r.status.as_u16(), &r.headers, r.body)
}
