//! Reading cookies out of `Cookie` headers: a small parser that never allocates, never
//! decodes, and refuses to guess between two cookies of one name.

use crate::authn::{HeaderLookup, HeaderSource};

/// The `name=value` pairs of one `Cookie` header value (RFC 6265 §4.2.1 and §5.4, read
/// leniently): pairs separated by `;`, spaces and tabs around names and values ignored, one
/// pair of double quotes around a value removed, pieces without `=` or with an empty name
/// skipped. Bytes are handed over raw: no percent-decoding, no UTF-8 check; whoever reads a
/// value checks it.
///
/// ```
/// use keycard_core::cookie::cookie_pairs;
/// let pairs: Vec<_> = cookie_pairs(b"a=1; b=\"two\" ;junk; =x;c=").collect();
/// assert_eq!(pairs, [(&b"a"[..], &b"1"[..]), (b"b", b"two"), (b"c", b"")]);
/// ```
pub fn cookie_pairs(value: &[u8]) -> CookiePairs<'_> {
    CookiePairs { rest: Some(value) }
}

/// The iterator of [`cookie_pairs`].
#[derive(Clone)]
pub struct CookiePairs<'a> {
    rest: Option<&'a [u8]>,
}

impl std::fmt::Debug for CookiePairs<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Cookie values are credentials: the length only.
        write!(
            f,
            "CookiePairs(<{} bytes left>)",
            self.rest.map_or(0, <[u8]>::len)
        )
    }
}

impl<'a> Iterator for CookiePairs<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let rest = self.rest?;
            let piece = match rest.iter().position(|b| *b == b';') {
                Some(i) => {
                    self.rest = Some(&rest[i + 1..]);
                    &rest[..i]
                }
                None => {
                    self.rest = None;
                    rest
                }
            };
            let Some(eq) = piece.iter().position(|b| *b == b'=') else {
                continue;
            };
            let name = trim(&piece[..eq]);
            if name.is_empty() {
                continue;
            }
            return Some((name, unquote(trim(&piece[eq + 1..]))));
        }
    }
}

fn is_ws(b: &u8) -> bool {
    *b == b' ' || *b == b'\t'
}

fn trim(mut v: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = v {
        if is_ws(first) { v = rest } else { break }
    }
    while let [rest @ .., last] = v {
        if is_ws(last) { v = rest } else { break }
    }
    v
}

/// RFC 6265's `cookie-value` may be wrapped in one pair of double quotes, which are not part
/// of the value.
fn unquote(v: &[u8]) -> &[u8] {
    match v {
        [b'"', inner @ .., b'"'] => inner,
        _ => v,
    }
}

/// Looks up the cookie `name` (case-sensitive, as cookie names are) in every `Cookie` header
/// of the request (HTTP/2 clients send one field per cookie, RFC 9113 §8.2.3): missing, exactly
/// one, or several. Several is an answer of its own: two cookies of one name come from two
/// paths or domains, one of them perhaps planted by a sibling subdomain, and which is genuine
/// would be a guess.
///
/// ```
/// use keycard_core::authn::HeaderLookup;
/// use keycard_core::cookie::find_cookie;
/// let mut headers = http::HeaderMap::new();
/// headers.append("cookie", "theme=dark; keycard_access=abc".parse().unwrap());
/// assert_eq!(find_cookie(&headers, "keycard_access"), HeaderLookup::One(b"abc"));
/// assert_eq!(find_cookie(&headers, "csrftoken"), HeaderLookup::Missing);
/// headers.append("cookie", "keycard_access=def".parse().unwrap());
/// assert_eq!(find_cookie(&headers, "keycard_access"), HeaderLookup::Many);
/// ```
pub fn find_cookie<'a>(headers: &'a (dyn HeaderSource + Sync), name: &str) -> HeaderLookup<'a> {
    let mut found = HeaderLookup::Missing;
    headers.each_value("cookie", &mut |value| {
        for (n, v) in cookie_pairs(value) {
            if n == name.as_bytes() {
                found = match found {
                    HeaderLookup::Missing => HeaderLookup::One(v),
                    _ => HeaderLookup::Many,
                };
            }
        }
    });
    found
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn pairs(v: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
        cookie_pairs(v)
            .map(|(n, v)| (n.to_vec(), v.to_vec()))
            .collect()
    }

    fn headers(values: &[&[u8]]) -> http::HeaderMap {
        let mut map = http::HeaderMap::new();
        for v in values {
            map.append("cookie", http::HeaderValue::from_bytes(v).unwrap());
        }
        map
    }

    #[test]
    fn plain_pairs_with_browser_spacing() {
        assert_eq!(
            pairs(b"a=1; b=2"),
            vec![
                (b"a".to_vec(), b"1".to_vec()),
                (b"b".to_vec(), b"2".to_vec())
            ]
        );
    }

    #[test]
    fn empty_and_separator_only_headers_have_no_pairs() {
        for v in [&b""[..], b";", b";;;", b"   ", b" ; ; ", b"=", b"==;="] {
            assert!(pairs(v).is_empty(), "{v:?}");
        }
    }

    #[test]
    fn whitespace_around_names_and_values_is_ignored_inside_is_kept() {
        assert_eq!(
            pairs(b" \ta \t= \tx y\t ;"),
            vec![(b"a".to_vec(), b"x y".to_vec())]
        );
    }

    #[test]
    fn one_pair_of_quotes_is_removed_and_no_more() {
        assert_eq!(pairs(br#"a="v""#), vec![(b"a".to_vec(), b"v".to_vec())]);
        assert_eq!(pairs(br#"a="""#), vec![(b"a".to_vec(), b"".to_vec())]);
        assert_eq!(
            pairs(br#"a=""v"""#),
            vec![(b"a".to_vec(), br#""v""#.to_vec())]
        );
        // A lone quote is not a pair: kept as is.
        assert_eq!(pairs(br#"a=""#), vec![(b"a".to_vec(), br#"""#.to_vec())]);
        assert_eq!(pairs(br#"a="v"#), vec![(b"a".to_vec(), br#""v"#.to_vec())]);
        // A quoted `;` does not protect the pair: cookies cannot hold `;`.
        assert_eq!(
            pairs(br#"a="x;y""#),
            vec![(b"a".to_vec(), br#""x"#.to_vec())]
        );
    }

    #[test]
    fn the_first_equals_sign_splits_later_ones_belong_to_the_value() {
        assert_eq!(pairs(b"a=b=c=="), vec![(b"a".to_vec(), b"b=c==".to_vec())]);
    }

    #[test]
    fn pieces_without_a_name_or_an_equals_sign_are_skipped() {
        assert_eq!(
            pairs(b"lonely; =nameless; ok=1"),
            vec![(b"ok".to_vec(), b"1".to_vec())]
        );
    }

    #[test]
    fn non_ascii_and_control_bytes_are_handed_over_raw_never_a_panic() {
        let v = "é=ü; keycard_access=tök\u{1F600}n".as_bytes();
        let p = pairs(v);
        assert_eq!(p[0], ("é".as_bytes().to_vec(), "ü".as_bytes().to_vec()));
        assert_eq!(p[1].1, "tök\u{1F600}n".as_bytes());
        let raw = [0xff, b'=', 0xfe, b';', b'a', b'=', 0x80];
        assert_eq!(
            pairs(&raw),
            vec![(vec![0xff], vec![0xfe]), (b"a".to_vec(), vec![0x80])]
        );
    }

    #[test]
    fn names_are_case_sensitive() {
        let map = headers(&[b"Keycard_Access=a"]);
        assert_eq!(find_cookie(&map, "keycard_access"), HeaderLookup::Missing);
        assert_eq!(find_cookie(&map, "Keycard_Access"), HeaderLookup::One(b"a"));
    }

    #[test]
    fn a_name_is_matched_whole_not_as_a_prefix_or_suffix() {
        let map = headers(&[b"xkeycard_access=a; keycard_accessx=b; keycard_access =c"]);
        assert_eq!(find_cookie(&map, "keycard_access"), HeaderLookup::One(b"c"));
    }

    #[test]
    fn duplicates_in_one_header_or_across_headers_are_many() {
        assert_eq!(
            find_cookie(&headers(&[b"a=1; a=1"]), "a"),
            HeaderLookup::Many
        );
        assert_eq!(
            find_cookie(&headers(&[b"a=1; a=2"]), "a"),
            HeaderLookup::Many
        );
        assert_eq!(
            find_cookie(&headers(&[b"a=1", b"b=2; a=3"]), "a"),
            HeaderLookup::Many
        );
        assert_eq!(
            find_cookie(&headers(&[b"a=1", b"b=2"]), "b"),
            HeaderLookup::One(b"2")
        );
    }

    #[test]
    fn cookies_split_over_several_headers_are_all_read() {
        let map = headers(&[b"x=1", b"keycard_access=tok", b"csrftoken=c"]);
        assert_eq!(
            find_cookie(&map, "keycard_access"),
            HeaderLookup::One(b"tok")
        );
        assert_eq!(find_cookie(&map, "csrftoken"), HeaderLookup::One(b"c"));
    }

    #[test]
    fn a_huge_header_is_read_in_one_pass() {
        // 1 MiB of junk pairs and separators, the cookie at the very end.
        let mut v = Vec::new();
        while v.len() < 1 << 20 {
            v.extend_from_slice(b"junk=xxxxxxxxxxxxxxxxxxxxxxxx; ;;  =; novalue; ");
        }
        v.extend_from_slice(b"keycard_access=tok");
        let map = headers(&[&v]);
        assert_eq!(
            find_cookie(&map, "keycard_access"),
            HeaderLookup::One(b"tok")
        );
        assert_eq!(find_cookie(&map, "junk"), HeaderLookup::Many);
        let semicolons = vec![b';'; 1 << 20];
        assert_eq!(
            find_cookie(&headers(&[&semicolons]), "a"),
            HeaderLookup::Missing
        );
    }

    #[test]
    fn no_cookie_header_is_missing() {
        assert_eq!(
            find_cookie(&http::HeaderMap::new(), "a"),
            HeaderLookup::Missing
        );
    }

    #[test]
    fn debug_shows_no_cookie_bytes() {
        let it = cookie_pairs(b"keycard_access=secret");
        assert!(!format!("{it:?}").contains("secret"));
    }
}
