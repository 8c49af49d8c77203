//! The key layout. Every key a script touches shares one hash tag, so the layout works on
//! Redis Cluster as well as on a single server.
//!
//! | key | slot (hash tag) | value | expires |
//! |---|---|---|---|
//! | `P:session:{S}` | the session `S` | `until` (unix seconds) | `until` + grace |
//! | `P:token:{H}:J` | the token's home `H` | `o` outstanding, `s` spent, `b` blacklisted | `exp` + grace |
//! | `P:home:{J}` | the token `J` | the home `H` of `J`'s record | as its record |
//!
//! A token's *home* is the session it was recorded under (or its own `jti` when it has no
//! session), so that `spend` reads the token and its session in one slot, atomically. The
//! `home` index lets the calls that know only a `jti` (`blacklist`, `token_state`) find the
//! record.
//!
//! Ids are written into keys escaped (`%`, `{`, `}` as `%25`, `%7B`, `%7D`; the empty id as
//! `%00`): the escaping is injective, a hash tag is never empty, and no id can close a hash
//! tag early or make one key look like another.

use std::fmt::Write as _;

/// Escapes an id for use inside a key (see the module doc).
pub(crate) fn escape(id: &str) -> String {
    if id.is_empty() {
        return "%00".to_owned();
    }
    let mut out = String::with_capacity(id.len());
    for c in id.chars() {
        match c {
            '%' => out.push_str("%25"),
            '{' => out.push_str("%7B"),
            '}' => out.push_str("%7D"),
            c => out.push(c),
        }
    }
    out
}

/// The inverse of [`escape`]; `None` for text `escape` never produces.
pub(crate) fn unescape(key_part: &str) -> Option<String> {
    if key_part == "%00" {
        return Some(String::new());
    }
    let mut out = String::with_capacity(key_part.len());
    let mut rest = key_part;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        let code = rest.get(i + 1..i + 3)?;
        out.push(match code {
            "25" => '%',
            "7B" => '{',
            "7D" => '}',
            _ => return None,
        });
        rest = &rest[i + 3..];
    }
    if rest.contains(['{', '}']) {
        return None;
    }
    out.push_str(rest);
    (!out.is_empty()).then_some(out)
}

/// Escapes the glob metacharacters of `SCAN ... MATCH`.
fn glob_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Builds the keys and channel names under one prefix.
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    prefix: String,
}

impl Keys {
    /// Keys under `prefix`, which holds no `{` or `}` (checked by the config).
    pub(crate) fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
        }
    }

    /// `P:session:{S}`: present while session `S` is revoked.
    pub(crate) fn session(&self, session: &str) -> String {
        format!("{}:session:{{{}}}", self.prefix, escape(session))
    }

    /// `P:token:{H}:J`: the state of token `J`, homed at `H` (an unescaped id).
    pub(crate) fn token(&self, home: &str, jti: &str) -> String {
        format!("{}:token:{{{}}}:{}", self.prefix, escape(home), escape(jti))
    }

    /// `P:home:{J}`: where token `J`'s record lives.
    pub(crate) fn home(&self, jti: &str) -> String {
        format!("{}:home:{{{}}}", self.prefix, escape(jti))
    }

    /// The pub/sub channel revocations are announced on.
    pub(crate) fn revocations_channel(&self) -> String {
        format!("{}:revoked-sessions", self.prefix)
    }

    /// The pub/sub channel one store instance sends its own heartbeats on.
    pub(crate) fn heartbeat_channel(&self, instance: u64) -> String {
        let mut s = format!("{}:heartbeat:", self.prefix);
        let _ = write!(s, "{instance:016x}");
        s
    }

    /// The `SCAN` pattern matching every revoked-session key.
    pub(crate) fn session_pattern(&self) -> String {
        format!("{}:session:{{*", glob_escape(&self.prefix))
    }

    /// The session id of a revoked-session key, `None` for any other key.
    pub(crate) fn session_of(&self, key: &str) -> Option<String> {
        let rest = key
            .strip_prefix(&self.prefix)?
            .strip_prefix(":session:{")?
            .strip_suffix('}')?;
        unescape(rest)
    }
}

/// The Redis Cluster hash tag of a key: what the slot is computed from.
#[cfg(test)]
pub(crate) fn hash_tag(key: &str) -> &str {
    if let Some(open) = key.find('{')
        && let Some(len) = key[open + 1..].find('}')
        && len > 0
    {
        return &key[open + 1..open + 1 + len];
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_round_trips_and_never_leaves_a_brace() {
        for id in [
            "",
            "%",
            "%00",
            "{",
            "}",
            "a{b}c",
            "%7B",
            "plain-id_123",
            "é{}%",
        ] {
            let e = escape(id);
            assert!(!e.contains(['{', '}']), "{id:?} → {e:?}");
            assert!(!e.is_empty());
            assert_eq!(unescape(&e).as_deref(), Some(id), "{id:?}");
        }
        assert_ne!(escape(""), escape("%00"));
        assert_eq!(unescape("%zz"), None);
        assert_eq!(unescape("a}b"), None);
    }

    #[test]
    fn a_sessions_keys_share_its_hash_tag_whatever_the_ids() {
        let k = Keys::new("app:v1");
        for (s, j) in [("s1", "j1"), ("", ""), ("a}b", "c{d"), ("{x}", "}")] {
            assert_eq!(
                hash_tag(&k.session(s)),
                hash_tag(&k.token(s, j)),
                "{s:?} {j:?}"
            );
            assert_eq!(hash_tag(&k.session(s)), escape(s));
            assert_eq!(hash_tag(&k.home(j)), escape(j));
        }
    }

    #[test]
    fn session_keys_parse_back_and_other_keys_do_not() {
        let k = Keys::new("p*[x]");
        for s in ["s", "", "a}b", "%"] {
            assert_eq!(k.session_of(&k.session(s)).as_deref(), Some(s));
        }
        assert_eq!(k.session_of(&k.token("s", "j")), None);
        assert_eq!(k.session_of(&k.home("j")), None);
        assert_eq!(k.session_of("other:session:{s}"), None);
        assert_eq!(k.session_pattern(), "p\\*\\[x\\]:session:{*");
    }
}
