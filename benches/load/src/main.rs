//! The servers of the load comparison (issue 7), one per run, each on one thread so that
//! `scripts/bench-load.sh` can pin it to one core:
//!
//! | name            | what answers `GET /` with `hello, world`                                  |
//! |-----------------|---------------------------------------------------------------------------|
//! | `axum-bare`     | axum 0.8, no authentication                                               |
//! | `axum-keycard`  | + keycard: `AuthLayer` (user-loading `JwtAuthentication`, in-memory user and revocation stores) and `RequireLayer(IsAuthenticated)`, each with `route_layer`, as the examples do |
//! | `axum-keycard-sb` | the same two layers in one `route_layer(ServiceBuilder)`: one axum `Route` box less per request |
//! | `axum-peer`     | + axum-jwt-auth 0.7 (`Claims<T>` extractor, `LocalDecoder`, jsonwebtoken 10) |
//! | `actix-bare`    | actix-web 4, one worker, no authentication                                |
//! | `actix-keycard` | + keycard: `KeycardAuth` (same chain and stores) and `RequirePolicy(IsAuthenticated)` |
//! | `actix-peer`    | + actix-web-httpauth 0.8 (`HttpAuthentication::bearer`, a jsonwebtoken 12 `decode` validator) |
//!
//! Every server checks the same HS256 token, printed by `keycard-load-bench token`: the
//! same secret, issuer and audience, `exp` required. Usage:
//!
//! ```text
//! keycard-load-bench token
//! keycard-load-bench serve <name> <address>
//! keycard-load-bench sizes        # the sizes of the futures on keycard's request path
//! keycard-load-bench soak <secs>  # login / refresh / requests / logout cycles, RSS over time
//! ```

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use keycard_core::{
    Authenticators, InMemoryRevocationStore, InMemoryUserStore, IsAuthenticated, JwtAuthentication,
    Settings, TokenService, User,
};
use serde::Deserialize;

const SECRET: &[u8] = b"load-bench-secret-0123456789abcdef0123456789";
const ISSUER: &str = "kc-bench";
const AUDIENCE: &str = "api";
const HELLO: &str = "hello, world";

fn token_service() -> TokenService {
    let users = InMemoryUserStore::new();
    users.insert(User::new("1", "alice"), "alice-password");
    let settings = Settings::builder()
        .hmac_secret(SECRET)
        .issuer(ISSUER)
        .audience(AUDIENCE)
        // Long enough for any run of the script.
        .access_lifetime(Duration::from_secs(6 * 3600))
        .build()
        .expect("valid settings");
    TokenService::builder(settings)
        .users(users)
        .store(InMemoryRevocationStore::new())
        .build()
        .expect("a token service")
}

fn chain(tokens: &TokenService) -> Authenticators {
    Authenticators::new().with(JwtAuthentication::new(tokens.clone()))
}

/// The claims the peers read (what keycard checks, typed).
#[derive(Debug, Clone, Deserialize)]
#[allow(dead_code)] // read by the deserializer: the peers' cost includes them
struct PeerClaims {
    user_id: String,
    token_type: String,
    jti: String,
    exp: u64,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["token"] => println!("{}", mint()),
        ["sizes"] => sizes(),
        ["soak", secs] => soak(secs.parse().expect("a number of seconds")),
        ["serve", name, addr] => {
            let addr: SocketAddr = addr.parse().expect("an address, like 127.0.0.1:8080");
            match *name {
                "axum-bare" | "axum-keycard" | "axum-keycard-sb" | "axum-peer" => {
                    axum_server::run(name, addr)
                }
                "actix-bare" | "actix-keycard" | "actix-peer" => actix_server::run(name, addr),
                other => panic!("unknown server {other}"),
            }
        }
        _ => {
            eprintln!("usage: keycard-load-bench token | serve <name> <address>");
            std::process::exit(2);
        }
    }
}

/// Sizes of the futures on keycard's request path (they are boxed: large ones cost).
fn sizes() {
    let tokens = token_service();
    let chain = chain(&tokens);
    let req = axum::http::Request::get("/").body(()).expect("a request");
    let head = keycard_core::RequestHead::from_http(&req);
    println!(
        "Authenticators::outcome {}",
        std::mem::size_of_val(&chain.outcome(&head))
    );
    println!(
        "TokenService::verify_access_bytes {}",
        std::mem::size_of_val(&tokens.verify_access_bytes(b"x"))
    );
    println!(
        "UserStore::find_by_id (boxed) {}",
        std::mem::size_of_val(&tokens.users().find_by_id("1"))
    );
}

/// The memory-flatness run: login, ten requests, refresh (rotating, blacklisting the spent
/// token), a request with the new token, logout — in a loop against the in-memory stores,
/// with lifetimes short enough (access 5 s, refresh and sliding windows 20 s) that records expire and are purged
/// during the run. Prints the resident set size every 10 s, then the spread after the first
/// minute (the stores fill up to their steady state during it).
fn soak(secs: u64) {
    let users = InMemoryUserStore::new();
    users.insert(User::new("1", "alice"), "alice-password");
    let alice = users.get("1").expect("just inserted");
    let settings = Settings::builder()
        .hmac_secret(SECRET)
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .access_lifetime(Duration::from_secs(5))
        .refresh_lifetime(Duration::from_secs(20))
        // A revoked session is kept as long as any token of it could live, sliding ones
        // included (a day by default): short here too, or the run measures that day.
        .sliding_lifetime(Duration::from_secs(5))
        .sliding_refresh_lifetime(Duration::from_secs(20))
        .rotate_refresh_tokens(true)
        .blacklist_after_rotation(true)
        .build()
        .expect("valid settings");
    let tokens = TokenService::builder(settings)
        .users(users)
        .store(InMemoryRevocationStore::new())
        .build()
        .expect("a token service");
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let start = std::time::Instant::now();
    let mut next_sample = Duration::ZERO;
    let mut samples = Vec::new();
    let mut cycles = 0u64;
    rt.block_on(async {
        while start.elapsed() < Duration::from_secs(secs) {
            let pair = tokens.obtain_for(&alice).await.expect("login");
            for _ in 0..10 {
                tokens.verify_access(&pair.access).await.expect("request");
            }
            let refresh = pair.refresh.expect("a refresh token");
            let next = tokens.refresh(&refresh).await.expect("refresh");
            tokens.verify_access(&next.access).await.expect("request");
            tokens
                .blacklist(&next.refresh.expect("rotated"))
                .await
                .expect("logout");
            cycles += 1;
            if start.elapsed() >= next_sample {
                let rss = rss_kib();
                println!(
                    "t={:>4}s cycles={cycles:>9} rss={rss} KiB",
                    next_sample.as_secs()
                );
                samples.push((next_sample.as_secs(), rss));
                next_sample += Duration::from_secs(10);
            }
        }
    });
    let steady: Vec<u64> = samples
        .iter()
        .filter(|(t, _)| *t >= 60)
        .map(|(_, r)| *r)
        .collect();
    if let (Some(lo), Some(hi)) = (steady.iter().min(), steady.iter().max()) {
        let mid = (lo + hi) as f64 / 2.0;
        println!(
            "after the first minute: RSS {lo}..{hi} KiB, {:.1} % either side of the middle; {cycles} cycles",
            (hi - lo) as f64 / 2.0 / mid * 100.0
        );
    }
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn mint() -> String {
    let tokens = token_service();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let alice = User::new("1", "alice");
    let token = rt
        .block_on(tokens.obtain_for(&alice))
        .expect("a pair")
        .access;
    // Every server must accept it: keycard here, jsonwebtoken as the peers configure it.
    rt.block_on(tokens.verify_access(&token))
        .expect("keycard accepts");
    jsonwebtoken::decode::<PeerClaims>(&token, &jwt12::key(), &jwt12::validation())
        .expect("jsonwebtoken accepts");
    token
}

mod jwt12 {
    use super::{AUDIENCE, ISSUER, SECRET};
    pub(crate) fn key() -> jsonwebtoken::DecodingKey {
        jsonwebtoken::DecodingKey::from_secret(SECRET).expect("an HMAC key")
    }
    pub(crate) fn validation() -> jsonwebtoken::Validation {
        let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
        v.set_issuer(&[ISSUER]);
        v.set_audience(&[AUDIENCE]);
        v
    }
}

mod axum_server {
    use super::*;
    use axum::Router;
    use axum::extract::FromRef;
    use axum::routing::get;
    use axum_jwt_auth::{Claims, Decoder, LocalDecoder};
    use keycard_tower::{AuthLayer, RequireLayer};

    #[derive(Clone, FromRef)]
    struct PeerState {
        decoder: Decoder<PeerClaims>,
    }

    async fn hello() -> &'static str {
        HELLO
    }

    async fn hello_peer(_claims: Claims<PeerClaims>) -> &'static str {
        HELLO
    }

    fn peer_decoder() -> Decoder<PeerClaims> {
        use jsonwebtoken10 as jwt;
        let mut validation = jwt::Validation::new(jwt::Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        let decoder = LocalDecoder::builder()
            .keys(vec![jwt::DecodingKey::from_secret(SECRET)])
            .validation(validation)
            .build()
            .expect("a decoder");
        Arc::new(decoder)
    }

    pub(crate) fn run(name: &str, addr: SocketAddr) {
        let app = match name {
            "axum-bare" => Router::new().route("/", get(hello)),
            "axum-keycard" => {
                let tokens = token_service();
                Router::new()
                    .route("/", get(hello))
                    .route_layer(RequireLayer::new(IsAuthenticated))
                    .route_layer(AuthLayer::new(chain(&tokens)))
            }
            "axum-keycard-sb" => {
                let tokens = token_service();
                Router::new().route("/", get(hello)).route_layer(
                    tower::ServiceBuilder::new()
                        .layer(AuthLayer::new(chain(&tokens)))
                        .layer(RequireLayer::new(IsAuthenticated)),
                )
            }
            _ => Router::new()
                .route("/", get(hello_peer))
                .with_state(PeerState {
                    decoder: peer_decoder(),
                }),
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind(addr).await.expect("bind");
            eprintln!("{name} listening on {addr}");
            axum::serve(listener, app).await.expect("serve");
        });
    }
}

mod actix_server {
    use super::*;
    use actix_web::dev::ServiceRequest;
    use actix_web::{App, HttpMessage, HttpServer, web};
    use actix_web_httpauth::extractors::bearer::BearerAuth;
    use actix_web_httpauth::middleware::HttpAuthentication;
    use keycard_actix::{KeycardAuth, RequirePolicy};

    async fn hello() -> &'static str {
        HELLO
    }

    struct PeerKey {
        key: jsonwebtoken::DecodingKey,
        validation: jsonwebtoken::Validation,
    }

    async fn validator(
        req: ServiceRequest,
        credentials: BearerAuth,
    ) -> Result<ServiceRequest, (actix_web::Error, ServiceRequest)> {
        let Some(peer) = req.app_data::<web::Data<PeerKey>>() else {
            return Err((actix_web::error::ErrorInternalServerError("no key"), req));
        };
        match jsonwebtoken::decode::<PeerClaims>(credentials.token(), &peer.key, &peer.validation) {
            Ok(data) => {
                req.extensions_mut().insert(data.claims);
                Ok(req)
            }
            Err(_) => Err((actix_web::error::ErrorUnauthorized("invalid token"), req)),
        }
    }

    pub(crate) fn run(name: &str, addr: SocketAddr) {
        let name = name.to_owned();
        let tokens = token_service();
        let peer = web::Data::new(PeerKey {
            key: jwt12::key(),
            validation: jwt12::validation(),
        });
        let label = name.clone();
        actix_web::rt::System::new().block_on(async move {
            let server = HttpServer::new(move || {
                let app = App::new().app_data(peer.clone());
                let route = web::resource("/");
                match name.as_str() {
                    "actix-bare" => app.service(route.to(hello)),
                    "actix-keycard" => app.service(
                        route
                            .wrap(RequirePolicy::new(IsAuthenticated))
                            .wrap(KeycardAuth::new(chain(&tokens)))
                            .to(hello),
                    ),
                    _ => app.service(route.wrap(HttpAuthentication::bearer(validator)).to(hello)),
                }
            })
            .workers(1)
            .bind(addr)
            .expect("bind");
            eprintln!("{label} listening on {addr}");
            server.run().await.expect("serve");
        });
    }
}
