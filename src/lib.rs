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
