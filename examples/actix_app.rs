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
mod contract;

use actix_web::{App, HttpResponse, HttpServer, middleware, web};
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

async fn profile(guard: Require<CanSeeProfile>, name: web::Path<String>) -> Result<HttpResponse, Rejection> {
    let profile = Profile { name: name.into_inner() };
    guard.check_object(&profile)?;
    Ok(HttpResponse::Ok().json(json!({ "profile": profile.name })))
}

/// The contract's routes: the token endpoints (no authentication, as simplejwt's views), and
/// the API behind the JWT authenticator, each route with its policy.
fn routes(tokens: keycard::TokenService, authenticators: keycard::Authenticators) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        cfg.service(keycard_actix::token_scope("/api/token", tokens)).service(
            web::scope("/api")
                .route("/public/", web::get().to(public))
                .route("/me/", web::get().to(me))
                .service(
                    web::resource("/articles/")
                        .wrap(RequirePolicy::new(IsAuthenticatedOrReadOnly))
                        .get(list_articles)
                        .post(create_article),
                )
                .service(web::resource("/admin/").wrap(RequirePolicy::new(IsAdmin)).get(admin))
                .route("/profile/{name}/", web::get().to(profile))
                // Written last, so it runs first: every route above sees its outcome.
                .wrap(KeycardAuth::new(authenticators)),
        );
    }
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();

    let contract::Contract { addr, tokens, authenticators } = match contract::from_env() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("cannot start: {e}");
            std::process::exit(2);
        }
    };

    let server = HttpServer::new(move || {
        App::new()
            .configure(routes(tokens.clone(), authenticators.clone()))
            // The request line, status and time; never headers (they carry credentials).
            .wrap(middleware::Logger::new("%r %s %Dms"))
    })
    .shutdown_timeout(10)
    .bind(addr)?;
    for bound in server.addrs() {
        tracing::info!("{}", contract::try_it(bound));
    }
    server.run().await?;
    tracing::info!("keycard contract app stopped");
    Ok(())
}
