//! Helm's `strvals` parser for `--set` and `--set-string`: `a.b=c,d[0]=e`, escapes with `\`,
//! `{x,y}` lists, and typed scalars (`true`, `null`, integers) unless the values are strings.

use std::collections::BTreeMap;

use crate::value::{Map, Value};

/// A malformed `--set` expression.
#[derive(Debug, Clone, thiserror::Error)]
#[error("failed parsing --set data: {0}")]
pub struct StrvalsError(pub String);

/// Parses `s` into `into` (`string_only`: `--set-string`).
pub fn parse_into(s: &str, into: &Map, string_only: bool) -> Result<(), StrvalsError> {
    for item in split_top(s, ',') {
        if item.is_empty() {
            continue;
        }
        let Some((key, val)) = split_once_unescaped(&item, '=') else {
            return Err(StrvalsError(format!("key \"{item}\" has no value")));
        };
        let value = if val.starts_with('{') && val.ends_with('}') && !string_only {
            let inner = &val[1..val.len() - 1];
            Value::list(
                split_top(inner, ',')
                    .into_iter()
                    .filter(|x| !x.is_empty())
                    .map(|x| typed(&unescape(&x), string_only))
                    .collect(),
            )
        } else {
            typed(&unescape(&val), string_only)
        };
        set_path(into, &key, value)?;
    }
    Ok(())
}

fn split_top(s: &str, sep: char) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut depth = 0;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                cur.push(c);
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            '{' => {
                depth += 1;
                cur.push(c);
            }
            '}' => {
                depth -= 1;
                cur.push(c);
            }
            c if c == sep && depth == 0 => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out
}

fn split_once_unescaped(s: &str, sep: char) -> Option<(String, String)> {
    let mut prev_escape = false;
    for (i, c) in s.char_indices() {
        if c == sep && !prev_escape {
            return Some((s[..i].to_string(), s[i + 1..].to_string()));
        }
        prev_escape = c == '\\' && !prev_escape;
    }
    None
}

fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn typed(s: &str, string_only: bool) -> Value {
    if string_only {
        return Value::str(s);
    }
    match s {
        "true" => return Value::Bool(true),
        "false" => return Value::Bool(false),
        "null" => return Value::Nil,
        "0" => return Value::Int64(0),
        _ => {}
    }
    if !s.starts_with('0')
        && let Ok(i) = s.parse::<i64>()
    {
        return Value::Int64(i);
    }
    Value::str(s)
}

/// Parses a `--set-json` expression (`a.b=JSON`) into `into`.
pub fn parse_json_into(s: &str, into: &Map) -> Result<(), StrvalsError> {
    let Some((key, json)) = split_once_unescaped(s, '=') else {
        return Err(StrvalsError(format!("key {s:?} has no value")));
    };
    let v = crate::yaml::json::parse(&json).map_err(|e| StrvalsError(e.to_string()))?;
    set_path(into, &key, v)
}

/// Sets `value` at the `--set`-style key path `key` (`--set-file`).
pub fn set_value(into: &Map, key: &str, value: Value) -> Result<(), StrvalsError> {
    set_path(into, key, value)
}

fn set_path(into: &Map, key: &str, value: Value) -> Result<(), StrvalsError> {
    // Split on unescaped dots.
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut chars = key.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            '.' => parts.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    parts.push(cur);
    let mut m = into.clone();
    for (i, p) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let (name, index) = match p.find('[') {
            Some(b) if p.ends_with(']') => (p[..b].to_string(), p[b + 1..p.len() - 1].parse::<usize>().ok()),
            _ => (p.clone(), None),
        };
        if let Some(idx) = index {
            let mut list = match m.borrow().get(&name) {
                Some(Value::List(l)) => l.to_vec(),
                _ => Vec::new(),
            };
            if idx > 65536 {
                return Err(StrvalsError(format!("index of {idx} is greater than maximum supported index of 65536")));
            }
            while list.len() <= idx {
                list.push(Value::Nil);
            }
            if last {
                list[idx] = value;
                m.borrow_mut().insert(name, Value::list(list));
                return Ok(());
            }
            let child = match &list[idx] {
                Value::Map(cm) => cm.clone(),
                _ => Value::empty_map_rc(),
            };
            list[idx] = Value::Map(child.clone());
            m.borrow_mut().insert(name, Value::list(list));
            m = child;
            continue;
        }
        if last {
            m.borrow_mut().insert(name, value);
            return Ok(());
        }
        let child = match m.borrow().get(&name) {
            Some(Value::Map(cm)) => Some(cm.clone()),
            _ => None,
        };
        let child = child.unwrap_or_else(|| {
            let c = Value::empty_map_rc();
            m.borrow_mut().insert(name.clone(), Value::Map(c.clone()));
            c
        });
        m = child;
    }
    let _ = BTreeMap::<String, Value>::new();
    Ok(())
}
