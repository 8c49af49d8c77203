//! keycard: Django REST Framework's authentication and permission classes, and
//! djangorestframework-simplejwt's JWT life cycle, for axum, actix-web and any tower service.
//!
//! This facade re-exports [`keycard_core`]; the adapters come behind features.

pub use keycard_core::*;

/// The actix-web adapter ([`keycard_actix`]): middleware, extractors, token endpoints.
#[cfg(feature = "actix")]
pub use keycard_actix as actix;

/// The tower middleware ([`keycard_tower`]): `AuthLayer` and `RequireLayer`, for any
/// `http::Request` service (hyper, tonic, axum).
#[cfg(feature = "tower")]
pub use keycard_tower as tower;

/// The axum adapter ([`keycard_axum`]): extractors, rejections, token endpoints.
#[cfg(feature = "axum")]
pub use keycard_axum as axum;

/// The Redis revocation store ([`keycard_redis`]): one revocation state for many processes.
#[cfg(feature = "redis")]
pub use keycard_redis as redis;

/// The guide: the pages of `docs/`, with their examples compiled and run as doctests.
///
/// | page | what it covers |
/// |---|---|
/// | `getting_started` | axum and actix-web, from `cargo add` to a protected route (features `axum`, `actix`) |
/// | `concepts` | Django REST Framework's authentication and permission classes → keycard (feature `axum`) |
/// | `tokens` | the token endpoints and their JSON (features `axum`, `actix`) |
/// | `settings` | every `SIMPLE_JWT` setting → its keycard setting |
/// | `policies` | a cookbook: composition, object-level checks, scopes and roles, named policies (feature `axum`) |
/// | `security` | what keycard checks, refuses at start-up, and leaves to you |
/// | `deployment` | release builds, a TLS-terminating proxy, shutdown, secrets, several instances with Redis (features `axum`, `actix`, `redis`) |
/// | `cookies` | tokens in `HttpOnly` cookies, CSRF protection, the endpoints' cookie mode (feature `axum`) |
/// | `keys` | asymmetric keys, JWKS serving, rotation, remote JWKS and OIDC discovery (features `axum`, `actix`, `remote-keys`) |
/// | `migrating_from_simplejwt` | settings, endpoints, token compatibility, deliberate differences, moving endpoints one by one (feature `axum`) |
pub mod guide {
    #[doc = include_str!("../docs/getting-started.md")]
    #[cfg(all(feature = "axum", feature = "actix"))]
    pub mod getting_started {}

    #[doc = include_str!("../docs/concepts.md")]
    #[cfg(feature = "axum")]
    pub mod concepts {}

    #[doc = include_str!("../docs/tokens.md")]
    #[cfg(all(feature = "axum", feature = "actix"))]
    pub mod tokens {}

    #[doc = include_str!("../docs/settings.md")]
    pub mod settings {}

    #[doc = include_str!("../docs/policies.md")]
    #[cfg(feature = "axum")]
    pub mod policies {}

    #[doc = include_str!("../docs/security.md")]
    pub mod security {}

    #[doc = include_str!("../docs/deployment.md")]
    #[cfg(all(feature = "axum", feature = "actix", feature = "redis"))]
    pub mod deployment {}

    #[doc = include_str!("../docs/cookies.md")]
    #[cfg(feature = "axum")]
    pub mod cookies {}

    #[doc = include_str!("../docs/keys.md")]
    #[cfg(all(feature = "axum", feature = "actix", feature = "remote-keys"))]
    pub mod keys {}

    #[doc = include_str!("../docs/migrating-from-simplejwt.md")]
    #[cfg(feature = "axum")]
    pub mod migrating_from_simplejwt {}
}
