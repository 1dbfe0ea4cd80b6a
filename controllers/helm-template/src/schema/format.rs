//! The `format` checks the validator asserts for drafts 4, 6 and 7, with its reasons.

use super::url;

/// Go's `%q` of a rune (`strconv.QuoteRune`).
fn rune(c: char) -> String {
    match c {
        '\'' => "'\\''".into(),
        '"' => "'\"'".into(),
        c => {
            let q = crate::template::format::go_quote(&c.to_string());
            format!("'{}'", &q[1..q.len() - 1])
        }
    }
}

/// Checks `s` against the format `name`; the reason when it does not conform.
pub fn check(name: &str, s: &str) -> Result<(), String> {
    match name {
        "email" => email(s),
        "hostname" => hostname(s),
        "ipv4" => ipv4(s),
        "uuid" => uuid(s),
        "duration" => duration(s),
        "json-pointer" => json_pointer(s),
        "date" => date(s),
        "time" => time(s),
        "date-time" => date_time(s),
        "ipv6" => ipv6(s),
        "uri" | "iri" => uri(s),
        "uri-reference" | "iri-reference" => uri_reference(s),
        "uri-template" => uri_template(s),
        "period" => period(s),
        "semver" => semver(s),
        "relative-json-pointer" => relative_json_pointer(s),
        "regex" => super::goregex::check(s),
        _ => Ok(()),
    }
}

fn json_pointer(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Ok(());
    }
    let Some(rest) = s.strip_prefix('/') else { return Err("not starting with /".into()) };
    for tok in rest.split('/') {
        let mut escape = false;
        for ch in tok.chars() {
            if escape {
                escape = false;
                if ch != '0' && ch != '1' {
                    return Err("~ must be followed by 0 or 1".into());
                }
                continue;
            }
            if ch == '~' {
                escape = true;
            }
        }
        if escape {
            return Err("~ must be followed by 0 or 1".into());
        }
    }
    Ok(())
}

fn uuid(s: &str) -> Result<(), String> {
    const GROUPS: [usize; 5] = [8, 4, 4, 4, 12];
    let groups: Vec<&str> = s.split('-').collect();
    if groups.len() != GROUPS.len() {
        return Err(format!("must have {} elements", GROUPS.len()));
    }
    for (i, g) in groups.iter().enumerate() {
        if g.len() != GROUPS[i] {
            return Err(format!("element {} must be {} characters long", i + 1, GROUPS[i]));
        }
        if let Some(c) = g.chars().find(|c| !c.is_ascii_hexdigit()) {
            return Err(format!("non-hex character {}", rune(c)));
        }
    }
    Ok(())
}

fn duration(s: &str) -> Result<(), String> {
    let Some(s) = s.strip_prefix('P') else { return Err("must start with P".into()) };
    if s.is_empty() {
        return Err("nothing after P".into());
    }
    if let Some(w) = s.strip_suffix('W') {
        if w.is_empty() {
            return Err("no number in week".into());
        }
        if !w.chars().all(|c| c.is_ascii_digit()) {
            return Err("invalid week".into());
        }
        return Ok(());
    }
    let all = ["YMD", "HMS"];
    for (i, part) in s.split('T').enumerate() {
        if i != 0 && part.is_empty() {
            return Err("no time elements".into());
        }
        if i >= all.len() {
            return Err("more than one T".into());
        }
        let mut units = all[i];
        let mut rest = part;
        while !rest.is_empty() {
            let digits = rest.chars().take_while(char::is_ascii_digit).count();
            if digits == 0 {
                return Err("missing number".into());
            }
            rest = &rest[digits..];
            let Some(unit) = rest.chars().next() else { return Err("missing unit".into()) };
            match units.find(unit) {
                Some(j) => units = &units[j + 1..],
                None if all[i].contains(unit) => return Err(format!("unit {} out of order", rune(unit))),
                None => return Err(format!("invalid unit {}", rune(unit))),
            }
            rest = &rest[unit.len_utf8()..];
        }
    }
    Ok(())
}

fn ipv4(s: &str) -> Result<(), String> {
    let groups: Vec<&str> = s.split('.').collect();
    if groups.len() != 4 {
        return Err("expected four decimals".into());
    }
    for g in groups {
        if g.len() > 1 && g.starts_with('0') {
            return Err("leading zeros".into());
        }
        let n: i64 = g.parse().map_err(|_| {
            let q = crate::template::format::go_quote(g);
            if g.trim_start_matches(['-', '+']).chars().all(|c| c.is_ascii_digit()) && !g.is_empty() {
                format!("strconv.Atoi: parsing {q}: value out of range")
            } else {
                format!("strconv.Atoi: parsing {q}: invalid syntax")
            }
        })?;
        if !(0..=255).contains(&n) {
            return Err("decimal must be between 0 and 255".into());
        }
    }
    Ok(())
}

fn hostname(s: &str) -> Result<(), String> {
    let s = s.strip_suffix('.').unwrap_or(s);
    if s.len() > 253 {
        return Err("more than 253 characters long".into());
    }
    for label in s.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err("label must be 1 to 63 characters long".into());
        }
        if label.starts_with('-') {
            return Err("label starts with hyphen".into());
        }
        if label.ends_with('-') {
            return Err("label ends with hyphen".into());
        }
        if let Some(c) = label.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '-')) {
            return Err(format!("invalid character {}", rune(c)));
        }
    }
    Ok(())
}

fn email(s: &str) -> Result<(), String> {
    if s.len() > 254 {
        return Err("more than 255 characters long".into());
    }
    let Some(at) = s.rfind('@') else { return Err("missing @".into()) };
    let (local, domain) = (&s[..at], &s[at + 1..]);
    if local.len() > 64 {
        return Err("local part more than 64 characters long".into());
    }
    if local.len() > 1 && local.starts_with('"') && local.ends_with('"') {
        let inner = &local[1..local.len() - 1];
        if inner.contains('\\') || inner.contains('"') {
            return Err("backslash and quote are not allowed within quoted local part".into());
        }
    } else {
        if local.starts_with('.') {
            return Err("starts with dot".into());
        }
        if local.ends_with('.') {
            return Err("ends with dot".into());
        }
        if local.contains("..") {
            return Err("consecutive dots".into());
        }
        if let Some(c) = local.chars().find(|c| !(c.is_ascii_alphanumeric() || ".!#$%&'*+-/=?^_`{|}~".contains(*c))) {
            return Err(format!("invalid character {}", rune(c)));
        }
    }
    if let Some(inner) = domain.strip_prefix('[').and_then(|d| d.strip_suffix(']')) {
        if let Some(v6) = inner.strip_prefix("IPv6:") {
            return v6.parse::<std::net::Ipv6Addr>().map(|_| ()).map_err(|_| "invalid ipv6 address".to_string());
        }
        return ipv4(inner).map_err(|e| format!("invalid ipv4 address: {e}"));
    }
    hostname(domain).map_err(|e| format!("invalid domain: {e}"))
}

/// Go's `time.Parse("2006-01-02", s)`: its range and extra-text errors, else its
/// cannot-parse error.
fn date(s: &str) -> Result<(), String> {
    let q = crate::template::format::go_quote;
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    if b.len() >= 10 && digits(0..4) && b[4] == b'-' && digits(5..7) && b[7] == b'-' && digits(8..10) {
        let num = |r: std::ops::Range<usize>| s[r].parse::<u32>().unwrap_or(0);
        let (year, month, day) = (num(0..4), num(5..7), num(8..10));
        if !(1..=12).contains(&month) {
            return Err(format!("parsing time {}: month out of range", q(s)));
        }
        if b.len() > 10 {
            return Err(format!("parsing time {}: extra text: {}", q(s), q(&s[10..])));
        }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
        let days = match month {
            2 if leap => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        if day < 1 || day > days {
            return Err(format!("parsing time {}: day out of range", q(s)));
        }
        return Ok(());
    }
    crate::funcs::time_parse_error("2006-01-02", s).map_or(Ok(()), Err)
}

fn date_time(s: &str) -> Result<(), String> {
    if s.len() < 20 {
        return Err("less than 20 characters long".into());
    }
    if !s.is_char_boundary(10) || !s.is_char_boundary(11) || !matches!(s.as_bytes()[10], b't' | b'T') {
        return Err("11th character must be t or T".into());
    }
    date(&s[..10]).map_err(|e| format!("invalid date element: {e}"))?;
    time(&s[11..]).map_err(|e| format!("invalid time element: {e}"))
}

/// RFC 3339 `full-time`, as the validator checks it (leap seconds only at 23:59 UTC).
fn time(s: &str) -> Result<(), String> {
    let b = s.as_bytes();
    if b.len() < 9 {
        return Err("less than 9 characters long".into());
    }
    if b[2] != b':' || b[5] != b':' {
        return Err("missing colon in correct place".into());
    }
    let mut hms = [0i64; 3];
    for (i, tok) in s.get(..8).ok_or("invalid hour/min/sec")?.splitn(3, ':').enumerate() {
        let v = go_atoi(tok).ok_or("invalid hour/min/sec")?;
        if v < 0 {
            return Err("non-positive hour/min/sec".into());
        }
        hms[i] = v;
    }
    let [mut h, mut m, sec] = hms;
    if h > 23 || m > 59 || sec > 60 {
        return Err("hour/min/sec out of range".into());
    }
    let mut rest = &s[8..];
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.chars().take_while(char::is_ascii_digit).count();
        if n == 0 {
            return Err("no digits in second fraction".into());
        }
        rest = &frac[n..];
    }
    if rest != "z" && rest != "Z" {
        if rest.len() != 6 {
            return Err("offset must be 6 characters long".into());
        }
        let sign = match rest.as_bytes()[0] {
            b'+' => -1,
            b'-' => 1,
            _ => return Err("offset must begin with plus/minus".into()),
        };
        let off = &rest[1..];
        if off.as_bytes()[2] != b':' {
            return Err("missing colon in offset in correct place".into());
        }
        let mut zhm = [0i64; 2];
        for (i, tok) in off.splitn(2, ':').enumerate() {
            let v = go_atoi(tok).ok_or("invalid hour/min in offset")?;
            if v < 0 {
                return Err("non-positive hour/min in offset".into());
            }
            zhm[i] = v;
        }
        if zhm[0] > 23 || zhm[1] > 59 {
            return Err("hour/min in offset out of range".into());
        }
        let mut hm = (h * 60 + m) + sign * (zhm[0] * 60 + zhm[1]);
        if hm < 0 {
            hm += 24 * 60;
        }
        (h, m) = (hm / 60, hm % 60);
    }
    if sec >= 60 && (h != 23 || m != 59) {
        return Err("invalid leap second".into());
    }
    Ok(())
}

/// Go's `strconv.Atoi` (an optional sign, then decimal digits).
fn go_atoi(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn ipv6(s: &str) -> Result<(), String> {
    if !s.contains(':') {
        return Err("missing colon".into());
    }
    if !url::parse_addr(s)?.zone.is_empty() {
        return Err("zone id is not a part of ipv6 address".into());
    }
    Ok(())
}

/// The library's `parseURL`: Go's `url.Parse`, then the IPv6 host check Go leaves out.
fn parse_url(s: &str) -> Result<url::Url, String> {
    let u = url::parse(s)?;
    let host = url::hostname(&u.host);
    if host.contains(&b':') {
        if !u.host.contains(&b'[') || !u.host.contains(&b']') {
            return Err("ipv6 address not enclosed in brackets".into());
        }
        ipv6(&String::from_utf8_lossy(host)).map_err(|e| format!("invalid ipv6 address: {e}"))?;
    }
    Ok(u)
}

fn uri(s: &str) -> Result<(), String> {
    if parse_url(s)?.scheme.is_empty() {
        return Err("relative url".into());
    }
    Ok(())
}

fn uri_reference(s: &str) -> Result<(), String> {
    if s.contains('\\') {
        return Err("contains \\".into());
    }
    parse_url(s).map(|_| ())
}

fn uri_template(s: &str) -> Result<(), String> {
    let u = parse_url(s)?;
    for tok in u.raw_path.split('/') {
        // The path was unescaped once already, so decoding a segment cannot fail.
        let mut want_open = true;
        let mut bytes = Vec::new();
        let b = tok.as_bytes();
        let mut i = 0;
        while i < b.len() {
            let decoded = (b[i] == b'%')
                .then(|| std::str::from_utf8(b.get(i + 1..i + 3)?).ok().and_then(|h| u8::from_str_radix(h, 16).ok()))
                .flatten();
            match decoded {
                Some(v) => {
                    bytes.push(v);
                    i += 3;
                }
                None => {
                    bytes.push(b[i]);
                    i += 1;
                }
            }
        }
        for c in bytes {
            let open = match c {
                b'{' => true,
                b'}' => false,
                _ => continue,
            };
            if open != want_open {
                return Err("nested curly braces".into());
            }
            want_open = !want_open;
        }
        if !want_open {
            return Err("no matching closing brace".into());
        }
    }
    Ok(())
}

fn period(s: &str) -> Result<(), String> {
    let Some((start, end)) = s.split_once('/') else { return Err("missing slash".into()) };
    if start.starts_with('P') {
        duration(start).map_err(|e| format!("invalid start duration: {e}"))?;
        date_time(end).map_err(|e| format!("invalid end date-time: {e}"))
    } else {
        date_time(start).map_err(|e| format!("invalid start date-time: {e}"))?;
        if end.starts_with('P') {
            duration(end).map_err(|e| format!("invalid end duration: {e}"))
        } else {
            date_time(end).map_err(|e| format!("invalid end date-time: {e}"))
        }
    }
}

fn semver(s: &str) -> Result<(), String> {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '-';
    let mut s = s;
    if let Some((core, build)) = s.split_once('+') {
        if build.is_empty() {
            return Err("build is empty".into());
        }
        for id in build.split('.') {
            if id.is_empty() {
                return Err("build identifier is empty".into());
            }
            if let Some(c) = id.chars().find(|c| !ident(*c)) {
                return Err(format!("invalid character {} in build identifier", rune(c)));
            }
        }
        s = core;
    }
    if let Some((core, pre)) = s.split_once('-') {
        for id in pre.split('.') {
            if id.is_empty() {
                return Err("pre-release identifier is empty".into());
            }
            if let Some(c) = id.chars().find(|c| !ident(*c)) {
                return Err(format!("invalid character {} in pre-release identifier", rune(c)));
            }
            if id.len() > 1 && id.starts_with('0') && id.bytes().all(|c| c.is_ascii_digit()) {
                return Err("pre-release numeric identifier starts with zero".into());
            }
        }
        s = core;
    }
    let parts: Vec<&str> = s.split('.').collect();
    if parts.len() != 3 {
        return Err("versionCore must have 3 numbers separated by dot".into());
    }
    for (name, v) in ["major", "minor", "patch"].into_iter().zip(parts) {
        if v.is_empty() {
            return Err(format!("{name} is empty"));
        }
        if v.len() > 1 && v.starts_with('0') {
            return Err(format!("{name} starts with zero"));
        }
        if !v.bytes().all(|c| c.is_ascii_digit()) {
            return Err(format!("{name} contains non-digit"));
        }
    }
    Ok(())
}

fn relative_json_pointer(s: &str) -> Result<(), String> {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Err("must start with non-negative integer".into());
    }
    if digits > 1 && s.starts_with('0') {
        return Err("starts with zero".into());
    }
    match &s[digits..] {
        "#" => Ok(()),
        rest => json_pointer(rest),
    }
}
