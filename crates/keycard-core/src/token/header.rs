//! The JOSE header, parsed into the few members the verifier reads.
//!
//! At least as strict as parsing the header into a `serde_json::Map` and reading it: the same
//! `serde_json` parser validates every member's value (other members' values are parsed as
//! `Value` and dropped), a duplicate member — known or not — refuses the whole header, and
//! anything that is not one JSON object is refused. Registered parameters keycard does not
//! use must still have their registered types (RFC 7515 §4.1, RFC 8555 §6.4): `cty`, `jku`,
//! `x5u`, `x5t`, `x5t#S256`, `url`, `nonce` strings, `x5c` an array of strings, `jwk` a JWK
//! (as jsonwebtoken reads it) — a header jsonwebtoken would refuse is never accepted here.
//! The members keycard reads borrow from the decoded bytes unless they contain escapes.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt;

use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{Deserialize, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// One header member as the verifier sees it.
#[derive(Debug, Default, PartialEq)]
pub(super) enum Member<'a> {
    /// Not in the header.
    #[default]
    Absent,
    /// A JSON string.
    Str(Cow<'a, str>),
    /// Any other JSON value.
    Other,
}

/// The members of a JOSE header the verifier decides on.
#[derive(Debug, Default)]
pub(super) struct JoseHeader<'a> {
    pub(super) alg: Member<'a>,
    pub(super) kid: Member<'a>,
    pub(super) typ: Member<'a>,
    /// `crit`, `b64`, `zip` or `enc` is present (whatever its value).
    pub(super) refused: bool,
}

impl<'a> JoseHeader<'a> {
    /// Parses decoded header bytes: `None` unless they are exactly one JSON object without
    /// duplicate members.
    pub(super) fn parse(bytes: &'a [u8]) -> Option<Self> {
        serde_json::from_slice(bytes).ok()
    }
}

impl<'de> Deserialize<'de> for JoseHeader<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(HeaderVisitor)
    }
}

struct HeaderVisitor;

impl<'de> Visitor<'de> for HeaderVisitor {
    type Value = JoseHeader<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<JoseHeader<'de>, A::Error> {
        const ALG: u8 = 1;
        const KID: u8 = 2;
        const TYP: u8 = 4;
        let mut h = JoseHeader::default();
        let mut seen = 0u8;
        // Other members' names, for the duplicate check (no allocation until there is one).
        let mut others: BTreeSet<Cow<'de, str>> = BTreeSet::new();
        while let Some(Name(name)) = m.next_key::<Name<'de>>()? {
            let bit = match &*name {
                "alg" => ALG,
                "kid" => KID,
                "typ" => TYP,
                "crit" => 8,
                "b64" => 16,
                "zip" => 32,
                "enc" => 64,
                _ => 0,
            };
            // Parameters keycard ignores, but only when they have their registered types.
            let registered = match &*name {
                "cty" | "jku" | "x5u" | "x5t" | "x5t#S256" | "url" | "nonce" => {
                    Some(Registered::Str)
                }
                "x5c" => Some(Registered::StrArray),
                "jwk" => Some(Registered::Jwk),
                _ => None,
            };
            let unique = if bit == 0 {
                others.insert(name)
            } else {
                let fresh = seen & bit == 0;
                seen |= bit;
                fresh
            };
            if !unique {
                return Err(A::Error::custom("duplicate member"));
            }
            if let Some(kind) = registered {
                match kind {
                    Registered::Str => {
                        if !matches!(m.next_value::<Member<'de>>()?, Member::Str(_)) {
                            return Err(A::Error::custom("mistyped header parameter"));
                        }
                    }
                    Registered::StrArray => {
                        m.next_value::<Vec<String>>()?;
                    }
                    Registered::Jwk => {
                        m.next_value::<jsonwebtoken::jwk::Jwk>()?;
                    }
                }
                continue;
            }
            let value: Member<'de> = m.next_value()?;
            match bit {
                ALG => h.alg = value,
                KID => h.kid = value,
                TYP => h.typ = value,
                0 => {}
                _ => h.refused = true,
            }
        }
        Ok(h)
    }
}

/// The types of the registered header parameters keycard checks without using.
enum Registered {
    Str,
    StrArray,
    Jwk,
}

/// A member name, borrowed from the input unless it holds escapes.
struct Name<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Name<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Name<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

impl<'de> Deserialize<'de> for Member<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(MemberVisitor)
    }
}

/// Keeps strings; parses every other value exactly as `serde_json::Value` would (so the
/// same documents are refused), then drops it.
struct MemberVisitor;

impl<'de> Visitor<'de> for MemberVisitor {
    type Value = Member<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Member<'de>, E> {
        Ok(Member::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Member<'de>, E> {
        Ok(Member::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Member<'de>, E> {
        Ok(Member::Str(Cow::Owned(v)))
    }
    fn visit_bool<E>(self, _: bool) -> Result<Member<'de>, E> {
        Ok(Member::Other)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Member<'de>, E> {
        Ok(Member::Other)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Member<'de>, E> {
        Ok(Member::Other)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Member<'de>, E> {
        Ok(Member::Other)
    }
    fn visit_unit<E>(self) -> Result<Member<'de>, E> {
        Ok(Member::Other)
    }
    fn visit_none<E>(self) -> Result<Member<'de>, E> {
        Ok(Member::Other)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Member<'de>, A::Error> {
        Value::deserialize(SeqAccessDeserializer::new(seq))?;
        Ok(Member::Other)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Member<'de>, A::Error> {
        Value::deserialize(MapAccessDeserializer::new(map))?;
        Ok(Member::Other)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failing test panics with the value
mod tests {
    use super::*;
    use serde_json::Map;

    /// The reference: what the verifier read before, from a whole `Map`.
    fn reference(
        bytes: &[u8],
    ) -> Option<(Member<'static>, Member<'static>, Member<'static>, bool)> {
        struct Strict(Map<String, Value>);
        impl<'de> Deserialize<'de> for Strict {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = Strict;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str("a JSON object")
                    }
                    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Strict, A::Error> {
                        let mut out = Map::new();
                        while let Some(k) = m.next_key::<String>()? {
                            if out.contains_key(&k) {
                                return Err(A::Error::custom("duplicate member"));
                            }
                            let v: Value = m.next_value()?;
                            out.insert(k, v);
                        }
                        Ok(Strict(out))
                    }
                }
                d.deserialize_map(V)
            }
        }
        let m = serde_json::from_slice::<Strict>(bytes).ok()?.0;
        let member = |name: &str| match m.get(name) {
            None => Member::Absent,
            Some(Value::String(s)) => Member::Str(Cow::Owned(s.clone())),
            Some(_) => Member::Other,
        };
        let refused = ["crit", "b64", "zip", "enc"]
            .iter()
            .any(|k| m.contains_key(*k));
        Some((member("alg"), member("kid"), member("typ"), refused))
    }

    #[track_caller]
    fn same(text: &[u8]) {
        let ours = JoseHeader::parse(text).map(|h| (h.alg, h.kid, h.typ, h.refused));
        let ours = ours.map(|(a, k, t, r)| (owned(a), owned(k), owned(t), r));
        assert_eq!(ours, reference(text), "{}", String::from_utf8_lossy(text));
    }

    fn owned(m: Member<'_>) -> Member<'static> {
        match m {
            Member::Absent => Member::Absent,
            Member::Str(s) => Member::Str(Cow::Owned(s.into_owned())),
            Member::Other => Member::Other,
        }
    }

    #[test]
    fn reads_what_a_whole_map_reads_and_refuses_what_it_refuses() {
        for text in [
            &br#"{"alg":"HS256","typ":"JWT"}"#[..],
            br#"{"alg":"HS256","kid":"k\u0031","typ":"JWT"}"#,
            br#"{"alg":"HS256","alg":"HS256"}"#,
            br#"{"x":1,"x":2,"alg":"HS256"}"#,
            br#"{"x":1,"\u0078":2}"#,
            br#"{"a\u006cg":"HS256","alg":"none"}"#,
            br#"{"alg":["HS256"],"kid":{"a":[1,2,{"b":null}]},"typ":1.5}"#,
            br#"{"crit":[],"alg":"HS256"}"#,
            br#"{"zip":null}"#,
            br#"{"enc":"x","b64":false}"#,
            br#"{"alg":"HS256","big":1E400}"#,
            br#"{"alg":"HS256","big":18446744073709551616}"#,
            br#"{"alg":"HS256","n":{"dup":1,"dup":2}}"#,
            br#"{"alg":"HS256"} x"#,
            br#"{"alg":"HS256"}"#,
            br#"[]"#,
            br#""x""#,
            b"",
            b"null",
            b"{",
            b"\xef\xbb\xbf{}",
            b"{\"alg\":\"\xff\"}",
            b"{\"x\":\"\xff\"}",
            b"{\"\xff\":1}",
            br#"{"x":"\ud800"}"#,
            br#"{"x":-0,"y":1e-400,"z":[[[[]]]]}"#,
        ] {
            same(text);
        }
        let deep = format!("{{\"x\":{}{}}}", "[".repeat(200), "]".repeat(200));
        same(deep.as_bytes());
    }

    #[test]
    fn registered_parameters_must_have_their_registered_types() {
        for ok in [
            &br#"{"alg":"HS256","cty":"JWT","x5t":"abc","x5t#S256":"d","jku":"https://x"}"#[..],
            br#"{"alg":"HS256","x5c":["MIIB"],"url":"u","nonce":"n"}"#,
            br#"{"alg":"HS256","x5c":[]}"#,
            br#"{"alg":"HS256","jwk":{"kty":"oct","k":"AAAA"}}"#,
        ] {
            assert!(
                JoseHeader::parse(ok).is_some(),
                "{}",
                String::from_utf8_lossy(ok)
            );
        }
        for bad in [
            &br#"{"alg":"HS256","cty":5}"#[..],
            br#"{"alg":"HS256","cty":null}"#,
            br#"{"alg":"HS256","x5u":["a"]}"#,
            br#"{"alg":"HS256","x5c":"MIIB"}"#,
            br#"{"alg":"HS256","x5c":[1]}"#,
            br#"{"alg":"HS256","jwk":"k"}"#,
            br#"{"alg":"HS256","jwk":[]}"#,
            br#"{"alg":"HS256","nonce":{}}"#,
            br#"{"alg":"HS256","cty":"a","cty":"a"}"#,
        ] {
            assert!(
                JoseHeader::parse(bad).is_none(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn members_without_escapes_are_borrowed() {
        let h = JoseHeader::parse(br#"{"alg":"HS256","kid":"a\"b"}"#).unwrap();
        assert!(matches!(h.alg, Member::Str(Cow::Borrowed("HS256"))));
        assert!(matches!(h.kid, Member::Str(Cow::Owned(ref k)) if k == "a\"b"));
    }
}
