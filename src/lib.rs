//! keycard: Django REST Framework's authentication and permission classes, and
//! djangorestframework-simplejwt's JWT life cycle, for axum, actix-web and any tower service.
//!
//! This facade re-exports [`keycard_core`]; the adapters come behind features.

pub use keycard_core::*;

/// The actix-web adapter ([`keycard_actix`]): middleware, extractors, token endpoints.
#[cfg(feature = "actix")]
pub use keycard_actix as actix;
