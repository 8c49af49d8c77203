//! A policy on a scope or a resource, as middleware.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use actix_web::Error;
use actix_web::HttpMessage;
use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use keycard_core::Policy;
use pin_project_lite::pin_project;

use crate::rejection::render;

/// Middleware checking a policy (DRF's `permission_classes`) before any handler of the
/// `Scope` or `Resource` it wraps: anonymous and denied → 401 `not_authenticated` with the
/// chain's challenge, authenticated and denied → 403 with the policy's message and code.
///
/// It is middleware, not a guard, on purpose: a guard that says no makes actix-web look for
/// another route and end in a 404, which would hide a 401/403.
///
/// It reads what [`KeycardAuth`](crate::KeycardAuth) found, so `KeycardAuth` must run first:
/// in actix-web the `.wrap()` written last runs first. Without it the answer is a 500 and an
/// error log naming `KeycardAuth`. A path no route matches is passed on to its 404 (case PO3).
///
/// ```
/// use actix_web::{App, HttpResponse, test, web};
/// use keycard_actix::{KeycardAuth, RequirePolicy};
/// use keycard_core::{Authenticators, IsAuthenticated, IsAuthenticatedOrReadOnly};
///
/// # actix_web::rt::System::new().block_on(async {
/// let ok = || async { HttpResponse::Ok().finish() };
/// let app = test::init_service(
///     App::new()
///         .service(
///             web::scope("/api")
///                 // Declared before the protected resource: public (case PO4).
///                 .service(web::resource("/login").to(ok))
///                 .service(web::resource("/items").wrap(RequirePolicy::new(IsAuthenticated)).to(ok))
///                 .service(web::resource("/articles").wrap(RequirePolicy::new(IsAuthenticatedOrReadOnly)).to(ok)),
///         )
///         .wrap(KeycardAuth::new(Authenticators::new())),
/// )
/// .await;
/// let status = |req: test::TestRequest| {
///     let app = &app;
///     async move { test::call_service(app, req.to_request()).await.status() }
/// };
/// assert_eq!(status(test::TestRequest::get().uri("/api/login")).await, 200);
/// // No authenticator with a challenge in this chain: DRF answers 403, not 401.
/// assert_eq!(status(test::TestRequest::get().uri("/api/items")).await, 403);
/// assert_eq!(status(test::TestRequest::get().uri("/api/articles")).await, 200);
/// assert_eq!(status(test::TestRequest::post().uri("/api/articles")).await, 403);
/// assert_eq!(status(test::TestRequest::get().uri("/api/nothing-here")).await, 404);
/// # });
/// ```
#[derive(Debug)]
pub struct RequirePolicy<P> {
    policy: Arc<P>,
}

impl<P> Clone for RequirePolicy<P> {
    fn clone(&self) -> Self {
        Self {
            policy: Arc::clone(&self.policy),
        }
    }
}

impl<P: Policy> RequirePolicy<P> {
    /// Requires `policy` (a keycard policy, or a composition with `&`, `|`, `!`).
    pub fn new(policy: P) -> Self {
        Self {
            policy: Arc::new(policy),
        }
    }

    /// Requires a shared policy.
    pub fn from_arc(policy: Arc<P>) -> Self {
        Self { policy }
    }

    /// The policy.
    pub fn policy(&self) -> &P {
        &self.policy
    }
}

impl<S, B, P> Transform<S, ServiceRequest> for RequirePolicy<P>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
    P: Policy,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = RequirePolicyMiddleware<S, P>;
    type InitError = ();
    type Future = std::future::Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        std::future::ready(Ok(RequirePolicyMiddleware {
            service,
            policy: Arc::clone(&self.policy),
        }))
    }
}

/// The service [`RequirePolicy`] wraps around a `Scope` or `Resource`.
#[derive(Debug)]
pub struct RequirePolicyMiddleware<S, P> {
    service: S,
    policy: Arc<P>,
}

impl<S, P> RequirePolicyMiddleware<S, P> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.service
    }
    /// The policy.
    pub fn policy(&self) -> &P {
        &self.policy
    }
}

impl<S, B, P> Service<ServiceRequest> for RequirePolicyMiddleware<S, P>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
    P: Policy,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = RequirePolicyFuture<S::Future>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let decision = crate::with_outcome(&req.extensions(), "RequirePolicy", |outcome| {
            outcome.enforce(
                &*self.policy,
                req.method().as_str(),
                crate::routed_path(req.match_info()),
            )
        });
        let kind = match decision {
            Ok(()) => Kind::Inner {
                fut: self.service.call(req),
            },
            // No route here: the 404 answers, not the policy (case PO3).
            Err(_)
                if !req
                    .resource_map()
                    .has_resource(crate::routed_path(req.match_info())) =>
            {
                Kind::Inner {
                    fut: self.service.call(req),
                }
            }
            Err(err) => Kind::Rejected {
                res: Some(req.into_response(render(&err))),
            },
        };
        RequirePolicyFuture { kind }
    }
}

pin_project! {
    /// The response future of [`RequirePolicyMiddleware`]: the inner service's, or the refusal.
    pub struct RequirePolicyFuture<F> {
        #[pin]
        kind: Kind<F>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F> {
        Inner { #[pin] fut: F },
        Rejected { res: Option<ServiceResponse<BoxBody>> },
    }
}

impl<F, B> Future for RequirePolicyFuture<F>
where
    F: Future<Output = Result<ServiceResponse<B>, Error>>,
{
    type Output = Result<ServiceResponse<EitherBody<B>>, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Inner { fut } => fut
                .poll(cx)
                .map(|res| res.map(ServiceResponse::map_into_left_body)),
            // Taken once: a future is not polled again after it returned `Ready`.
            KindProj::Rejected { res } => Poll::Ready(Ok(res
                .take()
                .expect("RequirePolicyFuture polled after completion")
                .map_into_right_body())),
        }
    }
}

impl<F> std::fmt::Debug for RequirePolicyFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequirePolicyFuture")
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use actix_web::{App, HttpResponse, test, web};
    use keycard_core::{Authenticators, IsAuthenticated};

    use super::*;
    use crate::KeycardAuth;

    /// actix-web routes `/api/%61dmin/` to `/api/admin/`; the policy must hold there too.
    /// (It asked `has_resource` with the raw path, took the request for an unknown path, and
    /// let it through to the handler.)
    #[actix_web::test]
    async fn a_denying_policy_holds_for_a_percent_encoded_path() {
        let admin = || async { HttpResponse::Ok().body("secret") };
        let app = test::init_service(
            App::new()
                // On a route, as the contract app does…
                .service(
                    web::scope("/api")
                        .service(
                            web::resource("/admin/").route(
                                web::get()
                                    .to(admin)
                                    .wrap(RequirePolicy::new(IsAuthenticated)),
                            ),
                        )
                        .wrap(KeycardAuth::new(Authenticators::new())),
                )
                // …and on a scope, where unknown paths must stay 404s.
                .service(
                    web::scope("/v2")
                        .service(web::resource("/admin/").route(web::get().to(admin)))
                        .wrap(RequirePolicy::new(IsAuthenticated))
                        .wrap(KeycardAuth::new(Authenticators::new())),
                ),
        )
        .await;
        for path in [
            "/api/admin/",
            "/api/%61dmin/",
            "/api/%61%64%6D%69%6E/",
            "/v2/%61dmin/",
        ] {
            let res =
                test::call_service(&app, test::TestRequest::get().uri(path).to_request()).await;
            // Anonymous, and a chain without a challenge: 403 (AU7).
            assert_eq!(res.status(), 403, "{path}");
        }
        let res = test::call_service(
            &app,
            test::TestRequest::get().uri("/v2/%6Eowhere/").to_request(),
        )
        .await;
        assert_eq!(res.status(), 404);
    }
}
