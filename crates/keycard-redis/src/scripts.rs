//! The Lua scripts: each runs atomically on the server and touches keys of one hash slot.
//!
//! Expiries are absolute unix milliseconds and only ever move later: a write never shortens
//! a record's life (`PEXPIRETIME` is why the store needs Redis 7.0 or later). Numbers go back
//! to Redis through `string.format('%.0f')`, exact for every clamped expiry (below 2^53).

use std::sync::LazyLock;

use redis::Script;

/// The shared helpers, prepended to every script.
const PRELUDE: &str = r"
local function ms(n) return string.format('%.0f', n) end
-- The later of the key's current expiry and `want`.
local function later(key, want)
  local w = tonumber(want)
  local cur = redis.call('PEXPIRETIME', key)
  if cur > w then return cur end
  return w
end
-- Revokes a session until `until_s` (seconds), its key expiring at `exp_ms`, and announces
-- it on `channel` as `<expiry ms>:<session>`; returns the key's expiry.
local function revoke(key, until_s, exp_ms, channel, session)
  local e = later(key, exp_ms)
  local u = tonumber(until_s)
  local cur = tonumber(redis.call('GET', key) or '0') or 0
  if cur > u then u = cur end
  redis.call('SET', key, ms(u), 'PXAT', ms(e))
  redis.call('PUBLISH', channel, ms(e) .. ':' .. session)
  return ms(e)
end
";

fn script(body: &str) -> Script {
    Script::new(&format!("{PRELUDE}{body}"))
}

/// `KEYS[1]` = `P:home:{J}`; `ARGV[1]` = the preferred home, `ARGV[2]` = expiry (ms).
/// Returns the token's home: the one already recorded, or the preferred one, now recorded.
pub(crate) static HOME: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"
local h = redis.call('GET', KEYS[1]) or ARGV[1]
redis.call('SET', KEYS[1], h, 'PXAT', ms(later(KEYS[1], ARGV[2])))
return h
",
    )
});

/// `KEYS[1]` = the token key; `ARGV[1]` = expiry (ms). Records the token as outstanding
/// unless the store already knows it (the in-memory store's `or_insert`).
pub(crate) static RECORD: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('SET', KEYS[1], 'o', 'PXAT', ARGV[1])
return 1
",
    )
});

/// `KEYS[1]` = the token key, `KEYS[2]` (optional) = the session key;
/// `ARGV` = token expiry (ms), session until (s), session key expiry (ms), channel, session.
/// Returns `{0}` spent, `{1}` reused (`{1, expiry}` when the session was revoked),
/// `{2}` revoked.
pub(crate) static SPEND: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"
local tok = KEYS[1]
local sess = KEYS[2]
if sess and redis.call('EXISTS', sess) == 1 then return {2} end
local st = redis.call('GET', tok)
if st == 'b' then return {2} end
if st == 's' then
  if sess then return {1, revoke(sess, ARGV[2], ARGV[3], ARGV[4], ARGV[5])} end
  return {1}
end
redis.call('SET', tok, 's', 'PXAT', ms(later(tok, ARGV[1])))
return {0}
",
    )
});

/// `KEYS[1]` = the token key; `ARGV[1]` = expiry (ms). Blacklists the token; returns 0 when
/// it already was, 1 otherwise.
pub(crate) static BLACKLIST: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"
local st = redis.call('GET', KEYS[1])
redis.call('SET', KEYS[1], 'b', 'PXAT', ms(later(KEYS[1], ARGV[1])))
if st == 'b' then return 0 end
return 1
",
    )
});

/// `KEYS[1]` = the session key; `ARGV` = until (s), key expiry (ms), channel, session.
/// Revokes the session, announces it, and returns the key's expiry (ms).
pub(crate) static REVOKE: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"
return revoke(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
",
    )
});
