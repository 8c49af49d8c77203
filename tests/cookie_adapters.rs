//! Tokens in cookies on both adapters (issue 10), in process: the same browser session —
//! log in, read, a forged write, a real write, refresh, log out — sent to an axum app and an
//! actix-web app built alike, each answer held to the expectation and to the other adapter's
//! (status, body, `WWW-Authenticate`, every `Set-Cookie` line with its value blanked).

#![allow(clippy::unwrap_used, clippy::result_large_err)]

use std::collections::BTreeMap;

use actix_web::dev::{Service, ServiceResponse};
use actix_web::test::TestRequest;
use keycard::cookie::CookieSettings;
use keycard::endpoints::TokenEndpoints;
use keycard::{
    Authenticators, CookieAuthentication, InMemoryRevocationStore, InMemoryUserStore,
    IsAuthenticated, JwtAuthentication, Settings, TokenService, User,
};
use serde_json::{Value, json};
use tower::ServiceExt;

const TRUSTED: &str = "https://app.example.com";

fn tokens() -> TokenService {
    let users = InMemoryUserStore::new();
    users.insert(User::new("1", "alice"), "alice-password");
    let settings = Settings::builder()
        .hmac_secret("cookie-adapter-tests-secret-0123456789abcdef")
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

fn cookies() -> CookieSettings {
    CookieSettings::builder()
        .trusted_origins([TRUSTED])
        .build()
        .unwrap()
}

/// Bearer first (its challenge is the chain's), the cookie second.
fn chain(tokens: &TokenService, cookies: &CookieSettings) -> Authenticators {
    Authenticators::new()
        .with(JwtAuthentication::new(tokens.clone()))
        .with(CookieAuthentication::new(tokens.clone(), cookies.clone()))
}

// ------------------------------------------------------------------------------------------
// The two apps: token endpoints in cookie mode, and `/api/notes/` (GET, POST) for anyone
// authenticated.

mod axum_side {
    use axum::Router;
    use axum::http::StatusCode;
    use axum::routing::get;
    use keycard_axum::{AuthLayer, Identity, RequireLayer, token_router};

    use super::*;

    async fn list(me: Identity) -> axum::Json<Value> {
        axum::Json(json!({ "notes": [], "by": me.authenticator() }))
    }

    async fn create(me: Identity) -> (StatusCode, axum::Json<Value>) {
        (
            StatusCode::CREATED,
            axum::Json(json!({ "created": true, "by": me.authenticator() })),
        )
    }

    pub(super) fn app() -> Router {
        let (tokens, cookies) = (tokens(), cookies());
        let api = Router::new()
            .route(
                "/api/notes/",
                get(list)
                    .post(create)
                    .route_layer(RequireLayer::new(IsAuthenticated)),
            )
            .route_layer(AuthLayer::new(chain(&tokens, &cookies)));
        Router::new()
            .nest(
                "/api/token/",
                token_router(TokenEndpoints::new(tokens).with_cookies(cookies)),
            )
            .merge(api)
    }
}

mod actix_side {
    use actix_web::{App, HttpResponse, web};
    use keycard_actix::{Identity, KeycardAuth, RequirePolicy, token_scope};

    use super::*;

    async fn list(me: Identity) -> HttpResponse {
        HttpResponse::Ok().json(json!({ "notes": [], "by": me.authenticator() }))
    }

    async fn create(me: Identity) -> HttpResponse {
        HttpResponse::Created().json(json!({ "created": true, "by": me.authenticator() }))
    }

    pub(super) fn app() -> App<
        impl actix_web::dev::ServiceFactory<
            actix_web::dev::ServiceRequest,
            Config = (),
            Response = ServiceResponse<impl actix_web::body::MessageBody>,
            Error = actix_web::Error,
            InitError = (),
        >,
    > {
        let (tokens, cookies) = (tokens(), cookies());
        let chain = chain(&tokens, &cookies);
        App::new()
            .service(token_scope(
                "/api/token",
                TokenEndpoints::new(tokens).with_cookies(cookies),
            ))
            .service(
                web::scope("/api")
                    .service(
                        web::resource("/notes/")
                            .route(
                                web::get()
                                    .to(list)
                                    .wrap(RequirePolicy::new(IsAuthenticated)),
                            )
                            .route(
                                web::post()
                                    .to(create)
                                    .wrap(RequirePolicy::new(IsAuthenticated)),
                            ),
                    )
                    .wrap(KeycardAuth::new(chain)),
            )
    }
}

// ------------------------------------------------------------------------------------------
// A browser's cookie jar, just enough of it: host-only cookies, `Path` prefix matching,
// `Max-Age=0` deletes.

#[derive(Default)]
struct Jar(BTreeMap<String, (String, String)>);

impl Jar {
    fn store(&mut self, set_cookie: &[String]) {
        for line in set_cookie {
            let mut parts = line.split("; ");
            let (name, value) = parts.next().unwrap().split_once('=').unwrap();
            let attrs: Vec<&str> = parts.collect();
            let path = attrs
                .iter()
                .find_map(|a| a.strip_prefix("Path="))
                .unwrap()
                .to_owned();
            if attrs.contains(&"Max-Age=0") {
                self.0.remove(name);
            } else {
                self.0.insert(name.to_owned(), (value.to_owned(), path));
            }
        }
    }
    fn header_for(&self, path: &str) -> Option<String> {
        let pairs: Vec<String> = self
            .0
            .iter()
            .filter(|(_, (_, p))| path.starts_with(p.as_str()))
            .map(|(n, (v, _))| format!("{n}={v}"))
            .collect();
        (!pairs.is_empty()).then(|| pairs.join("; "))
    }
    fn get(&self, name: &str) -> String {
        self.0.get(name).map(|(v, _)| v.clone()).unwrap_or_default()
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Answer {
    status: u16,
    body: Value,
    www: Option<String>,
    set_cookie: Vec<String>,
}

impl Answer {
    /// What must be equal between the adapters: cookie values differ (random ids).
    fn shape(&self) -> (u16, Value, Option<String>, Vec<String>) {
        let cookies = self
            .set_cookie
            .iter()
            .map(|l| {
                let (nv, attrs) = l.split_once(';').unwrap();
                let (n, v) = nv.split_once('=').unwrap();
                format!("{n}={};{attrs}", if v.is_empty() { "" } else { "…" })
            })
            .collect();
        (self.status, self.body.clone(), self.www.clone(), cookies)
    }
}

struct Req<'a> {
    method: &'a str,
    path: &'a str,
    headers: Vec<(&'a str, String)>,
    body: &'a str,
}

async fn call_axum(app: &axum::Router, req: &Req<'_>) -> Answer {
    let mut b = axum::http::Request::builder()
        .method(req.method)
        .uri(req.path);
    for (k, v) in &req.headers {
        b = b.header(*k, v.as_str());
    }
    let res = app
        .clone()
        .oneshot(b.body(axum::body::Body::from(req.body.to_owned())).unwrap())
        .await
        .unwrap();
    let (parts, body) = res.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    let all = |n: &str| -> Vec<String> {
        parts
            .headers
            .get_all(n)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    };
    Answer {
        status: parts.status.as_u16(),
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        www: all("www-authenticate").pop(),
        set_cookie: all("set-cookie"),
    }
}

/// `finish` is `TestRequest::to_request`: the service's request type is actix-http's, which
/// actix-web does not re-export, so only a closure at the call site can name it.
async fn call_actix<S, R, B>(app: &S, finish: &impl Fn(TestRequest) -> R, req: &Req<'_>) -> Answer
where
    S: Service<R, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: actix_web::body::MessageBody,
{
    let mut t = TestRequest::default()
        .method(actix_web::http::Method::from_bytes(req.method.as_bytes()).unwrap())
        .uri(req.path)
        .set_payload(req.body.to_owned());
    for (k, v) in &req.headers {
        t = t.append_header((*k, v.as_str()));
    }
    let res = actix_web::test::call_service(app, finish(t)).await;
    let status = res.status().as_u16();
    let all = |n: &str| -> Vec<String> {
        res.headers()
            .get_all(n)
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    };
    let (www, set_cookie) = (all("www-authenticate").pop(), all("set-cookie"));
    let bytes = actix_web::test::read_body(res).await;
    Answer {
        status,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        www,
        set_cookie,
    }
}

/// One step of the session on both apps, each with its own jar: `headers` get the jar's
/// cookies for the path added; `csrf` echoes the jar's CSRF cookie. Both answers must be
/// alike; the axum one is returned, and each jar takes its own `Set-Cookie`s.
struct Session<S, F> {
    axum: axum::Router,
    actix: S,
    finish: F,
    axum_jar: Jar,
    actix_jar: Jar,
}

impl<S, F, R, B> Session<S, F>
where
    S: Service<R, Response = ServiceResponse<B>, Error = actix_web::Error>,
    F: Fn(TestRequest) -> R,
    B: actix_web::body::MessageBody,
{
    async fn step(
        &mut self,
        what: &str,
        method: &str,
        path: &str,
        body: &str,
        extra: &[(&str, &str)],
        csrf: bool,
    ) -> Answer {
        let mut answers = Vec::new();
        for side in ["axum", "actix"] {
            let j = if side == "axum" {
                &self.axum_jar
            } else {
                &self.actix_jar
            };
            let mut headers: Vec<(&str, String)> =
                extra.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
            if let Some(c) = j.header_for(path) {
                headers.push(("cookie", c));
            }
            if csrf {
                headers.push(("x-csrftoken", j.get("csrftoken")));
            }
            let req = Req {
                method,
                path,
                headers,
                body,
            };
            let a = if side == "axum" {
                call_axum(&self.axum, &req).await
            } else {
                call_actix(&self.actix, &self.finish, &req).await
            };
            if side == "axum" {
                &mut self.axum_jar
            } else {
                &mut self.actix_jar
            }
            .store(&a.set_cookie);
            answers.push(a);
        }
        assert_eq!(
            answers[0].shape(),
            answers[1].shape(),
            "{what}: axum and actix-web differ"
        );
        answers.swap_remove(0)
    }
}

#[actix_web::test]
async fn a_browser_session_on_both_adapters() {
    let actix = actix_web::test::init_service(actix_side::app()).await;
    let mut s = Session {
        axum: axum_side::app(),
        actix,
        finish: |t: TestRequest| t.to_request(),
        axum_jar: Jar::default(),
        actix_jar: Jar::default(),
    };
    let json_ct = [("content-type", "application/json")];

    let a = s
        .step(
            "login",
            "POST",
            "/api/token/",
            r#"{"username":"alice","password":"alice-password"}"#,
            &json_ct,
            false,
        )
        .await;
    assert_eq!((a.status, &a.body), (200, &json!({})));
    assert_eq!(
        a.shape().3,
        [
            "keycard_access=…; Path=/; Max-Age=300; HttpOnly; Secure; SameSite=Lax",
            "keycard_refresh=…; Path=/api/token/; Max-Age=86400; HttpOnly; Secure; SameSite=Lax",
            "csrftoken=…; Path=/; Max-Age=86400; Secure; SameSite=Lax",
        ]
    );
    let first_access = s.axum_jar.get("keycard_access");

    let a = s
        .step("read with the cookie", "GET", "/api/notes/", "", &[], false)
        .await;
    assert_eq!(
        (a.status, &a.body),
        (200, &json!({"notes": [], "by": "cookie"}))
    );

    let a = s
        .step(
            "forged write: no token",
            "POST",
            "/api/notes/",
            "",
            &[],
            false,
        )
        .await;
    assert_eq!(
        (a.status, a.body["code"].as_str(), &a.www),
        (403, Some("csrf_failed"), &None)
    );
    let a = s
        .step(
            "forged write: a form from elsewhere",
            "POST",
            "/api/notes/",
            "",
            &[("origin", "https://evil.example")],
            false,
        )
        .await;
    assert_eq!(
        (a.status, a.body["code"].as_str()),
        (403, Some("csrf_failed"))
    );
    let a = s
        .step(
            "forged write on an unknown path",
            "POST",
            "/api/nowhere/",
            "",
            &[],
            false,
        )
        .await;
    assert_eq!(a.status, 404);

    let a = s
        .step(
            "write with the CSRF token",
            "POST",
            "/api/notes/",
            "",
            &[],
            true,
        )
        .await;
    assert_eq!(
        (a.status, &a.body),
        (201, &json!({"created": true, "by": "cookie"}))
    );
    let a = s
        .step(
            "write from a trusted origin",
            "POST",
            "/api/notes/",
            "",
            &[("origin", TRUSTED)],
            false,
        )
        .await;
    assert_eq!(a.status, 201);

    // A bearer client: no cookie, no CSRF rule. Each app its own token (its own keys' store).
    for side in ["axum", "actix"] {
        let bearer = format!(
            "Bearer {}",
            if side == "axum" {
                &s.axum_jar
            } else {
                &s.actix_jar
            }
            .get("keycard_access")
        );
        let req = Req {
            method: "POST",
            path: "/api/notes/",
            headers: vec![("authorization", bearer)],
            body: "",
        };
        let a = if side == "axum" {
            call_axum(&s.axum, &req).await
        } else {
            call_actix(&s.actix, &s.finish, &req).await
        };
        assert_eq!(
            (a.status, &a.body),
            (201, &json!({"created": true, "by": "jwt"})),
            "{side}"
        );
    }

    let a = s
        .step(
            "refresh without the CSRF token",
            "POST",
            "/api/token/refresh/",
            "",
            &[],
            false,
        )
        .await;
    assert_eq!(
        (a.status, a.body["code"].as_str(), a.set_cookie.len()),
        (403, Some("csrf_failed"), 0)
    );
    let a = s
        .step("refresh", "POST", "/api/token/refresh/", "", &[], true)
        .await;
    assert_eq!(
        (a.status, &a.body, a.set_cookie.len()),
        (200, &json!({}), 3)
    );
    assert_ne!(s.axum_jar.get("keycard_access"), first_access);
    let a = s
        .step(
            "read after the refresh",
            "GET",
            "/api/notes/",
            "",
            &[],
            false,
        )
        .await;
    assert_eq!(a.status, 200);

    let a = s
        .step("logout", "POST", "/api/token/blacklist/", "", &[], true)
        .await;
    assert_eq!((a.status, &a.body), (200, &json!({})));
    assert_eq!(
        a.shape().3,
        [
            "keycard_access=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax",
            "keycard_refresh=; Path=/api/token/; Max-Age=0; HttpOnly; Secure; SameSite=Lax",
            "csrftoken=; Path=/; Max-Age=0; Secure; SameSite=Lax",
        ]
    );
    assert!(s.axum_jar.0.is_empty() && s.actix_jar.0.is_empty());

    let a = s
        .step(
            "after logout, anonymous",
            "GET",
            "/api/notes/",
            "",
            &[],
            false,
        )
        .await;
    assert_eq!(
        (a.status, a.body["code"].as_str(), a.www.as_deref()),
        (
            401,
            Some("not_authenticated"),
            Some(r#"Bearer realm="api""#)
        )
    );
    // The access token of the ended session, replayed as a cookie: refused at once.
    let stale = format!("keycard_access={first_access}");
    let req = Req {
        method: "GET",
        path: "/api/notes/",
        headers: vec![("cookie", stale)],
        body: "",
    };
    let a = call_axum(&s.axum, &req).await;
    assert_eq!(
        (a.status, a.body["code"].as_str()),
        (401, Some("token_not_valid"))
    );
}
