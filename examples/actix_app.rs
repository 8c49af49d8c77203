//! The contract app (../shared/CONTRACT.md) on actix-web.
//!
//! ```text
//! cargo run --example actix_app                       # listens on 127.0.0.1:8000
//! KEYCARD_ADDR=127.0.0.1:9000 cargo run --example actix_app
//! python3 ../shared/contract/check.py http://127.0.0.1:8000
//! ```
//!
//! Logs go to stderr through `tracing` (`RUST_LOG` filters them; default `info`). Ctrl-C or
//! SIGTERM stops it gracefully: requests in flight are finished first.

// Shared with the axum app, whose `pub` items are crate-private here.
#[allow(unreachable_pub)]
#[path = "common/contract.rs"]
pub(crate) mod contract;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::{StatusCode, header};
use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, guard, middleware, web};
use keycard::policy::object_policy;
use keycard::{IsAdmin, IsAuthenticated, IsAuthenticatedOrReadOnly, named_policy};
use keycard_actix::{Identity, KeycardAuth, Rejection, Require, RequirePolicy};
use serde_json::json;

/// A profile page, the object `CanSeeProfile` decides on.
struct Profile {
    name: String,
}

named_policy! {
    /// Administrators, or the profile's owner (CONTRACT.md: `GET /api/profile/{name}/`).
    CanSeeProfile = IsAuthenticated
        & (IsAdmin | object_policy(|ctx, profile: &Profile| ctx.identity.is_some_and(|me| me.username() == profile.name)));
}

async fn public() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "public": true }))
}

async fn me(me: Identity) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "user_id": me.user_id(), "username": me.username() }))
}

async fn list_articles() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "articles": [] }))
}

async fn create_article() -> HttpResponse {
    HttpResponse::Created().json(json!({ "created": true }))
}

async fn admin() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "admin": true }))
}

async fn profile(
    guard: Require<CanSeeProfile>,
    name: web::Path<String>,
) -> Result<HttpResponse, Rejection> {
    let name = name.into_inner();
    // actix-web decodes a path segment lossily (U+FFFD for each byte that is not UTF-8), axum
    // refuses it: such a name names no profile, and both apps answer 404.
    if name.contains(char::REPLACEMENT_CHARACTER) {
        return Ok(not_found().await);
    }
    let profile = Profile { name };
    guard.check_object(&profile)?;
    Ok(HttpResponse::Ok().json(json!({ "profile": profile.name })))
}

/// Unknown paths: a JSON 404, as every error body of the contract is JSON (DRF's text; the
/// same bytes as the axum app's).
async fn not_found() -> HttpResponse {
    HttpResponse::NotFound().json(json!({ "detail": "Not found.", "code": "not_found" }))
}

/// A known path with another method: actix-web's 405 (its `Allow` header kept, written as
/// the axum app writes it) with the JSON body of the axum app (DRF's text).
fn method_not_allowed<B>(res: ServiceResponse<B>) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let (req, refused): (HttpRequest, _) = res.into_parts();
    let detail = format!("Method \"{}\" not allowed.", req.method());
    let mut json = HttpResponse::MethodNotAllowed()
        .json(json!({ "detail": detail, "code": "method_not_allowed" }));
    if let Some(allow) = refused.headers().get(header::ALLOW) {
        // actix-web joins the methods with ", ", axum with ",": both are RFC 9110 lists, and
        // the two apps must send the same bytes, so this one writes axum's.
        let joined = allow
            .to_str()
            .map(|list| list.split(',').map(str::trim).collect::<Vec<_>>().join(","));
        let allow = joined
            .ok()
            .and_then(|list| header::HeaderValue::from_str(&list).ok())
            .unwrap_or_else(|| allow.clone());
        json.headers_mut().insert(header::ALLOW, allow);
    }
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, json).map_into_right_body(),
    ))
}

/// A route for GET and HEAD, as axum's `get` (actix-web's `web::get` is GET only); actix-web
/// sends no body in answer to HEAD.
fn get() -> actix_web::Route {
    web::route().guard(guard::Any(guard::Get()).or(guard::Head()))
}

/// The contract's routes: the token endpoints (no authentication, as simplejwt's views), and
/// the API behind the JWT authenticator, each route with its policy.
fn routes(
    tokens: keycard::TokenService,
    authenticators: keycard::Authenticators,
) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        cfg.service(keycard_actix::token_scope("/api/token", tokens))
            .service(
                web::scope("/api")
                    // Resources, not `.route(..)`: another method is then a 405, not a 404.
                    .service(web::resource("/public/").route(get().to(public)))
                    .service(web::resource("/me/").route(get().to(me)))
                    // Policies on the routes, not the resources: another method is a 405 before any
                    // policy runs, as with axum's `MethodRouter::route_layer`.
                    .service(
                        web::resource("/articles/")
                            .route(
                                get()
                                    .to(list_articles)
                                    .wrap(RequirePolicy::new(IsAuthenticatedOrReadOnly)),
                            )
                            .route(
                                web::post()
                                    .to(create_article)
                                    .wrap(RequirePolicy::new(IsAuthenticatedOrReadOnly)),
                            ),
                    )
                    .service(
                        web::resource("/admin/")
                            .route(get().to(admin).wrap(RequirePolicy::new(IsAdmin))),
                    )
                    .service(web::resource("/profile/{name}/").route(get().to(profile)))
                    // Written last, so it runs first: every route above sees its outcome.
                    .wrap(KeycardAuth::new(authenticators)),
            );
    }
}

/// The whole contract app (also served by tests/actix_e2e.rs on a real port).
pub(crate) fn app(
    tokens: keycard::TokenService,
    authenticators: keycard::Authenticators,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .configure(routes(tokens, authenticators))
        .default_service(web::to(not_found))
        .wrap(ErrorHandlers::new().handler(StatusCode::METHOD_NOT_ALLOWED, method_not_allowed))
        // The request line, status and time; never headers (they carry credentials).
        .wrap(middleware::Logger::new("%r %s %Dms"))
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();

    let contract::Contract {
        addr,
        tokens,
        authenticators,
    } = match contract::from_env_for_main().await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("cannot start: {e}");
            std::process::exit(2);
        }
    };

    let server = HttpServer::new(move || app(tokens.clone(), authenticators.clone()))
        .shutdown_timeout(10)
        .bind(addr)?;
    for bound in server.addrs() {
        tracing::info!("{}", contract::try_it(bound));
    }
    server.run().await?;
    tracing::info!("keycard contract app stopped");
    Ok(())
}
