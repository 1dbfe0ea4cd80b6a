//! Go's duration syntax (`time.ParseDuration`), which kube-apiserver reads in the `timeout`
//! query parameter and in its flags: `300ms`, `1.5h`, `2h45m`, `-1m`, `0`.

use std::time::Duration;

/// Text that is not a Go duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration {0:?}")]
pub struct BadDuration(pub String);

/// Nanoseconds per unit, longest unit names first where one is a prefix of another.
const UNITS: &[(&str, u128)] = &[
    ("ns", 1),
    ("us", 1_000),
    ("\u{b5}s", 1_000),
    ("\u{3bc}s", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

/// Go's largest duration, in nanoseconds.
const MAX_NANOS: u128 = i64::MAX as u128;

/// Parses a Go duration. A negative duration reads as zero (every caller treats both alike);
/// one beyond Go's range (about 292 years) is refused, as Go refuses it.
///
/// # Errors
/// [`BadDuration`] when `text` is not a Go duration.
pub fn parse_go_duration(text: &str) -> Result<Duration, BadDuration> {
    let bad = || BadDuration(text.chars().take(64).collect());
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(bad());
    }
    let mut nanos: u128 = 0;
    while !rest.is_empty() {
        let whole_len = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        let (whole, after) = rest.split_at(whole_len);
        let (fraction, after) = match after.strip_prefix('.') {
            Some(f) => f.split_at(f.find(|c: char| !c.is_ascii_digit()).unwrap_or(f.len())),
            None => ("", after),
        };
        if whole.is_empty() && fraction.is_empty() {
            return Err(bad());
        }
        let unit_len = after.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let per = UNITS.iter().find(|(name, _)| *name == unit).map(|(_, n)| *n).ok_or_else(bad)?;
        let whole: u128 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| bad())? };
        let mut part = whole.checked_mul(per).ok_or_else(bad)?;
        // The fraction, digit by digit, as precisely as nanoseconds allow.
        let mut scale = per;
        for digit in fraction.bytes().take(30) {
            scale /= 10;
            part += u128::from(digit - b'0') * scale;
        }
        nanos = nanos.checked_add(part).filter(|n| *n <= MAX_NANOS).ok_or_else(bad)?;
        rest = after;
    }
    if negative {
        return Ok(Duration::ZERO);
    }
    let secs = u64::try_from(nanos / 1_000_000_000).map_err(|_| bad())?;
    let sub = u32::try_from(nanos % 1_000_000_000).map_err(|_| bad())?;
    Ok(Duration::new(secs, sub))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        let ok = |t: &str| parse_go_duration(t).ok();
        assert_eq!(ok("0"), Some(Duration::ZERO));
        assert_eq!(ok("60s"), Some(Duration::from_secs(60)));
        assert_eq!(ok("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(ok("300ms"), Some(Duration::from_millis(300)));
        assert_eq!(ok("1.5h"), Some(Duration::from_secs(5400)));
        assert_eq!(ok(".5s"), Some(Duration::from_millis(500)));
        assert_eq!(ok("2h45m"), Some(Duration::from_secs(9900)));
        assert_eq!(ok("10us"), Some(Duration::from_micros(10)));
        assert_eq!(ok("10\u{b5}s"), Some(Duration::from_micros(10)));
        assert_eq!(ok("7ns"), Some(Duration::from_nanos(7)));
        assert_eq!(ok("+5s"), Some(Duration::from_secs(5)));
        assert_eq!(ok("-1m"), Some(Duration::ZERO));
        assert_eq!(ok("2562047h"), Some(Duration::from_secs(2_562_047 * 3600)));
        for bad in [
            "",
            "-",
            "5",
            "s",
            "1x",
            "1.s5",
            ".s",
            "1..5s",
            "2562048h",
            "99999999999999999999999999999999999999999h",
            "1 s",
            "ms1",
        ] {
            assert!(parse_go_duration(bad).is_err(), "{bad:?}");
        }
    }
}
