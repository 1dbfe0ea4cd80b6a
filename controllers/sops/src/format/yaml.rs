//! YAML documents (sops `stores/yaml`): every document of a stream is a branch; the output is
//! written block style with an indent of 4, as sops' go-yaml v3 encoder does.
//!
//! Comments are not read (serde_norway drops them); they are outside the MAC, so decryption
//! and verification are unaffected, but the output has none, and documents whose metadata
//! uses a comment regex are refused (which values are encrypted would depend on them).

use serde::Deserialize as _;
use serde_norway::Value as Yaml;

use super::yaml_scalar::scalar_str;
use crate::error::DocumentError;
use crate::gofmt;
use crate::tree::{Branch, Item, Key, Value};

/// Parses a YAML stream into branches.
pub(crate) fn load(data: &[u8]) -> Result<Vec<Branch>, DocumentError> {
    let mut branches = Vec::new();
    for doc in serde_norway::Deserializer::from_slice(data) {
        let value =
            Yaml::deserialize(doc).map_err(|e| DocumentError::Syntax(format!("Error unmarshaling input YAML: {e}")))?;
        match strip_tags(value) {
            Yaml::Mapping(map) => branches.push(mapping(map)?),
            Yaml::Null => branches.push(Vec::new()),
            Yaml::Sequence(_) => {
                return Err(DocumentError::Syntax("YAML documents that are sequences are not supported".into()));
            }
            _ => return Err(DocumentError::Syntax("YAML documents that are values are not supported".into())),
        }
    }
    Ok(branches)
}

fn strip_tags(value: Yaml) -> Yaml {
    match value {
        Yaml::Tagged(tagged) => strip_tags(tagged.value),
        other => other,
    }
}

fn mapping(map: serde_norway::Mapping) -> Result<Branch, DocumentError> {
    let mut items = Vec::with_capacity(map.len());
    for (k, v) in map {
        let Yaml::String(key) = strip_tags(k) else {
            return Err(DocumentError::Syntax("Tree contains a non-string key; only string keys are supported".into()));
        };
        items.push(Item::new(key, value(v)?));
    }
    Ok(items)
}

fn value(v: Yaml) -> Result<Value, DocumentError> {
    Ok(match strip_tags(v) {
        Yaml::Null => Value::Null,
        Yaml::Bool(b) => Value::Bool(b),
        Yaml::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::Int(i)
            } else if n.is_f64() {
                Value::Float(n.as_f64().unwrap_or(f64::NAN))
            } else {
                return Err(DocumentError::Unsupported("an integer outside the 64-bit signed range"));
            }
        }
        Yaml::String(s) => Value::Str(s),
        Yaml::Sequence(seq) => Value::Seq(seq.into_iter().map(value).collect::<Result<_, _>>()?),
        Yaml::Mapping(map) => Value::Map(mapping(map)?),
        Yaml::Tagged(_) => unreachable_tag(),
    })
}

fn unreachable_tag() -> Value {
    // strip_tags removed every tag; keep a harmless value rather than panicking.
    Value::Null
}

/// Writes branches as a YAML stream (`---` between documents).
pub(crate) fn emit(branches: &[Branch]) -> Vec<u8> {
    let mut out = String::new();
    for (i, branch) in branches.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        let items: Vec<&Item> = branch.iter().filter(|i| matches!(i.key, Key::Str(_))).collect();
        if items.is_empty() {
            out.push_str("{}\n");
        } else {
            map_body(&mut out, &items, 0, false);
        }
    }
    out.into_bytes()
}

const INDENT: usize = 4;

/// Writes mapping entries at `indent`; the first line is already positioned when `inline`.
fn map_body(out: &mut String, items: &[&Item], indent: usize, inline: bool) {
    for (n, item) in items.iter().enumerate() {
        let Key::Str(key) = &item.key else { continue };
        if n > 0 || !inline {
            out.push_str(&" ".repeat(indent));
        }
        out.push_str(&scalar_str(key, indent, true));
        out.push(':');
        value_after_key(out, &item.value, indent);
    }
}

fn value_after_key(out: &mut String, value: &Value, indent: usize) {
    match value {
        Value::Map(items) => {
            let items: Vec<&Item> = items.iter().filter(|i| matches!(i.key, Key::Str(_))).collect();
            if items.is_empty() {
                out.push_str(" {}\n");
            } else {
                out.push('\n');
                map_body(out, &items, indent + INDENT, false);
            }
        }
        Value::Seq(values) => {
            let values: Vec<&Value> = values.iter().filter(|v| !matches!(v, Value::Comment(_))).collect();
            if values.is_empty() {
                out.push_str(" []\n");
            } else {
                out.push('\n');
                seq_body(out, &values, indent + INDENT);
            }
        }
        scalar => {
            out.push(' ');
            out.push_str(&scalar_text(scalar, indent + INDENT));
            out.push('\n');
        }
    }
}

fn seq_body(out: &mut String, values: &[&Value], indent: usize) {
    for value in values {
        out.push_str(&" ".repeat(indent));
        out.push_str("- ");
        match value {
            Value::Map(items) => {
                let items: Vec<&Item> = items.iter().filter(|i| matches!(i.key, Key::Str(_))).collect();
                if items.is_empty() {
                    out.push_str("{}\n");
                } else {
                    map_body(out, &items, indent + 2, true);
                }
            }
            Value::Seq(inner) => {
                let inner: Vec<&Value> = inner.iter().filter(|v| !matches!(v, Value::Comment(_))).collect();
                if inner.is_empty() {
                    out.push_str("[]\n");
                } else {
                    // A nested sequence starts on the same line, as go-yaml writes `- - a`.
                    let mut nested = String::new();
                    seq_body(&mut nested, &inner, indent + 2);
                    out.push_str(nested.trim_start());
                }
            }
            scalar => {
                out.push_str(&scalar_text(scalar, indent + INDENT));
                out.push('\n');
            }
        }
    }
}

fn scalar_text(value: &Value, indent: usize) -> String {
    match value {
        Value::Str(s) | Value::Time(s) | Value::Comment(s) => scalar_str(s, indent, false),
        Value::Bytes(b) => scalar_str(&String::from_utf8_lossy(b), indent, false),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => match gofmt::format_g(*f).as_str() {
            "+Inf" => ".inf".into(),
            "-Inf" => "-.inf".into(),
            "NaN" => ".nan".into(),
            s => s.to_owned(),
        },
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".into(),
        Value::Map(_) | Value::Seq(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_the_emitter() {
        let src = "a: 1\nb:\n    c: x\n    d:\n        - 1\n        - k: v\n          l: true\ne: |-\n    x\n    y\nf: 'yes'\ng: 1.5\nh: ''\n";
        let branches = load(src.as_bytes()).unwrap();
        let out = String::from_utf8(emit(&branches)).unwrap();
        assert_eq!(out, src.replace("'yes'", "\"yes\"").replace("''", "\"\""));
        let reread: Yaml = serde_norway::from_str(&out).unwrap();
        let orig: Yaml = serde_norway::from_str(src).unwrap();
        assert_eq!(reread, orig);
    }

    #[test]
    fn refuses_sequences_at_the_top() {
        assert!(load(b"- a\n").is_err());
    }
}
