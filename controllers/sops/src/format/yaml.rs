//! YAML documents (sops `stores/yaml`): every document of a stream is a branch; the output is
//! written block style with an indent of 4, as sops' go-yaml v3 encoder does.
//!
//! Comments are not read (serde_norway drops them); they are outside the MAC, so decryption
//! and verification are unaffected, but the output has none, and documents whose metadata
//! uses a comment regex are refused (which values are encrypted would depend on them).

use std::sync::LazyLock;

use regex::Regex;
use serde::Deserialize as _;
use serde_norway::Value as Yaml;

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
        out.push_str(&scalar_str(key, indent));
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
        Value::Str(s) | Value::Time(s) | Value::Comment(s) => scalar_str(s, indent),
        Value::Bytes(b) => scalar_str(&String::from_utf8_lossy(b), indent),
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

/// A string scalar: plain when it reads back as the same string, a literal block for
/// multi-line text, else quoted.
fn scalar_str(s: &str, indent: usize) -> String {
    if s.contains('\n') && s.chars().all(|c| c == '\n' || !c.is_control() || c == '\t') && !s.starts_with(' ') {
        let chomp = if !s.ends_with('\n') {
            "-"
        } else if s.ends_with("\n\n") {
            "+"
        } else {
            ""
        };
        let body = s.strip_suffix('\n').unwrap_or(s);
        let mut out = format!("|{chomp}");
        for line in body.split('\n') {
            out.push('\n');
            if !line.is_empty() {
                out.push_str(&" ".repeat(indent));
                out.push_str(line);
            }
        }
        return out;
    }
    if s.is_empty() || !reads_back_as_string(s) {
        return double_quoted(s);
    }
    if plain_ok(s) {
        return s.to_owned();
    }
    if s.chars().all(|c| !c.is_control()) {
        return format!("'{}'", s.replace('\'', "''"));
    }
    double_quoted(s)
}

/// Whether go-yaml may write `s` plain: it must resolve to a string (not null, a bool, a
/// number or a timestamp) and not be a YAML 1.1 boolean or base-60 float; else it is
/// double-quoted (go-yaml v3 `encode.go` `stringv`).
fn reads_back_as_string(s: &str) -> bool {
    const OLD_BOOLS: &[&str] =
        &["y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF"];
    static BASE60: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$").expect("static regex"));
    !(OLD_BOOLS.contains(&s) || BASE60.is_match(s) || resolves_to_non_string(s))
}

/// go-yaml v3's `resolve` for a plain scalar: whether it is anything but a string.
fn resolves_to_non_string(s: &str) -> bool {
    static FLOAT: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$").expect("static regex"));
    static TIMESTAMP: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:(?:[Tt][0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(?:\.[0-9]*)?(?:Z|[-+][0-9]{2}:[0-9]{2}))|(?: [0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(?:\.[0-9]*)?))?$")
            .expect("static regex")
    });
    const SPECIAL: &[&str] = &[
        "", "~", "null", "Null", "NULL", "true", "True", "TRUE", "false", "False", "FALSE", ".inf", ".Inf", ".INF",
        "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF", ".nan", ".NaN", ".NAN",
    ];
    if SPECIAL.contains(&s) {
        return true;
    }
    let first = s.as_bytes()[0];
    if !(first.is_ascii_digit() || matches!(first, b'+' | b'-' | b'.')) {
        return false;
    }
    let plain = s.replace('_', "");
    go_int_base0(&plain) || FLOAT.is_match(&plain) || (first.is_ascii_digit() && TIMESTAMP.is_match(s))
}

/// Go's `strconv.ParseInt(s, 0, 64)` / `ParseUint` syntax (range aside: larger decimals are
/// floats to go-yaml, which is not a string either).
fn go_int_base0(s: &str) -> bool {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let lower = body.to_ascii_lowercase();
    let (digits, radix) = if let Some(d) = lower.strip_prefix("0x") {
        (d, 16)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (d, 8)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (d, 2)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (&lower[1..], 8)
    } else {
        (lower.as_str(), 10)
    };
    !digits.is_empty() && digits.chars().all(|c| c.is_digit(radix))
}

/// Whether go-yaml's emitter may write `s` as a plain scalar.
fn plain_ok(s: &str) -> bool {
    let Some(first) = s.chars().next() else { return false };
    if s.starts_with(char::is_whitespace) || s.ends_with(char::is_whitespace) {
        return false;
    }
    let followed_by_blank = |i: usize| s[i..].chars().nth(1).is_none_or(|c| c == ' ' || c == '\t');
    if ",[]{}#&*!|>'\"%@`".contains(first) || ("?:-".contains(first) && followed_by_blank(0)) {
        return false;
    }
    if s.contains(": ") || s.contains(" #") || s.ends_with(':') || s.chars().any(char::is_control) {
        return false;
    }
    !(s.starts_with("---") || s.starts_with("..."))
}

fn double_quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            c if c.is_control() => out.push_str(&format!("\\x{:02X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
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
