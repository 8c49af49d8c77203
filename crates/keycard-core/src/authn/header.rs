//! Reading credentials out of headers: the one parser every built-in authenticator uses.

/// What a header lookup found. Several headers of one name are an answer of their own:
/// which one counts would be a guess, so keycard refuses to guess.
///
/// `Debug` shows the length of a value, never its bytes: they are usually a credential.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum HeaderLookup<'a> {
    /// No such header.
    Missing,
    /// Exactly one, with these bytes.
    One(&'a [u8]),
    /// More than one.
    Many,
}

/// Headers as authenticators read them; implemented for `http::HeaderMap` here and for
/// actix-web's header map in keycard-actix.
pub trait HeaderSource {
    /// Looks up a header by its lower-case name.
    fn lookup(&self, name: &str) -> HeaderLookup<'_>;

    /// Hands every value of a header to `f`, in order: for a header that may legitimately come
    /// several times, like `Cookie` (HTTP/2 clients send one field per cookie, RFC 9113
    /// §8.2.3). The default sees a single value only; a source that can hold several should
    /// override it (both built-in ones do).
    fn each_value<'a>(&'a self, name: &str, f: &mut dyn FnMut(&'a [u8])) {
        if let HeaderLookup::One(v) = self.lookup(name) {
            f(v);
        }
    }
}

impl HeaderSource for http::HeaderMap {
    fn lookup(&self, name: &str) -> HeaderLookup<'_> {
        let mut all = self.get_all(name).iter();
        match (all.next(), all.next()) {
            (None, _) => HeaderLookup::Missing,
            (Some(v), None) => HeaderLookup::One(v.as_bytes()),
            (Some(_), Some(_)) => HeaderLookup::Many,
        }
    }

    fn each_value<'a>(&'a self, name: &str, f: &mut dyn FnMut(&'a [u8])) {
        for v in self.get_all(name) {
            f(v.as_bytes());
        }
    }
}

/// The credentials in an authorization-style header value.
///
/// `Debug` redacts the credential (`Value(******)`), so logging a parse result leaks nothing.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Credentials<'a> {
    /// Empty, or another scheme: not for this authenticator.
    NotMine,
    /// The scheme matched, and this is the single credential after it (raw bytes: checked by
    /// whoever reads it, never reflected).
    Value(&'a [u8]),
    /// The scheme matched and nothing follows it.
    Missing,
    /// The scheme matched and more than one value follows (spaces or commas inside).
    Several,
}

impl std::fmt::Debug for HeaderLookup<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Missing => f.write_str("Missing"),
            Self::One(v) => write!(f, "One(<{} bytes>)", v.len()),
            Self::Many => f.write_str("Many"),
        }
    }
}

impl std::fmt::Debug for Credentials<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotMine => f.write_str("NotMine"),
            Self::Value(_) => f.write_str("Value(******)"),
            Self::Missing => f.write_str("Missing"),
            Self::Several => f.write_str("Several"),
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

/// Whether `v` holds a space, a tab or a comma. Tokens are hundreds of bytes and this runs
/// on every request: no early exit, so the loop compiles to wide compares.
fn contains_separator(v: &[u8]) -> bool {
    v.iter()
        .fold(false, |found, b| found | matches!(b, b' ' | b'\t' | b','))
}

/// Splits `Scheme credentials` (RFC 7235): surrounding whitespace ignored, the scheme matched
/// case-insensitively against `schemes`, any run of spaces or tabs between the two.
///
/// ```
/// use keycard_core::authn::{parse_credentials, Credentials};
/// let schemes = ["Bearer".to_owned()];
/// assert_eq!(parse_credentials(b" bearer\tabc ", &schemes), Credentials::Value(b"abc"));
/// assert_eq!(parse_credentials(b"Bearer", &schemes), Credentials::Missing);
/// assert_eq!(parse_credentials(b"Bearer a b", &schemes), Credentials::Several);
/// assert_eq!(parse_credentials(b"Token abc", &schemes), Credentials::NotMine);
/// ```
pub fn parse_credentials<'a>(value: &'a [u8], schemes: &[String]) -> Credentials<'a> {
    let value = trim(value);
    if value.is_empty() {
        return Credentials::NotMine;
    }
    let (scheme, rest) = match value.iter().position(is_ws) {
        Some(i) => (&value[..i], trim(&value[i..])),
        None => (value, &value[value.len()..]),
    };
    if !schemes
        .iter()
        .any(|s| s.as_bytes().eq_ignore_ascii_case(scheme))
    {
        return Credentials::NotMine;
    }
    if rest.is_empty() {
        Credentials::Missing
    } else if contains_separator(rest) {
        Credentials::Several
    } else {
        Credentials::Value(rest)
    }
}
