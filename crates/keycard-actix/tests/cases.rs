//! The shared cases (../shared/cases/) that touch the actix adapter, in process with
//! `actix_web::test`: PO1, PO3, PO4, PO5, PO7, PO8, AD1, AD2, AD3, AU6, HX1–HX3, KX2, and
//! that every refusal is the byte-for-byte rendering of keycard-core.

#![allow(clippy::unwrap_used, clippy::result_large_err)]

use std::io::Write;
use std::sync::{Arc, Mutex};

use actix_cors::Cors;
use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::{StatusCode, header};
use actix_web::{App, HttpResponse, test, web};
use keycard_actix::{Claims, Identity, KeycardAuth, Rejection, Require, RequirePolicy};
use keycard_core::policy::object_policy;
use keycard_core::{
    AuthError, Authenticators, BoxFuture, Challenge, HasScope, InMemoryRevocationStore,
    InMemoryUserStore, IsAdmin, IsAuthenticated, IsAuthenticatedOrReadOnly, JwtAuthentication,
    Settings, StoreError, TokenError, TokenService, User, UserStore, named_policy,
};
use serde_json::{Value, json};

/// alice ("1", scope `articles:read`), root ("2", admin), carol ("3", inactive).
struct Fixture {
    tokens: TokenService,
    alice: String,
    root: String,
}

impl Fixture {
    async fn new() -> Self {
        let users = InMemoryUserStore::new();
        users.insert(
            User::new("1", "alice").with_scopes(["articles:read"]),
            "alice-password",
        );
        users.insert(User::new("2", "root").admin(true), "root-password");
        users.insert(User::new("3", "carol").active(false), "carol-password");
        let settings = Settings::builder()
            .hmac_secret("actix-adapter-tests-secret-0123456789abcdef")
            .issuer("keycard-tests")
            .audience("tests")
            .rotate_refresh_tokens(true)
            .blacklist_after_rotation(true)
            .build()
            .unwrap();
        let tokens = TokenService::builder(settings)
            .users(users)
            .store(InMemoryRevocationStore::new())
            .with_blacklist_endpoint(true)
            .build()
            .unwrap();
        let alice = tokens
            .obtain("alice", "alice-password")
            .await
            .unwrap()
            .access;
        let root = tokens.obtain("root", "root-password").await.unwrap().access;
        Self {
            tokens,
            alice,
            root,
        }
    }

    fn chain(&self) -> Authenticators {
        Authenticators::new().with(JwtAuthentication::new(self.tokens.clone()))
    }

    fn alice(&self) -> (header::HeaderName, String) {
        (header::AUTHORIZATION, format!("Bearer {}", self.alice))
    }

    fn root(&self) -> (header::HeaderName, String) {
        (header::AUTHORIZATION, format!("Bearer {}", self.root))
    }
}

const GARBAGE: (header::HeaderName, &str) = (header::AUTHORIZATION, "Bearer garbage");

async fn ok() -> HttpResponse {
    HttpResponse::Ok().body("ok")
}

async fn who(me: Option<Identity>) -> HttpResponse {
    HttpResponse::Ok()
        .body(me.map_or_else(|| "anonymous".to_owned(), |me| me.username().to_owned()))
}

/// A response header as text ("" when absent).
fn hdr<B>(res: &ServiceResponse<B>, name: header::HeaderName) -> &str {
    res.headers().get(name).map_or("", |v| v.to_str().unwrap())
}

async fn body_json(res: ServiceResponse<impl MessageBody>) -> Value {
    serde_json::from_slice(&test::read_body(res).await).unwrap()
}

/// Status and body `code` of a response.
async fn status_code(res: ServiceResponse<impl MessageBody>) -> (u16, String) {
    let status = res.status().as_u16();
    let body = test::read_body(res).await;
    let code = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v["code"].as_str().map(str::to_owned));
    (status, code.unwrap_or_default())
}

// --- PO4, PO3 -----------------------------------------------------------------------------

#[actix_web::test]
async fn po4_public_route_beside_a_protected_prefix() {
    let f = Fixture::new().await;
    let app = test::init_service(
        App::new()
            // Registered first, so it is matched before the protected scope.
            .service(web::resource("/api/v1/auth/login").to(ok))
            .service(
                web::scope("/api/v1")
                    .wrap(RequirePolicy::new(IsAuthenticated))
                    .route("/items", web::get().to(ok)),
            )
            .wrap(KeycardAuth::new(f.chain())),
    )
    .await;
    let login = test::TestRequest::get()
        .uri("/api/v1/auth/login")
        .to_request();
    assert_eq!(test::call_service(&app, login).await.status(), 200);
    let items = test::TestRequest::get().uri("/api/v1/items").to_request();
    assert_eq!(
        status_code(test::call_service(&app, items).await).await,
        (401, "not_authenticated".into())
    );
    let items = test::TestRequest::get()
        .uri("/api/v1/items")
        .insert_header(f.alice())
        .to_request();
    assert_eq!(test::call_service(&app, items).await.status(), 200);
}

#[actix_web::test]
async fn po4_public_route_declared_inside_the_protected_prefix() {
    let f = Fixture::new().await;
    let app = test::init_service(
        App::new().service(
            web::scope("/api/v1")
                .service(web::scope("/auth").route("/login", web::post().to(ok)))
                .service(
                    web::resource("/items")
                        .wrap(RequirePolicy::new(IsAuthenticated))
                        .to(ok),
                )
                .wrap(KeycardAuth::new(f.chain())),
        ),
    )
    .await;
    let login = test::TestRequest::post()
        .uri("/api/v1/auth/login")
        .to_request();
    assert_eq!(test::call_service(&app, login).await.status(), 200);
    let items = test::TestRequest::get().uri("/api/v1/items").to_request();
    assert_eq!(test::call_service(&app, items).await.status(), 401);
}

#[actix_web::test]
async fn po3_unknown_path_stays_404_under_a_protected_scope() {
    let f = Fixture::new().await;
    let app = test::init_service(
        App::new()
            .service(
                web::scope("/api")
                    .wrap(RequirePolicy::new(IsAdmin))
                    .route("/admin", web::get().to(ok))
                    .wrap(KeycardAuth::new(f.chain())),
            )
            .wrap(KeycardAuth::new(f.chain())),
    )
    .await;
    // No token, no route: 404, not 401.
    let req = test::TestRequest::get()
        .uri("/api/nothing-here")
        .to_request();
    assert_eq!(test::call_service(&app, req).await.status(), 404);
    // A bad token on a path with no route: still the 404.
    let req = test::TestRequest::get()
        .uri("/api/nothing-here")
        .insert_header(GARBAGE)
        .to_request();
    assert_eq!(test::call_service(&app, req).await.status(), 404);
    let req = test::TestRequest::get()
        .uri("/elsewhere")
        .insert_header(GARBAGE)
        .to_request();
    assert_eq!(test::call_service(&app, req).await.status(), 404);
    // A known route, authenticated, lacking the permission: 403, never 404.
    let req = test::TestRequest::get()
        .uri("/api/admin")
        .insert_header(f.alice())
        .to_request();
    assert_eq!(
        status_code(test::call_service(&app, req).await).await,
        (403, "permission_denied".into())
    );
    // A known route with a bad token: 401.
    let req = test::TestRequest::get()
        .uri("/api/admin")
        .insert_header(GARBAGE)
        .to_request();
    assert_eq!(
        status_code(test::call_service(&app, req).await).await,
        (401, "token_not_valid".into())
    );
}

// --- AD1 ----------------------------------------------------------------------------------

#[actix_web::test]
async fn ad1_optional_identity_is_none_when_anonymous_and_401_on_a_bad_token() {
    let f = Fixture::new().await;
    let app = test::init_service(
        App::new()
            .route("/who", web::get().to(who))
            .wrap(KeycardAuth::new(f.chain())),
    )
    .await;
    let anon = test::TestRequest::get().uri("/who").to_request();
    assert_eq!(test::call_and_read_body(&app, anon).await, "anonymous");
    let alice = test::TestRequest::get()
        .uri("/who")
        .insert_header(f.alice())
        .to_request();
    assert_eq!(test::call_and_read_body(&app, alice).await, "alice");
    let bad = test::TestRequest::get()
        .uri("/who")
        .insert_header(GARBAGE)
        .to_request();
    let res = test::call_service(&app, bad).await;
    assert_eq!(res.status(), 401);
    assert!(hdr(&res, header::WWW_AUTHENTICATE).contains(r#"error="invalid_token""#));
}

// --- AD2 ----------------------------------------------------------------------------------

#[actix_web::test]
async fn ad2_cors_preflight_passes_and_401_carries_cors_headers() {
    let f = Fixture::new().await;
    let origin = "https://app.example";
    let app = test::init_service(
        App::new()
            .service(
                web::scope("/api")
                    .route(
                        "/me",
                        web::get().to(|me: Identity| async move { me.username().to_owned() }),
                    )
                    .wrap(KeycardAuth::new(f.chain())),
            )
            // Outermost: written last.
            .wrap(
                Cors::default()
                    .allowed_origin(origin)
                    .allowed_methods(["GET", "POST"])
                    .allowed_headers([header::AUTHORIZATION, header::CONTENT_TYPE]),
            ),
    )
    .await;

    let preflight = test::TestRequest::default()
        .method(actix_web::http::Method::OPTIONS)
        .uri("/api/me")
        .insert_header((header::ORIGIN, origin))
        .insert_header((header::ACCESS_CONTROL_REQUEST_METHOD, "GET"))
        .insert_header((header::ACCESS_CONTROL_REQUEST_HEADERS, "authorization"))
        .to_request();
    let res = test::call_service(&app, preflight).await;
    assert!(
        res.status().is_success(),
        "preflight answered {}",
        res.status()
    );
    assert_eq!(hdr(&res, header::ACCESS_CONTROL_ALLOW_ORIGIN), origin);

    let anon = test::TestRequest::get()
        .uri("/api/me")
        .insert_header((header::ORIGIN, origin))
        .to_request();
    let res = test::call_service(&app, anon).await;
    assert_eq!(res.status(), 401);
    assert_eq!(hdr(&res, header::ACCESS_CONTROL_ALLOW_ORIGIN), origin);
    assert_eq!(hdr(&res, header::WWW_AUTHENTICATE), r#"Bearer realm="api""#);

    // Refused by the middleware itself (bad token), not by an extractor: CORS headers too.
    let bad = test::TestRequest::get()
        .uri("/api/me")
        .insert_header((header::ORIGIN, origin))
        .insert_header(GARBAGE)
        .to_request();
    let res = test::call_service(&app, bad).await;
    assert_eq!(res.status(), 401);
    assert_eq!(hdr(&res, header::ACCESS_CONTROL_ALLOW_ORIGIN), origin);

    let alice = test::TestRequest::get()
        .uri("/api/me")
        .insert_header((header::ORIGIN, origin))
        .insert_header(f.alice())
        .to_request();
    let res = test::call_service(&app, alice).await;
    assert_eq!(res.status(), 200);
    assert_eq!(hdr(&res, header::ACCESS_CONTROL_ALLOW_ORIGIN), origin);
}

// --- AU6 ----------------------------------------------------------------------------------

#[actix_web::test]
async fn au6_stale_token_on_a_public_route_is_401_unless_the_route_opts_out() {
    let f = Fixture::new().await;
    let app = test::init_service(
        App::new()
            .service(
                web::resource("/public")
                    .wrap(KeycardAuth::new(f.chain()))
                    .to(who),
            )
            .service(
                web::resource("/lenient")
                    .wrap(KeycardAuth::new(f.chain()).lenient())
                    .to(who),
            )
            .service(
                web::resource("/no-authenticators")
                    .wrap(KeycardAuth::new(Authenticators::new()))
                    .to(who),
            ),
    )
    .await;
    let req = test::TestRequest::get().uri("/public").to_request();
    assert_eq!(test::call_and_read_body(&app, req).await, "anonymous");
    let req = test::TestRequest::get()
        .uri("/public")
        .insert_header(GARBAGE)
        .to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(
        hdr(&res, header::WWW_AUTHENTICATE).split(',').next(),
        Some(r#"Bearer realm="api""#)
    );
    assert_eq!(status_code(res).await, (401, "token_not_valid".into()));
    let req = test::TestRequest::get()
        .uri("/lenient")
        .insert_header(GARBAGE)
        .to_request();
    assert_eq!(test::call_and_read_body(&app, req).await, "anonymous");
    // The lenient route still recognises a good token.
    let req = test::TestRequest::get()
        .uri("/lenient")
        .insert_header(f.alice())
        .to_request();
    assert_eq!(test::call_and_read_body(&app, req).await, "alice");
    let req = test::TestRequest::get()
        .uri("/no-authenticators")
        .insert_header(GARBAGE)
        .to_request();
    assert_eq!(test::call_and_read_body(&app, req).await, "anonymous");
}

// --- PO5 ----------------------------------------------------------------------------------

/// Captures what `tracing` prints while `f` runs on this thread.
async fn capture_logs<F: std::future::Future>(f: F) -> (F::Output, String) {
    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buf = Buf::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let out = f.await;
    let text = String::from_utf8_lossy(&buf.0.lock().unwrap()).into_owned();
    (out, text)
}

named_policy! {
    /// Administrators, or the owner of a document.
    AdminOrOwner = IsAdmin | object_policy(|ctx, doc: &Doc| ctx.identity.is_some_and(|i| i.user_id() == doc.owner));
}

/// A document, the object of [`AdminOrOwner`].
struct Doc {
    owner: String,
}

#[derive(Debug, serde::Deserialize)]
struct AppClaims {
    user_id: String,
}

#[actix_web::test]
async fn po5_extractors_and_policy_without_keycard_auth_are_500_naming_it() {
    let app = test::init_service(
        App::new()
            .route(
                "/identity",
                web::get().to(|me: Identity| async move { me.username().to_owned() }),
            )
            .route(
                "/claims",
                web::get().to(|c: Claims<AppClaims>| async move { c.user_id.clone() }),
            )
            .route(
                "/require",
                web::get().to(|_: Require<IsAuthenticated>| async { "ok" }),
            )
            .route("/optional", web::get().to(who))
            .service(
                web::resource("/policy")
                    .wrap(RequirePolicy::new(IsAuthenticated))
                    .to(ok),
            ),
    )
    .await;
    for path in ["/identity", "/claims", "/require", "/policy"] {
        let (res, logs) = capture_logs(test::call_service(
            &app,
            test::TestRequest::get().uri(path).to_request(),
        ))
        .await;
        assert_eq!(res.status(), 500, "{path}");
        assert_eq!(
            hdr(&res, header::CONTENT_TYPE),
            "application/json",
            "{path}"
        );
        let body = body_json(res).await;
        assert_eq!(body["code"], "server_error", "{path}");
        // The response names nothing; the log names the missing middleware.
        assert!(!body.to_string().contains("KeycardAuth"), "{path}: {body}");
        assert!(
            logs.contains("ERROR") && logs.contains("KeycardAuth"),
            "{path}: {logs}"
        );
    }
    // actix-web's own `Option<T>` turns the error into `None` (documented); it is still logged.
    let (body, logs) = capture_logs(test::call_and_read_body(
        &app,
        test::TestRequest::get().uri("/optional").to_request(),
    ))
    .await;
    assert_eq!(body, "anonymous");
    assert!(logs.contains("KeycardAuth"), "{logs}");
}

#[actix_web::test]
async fn po5_unprotected_routes_merged_beside_protected_ones_keep_their_protection() {
    let f = Fixture::new().await;
    let public = |cfg: &mut web::ServiceConfig| {
        cfg.route("/open", web::get().to(ok));
    };
    let chain = f.chain();
    let protected = move |cfg: &mut web::ServiceConfig| {
        cfg.service(
            web::scope("/closed")
                .wrap(RequirePolicy::new(IsAuthenticated))
                .route("", web::get().to(ok))
                .wrap(KeycardAuth::new(chain)),
        );
    };
    let app = test::init_service(App::new().configure(protected).configure(public)).await;
    let req = test::TestRequest::get().uri("/open").to_request();
    assert_eq!(test::call_service(&app, req).await.status(), 200);
    let req = test::TestRequest::get()
        .uri("/open")
        .insert_header(GARBAGE)
        .to_request();
    assert_eq!(
        test::call_service(&app, req).await.status(),
        200,
        "the open route has no authentication at all"
    );
    let req = test::TestRequest::get().uri("/closed").to_request();
    assert_eq!(test::call_service(&app, req).await.status(), 401);
}

// --- PO1, PO7, PO8: policies through the adapter -------------------------------------------

#[actix_web::test]
async fn po1_object_check_through_require_is_or_at_object_level() {
    let f = Fixture::new().await;
    async fn doc(guard: Require<AdminOrOwner>) -> Result<HttpResponse, Rejection> {
        guard.check_object(&Doc { owner: "1".into() })?;
        Ok(HttpResponse::Ok().finish())
    }
    let app = test::init_service(
        App::new()
            .route("/doc", web::get().to(doc))
            .wrap(KeycardAuth::new(f.chain())),
    )
    .await;
    let owner = test::TestRequest::get()
        .uri("/doc")
        .insert_header(f.alice())
        .to_request();
    assert_eq!(test::call_service(&app, owner).await.status(), 200);
    let admin = test::TestRequest::get()
        .uri("/doc")
        .insert_header(f.root())
        .to_request();
    assert_eq!(test::call_service(&app, admin).await.status(), 200);
    let bob = f
        .tokens
        .obtain_for(&User::new("9", "bob"))
        .await
        .unwrap()
        .access;
    // bob is not in the store: the user-loading authenticator refuses him first.
    let other = test::TestRequest::get()
        .uri("/doc")
        .insert_header((header::AUTHORIZATION, format!("Bearer {bob}")))
        .to_request();
    assert_eq!(
        status_code(test::call_service(&app, other).await).await,
        (401, "user_not_found".into())
    );
    let anon = test::TestRequest::get().uri("/doc").to_request();
    assert_eq!(
        status_code(test::call_service(&app, anon).await).await,
        (401, "not_authenticated".into())
    );

    // A non-admin who is not the owner: 403 with DRF's message.
    async fn others_doc(guard: Require<AdminOrOwner>) -> Result<HttpResponse, Rejection> {
        guard.check_object(&Doc { owner: "2".into() })?;
        Ok(HttpResponse::Ok().finish())
    }
    let app = test::init_service(
        App::new()
            .route("/doc", web::get().to(others_doc))
            .wrap(KeycardAuth::new(f.chain())),
    )
    .await;
    let req = test::TestRequest::get()
        .uri("/doc")
        .insert_header(f.alice())
        .to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status(), 403);
    assert_eq!(
        body_json(res).await,
        json!({"detail": "You do not have permission to perform this action.", "code": "permission_denied"})
    );
}

#[actix_web::test]
async fn po7_missing_scope_is_403_with_insufficient_scope_challenge() {
    let f = Fixture::new().await;
    let app = test::init_service(
        App::new()
            .service(
                web::resource("/read")
                    .wrap(RequirePolicy::new(HasScope::new("articles:read")))
                    .to(ok),
            )
            .service(
                web::resource("/write")
                    .wrap(RequirePolicy::new(HasScope::new("articles:write")))
                    .to(ok),
            )
            .wrap(KeycardAuth::new(f.chain())),
    )
    .await;
    let req = test::TestRequest::get()
        .uri("/read")
        .insert_header(f.alice())
        .to_request();
    assert_eq!(test::call_service(&app, req).await.status(), 200);
    let req = test::TestRequest::get()
        .uri("/write")
        .insert_header(f.alice())
        .to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status(), 403);
    assert_eq!(
        hdr(&res, header::WWW_AUTHENTICATE),
        r#"Bearer realm="api", error="insufficient_scope", scope="articles:write""#
    );
}

#[actix_web::test]
async fn po8_read_only_policy_on_a_resource() {
    let f = Fixture::new().await;
    let app = test::init_service(
        App::new()
            .service(
                web::resource("/articles")
                    .wrap(RequirePolicy::new(IsAuthenticatedOrReadOnly))
                    .get(ok)
                    .route(web::head().to(ok))
                    .post(|| async { HttpResponse::Created().finish() })
                    .put(ok)
                    .delete(ok),
            )
            .wrap(KeycardAuth::new(f.chain())),
    )
    .await;
    for method in ["GET", "HEAD"] {
        let req = test::TestRequest::default()
            .method(method.parse().unwrap())
            .uri("/articles")
            .to_request();
        assert_eq!(
            test::call_service(&app, req).await.status(),
            200,
            "{method}"
        );
    }
    for method in ["POST", "PUT", "DELETE"] {
        let req = test::TestRequest::default()
            .method(method.parse().unwrap())
            .uri("/articles")
            .to_request();
        assert_eq!(
            test::call_service(&app, req).await.status(),
            401,
            "{method}"
        );
    }
    let req = test::TestRequest::post()
        .uri("/articles")
        .insert_header(f.alice())
        .to_request();
    assert_eq!(test::call_service(&app, req).await.status(), 201);
}

// --- Claims<T> ----------------------------------------------------------------------------

#[actix_web::test]
async fn claims_extractor_reads_typed_claims_and_refuses_what_does_not_fit() {
    #[derive(Debug, serde::Deserialize)]
    struct NeedsTenant {
        tenant: String,
    }
    let f = Fixture::new().await;
    let app = test::init_service(
        App::new()
            .route(
                "/claims",
                web::get().to(|c: Claims<AppClaims>| async move { c.0.user_id }),
            )
            .route(
                "/tenant",
                web::get().to(|c: Claims<NeedsTenant>| async move { c.0.tenant }),
            )
            .wrap(KeycardAuth::new(f.chain())),
    )
    .await;
    let req = test::TestRequest::get()
        .uri("/claims")
        .insert_header(f.alice())
        .to_request();
    assert_eq!(test::call_and_read_body(&app, req).await, "1");
    let req = test::TestRequest::get().uri("/claims").to_request();
    assert_eq!(
        status_code(test::call_service(&app, req).await).await,
        (401, "not_authenticated".into())
    );
    let req = test::TestRequest::get()
        .uri("/tenant")
        .insert_header(f.alice())
        .to_request();
    let res = test::call_service(&app, req).await;
    assert!(hdr(&res, header::WWW_AUTHENTICATE).contains(r#"error="invalid_token""#));
    assert_eq!(status_code(res).await, (401, "token_not_valid".into()));
}

// --- HX1–HX3: headers as actix hands them over ---------------------------------------------

#[actix_web::test]
async fn hx_headers_are_read_as_the_core_expects() {
    let f = Fixture::new().await;
    let app = test::init_service(
        App::new()
            .route(
                "/me",
                web::get().to(|me: Identity| async move { me.username().to_owned() }),
            )
            .wrap(KeycardAuth::new(f.chain())),
    )
    .await;
    let call = |req: test::TestRequest| {
        let app = &app;
        async move { status_code(test::call_service(app, req.to_request()).await).await }
    };
    let me = || test::TestRequest::get().uri("/me");
    assert_eq!(call(me()).await, (401, "not_authenticated".into()));
    assert_eq!(
        call(me().insert_header((header::AUTHORIZATION, "Basic dXNlcjpwYXNz"))).await,
        (401, "not_authenticated".into())
    );
    assert_eq!(
        call(me().insert_header((header::AUTHORIZATION, "Bearer a,b"))).await,
        (401, "bad_authorization_header".into())
    );
    assert_eq!(
        call(me().insert_header((header::AUTHORIZATION, "Bearer"))).await,
        (401, "bad_authorization_header".into())
    );
    assert_eq!(
        call(me().insert_header((header::AUTHORIZATION, format!("bearer  {}\t", f.alice)))).await,
        (200, String::new())
    );
    // Two Authorization headers: which one counts would be a guess.
    let two = me().append_header(f.alice()).append_header(f.alice());
    assert_eq!(call(two).await, (401, "bad_authorization_header".into()));
    // Bytes that are not UTF-8 in the header value: refused, never a 500.
    let raw = header::HeaderValue::from_bytes(b"Bearer \xff\xfe.x.y").unwrap();
    assert_eq!(
        call(me().insert_header((header::AUTHORIZATION, raw))).await,
        (401, "token_not_valid".into())
    );
    // A token in the query string is ignored (HX6).
    let query = test::TestRequest::get().uri(&format!("/me?access_token={}", f.alice));
    assert_eq!(call(query).await, (401, "not_authenticated".into()));
}

// --- AD3, PO6: only infrastructure failures are 5xx -----------------------------------------

/// A user store whose backing service is down.
struct DownStore;

impl UserStore for DownStore {
    fn find_by_id<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<Option<User>, StoreError>> {
        Box::pin(async { Err(StoreError::Unavailable("connection refused".into())) })
    }
    fn check_password<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
    ) -> BoxFuture<'a, Result<Option<User>, StoreError>> {
        Box::pin(async { Err(StoreError::Unavailable("connection refused".into())) })
    }
}

#[actix_web::test]
async fn ad3_a_store_that_is_down_is_503_and_lenient_does_not_hide_it() {
    let settings = Settings::builder().hmac_secret([8u8; 32]).build().unwrap();
    let tokens = TokenService::builder(settings)
        .users(DownStore)
        .build()
        .unwrap();
    let access = tokens
        .obtain_for(&User::new("1", "alice"))
        .await
        .unwrap()
        .access;
    let chain = Authenticators::new().with(JwtAuthentication::new(tokens));
    let app = test::init_service(
        App::new()
            .service(
                web::resource("/strict")
                    .wrap(KeycardAuth::new(chain.clone()))
                    .to(who),
            )
            .service(
                web::resource("/lenient")
                    .wrap(KeycardAuth::new(chain).lenient())
                    .to(who),
            ),
    )
    .await;
    for path in ["/strict", "/lenient"] {
        let req = test::TestRequest::get()
            .uri(path)
            .insert_header((header::AUTHORIZATION, format!("Bearer {access}")))
            .to_request();
        let res = test::call_service(&app, req).await;
        assert_eq!(hdr(&res, header::CONTENT_TYPE), "application/json");
        assert_eq!(
            status_code(res).await,
            (503, "service_unavailable".into()),
            "{path}"
        );
    }
}

// --- the same bytes as keycard-core's renderer ---------------------------------------------

#[actix_web::test]
async fn rejections_are_keycard_core_renderings_byte_for_byte() {
    let bearer = || Some(Challenge::bearer("api"));
    let errors = [
        AuthError::not_authenticated(bearer()),
        AuthError::not_authenticated(None),
        AuthError::invalid_token(TokenError::Expired).with_challenge(bearer()),
        AuthError::bad_header("Authorization header must contain two space-delimited values")
            .with_challenge(bearer()),
        AuthError::user_inactive().with_challenge(bearer()),
        AuthError::permission_denied().with_challenge(bearer()),
        AuthError::field("password", "This field is required."),
        AuthError::ServiceUnavailable,
        AuthError::Misconfigured { detail: "x" },
    ];
    for err in errors {
        let core = err.render();
        let app = test::init_service(App::new().route(
            "/",
            web::get().to(move || {
                let err = err.clone();
                async move { Err::<HttpResponse, _>(Rejection::from(err)) }
            }),
        ))
        .await;
        let res = app
            .call(test::TestRequest::get().uri("/").to_request())
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), core.status.as_u16());
        for (name, value) in &core.headers {
            assert_eq!(
                res.headers().get(name.as_str()).map(|v| v.as_bytes()),
                Some(value.as_bytes()),
                "{name}"
            );
        }
        let names: Vec<_> = res
            .headers()
            .keys()
            .map(|k| k.as_str().to_owned())
            .collect();
        assert!(
            names
                .iter()
                .all(|n| n == "content-type" || n == "www-authenticate"),
            "{names:?}"
        );
        assert_eq!(test::read_body(res).await, core.body);
    }
}

// --- token endpoints (KX2, body limit) -------------------------------------------------------

#[actix_web::test]
async fn token_endpoints_answer_with_no_store_and_cap_the_body() {
    let f = Fixture::new().await;
    let app = test::init_service(
        App::new().service(keycard_actix::token_scope("/api/token", f.tokens.clone())),
    )
    .await;
    let post = |path: &str, body: Vec<u8>| {
        test::TestRequest::post()
            .uri(path)
            .insert_header(header::ContentType::json())
            .set_payload(body)
    };

    let res = test::call_service(
        &app,
        post(
            "/api/token/",
            br#"{"username":"alice","password":"alice-password"}"#.to_vec(),
        )
        .to_request(),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(hdr(&res, header::CACHE_CONTROL), "no-store");
    let pair = body_json(res).await;
    let refresh = pair["refresh"].as_str().unwrap().to_owned();

    let res = test::call_service(
        &app,
        post(
            "/api/token/verify/",
            json!({"token": pair["access"]}).to_string().into_bytes(),
        )
        .to_request(),
    )
    .await;
    assert_eq!(res.status(), 200);
    let res = test::call_service(
        &app,
        post(
            "/api/token/refresh/",
            json!({"refresh": refresh}).to_string().into_bytes(),
        )
        .to_request(),
    )
    .await;
    assert_eq!(res.status(), 200);
    let rotated = body_json(res).await;
    let res = test::call_service(
        &app,
        post(
            "/api/token/blacklist/",
            json!({"refresh": rotated["refresh"]})
                .to_string()
                .into_bytes(),
        )
        .to_request(),
    )
    .await;
    assert_eq!(res.status(), 200);

    let res = test::call_service(&app, post("/api/token/", b"{{{".to_vec()).to_request()).await;
    assert_eq!(res.status(), 400);
    assert_eq!(hdr(&res, header::CACHE_CONTROL), "no-store");

    // One byte over the cap: refused, with the core's answer.
    let too_big = vec![b' '; keycard_core::endpoints::MAX_BODY + 1];
    let res = test::call_service(&app, post("/api/token/", too_big).to_request()).await;
    let expected = keycard_core::endpoints::too_large();
    assert_eq!(res.status().as_u16(), expected.status.as_u16());
    assert_eq!(hdr(&res, header::CACHE_CONTROL), "no-store");
    assert_eq!(test::read_body(res).await, expected.body);
    // A declared length over the cap is refused before reading.
    let res = test::call_service(
        &app,
        post("/api/token/", b"{}".to_vec())
            .insert_header((header::CONTENT_LENGTH, "1000000"))
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), 400);

    // Only POST.
    let res = test::call_service(
        &app,
        test::TestRequest::get().uri("/api/token/").to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
}
