//! Go `text/template`'s builtin functions (`and`/`or` short-circuit in the executor).

use std::collections::HashMap;

use super::{FResult, Func, FuncError, want, want_at_least};
use crate::template::exec::Exec;
use crate::template::format::{sprint, sprintf, sprintln};
use crate::value::Value;

pub(super) fn register(m: &mut HashMap<&'static str, Func>) {
    m.insert("not", not);
    m.insert("len", len);
    m.insert("index", index);
    m.insert("slice", slice);
    m.insert("print", |_, a| Ok(Value::str(sprint(a))));
    m.insert("println", |_, a| Ok(Value::str(sprintln(a))));
    m.insert("printf", printf);
    m.insert("eq", eq);
    m.insert("ne", |_, a| {
        want(a, 2, "ne")?;
        Ok(Value::Bool(!eq_values(&a[0], &a[1])?))
    });
    m.insert("lt", |_, a| cmp(a, "lt", |o| o == std::cmp::Ordering::Less));
    m.insert("le", |_, a| cmp(a, "le", |o| o != std::cmp::Ordering::Greater));
    m.insert("gt", |_, a| cmp(a, "gt", |o| o == std::cmp::Ordering::Greater));
    m.insert("ge", |_, a| cmp(a, "ge", |o| o != std::cmp::Ordering::Less));
    m.insert("html", |_, a| Ok(Value::str(html_escape(&eval_args(a)))));
    m.insert("js", |_, a| Ok(Value::str(js_escape(&eval_args(a)))));
    m.insert("urlquery", |_, a| Ok(Value::str(query_escape(&eval_args(a)))));
    m.insert("call", |_, _| Err(FuncError::Call("call of nil".into())));
}

/// Never called: the executor evaluates `and` and `or` itself.
pub(super) fn and_or_placeholder(_: &mut Exec, _: &[Value]) -> FResult {
    Ok(Value::Nil)
}

fn eval_args(a: &[Value]) -> String {
    if let [Value::Str(s)] = a {
        return s.to_string();
    }
    let printable: Vec<Value> =
        a.iter().map(|v| if v.is_nil() { Value::str("<no value>") } else { v.clone() }).collect();
    sprint(&printable)
}

fn not(_: &mut Exec, a: &[Value]) -> FResult {
    want(a, 1, "not")?;
    Ok(Value::Bool(!a[0].truthy()))
}

fn len(_: &mut Exec, a: &[Value]) -> FResult {
    want(a, 1, "len")?;
    let n = match &a[0] {
        Value::Str(s) => s.len(),
        Value::List(l) => l.len(),
        Value::Map(m) => m.borrow().len(),
        Value::Nil => return Err(FuncError::Call("len of nil pointer".into())),
        other => return Err(FuncError::Call(format!("len of type {}", other.type_name()))),
    };
    Ok(Value::Int(n as i64))
}

fn index_of(v: &Value, len: usize) -> Result<usize, FuncError> {
    let i = match v {
        Value::Int(i) | Value::Int64(i) => *i,
        Value::Nil => return Err(FuncError::Call("cannot index slice/array with nil".into())),
        other => {
            return Err(FuncError::Call(format!("cannot index slice/array with type {}", other.type_name())));
        }
    };
    if i < 0 || i as usize >= len {
        return Err(FuncError::Call(format!("index out of range: {i}")));
    }
    Ok(i as usize)
}

fn index(_: &mut Exec, a: &[Value]) -> FResult {
    want_at_least(a, 1, "index")?;
    let mut item = a[0].clone();
    for k in &a[1..] {
        item = match &item {
            Value::List(l) => l[index_of(k, l.len())?].clone(),
            Value::Str(s) => Value::Int(i64::from(s.as_bytes()[index_of(k, s.len())?])),
            Value::Map(m) => match k {
                Value::Str(key) => m.borrow().get(&**key).cloned().unwrap_or_default(),
                Value::Nil => Value::Nil,
                other => {
                    return Err(FuncError::Call(format!("value has type {}; should be string", other.type_name())));
                }
            },
            Value::Nil => return Err(FuncError::Call("index of untyped nil".into())),
            other => {
                return Err(FuncError::Call(format!("can't index item of type {}", other.type_name())));
            }
        };
    }
    Ok(item)
}

fn slice(_: &mut Exec, a: &[Value]) -> FResult {
    want_at_least(a, 1, "slice")?;
    let len = match &a[0] {
        Value::List(l) => l.len(),
        Value::Str(s) => s.len(),
        Value::Nil => return Err(FuncError::Call("slice of untyped nil".into())),
        other => {
            return Err(FuncError::Call(format!("can't slice item of type {}", other.type_name())));
        }
    };
    if a.len() > 4 || (matches!(a[0], Value::Str(_)) && a.len() > 3) {
        return Err(FuncError::Call(format!("too many slice indexes: {}", a.len() - 1)));
    }
    let mut idx = [0usize, len, len];
    for (i, v) in a[1..].iter().enumerate() {
        let n = match v {
            Value::Int(n) | Value::Int64(n) => *n,
            other => {
                return Err(FuncError::Call(format!("cannot index slice/array with type {}", other.type_name())));
            }
        };
        if n < 0 || n as usize > len {
            return Err(FuncError::Call(format!("index out of range: {n}")));
        }
        idx[i] = n as usize;
    }
    if idx[0] > idx[1] {
        return Err(FuncError::Call(format!("invalid slice index: {} > {}", idx[0], idx[1])));
    }
    Ok(match &a[0] {
        Value::List(l) => Value::list(l[idx[0]..idx[1]].to_vec()),
        Value::Str(s) => Value::str(String::from_utf8_lossy(&s.as_bytes()[idx[0]..idx[1]]).into_owned()),
        _ => Value::Nil,
    })
}

fn printf(_: &mut Exec, a: &[Value]) -> FResult {
    want_at_least(a, 1, "printf")?;
    let f = super::arg_str(a, 0)?;
    Ok(Value::str(sprintf(&f, &a[1..])))
}

#[derive(PartialEq, Eq, Debug)]
enum Kind {
    Invalid,
    Bool,
    Int,
    Float,
    Str,
    Other,
}

fn kind(v: &Value) -> Kind {
    match v {
        Value::Nil => Kind::Invalid,
        Value::Bool(_) => Kind::Bool,
        Value::Int(_) | Value::Int64(_) => Kind::Int,
        Value::Float(_) => Kind::Float,
        Value::Str(_) => Kind::Str,
        _ => Kind::Other,
    }
}

fn eq_values(a: &Value, b: &Value) -> Result<bool, FuncError> {
    let (ka, kb) = (kind(a), kind(b));
    if ka != kb {
        if ka != Kind::Invalid && kb != Kind::Invalid {
            return Err(FuncError::Call(format!(
                "incompatible types for comparison: {} and {}",
                a.type_name(),
                b.type_name()
            )));
        }
        return Ok(false);
    }
    Ok(match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(x) | Value::Int64(x), Value::Int(y) | Value::Int64(y)) => x == y,
        (Value::Float(x), Value::Float(y)) => x == y,
        (Value::Str(x), Value::Str(y)) => x == y,
        (Value::Nil, Value::Nil) => true,
        (Value::List(_) | Value::Map(_) | Value::Object(_), _) => {
            let same = std::mem::discriminant(a) == std::mem::discriminant(b);
            return Err(FuncError::Call(if same {
                format!("non-comparable type {}: {}", sprintf("%s", std::slice::from_ref(b)), b.type_name())
            } else {
                format!(
                    "non-comparable types {}: {}, {}: {}",
                    sprintf("%s", std::slice::from_ref(a)),
                    a.type_name(),
                    b.type_name(),
                    sprintf("%v", std::slice::from_ref(b))
                )
            }));
        }
        _ => a.deep_equal(b),
    })
}

fn eq(_: &mut Exec, a: &[Value]) -> FResult {
    if a.len() < 2 {
        return Err(FuncError::Call("missing argument for comparison".into()));
    }
    for b in &a[1..] {
        if eq_values(&a[0], b)? {
            return Ok(Value::Bool(true));
        }
    }
    Ok(Value::Bool(false))
}

fn cmp(a: &[Value], name: &str, ok: fn(std::cmp::Ordering) -> bool) -> FResult {
    want(a, 2, name)?;
    let (x, y) = (&a[0], &a[1]);
    let (kx, ky) = (kind(x), kind(y));
    let bad = |k: &Kind| matches!(k, Kind::Other | Kind::Invalid);
    if bad(&kx) || bad(&ky) {
        return Err(FuncError::Call("invalid type for comparison".into()));
    }
    if kx != ky {
        return Err(FuncError::Call(format!(
            "incompatible types for comparison: {} and {}",
            x.type_name(),
            y.type_name()
        )));
    }
    let o = match (x, y) {
        (Value::Int(p) | Value::Int64(p), Value::Int(q) | Value::Int64(q)) => p.cmp(q),
        (Value::Float(p), Value::Float(q)) => p.partial_cmp(q).unwrap_or(std::cmp::Ordering::Greater),
        (Value::Str(p), Value::Str(q)) => p.cmp(q),
        _ => return Err(FuncError::Call("invalid type for comparison".into())),
    };
    Ok(Value::Bool(ok(o)))
}

/// Go's `template.HTMLEscapeString`.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\0' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// Go's `template.JSEscapeString`.
pub fn js_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Go's `url.QueryEscape`.
pub fn query_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
