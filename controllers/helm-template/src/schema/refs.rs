//! Resolving a URI reference against a base URI (RFC 3986 section 5.2), for `$id` and `$ref`
//! values naming resources of the schema document.

/// The URL Helm loads a chart's schema from; the document's base URI unless it has an `$id`.
pub(crate) const DOCUMENT_URL: &str = "file:///values.schema.json";

/// A JSON pointer as the library writes it in a URL fragment: each token path-escaped as
/// Go's `url.PathEscape` does.
pub(crate) fn encode_pointer(ptr: &str) -> String {
    ptr.split('/')
        .map(|tok| {
            let mut out = String::new();
            for b in tok.bytes() {
                if b.is_ascii_alphanumeric() || b"-_.~$&+:=@".contains(&b) {
                    out.push(b as char);
                } else {
                    out.push_str(&format!("%{b:02X}"));
                }
            }
            out
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// `scheme:` at the start of `s`, if it has one.
fn scheme(s: &str) -> Option<&str> {
    let end = s.find(':')?;
    let sch = &s[..end];
    let mut chars = sch.chars();
    let first = chars.next()?;
    (first.is_ascii_alphabetic() && chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))).then_some(sch)
}

/// Splits `rest` (after `scheme:`) into authority (with its `//`), path and query (with `?`).
fn parts(rest: &str) -> (&str, &str, &str) {
    let (authority, tail) = match rest.strip_prefix("//") {
        Some(r) => {
            let end = r.find(['/', '?']).map_or(rest.len(), |i| i + 2);
            (&rest[..end], &rest[end..])
        }
        None => ("", rest),
    };
    let (path, query) = tail.find('?').map_or((tail, ""), |i| (&tail[..i], &tail[i..]));
    (authority, path, query)
}

/// RFC 3986 `remove_dot_segments`.
fn remove_dots(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let absolute = path.starts_with('/');
    let segments: Vec<&str> = path.split('/').collect();
    let last = segments.len().saturating_sub(1);
    let mut trailing = false;
    for (i, seg) in segments.iter().enumerate() {
        if i == 0 && absolute {
            continue;
        }
        match *seg {
            "." => trailing = i == last,
            ".." => {
                out.pop();
                trailing = i == last;
            }
            s => {
                out.push(s);
                trailing = false;
            }
        }
    }
    let mut joined = out.join("/");
    if trailing && !out.is_empty() {
        joined.push('/');
    }
    if absolute { format!("/{joined}") } else { joined }
}

/// `reference` (without a fragment) resolved against `base` (absolute, without a fragment).
pub(crate) fn resolve(base: &str, reference: &str) -> String {
    if scheme(reference).is_some() {
        let sch = scheme(reference).unwrap_or_default();
        let (authority, path, query) = parts(&reference[sch.len() + 1..]);
        return format!("{sch}:{authority}{}{query}", remove_dots(path));
    }
    let Some(base_scheme) = scheme(base) else { return reference.to_string() };
    let (base_authority, base_path, base_query) = parts(&base[base_scheme.len() + 1..]);
    if reference.starts_with("//") {
        let (authority, path, query) = parts(reference);
        return format!("{base_scheme}:{authority}{}{query}", remove_dots(path));
    }
    let (_, path, query) = parts(reference);
    let (path, query) = if path.is_empty() {
        (base_path.to_string(), if query.is_empty() { base_query } else { query })
    } else if path.starts_with('/') {
        (remove_dots(path), query)
    } else {
        let merged = if !base_authority.is_empty() && base_path.is_empty() {
            format!("/{path}")
        } else {
            format!("{}{path}", &base_path[..base_path.rfind('/').map_or(0, |i| i + 1)])
        };
        (remove_dots(&merged), query)
    };
    format!("{base_scheme}:{base_authority}{path}{query}")
}

#[cfg(test)]
mod tests {
    use super::resolve;

    #[test]
    fn rfc3986_examples() {
        let base = "http://a/b/c/d;p?q";
        for (r, want) in [
            ("g", "http://a/b/c/g"),
            ("./g", "http://a/b/c/g"),
            ("g/", "http://a/b/c/g/"),
            ("/g", "http://a/g"),
            ("//g", "http://g"),
            ("?y", "http://a/b/c/d;p?y"),
            ("g?y", "http://a/b/c/g?y"),
            ("", "http://a/b/c/d;p?q"),
            (".", "http://a/b/c/"),
            ("./", "http://a/b/c/"),
            ("..", "http://a/b/"),
            ("../g", "http://a/b/g"),
            ("../..", "http://a/"),
            ("../../g", "http://a/g"),
            ("../../../g", "http://a/g"),
            ("g.", "http://a/b/c/g."),
            ("./../g", "http://a/b/g"),
            ("g;x=1/../y", "http://a/b/c/y"),
            ("https://x.example/s/../t", "https://x.example/t"),
        ] {
            assert_eq!(resolve(base, r), want, "{r}");
        }
        assert_eq!(resolve("file:///values.schema.json", "tree"), "file:///tree");
        assert_eq!(resolve("https://example.com/root", "tree"), "https://example.com/tree");
    }
}
