//! JSON documents (sops `stores/json`): one top-level object; integers within 64 bits stay
//! integers, other numbers are floats. Output is sops' encoder: Go's `json.Marshal` for
//! scalars (HTML characters escaped), then `json.Indent` with a tab, and a final newline.

use serde_json::Value as Json;

use crate::error::DocumentError;
use crate::gofmt;
use crate::tree::{Branch, Item, Key, Value};

/// Parses a JSON document into one branch, keeping duplicate keys as Go's token decoder
/// does (each is its own entry, in the MAC too).
pub(crate) fn load(data: &[u8]) -> Result<Vec<Branch>, DocumentError> {
    let mut de = serde_json::Deserializer::from_slice(data);
    let value = serde::Deserializer::deserialize_any(&mut de, TreeVisitor)
        .and_then(|v| de.end().map(|()| v))
        .map_err(|e| DocumentError::Syntax(format!("Could not unmarshal input data: {e}")))?;
    match value {
        Value::Map(items) => Ok(vec![items]),
        _ => Err(DocumentError::Syntax(
            "SOPS only supports JSON files with a top-level object (starting with '{')".into(),
        )),
    }
}

/// Builds tree values straight from the JSON tokens.
struct TreeVisitor;

impl<'de> serde::de::Visitor<'de> for TreeVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E>(self, i: i64) -> Result<Value, E> {
        Ok(Value::Int(i))
    }

    fn visit_u64<E>(self, u: u64) -> Result<Value, E> {
        // Beyond int64 Go falls back to float64.
        Ok(i64::try_from(u).map_or(Value::Float(u as f64), Value::Int))
    }

    fn visit_f64<E>(self, f: f64) -> Result<Value, E> {
        Ok(Value::Float(f))
    }

    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::Str(s.to_owned()))
    }

    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::Str(s))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(Seed)? {
            out.push(v);
        }
        Ok(Value::Seq(out))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            items.push(Item::new(key, map.next_value_seed(Seed)?));
        }
        Ok(Value::Map(items))
    }
}

struct Seed;

impl<'de> serde::de::DeserializeSeed<'de> for Seed {
    type Value = Value;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(TreeVisitor)
    }
}

/// Converts a parsed JSON value into a tree value.
pub(crate) fn value(json: Json) -> Value {
    match json {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(b),
        Json::Number(n) => n.as_i64().map_or_else(|| Value::Float(n.as_f64().unwrap_or(f64::NAN)), Value::Int),
        Json::String(s) => Value::Str(s),
        Json::Array(a) => Value::Seq(a.into_iter().map(value).collect()),
        Json::Object(map) => Value::Map(object(map)),
    }
}

/// Converts a JSON object into a branch, in document order.
pub(crate) fn object(map: serde_json::Map<String, Json>) -> Branch {
    map.into_iter().map(|(k, v)| Item::new(k, value(v))).collect()
}

/// Converts a branch to a JSON object as Go would marshal and re-read it (floats with an
/// integral value below 1e21 become integers, as `json.Marshal` prints them without a point).
pub(crate) fn to_json(branch: &Branch) -> Result<Json, String> {
    let mut map = serde_json::Map::new();
    for item in branch {
        if let Key::Str(k) = &item.key {
            map.insert(k.clone(), json_value(&item.value)?);
        }
    }
    Ok(Json::Object(map))
}

fn json_value(value: &Value) -> Result<Json, String> {
    Ok(match value {
        Value::Map(items) => to_json(items)?,
        Value::Seq(values) => Json::Array(
            values.iter().filter(|v| !matches!(v, Value::Comment(_))).map(json_value).collect::<Result<_, _>>()?,
        ),
        Value::Str(s) | Value::Time(s) => Json::String(s.clone()),
        Value::Bytes(b) => Json::String(String::from_utf8_lossy(b).into_owned()),
        Value::Int(i) => Json::from(*i),
        Value::Float(f) => {
            let text = gofmt::format_json(*f).ok_or("json: unsupported value: a non-finite float")?;
            serde_json::from_str(&text).map_err(|e| e.to_string())?
        }
        Value::Bool(b) => Json::Bool(*b),
        Value::Null | Value::Comment(_) => Json::Null,
    })
}

/// Writes the first branch as sops does.
pub(crate) fn emit(branches: &[Branch]) -> Result<Vec<u8>, String> {
    let branch = branches.first().ok_or("no document")?;
    let mut out = String::new();
    write_value(&mut out, &Value::Map(branch.clone()), 0)?;
    out.push('\n');
    Ok(out.into_bytes())
}

fn write_value(out: &mut String, value: &Value, depth: usize) -> Result<(), String> {
    match value {
        Value::Map(items) => {
            let items: Vec<_> = items.iter().filter(|i| matches!(i.key, Key::Str(_))).collect();
            if items.is_empty() {
                out.push_str("{}");
                return Ok(());
            }
            out.push('{');
            for (n, item) in items.iter().enumerate() {
                let Key::Str(k) = &item.key else { continue };
                if n > 0 {
                    out.push(',');
                }
                newline(out, depth + 1);
                go_string(out, k);
                out.push_str(": ");
                write_value(out, &item.value, depth + 1)?;
            }
            newline(out, depth);
            out.push('}');
        }
        Value::Seq(values) => {
            let values: Vec<_> = values.iter().filter(|v| !matches!(v, Value::Comment(_))).collect();
            if values.is_empty() {
                out.push_str("[]");
                return Ok(());
            }
            out.push('[');
            for (n, v) in values.iter().enumerate() {
                if n > 0 {
                    out.push(',');
                }
                newline(out, depth + 1);
                write_value(out, v, depth + 1)?;
            }
            newline(out, depth);
            out.push(']');
        }
        Value::Str(s) | Value::Time(s) => go_string(out, s),
        Value::Bytes(b) => {
            // Go marshals []byte as base64.
            use base64::Engine as _;
            go_string(out, &base64::engine::general_purpose::STANDARD.encode(b));
        }
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Float(f) => out.push_str(&gofmt::format_json(*f).ok_or("json: unsupported value: a non-finite float")?),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Null | Value::Comment(_) => out.push_str("null"),
    }
    Ok(())
}

fn newline(out: &mut String, depth: usize) {
    out.push('\n');
    for _ in 0..depth {
        out.push('\t');
    }
}

/// Go's `json.Marshal` of a string: `<`, `>`, `&`, U+2028 and U+2029 escaped too.
fn go_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emits_like_go() {
        let branches = load(br#"{"a": 1, "b": [true, 1.5, null], "c": {}, "d": "<&>", "e": []}"#).unwrap();
        let out = String::from_utf8(emit(&branches).unwrap()).unwrap();
        assert_eq!(
            out,
            "{\n\t\"a\": 1,\n\t\"b\": [\n\t\ttrue,\n\t\t1.5,\n\t\tnull\n\t],\n\t\"c\": {},\n\t\"d\": \"\\u003c\\u0026\\u003e\",\n\t\"e\": []\n}\n"
        );
    }

    #[test]
    fn integral_floats_become_integers() {
        let json = to_json(&vec![Item::new("f", Value::Float(2.0))]).unwrap();
        assert_eq!(json["f"], serde_json::json!(2));
    }
}
