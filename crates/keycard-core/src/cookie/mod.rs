//! Tokens in `HttpOnly` cookies for browser clients, with CSRF protection.
//!
//! A single-page app should not keep tokens where its scripts (and so any injected script)
//! can read them. In cookie mode the token endpoints set the access and refresh tokens as
//! `HttpOnly` cookies, [`CookieAuthentication`](crate::authn::CookieAuthentication) reads the
//! access token back from its cookie, and every request a cookie authenticated must prove it
//! is the app's own when its method is unsafe ([`check_csrf`]): DRF's
//! `SessionAuthentication` with simplejwt's tokens inside.
//!
//! [`CookieSettings`] holds every decision: the cookie names, `Secure`, `SameSite`, the
//! paths, the CSRF cookie and header, the trusted origins. The same value configures the
//! authenticator and the endpoints
//! ([`TokenEndpoints::with_cookies`](crate::endpoints::TokenEndpoints::with_cookies)).
//!
//! ```
//! use keycard_core::cookie::{CookieSettings, SameSite};
//! let cookies = CookieSettings::builder()
//!     .refresh_path("/api/token/")
//!     .trusted_origins(["https://app.example.com"])
//!     .build()
//!     .unwrap();
//! assert_eq!(cookies.same_site(), SameSite::Lax);
//! assert_eq!(cookies.csrf_header().as_str(), "x-csrftoken");
//! ```
//!
//! See `docs/cookies.md` for the whole story: the cookies each endpoint sets, the CSRF rules,
//! and what a browser client does.

mod csrf;
mod parse;
mod set_cookie;

pub use csrf::{check_csrf, is_safe_method};
pub(crate) use csrf::{is_json, new_csrf_token, well_formed as well_formed_csrf};
pub use parse::{CookiePairs, cookie_pairs, find_cookie};
pub(crate) use set_cookie::CookieJar;
pub use set_cookie::is_loopback_host;

use std::fmt;
use std::sync::Arc;

use http::HeaderName;

use crate::settings::ConfigError;

/// The `SameSite` attribute of the cookies keycard sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SameSite {
    /// Sent only on requests from the same site.
    Strict,
    /// Sent on same-site requests and on top-level navigations with a safe method from other
    /// sites (the default: a cross-site form post carries no cookie).
    #[default]
    Lax,
    /// Sent on every request, cross-site ones included; browsers require `Secure` with it.
    None,
}

impl SameSite {
    /// The attribute's value: `Strict`, `Lax` or `None`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Strict => "Strict",
            Self::Lax => "Lax",
            Self::None => "None",
        }
    }
}

/// How keycard's cookies are named and scoped, and which requests count as the app's own.
/// Built with [`CookieSettings::builder`]; cheap to clone.
#[derive(Clone)]
pub struct CookieSettings(Arc<Inner>);

struct Inner {
    access_name: String,
    refresh_name: String,
    csrf_name: String,
    csrf_header: HeaderName,
    path: String,
    refresh_path: String,
    same_site: SameSite,
    insecure_on_loopback: bool,
    trusted_origins: Vec<String>,
    tokens_in_body: bool,
}

impl fmt::Debug for CookieSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.0;
        f.debug_struct("CookieSettings")
            .field("access_name", &s.access_name)
            .field("refresh_name", &s.refresh_name)
            .field("csrf_name", &s.csrf_name)
            .field("csrf_header", &s.csrf_header)
            .field("path", &s.path)
            .field("refresh_path", &s.refresh_path)
            .field("same_site", &s.same_site)
            .field("insecure_on_loopback", &s.insecure_on_loopback)
            .field("trusted_origins", &s.trusted_origins)
            .field("tokens_in_body", &s.tokens_in_body)
            .finish()
    }
}

impl Default for CookieSettings {
    /// The defaults of [`CookieSettingsBuilder`], which always build.
    fn default() -> Self {
        Self(Arc::new(CookieSettingsBuilder::default().inner()))
    }
}

impl CookieSettings {
    /// A builder with the defaults: cookies `keycard_access` (path `/`), `keycard_refresh`
    /// (path `/api/token/`, simplejwt's mount of the token endpoints), `csrftoken` and the
    /// header `X-CSRFToken` (Django's names), `SameSite=Lax`, always `Secure`, no trusted
    /// origins, no tokens in the endpoints' bodies.
    pub fn builder() -> CookieSettingsBuilder {
        CookieSettingsBuilder::default()
    }
    /// The access token cookie's name.
    pub fn access_name(&self) -> &str {
        &self.0.access_name
    }
    /// The refresh token cookie's name.
    pub fn refresh_name(&self) -> &str {
        &self.0.refresh_name
    }
    /// The CSRF cookie's name (readable by scripts, which echo it in [`csrf_header`](Self::csrf_header)).
    pub fn csrf_name(&self) -> &str {
        &self.0.csrf_name
    }
    /// The header a script echoes the CSRF cookie in.
    pub fn csrf_header(&self) -> &HeaderName {
        &self.0.csrf_header
    }
    /// The `Path` of the access and CSRF cookies.
    pub fn path(&self) -> &str {
        &self.0.path
    }
    /// The `Path` of the refresh token cookie.
    pub fn refresh_path(&self) -> &str {
        &self.0.refresh_path
    }
    /// The `SameSite` attribute.
    pub fn same_site(&self) -> SameSite {
        self.0.same_site
    }
    /// Whether `Secure` is left out for requests to a loopback host (see
    /// [`CookieSettingsBuilder::insecure_on_loopback`]).
    pub fn insecure_on_loopback(&self) -> bool {
        self.0.insecure_on_loopback
    }
    /// The trusted origins, normalised (`scheme://host[:port]`, lower case, default port left out).
    pub fn trusted_origins(&self) -> &[String] {
        &self.0.trusted_origins
    }
    /// Whether the obtain and refresh endpoints also return the tokens in their JSON body.
    pub fn tokens_in_body(&self) -> bool {
        self.0.tokens_in_body
    }
    pub(crate) fn is_trusted_origin(&self, origin: &str) -> bool {
        self.0.trusted_origins.iter().any(|o| o == origin)
    }
}

/// Builds [`CookieSettings`], refusing combinations browsers would silently drop or that
/// would weaken the cookies.
#[derive(Debug, Clone)]
#[must_use]
pub struct CookieSettingsBuilder {
    access_name: String,
    refresh_name: String,
    csrf_name: String,
    csrf_header: String,
    path: String,
    refresh_path: String,
    same_site: SameSite,
    insecure_on_loopback: bool,
    trusted_origins: Vec<String>,
    tokens_in_body: bool,
}

impl Default for CookieSettingsBuilder {
    fn default() -> Self {
        Self {
            access_name: "keycard_access".into(),
            refresh_name: "keycard_refresh".into(),
            csrf_name: "csrftoken".into(),
            csrf_header: "x-csrftoken".into(),
            path: "/".into(),
            refresh_path: "/api/token/".into(),
            same_site: SameSite::Lax,
            insecure_on_loopback: false,
            trusted_origins: Vec::new(),
            tokens_in_body: false,
        }
    }
}

impl CookieSettingsBuilder {
    /// The access token cookie's name (default `keycard_access`). A `__Host-` prefix makes
    /// browsers refuse the cookie from a sibling subdomain; it needs `path("/")`.
    pub fn access_cookie(mut self, name: impl Into<String>) -> Self {
        self.access_name = name.into();
        self
    }
    /// The refresh token cookie's name (default `keycard_refresh`).
    pub fn refresh_cookie(mut self, name: impl Into<String>) -> Self {
        self.refresh_name = name.into();
        self
    }
    /// The CSRF cookie's name (default `csrftoken`, Django's).
    pub fn csrf_cookie(mut self, name: impl Into<String>) -> Self {
        self.csrf_name = name.into();
        self
    }
    /// The header scripts echo the CSRF cookie in (default `X-CSRFToken`, Django's).
    pub fn csrf_header(mut self, name: impl Into<String>) -> Self {
        self.csrf_header = name.into();
        self
    }
    /// The `Path` of the access and CSRF cookies (default `/`: every API route).
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }
    /// The `Path` of the refresh token cookie (default `/api/token/`): where the token
    /// endpoints are mounted, so that the browser sends the refresh token to the refresh and
    /// logout (blacklist) endpoints and to no other route. `/api/token/refresh/` narrows it to
    /// the refresh endpoint alone; logout then cannot read it and only refresh can end a
    /// session from a cookie.
    pub fn refresh_path(mut self, path: impl Into<String>) -> Self {
        self.refresh_path = path.into();
        self
    }
    /// The `SameSite` attribute (default [`SameSite::Lax`]).
    pub fn same_site(mut self, same_site: SameSite) -> Self {
        self.same_site = same_site;
        self
    }
    /// Leave `Secure` out of the cookies set in answer to a request whose `Host` is a loopback
    /// name or address (`localhost`, `*.localhost`, `127.0.0.0/8`, `[::1]`), for development
    /// over plain `http://`. Every other host still gets `Secure`, so a deployment that
    /// forgets to turn this off still sends its cookies over HTTPS only. Default off. Refused
    /// with `SameSite=None` and `__Secure-`/`__Host-` names, which browsers drop without `Secure`.
    pub fn insecure_on_loopback(mut self, on: bool) -> Self {
        self.insecure_on_loopback = on;
        self
    }
    /// Origins whose pages may send unsafe requests without the double-submit token, matched
    /// against `Origin` (or `Referer` when there is no `Origin`): `scheme://host[:port]`, no
    /// path, no wildcard (Django's `CSRF_TRUSTED_ORIGINS`). Default none.
    pub fn trusted_origins<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        origins: I,
    ) -> Self {
        self.trusted_origins = origins.into_iter().map(Into::into).collect();
        self
    }
    /// Return the tokens in the obtain and refresh endpoints' JSON body as well as in the
    /// cookies (default off: a body scripts can read defeats `HttpOnly`).
    pub fn tokens_in_body(mut self, on: bool) -> Self {
        self.tokens_in_body = on;
        self
    }

    fn inner(self) -> Inner {
        Inner {
            csrf_header: HeaderName::from_bytes(self.csrf_header.to_ascii_lowercase().as_bytes())
                .unwrap_or_else(|_| HeaderName::from_static("x-csrftoken")),
            access_name: self.access_name,
            refresh_name: self.refresh_name,
            csrf_name: self.csrf_name,
            path: self.path,
            refresh_path: self.refresh_path,
            same_site: self.same_site,
            insecure_on_loopback: self.insecure_on_loopback,
            trusted_origins: self.trusted_origins,
            tokens_in_body: self.tokens_in_body,
        }
    }

    /// Checks and builds.
    pub fn build(self) -> Result<CookieSettings, ConfigError> {
        let invalid = |name, problem| Err(ConfigError::Invalid { name, problem });
        for (setting, name) in [
            ("access_cookie", &self.access_name),
            ("refresh_cookie", &self.refresh_name),
            ("csrf_cookie", &self.csrf_name),
        ] {
            if !is_cookie_name(name) {
                return invalid(
                    setting,
                    "a cookie name is one or more visible ASCII characters, without separators ()<>@,;:\\\"/[]?={}",
                );
            }
        }
        if self.access_name == self.refresh_name
            || self.access_name == self.csrf_name
            || self.refresh_name == self.csrf_name
        {
            return invalid(
                "cookie names",
                "the access, refresh and CSRF cookies need three different names",
            );
        }
        if HeaderName::from_bytes(self.csrf_header.to_ascii_lowercase().as_bytes()).is_err() {
            return invalid("csrf_header", "not a valid header name");
        }
        for (setting, path) in [("path", &self.path), ("refresh_path", &self.refresh_path)] {
            if !is_cookie_path(path) {
                return invalid(
                    setting,
                    "a cookie path starts with / and is visible ASCII without ;",
                );
            }
        }
        let secure_prefixed =
            |name: &str| name.starts_with("__Secure-") || name.starts_with("__Host-");
        if self.insecure_on_loopback {
            if self.same_site == SameSite::None {
                return invalid(
                    "insecure_on_loopback",
                    "browsers drop SameSite=None cookies without Secure",
                );
            }
            if [&self.access_name, &self.refresh_name, &self.csrf_name]
                .into_iter()
                .any(|n| secure_prefixed(n))
            {
                return invalid(
                    "insecure_on_loopback",
                    "browsers drop __Secure- and __Host- cookies without Secure",
                );
            }
        }
        for (name, path) in [
            (&self.access_name, &self.path),
            (&self.csrf_name, &self.path),
            (&self.refresh_name, &self.refresh_path),
        ] {
            if name.starts_with("__Host-") && path != "/" {
                return invalid("cookie names", "a __Host- cookie must have Path=/");
            }
        }
        let mut origins = Vec::with_capacity(self.trusted_origins.len());
        for o in &self.trusted_origins {
            match csrf::normalize_origin(o.as_bytes(), false) {
                Some(n) => origins.push(n),
                None => {
                    return invalid(
                        "trusted_origins",
                        "each must be http(s)://host[:port], without path, query, user info or wildcard",
                    );
                }
            }
        }
        let mut inner = self.inner();
        inner.trusted_origins = origins;
        Ok(CookieSettings(Arc::new(inner)))
    }
}

/// RFC 6265's `cookie-name`: an RFC 7230 token.
fn is_cookie_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b))
}

fn is_cookie_path(path: &str) -> bool {
    path.starts_with('/') && path.bytes().all(|b| b.is_ascii_graphic() && b != b';')
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn refused(b: CookieSettingsBuilder) -> String {
        b.build().unwrap_err().to_string()
    }

    #[test]
    fn defaults() {
        let c = CookieSettings::builder().build().unwrap();
        assert_eq!(
            (
                c.access_name(),
                c.refresh_name(),
                c.csrf_name(),
                c.csrf_header().as_str()
            ),
            (
                "keycard_access",
                "keycard_refresh",
                "csrftoken",
                "x-csrftoken"
            )
        );
        assert_eq!((c.path(), c.refresh_path()), ("/", "/api/token/"));
        assert_eq!(c.same_site(), SameSite::Lax);
        assert!(!c.insecure_on_loopback() && !c.tokens_in_body());
        assert!(c.trusted_origins().is_empty());
        assert_eq!(format!("{c:?}"), format!("{:?}", CookieSettings::default()));
    }

    #[test]
    fn bad_names_and_paths_are_refused() {
        for name in ["", "a b", "a;b", "a=b", "é", "a\"", "a,b"] {
            assert!(
                refused(CookieSettings::builder().access_cookie(name)).contains("access_cookie"),
                "{name:?}"
            );
        }
        assert!(
            refused(CookieSettings::builder().csrf_cookie("keycard_access"))
                .contains("three different names")
        );
        assert!(refused(CookieSettings::builder().csrf_header("x csrf")).contains("csrf_header"));
        for path in ["", "api", "/a;b", "/a b", "/é"] {
            assert!(
                refused(CookieSettings::builder().refresh_path(path)).contains("refresh_path"),
                "{path:?}"
            );
        }
    }

    #[test]
    fn insecure_on_loopback_is_refused_where_browsers_need_secure() {
        let dev = || CookieSettings::builder().insecure_on_loopback(true);
        assert!(dev().build().is_ok());
        assert!(refused(dev().same_site(SameSite::None)).contains("SameSite=None"));
        assert!(refused(dev().access_cookie("__Secure-access")).contains("__Secure-"));
        assert!(refused(dev().csrf_cookie("__Host-csrf")).contains("__Host-"));
    }

    #[test]
    fn host_prefixed_cookies_need_the_root_path() {
        assert!(
            CookieSettings::builder()
                .access_cookie("__Host-access")
                .build()
                .is_ok()
        );
        assert!(
            refused(CookieSettings::builder().refresh_cookie("__Host-refresh")).contains("Path=/")
        );
        assert!(
            CookieSettings::builder()
                .refresh_cookie("__Host-refresh")
                .refresh_path("/")
                .build()
                .is_ok()
        );
    }

    #[test]
    fn trusted_origins_are_normalised_or_refused() {
        let c = CookieSettings::builder()
            .trusted_origins([
                "HTTPS://App.Example.com:443",
                "http://localhost:5173",
                "http://[::1]:80",
            ])
            .build()
            .unwrap();
        assert_eq!(
            c.trusted_origins(),
            [
                "https://app.example.com",
                "http://localhost:5173",
                "http://[::1]"
            ]
        );
        for bad in [
            "app.example.com",
            "https://a.com/path",
            "https://*.a.com",
            "ftp://a.com",
            "https://u@a.com",
            "null",
            "https://a.com?x",
        ] {
            assert!(
                refused(CookieSettings::builder().trusted_origins([bad]))
                    .contains("trusted_origins"),
                "{bad:?}"
            );
        }
    }
}
