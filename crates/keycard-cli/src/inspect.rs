//! `keycard inspect`: a token's header and claims, decoded and shown, never verified.

use std::io::{IsTerminal, Read};
use std::process::ExitCode;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value, json};

use crate::cli::InspectArgs;
use crate::output::{Output, safe, show_value};
use crate::time;
use crate::{Failure, Result};

/// The most `inspect` and `verify` read from stdin or an argument: far above any real token.
const MAX_INPUT: usize = 1024 * 1024;

/// The token from the argument, or from stdin when it is absent or `-`; whitespace and a
/// leading `Bearer ` (as copied from a header) removed.
pub(crate) fn read_token(arg: Option<&str>) -> Result<String> {
    let raw = match arg {
        Some(t) if t != "-" => t.to_owned(),
        _ => {
            let stdin = std::io::stdin();
            if stdin.is_terminal() {
                return Err(Failure::usage(
                    "no token: give one as an argument, or pipe it on stdin",
                ));
            }
            let mut buf = Vec::new();
            stdin
                .lock()
                .take(MAX_INPUT as u64 + 1)
                .read_to_end(&mut buf)
                .map_err(|e| {
                    Failure::usage(format!("cannot read the token from stdin: {}", e.kind()))
                })?;
            String::from_utf8(buf)
                .map_err(|_| Failure::invalid("not a JWT: the input is not text"))?
        }
    };
    if raw.len() > MAX_INPUT {
        return Err(Failure::invalid(
            "not a JWT: the input is larger than 1 MiB",
        ));
    }
    let t = raw.trim();
    if t.eq_ignore_ascii_case("bearer") {
        return Err(Failure::invalid("not a JWT: `Bearer` without a token"));
    }
    let t = match t.get(..7) {
        Some(scheme) if scheme.eq_ignore_ascii_case("bearer ") => t[7..].trim_start(),
        _ => t,
    };
    if t.is_empty() {
        return Err(Failure::invalid("not a JWT: the input is empty"));
    }
    Ok(t.to_owned())
}

/// A JSON object with its members in the token's order, and the names seen twice.
#[derive(Debug, Default)]
pub(crate) struct Object {
    pub(crate) members: Vec<(String, Value)>,
    pub(crate) duplicates: Vec<String>,
}

impl Object {
    fn get(&self, name: &str) -> Option<&Value> {
        self.members
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }
    fn to_map(&self) -> Map<String, Value> {
        self.members.iter().cloned().collect()
    }
}

impl<'de> Deserialize<'de> for Object {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Object;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut m: A,
            ) -> std::result::Result<Object, A::Error> {
                let mut out = Object::default();
                while let Some(k) = m.next_key::<String>()? {
                    let v: Value = m.next_value()?;
                    if out.members.iter().any(|(have, _)| *have == k)
                        && !out.duplicates.contains(&k)
                    {
                        out.duplicates.push(k.clone());
                    }
                    out.members.push((k, v));
                }
                Ok(out)
            }
        }
        d.deserialize_map(V)
    }
}

/// A decoded (not verified) token.
#[derive(Debug)]
pub(crate) struct Decoded {
    pub(crate) header: Object,
    pub(crate) claims: Object,
    pub(crate) signature_chars: usize,
}

/// Decodes a compact JWS without checking anything; the error never quotes the input.
pub(crate) fn decode(token: &str) -> std::result::Result<Decoded, String> {
    let parts: Vec<&str> = token.split('.').collect();
    match parts.len() {
        3 => {}
        5 => {
            return Err(
                "not a JWT keycard reads: five segments make an encrypted token (JWE)".to_owned(),
            );
        }
        n => {
            return Err(format!(
                "not a JWT: expected three segments separated by dots, found {n}"
            ));
        }
    }
    let segment = |i: usize, name: &str| -> std::result::Result<Object, String> {
        // Padding is not base64url, but tolerate it here: inspect shows what it can.
        let text = parts[i].trim_end_matches('=');
        if text.is_empty() {
            return Err(format!("not a JWT: the {name} is empty"));
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| format!("not a JWT: the {name} is not base64url"))?;
        serde_json::from_slice::<Object>(&bytes)
            .map_err(|_| format!("not a JWT: the {name} is not a JSON object"))
    };
    let header = segment(0, "header")?;
    let claims = segment(1, "payload")?;
    Ok(Decoded {
        header,
        claims,
        signature_chars: parts[2].len(),
    })
}

/// How a time claim reads, past and future.
fn time_phrase(claim: &str, at: u64, now: u64) -> Option<String> {
    let dist = time::human(at.abs_diff(now));
    let future = at > now;
    Some(match (claim, future) {
        ("exp", true) => format!("expires in {dist}"),
        ("exp", false) => format!("expired {dist} ago"),
        ("iat", true) => format!("issued in the future (in {dist})"),
        ("iat", false) => format!("issued {dist} ago"),
        ("nbf", true) => format!("becomes valid in {dist}"),
        ("nbf", false) => format!("became valid {dist} ago"),
        ("refresh_exp", true) => format!("refreshable for another {dist}"),
        ("refresh_exp", false) => format!("refresh window closed {dist} ago"),
        ("auth_time", _) => format!("authenticated {}", time::relative(at, now)),
        _ => return None,
    })
}

/// The NumericDate a time claim holds, floored like keycard's verifier does.
fn numeric_date(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| f.is_finite() && *f >= 0.0)
                .map(|f| f.floor() as u64)
        }),
        _ => None,
    }
}

/// Things worth knowing that keycard's verifier would refuse, seen without a key.
fn notes(d: &Decoded) -> Vec<String> {
    let mut out = Vec::new();
    match d.header.get("alg") {
        Some(Value::String(a)) if a.eq_ignore_ascii_case("none") => {
            out.push("alg is none: keycard refuses unsigned tokens".to_owned())
        }
        Some(Value::String(_)) => {}
        _ => out.push("the header has no alg string: keycard refuses it".to_owned()),
    }
    for name in d.header.duplicates.iter().chain(&d.claims.duplicates) {
        out.push(format!(
            "member {} appears twice: keycard refuses such tokens",
            safe(name)
        ));
    }
    if d.claims.get("exp").is_none() {
        out.push("no exp claim: keycard refuses tokens that never expire".to_owned());
    }
    for refused in ["crit", "zip", "b64", "enc"] {
        if d.header.get(refused).is_some() {
            out.push(format!("header parameter {refused}: keycard refuses it"));
        }
    }
    out
}

/// Runs `keycard inspect`.
pub(crate) fn run(args: &InspectArgs, out: &Output) -> Result<ExitCode> {
    let token = read_token(args.token.as_deref())?;
    let decoded = decode(&token).map_err(Failure::invalid)?;
    let now = args.at.unwrap_or_else(time::now);
    if args.json {
        crate::output::emitln(&to_json(&decoded, now).to_string())?;
    } else {
        crate::output::emit(&to_text(&decoded, now, out))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn to_json(d: &Decoded, now: u64) -> Value {
    let mut times = Map::new();
    for (name, v) in &d.claims.members {
        if let (Some(at), Some(phrase)) = (
            numeric_date(v),
            numeric_date(v).and_then(|at| time_phrase(name, at, now)),
        ) {
            times.insert(
                name.clone(),
                json!({
                    "utc": time::iso8601(at),
                    "relative": phrase,
                    "seconds_from_now": i128::from(at) - i128::from(now),
                }),
            );
        }
    }
    json!({
        "verified": false,
        "header": d.header.to_map(),
        "claims": d.claims.to_map(),
        "times": times,
        "now": now,
        "signature_chars": d.signature_chars,
        "notes": notes(d),
    })
}

fn to_text(d: &Decoded, now: u64, out: &Output) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} decoded only: the signature and the claims were NOT checked (use `keycard verify`)",
        out.red("UNVERIFIED")
    );
    let width = d
        .header
        .members
        .iter()
        .chain(&d.claims.members)
        .map(|(k, _)| safe(k).chars().count())
        .max()
        .unwrap_or(0)
        .max(3);
    let _ = writeln!(s, "\n{}", out.bold("Header"));
    for (k, v) in &d.header.members {
        let _ = writeln!(s, "  {:<width$}  {}", safe(k), show_value(v));
    }
    let _ = writeln!(s, "\n{}", out.bold("Claims"));
    for (k, v) in &d.claims.members {
        let mut line = format!("  {:<width$}  {}", safe(k), show_value(v));
        let is_time = matches!(
            k.as_str(),
            "exp" | "iat" | "nbf" | "refresh_exp" | "auth_time"
        );
        match numeric_date(v) {
            Some(at) if is_time => {
                let iso = time::iso8601(at).unwrap_or_else(|| "beyond the year 9999".to_owned());
                let phrase = time_phrase(k, at, now).unwrap_or_default();
                let painted = match (k.as_str(), at > now) {
                    ("exp" | "refresh_exp", false) | ("iat", true) => out.red(&phrase),
                    ("nbf", true) => out.yellow(&phrase),
                    ("exp" | "refresh_exp", true) => out.green(&phrase),
                    _ => phrase,
                };
                let _ = write!(line, "  {}  {painted}", out.dim(&iso));
            }
            None if is_time => {
                let _ = write!(line, "  {}", out.red("not a NumericDate"));
            }
            _ => {}
        }
        let _ = writeln!(s, "{line}");
    }
    let _ = writeln!(
        s,
        "\n{}  {} characters, not checked",
        out.bold("Signature"),
        d.signature_chars
    );
    let notes = notes(d);
    if !notes.is_empty() {
        let _ = writeln!(s);
        for n in notes {
            let _ = writeln!(s, "{} {n}", out.yellow("note:"));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    #[test]
    fn decodes_in_the_tokens_order_and_flags_duplicates() {
        let t = format!(
            "{}.{}.sig",
            b64(r#"{"typ":"JWT","alg":"HS256"}"#),
            b64(r#"{"user_id":"1","exp":1,"exp":2}"#)
        );
        let d = decode(&t).unwrap();
        assert_eq!(d.header.members[0].0, "typ");
        assert_eq!(d.claims.duplicates, ["exp"]);
        assert_eq!(d.claims.get("exp"), Some(&json!(2)));
        assert!(notes(&d).iter().any(|n| n.contains("twice")));
    }

    #[test]
    fn garbage_is_a_sentence_that_never_quotes_the_input() {
        for (bad, want) in [
            ("secret-ish", "found 1"),
            ("a.b", "found 2"),
            ("a.b.c.d.e", "JWE"),
            ("!!!.e30.c", "header is not base64url"),
            (
                &format!("{}.e30.c", b64("[1]")),
                "header is not a JSON object",
            ),
            (&format!("{}..c", b64("{}")), "payload is empty"),
        ] {
            let e = decode(bad).unwrap_err();
            assert!(e.contains(want), "{bad}: {e}");
            assert!(!e.contains(bad), "{e}");
        }
    }

    #[test]
    fn time_claims_read_naturally() {
        assert_eq!(
            time_phrase("exp", 1000 + 240, 1000).unwrap(),
            "expires in 4 min"
        );
        assert_eq!(
            time_phrase("exp", 1000, 1000 + 3 * 3600).unwrap(),
            "expired 3 h ago"
        );
        assert_eq!(
            time_phrase("nbf", 2000, 1000).unwrap(),
            "becomes valid in 16 min"
        );
        assert!(time_phrase("user_id", 1, 1).is_none());
        assert_eq!(numeric_date(&json!(1.9e9)), Some(1_900_000_000));
        assert_eq!(numeric_date(&json!(-1)), None);
        assert_eq!(numeric_date(&json!("soon")), None);
    }
}
