//! Permission policies: DRF's permission classes, composed with `&`, `|` and `!`.
//!
//! A [`Policy`] answers two questions: may this caller make this request at all
//! ([`has_permission`](Policy::has_permission)), and may it act on this one object
//! ([`has_object_permission`](Policy::has_object_permission)). A denial carries a message
//! and a code. When the caller is anonymous, a denial becomes 401 `not_authenticated`;
//! otherwise 403 (see [`enforce`]).
//!
//! Composition follows DRF exactly:
//! - `A & B`: both must allow; the first denial is the answer.
//! - `A | B`: either may allow; when both deny, the *first* denial is the answer. At object
//!   level, `A | B` allows when `(A.view ∧ A.object) ∨ (B.view ∧ B.object)` — never
//!   `A.object ∨ B.object`, which would let a view-level denial through.
//! - `!A`: allows what `A` denies (DRF's `~`). At view level that is `¬A.view`; at object
//!   level it is `¬A.object` alone — `A`'s view-level answer is not consulted there, exactly
//!   as in DRF's `NOT`. Two consequences to mind: a policy without an object check
//!   (`IsAdmin`, `HasScope`… allow every object) negates to one that denies *every* object,
//!   so `IsAuthenticated & !IsAdmin` refuses every object check; and an object-only policy
//!   ([`object_policy`]: allows every request at view level) negates to one that denies every
//!   request. Negate view-level policies on routes without object checks, or write the
//!   inverse as a policy of its own. `!A`'s denial is the default message and code.
//!
//! ```
//! use keycard_core::{IsAdmin, IsAuthenticated, HasScope, Policy, PolicyContext, Identity, User};
//! let policy = IsAuthenticated & (IsAdmin | HasScope::new("articles:write"));
//! let alice = Identity::from_user(User::new("1", "alice").with_scopes(["articles:write"]), "test");
//! assert!(policy.has_permission(&PolicyContext::new("POST", "/articles", Some(&alice))).is_ok());
//! assert!(policy.has_permission(&PolicyContext::new("POST", "/articles", None)).is_err());
//! ```

use std::any::Any;
use std::borrow::Cow;
use std::marker::PhantomData;
use std::ops::{BitAnd, BitOr, Not as NotOp};

use crate::error::{AuthError, Challenge};
use crate::identity::Identity;

/// DRF's default denial message.
pub const DEFAULT_MESSAGE: &str = "You do not have permission to perform this action.";
/// DRF's default denial code.
pub const DEFAULT_CODE: &str = "permission_denied";

/// What a policy sees: the request line and the caller.
#[derive(Debug, Clone, Copy)]
pub struct PolicyContext<'a> {
    /// The request method, upper case (`GET`).
    pub method: &'a str,
    /// The request path.
    pub path: &'a str,
    /// The caller, when authenticated.
    pub identity: Option<&'a Identity>,
}

impl<'a> PolicyContext<'a> {
    /// A context.
    pub fn new(method: &'a str, path: &'a str, identity: Option<&'a Identity>) -> Self {
        Self {
            method,
            path,
            identity,
        }
    }
    /// Whether the method is safe (GET, HEAD, OPTIONS): DRF's `SAFE_METHODS`.
    pub fn is_safe_method(&self) -> bool {
        matches!(self.method, "GET" | "HEAD" | "OPTIONS")
    }
}

/// A policy's "no": a message and a code (and, for scopes, which scope was missing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    /// Human sentence, the body's `detail`.
    pub message: Cow<'static, str>,
    /// Machine word, the body's `code`.
    pub code: Cow<'static, str>,
    /// A missing scope: the 403 carries RFC 6750 `insufficient_scope`.
    pub scope: Option<Cow<'static, str>>,
}

impl Default for Denial {
    fn default() -> Self {
        Self {
            message: DEFAULT_MESSAGE.into(),
            code: DEFAULT_CODE.into(),
            scope: None,
        }
    }
}

impl Denial {
    /// A denial with a message and a code.
    pub fn new(message: impl Into<Cow<'static, str>>, code: impl Into<Cow<'static, str>>) -> Self {
        Self {
            message: message.into(),
            code: code.into(),
            scope: None,
        }
    }
}

/// A permission class. Implement `has_permission`, and `has_object_permission` when the
/// policy cares about single objects (the object is the application's own type; downcast it).
pub trait Policy: Send + Sync + 'static {
    /// May this caller make this request?
    fn has_permission(&self, ctx: &PolicyContext<'_>) -> Result<(), Denial>;
    /// May this caller act on `object`? Runs only after `has_permission` allowed.
    fn has_object_permission(
        &self,
        ctx: &PolicyContext<'_>,
        object: &dyn Any,
    ) -> Result<(), Denial> {
        let _ = (ctx, object);
        Ok(())
    }
}

/// Turns a policy's answer into the request's answer: anonymous and denied → 401
/// `not_authenticated` (with the chain's challenge; 403 without one), authenticated and
/// denied → 403 with the denial's message and code.
pub fn enforce<P: Policy + ?Sized>(
    policy: &P,
    ctx: &PolicyContext<'_>,
    challenge: Option<&Challenge>,
) -> Result<(), AuthError> {
    policy
        .has_permission(ctx)
        .map_err(|d| denial_to_error(d, ctx, challenge))
}

/// [`enforce`] for one object: the view-level check, then the object-level check.
pub fn enforce_object<P: Policy + ?Sized>(
    policy: &P,
    ctx: &PolicyContext<'_>,
    object: &dyn Any,
    challenge: Option<&Challenge>,
) -> Result<(), AuthError> {
    policy
        .has_permission(ctx)
        .and_then(|()| policy.has_object_permission(ctx, object))
        .map_err(|d| denial_to_error(d, ctx, challenge))
}

fn denial_to_error(d: Denial, ctx: &PolicyContext<'_>, challenge: Option<&Challenge>) -> AuthError {
    if ctx.identity.is_none() {
        AuthError::not_authenticated(challenge.cloned())
    } else {
        AuthError::PermissionDenied {
            detail: d.message,
            code: d.code,
            scope: d.scope,
            challenge: challenge.cloned(),
        }
    }
}

impl<P: Policy + ?Sized> Policy for Box<P> {
    fn has_permission(&self, ctx: &PolicyContext<'_>) -> Result<(), Denial> {
        (**self).has_permission(ctx)
    }
    fn has_object_permission(
        &self,
        ctx: &PolicyContext<'_>,
        object: &dyn Any,
    ) -> Result<(), Denial> {
        (**self).has_object_permission(ctx, object)
    }
}

impl<P: Policy + ?Sized> Policy for std::sync::Arc<P> {
    fn has_permission(&self, ctx: &PolicyContext<'_>) -> Result<(), Denial> {
        (**self).has_permission(ctx)
    }
    fn has_object_permission(
        &self,
        ctx: &PolicyContext<'_>,
        object: &dyn Any,
    ) -> Result<(), Denial> {
        (**self).has_object_permission(ctx, object)
    }
}

fn allow_if(ok: bool) -> Result<(), Denial> {
    if ok { Ok(()) } else { Err(Denial::default()) }
}

/// Anyone (DRF's `AllowAny`).
#[derive(Debug, Clone, Copy, Default)]
pub struct AllowAny;
impl Policy for AllowAny {
    fn has_permission(&self, _: &PolicyContext<'_>) -> Result<(), Denial> {
        Ok(())
    }
}

/// Any authenticated caller (DRF's `IsAuthenticated`).
#[derive(Debug, Clone, Copy, Default)]
pub struct IsAuthenticated;
impl Policy for IsAuthenticated {
    fn has_permission(&self, ctx: &PolicyContext<'_>) -> Result<(), Denial> {
        allow_if(ctx.identity.is_some())
    }
}

/// Administrators (DRF's `IsAdminUser`: `is_staff`).
#[derive(Debug, Clone, Copy, Default)]
pub struct IsAdmin;
impl Policy for IsAdmin {
    fn has_permission(&self, ctx: &PolicyContext<'_>) -> Result<(), Denial> {
        allow_if(ctx.identity.is_some_and(Identity::is_admin))
    }
}

/// Anyone may read (GET, HEAD, OPTIONS); writing needs authentication
/// (DRF's `IsAuthenticatedOrReadOnly`).
#[derive(Debug, Clone, Copy, Default)]
pub struct IsAuthenticatedOrReadOnly;
impl Policy for IsAuthenticatedOrReadOnly {
    fn has_permission(&self, ctx: &PolicyContext<'_>) -> Result<(), Denial> {
        allow_if(ctx.is_safe_method() || ctx.identity.is_some())
    }
}

/// Callers holding a scope (from the `scope` / `scp` claims or the user store). A denial
/// carries RFC 6750 `insufficient_scope` with the scope.
#[derive(Debug, Clone)]
pub struct HasScope(pub Cow<'static, str>);
impl HasScope {
    /// A policy requiring `scope`.
    pub const fn new(scope: &'static str) -> Self {
        Self(Cow::Borrowed(scope))
    }
}
impl Policy for HasScope {
    fn has_permission(&self, ctx: &PolicyContext<'_>) -> Result<(), Denial> {
        if ctx.identity.is_some_and(|i| i.has_scope(&self.0)) {
            Ok(())
        } else {
            Err(Denial {
                message: "You do not have the scope this action needs.".into(),
                code: DEFAULT_CODE.into(),
                scope: Some(self.0.clone()),
            })
        }
    }
}

/// Callers holding a role (from the `roles` claim or the user store).
#[derive(Debug, Clone)]
pub struct HasRole(pub Cow<'static, str>);
impl HasRole {
    /// A policy requiring `role`.
    pub const fn new(role: &'static str) -> Self {
        Self(Cow::Borrowed(role))
    }
}
impl Policy for HasRole {
    fn has_permission(&self, ctx: &PolicyContext<'_>) -> Result<(), Denial> {
        allow_if(ctx.identity.is_some_and(|i| i.has_role(&self.0)))
    }
}

/// Callers whose verified token has a claim, optionally with an exact value.
#[derive(Debug, Clone)]
pub struct HasClaim {
    name: Cow<'static, str>,
    value: Option<serde_json::Value>,
}
impl HasClaim {
    /// The claim must be present (and not `false` or `null`).
    pub const fn present(name: &'static str) -> Self {
        Self {
            name: Cow::Borrowed(name),
            value: None,
        }
    }
    /// The claim must equal `value`.
    pub fn equals(name: impl Into<Cow<'static, str>>, value: impl Into<serde_json::Value>) -> Self {
        Self {
            name: name.into(),
            value: Some(value.into()),
        }
    }
}
impl Policy for HasClaim {
    fn has_permission(&self, ctx: &PolicyContext<'_>) -> Result<(), Denial> {
        let claim = ctx
            .identity
            .and_then(Identity::claims)
            .and_then(|c| c.get(&self.name));
        allow_if(match (&self.value, claim) {
            (_, None) => false,
            (None, Some(v)) => {
                !matches!(v, serde_json::Value::Null | serde_json::Value::Bool(false))
            }
            (Some(want), Some(v)) => want == v,
        })
    }
}

/// A policy from a closure over the context (view level only).
///
/// ```
/// use keycard_core::policy::policy_fn;
/// let weekdays_only = policy_fn(|ctx| ctx.method != "DELETE");
/// ```
pub fn policy_fn<F>(f: F) -> PolicyFn<F>
where
    F: Fn(&PolicyContext<'_>) -> bool + Send + Sync + 'static,
{
    PolicyFn(f)
}

/// See [`policy_fn`].
#[derive(Clone, Copy)]
pub struct PolicyFn<F>(F);
impl<F> std::fmt::Debug for PolicyFn<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PolicyFn")
    }
}
impl<F> Policy for PolicyFn<F>
where
    F: Fn(&PolicyContext<'_>) -> bool + Send + Sync + 'static,
{
    fn has_permission(&self, ctx: &PolicyContext<'_>) -> Result<(), Denial> {
        allow_if((self.0)(ctx))
    }
}

/// An object-level policy from a closure over objects of type `T` (view level: allow).
/// An object of another type is denied: a policy never allows what it cannot inspect.
///
/// ```
/// use keycard_core::policy::object_policy;
/// struct Article { owner: String }
/// let is_owner = object_policy(|ctx, a: &Article| ctx.identity.is_some_and(|i| i.user_id() == a.owner));
/// ```
pub fn object_policy<T, F>(f: F) -> ObjectPolicy<T, F>
where
    T: Any,
    F: Fn(&PolicyContext<'_>, &T) -> bool + Send + Sync + 'static,
{
    ObjectPolicy(f, PhantomData)
}

/// See [`object_policy`].
pub struct ObjectPolicy<T, F>(F, PhantomData<fn(&T)>);
impl<T, F: Clone> Clone for ObjectPolicy<T, F> {
    fn clone(&self) -> Self {
        Self(self.0.clone(), PhantomData)
    }
}
impl<T, F> std::fmt::Debug for ObjectPolicy<T, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ObjectPolicy<{}>", std::any::type_name::<T>())
    }
}
impl<T, F> Policy for ObjectPolicy<T, F>
where
    T: Any,
    F: Fn(&PolicyContext<'_>, &T) -> bool + Send + Sync + 'static,
{
    fn has_permission(&self, _: &PolicyContext<'_>) -> Result<(), Denial> {
        Ok(())
    }
    fn has_object_permission(
        &self,
        ctx: &PolicyContext<'_>,
        object: &dyn Any,
    ) -> Result<(), Denial> {
        match object.downcast_ref::<T>() {
            Some(obj) => allow_if((self.0)(ctx, obj)),
            None => {
                tracing::warn!(target: "keycard::policy", expected = std::any::type_name::<T>(), "object policy given an object of another type; denied");
                Err(Denial::default())
            }
        }
    }
}

/// `A & B`.
#[derive(Debug, Clone, Copy, Default)]
pub struct And<A, B>(pub A, pub B);
impl<A: Policy, B: Policy> Policy for And<A, B> {
    fn has_permission(&self, ctx: &PolicyContext<'_>) -> Result<(), Denial> {
        self.0.has_permission(ctx)?;
        self.1.has_permission(ctx)
    }
    fn has_object_permission(
        &self,
        ctx: &PolicyContext<'_>,
        object: &dyn Any,
    ) -> Result<(), Denial> {
        self.0.has_object_permission(ctx, object)?;
        self.1.has_object_permission(ctx, object)
    }
}

/// `A | B`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Or<A, B>(pub A, pub B);
impl<A: Policy, B: Policy> Policy for Or<A, B> {
    fn has_permission(&self, ctx: &PolicyContext<'_>) -> Result<(), Denial> {
        match self.0.has_permission(ctx) {
            Ok(()) => Ok(()),
            Err(first) => self.1.has_permission(ctx).map_err(|_| first),
        }
    }
    fn has_object_permission(
        &self,
        ctx: &PolicyContext<'_>,
        object: &dyn Any,
    ) -> Result<(), Denial> {
        let a = self
            .0
            .has_permission(ctx)
            .and_then(|()| self.0.has_object_permission(ctx, object));
        match a {
            Ok(()) => Ok(()),
            Err(first) => self
                .1
                .has_permission(ctx)
                .and_then(|()| self.1.has_object_permission(ctx, object))
                .map_err(|_| first),
        }
    }
}

/// `!A`: `¬A.view` at view level, `¬A.object` alone at object level (DRF's `NOT`; see the
/// [module docs](self) for what that means for policies without an object check).
#[derive(Debug, Clone, Copy, Default)]
pub struct Not<A>(pub A);
impl<A: Policy> Policy for Not<A> {
    fn has_permission(&self, ctx: &PolicyContext<'_>) -> Result<(), Denial> {
        allow_if(self.0.has_permission(ctx).is_err())
    }
    fn has_object_permission(
        &self,
        ctx: &PolicyContext<'_>,
        object: &dyn Any,
    ) -> Result<(), Denial> {
        allow_if(self.0.has_object_permission(ctx, object).is_err())
    }
}

/// A policy with its denial message and code replaced (DRF's `message` / `code` attributes).
#[derive(Debug, Clone)]
pub struct WithMessage<A> {
    inner: A,
    message: Cow<'static, str>,
    code: Cow<'static, str>,
}
impl<A: Policy> Policy for WithMessage<A> {
    fn has_permission(&self, ctx: &PolicyContext<'_>) -> Result<(), Denial> {
        self.inner.has_permission(ctx).map_err(|d| self.rewrite(d))
    }
    fn has_object_permission(
        &self,
        ctx: &PolicyContext<'_>,
        object: &dyn Any,
    ) -> Result<(), Denial> {
        self.inner
            .has_object_permission(ctx, object)
            .map_err(|d| self.rewrite(d))
    }
}
impl<A> WithMessage<A> {
    fn rewrite(&self, d: Denial) -> Denial {
        Denial {
            message: self.message.clone(),
            code: self.code.clone(),
            scope: d.scope,
        }
    }
}

/// Composition methods for every policy (the operators work on keycard's own types; these
/// work on yours too).
pub trait PolicyExt: Policy + Sized {
    /// `self & other`.
    fn and<B: Policy>(self, other: B) -> And<Self, B> {
        And(self, other)
    }
    /// `self | other`.
    fn or<B: Policy>(self, other: B) -> Or<Self, B> {
        Or(self, other)
    }
    /// `!self`.
    fn not(self) -> Not<Self> {
        Not(self)
    }
    /// The same policy with another denial message and code.
    fn with_message(
        self,
        message: impl Into<Cow<'static, str>>,
        code: impl Into<Cow<'static, str>>,
    ) -> WithMessage<Self> {
        WithMessage {
            inner: self,
            message: message.into(),
            code: code.into(),
        }
    }
}
impl<P: Policy + Sized> PolicyExt for P {}

/// Implements `&`, `|` and `!` for a policy type (used on keycard's own, and by
/// [`named_policy!`](crate::named_policy)).
#[macro_export]
macro_rules! impl_policy_ops {
    ($ty:ident $(< $($g:ident),* >)?) => {
        impl<$($($g,)*)? Rhs: $crate::Policy> ::std::ops::BitAnd<Rhs> for $ty $(<$($g),*>)? {
            type Output = $crate::policy::And<Self, Rhs>;
            fn bitand(self, rhs: Rhs) -> Self::Output {
                $crate::policy::And(self, rhs)
            }
        }
        impl<$($($g,)*)? Rhs: $crate::Policy> ::std::ops::BitOr<Rhs> for $ty $(<$($g),*>)? {
            type Output = $crate::policy::Or<Self, Rhs>;
            fn bitor(self, rhs: Rhs) -> Self::Output {
                $crate::policy::Or(self, rhs)
            }
        }
        impl $(<$($g),*>)? ::std::ops::Not for $ty $(<$($g),*>)? {
            type Output = $crate::policy::Not<Self>;
            fn not(self) -> Self::Output {
                $crate::policy::Not(self)
            }
        }
    };
}

impl_policy_ops!(AllowAny);
impl_policy_ops!(IsAuthenticated);
impl_policy_ops!(IsAdmin);
impl_policy_ops!(IsAuthenticatedOrReadOnly);
impl_policy_ops!(HasScope);
impl_policy_ops!(HasRole);
impl_policy_ops!(HasClaim);
impl_policy_ops!(And<A, B>);
impl_policy_ops!(Or<A, B>);
impl_policy_ops!(Not<A>);
impl_policy_ops!(WithMessage<A>);
impl_policy_ops!(PolicyFn<F>);
impl_policy_ops!(ObjectPolicy<T, F>);

// Silence "unused import" for the op traits, which the macro names by path.
#[allow(unused_imports)]
use {BitAnd as _, BitOr as _, NotOp as _};

/// Declares a named, reusable policy type from a policy expression, for extractors such as
/// `Require<CanWriteArticles>`. The expression is rebuilt on each check; built from
/// keycard's policies it costs no allocation.
///
/// ```
/// use keycard_core::{named_policy, HasScope, IsAdmin, IsAuthenticated, Policy, PolicyContext};
/// named_policy! {
///     /// Editors: administrators, or callers with the `articles:write` scope.
///     pub CanWriteArticles = IsAuthenticated & (IsAdmin | HasScope::new("articles:write"));
/// }
/// assert!(CanWriteArticles.has_permission(&PolicyContext::new("POST", "/", None)).is_err());
/// ```
#[macro_export]
macro_rules! named_policy {
    ($(#[$meta:meta])* $vis:vis $name:ident = $expr:expr;) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, Default)]
        $vis struct $name;
        impl $crate::Policy for $name {
            fn has_permission(&self, ctx: &$crate::PolicyContext<'_>) -> ::std::result::Result<(), $crate::policy::Denial> {
                $crate::Policy::has_permission(&$expr, ctx)
            }
            fn has_object_permission(
                &self,
                ctx: &$crate::PolicyContext<'_>,
                object: &dyn ::std::any::Any,
            ) -> ::std::result::Result<(), $crate::policy::Denial> {
                $crate::Policy::has_object_permission(&$expr, ctx, object)
            }
        }
        $crate::impl_policy_ops!($name);
    };
}

#[cfg(test)]
mod tests;
