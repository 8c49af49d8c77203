//! Rejections: every way a keycard extractor refuses a request, each a named type.
//!
//! The leaf types ([`MissingAuthLayer`], [`NotAuthenticated`], [`PermissionDenied`],
//! [`InvalidClaims`]) each wrap keycard-core's [`AuthError`] and render through its one
//! renderer ([`AuthError::render`]), so an axum app and an actix app answer with the same
//! bytes. Each extractor's rejection is an enum of the leaves it can produce
//! ([`IdentityRejection`], [`ClaimsRejection`], [`RequireRejection`]): match on it for the
//! exact cause, or return it from a handler as it is.
//!
//! Every rejection is logged at TRACE under the target `keycard::axum::rejection` when it
//! becomes a response; a missing [`AuthLayer`](keycard_tower::AuthLayer) is logged at ERROR
//! under `keycard::axum` when it is found.
//!
//! ```
//! use axum::response::IntoResponse;
//! use keycard_axum::rejection::{IdentityRejection, NotAuthenticated};
//! use keycard_core::{AuthError, Challenge};
//!
//! let rejection = IdentityRejection::from(NotAuthenticated::from(AuthError::not_authenticated(Some(Challenge::bearer("api")))));
//! assert_eq!(rejection.status(), 401);
//! assert_eq!(rejection.body_text(), r#"{"detail":"Authentication credentials were not provided.","code":"not_authenticated"}"#);
//! let res = rejection.into_response();
//! assert_eq!(res.headers()["www-authenticate"], r#"Bearer realm="api""#);
//! ```

use std::fmt;

use axum::body::Body;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use keycard_core::AuthError;

/// The log target of rejections turned into responses (TRACE).
pub const REJECTION_TARGET: &str = "keycard::axum::rejection";

/// What is logged, and kept in the [`AuthError::Misconfigured`] detail, when an extractor
/// finds no [`AuthOutcome`](keycard_core::AuthOutcome) in the request's extensions.
pub const MISSING_AUTH_LAYER: &str = "a keycard extractor found no AuthOutcome in the request extensions: \
     add keycard::tower::AuthLayer around the routes whose handlers use keycard extractors \
     (`.layer(AuthLayer::new(..))` or `.route_layer(AuthLayer::new(..))` on the Router)";

/// Renders `err` through keycard-core's renderer into an axum response.
pub(crate) fn render(err: &AuthError) -> Response {
    tracing::trace!(target: REJECTION_TARGET, status = err.status().as_u16(), code = err.code(), "request refused");
    err.into_response::<Body>()
}

macro_rules! leaf_rejection {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone)]
        // Boxed: keycard-core's error is large, and rejections travel in `Result`s.
        pub struct $name(Box<AuthError>);

        impl $name {
            /// The HTTP status of the answer.
            pub fn status(&self) -> StatusCode {
                self.0.status()
            }

            /// The body of the answer, as text.
            pub fn body_text(&self) -> String {
                String::from_utf8_lossy(&self.0.render().body).into_owned()
            }

            /// keycard-core's error behind this rejection.
            pub fn auth_error(&self) -> &AuthError {
                &self.0
            }

            /// Unwraps keycard-core's error.
            pub fn into_inner(self) -> AuthError {
                *self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl std::error::Error for $name {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }

        impl IntoResponse for $name {
            fn into_response(self) -> Response {
                render(&self.0)
            }
        }
    };
}

leaf_rejection! {
    /// No [`AuthLayer`](keycard_tower::AuthLayer) ran in front of the extractor: the
    /// application is wired wrongly (case PO5). 500 with a generic body; the log line (ERROR,
    /// target `keycard::axum`) names `keycard::tower::AuthLayer`. Never a panic, and never a
    /// silent "anonymous".
    MissingAuthLayer
}

impl MissingAuthLayer {
    /// The rejection of `extractor` (a type name, for the log), logged at ERROR.
    pub fn new(extractor: &'static str) -> Self {
        tracing::error!(target: crate::LOG_TARGET, extractor, "{MISSING_AUTH_LAYER}");
        Self(Box::new(AuthError::Misconfigured {
            detail: MISSING_AUTH_LAYER,
        }))
    }
}

leaf_rejection! {
    /// The request is anonymous and the extractor needs a caller: 401 `not_authenticated`
    /// with the chain's challenge (403 when the first authenticator has no challenge, as in
    /// DRF).
    NotAuthenticated
}

leaf_rejection! {
    /// The caller is authenticated and the policy says no: 403 with the policy's message and
    /// code (and RFC 6750 `insufficient_scope` for a missing scope).
    PermissionDenied
}

leaf_rejection! {
    /// The token's claims do not fit the application's claims type: 401 `token_not_valid`
    /// ("Token has an invalid claim").
    InvalidClaims
}

impl From<AuthError> for NotAuthenticated {
    fn from(err: AuthError) -> Self {
        Self(Box::new(err))
    }
}

impl From<AuthError> for PermissionDenied {
    fn from(err: AuthError) -> Self {
        Self(Box::new(err))
    }
}

impl From<AuthError> for InvalidClaims {
    fn from(err: AuthError) -> Self {
        Self(Box::new(err))
    }
}

macro_rules! composite_rejection {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vmeta])* $variant($variant),)+
        }

        impl $name {
            /// The HTTP status of the answer.
            pub fn status(&self) -> StatusCode {
                match self { $(Self::$variant(r) => r.status(),)+ }
            }

            /// The body of the answer, as text.
            pub fn body_text(&self) -> String {
                match self { $(Self::$variant(r) => r.body_text(),)+ }
            }

            /// keycard-core's error behind this rejection.
            pub fn auth_error(&self) -> &AuthError {
                match self { $(Self::$variant(r) => r.auth_error(),)+ }
            }
        }

        $(
            impl From<$variant> for $name {
                fn from(r: $variant) -> Self {
                    Self::$variant(r)
                }
            }
        )+

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self { $(Self::$variant(r) => fmt::Display::fmt(r, f),)+ }
            }
        }

        impl std::error::Error for $name {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                match self { $(Self::$variant(r) => Some(r),)+ }
            }
        }

        impl IntoResponse for $name {
            fn into_response(self) -> Response {
                match self { $(Self::$variant(r) => r.into_response(),)+ }
            }
        }
    };
}

composite_rejection! {
    /// Why the [`Identity`](crate::Identity) extractor refused.
    IdentityRejection {
        /// No `AuthLayer` in front: 500.
        MissingAuthLayer,
        /// Anonymous: 401.
        NotAuthenticated,
    }
}

composite_rejection! {
    /// Why the [`Claims`](crate::Claims) extractor refused.
    ClaimsRejection {
        /// No `AuthLayer` in front: 500.
        MissingAuthLayer,
        /// Anonymous, or authenticated without a token: 401.
        NotAuthenticated,
        /// The claims do not fit the type: 401 `token_not_valid`.
        InvalidClaims,
    }
}

composite_rejection! {
    /// Why the [`Require`](crate::Require) extractor, or its
    /// [`check_object`](crate::Require::check_object), refused.
    RequireRejection {
        /// No `AuthLayer` in front: 500.
        MissingAuthLayer,
        /// Anonymous and denied: 401.
        NotAuthenticated,
        /// Authenticated and denied: 403.
        PermissionDenied,
    }
}

impl RequireRejection {
    /// Sorts a policy's refusal: the 401 family is [`NotAuthenticated`], the rest
    /// [`PermissionDenied`].
    pub(crate) fn from_policy(err: AuthError) -> Self {
        if err.is_authentication() {
            Self::NotAuthenticated(NotAuthenticated::from(err))
        } else {
            Self::PermissionDenied(PermissionDenied::from(err))
        }
    }
}

impl ClaimsRejection {
    /// Sorts [`AuthOutcome::claims_as`](keycard_core::AuthOutcome::claims_as)'s refusal.
    pub(crate) fn from_claims(err: AuthError) -> Self {
        match err {
            AuthError::NotAuthenticated { .. } => {
                Self::NotAuthenticated(NotAuthenticated::from(err))
            }
            other => Self::InvalidClaims(InvalidClaims::from(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use keycard_core::{Challenge, TokenError};

    use super::*;

    #[test]
    fn missing_auth_layer_is_a_generic_500() {
        let r = MissingAuthLayer::new("Identity");
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            r.body_text(),
            r#"{"detail":"A server error occurred.","code":"server_error"}"#
        );
        assert!(MISSING_AUTH_LAYER.contains("keycard::tower::AuthLayer"));
        let res = r.into_response();
        assert_eq!(res.headers()["content-type"], "application/json");
    }

    #[test]
    fn policy_refusals_are_sorted_by_family() {
        let anon = RequireRejection::from_policy(AuthError::not_authenticated(Some(
            Challenge::bearer("api"),
        )));
        assert!(matches!(anon, RequireRejection::NotAuthenticated(_)));
        assert_eq!(anon.status(), 401);
        let denied = RequireRejection::from_policy(AuthError::permission_denied());
        assert!(matches!(denied, RequireRejection::PermissionDenied(_)));
        assert_eq!(denied.status(), 403);
        assert!(
            denied
                .into_response()
                .headers()
                .get("www-authenticate")
                .is_none()
        );
    }

    #[test]
    fn claims_refusals_are_sorted() {
        let anon = ClaimsRejection::from_claims(AuthError::not_authenticated(None));
        assert!(matches!(anon, ClaimsRejection::NotAuthenticated(_)));
        let bad = ClaimsRejection::from_claims(
            AuthError::invalid_token(TokenError::InvalidClaim)
                .with_challenge(Some(Challenge::bearer("api"))),
        );
        assert!(matches!(bad, ClaimsRejection::InvalidClaims(_)));
        assert_eq!(bad.status(), 401);
        assert_eq!(bad.auth_error().code(), "token_not_valid");
        assert_eq!(bad.to_string(), "Token has an invalid claim");
    }
}
