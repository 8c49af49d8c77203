//! [`RequireLayer`]: a permission policy around a route or a group (DRF's
//! `permission_classes` on a view).
//!
//! It reads the [`AuthOutcome`] that [`AuthLayer`](crate::AuthLayer) left in the request's
//! extensions and asks the policy: anonymous and denied → 401 `not_authenticated` (with the
//! chain's challenge), authenticated and denied → 403 with the policy's message and code.
//! Both decisions are keycard-core's ([`AuthOutcome::enforce`]); this layer only answers.
//!
//! ```
//! use http::{Request, Response, StatusCode};
//! use keycard_core::{Authenticators, IsAuthenticated};
//! use keycard_tower::{AuthLayer, RequireLayer};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let chain = Authenticators::new(); // every caller is anonymous
//! let app = ServiceBuilder::new()
//!     .layer(AuthLayer::new(chain))          // outer: authenticate
//!     .layer(RequireLayer::new(IsAuthenticated)) // inner: the policy
//!     .service(service_fn(|_: Request<String>| async { Ok::<_, std::convert::Infallible>(Response::new(Vec::<u8>::new())) }));
//! let res = app.oneshot(Request::get("/").body(String::new()).unwrap()).await.unwrap();
//! // An empty chain has no challenge to send, so DRF's rule makes "not authenticated" a 403.
//! assert_eq!(res.status(), StatusCode::FORBIDDEN);
//! # });
//! ```
//!
//! # With axum
//!
//! Put it on routes with `Router::route_layer` (or `MethodRouter::route_layer`), never
//! `Router::layer`: `route_layer` runs only when a route matched, so an unknown path stays a
//! 404 instead of becoming a 401 (case PO3).
//!
//! The policy sees the request's method and `uri().path()` as they reach this layer: below
//! axum's `Router::nest` that is the path under the nest point (keycard-axum's `Require<P>`
//! extractor uses axum's `OriginalUri` instead). Path-based policies are simplest on
//! un-nested routes.
//!
//! # Without an [`AuthLayer`](crate::AuthLayer) in front
//!
//! The policy cannot be decided, and guessing "anonymous" would hide the mistake, so the
//! answer is a 500 with a generic body and an error log line (target `keycard::tower`)
//! naming `keycard::tower::AuthLayer` (case PO5). Nothing panics.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use keycard_core::{AuthError, AuthOutcome, Policy};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

/// The log line and the [`AuthError::Misconfigured`] detail when no outcome is found.
pub const MISSING_AUTH_LAYER: &str = "keycard::tower::RequireLayer found no AuthOutcome in the request extensions: \
     add keycard::tower::AuthLayer in front of it (outside it: with axum, `.route_layer(AuthLayer::new(..))` \
     or `.layer(AuthLayer::new(..))` after the RequireLayer)";

/// Applies a policy to every request through it; see the [module docs](self).
pub struct RequireLayer<P> {
    policy: Arc<P>,
}

impl<P> Clone for RequireLayer<P> {
    fn clone(&self) -> Self {
        Self {
            policy: self.policy.clone(),
        }
    }
}

impl<P> fmt::Debug for RequireLayer<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequireLayer")
            .field("policy", &std::any::type_name::<P>())
            .finish()
    }
}

impl<P: Policy> RequireLayer<P> {
    /// A layer enforcing `policy`.
    pub fn new(policy: P) -> Self {
        Self {
            policy: Arc::new(policy),
        }
    }
}

impl<P> RequireLayer<P> {
    /// The policy.
    pub fn policy(&self) -> &P {
        &self.policy
    }
}

impl<S, P> Layer<S> for RequireLayer<P> {
    type Service = Require<S, P>;

    fn layer(&self, inner: S) -> Self::Service {
        Require {
            inner,
            policy: self.policy.clone(),
        }
    }
}

/// The service [`RequireLayer`] builds.
pub struct Require<S, P> {
    inner: S,
    policy: Arc<P>,
}

impl<S: Clone, P> Clone for Require<S, P> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            policy: self.policy.clone(),
        }
    }
}

impl<S: fmt::Debug, P> fmt::Debug for Require<S, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Require")
            .field("inner", &self.inner)
            .field("policy", &std::any::type_name::<P>())
            .finish()
    }
}

impl<S, P: Policy> Require<S, P> {
    /// Wraps `inner`, enforcing `policy`.
    pub fn new(inner: S, policy: P) -> Self {
        Self {
            inner,
            policy: Arc::new(policy),
        }
    }

    /// The layer: the same as [`RequireLayer::new`].
    pub fn layer(policy: P) -> RequireLayer<P> {
        RequireLayer::new(policy)
    }
}

impl<S, P> Require<S, P> {
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

impl<S, P, ReqBody, ResBody> Service<Request<ReqBody>> for Require<S, P>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    P: Policy,
    ResBody: From<Vec<u8>>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let decision = match req.extensions().get::<AuthOutcome>() {
            Some(outcome) => {
                outcome.enforce(&*self.policy, req.method().as_str(), req.uri().path())
            }
            None => {
                tracing::error!(target: "keycard::tower", "{MISSING_AUTH_LAYER}");
                Err(AuthError::Misconfigured {
                    detail: MISSING_AUTH_LAYER,
                })
            }
        };
        match decision {
            Ok(()) => ResponseFuture {
                state: State::Called {
                    future: self.inner.call(req),
                },
            },
            Err(err) => {
                tracing::trace!(target: "keycard::tower", code = err.code(), status = err.status().as_u16(), "request refused by the policy");
                ResponseFuture {
                    state: State::Refused {
                        response: Some(err.into_response()),
                    },
                }
            }
        }
    }
}

pin_project! {
    /// The response future of [`Require`].
    pub struct ResponseFuture<F, B> {
        #[pin]
        state: State<F, B>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, B> {
        Called {
            #[pin]
            future: F,
        },
        Refused {
            // `Some` until the first poll takes it.
            response: Option<Response<B>>,
        },
    }
}

impl<F, B> fmt::Debug for ResponseFuture<F, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Called { .. } => "Called",
            State::Refused { .. } => "Refused",
        };
        f.debug_struct("ResponseFuture")
            .field("state", &state)
            .finish()
    }
}

impl<F, B, E> Future for ResponseFuture<F, B>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Called { future } => future.poll(cx),
            StateProj::Refused { response } => Poll::Ready(Ok(response
                .take()
                .expect("keycard RequireLayer future polled after completion"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use http::{HeaderValue, StatusCode};
    use keycard_core::policy::object_policy;
    use keycard_core::{
        Authenticators, IsAdmin, IsAuthenticated, IsAuthenticatedOrReadOnly, PolicyExt,
    };
    use tower::{ServiceBuilder, ServiceExt, service_fn};

    use super::*;
    use crate::AuthLayer;
    use crate::test_support::{Fixture, body_json};

    async fn ok(_: Request<String>) -> Result<Response<Vec<u8>>, Infallible> {
        Ok(Response::new(b"ok".to_vec()))
    }

    fn req(method: &str, auth: Option<&str>) -> Request<String> {
        let mut req = Request::builder()
            .method(method)
            .uri("/things")
            .body(String::new())
            .unwrap();
        if let Some(a) = auth {
            req.headers_mut().insert(
                http::header::AUTHORIZATION,
                HeaderValue::from_str(a).unwrap(),
            );
        }
        req
    }

    #[tokio::test]
    async fn anonymous_caller_denied_is_401_with_the_chain_challenge() {
        let fx = Fixture::new().await;
        let svc = ServiceBuilder::new()
            .layer(AuthLayer::new(fx.chain()))
            .layer(RequireLayer::new(IsAuthenticated))
            .service_fn(ok);
        let res = svc.oneshot(req("GET", None)).await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            res.headers()[http::header::WWW_AUTHENTICATE],
            r#"Bearer realm="api""#
        );
        assert_eq!(body_json(&res.into_body())["code"], "not_authenticated");
    }

    #[tokio::test]
    async fn authenticated_caller_denied_is_403_without_challenge() {
        let fx = Fixture::new().await;
        let svc = ServiceBuilder::new()
            .layer(AuthLayer::new(fx.chain()))
            .layer(RequireLayer::new(IsAdmin))
            .service_fn(ok);
        let res = svc
            .oneshot(req("GET", Some(&fx.alice_bearer())))
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        assert!(res.headers().get(http::header::WWW_AUTHENTICATE).is_none());
        let body = body_json(&res.into_body());
        assert_eq!(body["code"], "permission_denied");
        assert_eq!(
            body["detail"],
            "You do not have permission to perform this action."
        );
    }

    #[tokio::test]
    async fn allowed_caller_reaches_the_service() {
        let fx = Fixture::new().await;
        let svc = ServiceBuilder::new()
            .layer(AuthLayer::new(fx.chain()))
            .layer(RequireLayer::new(IsAuthenticated))
            .service_fn(ok);
        let res = svc
            .oneshot(req("GET", Some(&fx.alice_bearer())))
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.into_body(), b"ok");
    }

    #[tokio::test]
    async fn read_only_policy_lets_anonymous_reads_through_and_stops_writes() {
        let fx = Fixture::new().await;
        let svc = ServiceBuilder::new()
            .layer(AuthLayer::new(fx.chain()))
            .layer(RequireLayer::new(IsAuthenticatedOrReadOnly))
            .service_fn(ok);
        for m in ["GET", "HEAD", "OPTIONS"] {
            assert_eq!(
                svc.clone().oneshot(req(m, None)).await.unwrap().status(),
                StatusCode::OK,
                "{m}"
            );
        }
        for m in ["POST", "PUT", "PATCH", "DELETE"] {
            assert_eq!(
                svc.clone().oneshot(req(m, None)).await.unwrap().status(),
                StatusCode::UNAUTHORIZED,
                "{m}"
            );
        }
        assert_eq!(
            svc.oneshot(req("POST", Some(&fx.alice_bearer())))
                .await
                .unwrap()
                .status(),
            StatusCode::OK
        );
    }

    #[tokio::test]
    async fn composed_policy_keeps_the_first_denial_message() {
        let fx = Fixture::new().await;
        let policy = IsAdmin.with_message("Admins only.", "admins_only") | IsAdmin;
        let svc = ServiceBuilder::new()
            .layer(AuthLayer::new(fx.chain()))
            .layer(RequireLayer::new(policy))
            .service_fn(ok);
        let res = svc
            .oneshot(req("GET", Some(&fx.alice_bearer())))
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        let body = body_json(&res.into_body());
        assert_eq!(
            body,
            serde_json::json!({"detail": "Admins only.", "code": "admins_only"})
        );
    }

    #[tokio::test]
    async fn without_auth_layer_the_answer_is_a_generic_500_not_a_panic() {
        let svc = RequireLayer::new(IsAuthenticated).layer(service_fn(ok));
        let res = svc.oneshot(req("GET", None)).await.unwrap();
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = body_json(&res.into_body());
        assert_eq!(body["code"], "server_error");
        // The missing piece is for the log, not for the client.
        assert!(!body["detail"].as_str().unwrap().contains("AuthLayer"));
        assert!(MISSING_AUTH_LAYER.contains("keycard::tower::AuthLayer"));
    }

    #[tokio::test]
    async fn object_only_policy_allows_at_view_level() {
        // Object policies decide in the handler (keycard-axum's `Require::check_object`);
        // at view level they let the request through.
        struct Doc;
        let svc = ServiceBuilder::new()
            .layer(AuthLayer::new(Authenticators::new()))
            .layer(RequireLayer::new(object_policy(|_, _: &Doc| false)))
            .service_fn(ok);
        assert_eq!(
            svc.oneshot(req("GET", None)).await.unwrap().status(),
            StatusCode::OK
        );
    }
}
