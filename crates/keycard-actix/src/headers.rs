//! actix-web's header map, as keycard's authenticators read headers.

use actix_web::http::header::HeaderMap;
use keycard_core::authn::{HeaderLookup, HeaderSource};

/// actix-web's [`HeaderMap`] seen as a keycard [`HeaderSource`] (actix-web 4 uses `http` 0.2,
/// keycard-core `http` 1, hence the newtype).
///
/// ```
/// use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
/// use keycard_actix::ActixHeaders;
/// use keycard_core::authn::{HeaderLookup, HeaderSource};
///
/// let mut map = HeaderMap::new();
/// map.append(HeaderName::from_static("authorization"), HeaderValue::from_static("Bearer a"));
/// assert_eq!(ActixHeaders(&map).lookup("authorization"), HeaderLookup::One(b"Bearer a"));
/// map.append(HeaderName::from_static("authorization"), HeaderValue::from_static("Bearer b"));
/// assert_eq!(ActixHeaders(&map).lookup("authorization"), HeaderLookup::Many);
/// assert_eq!(ActixHeaders(&map).lookup("x-api-key"), HeaderLookup::Missing);
/// ```
#[derive(Clone, Copy)]
pub struct ActixHeaders<'a>(pub &'a HeaderMap);

impl std::fmt::Debug for ActixHeaders<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Header values hold credentials: names only.
        f.debug_list().entries(self.0.keys()).finish()
    }
}

impl HeaderSource for ActixHeaders<'_> {
    fn lookup(&self, name: &str) -> HeaderLookup<'_> {
        let mut all = self.0.get_all(name);
        match (all.next(), all.next()) {
            (None, _) => HeaderLookup::Missing,
            (Some(v), None) => HeaderLookup::One(v.as_bytes()),
            (Some(_), Some(_)) => HeaderLookup::Many,
        }
    }

    fn each_value<'a>(&'a self, name: &str, f: &mut dyn FnMut(&'a [u8])) {
        for v in self.0.get_all(name) {
            f(v.as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::{HeaderName, HeaderValue};

    use super::*;

    #[test]
    fn a_name_that_is_not_a_header_name_is_missing_not_a_panic() {
        let map = HeaderMap::new();
        assert_eq!(
            ActixHeaders(&map).lookup("not a header\n"),
            HeaderLookup::Missing
        );
        assert_eq!(ActixHeaders(&map).lookup(""), HeaderLookup::Missing);
    }

    #[test]
    fn every_value_of_a_repeated_header_is_handed_over_in_order() {
        let mut map = HeaderMap::new();
        let cookie = HeaderName::from_static("cookie");
        map.append(cookie.clone(), HeaderValue::from_static("a=1"));
        map.append(cookie, HeaderValue::from_static("b=2"));
        let mut seen = Vec::new();
        ActixHeaders(&map).each_value("cookie", &mut |v| seen.push(v.to_vec()));
        assert_eq!(seen, [b"a=1".to_vec(), b"b=2".to_vec()]);
        ActixHeaders(&map).each_value("x-none", &mut |_| panic!("no such header"));
    }

    #[test]
    fn value_bytes_are_handed_over_raw() {
        let mut map = HeaderMap::new();
        let raw = HeaderValue::from_bytes(b"Bearer \xff\xfe").unwrap();
        map.insert(HeaderName::from_static("authorization"), raw);
        assert_eq!(
            ActixHeaders(&map).lookup("authorization"),
            HeaderLookup::One(b"Bearer \xff\xfe")
        );
    }

    #[test]
    fn debug_shows_names_never_values() {
        let mut map = HeaderMap::new();
        map.insert(
            HeaderName::from_static("authorization"),
            HeaderValue::from_static("Bearer secret"),
        );
        let shown = format!("{:?}", ActixHeaders(&map));
        assert!(
            shown.contains("authorization") && !shown.contains("secret"),
            "{shown}"
        );
    }
}
