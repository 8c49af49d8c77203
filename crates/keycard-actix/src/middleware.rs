//! The authentication middleware: runs the authenticator chain on every request it wraps.

use std::rc::Rc;

use actix_web::Error;
use actix_web::HttpMessage;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use keycard_core::{AuthOutcome, Authenticators, RequestHead};

use crate::headers::ActixHeaders;
use crate::rejection::render;

/// A boxed, non-`Send` future, as actix-web runs them (the authenticators' futures borrow
/// the request, so this one owns it).
type LocalBoxFuture<T> = std::pin::Pin<Box<dyn std::future::Future<Output = T>>>;

/// Middleware running keycard's authenticator chain (DRF's `authentication_classes`) on
/// every request of the `App`, `Scope` or `Resource` it wraps.
///
/// The chain's answer, an [`AuthOutcome`], goes into the request's extensions, where the
/// extractors and [`RequirePolicy`](crate::RequirePolicy) read it. Bad credentials end the
/// request with keycard-core's 401 (403 when the first authenticator has no challenge), on
/// public routes too, as in DRF (case AU6); [`lenient`](Self::lenient) opts a route out.
/// A store that is down answers 503.
///
/// The response goes out as an `Ok` response, never as an actix `Err`, so middleware outside
/// (CORS, logging) sees and decorates it like any other (case AD2).
///
/// A path that no route matches is never refused here: with bad credentials it goes on,
/// anonymous, to the 404 (case PO3).
///
/// ```
/// use actix_web::{App, HttpResponse, test, web};
/// use keycard_actix::KeycardAuth;
/// use keycard_core::{Authenticators, InMemoryUserStore, JwtAuthentication, Settings, TokenService};
///
/// # actix_web::rt::System::new().block_on(async {
/// let settings = Settings::builder().hmac_secret([7u8; 32]).build().unwrap();
/// let tokens = TokenService::builder(settings).users(InMemoryUserStore::new()).build().unwrap();
/// let chain = Authenticators::new().with(JwtAuthentication::new(tokens));
/// let public = || async { HttpResponse::Ok().finish() };
/// let app = test::init_service(
///     App::new()
///         .service(web::resource("/public").wrap(KeycardAuth::new(chain.clone())).to(public))
///         .service(web::resource("/lenient").wrap(KeycardAuth::new(chain).lenient()).to(public)),
/// )
/// .await;
/// let stale = ("Authorization", "Bearer garbage");
/// // A bad token is an error, even on a public route...
/// let req = test::TestRequest::get().uri("/public").insert_header(stale).to_request();
/// assert_eq!(test::call_service(&app, req).await.status(), 401);
/// // ...unless the route opts out.
/// let req = test::TestRequest::get().uri("/lenient").insert_header(stale).to_request();
/// assert_eq!(test::call_service(&app, req).await.status(), 200);
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct KeycardAuth {
    authenticators: Rc<Authenticators>,
    lenient: bool,
}

impl KeycardAuth {
    /// Authenticates requests with `authenticators`, tried in order.
    pub fn new(authenticators: Authenticators) -> Self {
        Self {
            authenticators: Rc::new(authenticators),
            lenient: false,
        }
    }

    /// Bad credentials make the request anonymous instead of failing it: the explicit opt-out
    /// for public routes that must ignore stale tokens (case AU6). Store failures still
    /// answer 503.
    #[must_use]
    pub fn lenient(mut self) -> Self {
        self.lenient = true;
        self
    }

    /// The authenticator chain.
    pub fn authenticators(&self) -> &Authenticators {
        &self.authenticators
    }
}

impl<S, B> Transform<S, ServiceRequest> for KeycardAuth
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = KeycardAuthMiddleware<S>;
    type InitError = ();
    type Future = std::future::Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        std::future::ready(Ok(KeycardAuthMiddleware {
            service: Rc::new(service),
            authenticators: Rc::clone(&self.authenticators),
            lenient: self.lenient,
        }))
    }
}

/// The service [`KeycardAuth`] wraps around an `App`, `Scope` or `Resource`.
#[derive(Debug)]
pub struct KeycardAuthMiddleware<S> {
    service: Rc<S>,
    authenticators: Rc<Authenticators>,
    lenient: bool,
}

impl<S> KeycardAuthMiddleware<S> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.service
    }
}

impl<S, B> Service<ServiceRequest> for KeycardAuthMiddleware<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = LocalBoxFuture<Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let service = Rc::clone(&self.service);
        let authenticators = Rc::clone(&self.authenticators);
        let lenient = self.lenient;
        Box::pin(async move {
            let result = {
                let headers = ActixHeaders(req.headers());
                let query = req.query_string();
                let head = RequestHead {
                    method: req.method().as_str(),
                    path: crate::routed_path(req.match_info()),
                    query: (!query.is_empty()).then_some(query),
                    headers: &headers,
                };
                if lenient {
                    authenticators.outcome_lenient(&head).await
                } else {
                    authenticators.outcome(&head).await
                }
            };
            let outcome = match result {
                Ok(outcome) => outcome,
                // No route here: the 404 answers, not the credentials (case PO3), nor the
                // CSRF rule (axum's `route_layer` does not run there either).
                Err(err)
                    if (err.is_authentication() || err.is_csrf())
                        && !req
                            .resource_map()
                            .has_resource(crate::routed_path(req.match_info())) =>
                {
                    AuthOutcome {
                        identity: None,
                        challenge: authenticators.challenge().cloned(),
                    }
                }
                Err(err) => return Ok(req.into_response(render(&err)).map_into_right_body()),
            };
            req.extensions_mut().insert(outcome);
            service
                .call(req)
                .await
                .map(ServiceResponse::map_into_left_body)
        })
    }
}
