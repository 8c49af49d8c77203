//! Who the caller is: DRF's `request.user` and `request.auth` in one value.

use std::fmt;
use std::sync::Arc;

use serde::de::DeserializeOwned;

use crate::store::User;
use crate::token::Claims;

/// The authenticated caller. Cheap to clone (one `Arc`).
///
/// ```
/// use keycard_core::{Identity, User};
/// let id = Identity::from_user(User::new("42", "alice").admin(true), "basic");
/// assert_eq!(id.user_id(), "42");
/// assert!(id.is_admin());
/// assert_eq!(id.authenticator(), "basic");
/// ```
#[derive(Clone)]
pub struct Identity(Arc<Inner>);

struct Inner {
    user: User,
    claims: Option<Claims>,
    authenticator: &'static str,
}

impl Identity {
    /// An identity for `user`, established by the authenticator named `authenticator`.
    pub fn from_user(user: User, authenticator: &'static str) -> Self {
        Self(Arc::new(Inner {
            user,
            claims: None,
            authenticator,
        }))
    }

    /// An identity for `user` established by a verified token with `claims`. Scopes and
    /// roles found in the claims (`scope` / `scp` / `roles`) are added to the user's own.
    pub fn from_token(mut user: User, claims: Claims, authenticator: &'static str) -> Self {
        for s in claims.scopes() {
            if !user.scopes.iter().any(|have| have == &s) {
                user.scopes.push(s);
            }
        }
        for r in claims.roles() {
            if !user.roles.iter().any(|have| have == &r) {
                user.roles.push(r);
            }
        }
        Self(Arc::new(Inner {
            user,
            claims: Some(claims),
            authenticator,
        }))
    }

    /// The user id, as a string.
    pub fn user_id(&self) -> &str {
        &self.0.user.id
    }
    /// The username (empty when the authenticator does not know it, e.g. stateless JWT).
    pub fn username(&self) -> &str {
        &self.0.user.username
    }
    /// Whether the caller is an administrator (DRF's `is_staff`).
    pub fn is_admin(&self) -> bool {
        self.0.user.is_admin
    }
    /// The caller's scopes.
    pub fn scopes(&self) -> &[String] {
        &self.0.user.scopes
    }
    /// Whether the caller holds `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.0.user.scopes.iter().any(|s| s == scope)
    }
    /// The caller's roles.
    pub fn roles(&self) -> &[String] {
        &self.0.user.roles
    }
    /// Whether the caller holds `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.0.user.roles.iter().any(|r| r == role)
    }
    /// The user record behind the identity.
    pub fn user(&self) -> &User {
        &self.0.user
    }
    /// The verified token's claims, when a token authenticated the request (DRF's `request.auth`).
    pub fn claims(&self) -> Option<&Claims> {
        self.0.claims.as_ref()
    }
    /// The verified claims read into the application's own type.
    ///
    /// `None` when no token authenticated the request or the claims do not fit `T`.
    pub fn claims_as<T: DeserializeOwned>(&self) -> Option<T> {
        self.0.claims.as_ref().and_then(|c| c.deserialize().ok())
    }
    /// Which authenticator answered (`"jwt"`, `"jwt_stateless"`, `"basic"`, `"token"`, or a custom name).
    pub fn authenticator(&self) -> &'static str {
        self.0.authenticator
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // No raw credential is ever stored here; claims are summarised, not dumped.
        f.debug_struct("Identity")
            .field("user_id", &self.user_id())
            .field("username", &self.username())
            .field("is_admin", &self.is_admin())
            .field("scopes", &self.scopes())
            .field("roles", &self.roles())
            .field("authenticator", &self.authenticator())
            .field("token", &self.0.claims.as_ref().map(|_| "******"))
            .finish()
    }
}
