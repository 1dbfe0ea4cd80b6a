//! Scalar type resolution, following go-yaml v3 (input) and v2 (output).

/// The type a scalar resolves to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A string.
    Str,
    /// An integer (any base accepted by Go's `ParseInt` with base 0).
    Int,
    /// A floating point number.
    Float,
    /// A boolean.
    Bool,
    /// Null.
    Null,
    /// A timestamp (rendered as an RFC 3339 string).
    Timestamp,
}

/// Resolves an untagged plain scalar the way go-yaml v3 does.
#[must_use]
pub fn resolve_plain(s: &str) -> Kind {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Kind::Null,
        "true" | "True" | "TRUE" | "false" | "False" | "FALSE" => return Kind::Bool,
        ".nan" | ".NaN" | ".NAN" | ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" | "-.inf" | "-.Inf"
        | "-.INF" => return Kind::Float,
        _ => {}
    }
    let first = s.as_bytes()[0];
    match first {
        b'.' => {
            if go_parse_float(s).is_some() {
                Kind::Float
            } else {
                Kind::Str
            }
        }
        b'+' | b'-' | b'0'..=b'9' => {
            if timestamp_rfc3339(s).is_some() {
                return Kind::Timestamp;
            }
            let plain: String = s.chars().filter(|c| *c != '_').collect();
            if numeric_kind(&plain).is_some() {
                return numeric_kind(&plain).unwrap_or(Kind::Str);
            }
            Kind::Str
        }
        _ => Kind::Str,
    }
}

fn numeric_kind(plain: &str) -> Option<Kind> {
    if go_parse_int(plain).is_some() {
        return Some(Kind::Int);
    }
    if is_yaml_style_float(plain) && go_parse_float(plain).is_some() {
        return Some(Kind::Float);
    }
    None
}

/// Resolves an untagged plain scalar the way go-yaml v2 does (YAML 1.1
/// booleans such as `yes` and `on`); kustomization files are read this way.
#[must_use]
pub fn resolve_plain_v2(s: &str) -> Kind {
    match s {
        "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" | "n" | "N" | "no" | "No" | "NO" | "off" | "Off"
        | "OFF" => Kind::Bool,
        _ if !s.is_empty() && !v2_needs_quotes(s) => Kind::Str,
        // go-yaml v2 only makes a time of a timestamp when decoding into a time value;
        // `sigs.k8s.io/yaml` decodes into interfaces, so the text stays a string.
        _ => match resolve_plain(s) {
            Kind::Timestamp => Kind::Str,
            other => other,
        },
    }
}

/// Whether a YAML 1.1 boolean spelling means true.
#[must_use]
pub fn is_true(s: &str) -> bool {
    matches!(s, "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" | "true" | "True" | "TRUE")
}

/// Parses an integer the way Go's `strconv.ParseInt(s, 0, 64)` /
/// `ParseUint` would, returning a value within the i64 or u64 range.
#[must_use]
pub fn go_parse_int(s: &str) -> Option<i128> {
    let (neg, rest) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if rest.is_empty() {
        return None;
    }
    let lower = rest.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..])
    } else {
        (10, lower.as_str())
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let mag = u128::from_str_radix(digits, radix).ok()?;
    let v = if neg { -(i128::try_from(mag).ok()?) } else { i128::try_from(mag).ok()? };
    if v < i128::from(i64::MIN) || v > i128::from(u64::MAX) {
        return None;
    }
    if neg && v < i128::from(i64::MIN) {
        return None;
    }
    Some(v)
}

/// Parses a float like Go's `strconv.ParseFloat(s, 64)`, rejecting values out
/// of range (which Go reports as an error).
#[must_use]
pub fn go_parse_float(s: &str) -> Option<f64> {
    let lower = s.to_ascii_lowercase();
    let body = lower.trim_start_matches(['+', '-']);
    if body.starts_with("inf") || body.starts_with("nan") {
        return None;
    }
    if body.starts_with("0x") {
        return None;
    }
    let f: f64 = s.parse().ok()?;
    if f.is_infinite() { None } else { Some(f) }
}

/// The go-yaml float syntax: `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn is_yaml_style_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if i < b.len() && b[i] == b'.' {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if i < b.len() && b[i] == b'.' {
            i += 1;
            digits(&mut i);
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// Recognises the timestamp forms go-yaml accepts and returns the RFC 3339
/// rendering Go's JSON encoder would give the parsed time.
#[must_use]
pub fn timestamp_rfc3339(s: &str) -> Option<String> {
    let b = s.as_bytes();
    if b.len() < 5 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
        return None;
    }
    // Date part: YYYY-M-D with one or two digit month and day.
    let rest = &s[5..];
    let (month, rest) = take_digits(rest, 1, 2)?;
    let rest = rest.strip_prefix('-')?;
    let (day, rest) = take_digits(rest, 1, 2)?;
    let (m, d): (u32, u32) = (month.parse().ok()?, day.parse().ok()?);
    let year: u32 = s[..4].parse().ok()?;
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(year, m) {
        return None;
    }
    let date = format!("{year:04}-{m:02}-{d:02}");
    if rest.is_empty() {
        return Some(format!("{date}T00:00:00Z"));
    }
    // Time part: [Tt ]H:M:S(.frac)?(Z|±hh:mm)?
    let sep = rest.as_bytes()[0];
    if sep != b'T' && sep != b't' && sep != b' ' {
        return None;
    }
    let rest = &rest[1..];
    let (h, rest) = take_digits(rest, 1, 2)?;
    let rest = rest.strip_prefix(':')?;
    let (mi, rest) = take_digits(rest, 1, 2)?;
    let rest = rest.strip_prefix(':')?;
    let (se, mut rest) = take_digits(rest, 1, 2)?;
    let (h, mi, se): (u32, u32, u32) = (h.parse().ok()?, mi.parse().ok()?, se.parse().ok()?);
    if h > 23 || mi > 59 || se > 59 {
        return None;
    }
    let mut frac = String::new();
    if let Some(r) = rest.strip_prefix('.') {
        let n = r.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 || n > 9 {
            return None;
        }
        frac = r[..n].trim_end_matches('0').to_string();
        rest = &r[n..];
    }
    let zone = if rest.is_empty() || rest == "Z" {
        if rest.is_empty() && sep != b' ' {
            return None;
        }
        "Z".to_string()
    } else if sep != b' ' && (rest.starts_with('+') || rest.starts_with('-')) && rest.len() == 6 {
        rest.to_string()
    } else {
        return None;
    };
    let frac = if frac.is_empty() { String::new() } else { format!(".{frac}") };
    Some(format!("{date}T{h:02}:{mi:02}:{se:02}{frac}{zone}"))
}

fn take_digits(s: &str, min: usize, max: usize) -> Option<(&str, &str)> {
    let n = s.bytes().take_while(u8::is_ascii_digit).count();
    if n < min || n > max {
        return None;
    }
    Some((&s[..n], &s[n..]))
}

fn days_in_month(y: u32, m: u32) -> u32 {
    match m {
        2 if (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Whether go-yaml v2 would read this string, written plain, as something
/// other than a string (so it must be quoted on output).
#[must_use]
pub fn v2_needs_quotes(s: &str) -> bool {
    match s {
        "" | "~" | "null" | "Null" | "NULL" | "y" | "Y" | "yes" | "Yes" | "YES" | "n" | "N" | "no" | "No" | "NO"
        | "true" | "True" | "TRUE" | "false" | "False" | "FALSE" | "on" | "On" | "ON" | "off" | "Off" | "OFF"
        | ".nan" | ".NaN" | ".NAN" | ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" | "-.inf" | "-.Inf"
        | "-.INF" => return true,
        _ => {}
    }
    let first = s.as_bytes()[0];
    match first {
        b'.' => go_parse_float(s).is_some(),
        b'+' | b'-' | b'0'..=b'9' => {
            if timestamp_rfc3339(s).is_some() || is_base60_float(s) {
                return true;
            }
            let plain: String = s.chars().filter(|c| *c != '_').collect();
            if go_parse_int(&plain).is_some() {
                return true;
            }
            if is_yaml_style_float(&plain) && go_parse_float(&plain).is_some() {
                return true;
            }
            if let Some(b) = plain.strip_prefix("0b").or_else(|| plain.strip_prefix("-0b")) {
                return !b.is_empty() && b.chars().all(|c| c == '0' || c == '1');
            }
            false
        }
        _ => false,
    }
}

/// `^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$`
fn is_base60_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
        i += 1;
    }
    if i >= b.len() || !b[i].is_ascii_digit() {
        return false;
    }
    i += 1;
    while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
        i += 1;
    }
    let mut groups = 0;
    while i < b.len() && b[i] == b':' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() && i - start < 2 {
            i += 1;
        }
        let g = &b[start..i];
        let ok = match g.len() {
            1 => true,
            2 => g[0] <= b'5',
            _ => false,
        };
        if !ok {
            return false;
        }
        groups += 1;
    }
    if groups == 0 {
        return false;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
            i += 1;
        }
    }
    i == b.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_resolution_matches_go_yaml_v3() {
        let cases = [
            ("012", Kind::Int),
            ("0o12", Kind::Int),
            ("0x1F", Kind::Int),
            ("1e3", Kind::Float),
            ("1.0", Kind::Float),
            ("1e400", Kind::Str),
            ("yes", Kind::Str),
            ("on", Kind::Str),
            ("~", Kind::Null),
            ("2001-12-14", Kind::Timestamp),
            ("1_000", Kind::Int),
            ("-", Kind::Str),
            ("12345678901234567890", Kind::Int),
            ("123456789012345678901", Kind::Float),
        ];
        for (s, k) in cases {
            assert_eq!(resolve_plain(s), k, "{s}");
        }
    }

    #[test]
    fn output_quoting_matches_go_yaml_v2() {
        for s in ["yes", "n", "1.", ".5", "0b101", "10:30", "1_000", "2001-12-14", ""] {
            assert!(v2_needs_quotes(s), "{s}");
        }
        for s in ["<<", "1e400", "x", "-", "1.2.3", "v1"] {
            assert!(!v2_needs_quotes(s), "{s}");
        }
    }
}
