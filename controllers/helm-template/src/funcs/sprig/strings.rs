//! Sprig's string functions.

use std::collections::HashMap;

use crate::funcs::{FResult, Func, FuncError, arg_int, arg_str, strval, want, want_at_least};
use crate::template::exec::Exec;
use crate::template::format::go_quote;
use crate::value::Value;

fn s1(a: &[Value], name: &str) -> Result<String, FuncError> {
    want(a, 1, name)?;
    arg_str(a, 0)
}

fn ok(s: impl Into<String>) -> FResult {
    Ok(Value::str(s.into()))
}

pub(super) fn register(m: &mut HashMap<&'static str, Func>) {
    m.insert("upper", |_, a| ok(s1(a, "upper")?.to_uppercase()));
    m.insert("lower", |_, a| ok(s1(a, "lower")?.to_lowercase()));
    m.insert("title", |_, a| ok(title(&s1(a, "title")?)));
    m.insert("untitle", |_, a| {
        let s = s1(a, "untitle")?;
        let mut prev_space = true;
        ok(s.chars()
            .map(|c| {
                let r = if prev_space { c.to_lowercase().next().unwrap_or(c) } else { c };
                prev_space = c.is_whitespace();
                r
            })
            .collect::<String>())
    });
    m.insert("trim", |_, a| ok(s1(a, "trim")?.trim().to_string()));
    m.insert("trimAll", |_, a| {
        want(a, 2, "trimAll")?;
        let cut = arg_str(a, 0)?;
        ok(arg_str(a, 1)?.trim_matches(|c| cut.contains(c)).to_string())
    });
    m.insert("trimPrefix", |_, a| {
        want(a, 2, "trimPrefix")?;
        let p = arg_str(a, 0)?;
        let s = arg_str(a, 1)?;
        ok(s.strip_prefix(p.as_str()).unwrap_or(&s).to_string())
    });
    m.insert("trimSuffix", |_, a| {
        want(a, 2, "trimSuffix")?;
        let p = arg_str(a, 0)?;
        let s = arg_str(a, 1)?;
        ok(s.strip_suffix(p.as_str()).unwrap_or(&s).to_string())
    });
    m.insert("nospace", |_, a| ok(s1(a, "nospace")?.chars().filter(|c| !c.is_whitespace()).collect::<String>()));
    m.insert("repeat", |_, a| {
        want(a, 2, "repeat")?;
        let n = arg_int(a, 0)?;
        if n < 0 {
            return Err(FuncError::Plain("strings: negative Repeat count".into()));
        }
        let s = arg_str(a, 1)?;
        if (s.len() as u128) * (n as u128) > 1 << 30 {
            return Err(FuncError::Plain("strings: Repeat output length overflow".into()));
        }
        ok(s.repeat(n as usize))
    });
    m.insert("substr", |_, a| {
        want(a, 3, "substr")?;
        let (start, end) = (arg_int(a, 0)?, arg_int(a, 1)?);
        let s = arg_str(a, 2)?;
        let b = s.as_bytes();
        let r = if start < 0 {
            &b[..(end.max(0) as usize).min(b.len())]
        } else if end < 0 || end as usize > b.len() {
            &b[(start as usize).min(b.len())..]
        } else {
            &b[(start as usize).min(end as usize)..end as usize]
        };
        ok(String::from_utf8_lossy(r).into_owned())
    });
    m.insert("trunc", |_, a| {
        want(a, 2, "trunc")?;
        let c = arg_int(a, 0)?;
        let s = arg_str(a, 1)?;
        let l = s.len() as i64;
        let b = s.as_bytes();
        ok(if c < 0 && l + c > 0 {
            String::from_utf8_lossy(&b[(l + c) as usize..]).into_owned()
        } else if c >= 0 && l > c {
            String::from_utf8_lossy(&b[..c as usize]).into_owned()
        } else {
            s
        })
    });
    m.insert("contains", |_, a| {
        want(a, 2, "contains")?;
        Ok(Value::Bool(arg_str(a, 1)?.contains(arg_str(a, 0)?.as_str())))
    });
    m.insert("hasPrefix", |_, a| {
        want(a, 2, "hasPrefix")?;
        Ok(Value::Bool(arg_str(a, 1)?.starts_with(arg_str(a, 0)?.as_str())))
    });
    m.insert("hasSuffix", |_, a| {
        want(a, 2, "hasSuffix")?;
        Ok(Value::Bool(arg_str(a, 1)?.ends_with(arg_str(a, 0)?.as_str())))
    });
    m.insert("replace", |_, a| {
        want(a, 3, "replace")?;
        ok(arg_str(a, 2)?.replace(arg_str(a, 0)?.as_str(), &arg_str(a, 1)?))
    });
    m.insert("quote", |_, a| {
        let parts: Vec<String> = a.iter().filter(|v| !v.is_nil()).map(|v| go_quote(&strval(v))).collect();
        ok(parts.join(" "))
    });
    m.insert("squote", |_, a| {
        let parts: Vec<String> = a.iter().filter(|v| !v.is_nil()).map(|v| format!("'{}'", strval(v))).collect();
        ok(parts.join(" "))
    });
    m.insert("cat", |_, a| {
        let parts: Vec<String> = a.iter().filter(|v| !v.is_nil()).map(strval).collect();
        ok(parts.join(" "))
    });
    m.insert("indent", |_, a| {
        want(a, 2, "indent")?;
        ok(indent(arg_int(a, 0)?, &arg_str(a, 1)?))
    });
    m.insert("nindent", |_, a| {
        want(a, 2, "nindent")?;
        ok(format!("\n{}", indent(arg_int(a, 0)?, &arg_str(a, 1)?)))
    });
    m.insert("plural", |_, a| {
        want(a, 3, "plural")?;
        let n = arg_int(a, 2)?;
        ok(if n == 1 { arg_str(a, 0)? } else { arg_str(a, 1)? })
    });
    m.insert("split", |_, a| {
        want(a, 2, "split")?;
        let sep = arg_str(a, 0)?;
        let s = arg_str(a, 1)?;
        let mut out = std::collections::BTreeMap::new();
        for (i, p) in go_split(&s, &sep).into_iter().enumerate() {
            out.insert(format!("_{i}"), Value::str(p));
        }
        Ok(Value::map(out))
    });
    m.insert("splitList", |_, a| {
        want(a, 2, "splitList")?;
        let sep = arg_str(a, 0)?;
        let s = arg_str(a, 1)?;
        Ok(Value::str_list(go_split(&s, &sep)))
    });
    m.insert("splitn", |_, a| {
        want(a, 3, "splitn")?;
        let sep = arg_str(a, 0)?;
        let n = arg_int(a, 1)?;
        let s = arg_str(a, 2)?;
        let parts: Vec<&str> =
            if n < 0 { s.split(sep.as_str()).collect() } else { s.splitn(n as usize, sep.as_str()).collect() };
        let mut out = std::collections::BTreeMap::new();
        for (i, p) in parts.into_iter().enumerate() {
            out.insert(format!("_{i}"), Value::str(p));
        }
        Ok(Value::map(out))
    });
    m.insert("join", |_, a| {
        want(a, 2, "join")?;
        let sep = arg_str(a, 0)?;
        ok(strslice(&a[1]).join(&sep))
    });
    m.insert("toString", |_, a| {
        want(a, 1, "toString")?;
        ok(strval(&a[0]))
    });
    m.insert("toStrings", |_, a| {
        want(a, 1, "toStrings")?;
        Ok(Value::str_list(strslice(&a[0])))
    });
    m.insert("sortAlpha", |_, a| {
        want(a, 1, "sortAlpha")?;
        let mut v = strslice(&a[0]);
        v.sort();
        Ok(Value::str_list(v))
    });
    m.insert("snakecase", |_, a| ok(snake(&s1(a, "snakecase")?, '_')));
    m.insert("kebabcase", |_, a| ok(snake(&s1(a, "kebabcase")?, '-')));
    m.insert("camelcase", |_, a| {
        let s = s1(a, "camelcase")?;
        ok(s.split(['_', ' ', '-']).filter(|p| !p.is_empty()).map(title).collect::<String>())
    });
    m.insert("swapcase", |_, a| {
        ok(s1(a, "swapcase")?
            .chars()
            .map(|c| if c.is_uppercase() { c.to_lowercase().collect::<String>() } else { c.to_uppercase().collect() })
            .collect::<String>())
    });
    m.insert("initials", |_, a| {
        ok(s1(a, "initials")?.split_whitespace().filter_map(|w| w.chars().next()).collect::<String>())
    });
    m.insert("abbrev", |_, a| {
        want(a, 2, "abbrev")?;
        let w = arg_int(a, 0)?;
        let s = arg_str(a, 1)?;
        ok(if w < 4 || (s.len() as i64) <= w {
            s
        } else {
            format!("{}...", String::from_utf8_lossy(&s.as_bytes()[..(w - 3) as usize]))
        })
    });
    m.insert("wrap", |_, a| {
        want(a, 2, "wrap")?;
        let w = arg_int(a, 0)?;
        ok(wrap(&arg_str(a, 1)?, w.max(1) as usize))
    });
    m.insert("shuffle", |_, a| ok(s1(a, "shuffle")?));
    let _: Func = indent_fn;
}

fn indent_fn(_: &mut Exec, a: &[Value]) -> FResult {
    want_at_least(a, 2, "indent")?;
    ok(indent(arg_int(a, 0)?, &arg_str(a, 1)?))
}

/// Sprig's `indent`.
pub fn indent(n: i64, s: &str) -> String {
    let pad = " ".repeat(n.max(0) as usize);
    format!("{pad}{}", s.replace('\n', &format!("\n{pad}")))
}

/// Go's deprecated `strings.Title`: upper-cases letters that start a word.
pub fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev: Option<char> = None;
    for c in s.chars() {
        let sep = match prev {
            None => true,
            Some(p) => !(p.is_alphanumeric() || p == '_' || p == '\''),
        };
        if sep {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        prev = Some(c);
    }
    out
}

fn snake(s: &str, sep: char) -> String {
    let mut out = String::new();
    let chars: Vec<char> = s.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() {
            if i > 0
                && (chars[i - 1].is_lowercase()
                    || chars.get(i + 1).is_some_and(|n| n.is_lowercase()) && chars[i - 1] != sep)
                && !out.ends_with(sep)
            {
                out.push(sep);
            }
            out.extend(c.to_lowercase());
        } else if c == ' ' || c == '_' || c == '-' {
            if !out.ends_with(sep) {
                out.push(sep);
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn wrap(s: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line_len = 0;
    for word in s.split(' ') {
        if line_len > 0 && line_len + 1 + word.len() > width {
            out.push('\n');
            line_len = 0;
        } else if !out.is_empty() {
            out.push(' ');
            line_len += 1;
        }
        out.push_str(word);
        line_len += word.len();
    }
    out
}

/// Go's `strings.Split`.
pub fn go_split(s: &str, sep: &str) -> Vec<String> {
    if sep.is_empty() {
        return s.chars().map(String::from).collect();
    }
    s.split(sep).map(String::from).collect()
}

/// Sprig's `strslice`: a list of strings from a list (nil elements dropped), or a one-element
/// list from anything else.
pub fn strslice(v: &Value) -> Vec<String> {
    match v {
        Value::List(l) => l.iter().filter(|x| !x.is_nil()).map(strval).collect(),
        Value::Nil => Vec::new(),
        other => vec![strval(other)],
    }
}
