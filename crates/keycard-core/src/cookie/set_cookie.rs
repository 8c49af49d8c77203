//! `Set-Cookie` headers, rendered once for both adapters.

use std::net::{Ipv4Addr, Ipv6Addr};

use http::{HeaderName, HeaderValue};

use super::CookieSettings;
use crate::authn::{HeaderLookup, HeaderSource};
use crate::error::AuthError;

/// Whether a `Host` header value names this machine's loopback interface: `localhost`, a name
/// under `.localhost` (RFC 6761 §6.3), an address in `127.0.0.0/8`, or `[::1]`, with or
/// without a port. Anything else, garbage included, is not.
///
/// ```
/// use keycard_core::cookie::is_loopback_host;
/// assert!(is_loopback_host(b"localhost:8000") && is_loopback_host(b"127.0.0.2") && is_loopback_host(b"[::1]:3000"));
/// assert!(!is_loopback_host(b"example.com") && !is_loopback_host(b"localhost.example.com") && !is_loopback_host(b"::1"));
/// ```
pub fn is_loopback_host(host: &[u8]) -> bool {
    let Ok(host) = std::str::from_utf8(host) else {
        return false;
    };
    let (name, port) = match host.strip_prefix('[') {
        Some(rest) => match rest.split_once(']') {
            Some((inner, port)) => (inner, port),
            None => return false,
        },
        None => match host.find(':') {
            Some(i) => host.split_at(i),
            None => (host, ""),
        },
    };
    let port_ok = port.is_empty()
        || port.strip_prefix(':').is_some_and(|p| {
            !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit())
        });
    if !port_ok {
        return false;
    }
    if host.starts_with('[') {
        return name.parse::<Ipv6Addr>().is_ok_and(|ip| ip.is_loopback());
    }
    let name = name.to_ascii_lowercase();
    name == "localhost"
        || (name.len() > ".localhost".len() && name.ends_with(".localhost"))
        || name.parse::<Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
}

/// The cookies an endpoint's answer sets or clears, as `Set-Cookie` header values.
pub(crate) struct CookieJar<'a> {
    cookies: &'a CookieSettings,
    secure: bool,
    out: Vec<(HeaderName, HeaderValue)>,
}

impl<'a> CookieJar<'a> {
    /// A jar for the answer to a request with these headers: `Secure` unless the settings
    /// allow plain http on loopback and the request's `Host` is loopback. HTTP/2 requests carry
    /// no `Host` (their `:authority` is not a header here): they keep `Secure`, and a browser
    /// speaks HTTP/2 over TLS only.
    pub(crate) fn new(cookies: &'a CookieSettings, headers: &(dyn HeaderSource + Sync)) -> Self {
        let loopback =
            matches!(headers.lookup("host"), HeaderLookup::One(h) if is_loopback_host(h));
        Self {
            cookies,
            secure: !(cookies.insecure_on_loopback() && loopback),
            out: Vec::with_capacity(3),
        }
    }

    /// The access token cookie: `HttpOnly`, at [`path`](CookieSettings::path).
    pub(crate) fn access(&mut self, token: &str, max_age: u64) -> Result<(), AuthError> {
        let c = self.cookies;
        self.push(c.access_name(), token, c.path(), max_age, true)
    }

    /// The refresh token cookie: `HttpOnly`, at [`refresh_path`](CookieSettings::refresh_path).
    pub(crate) fn refresh(&mut self, token: &str, max_age: u64) -> Result<(), AuthError> {
        let c = self.cookies;
        self.push(c.refresh_name(), token, c.refresh_path(), max_age, true)
    }

    /// The CSRF cookie: readable by scripts (they echo it), at [`path`](CookieSettings::path).
    pub(crate) fn csrf(&mut self, token: &str, max_age: u64) -> Result<(), AuthError> {
        let c = self.cookies;
        self.push(c.csrf_name(), token, c.path(), max_age, false)
    }

    /// Clears all three: an empty value, `Max-Age=0`, at the paths they were set with (a
    /// browser removes a cookie only when name, path and domain match).
    pub(crate) fn clear_all(&mut self) -> Result<(), AuthError> {
        self.access("", 0)?;
        self.refresh("", 0)?;
        self.csrf("", 0)
    }

    pub(crate) fn into_headers(self) -> Vec<(HeaderName, HeaderValue)> {
        self.out
    }

    fn push(
        &mut self,
        name: &str,
        value: &str,
        path: &str,
        max_age: u64,
        http_only: bool,
    ) -> Result<(), AuthError> {
        let line = render(
            name,
            value,
            path,
            max_age,
            http_only,
            self.secure,
            self.cookies.same_site().as_str(),
        );
        // Names and paths are checked by the settings builder, values are tokens keycard
        // minted (base64url and dots): a failure here is a bug, answered as a 500.
        let value = HeaderValue::from_str(&line).map_err(|_| AuthError::Misconfigured {
            detail: "a Set-Cookie header could not be built",
        })?;
        self.out.push((http::header::SET_COOKIE, value));
        Ok(())
    }
}

fn render(
    name: &str,
    value: &str,
    path: &str,
    max_age: u64,
    http_only: bool,
    secure: bool,
    same_site: &str,
) -> String {
    let mut s = format!("{name}={value}; Path={path}; Max-Age={max_age}");
    if http_only {
        s.push_str("; HttpOnly");
    }
    if secure {
        s.push_str("; Secure");
    }
    s.push_str("; SameSite=");
    s.push_str(same_site);
    s
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::cookie::SameSite;

    fn lines(jar: CookieJar<'_>) -> Vec<String> {
        jar.into_headers()
            .into_iter()
            .map(|(k, v)| {
                assert_eq!(k, http::header::SET_COOKIE);
                v.to_str().unwrap().to_owned()
            })
            .collect()
    }

    fn host(h: &str) -> http::HeaderMap {
        let mut m = http::HeaderMap::new();
        m.insert("host", h.parse().unwrap());
        m
    }

    #[test]
    fn attributes_exactly() {
        let c = CookieSettings::default();
        let mut jar = CookieJar::new(&c, &host("api.example.com"));
        jar.access("a.b.c", 300).unwrap();
        jar.refresh("d.e.f", 86_400).unwrap();
        jar.csrf("tok", 86_400).unwrap();
        assert_eq!(
            lines(jar),
            [
                "keycard_access=a.b.c; Path=/; Max-Age=300; HttpOnly; Secure; SameSite=Lax",
                "keycard_refresh=d.e.f; Path=/api/token/; Max-Age=86400; HttpOnly; Secure; SameSite=Lax",
                "csrftoken=tok; Path=/; Max-Age=86400; Secure; SameSite=Lax",
            ]
        );
    }

    #[test]
    fn clearing_matches_names_and_paths() {
        let c = CookieSettings::builder()
            .access_cookie("__Host-a")
            .refresh_cookie("r")
            .csrf_cookie("XSRF-TOKEN")
            .refresh_path("/auth/refresh/")
            .same_site(SameSite::Strict)
            .build()
            .unwrap();
        let mut jar = CookieJar::new(&c, &http::HeaderMap::new());
        jar.clear_all().unwrap();
        assert_eq!(
            lines(jar),
            [
                "__Host-a=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Strict",
                "r=; Path=/auth/refresh/; Max-Age=0; HttpOnly; Secure; SameSite=Strict",
                "XSRF-TOKEN=; Path=/; Max-Age=0; Secure; SameSite=Strict",
            ]
        );
    }

    #[test]
    fn secure_is_left_out_only_for_loopback_hosts_and_only_when_allowed() {
        let dev = CookieSettings::builder()
            .insecure_on_loopback(true)
            .build()
            .unwrap();
        let prod = CookieSettings::default();
        for (settings, h, secure) in [
            (&dev, Some("127.0.0.1:8000"), false),
            (&dev, Some("localhost"), false),
            (&dev, Some("[::1]:8000"), false),
            (&dev, Some("app.localhost:3000"), false),
            (&dev, Some("api.example.com"), true),
            (&dev, Some("127.0.0.1.nip.io"), true),
            (&dev, None, true),
            (&prod, Some("127.0.0.1:8000"), true),
            (&prod, Some("localhost"), true),
        ] {
            let headers = h.map(host).unwrap_or_default();
            let mut jar = CookieJar::new(settings, &headers);
            jar.access("x", 1).unwrap();
            assert_eq!(lines(jar)[0].contains("; Secure"), secure, "{h:?}");
        }
        let mut two = host("localhost");
        two.append("host", "localhost".parse().unwrap());
        let mut jar = CookieJar::new(&dev, &two);
        jar.access("x", 1).unwrap();
        assert!(
            lines(jar)[0].contains("; Secure"),
            "two Host headers are not loopback"
        );
    }

    #[test]
    fn loopback_hosts() {
        for yes in [
            "localhost",
            "LOCALHOST:1",
            "a.localhost",
            "127.0.0.1",
            "127.255.255.254:65535",
            "[::1]",
            "[0:0:0:0:0:0:0:1]:80",
        ] {
            assert!(is_loopback_host(yes.as_bytes()), "{yes}");
        }
        for no in [
            "",
            ":80",
            ".localhost",
            "localhost.",
            "localhost:",
            "localhost:x",
            "localhost:123456",
            "128.0.0.1",
            "0.0.0.0",
            "[::2]",
            "[::1",
            "::1",
            "10.0.0.1",
            "localhost.evil.com",
            "evil.com#localhost",
            "127.0.0.1:80:80",
        ] {
            assert!(!is_loopback_host(no.as_bytes()), "{no}");
        }
        assert!(!is_loopback_host(&[0xff, b'l']));
    }
}
