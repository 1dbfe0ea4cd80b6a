//! Value semantics of structured-merge-diff on `serde_json::Value`: the total order used to sort
//! set items and list keys, numeric equality (`1 == 1.0`), and the Go formatting that ends up in
//! field paths (`[name="a"]`) and in `FieldsV1` keys (`k:{"name":"a"}`).

use std::cmp::Ordering;
use std::fmt::Write as _;

use serde_json::{Number, Value};

/// A JSON number the way Go's unstructured decoding sees it.
#[derive(Clone, Copy)]
enum Num {
    Int(i64),
    Float(f64),
}

fn num(n: &Number) -> Num {
    match n.as_i64() {
        Some(i) if !n.is_f64() => Num::Int(i),
        _ => Num::Float(n.as_f64().unwrap_or(0.0)),
    }
}

fn float_cmp(a: f64, b: f64) -> Ordering {
    a.partial_cmp(&b).unwrap_or(Ordering::Equal)
}

/// Rank of a value's kind in the total order: numbers, strings, booleans, lists, maps, null.
fn rank(v: &Value) -> u8 {
    match v {
        Value::Number(_) => 0,
        Value::String(_) => 1,
        Value::Bool(_) => 2,
        Value::Array(_) => 3,
        Value::Object(_) => 4,
        Value::Null => 5,
    }
}

/// The total order of values (structured-merge-diff's `value.Compare`): numbers (integers and
/// floats compared numerically, a float sorting before an equal integer only by value), then
/// strings, booleans, lists (lexically), maps (by sorted keys), and null last.
#[must_use]
pub fn compare(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (num(x), num(y)) {
            (Num::Int(i), Num::Int(j)) => i.cmp(&j),
            (Num::Int(i), Num::Float(f)) => float_cmp(i as f64, f),
            (Num::Float(f), Num::Int(j)) => float_cmp(f, j as f64),
            (Num::Float(f), Num::Float(g)) => float_cmp(f, g),
        },
        (Value::String(x), Value::String(y)) => x.as_bytes().cmp(y.as_bytes()),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Array(x), Value::Array(y)) => {
            for (l, r) in x.iter().zip(y) {
                let c = compare(l, r);
                if c != Ordering::Equal {
                    return c;
                }
            }
            x.len().cmp(&y.len())
        }
        (Value::Object(x), Value::Object(y)) => {
            if x.is_empty() && y.is_empty() {
                return Ordering::Equal;
            }
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            for (i, k) in keys.into_iter().enumerate() {
                let c = if i == x.len() {
                    Ordering::Less
                } else if i == y.len() {
                    Ordering::Greater
                } else {
                    match (x.get(k), y.get(k)) {
                        (None, _) => Ordering::Greater,
                        (_, None) => Ordering::Less,
                        (Some(l), Some(r)) => compare(l, r),
                    }
                };
                if c != Ordering::Equal {
                    return c;
                }
            }
            Ordering::Equal
        }
        (Value::Null, Value::Null) => Ordering::Equal,
        _ => rank(a).cmp(&rank(b)),
    }
}

/// Deep equality with numbers compared by value (`1 == 1.0`), as structured-merge-diff does.
#[must_use]
pub fn equals(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(_), Value::Number(_)) => compare(a, b) == Ordering::Equal,
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(l, r)| equals(l, r)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| equals(v, w)))
        }
        _ => a == b,
    }
}

/// Go's `strconv.Quote` for the printable strings found in Kubernetes objects.
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go's `%v` of a float64: shortest digits, exponent form below 1e-4 and from 1e6.
fn go_float_v(f: f64) -> String {
    if f == 0.0 {
        return "0".to_owned();
    }
    if !f.is_finite() {
        return if f.is_nan() {
            "NaN".to_owned()
        } else if f > 0.0 {
            "+Inf".to_owned()
        } else {
            "-Inf".to_owned()
        };
    }
    let sci = format!("{f:e}");
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    // `%v` formats with the shortest digits and switches to the exponent form from 1e6.
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mant}e{sign}{:02}", exp.abs())
    } else {
        format!("{f}")
    }
}

/// Go's `%v` of an unstructured value (the `interface{}` of a decoded JSON document: nil, bool,
/// int64, float64, string, `[]interface{}`, `map[string]interface{}`).
fn go_fmt_v(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match num(n) {
            Num::Int(i) => i.to_string(),
            Num::Float(f) => go_float_v(f),
        },
        Value::String(s) => s.clone(),
        Value::Array(items) => format!("[{}]", items.iter().map(go_fmt_v).collect::<Vec<_>>().join(" ")),
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let items: Vec<String> = keys.into_iter().map(|k| format!("{k}:{}", go_fmt_v(&m[k]))).collect();
            format!("map[{}]", items.join(" "))
        }
    }
}

/// Go's `%#v` of an unstructured value.
fn go_fmt_sharp_v(v: &Value) -> String {
    match v {
        Value::Null => "interface {}(nil)".to_owned(),
        Value::String(s) => go_quote(s),
        Value::Array(items) => {
            format!("[]interface {{}}{{{}}}", items.iter().map(go_fmt_sharp_v).collect::<Vec<_>>().join(", "))
        }
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let items: Vec<String> =
                keys.into_iter().map(|k| format!("{}:{}", go_quote(k), go_fmt_sharp_v(&m[k]))).collect();
            format!("map[string]interface {{}}{{{}}}", items.join(", "))
        }
        other => go_fmt_v(other),
    }
}

/// How structured-merge-diff's validation errors print a value: Go's `%v` of the
/// `*valueUnstructured` wrapping it, e.g. `&{maybe}`.
#[must_use]
pub fn go_value_v(v: &Value) -> String {
    format!("&{{{}}}", go_fmt_v(v))
}

/// Go's `%#v` of the `*valueUnstructured` wrapping a value, e.g.
/// `&value.valueUnstructured{Value:true}` (structured-merge-diff's "expected string" error).
#[must_use]
pub fn go_value_sharp_v(v: &Value) -> String {
    format!("&value.valueUnstructured{{Value:{}}}", go_fmt_sharp_v(v))
}

/// structured-merge-diff's `value.ToString`, used when printing paths.
#[must_use]
pub fn to_go_string(v: &Value) -> String {
    match v {
        Value::Null => "null".to_owned(),
        Value::Number(n) => match num(n) {
            Num::Int(i) => i.to_string(),
            Num::Float(f) => go_float_v(f),
        },
        Value::String(s) => go_quote(s),
        Value::Bool(b) => b.to_string(),
        Value::Array(items) => format!("[{}]", items.iter().map(to_go_string).collect::<Vec<_>>().join(",")),
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            keys.into_iter().map(|k| format!("{k}={}", to_go_string(&m[k]))).collect()
        }
    }
}

/// Appends `s` as a JSON string the way Go's encoders write it (`html` adds `encoding/json`'s
/// escaping of `<`, `>` and `&`).
pub(crate) fn write_go_json_string(out: &mut String, s: &str, html: bool) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' if html => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A float64 the way Go's JSON encoders write it.
fn go_json_float(f: f64) -> String {
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let sci = format!("{f:e}");
        let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mant}e{sign}{}", exp.abs())
    } else if f.fract() == 0.0 && abs < 1e21 {
        format!("{f:.0}")
    } else {
        format!("{f}")
    }
}

/// Appends `v` as compact JSON the way Go's `encoding/json` (or json-iterator in its
/// standard-library mode) writes an unstructured value: map keys sorted, HTML characters
/// escaped when `html` is set.
pub(crate) fn write_go_json(out: &mut String, v: &Value, html: bool) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => match num(n) {
            Num::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Num::Float(f) => out.push_str(&go_json_float(f)),
        },
        Value::String(s) => write_go_json_string(out, s, html),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_go_json(out, item, html);
            }
            out.push(']');
        }
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_go_json_string(out, k, html);
                out.push(':');
                write_go_json(out, &m[k], html);
            }
            out.push('}');
        }
    }
}

/// `v` as compact JSON in Go's encoding (sorted keys, HTML escaping).
#[must_use]
pub fn go_json(v: &Value) -> String {
    let mut out = String::new();
    write_go_json(&mut out, v, true);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn order_of_kinds_and_numbers() {
        let mut vals =
            vec![json!(null), json!({}), json!([1]), json!(true), json!("b"), json!("a"), json!(2), json!(1.5)];
        vals.sort_by(compare);
        assert_eq!(
            vals,
            vec![json!(1.5), json!(2), json!("a"), json!("b"), json!(true), json!([1]), json!({}), json!(null)]
        );
        assert_eq!(compare(&json!(1), &json!(1.0)), Ordering::Equal);
        assert!(equals(&json!({"a": [1, 2.0]}), &json!({"a": [1.0, 2]})));
        assert!(!equals(&json!({"a": 1}), &json!({"a": 1, "b": 2})));
        assert!(!equals(&json!(1), &json!("1")));
    }

    #[test]
    fn values_as_structured_merge_diff_errors_print_them() {
        // As kube-apiserver v1.36.3 answers an apply of `suspend: maybe` (scenario 078).
        assert_eq!(go_value_v(&json!("maybe")), "&{maybe}");
        assert_eq!(go_value_v(&json!({"b": [1, "x"], "a": null})), "&{map[a:<nil> b:[1 x]]}");
        assert_eq!(go_value_v(&json!(1e6)), "&{1e+06}");
        assert_eq!(go_value_sharp_v(&json!(true)), "&value.valueUnstructured{Value:true}");
        assert_eq!(
            go_value_sharp_v(&json!({"k": ["a", null]})),
            r#"&value.valueUnstructured{Value:map[string]interface {}{"k":[]interface {}{"a", interface {}(nil)}}}"#
        );
    }

    #[test]
    fn go_formatting() {
        assert_eq!(to_go_string(&json!("a\"b")), r#""a\"b""#);
        assert_eq!(to_go_string(&json!(1.5)), "1.5");
        assert_eq!(to_go_string(&json!(1234567.0)), "1.234567e+06");
        assert_eq!(to_go_string(&json!(123456.0)), "123456");
        assert_eq!(
            go_json(&json!({"b": "<x>", "a": [1, 2.5, 1e21, 1e-7]})),
            r#"{"a":[1,2.5,1e+21,1e-7],"b":"\u003cx\u003e"}"#
        );
    }
}
