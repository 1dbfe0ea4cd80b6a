//! The rest of Sprig: `must*` aliases, float math, paths, URLs, base32, chunking, random
//! strings and UUIDs.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, Hasher};

use sha2::Digest as _;

use crate::funcs::{FResult, Func, FuncError, arg_int, arg_str, strval, to_float64, to_int64, want, want_at_least};
use crate::value::Value;

/// Pairs of (alias, function it stands for); the `must` forms return the error the plain
/// forms panic with, which templates see the same way.
const ALIASES: &[(&str, &str)] = &[
    ("mustAppend", "append"),
    ("mustPrepend", "prepend"),
    ("mustFirst", "first"),
    ("mustRest", "rest"),
    ("mustLast", "last"),
    ("mustInitial", "initial"),
    ("mustReverse", "reverse"),
    ("mustUniq", "uniq"),
    ("mustWithout", "without"),
    ("mustHas", "has"),
    ("mustSlice", "slice"),
    ("mustCompact", "compact"),
    ("mustMerge", "merge"),
    ("mustMergeOverwrite", "mergeOverwrite"),
    ("mustDeepCopy", "deepCopy"),
    ("mustRegexMatch", "regexMatch"),
    ("mustRegexFindAll", "regexFindAll"),
    ("mustRegexFind", "regexFind"),
    ("mustRegexReplaceAll", "regexReplaceAll"),
    ("mustRegexReplaceAllLiteral", "regexReplaceAllLiteral"),
    ("mustRegexSplit", "regexSplit"),
    ("mustToPrettyJson", "toPrettyJson"),
    ("mustToRawJson", "toRawJson"),
    ("mustDateModify", "dateModify"),
    ("mustFromJson", "fromJson"),
    ("mustChunk", "chunk"),
    ("biggest", "max"),
    ("trimall", "trimAll"),
    ("osBase", "base"),
    ("osDir", "dir"),
    ("osClean", "clean"),
    ("osExt", "ext"),
    ("osIsAbs", "isAbs"),
];

pub(super) fn register_aliases(m: &mut HashMap<&'static str, Func>) {
    for (alias, target) in ALIASES {
        if let Some(f) = m.get(target).copied() {
            m.insert(alias, f);
        }
    }
}

fn floats(a: &[Value], name: &str, f: fn(f64, f64) -> f64) -> FResult {
    want_at_least(a, 1, name)?;
    let mut acc = to_float64(&a[0]);
    for v in &a[1..] {
        acc = f(acc, to_float64(v));
    }
    Ok(Value::Float(acc))
}

/// A random number from the standard library's randomly keyed hasher.
fn random_u64() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0));
    h.finish()
}

fn random_string(n: i64, alphabet: &[u8]) -> String {
    (0..n.max(0)).map(|_| alphabet[(random_u64() % alphabet.len() as u64) as usize] as char).collect()
}

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

pub(super) fn register(m: &mut HashMap<&'static str, Func>) {
    m.insert("hello", |_, _| Ok(Value::str("Hello!")));
    m.insert("add1f", |_, a| {
        want(a, 1, "add1f")?;
        Ok(Value::Float(to_float64(&a[0]) + 1.0))
    });
    m.insert("subf", |_, a| floats(a, "subf", |x, y| x - y));
    m.insert("mulf", |_, a| floats(a, "mulf", |x, y| x * y));
    m.insert("divf", |_, a| floats(a, "divf", |x, y| x / y));
    m.insert("maxf", |_, a| floats(a, "maxf", f64::max));
    m.insert("minf", |_, a| floats(a, "minf", f64::min));
    m.insert("sha512sum", |_, a| {
        want(a, 1, "sha512sum")?;
        Ok(Value::str(
            sha2::Sha512::digest(arg_str(a, 0)?.as_bytes()).iter().map(|b| format!("{b:02x}")).collect::<String>(),
        ))
    });
    m.insert("toDecimal", |_, a| {
        want(a, 1, "toDecimal")?;
        Ok(Value::Int(i64::from_str_radix(&strval(&a[0]), 8).unwrap_or(0)))
    });
    m.insert("abbrevboth", |_, a| {
        want(a, 3, "abbrevboth")?;
        let (left, right) = (arg_int(a, 0)?, arg_int(a, 1)?);
        let s = arg_str(a, 2)?;
        Ok(Value::str(abbrev_both(&s, left, right)))
    });
    m.insert("wrapWith", |_, a| {
        want(a, 3, "wrapWith")?;
        let w = arg_int(a, 0)?.max(1) as usize;
        let sep = arg_str(a, 1)?;
        let s = arg_str(a, 2)?;
        let mut lines: Vec<String> = Vec::new();
        let mut cur = String::new();
        for word in s.split(' ') {
            if !cur.is_empty() && cur.len() + 1 + word.len() > w {
                lines.push(std::mem::take(&mut cur));
            } else if !cur.is_empty() {
                cur.push(' ');
            }
            cur.push_str(word);
        }
        lines.push(cur);
        Ok(Value::str(lines.join(&sep)))
    });
    m.insert("typeIsLike", |_, a| {
        want(a, 2, "typeIsLike")?;
        let t = arg_str(a, 0)?;
        let name = a[1].type_name();
        Ok(Value::Bool(t == name || t == format!("*{name}")))
    });
    m.insert("base", |_, a| Ok(Value::str(path_base(&arg_str(a, 0)?))));
    m.insert("dir", |_, a| Ok(Value::str(path_dir(&arg_str(a, 0)?))));
    m.insert("clean", |_, a| Ok(Value::str(path_clean(&arg_str(a, 0)?))));
    m.insert("ext", |_, a| {
        let p = arg_str(a, 0)?;
        let base_start = p.rfind('/').map_or(0, |i| i + 1);
        Ok(Value::str(p[base_start..].rfind('.').map(|i| p[base_start + i..].to_string()).unwrap_or_default()))
    });
    m.insert("isAbs", |_, a| Ok(Value::Bool(arg_str(a, 0)?.starts_with('/'))));
    m.insert("b32enc", |_, a| {
        want(a, 1, "b32enc")?;
        Ok(Value::str(base32_encode(strval(&a[0]).as_bytes())))
    });
    m.insert("b32dec", |_, a| {
        want(a, 1, "b32dec")?;
        Ok(Value::str(match base32_decode(&strval(&a[0])) {
            Some(b) => String::from_utf8_lossy(&b).into_owned(),
            None => "illegal base32 data at input byte 0".into(),
        }))
    });
    m.insert("pluck", |_, a| {
        want_at_least(a, 1, "pluck")?;
        let key = arg_str(a, 0)?;
        let mut out = Vec::new();
        for d in &a[1..] {
            if let Value::Map(m) = d
                && let Some(v) = m.borrow().get(&key)
            {
                out.push(v.clone());
            }
        }
        Ok(Value::list(out))
    });
    m.insert("chunk", |_, a| {
        want(a, 2, "chunk")?;
        let size = to_int64(&a[0]).max(1) as usize;
        let l = match &a[1] {
            Value::List(l) => l.to_vec(),
            other => {
                return Err(FuncError::Plain(format!("Cannot chunk type {}", other.kind_name())));
            }
        };
        Ok(Value::list(l.chunks(size).map(|c| Value::list(c.to_vec())).collect()))
    });
    m.insert("randAlphaNum", |_, a| Ok(Value::str(random_string(arg_int(a, 0)?, ALNUM))));
    m.insert("randAlpha", |_, a| Ok(Value::str(random_string(arg_int(a, 0)?, &ALNUM[..52]))));
    m.insert("randNumeric", |_, a| Ok(Value::str(random_string(arg_int(a, 0)?, &ALNUM[52..]))));
    m.insert("randAscii", |_, a| {
        let printable: Vec<u8> = (b' '..=b'~').collect();
        Ok(Value::str(random_string(arg_int(a, 0)?, &printable)))
    });
    m.insert("randInt", |_, a| {
        want(a, 2, "randInt")?;
        let (lo, hi) = (to_int64(&a[0]), to_int64(&a[1]));
        if hi <= lo {
            return Err(FuncError::Plain("invalid argument to Int63n".into()));
        }
        Ok(Value::Int(lo + (random_u64() % (hi - lo) as u64) as i64))
    });
    m.insert("uuidv4", |_, _| {
        let mut b = [0u8; 16];
        for chunk in b.chunks_mut(8) {
            chunk.copy_from_slice(&random_u64().to_le_bytes());
        }
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
        Ok(Value::str(format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])))
    });
    m.insert("urlParse", |_, a| {
        want(a, 1, "urlParse")?;
        Ok(url_parse(&arg_str(a, 0)?))
    });
    m.insert("urlJoin", |_, a| {
        want(a, 1, "urlJoin")?;
        Ok(Value::str(url_join(&a[0])))
    });
}

fn abbrev_both(s: &str, left: i64, right: i64) -> String {
    let n = s.chars().count() as i64;
    if right < 4 || (left > 0 && right < 7) || n <= right {
        return s.to_string();
    }
    let mut off = left.max(0);
    if off > n {
        off = n;
    }
    if n - off < right - 3 {
        off = n - (right - 3);
    }
    if off <= 4 {
        return s.chars().take((right - 3) as usize).collect::<String>() + "...";
    }
    if right < 7 {
        return s.to_string();
    }
    if off + right - 3 < n {
        let inner: String = s.chars().skip(off as usize).collect();
        return format!("...{}", abbrev_both(&inner, 0, right - 3));
    }
    format!("...{}", s.chars().skip((n - (right - 3)) as usize).collect::<String>())
}

/// Go's `path.Clean`.
pub fn path_clean(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            s => parts.push(s),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

fn path_base(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let t = p.trim_end_matches('/');
    if t.is_empty() {
        return "/".into();
    }
    t.rsplit('/').next().unwrap_or(t).to_string()
}

fn path_dir(p: &str) -> String {
    let dir = match p.rfind('/') {
        Some(i) => &p[..=i],
        None => "",
    };
    path_clean(dir)
}

const B32: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

fn base32_encode(data: &[u8]) -> String {
    let mut out = String::new();
    for chunk in data.chunks(5) {
        let mut buf = [0u8; 5];
        buf[..chunk.len()].copy_from_slice(chunk);
        let bits = buf.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        let chars = (chunk.len() * 8).div_ceil(5);
        for i in 0..8 {
            if i < chars {
                out.push(B32[((bits >> (35 - i * 5)) & 31) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn base32_decode(s: &str) -> Option<Vec<u8>> {
    let s = s.trim_end_matches('=');
    let mut out = Vec::new();
    let (mut acc, mut nbits) = (0u64, 0);
    for c in s.bytes() {
        let v = B32.iter().position(|x| *x == c)? as u64;
        acc = (acc << 5) | v;
        nbits += 5;
        if nbits >= 8 {
            nbits -= 8;
            out.push((acc >> nbits) as u8);
            acc &= (1 << nbits) - 1;
        }
    }
    Some(out)
}

fn url_parse(s: &str) -> Value {
    let mut m = BTreeMap::new();
    let (scheme, rest) = match s.split_once("://") {
        Some((sc, r)) => (sc.to_string(), r.to_string()),
        None => (String::new(), s.to_string()),
    };
    let (rest, fragment) = rest.split_once('#').map_or((rest.clone(), String::new()), |(a, b)| (a.into(), b.into()));
    let (rest, query) = rest.split_once('?').map_or((rest.clone(), String::new()), |(a, b)| (a.into(), b.into()));
    let (authority, path) = if scheme.is_empty() {
        (String::new(), rest)
    } else {
        match rest.find('/') {
            Some(i) => (rest[..i].to_string(), rest[i..].to_string()),
            None => (rest, String::new()),
        }
    };
    let (userinfo, host) =
        authority.rsplit_once('@').map_or((String::new(), authority.clone()), |(u, h)| (u.into(), h.into()));
    for (k, v) in [
        ("scheme", scheme),
        ("host", host),
        ("hostname", String::new()),
        ("path", path),
        ("query", query),
        ("opaque", String::new()),
        ("fragment", fragment),
        ("userinfo", userinfo),
    ] {
        m.insert(k.to_string(), Value::str(v));
    }
    if let Some(Value::Str(h)) = m.get("host").cloned() {
        let hostname = h.rsplit_once(':').map_or(h.to_string(), |(a, _)| a.to_string());
        m.insert("hostname".into(), Value::str(hostname));
    }
    Value::map(m)
}

fn url_join(v: &Value) -> String {
    let get = |k: &str| match v {
        Value::Map(m) => m.borrow().get(k).map(strval).unwrap_or_default(),
        _ => String::new(),
    };
    let mut out = String::new();
    let scheme = get("scheme");
    if !scheme.is_empty() {
        out.push_str(&scheme);
        out.push(':');
    }
    let host = get("host");
    let userinfo = get("userinfo");
    if !host.is_empty() || !userinfo.is_empty() {
        out.push_str("//");
        if !userinfo.is_empty() {
            out.push_str(&userinfo);
            out.push('@');
        }
        out.push_str(&host);
    }
    out.push_str(&get("path"));
    let q = get("query");
    if !q.is_empty() {
        out.push('?');
        out.push_str(&q);
    }
    let f = get("fragment");
    if !f.is_empty() {
        out.push('#');
        out.push_str(&f);
    }
    out
}
