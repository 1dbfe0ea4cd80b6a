//! Shell-glob matching of one path component, with the exact semantics of Go's
//! `path/filepath.Match` on Unix.
//!
//! Flux's ignore patterns (fluxcd/pkg `sourceignore/gitignore`, copied from go-git) match each
//! path component with `filepath.Match`, so the corner cases of that function are observable:
//! `[^…]` negates a class (not `[!…]`), `\` escapes the next byte, `*` and `?` never match `/`,
//! classes and `?` consume one UTF-8 code point (an invalid byte counts as one U+FFFD), and a
//! malformed pattern is an error only when the matcher reaches the malformed part. Names and
//! patterns are bytes, as Go strings are: file names need not be UTF-8.

/// The replacement character Go's UTF-8 decoder yields for an invalid byte.
const RUNE_ERROR: u32 = 0xFFFD;

/// A malformed pattern (Go's `filepath.ErrBadPattern`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BadPattern;

/// Decodes the first code point of `s` as Go's `utf8.DecodeRune` does: an invalid or truncated
/// sequence yields (U+FFFD, 1). `s` must not be empty.
pub(crate) fn decode_rune(s: &[u8]) -> (u32, usize) {
    let width = match s[0] {
        0x00..=0x7F => return (u32::from(s[0]), 1),
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => return (RUNE_ERROR, 1),
    };
    match s.get(..width).map(std::str::from_utf8) {
        Some(Ok(text)) => (text.chars().next().map_or(RUNE_ERROR, u32::from), width),
        _ => (RUNE_ERROR, 1),
    }
}

/// Reports whether `name` matches the shell pattern `pattern` (Go's `filepath.Match`).
///
/// # Errors
///
/// [`BadPattern`] when the part of the pattern the matcher had to read is malformed (an
/// unterminated class, a dangling `\`, a class range without an end).
pub(crate) fn matches(pattern: &[u8], name: &[u8]) -> Result<bool, BadPattern> {
    let mut pattern = pattern;
    let mut name = name;
    'pattern: while !pattern.is_empty() {
        let (star, chunk, rest) = scan_chunk(pattern);
        pattern = rest;
        if star && chunk.is_empty() {
            // A trailing `*` matches the rest of the name unless it has a `/`.
            return Ok(!name.contains(&b'/'));
        }
        // Look for a match at the current position.
        let (tail, ok, err) = match_chunk(chunk, name);
        // The last chunk must exhaust the name, else a star could still match further on.
        if ok && (tail.is_empty() || !pattern.is_empty()) {
            name = tail;
            continue;
        }
        if let Some(err) = err {
            return Err(err);
        }
        if star {
            // Look for a match skipping i+1 bytes; a star cannot skip `/`.
            let mut i = 0;
            while i < name.len() && name[i] != b'/' {
                let (tail, ok, err) = match_chunk(chunk, &name[i + 1..]);
                if ok {
                    if pattern.is_empty() && !tail.is_empty() {
                        i += 1;
                        continue;
                    }
                    name = tail;
                    continue 'pattern;
                }
                if let Some(err) = err {
                    return Err(err);
                }
                i += 1;
            }
        }
        return Ok(false);
    }
    Ok(name.is_empty())
}

/// Splits off the next segment of `pattern`: a run of stars, then the non-star text up to the
/// next star outside a class. Returns (had stars, chunk, rest).
fn scan_chunk(mut pattern: &[u8]) -> (bool, &[u8], &[u8]) {
    let mut star = false;
    while let [b'*', rest @ ..] = pattern {
        pattern = rest;
        star = true;
    }
    let mut in_range = false;
    let mut i = 0;
    while i < pattern.len() {
        match pattern[i] {
            // Skip the escaped byte; a dangling escape is reported by match_chunk.
            b'\\' if i + 1 < pattern.len() => i += 1,
            b'[' => in_range = true,
            b']' => in_range = false,
            b'*' if !in_range => return (star, &pattern[..i], &pattern[i..]),
            _ => {}
        }
        i += 1;
    }
    (star, pattern, &[])
}

/// Matches `chunk` (literals, classes and `?` only) against the start of `s`. Returns the rest
/// of `s`, whether it matched, and a pattern error. Once the match has failed the chunk is still
/// scanned, to report a malformed pattern as Go does.
fn match_chunk<'s>(mut chunk: &[u8], mut s: &'s [u8]) -> (&'s [u8], bool, Option<BadPattern>) {
    let mut failed = false;
    while let Some(&c) = chunk.first() {
        failed = failed || s.is_empty();
        match c {
            b'[' => {
                let mut r = 0;
                if !failed {
                    let (rune, n) = decode_rune(s);
                    r = rune;
                    s = &s[n..];
                }
                chunk = &chunk[1..];
                let mut negated = false;
                if let [b'^', rest @ ..] = chunk {
                    negated = true;
                    chunk = rest;
                }
                let mut matched = false;
                let mut ranges = 0;
                loop {
                    if let [b']', rest @ ..] = chunk
                        && ranges > 0
                    {
                        chunk = rest;
                        break;
                    }
                    let (lo, rest) = match get_esc(chunk) {
                        Ok(v) => v,
                        Err(e) => return (&[], false, Some(e)),
                    };
                    chunk = rest;
                    let mut hi = lo;
                    if let [b'-', rest @ ..] = chunk {
                        match get_esc(rest) {
                            Ok((h, rest)) => {
                                hi = h;
                                chunk = rest;
                            }
                            Err(e) => return (&[], false, Some(e)),
                        }
                    }
                    matched = matched || (lo <= r && r <= hi);
                    ranges += 1;
                }
                failed = failed || matched == negated;
            }
            b'?' => {
                if !failed {
                    failed = s[0] == b'/';
                    let (_, n) = decode_rune(s);
                    s = &s[n..];
                }
                chunk = &chunk[1..];
            }
            _ => {
                let literal_at = if c == b'\\' {
                    if chunk.len() < 2 {
                        return (&[], false, Some(BadPattern));
                    }
                    1
                } else {
                    0
                };
                if !failed {
                    failed = chunk[literal_at] != s[0];
                    s = &s[1..];
                }
                chunk = &chunk[literal_at + 1..];
            }
        }
    }
    if failed { (&[], false, None) } else { (s, true, None) }
}

/// Reads one possibly escaped code point of a class. Returns it and the rest of the chunk.
fn get_esc(mut chunk: &[u8]) -> Result<(u32, &[u8]), BadPattern> {
    match chunk.first() {
        None | Some(b'-' | b']') => return Err(BadPattern),
        Some(b'\\') => {
            chunk = &chunk[1..];
            if chunk.is_empty() {
                return Err(BadPattern);
            }
        }
        Some(_) => {}
    }
    let (r, n) = decode_rune(chunk);
    let rest = &chunk[n..];
    if (r == RUNE_ERROR && n == 1) || rest.is_empty() {
        return Err(BadPattern);
    }
    Ok((r, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, name: &str) -> Result<bool, BadPattern> {
        matches(pattern.as_bytes(), name.as_bytes())
    }

    /// The table of Go's own `filepath.Match` tests (path/filepath/match_test.go, Unix rows).
    #[test]
    fn go_match_table() {
        let ok = |p, n, want: bool| assert_eq!(m(p, n), Ok(want), "Match({p:?}, {n:?})");
        let bad = |p, n| assert_eq!(m(p, n), Err(BadPattern), "Match({p:?}, {n:?}) must fail");
        ok("abc", "abc", true);
        ok("*", "abc", true);
        ok("*c", "abc", true);
        ok("a*", "a", true);
        ok("a*", "abc", true);
        ok("a*", "ab/c", false);
        ok("a*/b", "abc/b", true);
        ok("a*/b", "a/c/b", false);
        ok("a*b*c*d*e*/f", "axbxcxdxe/f", true);
        ok("a*b*c*d*e*/f", "axbxcxdxexxx/f", true);
        ok("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", false);
        ok("a*b*c*d*e*/f", "axbxcxdxexxx/fff", false);
        ok("a*b?c*x", "abxbbxdbxebxczzx", true);
        ok("a*b?c*x", "abxbbxdbxebxczzy", false);
        ok("ab[c]", "abc", true);
        ok("ab[b-d]", "abc", true);
        ok("ab[e-g]", "abc", false);
        ok("ab[^c]", "abc", false);
        ok("ab[^b-d]", "abc", false);
        ok("ab[^e-g]", "abc", true);
        ok("a\\*b", "a*b", true);
        ok("a\\*b", "ab", false);
        ok("a?b", "a☺b", true);
        ok("a[^a]b", "a☺b", true);
        ok("a???b", "a☺b", false);
        ok("a[^a][^a][^a]b", "a☺b", false);
        ok("[a-ζ]*", "α", true);
        ok("*[a-ζ]", "A", false);
        ok("a?b", "a/b", false);
        ok("a*b", "a/b", false);
        ok("[\\]a]", "]", true);
        ok("[\\-]", "-", true);
        ok("[x\\-]", "x", true);
        ok("[x\\-]", "-", true);
        ok("[x\\-]", "z", false);
        ok("[\\-x]", "x", true);
        ok("[\\-x]", "-", true);
        ok("[\\-x]", "a", false);
        bad("[]a]", "]");
        bad("[-]", "-");
        bad("[x-]", "x");
        bad("[x-]", "-");
        bad("[x-]", "z");
        bad("[-x]", "x");
        bad("[-x]", "-");
        bad("[-x]", "a");
        bad("\\", "a");
        bad("[a-b-c]", "a");
        bad("[", "a");
        bad("[^", "a");
        bad("[^bc", "a");
        bad("a[", "a");
        bad("a[", "ab");
        bad("a[", "x");
        bad("a/b[", "x");
        ok("*x", "xxx", true);
    }

    #[test]
    fn invalid_utf8_names_count_one_rune_per_bad_byte() {
        assert_eq!(matches(b"a?b", b"a\xffb"), Ok(true));
        assert_eq!(matches(b"a??b", b"a\xff\xfeb"), Ok(true));
        assert_eq!(matches(b"*.yaml", b"\xff.yaml"), Ok(true));
        // A class range spanning U+FFFD matches an invalid byte.
        assert_eq!(matches("a[\u{fff0}-\u{ffff}]b".as_bytes(), b"a\xffb"), Ok(true));
        // An invalid byte inside a class is a malformed pattern.
        assert_eq!(matches(b"[\xff]", b"a"), Err(BadPattern));
    }

    #[test]
    fn decode_rune_follows_go() {
        assert_eq!(decode_rune(b"a"), (0x61, 1));
        assert_eq!(decode_rune("é".as_bytes()), (0xE9, 2));
        assert_eq!(decode_rune("☺x".as_bytes()), (0x263A, 3));
        assert_eq!(decode_rune(b"\xe2\x98"), (RUNE_ERROR, 1));
        assert_eq!(decode_rune(b"\xc0\x80"), (RUNE_ERROR, 1)); // overlong
        assert_eq!(decode_rune(b"\xed\xa0\x80"), (RUNE_ERROR, 1)); // surrogate
    }
}
