//! Go durations (`time.ParseDuration`, `Duration.String`) as Flux's API fields and messages use
//! them: `spec.interval: 5m`, `spec.timeout: 1m30s`, "next run in 4m59s".

use std::time::Duration;

/// Why a duration string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("time: invalid duration {0:?}")]
pub struct ParseDurationError(pub String);

/// Parses a Go duration (`300ms`, `1.5h`, `2h45m`, `0`); negative durations are refused, as no
/// Flux field accepts them.
///
/// # Errors
/// [`ParseDurationError`] (Go's wording) when `s` is not a duration.
pub fn parse(s: &str) -> Result<Duration, ParseDurationError> {
    let err = || ParseDurationError(s.to_owned());
    let mut rest = s.strip_prefix('+').unwrap_or(s);
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(err());
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).ok_or_else(err)?;
        let (num, tail) = rest.split_at(num_end);
        if num.is_empty() || num == "." || num.matches('.').count() > 1 {
            return Err(err());
        }
        let value: f64 = num.parse().map_err(|_| err())?;
        let unit_end = tail.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_end);
        let nanos_per_unit = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(err()),
        };
        total += value * nanos_per_unit;
        rest = tail;
    }
    if !total.is_finite() || total > u64::MAX as f64 {
        return Err(err());
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Ok(Duration::from_nanos(total.round() as u64))
}

/// Formats a duration as Go's `Duration.String` does: `1h2m3s`, `4m0s`, `1.5s`, `300ms`, `0s`.
#[must_use]
pub fn format(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".into();
    }
    if nanos < 1_000_000_000 {
        // Sub-second: the largest unit that keeps an integer part, with a fraction.
        let (unit, div) = if nanos < 1_000 {
            ("ns", 1)
        } else if nanos < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        return format!("{}{unit}", fraction(nanos, div));
    }
    let secs_total = nanos / 1_000_000_000;
    let frac = nanos % 1_000_000_000;
    let (h, m, s) = (secs_total / 3600, (secs_total / 60) % 60, secs_total % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if h > 0 || m > 0 {
        out.push_str(&format!("{m}m"));
    }
    out.push_str(&fraction(u128::from(s as u64) * 1_000_000_000 + frac, 1_000_000_000));
    out.push('s');
    out
}

/// `n / div` with the fractional digits Go prints (trailing zeros dropped).
fn fraction(n: u128, div: u128) -> String {
    let int = n / div;
    let mut rem = n % div;
    if rem == 0 {
        return int.to_string();
    }
    let mut digits = String::new();
    let mut d = div;
    while rem > 0 && d > 1 {
        d /= 10;
        digits.push(char::from(b'0' + u8::try_from(rem / d).unwrap_or(0)));
        rem %= d;
    }
    format!("{int}.{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_durations() {
        assert_eq!(parse("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("1.5h"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("300ms"), Ok(Duration::from_millis(300)));
        assert_eq!(parse("0"), Ok(Duration::ZERO));
        assert_eq!(parse("2h45m0.5s"), Ok(Duration::from_millis((2 * 3600 + 45 * 60) * 1000 + 500)));
        for bad in ["", "5", "m", "1x", "1..5s", "-1s", ".s"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn formats_as_go() {
        assert_eq!(format(Duration::ZERO), "0s");
        assert_eq!(format(Duration::from_secs(60)), "1m0s");
        assert_eq!(format(Duration::from_secs(3723)), "1h2m3s");
        assert_eq!(format(Duration::from_secs(3600)), "1h0m0s");
        assert_eq!(format(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format(Duration::from_millis(300)), "300ms");
        assert_eq!(format(Duration::from_micros(1500)), "1.5ms");
        assert_eq!(format(Duration::from_nanos(42)), "42ns");
        assert_eq!(format(Duration::from_secs(299) + Duration::from_millis(250)), "4m59.25s");
    }
}
