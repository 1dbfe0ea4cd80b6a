//! The operators of fluxcd/pkg/envsubst, working on bytes as Go strings do.

/// Applies operator `name` (as parsed) to the value `s` with its evaluated arguments.
pub(crate) fn apply(name: &str, s: &[u8], args: &[Vec<u8>]) -> Vec<u8> {
    match name {
        "," => first_char(s, char::to_lowercase),
        ",," => String::from_utf8_lossy(s).to_lowercase().into_bytes(),
        "^" => first_char(s, char::to_uppercase),
        "^^" => String::from_utf8_lossy(s).to_uppercase().into_bytes(),
        "#" if args.is_empty() => s.len().to_string().into_bytes(),
        "#" => args.first().map_or_else(|| s.to_vec(), |a| trim_prefix(s, a, false)),
        "##" => args.first().map_or_else(|| s.to_vec(), |a| trim_prefix(s, a, true)),
        "%" => args.first().map_or_else(|| s.to_vec(), |a| trim_suffix(s, a, false)),
        "%%" => args.first().map_or_else(|| s.to_vec(), |a| trim_suffix(s, a, true)),
        ":" => substr(s, args),
        "/#" => match args {
            [from, to] if s.starts_with(from) => [to.as_slice(), &s[from.len()..]].concat(),
            _ => s.to_vec(),
        },
        "/%" => match args {
            [from, to] if s.ends_with(from) => [&s[..s.len() - from.len()], to.as_slice()].concat(),
            _ => s.to_vec(),
        },
        "/" => replace(s, args, Some(1)),
        "//" => replace(s, args, None),
        // `=`, `:=`, `-`, `:-`, `?`, `:?`, `+`, `:+` and anything else: the value, or the
        // joined arguments when it is empty.
        _ => {
            if s.is_empty() && !args.is_empty() {
                args.concat()
            } else {
                s.to_vec()
            }
        }
    }
}

fn first_char<I: Iterator<Item = char>>(s: &[u8], f: fn(char) -> I) -> Vec<u8> {
    let text = String::from_utf8_lossy(s);
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => {
            let mut out: String = f(c).collect();
            out.push_str(chars.as_str());
            out.into_bytes()
        }
        None => Vec::new(),
    }
}

/// Go's `strconv.Atoi`.
fn atoi(s: &[u8]) -> Option<i64> {
    std::str::from_utf8(s).ok()?.parse().ok()
}

fn substr(s: &[u8], args: &[Vec<u8>]) -> Vec<u8> {
    let len = i64::try_from(s.len()).unwrap_or(i64::MAX);
    let Some(first) = args.first() else { return s.to_vec() };
    let Some(mut pos) = atoi(first) else { return s.to_vec() };
    if pos < 0 {
        pos = (len + pos).max(0);
    }
    let at = |i: i64| usize::try_from(i).unwrap_or(0);
    let Some(second) = args.get(1) else {
        return if pos < len { s[at(pos)..].to_vec() } else { Vec::new() };
    };
    let Some(length) = atoi(second) else { return s.to_vec() };
    if length < 0 {
        let end = len + length;
        if end < pos {
            return Vec::new();
        }
        // Go slices s[pos:end] here; a start past the end would panic there, an empty result
        // here.
        return s.get(at(pos)..at(end)).map(<[u8]>::to_vec).unwrap_or_default();
    }
    if pos.saturating_add(length) >= len {
        return if pos < len { s[at(pos)..].to_vec() } else { Vec::new() };
    }
    s[at(pos)..at(pos + length)].to_vec()
}

fn replace(s: &[u8], args: &[Vec<u8>], limit: Option<usize>) -> Vec<u8> {
    let (from, to): (&[u8], &[u8]) = match args {
        [] => return s.to_vec(),
        [from] => (from, b""),
        [from, to, ..] => (from, to),
    };
    go_replace(s, from, to, limit)
}

/// Go's `strings.Replace`: an empty `from` matches before every UTF-8 sequence and at the end.
fn go_replace(s: &[u8], from: &[u8], to: &[u8], limit: Option<usize>) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut done = 0;
    let mut i = 0;
    let max = limit.unwrap_or(usize::MAX);
    if from.is_empty() {
        while i < s.len() {
            if done < max {
                out.extend_from_slice(to);
                done += 1;
            }
            let (_, n) = decode(&s[i..]);
            out.extend_from_slice(&s[i..i + n]);
            i += n;
        }
        if done < max {
            out.extend_from_slice(to);
        }
        return out;
    }
    while i < s.len() {
        if done < max && s[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
            done += 1;
        } else {
            out.push(s[i]);
            i += 1;
        }
    }
    out
}

/// Removes the shortest (or longest) prefix of `s` matching the glob `pattern`; prefixes are
/// tried down to one byte, never the empty one.
fn trim_prefix(s: &[u8], pattern: &[u8], longest: bool) -> Vec<u8> {
    let mut shortest: Option<usize> = None;
    for cut in (1..=s.len()).rev() {
        match glob_match(pattern, &s[..cut]) {
            Err(()) => return s.to_vec(),
            Ok(true) if longest => return s[cut..].to_vec(),
            Ok(true) => shortest = Some(cut),
            Ok(false) => {}
        }
    }
    match shortest {
        Some(cut) => s[cut..].to_vec(),
        None => s.to_vec(),
    }
}

fn trim_suffix(s: &[u8], pattern: &[u8], longest: bool) -> Vec<u8> {
    let rev = |b: &[u8]| -> Vec<u8> { String::from_utf8_lossy(b).chars().rev().collect::<String>().into_bytes() };
    rev(&trim_prefix(&rev(s), &rev(pattern), longest))
}

/// Decodes one rune as Go does (an invalid byte is U+FFFD of width 1).
fn decode(s: &[u8]) -> (char, usize) {
    for n in 1..=s.len().min(4) {
        if let Ok(t) = std::str::from_utf8(&s[..n])
            && let Some(c) = t.chars().next()
        {
            return (c, n);
        }
    }
    (char::REPLACEMENT_CHARACTER, 1)
}

/// The glob of fluxcd/pkg/envsubst/path (Go's `path.Match` where `*` also matches `/`).
/// `Err` is a malformed pattern.
fn glob_match(mut pattern: &[u8], mut name: &[u8]) -> Result<bool, ()> {
    'pattern: while !pattern.is_empty() {
        let (star, chunk, rest) = scan_chunk(pattern);
        pattern = rest;
        if star && chunk.is_empty() {
            return Ok(true);
        }
        let first = match_chunk(chunk, name);
        if let Ok(Some(t)) = first
            && (t.is_empty() || !pattern.is_empty())
        {
            name = t;
            continue;
        }
        first?;
        if star {
            for i in 0..name.len() {
                match match_chunk(chunk, &name[i + 1..]) {
                    Ok(Some(t)) => {
                        if pattern.is_empty() && !t.is_empty() {
                            continue;
                        }
                        name = t;
                        continue 'pattern;
                    }
                    Ok(None) => {}
                    Err(()) => return Err(()),
                }
            }
        }
        return Ok(false);
    }
    Ok(name.is_empty())
}

fn scan_chunk(mut pattern: &[u8]) -> (bool, &[u8], &[u8]) {
    let mut star = false;
    while pattern.first() == Some(&b'*') {
        pattern = &pattern[1..];
        star = true;
    }
    let mut in_range = false;
    let mut i = 0;
    while i < pattern.len() {
        match pattern[i] {
            b'\\' if i + 1 < pattern.len() => i += 1,
            b'[' => in_range = true,
            b']' => in_range = false,
            b'*' if !in_range => break,
            _ => {}
        }
        i += 1;
    }
    (star, &pattern[..i], &pattern[i..])
}

/// Matches `chunk` at the start of `s`: `Some(rest)` on a match.
fn match_chunk<'a>(mut chunk: &[u8], mut s: &'a [u8]) -> Result<Option<&'a [u8]>, ()> {
    while !chunk.is_empty() {
        if s.is_empty() {
            return Ok(None);
        }
        match chunk[0] {
            b'[' => {
                let (r, n) = decode(s);
                s = &s[n..];
                chunk = &chunk[1..];
                let negated = chunk.first() == Some(&b'^');
                if negated {
                    chunk = &chunk[1..];
                }
                let mut matched = false;
                let mut ranges = 0;
                loop {
                    if chunk.first() == Some(&b']') && ranges > 0 {
                        chunk = &chunk[1..];
                        break;
                    }
                    let (lo, rest) = get_esc(chunk)?;
                    chunk = rest;
                    let mut hi = lo;
                    if chunk[0] == b'-' {
                        let (h, rest) = get_esc(&chunk[1..])?;
                        hi = h;
                        chunk = rest;
                    }
                    if lo <= r && r <= hi {
                        matched = true;
                    }
                    ranges += 1;
                }
                if matched == negated {
                    return Ok(None);
                }
            }
            b'?' => {
                let (_, n) = decode(s);
                s = &s[n..];
                chunk = &chunk[1..];
            }
            c => {
                let c = if c == b'\\' {
                    chunk = &chunk[1..];
                    *chunk.first().ok_or(())?
                } else {
                    c
                };
                if c != s[0] {
                    return Ok(None);
                }
                s = &s[1..];
                chunk = &chunk[1..];
            }
        }
    }
    Ok(Some(s))
}

/// A possibly escaped character of a range; the rest must not be empty.
fn get_esc(mut chunk: &[u8]) -> Result<(char, &[u8]), ()> {
    if chunk.is_empty() || chunk[0] == b'-' || chunk[0] == b']' {
        return Err(());
    }
    if chunk[0] == b'\\' {
        chunk = &chunk[1..];
        if chunk.is_empty() {
            return Err(());
        }
    }
    let (r, n) = decode(chunk);
    if r == char::REPLACEMENT_CHARACTER && n == 1 && std::str::from_utf8(&chunk[..1]).is_err() {
        return Err(());
    }
    let rest = &chunk[n..];
    if rest.is_empty() {
        return Err(());
    }
    Ok((r, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_as_go_path_match_without_separators() {
        let cases: &[(&str, &str, Result<bool, ()>)] = &[
            ("*.", "bash.", Ok(true)),
            ("*/", "path/", Ok(true)),
            ("*", "a/b", Ok(true)),
            ("a?c", "abc", Ok(true)),
            ("[a-c]x", "bx", Ok(true)),
            ("[^a-c]x", "bx", Ok(false)),
            ("\\*", "*", Ok(true)),
            ("[", "a", Err(())),
            ("a\\", "a", Ok(false)),
            ("abc", "abd", Ok(false)),
        ];
        for (p, n, want) in cases {
            assert_eq!(glob_match(p.as_bytes(), n.as_bytes()), *want, "{p} {n}");
        }
    }

    #[test]
    fn replace_with_an_empty_pattern_inserts_as_go_does() {
        assert_eq!(go_replace(b"ab", b"", b"-", None), b"-a-b-");
        assert_eq!(go_replace(b"ab", b"", b"-", Some(1)), b"-ab");
    }
}
