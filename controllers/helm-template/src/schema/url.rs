//! The parts of Go's `net/netip.ParseAddr` and `net/url.Parse` (Go 1.26, the toolchain the
//! reference Helm was built with) that the validator's `ipv6` and URI formats rely on, with
//! their error texts.

use crate::template::format::go_quote;

/// Go's `strconv.Quote` of bytes that may not be UTF-8 (invalid bytes as `\xNN`).
fn quote_bytes(b: &[u8]) -> String {
    let mut out = String::from("\"");
    for chunk in b.utf8_chunks() {
        let q = go_quote(chunk.valid());
        out.push_str(&q[1..q.len() - 1]);
        for byte in chunk.invalid() {
            out.push_str(&format!("\\x{byte:02x}"));
        }
    }
    out.push('"');
    out
}

/// A parsed IP address: whether it is IPv4 and its zone.
pub(crate) struct Addr {
    pub(crate) is4: bool,
    pub(crate) zone: String,
}

fn addr_err(input: &str, msg: &str, at: &str) -> String {
    if at.is_empty() {
        format!("ParseAddr({}): {msg}", go_quote(input))
    } else {
        format!("ParseAddr({}): {msg} (at {})", go_quote(input), go_quote(at))
    }
}

/// `netip.ParseAddr`.
pub(crate) fn parse_addr(s: &str) -> Result<Addr, String> {
    for c in s.bytes() {
        match c {
            b'.' => return ipv4_fields(s, 0, s.len()).map(|()| Addr { is4: true, zone: String::new() }),
            b':' => return parse_ipv6(s),
            b'%' => return Err(addr_err(s, "missing IPv6 address", "")),
            _ => {}
        }
    }
    Err(addr_err(s, "unable to parse IP", ""))
}

fn ipv4_fields(input: &str, off: usize, end: usize) -> Result<(), String> {
    let s = &input[off..end];
    let b = s.as_bytes();
    let (mut val, mut pos, mut dig_len) = (0u32, 0, 0);
    for i in 0..b.len() {
        match b[i] {
            c @ b'0'..=b'9' => {
                if dig_len == 1 && val == 0 {
                    return Err(addr_err(input, "IPv4 field has octet with leading zero", ""));
                }
                val = val * 10 + u32::from(c - b'0');
                dig_len += 1;
                if val > 255 {
                    return Err(addr_err(input, "IPv4 field has value >255", ""));
                }
            }
            b'.' => {
                if i == 0 || i == b.len() - 1 || b[i - 1] == b'.' {
                    return Err(addr_err(input, "IPv4 field must have at least one digit", &s[i..]));
                }
                if pos == 3 {
                    return Err(addr_err(input, "IPv4 address too long", ""));
                }
                pos += 1;
                val = 0;
                dig_len = 0;
            }
            _ => return Err(addr_err(input, "unexpected character", &s[i..])),
        }
    }
    if pos < 3 {
        return Err(addr_err(input, "IPv4 address too short", ""));
    }
    Ok(())
}

fn parse_ipv6(input: &str) -> Result<Addr, String> {
    let (mut s, zone) = match input.find('%') {
        Some(i) => {
            if input[i + 1..].is_empty() {
                return Err(addr_err(input, "zone must be a non-empty string", ""));
            }
            (&input[..i], &input[i + 1..])
        }
        None => (input, ""),
    };
    let ok = Addr { is4: false, zone: zone.to_string() };
    let mut ellipsis: Option<usize> = None;
    if s.starts_with("::") {
        ellipsis = Some(0);
        s = &s[2..];
        if s.is_empty() {
            return Ok(ok);
        }
    }
    let mut i = 0;
    while i < 16 {
        let b = s.as_bytes();
        let mut off = 0;
        let mut acc = 0u32;
        while off < b.len() {
            let Some(d) = (b[off] as char).to_digit(16) else { break };
            acc = (acc << 4) + d;
            if off > 3 {
                return Err(addr_err(input, "each group must have 4 or less digits", s));
            }
            if acc > 0xffff {
                return Err(addr_err(input, "IPv6 field has value >=2^16", s));
            }
            off += 1;
        }
        if off == 0 {
            return Err(addr_err(input, "each colon-separated field must have at least one digit", s));
        }
        if off < b.len() && b[off] == b'.' {
            if ellipsis.is_none() && i != 12 {
                return Err(addr_err(input, "embedded IPv4 address must replace the final 2 fields of the address", s));
            }
            if i + 4 > 16 {
                return Err(addr_err(
                    input,
                    "too many hex fields to fit an embedded IPv4 at the end of the address",
                    s,
                ));
            }
            let end = if zone.is_empty() { input.len() } else { input.len() - zone.len() - 1 };
            ipv4_fields(input, end - s.len(), end)?;
            s = "";
            i += 4;
            break;
        }
        i += 2;
        s = &s[off..];
        if s.is_empty() {
            break;
        }
        if !s.starts_with(':') {
            return Err(addr_err(input, "unexpected character, want colon", s));
        } else if s.len() == 1 {
            return Err(addr_err(input, "colon must be followed by more characters", s));
        }
        s = &s[1..];
        if s.starts_with(':') {
            if ellipsis.is_some() {
                return Err(addr_err(input, "multiple :: in address", s));
            }
            ellipsis = Some(i);
            s = &s[1..];
            if s.is_empty() {
                break;
            }
        }
    }
    if !s.is_empty() {
        return Err(addr_err(input, "trailing garbage after address", s));
    }
    if i < 16 {
        if ellipsis.is_none() {
            return Err(addr_err(input, "address string too short", ""));
        }
    } else if ellipsis.is_some() {
        return Err(addr_err(input, "the :: must expand to at least one field of zeros", ""));
    }
    Ok(ok)
}

/// The escaping modes of `net/url` this module needs.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Path,
    Host,
    Zone,
    UserPassword,
    Fragment,
}

fn should_escape(c: u8, mode: Mode) -> bool {
    if c.is_ascii_alphanumeric() {
        return false;
    }
    if matches!(mode, Mode::Host | Mode::Zone) && b"!$&'()*+,;=:[]<>\"".contains(&c) {
        return false;
    }
    match c {
        b'-' | b'_' | b'.' | b'~' => return false,
        b'$' | b'&' | b'+' | b',' | b'/' | b':' | b';' | b'=' | b'?' | b'@' => match mode {
            Mode::Path => return c == b'?',
            Mode::UserPassword => return matches!(c, b'@' | b'/' | b'?' | b':'),
            Mode::Fragment => return false,
            Mode::Host | Mode::Zone => {}
        },
        _ => {}
    }
    !(mode == Mode::Fragment && matches!(c, b'!' | b'(' | b')' | b'*'))
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

/// `url.unescape`: the decoded bytes, or Go's `EscapeError`/`InvalidHostError` text.
fn unescape(s: &[u8], mode: Mode) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'%' => {
                let (Some(h), Some(l)) = (s.get(i + 1).and_then(|c| hex(*c)), s.get(i + 2).and_then(|c| hex(*c)))
                else {
                    let end = (i + 3).min(s.len());
                    return Err(format!("invalid URL escape {}", quote_bytes(&s[i..end])));
                };
                let esc = &s[i..i + 3];
                if mode == Mode::Host && h < 8 && esc != b"%25" {
                    return Err(format!("invalid URL escape {}", quote_bytes(esc)));
                }
                let v = h << 4 | l;
                if mode == Mode::Zone && esc != b"%25" && v != b' ' && should_escape(v, Mode::Host) {
                    return Err(format!("invalid URL escape {}", quote_bytes(esc)));
                }
                out.push(v);
                i += 3;
            }
            c => {
                if matches!(mode, Mode::Host | Mode::Zone) && c < 0x80 && should_escape(c, mode) {
                    return Err(format!("invalid character {} in host name", quote_bytes(&[c])));
                }
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(out)
}

fn escape(s: &[u8], mode: Mode) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    for &c in s {
        if should_escape(c, mode) {
            out.extend_from_slice(format!("%{c:02X}").as_bytes());
        } else {
            out.push(c);
        }
    }
    out
}

/// What the validator reads of a parsed URL.
pub(crate) struct Url {
    /// The scheme, lower-cased (empty for a relative reference).
    pub(crate) scheme: String,
    /// The host as `net/url` keeps it (brackets and port included).
    pub(crate) host: Vec<u8>,
    /// The path as written when its default encoding differs, else empty (`RawPath`).
    pub(crate) raw_path: String,
}

fn valid_optional_port(p: &str) -> bool {
    p.is_empty() || p.strip_prefix(':').is_some_and(|d| d.bytes().all(|c| c.is_ascii_digit()))
}

/// `url.Parse`, with its `parse "URL": reason` errors.
pub(crate) fn parse(raw: &str) -> Result<Url, String> {
    let (u, frag) = raw.split_once('#').unwrap_or((raw, ""));
    let url = parse_inner(u).map_err(|e| format!("parse {}: {e}", go_quote(u)))?;
    if !frag.is_empty() {
        unescape(frag.as_bytes(), Mode::Fragment).map_err(|e| format!("parse {}: {e}", go_quote(raw)))?;
    }
    Ok(url)
}

fn scheme(raw: &str) -> Result<(&str, &str), String> {
    for (i, c) in raw.bytes().enumerate() {
        match c {
            b'a'..=b'z' | b'A'..=b'Z' => {}
            b'0'..=b'9' | b'+' | b'-' | b'.' if i == 0 => return Ok(("", raw)),
            b'0'..=b'9' | b'+' | b'-' | b'.' => {}
            b':' if i == 0 => return Err("missing protocol scheme".into()),
            b':' => return Ok((&raw[..i], &raw[i + 1..])),
            _ => return Ok(("", raw)),
        }
    }
    Ok(("", raw))
}

fn parse_inner(raw: &str) -> Result<Url, String> {
    if raw.bytes().any(|b| b < b' ' || b == 0x7f) {
        return Err("net/url: invalid control character in URL".into());
    }
    let mut url = Url { scheme: String::new(), host: Vec::new(), raw_path: String::new() };
    if raw == "*" {
        return Ok(url);
    }
    let (sch, mut rest) = scheme(raw)?;
    url.scheme = sch.to_ascii_lowercase();
    if rest.ends_with('?') && rest.matches('?').count() == 1 {
        rest = &rest[..rest.len() - 1];
    } else {
        rest = rest.split_once('?').map_or(rest, |(a, _)| a);
    }
    if !rest.starts_with('/') {
        if !url.scheme.is_empty() {
            return Ok(url);
        }
        if rest.split('/').next().is_some_and(|seg| seg.contains(':')) {
            return Err("first path segment in URL cannot contain colon".into());
        }
    }
    if (!url.scheme.is_empty() || !rest.starts_with("///")) && rest.starts_with("//") {
        let authority;
        (authority, rest) = match rest[2..].find('/') {
            Some(i) => (&rest[2..2 + i], &rest[2 + i..]),
            None => (&rest[2..], ""),
        };
        url.host = parse_authority(&url.scheme, authority)?;
    }
    let path = unescape(rest.as_bytes(), Mode::Path)?;
    if escape(&path, Mode::Path) != rest.as_bytes() {
        url.raw_path = rest.to_string();
    }
    Ok(url)
}

fn parse_authority(scheme: &str, authority: &str) -> Result<Vec<u8>, String> {
    let at = authority.rfind('@');
    let host = parse_host(scheme, at.map_or(authority, |i| &authority[i + 1..]))?;
    let Some(i) = at else { return Ok(host) };
    let userinfo = &authority[..i];
    if !userinfo.chars().all(|r| r.is_ascii_alphanumeric() || "-._:~!$&'()*+,;=%@".contains(r)) {
        return Err("net/url: invalid userinfo".into());
    }
    let (user, pass) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    unescape(user.as_bytes(), Mode::UserPassword)?;
    unescape(pass.as_bytes(), Mode::UserPassword)?;
    Ok(host)
}

fn parse_host(scheme: &str, host: &str) -> Result<Vec<u8>, String> {
    match host.rfind('[') {
        Some(i) if i > 0 => return Err("invalid IP-literal".into()),
        Some(_) => {
            let Some(close) = host.rfind(']') else { return Err("missing ']' in host".into()) };
            let colon_port = &host[close + 1..];
            if !valid_optional_port(colon_port) {
                return Err(format!("invalid port {} after host", go_quote(colon_port)));
            }
            let colon_port = unescape(colon_port.as_bytes(), Mode::Host)?;
            // A `]` before the `[` leaves nothing between them.
            let hostname = host.get(1..close).unwrap_or("");
            let mut name = match hostname.find("%25") {
                Some(z) => {
                    let mut h = unescape(&hostname.as_bytes()[..z], Mode::Host)?;
                    h.extend(unescape(&hostname.as_bytes()[z..], Mode::Zone)?);
                    h
                }
                None => unescape(hostname.as_bytes(), Mode::Host)?,
            };
            let text = String::from_utf8_lossy(&name).into_owned();
            let addr = parse_addr(&text).map_err(|e| format!("invalid host: {e}"))?;
            if addr.is4 {
                return Err("invalid IP-literal".into());
            }
            name.insert(0, b'[');
            name.push(b']');
            name.extend(colon_port);
            return Ok(name);
        }
        None => {}
    }
    if let Some(first) = host.find(':') {
        let last = host.rfind(':').unwrap_or(first);
        let i = if scheme == "http" || scheme == "https" { first } else { last };
        let colon_port = &host[i..];
        if !valid_optional_port(colon_port) {
            return Err(format!("invalid port {} after host", go_quote(colon_port)));
        }
    }
    unescape(host.as_bytes(), Mode::Host)
}

/// `URL.Hostname`: the host without its port and brackets.
pub(crate) fn hostname(host: &[u8]) -> &[u8] {
    let mut h = host;
    if let Some(colon) = h.iter().rposition(|c| *c == b':')
        && std::str::from_utf8(&h[colon..]).is_ok_and(valid_optional_port)
    {
        h = &h[..colon];
    }
    if h.len() >= 2 && h[0] == b'[' && h[h.len() - 1] == b']' {
        h = &h[1..h.len() - 1];
    }
    h
}
