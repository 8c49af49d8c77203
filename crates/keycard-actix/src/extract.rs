//! Extractors: the caller, the token's claims, and a policy checked before the handler.

use std::any::Any;
use std::fmt;
use std::future::{Ready, ready};
use std::marker::PhantomData;
use std::ops::Deref;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use keycard_core::Policy;
use serde::de::DeserializeOwned;

use crate::rejection::Rejection;

/// The authenticated caller (DRF's `request.user`): 401 `not_authenticated` when the
/// request is anonymous. Dereferences to [`keycard_core::Identity`].
///
/// `Option<Identity>` is the caller or `None` (case AD1); bad credentials never reach it,
/// [`KeycardAuth`](crate::KeycardAuth) has already answered 401 for them.
///
/// ```
/// use actix_web::{App, test, web};
/// use keycard_actix::{Identity, KeycardAuth};
/// use keycard_core::Authenticators;
///
/// async fn hello(me: Option<Identity>) -> String {
///     me.map_or_else(|| "hello, stranger".to_owned(), |me| format!("hello, {}", me.username()))
/// }
/// # actix_web::rt::System::new().block_on(async {
/// let app = test::init_service(
///     App::new().route("/", web::get().to(hello)).wrap(KeycardAuth::new(Authenticators::new())),
/// )
/// .await;
/// let body = test::call_and_read_body(&app, test::TestRequest::get().uri("/").to_request()).await;
/// assert_eq!(body, "hello, stranger");
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct Identity(pub keycard_core::Identity);

impl Identity {
    /// Unwraps the keycard-core identity.
    pub fn into_inner(self) -> keycard_core::Identity {
        self.0
    }
}

impl Deref for Identity {
    type Target = keycard_core::Identity;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl FromRequest for Identity {
    type Error = Rejection;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let found = crate::with_outcome(&req.extensions(), "the Identity extractor", |outcome| {
            outcome.require_identity().cloned()
        });
        ready(found.map(Identity).map_err(Rejection::from))
    }
}

/// The verified token's claims read into the application's own type `T` (DRF's
/// `request.auth`, typed). Anonymous, or authenticated without a token → 401
/// `not_authenticated`; claims that do not fit `T` → 401 `token_not_valid` (keycard-core's
/// [`AuthOutcome::claims_as`](keycard_core::AuthOutcome::claims_as) decides).
///
/// ```
/// use actix_web::{App, test, web};
/// use keycard_actix::{Claims, KeycardAuth};
/// use keycard_core::{Authenticators, InMemoryUserStore, JwtAuthentication, Settings, TokenService, User};
///
/// #[derive(serde::Deserialize)]
/// struct MyClaims {
///     user_id: String,
///     jti: String,
/// }
///
/// async fn whoami(Claims(claims): Claims<MyClaims>) -> String {
///     format!("{} ({} chars of jti)", claims.user_id, claims.jti.len())
/// }
/// # actix_web::rt::System::new().block_on(async {
/// let users = InMemoryUserStore::new();
/// users.insert(User::new("7", "gus"), "pw");
/// let tokens = TokenService::builder(Settings::builder().hmac_secret([2u8; 32]).build().unwrap())
///     .users(users)
///     .build()
///     .unwrap();
/// let access = tokens.obtain("gus", "pw").await.unwrap().access;
/// let app = test::init_service(
///     App::new()
///         .route("/", web::get().to(whoami))
///         .wrap(KeycardAuth::new(Authenticators::new().with(JwtAuthentication::new(tokens)))),
/// )
/// .await;
/// let req = test::TestRequest::get().uri("/").insert_header(("Authorization", format!("Bearer {access}"))).to_request();
/// assert!(test::call_and_read_body(&app, req).await.starts_with(b"7 ("));
/// let anonymous = test::TestRequest::get().uri("/").to_request();
/// assert_eq!(test::call_service(&app, anonymous).await.status(), 401);
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct Claims<T>(pub T);

impl<T> Deref for Claims<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Claims<T> {
    type Error = Rejection;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let found = crate::with_outcome(&req.extensions(), "the Claims extractor", |outcome| {
            outcome.claims_as()
        });
        ready(found.map(Claims).map_err(Rejection::from))
    }
}

/// A policy checked before the handler runs (DRF's `permission_classes` on a view): the
/// handler only runs when `P` allows the request. Anonymous and denied → 401, authenticated
/// and denied → 403. Inside the handler, [`check_object`](Self::check_object) runs the
/// policy's object-level check (DRF's `check_object_permissions`).
///
/// `P` is built with `Default`: keycard's unit policies, or a type declared with
/// [`named_policy!`](keycard_core::named_policy).
///
/// ```
/// use actix_web::{App, HttpResponse, test, web};
/// use keycard_actix::{KeycardAuth, Rejection, Require};
/// use keycard_core::{Authenticators, BasicAuthentication, InMemoryUserStore, IsAdmin, User, named_policy};
/// use keycard_core::policy::object_policy;
/// use std::sync::Arc;
///
/// struct Profile {
///     owner: String,
/// }
/// named_policy! {
///     /// Administrators, or the profile's owner.
///     pub AdminOrOwner = IsAdmin | object_policy(|ctx, p: &Profile| ctx.identity.is_some_and(|i| i.username() == p.owner));
/// }
///
/// async fn profile(guard: Require<AdminOrOwner>, name: web::Path<String>) -> Result<HttpResponse, Rejection> {
///     let profile = Profile { owner: name.into_inner() };
///     guard.check_object(&profile)?;
///     Ok(HttpResponse::Ok().body(profile.owner))
/// }
/// # actix_web::rt::System::new().block_on(async {
/// let users = InMemoryUserStore::new();
/// users.insert(User::new("1", "alice"), "pw");
/// let chain = Authenticators::new().with(BasicAuthentication::new(Arc::new(users), "api"));
/// let app = test::init_service(
///     App::new().route("/profile/{name}", web::get().to(profile)).wrap(KeycardAuth::new(chain)),
/// )
/// .await;
/// let alice = ("Authorization", "Basic YWxpY2U6cHc="); // alice:pw
/// let own = test::TestRequest::get().uri("/profile/alice").insert_header(alice).to_request();
/// assert_eq!(test::call_service(&app, own).await.status(), 200);
/// let other = test::TestRequest::get().uri("/profile/bob").insert_header(alice).to_request();
/// assert_eq!(test::call_service(&app, other).await.status(), 403);
/// # });
/// ```
pub struct Require<P> {
    req: HttpRequest,
    identity: Option<keycard_core::Identity>,
    policy: PhantomData<fn() -> P>,
}

impl<P> fmt::Debug for Require<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Require")
            .field("policy", &std::any::type_name::<P>())
            .field("identity", &self.identity)
            .finish()
    }
}

impl<P: Policy + Default> Require<P> {
    /// The caller, when authenticated (a policy such as `AllowAny` lets anonymous requests in).
    pub fn identity(&self) -> Option<&keycard_core::Identity> {
        self.identity.as_ref()
    }

    /// Runs `P`'s view-level and object-level checks against `object`: `Ok` to go on, or the
    /// rejection to return from the handler (403, or 401 for an anonymous caller).
    pub fn check_object<T: Any>(&self, object: &T) -> Result<(), Rejection> {
        crate::with_outcome(&self.req.extensions(), "Require::check_object", |outcome| {
            outcome.enforce_object(
                &P::default(),
                self.req.method().as_str(),
                crate::routed_path(self.req.match_info()),
                object,
            )
        })
        .map_err(Rejection::from)
    }
}

impl<P: Policy + Default> FromRequest for Require<P> {
    type Error = Rejection;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let found = crate::with_outcome(&req.extensions(), "the Require extractor", |outcome| {
            outcome.enforce(
                &P::default(),
                req.method().as_str(),
                crate::routed_path(req.match_info()),
            )?;
            Ok(outcome.identity.clone())
        });
        ready(
            found
                .map(|identity| Require {
                    req: req.clone(),
                    identity,
                    policy: PhantomData,
                })
                .map_err(Rejection::from),
        )
    }
}
