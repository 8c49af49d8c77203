//! Extractors: the caller, the token's claims, and a permission policy on the handler's
//! signature.
//!
//! They all read the [`AuthOutcome`] that [`AuthLayer`](keycard_tower::AuthLayer) put into
//! the request's extensions. Without that layer they answer 500 and log an error naming it
//! ([`MissingAuthLayer`], case PO5).

use std::any::Any;
use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;

use axum::extract::{FromRequestParts, OptionalFromRequestParts, OriginalUri};
use axum::http::request::Parts;
use axum::http::{Method, Uri};
use keycard_core::{AuthOutcome, Policy};
use serde::de::DeserializeOwned;

use crate::rejection::{
    ClaimsRejection, IdentityRejection, MissingAuthLayer, NotAuthenticated, RequireRejection,
};

fn outcome<'a>(
    parts: &'a Parts,
    extractor: &'static str,
) -> Result<&'a AuthOutcome, MissingAuthLayer> {
    parts
        .extensions
        .get::<AuthOutcome>()
        .ok_or_else(|| MissingAuthLayer::new(extractor))
}

/// The authenticated caller (DRF's `request.user`): 401 `not_authenticated` when the request
/// is anonymous. Dereferences to [`keycard_core::Identity`].
///
/// `Option<Identity>` is the caller or `None` (case AD1): bad credentials never reach it,
/// since [`AuthLayer`](keycard_tower::AuthLayer) has already answered 401 for them.
///
/// ```
/// use axum::{Router, body::Body, http::Request, routing::get};
/// use keycard_axum::{AuthLayer, Identity};
/// use keycard_core::Authenticators;
/// use tower::ServiceExt;
///
/// async fn hello(me: Option<Identity>) -> String {
///     me.map_or_else(|| "hello, stranger".to_owned(), |me| format!("hello, {}", me.username()))
/// }
/// async fn me(me: Identity) -> String {
///     me.user_id().to_owned()
/// }
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let app = Router::new()
///     .route("/hello", get(hello))
///     .route("/me", get(me))
///     .layer(AuthLayer::new(Authenticators::new()));
/// let res = app.clone().oneshot(Request::get("/hello").body(Body::empty()).unwrap()).await.unwrap();
/// assert_eq!(axum::body::to_bytes(res.into_body(), 1024).await.unwrap(), "hello, stranger");
/// // An empty chain has no challenge: DRF's rule makes "not authenticated" a 403 then.
/// let res = app.oneshot(Request::get("/me").body(Body::empty()).unwrap()).await.unwrap();
/// assert_eq!(res.status(), 403);
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct Identity(pub keycard_core::Identity);

impl Identity {
    /// Unwraps keycard-core's identity.
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

impl<S: Send + Sync> FromRequestParts<S> for Identity {
    type Rejection = IdentityRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let outcome = outcome(parts, "keycard_axum::Identity")?;
        match outcome.require_identity() {
            Ok(identity) => Ok(Self(identity.clone())),
            Err(err) => Err(NotAuthenticated::from(err).into()),
        }
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for Identity {
    type Rejection = MissingAuthLayer;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Self::Rejection> {
        Ok(outcome(parts, "Option<keycard_axum::Identity>")?
            .identity
            .clone()
            .map(Self))
    }
}

/// The verified token's claims read into the application's own type `T` (DRF's
/// `request.auth`, typed). Anonymous, or authenticated without a token (Basic, API key) →
/// 401 `not_authenticated`; claims that do not fit `T` → 401 `token_not_valid`. keycard-core
/// decides ([`AuthOutcome::claims_as`]).
///
/// ```
/// use axum::{Router, body::Body, http::Request, routing::get};
/// use keycard_axum::{AuthLayer, Claims};
/// use keycard_core::{Authenticators, InMemoryUserStore, JwtAuthentication, Settings, TokenService, User};
/// use tower::ServiceExt;
///
/// #[derive(serde::Deserialize)]
/// struct MyClaims {
///     user_id: String,
///     tenant: String,
/// }
///
/// async fn tenant(Claims(c): Claims<MyClaims>) -> String {
///     format!("{} of {}", c.user_id, c.tenant)
/// }
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let users = InMemoryUserStore::new();
/// users.insert(User::new("1", "alice"), "pw");
/// let tokens = TokenService::builder(Settings::builder().hmac_secret([3u8; 32]).build().unwrap())
///     .users(users)
///     .claims_hook(|_| serde_json::json!({"tenant": "acme"}).as_object().cloned().unwrap_or_default())
///     .build()
///     .unwrap();
/// let app = Router::new()
///     .route("/tenant", get(tenant))
///     .layer(AuthLayer::new(Authenticators::new().with(JwtAuthentication::new(tokens.clone()))));
/// let access = tokens.obtain("alice", "pw").await.unwrap().access;
/// let req = Request::get("/tenant").header("authorization", format!("Bearer {access}")).body(Body::empty()).unwrap();
/// let res = app.oneshot(req).await.unwrap();
/// assert_eq!(axum::body::to_bytes(res.into_body(), 1024).await.unwrap(), "1 of acme");
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

impl<S, T> FromRequestParts<S> for Claims<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = ClaimsRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let outcome = outcome(parts, "keycard_axum::Claims")?;
        outcome
            .claims_as::<T>()
            .map(Self)
            .map_err(ClaimsRejection::from_claims)
    }
}

/// A permission policy on the handler's signature (DRF's `permission_classes`): the handler
/// runs only when `P` allows the request. Anonymous and denied → 401 `not_authenticated`;
/// authenticated and denied → 403 with the policy's message and code.
///
/// `P` is a policy type with a `Default`: keycard's unit policies (`IsAuthenticated`,
/// `IsAdmin`, …), their compositions (`Or<IsAdmin, IsAuthenticated>`), or your own declared
/// with [`named_policy!`](keycard_core::named_policy).
///
/// The guard carries the object-level check: [`check_object`](Self::check_object) runs
/// `has_permission` and then `has_object_permission` on one object, as DRF's
/// `check_object_permissions`.
///
/// ```
/// use axum::{Router, body::Body, extract::Path, http::Request, routing::get};
/// use keycard_axum::{AuthLayer, Require, rejection::RequireRejection};
/// use keycard_core::{Authenticators, IsAdmin, named_policy, policy::object_policy};
/// use tower::ServiceExt;
///
/// struct Article {
///     owner: String,
/// }
/// named_policy! {
///     /// Administrators, or the article's owner.
///     CanEdit = IsAdmin | object_policy(|ctx, a: &Article| ctx.identity.is_some_and(|me| me.user_id() == a.owner));
/// }
///
/// async fn edit(guard: Require<CanEdit>, Path(id): Path<String>) -> Result<String, RequireRejection> {
///     let article = Article { owner: id.clone() }; // loaded from the database
///     guard.check_object(&article)?;
///     Ok(format!("editing {id}"))
/// }
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let app = Router::new()
///     .route("/articles/{id}", get(edit))
///     .layer(AuthLayer::new(Authenticators::new()));
/// // Anonymous: the object check says no.
/// let res = app.oneshot(Request::get("/articles/1").body(Body::empty()).unwrap()).await.unwrap();
/// assert_eq!(res.status(), 403); // 403, not 401: the empty chain has no challenge
/// # });
/// ```
pub struct Require<P> {
    outcome: AuthOutcome,
    method: Method,
    uri: Uri,
    policy: PhantomData<fn() -> P>,
}

impl<P> fmt::Debug for Require<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Require")
            .field("policy", &std::any::type_name::<P>())
            .field("identity", &self.outcome.identity)
            .finish_non_exhaustive()
    }
}

impl<P> Clone for Require<P> {
    fn clone(&self) -> Self {
        Self {
            outcome: self.outcome.clone(),
            method: self.method.clone(),
            uri: self.uri.clone(),
            policy: PhantomData,
        }
    }
}

impl<P> Require<P> {
    /// The caller, `None` when anonymous (a policy such as `AllowAny` lets those through).
    pub fn identity(&self) -> Option<&keycard_core::Identity> {
        self.outcome.identity.as_ref()
    }

    /// The whole outcome of the authenticator chain.
    pub fn outcome(&self) -> &AuthOutcome {
        &self.outcome
    }
}

impl<P: Policy + Default> Require<P> {
    /// DRF's `check_object_permissions`: `P`'s view-level check, then its object-level check
    /// on `object`. Return the rejection from the handler with `?`.
    pub fn check_object<T: Any>(&self, object: &T) -> Result<(), RequireRejection> {
        self.outcome
            .enforce_object(&P::default(), self.method.as_str(), self.uri.path(), object)
            .map_err(RequireRejection::from_policy)
    }
}

impl<S, P> FromRequestParts<S> for Require<P>
where
    S: Send + Sync,
    P: Policy + Default,
{
    type Rejection = RequireRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let outcome = outcome(parts, std::any::type_name::<Self>())?;
        // The path the client asked for, also below `Router::nest` (the same path an actix
        // app's policy sees).
        let uri = parts
            .extensions
            .get::<OriginalUri>()
            .map_or_else(|| parts.uri.clone(), |o| o.0.clone());
        outcome
            .enforce(&P::default(), parts.method.as_str(), uri.path())
            .map_err(RequireRejection::from_policy)?;
        Ok(Self {
            outcome: outcome.clone(),
            method: parts.method.clone(),
            uri,
            policy: PhantomData,
        })
    }
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use axum::routing::get;
    use keycard_core::policy::policy_fn;
    use keycard_core::{
        Authenticators, InMemoryUserStore, IsAuthenticated, JwtAuthentication, Settings,
        TokenService, User, named_policy,
    };
    use tower::ServiceExt;

    use super::*;
    use crate::AuthLayer;

    struct Fx {
        chain: Authenticators,
        alice: String,
    }

    async fn fx() -> Fx {
        let users = InMemoryUserStore::new();
        users.insert(User::new("1", "alice"), "pw");
        let alice = users.get("1").unwrap();
        let tokens =
            TokenService::builder(Settings::builder().hmac_secret([6u8; 32]).build().unwrap())
                .users(users)
                .build()
                .unwrap();
        let access = tokens.obtain_for(&alice).await.unwrap().access;
        Fx {
            chain: Authenticators::new().with(JwtAuthentication::new(tokens)),
            alice: format!("Bearer {access}"),
        }
    }

    async fn call(app: &Router, path: &str, auth: Option<&str>) -> (StatusCode, serde_json::Value) {
        let mut req = Request::get(path);
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let res = app
            .clone()
            .oneshot(req.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = res.status();
        let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .unwrap();
        (
            status,
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).into()),
        )
    }

    #[tokio::test]
    async fn identity_of_an_anonymous_request_is_401_with_the_challenge() {
        let fx = fx().await;
        let app = Router::new()
            .route(
                "/me",
                get(|me: Identity| async move { format!("user {}", me.user_id()) }),
            )
            .layer(AuthLayer::new(fx.chain));
        let req = Request::get("/me").body(Body::empty()).unwrap();
        let res = app.clone().oneshot(req).await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(res.headers()["www-authenticate"], r#"Bearer realm="api""#);
        assert_eq!(
            call(&app, "/me", Some(&fx.alice)).await,
            (StatusCode::OK, "user 1".into())
        );
    }

    #[tokio::test]
    async fn claims_that_do_not_fit_are_401_token_not_valid() {
        #[derive(serde::Deserialize)]
        struct Tenant {
            tenant: String,
        }
        #[derive(serde::Deserialize)]
        struct Mine {
            user_id: String,
        }
        let fx = fx().await;
        let app = Router::new()
            .route(
                "/tenant",
                get(|Claims(t): Claims<Tenant>| async move { t.tenant }),
            )
            .route(
                "/mine",
                get(|Claims(m): Claims<Mine>| async move { format!("user {}", m.user_id) }),
            )
            .layer(AuthLayer::new(fx.chain));
        let (status, body) = call(&app, "/tenant", Some(&fx.alice)).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("token_not_valid"))
        );
        assert_eq!(
            call(&app, "/mine", Some(&fx.alice)).await,
            (StatusCode::OK, "user 1".into())
        );
        let (status, body) = call(&app, "/mine", None).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("not_authenticated"))
        );
    }

    #[tokio::test]
    async fn every_extractor_without_auth_layer_is_a_500() {
        let app = Router::new()
            .route("/identity", get(|_: Identity| async { "" }))
            .route("/optional", get(|_: Option<Identity>| async { "" }))
            .route("/claims", get(|_: Claims<serde_json::Value>| async { "" }))
            .route("/require", get(|_: Require<IsAuthenticated>| async { "" }));
        for path in ["/identity", "/optional", "/claims", "/require"] {
            let (status, body) = call(&app, path, None).await;
            assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{path}");
            assert_eq!(
                body,
                serde_json::json!({"detail": "A server error occurred.", "code": "server_error"}),
                "{path}"
            );
        }
    }

    named_policy! {
        /// Only requests for paths under /api/v1/.
        UnderV1 = policy_fn(|ctx| ctx.path.starts_with("/api/v1/"));
    }

    #[tokio::test]
    async fn require_sees_the_full_path_below_nest() {
        let fx = fx().await;
        let inner = Router::new().route("/items", get(|_: Require<UnderV1>| async { "ok" }));
        let app = Router::new()
            .nest("/api/v1", inner)
            .layer(AuthLayer::new(fx.chain));
        assert_eq!(
            call(&app, "/api/v1/items", Some(&fx.alice)).await,
            (StatusCode::OK, "ok".into())
        );
    }

    #[tokio::test]
    async fn check_object_runs_view_then_object_level() {
        struct Doc {
            owner: &'static str,
        }
        named_policy! {
            /// The owner of the doc.
            IsOwner = IsAuthenticated & keycard_core::policy::object_policy(|ctx, d: &Doc| ctx.identity.is_some_and(|me| me.user_id() == d.owner));
        }
        async fn show(
            guard: Require<IsOwner>,
            axum::extract::Path(owner): axum::extract::Path<String>,
        ) -> Result<String, RequireRejection> {
            let doc = Doc {
                owner: if owner == "1" { "1" } else { "2" },
            };
            guard.check_object(&doc)?;
            Ok(format!(
                "doc of {}",
                guard.identity().map_or("?", |i| i.user_id())
            ))
        }
        let fx = fx().await;
        let app = Router::new()
            .route("/docs/{owner}", get(show))
            .layer(AuthLayer::new(fx.chain));
        assert_eq!(
            call(&app, "/docs/1", Some(&fx.alice)).await,
            (StatusCode::OK, "doc of 1".into())
        );
        let (status, body) = call(&app, "/docs/2", Some(&fx.alice)).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("permission_denied"))
        );
        let (status, body) = call(&app, "/docs/1", None).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("not_authenticated"))
        );
    }
}
