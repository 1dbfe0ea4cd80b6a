//! Go's number formatting where SOPS' output depends on it: `strconv.FormatFloat` with `'f'`
//! (the MAC and the encrypted plaintext of floats), `'g'` (YAML output) and `encoding/json`'s
//! float rule, plus `strconv.ParseFloat` for decrypted floats.

/// `strconv.FormatFloat(f, 'f', -1, 64)`: the shortest digits that read back, no exponent.
pub(crate) fn format_f(f: f64) -> String {
    if let Some(s) = special(f) {
        return s.to_owned();
    }
    // Rust's `Display` for f64 is the shortest round-tripping decimal without an exponent.
    format!("{f}")
}

/// `strconv.FormatFloat(f, 'g', -1, 64)`: `%e` when the decimal exponent of the shortest
/// digits is below -4 or at least 6 (Go decides with precision 6 for the shortest form).
pub(crate) fn format_g(f: f64) -> String {
    if let Some(s) = special(f) {
        return s.to_owned();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    let (digits, exp) = shortest_digits(f);
    let x = exp - 1;
    if !(-4..6).contains(&x) { go_exp(f, &digits, x) } else { format_f(f) }
}

/// `encoding/json`'s float rule: `'f'` unless the magnitude is below 1e-6 or at least 1e21,
/// then `'e'` with a one-digit negative exponent cleaned up (`1e-07` → `1e-7`).
pub(crate) fn format_json(f: f64) -> Option<String> {
    if !f.is_finite() {
        return None;
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let (digits, exp) = shortest_digits(f);
        let s = go_exp(f, &digits, exp - 1);
        Some(s.replace("e-0", "e-"))
    } else {
        Some(format_f(f))
    }
}

/// `strconv.ParseFloat(s, 64)` for the decimal forms SOPS writes (and Go's `Inf`/`NaN`).
pub(crate) fn parse_float(s: &str) -> Option<f64> {
    let t = s.strip_prefix(['+', '-']).unwrap_or(s);
    let lower = t.to_ascii_lowercase();
    if matches!(lower.as_str(), "inf" | "infinity" | "nan") {
        return s.parse().ok();
    }
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-')) {
        return None;
    }
    s.parse().ok()
}

fn special(f: f64) -> Option<&'static str> {
    if f.is_nan() {
        Some("NaN")
    } else if f == f64::INFINITY {
        Some("+Inf")
    } else if f == f64::NEG_INFINITY {
        Some("-Inf")
    } else {
        None
    }
}

/// The shortest decimal digits of `|f|` and the decimal point position (`0.d1d2… × 10^exp`).
fn shortest_digits(f: f64) -> (String, i32) {
    // `{:e}` is the shortest round-tripping form: `d.ddde±x`.
    let s = format!("{:e}", f.abs());
    let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let exp: i32 = exp.parse().unwrap_or(0);
    (digits, exp + 1)
}

/// Go's `%e` with the shortest digits: `d.ddde±XX` (at least two exponent digits).
fn go_exp(f: f64, digits: &str, x: i32) -> String {
    let mut out = String::new();
    if f.is_sign_negative() {
        out.push('-');
    }
    out.push_str(&digits[..1]);
    if digits.len() > 1 {
        out.push('.');
        out.push_str(&digits[1..]);
    }
    out.push('e');
    out.push(if x < 0 { '-' } else { '+' });
    let ax = x.unsigned_abs();
    if ax < 10 {
        out.push('0');
    }
    out.push_str(&ax.to_string());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f_format_matches_go() {
        assert_eq!(format_f(1.0), "1");
        assert_eq!(format_f(1.5), "1.5");
        assert_eq!(format_f(1e21), "1000000000000000000000");
        assert_eq!(format_f(0.0000001), "0.0000001");
        assert_eq!(format_f(f64::INFINITY), "+Inf");
        assert_eq!(format_f(f64::NAN), "NaN");
    }

    #[test]
    fn g_format_matches_go() {
        assert_eq!(format_g(1.0), "1");
        assert_eq!(format_g(3.25), "3.25");
        assert_eq!(format_g(100000.0), "100000");
        assert_eq!(format_g(1000000.0), "1e+06");
        assert_eq!(format_g(1234567.0), "1.234567e+06");
        assert_eq!(format_g(0.0001), "0.0001");
        assert_eq!(format_g(0.00001), "1e-05");
    }

    #[test]
    fn json_format_matches_go() {
        assert_eq!(format_json(1.0).unwrap(), "1");
        assert_eq!(format_json(1e21).unwrap(), "1e+21");
        assert_eq!(format_json(1e-7).unwrap(), "1e-7");
        assert_eq!(format_json(123456789.0).unwrap(), "123456789");
        assert!(format_json(f64::NAN).is_none());
    }

    #[test]
    fn parses_go_floats() {
        assert_eq!(parse_float("1.5"), Some(1.5));
        assert_eq!(parse_float("+Inf"), Some(f64::INFINITY));
        assert_eq!(parse_float("1e3"), Some(1000.0));
        assert_eq!(parse_float("0x10"), None);
        assert_eq!(parse_float(""), None);
    }
}
