//! The CSRF check for requests a cookie authenticated: double-submit token or trusted origin.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use subtle::ConstantTimeEq;

use super::CookieSettings;
use super::parse::find_cookie;
use crate::authn::{HeaderLookup, HeaderSource};
use crate::error::AuthError;

const MISSING: &str = "CSRF Failed: CSRF token missing.";
const INCORRECT: &str = "CSRF Failed: CSRF token incorrect.";
const TWICE: &str = "CSRF Failed: CSRF token sent more than once.";

/// The shortest and longest CSRF token accepted: keycard mints 43 characters; an app minting
/// its own has room, an attacker has no room for a huge comparison.
const TOKEN_LEN: std::ops::RangeInclusive<usize> = 16..=256;

/// Whether `method` is safe (RFC 9110 §9.2.1: GET, HEAD, OPTIONS, TRACE) and so exempt from
/// the CSRF check. Every other method, extension methods included, is checked.
///
/// ```
/// use keycard_core::cookie::is_safe_method;
/// assert!(is_safe_method("GET") && is_safe_method("OPTIONS"));
/// assert!(!is_safe_method("POST") && !is_safe_method("PATCH") && !is_safe_method("PROPFIND"));
/// ```
pub fn is_safe_method(method: &str) -> bool {
    matches!(method, "GET" | "HEAD" | "OPTIONS" | "TRACE")
}

/// The CSRF rule for a request a cookie authenticated (Django's `CsrfViewMiddleware`, as DRF's
/// `SessionAuthentication` applies it): a safe method passes; an unsafe one passes when
///
/// - its `Origin` is one of the [trusted origins](super::CookieSettingsBuilder::trusted_origins)
///   (or, without an `Origin` header, its `Referer`'s origin is); or
/// - it echoes the CSRF cookie in the CSRF header (double submit): exactly one of each, both
///   16–256 URL-safe characters, equal (compared in constant time).
///
/// Otherwise: [`AuthError::CsrfFailed`], 403 `csrf_failed`, no `WWW-Authenticate`. A page of
/// another origin cannot read the CSRF cookie, and cannot set a custom header without a CORS
/// preflight the server refuses; a plain HTML form can do neither.
///
/// ```
/// use keycard_core::cookie::{check_csrf, CookieSettings};
/// let cookies = CookieSettings::builder().trusted_origins(["https://app.example.com"]).build().unwrap();
/// let mut h = http::HeaderMap::new();
/// h.insert("cookie", "keycard_access=x; csrftoken=0123456789abcdef0123".parse().unwrap());
/// assert!(check_csrf(&cookies, "GET", &h).is_ok());
/// assert_eq!(check_csrf(&cookies, "POST", &h).unwrap_err().code(), "csrf_failed");
/// h.insert("x-csrftoken", "0123456789abcdef0123".parse().unwrap());
/// assert!(check_csrf(&cookies, "POST", &h).is_ok());
/// let mut form = http::HeaderMap::new();
/// form.insert("origin", "https://app.example.com".parse().unwrap());
/// assert!(check_csrf(&cookies, "DELETE", &form).is_ok());
/// ```
pub fn check_csrf(
    cookies: &CookieSettings,
    method: &str,
    headers: &(dyn HeaderSource + Sync),
) -> Result<(), AuthError> {
    if is_safe_method(method) || origin_trusted(cookies, headers) {
        return Ok(());
    }
    let detail = match (
        find_cookie(headers, cookies.csrf_name()),
        headers.lookup(cookies.csrf_header().as_str()),
    ) {
        (HeaderLookup::One(cookie), HeaderLookup::One(header)) => {
            // Both checked for shape first: the comparison then runs over at most 256 bytes,
            // in time that depends on the lengths only.
            if well_formed(cookie) && well_formed(header) && bool::from(cookie.ct_eq(header)) {
                return Ok(());
            }
            INCORRECT
        }
        (HeaderLookup::Many, _) | (_, HeaderLookup::Many) => TWICE,
        _ => MISSING,
    };
    Err(AuthError::CsrfFailed { detail })
}

pub(crate) fn well_formed(token: &[u8]) -> bool {
    TOKEN_LEN.contains(&token.len())
        && token
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~'))
}

/// Whether the request's `Origin` (or, without one, its `Referer`) is trusted. An `Origin`
/// present but untrusted, `null`, or sent twice is final: the `Referer` is not consulted.
fn origin_trusted(cookies: &CookieSettings, headers: &(dyn HeaderSource + Sync)) -> bool {
    if cookies.trusted_origins().is_empty() {
        return false;
    }
    let (value, with_path) = match headers.lookup("origin") {
        HeaderLookup::One(v) => (v, false),
        HeaderLookup::Many => return false,
        HeaderLookup::Missing => match headers.lookup("referer") {
            HeaderLookup::One(v) => (v, true),
            _ => return false,
        },
    };
    normalize_origin(value, with_path).is_some_and(|o| cookies.is_trusted_origin(&o))
}

/// `scheme://host[:port]` of an origin (or, with `with_path`, of a URL), lower case, the
/// scheme's default port left out; `None` for anything else (`null`, user info, another
/// scheme, a host with characters no host has).
pub(crate) fn normalize_origin(value: &[u8], with_path: bool) -> Option<String> {
    let s = std::str::from_utf8(value).ok()?.trim_matches([' ', '\t']);
    let (scheme, rest) = s.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => "80",
        "https" => "443",
        _ => return None,
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    if !(with_path || tail.is_empty() || tail == "/") {
        return None;
    }
    let (host, port) = if authority.starts_with('[') {
        let close = authority.find(']')?;
        authority[1..close].parse::<std::net::Ipv6Addr>().ok()?;
        authority.split_at(close + 1)
    } else {
        let (host, port) = match authority.rfind(':') {
            Some(i) => authority.split_at(i),
            None => (authority, ""),
        };
        if host.is_empty()
            || !host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        {
            return None;
        }
        (host, port)
    };
    let port = match port.strip_prefix(':') {
        None if port.is_empty() => None,
        Some(p) if !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()) => {
            p.parse::<u16>().ok()?;
            Some(p).filter(|p| *p != default_port)
        }
        _ => return None,
    };
    let host = host.to_ascii_lowercase();
    Some(match port {
        Some(p) => format!("{scheme}://{host}:{p}"),
        None => format!("{scheme}://{host}"),
    })
}

/// Whether the request body is declared JSON (`application/json`, or `application/*+json`):
/// a cross-site form cannot send that, nor a cross-origin script without a CORS preflight.
pub(crate) fn is_json(headers: &(dyn HeaderSource + Sync)) -> bool {
    let HeaderLookup::One(v) = headers.lookup("content-type") else {
        return false;
    };
    let Ok(v) = std::str::from_utf8(v) else {
        return false;
    };
    let media = v
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    media == "application/json" || (media.starts_with("application/") && media.ends_with("+json"))
}

/// A fresh CSRF token: 32 random bytes, base64url (43 characters).
pub(crate) fn new_csrf_token() -> String {
    let bytes: [u8; 32] = rand::random();
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const TOKEN: &str = "abcdefghijklmnopqrstuvwxyz012345";
    const TRUSTED: &str = "https://app.example.com";

    fn cookies() -> CookieSettings {
        CookieSettings::builder()
            .trusted_origins([TRUSTED])
            .build()
            .unwrap()
    }

    fn headers(pairs: &[(&str, &str)]) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                http::HeaderValue::from_bytes(v.as_bytes()).unwrap(),
            );
        }
        h
    }

    fn verdict(method: &str, pairs: &[(&str, &str)]) -> Result<(), &'static str> {
        check_csrf(&cookies(), method, &headers(pairs)).map_err(|e| match e {
            AuthError::CsrfFailed { detail } => detail,
            other => panic!("not a CSRF refusal: {other:?}"),
        })
    }

    /// Method × origin × token: every combination, against the rule written out plainly.
    #[test]
    #[allow(clippy::type_complexity)]
    fn the_whole_matrix() {
        let methods = [
            "GET", "HEAD", "OPTIONS", "TRACE", "POST", "PUT", "PATCH", "DELETE", "PROPFIND",
        ];
        let origins: [(&str, Option<(&str, &str)>, bool); 8] = [
            ("no origin", None, false),
            ("trusted origin", Some(("origin", TRUSTED)), true),
            (
                "trusted origin, other case and default port",
                Some(("origin", "HTTPS://APP.example.com:443")),
                true,
            ),
            (
                "untrusted origin",
                Some(("origin", "https://evil.example")),
                false,
            ),
            (
                "same host, other port",
                Some(("origin", "https://app.example.com:8443")),
                false,
            ),
            ("origin null", Some(("origin", "null")), false),
            (
                "trusted referer",
                Some(("referer", "https://app.example.com/page?x=1")),
                true,
            ),
            (
                "untrusted referer",
                Some(("referer", "https://evil.example/app.example.com")),
                false,
            ),
        ];
        let other = "zyxwvutsrqponmlkjihgfedcba543210";
        let tokens: [(&str, Option<&str>, Option<&str>, Result<(), &str>); 6] = [
            ("absent", None, None, Err(MISSING)),
            ("cookie only", Some(TOKEN), None, Err(MISSING)),
            ("header only", None, Some(TOKEN), Err(MISSING)),
            ("matching", Some(TOKEN), Some(TOKEN), Ok(())),
            ("mismatch", Some(TOKEN), Some(other), Err(INCORRECT)),
            (
                "matching but too short",
                Some("abc"),
                Some("abc"),
                Err(INCORRECT),
            ),
        ];
        let mut cases = 0;
        for method in methods {
            for (oname, origin, trusted) in origins {
                for (tname, cookie, header, by_token) in tokens {
                    let mut pairs = vec![];
                    let cookie_header = cookie.map(|c| format!("keycard_access=x; csrftoken={c}"));
                    if let Some(c) = &cookie_header {
                        pairs.push(("cookie", c.as_str()));
                    }
                    if let Some(h) = header {
                        pairs.push(("x-csrftoken", h));
                    }
                    if let Some(o) = origin {
                        pairs.push(o);
                    }
                    let want = if is_safe_method(method) || trusted {
                        Ok(())
                    } else {
                        by_token
                    };
                    assert_eq!(
                        verdict(method, &pairs),
                        want,
                        "{method}, {oname}, token {tname}"
                    );
                    cases += 1;
                }
            }
        }
        assert_eq!(cases, 9 * 8 * 6);
    }

    #[test]
    fn an_untrusted_origin_is_final_the_referer_is_not_consulted() {
        let r = verdict(
            "POST",
            &[
                ("origin", "https://evil.example"),
                ("referer", "https://app.example.com/"),
            ],
        );
        assert_eq!(r, Err(MISSING));
        let r = verdict(
            "POST",
            &[("origin", "null"), ("referer", "https://app.example.com/")],
        );
        assert_eq!(r, Err(MISSING));
    }

    #[test]
    fn two_origin_headers_are_untrusted() {
        assert_eq!(
            verdict("POST", &[("origin", TRUSTED), ("origin", TRUSTED)]),
            Err(MISSING)
        );
    }

    #[test]
    fn without_trusted_origins_only_the_token_counts() {
        let none = CookieSettings::default();
        let h = headers(&[("origin", TRUSTED)]);
        assert!(check_csrf(&none, "POST", &h).is_err());
        let h = headers(&[
            ("cookie", &format!("csrftoken={TOKEN}")),
            ("x-csrftoken", TOKEN),
        ]);
        assert!(check_csrf(&none, "POST", &h).is_ok());
    }

    #[test]
    fn duplicated_csrf_cookies_or_headers_fail_closed() {
        // A sibling subdomain can plant a second `csrftoken` cookie with a value it knows.
        let planted = format!("csrftoken={TOKEN}; csrftoken={TOKEN}");
        assert_eq!(
            verdict("POST", &[("cookie", &planted), ("x-csrftoken", TOKEN)]),
            Err(TWICE)
        );
        let one = format!("csrftoken={TOKEN}");
        assert_eq!(
            verdict(
                "POST",
                &[
                    ("cookie", &one),
                    ("x-csrftoken", TOKEN),
                    ("x-csrftoken", TOKEN)
                ]
            ),
            Err(TWICE)
        );
    }

    #[test]
    fn hostile_token_bytes_are_refused_not_compared() {
        for bad in [
            "abcdefghijklmnop qrst",
            "abcdefghijklmnop;qrst",
            "abcdefghijklmnopé",
            &"a".repeat(257),
            "",
        ] {
            let cookie = format!("csrftoken=\"{bad}\"");
            let r = verdict("POST", &[("cookie", &cookie), ("x-csrftoken", bad)]);
            assert!(r.is_err(), "{bad:?}");
        }
        let long = "a".repeat(256);
        let cookie = format!("csrftoken={long}");
        assert_eq!(
            verdict("POST", &[("cookie", &cookie), ("x-csrftoken", &long)]),
            Ok(())
        );
    }

    #[test]
    fn a_configured_header_and_cookie_name_are_the_ones_read() {
        let c = CookieSettings::builder()
            .csrf_cookie("XSRF-TOKEN")
            .csrf_header("X-XSRF-TOKEN")
            .build()
            .unwrap();
        let h = headers(&[
            ("cookie", &format!("XSRF-TOKEN={TOKEN}")),
            ("x-xsrf-token", TOKEN),
        ]);
        assert!(check_csrf(&c, "PUT", &h).is_ok());
        let h = headers(&[
            ("cookie", &format!("csrftoken={TOKEN}")),
            ("x-csrftoken", TOKEN),
        ]);
        assert!(check_csrf(&c, "PUT", &h).is_err());
    }

    #[test]
    fn origins_normalise() {
        let n = |s: &str, p| normalize_origin(s.as_bytes(), p);
        assert_eq!(n("https://A.com", false).as_deref(), Some("https://a.com"));
        assert_eq!(n("http://a.com:80", false).as_deref(), Some("http://a.com"));
        assert_eq!(
            n("http://a.com:443", false).as_deref(),
            Some("http://a.com:443")
        );
        assert_eq!(
            n("http://127.0.0.1:8000", false).as_deref(),
            Some("http://127.0.0.1:8000")
        );
        assert_eq!(
            n("http://[::1]:3000", false).as_deref(),
            Some("http://[::1]:3000")
        );
        assert_eq!(
            n("https://a.com/x/y?z#f", true).as_deref(),
            Some("https://a.com")
        );
        assert_eq!(n("https://a.com?x", true).as_deref(), Some("https://a.com"));
        for bad in [
            "null",
            "",
            "a.com",
            "https://",
            "https://a.com/x",
            "https://u:p@a.com",
            "file:///etc",
            "https://a.com:",
            "https://a.com:99999",
            "https://a.com:1x",
            "https://[zz]:1",
            "https://a_b.com",
            "https://a.com:80:80",
            "javascript://a.com",
            "https://é.com",
        ] {
            assert_eq!(n(bad, false), None, "{bad:?}");
        }
        assert_eq!(n("https://u@a.com/", true), None);
        assert_eq!(normalize_origin(&[0xff, b':'], true), None);
    }

    #[test]
    fn json_content_types() {
        for ok in [
            "application/json",
            "Application/JSON; charset=utf-8",
            "application/problem+json",
        ] {
            assert!(is_json(&headers(&[("content-type", ok)])), "{ok}");
        }
        for no in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "text/json",
            "application/jsonx",
        ] {
            assert!(!is_json(&headers(&[("content-type", no)])), "{no}");
        }
        assert!(!is_json(&headers(&[])));
        assert!(!is_json(&headers(&[
            ("content-type", "application/json"),
            ("content-type", "application/json")
        ])));
    }

    #[test]
    fn minted_tokens_are_well_formed_and_fresh() {
        let (a, b) = (new_csrf_token(), new_csrf_token());
        assert_eq!(a.len(), 43);
        assert!(well_formed(a.as_bytes()));
        assert_ne!(a, b);
    }
}
