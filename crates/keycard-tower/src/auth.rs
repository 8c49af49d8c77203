//! [`AuthLayer`]: runs the authenticator chain on every request (DRF's
//! `authentication_classes`).
//!
//! ```
//! use http::{Request, Response, StatusCode};
//! use keycard_core::{AuthOutcome, Authenticators, InMemoryUserStore, JwtAuthentication, Settings, TokenService, User};
//! use keycard_tower::AuthLayer;
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let users = InMemoryUserStore::new();
//! users.insert(User::new("1", "alice"), "alice-password");
//! let tokens = TokenService::builder(Settings::builder().hmac_secret([7u8; 32]).build().unwrap())
//!     .users(users)
//!     .build()
//!     .unwrap();
//! let chain = Authenticators::new().with(JwtAuthentication::new(tokens.clone()));
//!
//! let app = ServiceBuilder::new().layer(AuthLayer::new(chain)).service(service_fn(|req: Request<String>| async move {
//!     // The outcome is always there behind the layer: `None` means anonymous.
//!     let who = req.extensions().get::<AuthOutcome>().and_then(|o| o.identity.as_ref()).map(|i| i.username().to_owned());
//!     Ok::<_, std::convert::Infallible>(Response::new(who.unwrap_or_else(|| "anonymous".into()).into_bytes()))
//! }));
//!
//! // No credentials: anonymous, the service runs.
//! let res = app.clone().oneshot(Request::get("/").body(String::new()).unwrap()).await.unwrap();
//! assert_eq!(res.into_body(), b"anonymous");
//!
//! // A good token: the caller is known.
//! let pair = tokens.obtain("alice", "alice-password").await.unwrap();
//! let req = Request::get("/").header("authorization", format!("Bearer {}", pair.access)).body(String::new()).unwrap();
//! assert_eq!(app.clone().oneshot(req).await.unwrap().into_body(), b"alice");
//!
//! // A bad token: 401, the service never runs (DRF: bad credentials are an error, even on
//! // a public route).
//! let req = Request::get("/").header("authorization", "Bearer garbage").body(String::new()).unwrap();
//! let res = app.oneshot(req).await.unwrap();
//! assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
//! assert!(res.headers()["www-authenticate"].to_str().unwrap().contains(r#"error="invalid_token""#));
//! # });
//! ```
//!
//! # Bad credentials on public routes (case AU6)
//!
//! By default a request with bad credentials is refused with 401 wherever it goes, public
//! routes included, as DRF does: a client holding a stale token learns it at once. A public
//! route that must serve such clients anyway gets its own lenient layer
//! ([`AuthLayer::lenient`]), under which bad credentials make the request anonymous. Only the
//! 401 family is forgiven: a store that is down is still a 503.
//!
//! # Response bodies
//!
//! The layer answers refusals itself, so it builds a response body from the rendered error's
//! bytes: the inner service's response body must implement `From<Vec<u8>>`. axum's `Body`,
//! `http_body_util::Full<Bytes>`, `String` and `Vec<u8>` all do. For another body type (a
//! boxed body, tonic's), wrap it in a type of your own that implements `From<Vec<u8>>` and
//! map the inner service's responses into it (`tower::ServiceExt::map_response`).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::request::Parts;
use http::{Request, Response};
use keycard_core::{AuthError, AuthOutcome, Authenticators, RequestHead};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

/// What the boxed authentication step hands back: the request head it borrowed, and the
/// chain's answer. The chain's futures borrow the head, so this one owns it; it is the only
/// allocation the layer adds (the inner service's future is never boxed).
type Authenticating = Pin<Box<dyn Future<Output = (Parts, Result<AuthOutcome, AuthError>)> + Send>>;

/// Runs the authenticator chain on every request; see the [module docs](self).
///
/// ```
/// use keycard_core::Authenticators;
/// use keycard_tower::AuthLayer;
/// let strict = AuthLayer::new(Authenticators::new());
/// let public = strict.clone().lenient();
/// assert!(!strict.is_lenient() && public.is_lenient());
/// ```
#[derive(Clone)]
pub struct AuthLayer {
    chain: Arc<Authenticators>,
    lenient: bool,
}

impl fmt::Debug for AuthLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthLayer")
            .field("chain", &self.chain)
            .field("lenient", &self.lenient)
            .finish()
    }
}

impl AuthLayer {
    /// A layer running `chain` on every request, refusing bad credentials with 401.
    pub fn new(chain: impl Into<Arc<Authenticators>>) -> Self {
        Self {
            chain: chain.into(),
            lenient: false,
        }
    }

    /// Bad credentials make the request anonymous instead of failing it: the explicit
    /// opt-out for public routes that must ignore stale tokens (case AU6). Store failures
    /// still fail (503).
    #[must_use]
    pub fn lenient(mut self) -> Self {
        self.lenient = true;
        self
    }

    /// Whether this layer is [lenient](Self::lenient).
    pub fn is_lenient(&self) -> bool {
        self.lenient
    }

    /// The authenticator chain.
    pub fn chain(&self) -> &Authenticators {
        &self.chain
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = Auth<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Auth {
            inner,
            chain: self.chain.clone(),
            lenient: self.lenient,
        }
    }
}

/// The service [`AuthLayer`] builds: authenticates, stores the [`AuthOutcome`] in the
/// request's extensions, then calls the inner service, or answers the chain's error.
#[derive(Clone)]
pub struct Auth<S> {
    inner: S,
    chain: Arc<Authenticators>,
    lenient: bool,
}

impl<S: fmt::Debug> fmt::Debug for Auth<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth")
            .field("inner", &self.inner)
            .field("chain", &self.chain)
            .field("lenient", &self.lenient)
            .finish()
    }
}

impl<S> Auth<S> {
    /// Wraps `inner`, running `chain` on every request.
    pub fn new(inner: S, chain: impl Into<Arc<Authenticators>>) -> Self {
        Self {
            inner,
            chain: chain.into(),
            lenient: false,
        }
    }

    /// The layer: the same as [`AuthLayer::new`].
    pub fn layer(chain: impl Into<Arc<Authenticators>>) -> AuthLayer {
        AuthLayer::new(chain)
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The inner service, unwrapped.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Auth<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    ResBody: From<Vec<u8>>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S, ReqBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        // The service that was polled ready is the one to call, later, once authenticated;
        // a fresh clone stays behind for the next request.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);

        let (parts, body) = req.into_parts();
        let chain = self.chain.clone();
        let lenient = self.lenient;
        let authenticating: Authenticating = Box::pin(async move {
            let head = RequestHead::from_parts(&parts.method, &parts.uri, &parts.headers);
            let outcome = if lenient {
                chain.outcome_lenient(&head).await
            } else {
                chain.outcome(&head).await
            };
            (parts, outcome)
        });
        ResponseFuture {
            state: State::Authenticating {
                authenticating,
                body: Some(body),
                inner: Some(inner),
            },
        }
    }
}

pin_project! {
    /// The response future of [`Auth`].
    pub struct ResponseFuture<S, ReqBody>
    where
        S: Service<Request<ReqBody>>,
    {
        #[pin]
        state: State<S, S::Future, ReqBody>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, F, ReqBody> {
        Authenticating {
            authenticating: Authenticating,
            // Both are `Some` until the chain answers; taken exactly once, on the transition.
            body: Option<ReqBody>,
            inner: Option<S>,
        },
        Calling {
            #[pin]
            future: F,
        },
    }
}

impl<S, ReqBody> fmt::Debug for ResponseFuture<S, ReqBody>
where
    S: Service<Request<ReqBody>>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Authenticating { .. } => "Authenticating",
            State::Calling { .. } => "Calling",
        };
        f.debug_struct("ResponseFuture")
            .field("state", &state)
            .finish()
    }
}

impl<S, ReqBody, ResBody> Future for ResponseFuture<S, ReqBody>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: From<Vec<u8>>,
{
    type Output = Result<Response<ResBody>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Authenticating {
                    authenticating,
                    body,
                    inner,
                } => {
                    let (mut parts, result) = ready!(authenticating.as_mut().poll(cx));
                    match result {
                        Ok(outcome) => {
                            parts.extensions.insert(outcome);
                            // Invariant: this arm runs once; the state leaves it right below.
                            let body = body
                                .take()
                                .expect("keycard AuthLayer future polled after completion");
                            let mut inner = inner
                                .take()
                                .expect("keycard AuthLayer future polled after completion");
                            let future = inner.call(Request::from_parts(parts, body));
                            this.state.set(State::Calling { future });
                        }
                        Err(err) => {
                            if let AuthError::Misconfigured { detail } = &err {
                                tracing::error!(target: "keycard::tower", "{detail}");
                            } else {
                                tracing::trace!(target: "keycard::tower", code = err.code(), status = err.status().as_u16(), "request refused by the authenticator chain");
                            }
                            return Poll::Ready(Ok(err.into_response()));
                        }
                    }
                }
                StateProj::Calling { future } => return future.poll(cx),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use http::{HeaderValue, StatusCode};
    use keycard_core::{Authenticator, BoxFuture, Challenge, Identity, Outcome, User};
    use tower::{ServiceBuilder, ServiceExt, service_fn};

    use super::*;
    use crate::test_support::{Fixture, body_json};

    /// Echoes who the caller is, and fails the test if the outcome is missing.
    async fn whoami(req: Request<String>) -> Result<Response<Vec<u8>>, Infallible> {
        let outcome = req
            .extensions()
            .get::<AuthOutcome>()
            .expect("AuthLayer puts the outcome in the extensions");
        Ok(Response::new(
            outcome
                .identity
                .as_ref()
                .map_or(b"anonymous".to_vec(), |i| i.user_id().as_bytes().to_vec()),
        ))
    }

    fn get(auth: Option<&str>) -> Request<String> {
        let mut req = Request::get("/").body(String::new()).unwrap();
        if let Some(a) = auth {
            req.headers_mut().insert(
                http::header::AUTHORIZATION,
                HeaderValue::from_str(a).unwrap(),
            );
        }
        req
    }

    #[tokio::test]
    async fn anonymous_request_reaches_the_service_with_an_empty_outcome() {
        let fx = Fixture::new().await;
        let svc = ServiceBuilder::new()
            .layer(AuthLayer::new(fx.chain()))
            .service_fn(whoami);
        let res = svc.oneshot(get(None)).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.into_body(), b"anonymous");
    }

    #[tokio::test]
    async fn valid_bearer_token_puts_the_identity_in_the_extensions() {
        let fx = Fixture::new().await;
        let svc = Auth::new(service_fn(whoami), fx.chain());
        let res = svc
            .oneshot(get(Some(&format!("Bearer {}", fx.alice_access))))
            .await
            .unwrap();
        assert_eq!(res.into_body(), b"1");
    }

    #[tokio::test]
    async fn bad_token_is_refused_before_the_service_runs() {
        let fx = Fixture::new().await;
        let svc = AuthLayer::new(fx.chain()).layer(service_fn(|_: Request<String>| async {
            panic!("the inner service must not run on bad credentials");
            #[allow(unreachable_code)]
            Ok::<Response<Vec<u8>>, Infallible>(Response::new(Vec::new()))
        }));
        let res = svc.oneshot(get(Some("Bearer garbage"))).await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        let www = res.headers()[http::header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            www.starts_with(r#"Bearer realm="api", error="invalid_token""#),
            "{www}"
        );
        assert_eq!(
            res.headers()[http::header::CONTENT_TYPE],
            "application/json"
        );
        assert_eq!(body_json(&res.into_body())["code"], "token_not_valid");
    }

    #[tokio::test]
    async fn bearer_without_token_is_a_bad_header() {
        let fx = Fixture::new().await;
        let svc = Auth::new(service_fn(whoami), fx.chain());
        let res = svc.oneshot(get(Some("Bearer"))).await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            body_json(&res.into_body())["code"],
            "bad_authorization_header"
        );
    }

    #[tokio::test]
    async fn lenient_layer_turns_bad_credentials_into_anonymous() {
        let fx = Fixture::new().await;
        let svc = Auth::new(service_fn(whoami), fx.chain());
        let lenient = AuthLayer::new(fx.chain())
            .lenient()
            .layer(service_fn(whoami));
        assert_eq!(
            svc.oneshot(get(Some("Bearer garbage")))
                .await
                .unwrap()
                .status(),
            StatusCode::UNAUTHORIZED
        );
        let res = lenient
            .clone()
            .oneshot(get(Some("Bearer garbage")))
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.into_body(), b"anonymous");
        // A good token still authenticates under the lenient layer.
        let res = lenient
            .oneshot(get(Some(&format!("Bearer {}", fx.alice_access))))
            .await
            .unwrap();
        assert_eq!(res.into_body(), b"1");
    }

    /// Answers with a store failure whenever it sees `x-down`.
    struct Down;
    impl Authenticator for Down {
        fn authenticate<'a>(&'a self, head: &'a RequestHead<'_>) -> BoxFuture<'a, Outcome> {
            let outcome = match head.headers.lookup("x-down") {
                keycard_core::authn::HeaderLookup::Missing => Outcome::NotMine,
                _ => Outcome::Failed(AuthError::ServiceUnavailable),
            };
            Box::pin(std::future::ready(outcome))
        }
        fn challenge(&self) -> Option<Challenge> {
            Some(Challenge::bearer("api"))
        }
        fn name(&self) -> &'static str {
            "down"
        }
    }

    #[tokio::test]
    async fn lenient_layer_still_fails_when_the_store_is_down() {
        let svc = AuthLayer::new(Authenticators::new().with(Down))
            .lenient()
            .layer(service_fn(whoami));
        let mut req = get(None);
        req.headers_mut()
            .insert("x-down", HeaderValue::from_static("1"));
        let res = svc.oneshot(req).await.unwrap();
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body_json(&res.into_body())["code"], "service_unavailable");
    }

    #[tokio::test]
    async fn empty_chain_makes_every_request_anonymous() {
        let svc = Auth::new(service_fn(whoami), Authenticators::new());
        let res = svc.oneshot(get(Some("Bearer garbage"))).await.unwrap();
        assert_eq!(res.into_body(), b"anonymous");
    }

    #[tokio::test]
    async fn response_body_can_be_bytes() {
        let fx = Fixture::new().await;
        let svc = Auth::new(
            service_fn(|_: Request<()>| async {
                Ok::<_, Infallible>(Response::new(Vec::<u8>::new()))
            }),
            fx.chain(),
        );
        let res = svc
            .oneshot(
                Request::get("/")
                    .header("authorization", "Bearer x.y.z")
                    .body(())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(body_json(&res.into_body())["code"], "token_not_valid");
    }

    #[tokio::test]
    async fn response_body_can_be_hypers_full_bytes() {
        use http_body_util::{BodyExt, Full};
        let fx = Fixture::new().await;
        let svc = Auth::new(
            service_fn(|_: Request<Full<bytes::Bytes>>| async {
                Ok::<_, Infallible>(Response::new(Full::new(bytes::Bytes::from_static(b"ok"))))
            }),
            fx.chain(),
        );
        let req = Request::get("/")
            .header("authorization", "Bearer x.y.z")
            .body(Full::default())
            .unwrap();
        let res = svc.oneshot(req).await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        let body = res.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body_json(&body)["code"], "token_not_valid");
    }

    #[tokio::test]
    async fn identity_from_a_custom_authenticator_is_visible() {
        struct Gateway;
        impl Authenticator for Gateway {
            fn authenticate<'a>(&'a self, _: &'a RequestHead<'_>) -> BoxFuture<'a, Outcome> {
                Box::pin(std::future::ready(Outcome::Authenticated(
                    Identity::from_user(User::new("7", "gw"), "gateway"),
                )))
            }
            fn challenge(&self) -> Option<Challenge> {
                None
            }
            fn name(&self) -> &'static str {
                "gateway"
            }
        }
        let svc = Auth::new(service_fn(whoami), Authenticators::new().with(Gateway));
        assert_eq!(svc.oneshot(get(None)).await.unwrap().into_body(), b"7");
    }

    /// Waits once (a store on the network) before answering.
    struct Slow;
    impl Authenticator for Slow {
        fn authenticate<'a>(&'a self, head: &'a RequestHead<'_>) -> BoxFuture<'a, Outcome> {
            let refuse =
                head.headers.lookup("x-refuse") != keycard_core::authn::HeaderLookup::Missing;
            Box::pin(async move {
                tokio::task::yield_now().await;
                if refuse {
                    Outcome::Failed(AuthError::ServiceUnavailable)
                } else {
                    Outcome::Authenticated(Identity::from_user(User::new("9", "slow"), "slow"))
                }
            })
        }
        fn challenge(&self) -> Option<Challenge> {
            Some(Challenge::bearer("api"))
        }
        fn name(&self) -> &'static str {
            "slow"
        }
    }

    #[tokio::test]
    async fn a_chain_that_has_to_wait_is_polled_again_by_the_response_future() {
        let svc = Auth::new(service_fn(whoami), Authenticators::new().with(Slow));
        assert_eq!(
            svc.clone().oneshot(get(None)).await.unwrap().into_body(),
            b"9"
        );
        let mut req = get(None);
        req.headers_mut()
            .insert("x-refuse", HeaderValue::from_static("1"));
        let res = svc.oneshot(req).await.unwrap();
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    }

    #[test]
    fn the_future_is_send_when_the_inner_one_is() {
        fn assert_send<T: Send>(_: &T) {}
        let svc = Auth::new(service_fn(whoami), Authenticators::new());
        let mut svc = svc.clone();
        let fut = svc.call(get(None));
        assert_send(&fut);
    }
}
