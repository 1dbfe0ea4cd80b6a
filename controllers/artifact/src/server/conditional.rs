//! Conditional requests (RFC 7232 section 6), evaluated in the order and with the rules of
//! Go's `checkPreconditions`: `If-Match`, else `If-Unmodified-Since` (412 when false); then
//! `If-None-Match` (304 for GET/HEAD when it matches, weak comparison), else
//! `If-Modified-Since` (304, compared at whole seconds); then `If-Range`, which drops the
//! `Range` header when it does not match.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::{HeaderMap, Method, header};

/// What the preconditions decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Answer 304 Not Modified.
    NotModified,
    /// Answer 412 Precondition Failed.
    Failed,
    /// Serve the content, honouring this `Range` header when present.
    Serve(Option<String>),
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> &str {
    headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

fn trim(s: &str) -> &str {
    s.trim_matches([' ', '\t', '\r', '\n'])
}

/// Go's `scanETag`: a leading (possibly weak) entity tag of `s` and the rest.
fn scan_etag(s: &str) -> Option<(&str, &str)> {
    let s = trim(s);
    let start = if s.starts_with("W/") { 2 } else { 0 };
    let bytes = s.as_bytes();
    if bytes.len() < start + 2 || bytes[start] != b'"' {
        return None;
    }
    for i in start + 1..bytes.len() {
        match bytes[i] {
            b'"' => return Some((&s[..=i], &s[i + 1..])),
            0x21 | 0x23..=0x7E | 0x80..=0xFF => {}
            _ => return None,
        }
    }
    None
}

fn strong_match(a: &str, b: &str) -> bool {
    a == b && a.starts_with('"')
}

fn weak_match(a: &str, b: &str) -> bool {
    a.strip_prefix("W/").unwrap_or(a) == b.strip_prefix("W/").unwrap_or(b)
}

/// Walks a list of entity tags; `on_star` answers `*`, `matches` compares one tag. Returns
/// `None` for an absent header.
fn any_etag(list: &str, on_star: bool, matches: impl Fn(&str) -> bool) -> Option<bool> {
    if list.is_empty() {
        return None;
    }
    let mut rest = list;
    loop {
        rest = trim(rest);
        if rest.is_empty() {
            return Some(false);
        }
        if let Some(r) = rest.strip_prefix(',') {
            rest = r;
            continue;
        }
        if rest.starts_with('*') {
            return Some(on_star);
        }
        let (etag, remain) = scan_etag(rest)?;
        if matches(etag) {
            return Some(true);
        }
        rest = remain;
    }
}

fn unix_secs(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX) - 1,
    }
}

fn parse_time(s: &str) -> Option<i64> {
    httpdate::parse_http_date(s).ok().map(unix_secs)
}

/// Evaluates the preconditions of a request for a representation with `etag` and `modified`.
pub(crate) fn evaluate(method: &Method, headers: &HeaderMap, etag: &str, modified: SystemTime) -> Outcome {
    let get_or_head = method == Method::GET || method == Method::HEAD;
    let modified_secs = unix_secs(modified);
    let has_time = modified != UNIX_EPOCH;

    // If-Match, else If-Unmodified-Since.
    let if_match = header_str(headers, header::IF_MATCH);
    let matched = if if_match.is_empty() {
        None
    } else {
        // A malformed list is false (Go breaks out of its loop).
        Some(any_etag(if_match, true, |e| strong_match(e, etag)).unwrap_or(false))
    };
    let unmodified = match matched {
        Some(m) => Some(m),
        None => {
            let ius = header_str(headers, header::IF_UNMODIFIED_SINCE);
            if ius.is_empty() || !has_time { None } else { parse_time(ius).map(|t| modified_secs <= t) }
        }
    };
    if unmodified == Some(false) {
        return Outcome::Failed;
    }

    // If-None-Match, else If-Modified-Since.
    let inm = header_str(headers, header::IF_NONE_MATCH);
    let none_match =
        if inm.is_empty() { None } else { Some(!any_etag(inm, true, |e| weak_match(e, etag)).unwrap_or(false)) };
    match none_match {
        Some(false) => return if get_or_head { Outcome::NotModified } else { Outcome::Failed },
        Some(true) => {}
        None => {
            let ims = header_str(headers, header::IF_MODIFIED_SINCE);
            if get_or_head
                && !ims.is_empty()
                && has_time
                && let Some(t) = parse_time(ims)
                && modified_secs <= t
            {
                return Outcome::NotModified;
            }
        }
    }

    let range = header_str(headers, header::RANGE);
    if range.is_empty() {
        return Outcome::Serve(None);
    }
    let if_range = header_str(headers, header::IF_RANGE);
    if get_or_head && !if_range.is_empty() {
        let keep = match scan_etag(if_range) {
            Some((tag, _)) => strong_match(tag, etag),
            None => parse_time(if_range).is_some_and(|t| t == modified_secs),
        };
        if !keep {
            return Outcome::Serve(None);
        }
    }
    Outcome::Serve(Some(range.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use std::time::Duration;

    const TAG: &str = "\"abc\"";

    fn eval(method: &Method, pairs: &[(header::HeaderName, &str)]) -> Outcome {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(k.clone(), HeaderValue::from_str(v).unwrap());
        }
        evaluate(method, &h, TAG, UNIX_EPOCH + Duration::from_millis(1_700_000_000_500))
    }

    #[test]
    fn etags() {
        use header::{IF_MATCH, IF_NONE_MATCH};
        assert_eq!(eval(&Method::GET, &[(IF_NONE_MATCH, TAG)]), Outcome::NotModified);
        assert_eq!(eval(&Method::GET, &[(IF_NONE_MATCH, "W/\"abc\"")]), Outcome::NotModified);
        assert_eq!(eval(&Method::GET, &[(IF_NONE_MATCH, "\"x\", \"abc\"")]), Outcome::NotModified);
        assert_eq!(eval(&Method::GET, &[(IF_NONE_MATCH, "*")]), Outcome::NotModified);
        assert_eq!(eval(&Method::GET, &[(IF_NONE_MATCH, "\"x\"")]), Outcome::Serve(None));
        assert_eq!(eval(&Method::POST, &[(IF_NONE_MATCH, TAG)]), Outcome::Failed);
        assert_eq!(eval(&Method::GET, &[(IF_MATCH, "\"x\"")]), Outcome::Failed);
        assert_eq!(eval(&Method::GET, &[(IF_MATCH, "W/\"abc\"")]), Outcome::Failed, "If-Match is strong");
        assert_eq!(eval(&Method::GET, &[(IF_MATCH, TAG)]), Outcome::Serve(None));
        assert_eq!(eval(&Method::GET, &[(IF_MATCH, "*")]), Outcome::Serve(None));
    }

    #[test]
    fn dates_compare_at_seconds() {
        use header::{IF_MODIFIED_SINCE, IF_NONE_MATCH, IF_UNMODIFIED_SINCE};
        let at = "Tue, 14 Nov 2023 22:13:20 GMT"; // the modification second
        let before = "Tue, 14 Nov 2023 22:13:19 GMT";
        assert_eq!(eval(&Method::GET, &[(IF_MODIFIED_SINCE, at)]), Outcome::NotModified);
        assert_eq!(eval(&Method::HEAD, &[(IF_MODIFIED_SINCE, at)]), Outcome::NotModified);
        assert_eq!(eval(&Method::GET, &[(IF_MODIFIED_SINCE, before)]), Outcome::Serve(None));
        assert_eq!(eval(&Method::GET, &[(IF_MODIFIED_SINCE, "garbage")]), Outcome::Serve(None));
        // If-None-Match takes precedence over If-Modified-Since.
        assert_eq!(eval(&Method::GET, &[(IF_NONE_MATCH, "\"x\""), (IF_MODIFIED_SINCE, at)]), Outcome::Serve(None));
        assert_eq!(eval(&Method::GET, &[(IF_UNMODIFIED_SINCE, before)]), Outcome::Failed);
        assert_eq!(eval(&Method::GET, &[(IF_UNMODIFIED_SINCE, at)]), Outcome::Serve(None));
    }

    #[test]
    fn if_range() {
        use header::{IF_RANGE, RANGE};
        assert_eq!(eval(&Method::GET, &[(RANGE, "bytes=0-1")]), Outcome::Serve(Some("bytes=0-1".into())));
        assert_eq!(
            eval(&Method::GET, &[(RANGE, "bytes=0-1"), (IF_RANGE, TAG)]),
            Outcome::Serve(Some("bytes=0-1".into()))
        );
        assert_eq!(eval(&Method::GET, &[(RANGE, "bytes=0-1"), (IF_RANGE, "\"old\"")]), Outcome::Serve(None));
        assert_eq!(eval(&Method::GET, &[(RANGE, "bytes=0-1"), (IF_RANGE, "W/\"abc\"")]), Outcome::Serve(None));
        let at = "Tue, 14 Nov 2023 22:13:20 GMT";
        assert_eq!(
            eval(&Method::GET, &[(RANGE, "bytes=0-1"), (IF_RANGE, at)]),
            Outcome::Serve(Some("bytes=0-1".into()))
        );
    }
}
