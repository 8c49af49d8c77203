//! keycard for tower: authenticate every request with [`AuthLayer`], and put a permission
//! policy on a route or a group with [`RequireLayer`]. Works with anything speaking
//! `http::Request` / `http::Response`: axum, hyper, tonic.
//!
//! ```
//! use http::{Request, Response, StatusCode};
//! use keycard_core::{Authenticators, InMemoryUserStore, IsAdmin, JwtAuthentication, Settings, TokenService, User};
//! use keycard_tower::{AuthLayer, RequireLayer};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let users = InMemoryUserStore::new();
//! users.insert(User::new("1", "alice"), "alice-password");
//! users.insert(User::new("2", "root").admin(true), "root-password");
//! let tokens = TokenService::builder(Settings::builder().hmac_secret([7u8; 32]).build().unwrap())
//!     .users(users)
//!     .build()
//!     .unwrap();
//!
//! let admin_only = ServiceBuilder::new()
//!     .layer(AuthLayer::new(Authenticators::new().with(JwtAuthentication::new(tokens.clone()))))
//!     .layer(RequireLayer::new(IsAdmin))
//!     .service(service_fn(|_: Request<String>| async {
//!         Ok::<_, std::convert::Infallible>(Response::new(br#"{"admin":true}"#.to_vec()))
//!     }));
//!
//! let call = |token: Option<String>| {
//!     let mut req = Request::get("/api/admin/");
//!     if let Some(t) = token {
//!         req = req.header("authorization", format!("Bearer {t}"));
//!     }
//!     admin_only.clone().oneshot(req.body(String::new()).unwrap())
//! };
//! let alice = tokens.obtain("alice", "alice-password").await.unwrap().access;
//! let root = tokens.obtain("root", "root-password").await.unwrap().access;
//! assert_eq!(call(None).await.unwrap().status(), StatusCode::UNAUTHORIZED); // who are you?
//! assert_eq!(call(Some(alice)).await.unwrap().status(), StatusCode::FORBIDDEN); // not allowed
//! assert_eq!(call(Some(root)).await.unwrap().status(), StatusCode::OK);
//! # });
//! ```
//!
//! The order matters: [`AuthLayer`] outside (it puts the [`AuthOutcome`](keycard_core::AuthOutcome)
//! into the request's extensions), [`RequireLayer`] inside. Both answer refusals with
//! keycard-core's one renderer ([`AuthError::render`](keycard_core::AuthError::render)), so
//! every adapter sends the same bytes. The response body type must implement
//! `From<Vec<u8>>` (see [`auth`](auth#response-bodies)).

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod auth;
pub mod require;

pub use auth::{Auth, AuthLayer};
pub use require::{Require, RequireLayer};

#[cfg(test)]
mod test_support {
    use keycard_core::{
        Authenticators, InMemoryUserStore, JwtAuthentication, Settings, TokenService, User,
    };

    /// Users alice ("1") and root ("2", admin), a token service and alice's access token.
    pub(crate) struct Fixture {
        pub(crate) tokens: TokenService,
        pub(crate) alice_access: String,
    }

    impl Fixture {
        pub(crate) async fn new() -> Self {
            let users = InMemoryUserStore::new();
            users.insert(User::new("1", "alice"), "alice-password");
            users.insert(User::new("2", "root").admin(true), "root-password");
            let alice = users.get("1").unwrap();
            let settings = Settings::builder().hmac_secret([5u8; 32]).build().unwrap();
            let tokens = TokenService::builder(settings)
                .users(users)
                .build()
                .unwrap();
            let alice_access = tokens.obtain_for(&alice).await.unwrap().access;
            Self {
                tokens,
                alice_access,
            }
        }

        pub(crate) fn chain(&self) -> Authenticators {
            Authenticators::new().with(JwtAuthentication::new(self.tokens.clone()))
        }

        pub(crate) fn alice_bearer(&self) -> String {
            format!("Bearer {}", self.alice_access)
        }
    }

    pub(crate) fn body_json(bytes: &[u8]) -> serde_json::Value {
        serde_json::from_slice(bytes).unwrap()
    }
}
