//! YAML documents (sops `stores/yaml`): every document of a stream is a branch; the output is
//! written block style with an indent of 4, as sops' go-yaml v3 encoder does.
//!
//! Values come from serde_norway, which drops comments; `yaml_comments` recovers them from
//! the text and the writer lays them out as sops' `appendTreeBranch` does.

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
        if branch.iter().any(|i| matches!(i.key, Key::Str(_))) {
            map_body(&mut out, branch, 0, false);
        } else {
            write_comments(&mut out, branch.iter().filter_map(comment_text), 0);
            out.push_str("{}\n");
        }
    }
    out.into_bytes()
}

const INDENT: usize = 4;

fn comment_text(item: &Item) -> Option<&str> {
    match &item.key {
        Key::Comment(c) | Key::LineComment(c) => Some(c),
        Key::Str(_) => None,
    }
}

fn write_comments<'a>(out: &mut String, comments: impl IntoIterator<Item = &'a str>, indent: usize) {
    for c in comments {
        out.push_str(&" ".repeat(indent));
        out.push('#');
        out.push_str(c);
        out.push('\n');
    }
}

/// Writes mapping entries at `indent` as sops' `appendTreeBranch` lays comments out: comment
/// lines before an entry become its head comment, inline ones its value's line comment, and
/// what is left at the end the last entry's foot comment. The first line is already positioned
/// when `inline` (a mapping inside a sequence item).
fn map_body(out: &mut String, items: &[Item], indent: usize, inline: bool) {
    let mut heads: Vec<&str> = Vec::new();
    let mut lines: Vec<&str> = Vec::new();
    let mut first = true;
    for item in items {
        match &item.key {
            Key::Comment(c) => heads.push(c),
            Key::LineComment(c) => lines.push(c),
            Key::Str(key) => {
                if !(first && inline) {
                    write_comments(out, heads.drain(..), indent);
                    out.push_str(&" ".repeat(indent));
                }
                heads.clear();
                first = false;
                out.push_str(&scalar_str(key, indent, true));
                out.push(':');
                value_after_key(out, &item.value, indent, &lines);
                lines.clear();
            }
        }
    }
    heads.extend(lines);
    write_comments(out, heads, indent);
}

fn line_comment(lines: &[&str]) -> String {
    lines.iter().map(|c| format!(" #{c}")).collect()
}

fn value_after_key(out: &mut String, value: &Value, indent: usize, lines: &[&str]) {
    match value {
        Value::Map(items) if items.iter().any(|i| matches!(i.key, Key::Str(_))) => {
            out.push_str(&line_comment(lines));
            out.push('\n');
            map_body(out, items, indent + INDENT, false);
        }
        Value::Seq(values) if values.iter().any(|v| !matches!(v, Value::Comment(_))) => {
            out.push_str(&line_comment(lines));
            out.push('\n');
            seq_body(out, values, indent + INDENT);
        }
        Value::Map(_) => {
            out.push_str(" {}");
            out.push_str(&line_comment(lines));
            out.push('\n');
        }
        Value::Seq(_) => {
            out.push_str(" []");
            out.push_str(&line_comment(lines));
            out.push('\n');
        }
        scalar => {
            out.push(' ');
            let text = scalar_text(scalar, indent + INDENT);
            // A block scalar's line comment follows its indicator.
            match text.split_once('\n') {
                Some((indicator, body)) if !lines.is_empty() => {
                    out.push_str(indicator);
                    out.push_str(&line_comment(lines));
                    out.push('\n');
                    out.push_str(body);
                }
                _ => {
                    out.push_str(&text);
                    out.push_str(&line_comment(lines));
                }
            }
            out.push('\n');
        }
    }
}

fn seq_body(out: &mut String, values: &[Value], indent: usize) {
    let mut heads: Vec<&str> = Vec::new();
    for value in values {
        if let Value::Comment(c) = value {
            heads.push(c);
            continue;
        }
        write_comments(out, heads.drain(..), indent);
        match value {
            Value::Map(items) if items.iter().any(|i| matches!(i.key, Key::Str(_))) => {
                let lead = items.iter().take_while(|i| !matches!(i.key, Key::Str(_))).count();
                write_comments(out, items[..lead].iter().filter_map(comment_text), indent);
                out.push_str(&" ".repeat(indent));
                out.push_str("- ");
                map_body(out, &items[lead..], indent + 2, true);
            }
            Value::Map(_) => {
                out.push_str(&" ".repeat(indent));
                out.push_str("- {}\n");
            }
            Value::Seq(inner) => {
                let inner: Vec<Value> = inner.iter().filter(|v| !matches!(v, Value::Comment(_))).cloned().collect();
                out.push_str(&" ".repeat(indent));
                out.push_str("- ");
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
                out.push_str(&" ".repeat(indent));
                out.push_str("- ");
                out.push_str(&scalar_text(scalar, indent + INDENT));
                out.push('\n');
            }
        }
    }
    write_comments(out, heads, indent);
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
