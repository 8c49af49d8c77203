//! Times for people: ISO 8601 in UTC, and "expires in 4 min" / "expired 3 h ago".

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in seconds since the Unix epoch.
pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The latest instant shown as a date (9999-12-31T23:59:59Z), as keycard's verifier accepts.
const MAX_DATE: u64 = 253_402_300_799;

/// `2026-01-31T12:00:00Z`; `None` past the year 9999.
pub(crate) fn iso8601(secs: u64) -> Option<String> {
    if secs > MAX_DATE {
        return None;
    }
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days as i64);
    Some(format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    ))
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// (year, month, day) → days since 1970-01-01.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from(if m > 2 { m - 3 } else { m + 9 });
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses `--at`: Unix seconds, or `YYYY-MM-DDTHH:MM:SSZ` (a space for the `T`, and a
/// missing `Z`, are accepted; the time is UTC either way).
pub(crate) fn parse_instant(s: &str) -> Result<u64, String> {
    const HINT: &str = "expected Unix seconds or a UTC time like 2026-01-31T12:00:00Z";
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s
            .parse::<u64>()
            .ok()
            .filter(|v| *v <= MAX_DATE)
            .ok_or_else(|| HINT.to_owned());
    }
    let s = s
        .strip_suffix('Z')
        .or_else(|| s.strip_suffix('z'))
        .unwrap_or(s);
    let b = s.as_bytes();
    let ok_shape = b.len() == 19
        && [4, 7].iter().all(|&i| b[i] == b'-')
        && matches!(b[10], b'T' | b't' | b' ')
        && [13, 16].iter().all(|&i| b[i] == b':')
        && [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]
            .iter()
            .all(|&i| b[i].is_ascii_digit());
    if !ok_shape {
        return Err(HINT.to_owned());
    }
    let num = |r: std::ops::Range<usize>| s[r].parse::<u32>().unwrap_or(u32::MAX);
    let (y, mo, d, h, mi, se) = (
        num(0..4),
        num(5..7),
        num(8..10),
        num(11..13),
        num(14..16),
        num(17..19),
    );
    let days_in_month = match mo {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => return Err(HINT.to_owned()),
    };
    if y < 1970 || d == 0 || d > days_in_month || h > 23 || mi > 59 || se > 59 {
        return Err(HINT.to_owned());
    }
    let days = days_from_civil(i64::from(y), mo, d);
    // y >= 1970, so days >= 0.
    Ok(days as u64 * 86_400 + u64::from(h) * 3600 + u64::from(mi) * 60 + u64::from(se))
}

/// A duration for people: `42 s`, `4 min`, `3 h`, `1 day`, `12 days`.
pub(crate) fn human(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => format!("{} min", secs / 60),
        3600..86_400 => format!("{} h", secs / 3600),
        86_400..172_800 => "1 day".to_owned(),
        _ => format!("{} days", secs / 86_400),
    }
}

/// `in 4 min` when `at` is after `now`, `3 h ago` when before, `now` when equal.
pub(crate) fn relative(at: u64, now: u64) -> String {
    match at.cmp(&now) {
        std::cmp::Ordering::Greater => format!("in {}", human(at - now)),
        std::cmp::Ordering::Less => format!("{} ago", human(now - at)),
        std::cmp::Ordering::Equal => "now".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso8601_known_instants() {
        assert_eq!(iso8601(0).unwrap(), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(951_782_400).unwrap(), "2000-02-29T00:00:00Z");
        assert_eq!(iso8601(1_796_300_000).unwrap(), "2026-12-03T12:13:20Z");
        assert_eq!(iso8601(MAX_DATE).unwrap(), "9999-12-31T23:59:59Z");
        assert!(iso8601(MAX_DATE + 1).is_none());
        assert!(iso8601(u64::MAX).is_none());
    }

    #[test]
    fn parse_round_trips_and_refuses_nonsense() {
        for secs in [0, 951_782_400, 1_796_300_000, MAX_DATE] {
            assert_eq!(parse_instant(&iso8601(secs).unwrap()).unwrap(), secs);
        }
        assert_eq!(parse_instant("1796300000").unwrap(), 1_796_300_000);
        assert_eq!(parse_instant("2026-12-03 12:13:20").unwrap(), 1_796_300_000);
        for bad in [
            "",
            "soon",
            "2026-02-30T00:00:00Z",
            "2025-02-29T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-01-01T24:00:00Z",
            "1969-12-31T23:59:59Z",
            "99999999999999999999",
            "2026-1-01T00:00:00Z",
            "２０２６",
        ] {
            assert!(parse_instant(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn human_durations() {
        assert_eq!(human(0), "0 s");
        assert_eq!(human(59), "59 s");
        assert_eq!(human(4 * 60 + 59), "4 min");
        assert_eq!(human(3 * 3600), "3 h");
        assert_eq!(human(86_400), "1 day");
        assert_eq!(human(30 * 86_400), "30 days");
        assert_eq!(relative(100, 40), "in 1 min");
        assert_eq!(relative(40, 100 + 3 * 3600), "3 h ago");
        assert_eq!(relative(5, 5), "now");
    }
}
