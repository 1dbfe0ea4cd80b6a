//! How values and schema literals are typed, compared and printed in the validator's
//! messages: JSON types of values, numbers as exact decimals, deep equality for `enum`,
//! `const` and `uniqueItems`, the library's quoting.

use std::cmp::Ordering;

use super::json::Json;
use super::num::Dec;
use crate::value::Value;

/// The JSON type of a value; `None` for what JSON cannot hold.
pub(super) fn type_of(v: &Value) -> Option<&'static str> {
    Some(match v {
        Value::Nil => "null",
        Value::Bool(_) => "boolean",
        Value::Int(_) | Value::Int64(_) => "number",
        Value::Float(f) if f.is_finite() => "number",
        Value::Str(_) => "string",
        Value::List(_) => "array",
        Value::Map(_) => "object",
        _ => return None,
    })
}

/// A number value as Go's `%v` prints it, parsed as a decimal.
pub(super) fn dec(v: &Value) -> Option<Dec> {
    match v {
        Value::Int(i) | Value::Int64(i) => Dec::parse(&i.to_string()),
        Value::Float(f) => Dec::parse(&crate::template::format::sprint_v(&Value::Float(*f))),
        _ => None,
    }
}

/// The library's single-quoted string: Go's `%q` with `\"` unescaped over the whole quoted
/// text (so a trailing backslash's escape merges with the closing quote, as the library does).
pub fn quote(s: &str) -> String {
    let q = crate::template::format::go_quote(s).replace("\\\"", "\"").replace('\'', "\\'");
    format!("'{}'", &q[1..q.len() - 1])
}

/// A schema literal as the messages show it (`'x'`, `1.50`, `<nil>`, `value`).
pub(super) fn display(j: &Json) -> String {
    match j {
        Json::Str(s) => quote(s),
        Json::Arr(_) | Json::Obj(_) => "value".into(),
        Json::Null => "<nil>".into(),
        Json::Bool(b) => b.to_string(),
        Json::Num(t) => t.clone(),
    }
}

/// Whether a value equals a schema literal (numbers by value).
pub(super) fn equals_json(v: &Value, j: &Json) -> bool {
    match (v, j) {
        (Value::Nil, Json::Null) => true,
        (Value::Bool(a), Json::Bool(b)) => a == b,
        (Value::Str(a), Json::Str(b)) => &**a == b.as_str(),
        (Value::Int(_) | Value::Int64(_) | Value::Float(_), Json::Num(t)) => {
            matches!((dec(v), Dec::parse(t)), (Some(a), Some(b)) if a.compare(&b) == Ordering::Equal)
        }
        (Value::List(a), Json::Arr(b)) => a.len() == b.len() && a.iter().zip(b).all(|(x, y)| equals_json(x, y)),
        (Value::Map(a), Json::Obj(b)) => {
            let a = a.borrow();
            a.len() == b.len() && b.iter().all(|(k, y)| a.get(k).is_some_and(|x| equals_json(x, y)))
        }
        _ => false,
    }
}

/// Whether two values are equal (numbers by value, maps and lists deeply).
pub(super) fn equals(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Nil, Value::Nil) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Str(x), Value::Str(y)) => x == y,
        (Value::List(x), Value::List(y)) => x.len() == y.len() && x.iter().zip(y.iter()).all(|(p, q)| equals(p, q)),
        (Value::Map(x), Value::Map(y)) => {
            let (x, y) = (x.borrow(), y.borrow());
            x.len() == y.len() && x.iter().all(|(k, p)| y.get(k).is_some_and(|q| equals(p, q)))
        }
        _ => matches!((dec(a), dec(b)), (Some(x), Some(y)) if x.compare(&y) == Ordering::Equal),
    }
}

/// Go's `%T` of a value.
pub(super) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Float(_) => "float64",
        Value::Int(_) => "int",
        Value::Int64(_) => "int64",
        _ => "<nil>",
    }
}
