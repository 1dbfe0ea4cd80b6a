//! Conversion of the YAML model to JSON, keeping each scalar's resolved type.

use super::resolve::{go_parse_float, go_parse_int, timestamp_rfc3339};
use super::{Kind, Map, Scalar, Value};

/// Converts a YAML value to JSON the way kustomize hands objects to the API: integers,
/// floats, booleans and nulls keep their YAML types, timestamps become RFC 3339 strings and
/// everything else is a string. Numbers JSON cannot hold (infinities, NaN, integers beyond the
/// 64-bit range) are kept as their text.
#[must_use]
pub fn to_json(v: &Value) -> serde_json::Value {
    match v {
        Value::Scalar(s) => scalar_to_json(s),
        Value::Seq(items) => serde_json::Value::Array(items.iter().map(to_json).collect()),
        Value::Map(m) => map_to_json(m),
    }
}

/// Converts a YAML mapping to a JSON object, as [`to_json`] does.
#[must_use]
pub fn map_to_json(m: &Map) -> serde_json::Value {
    let mut out = serde_json::Map::with_capacity(m.len());
    for (k, v) in m.iter() {
        out.insert(k.clone(), to_json(v));
    }
    serde_json::Value::Object(out)
}

fn scalar_to_json(s: &Scalar) -> serde_json::Value {
    let text = || serde_json::Value::String(s.text.clone());
    match s.kind {
        Kind::Str => text(),
        Kind::Null => serde_json::Value::Null,
        Kind::Bool => serde_json::Value::Bool(super::is_true(&s.text)),
        Kind::Int => {
            let plain: String = s.text.chars().filter(|c| *c != '_').collect();
            match go_parse_int(&plain) {
                Some(i) => match i64::try_from(i) {
                    Ok(i) => serde_json::Value::from(i),
                    Err(_) => u64::try_from(i).map_or_else(|_| text(), serde_json::Value::from),
                },
                None => text(),
            }
        }
        Kind::Float => {
            let plain: String = s.text.chars().filter(|c| *c != '_').collect();
            go_parse_float(&plain).and_then(float_to_json).unwrap_or_else(text)
        }
        Kind::Timestamp => timestamp_rfc3339(&s.text).map_or_else(text, serde_json::Value::String),
    }
}

/// A float as Go's JSON encoder writes it: integral values below 1e21 without a fraction
/// (`1e3` is `1000`), others as floats; `None` for values JSON cannot hold.
fn float_to_json(f: f64) -> Option<serde_json::Value> {
    if f.fract() == 0.0 && f.abs() < 1e21 && !(f == 0.0 && f.is_sign_negative()) {
        // An integral f64 below 2^63 converts exactly; larger ones stay floats.
        #[allow(clippy::cast_possible_truncation)]
        let i = f as i64;
        #[allow(clippy::cast_precision_loss)]
        let exact = i as f64 == f;
        if exact {
            return Some(serde_json::Value::from(i));
        }
    }
    serde_json::Number::from_f64(f).map(serde_json::Value::Number)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::yaml::parse_documents;

    fn convert(yaml: &str) -> serde_json::Value {
        let docs = parse_documents(yaml).expect("valid YAML");
        to_json(&docs[0])
    }

    #[test]
    fn scalars_keep_their_resolved_types() {
        let cases: &[(&str, serde_json::Value)] = &[
            ("v: 3", json!(3)),
            ("v: -17", json!(-17)),
            ("v: 0x1F", json!(31)),
            ("v: 1_000", json!(1000)),
            ("v: 18446744073709551615", json!(18_446_744_073_709_551_615_u64)),
            ("v: 1.5", json!(1.5)),
            ("v: 1e3", json!(1000)),
            ("v: 2.0", json!(2)),
            ("v: 1e30", json!(1e30)),
            ("v: -0.0", json!(-0.0)),
            ("v: true", json!(true)),
            ("v: False", json!(false)),
            ("v: null", json!(null)),
            ("v: ~", json!(null)),
            ("v:", json!(null)),
            ("v: \"3\"", json!("3")),
            ("v: '1.5'", json!("1.5")),
            ("v: 'true'", json!("true")),
            ("v: yes", json!("yes")),
            ("v: on", json!("on")),
            ("v: hello", json!("hello")),
            ("v: .inf", json!(".inf")),
            ("v: 2001-12-14", json!("2001-12-14T00:00:00Z")),
            ("v: !!str 3", json!("3")),
        ];
        for (yaml, expected) in cases {
            assert_eq!(&convert(yaml)["v"], expected, "{yaml}");
        }
    }

    #[test]
    fn nesting_and_order_are_kept() {
        let v = convert("b: [1, two, {c: 3.0}]\na: {x: null}\n");
        assert_eq!(v, json!({"b": [1, "two", {"c": 3}], "a": {"x": null}}));
        let keys: Vec<&String> = v.as_object().expect("object").keys().collect();
        assert_eq!(keys.len(), 2);
    }
}
