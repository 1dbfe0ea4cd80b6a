//! Reading YAML streams into [`Value`] trees.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use super::resolve::{Kind, resolve_plain, resolve_plain_v2};
use super::{Map, Scalar, Value};

/// A YAML syntax or structure error, with a 1-based line number.
#[derive(Debug, Clone, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct YamlError {
    /// 1-based line of the problem.
    pub line: usize,
    /// What went wrong.
    pub message: String,
}

fn err(mark: Marker, message: impl Into<String>) -> YamlError {
    YamlError { line: mark.line(), message: message.into() }
}

/// Parses every document of a YAML stream. Empty documents come back as null.
///
/// # Errors
/// Syntax errors, non-string mapping keys, duplicate keys and unknown aliases.
pub fn parse_documents(text: &str) -> Result<Vec<Value>, YamlError> {
    parse_with(text, false)
}

/// Parses a stream resolving plain scalars with go-yaml v2's YAML 1.1 rules,
/// as kustomize does for kustomization files.
///
/// # Errors
/// As [`parse_documents`].
pub fn parse_documents_v2(text: &str) -> Result<Vec<Value>, YamlError> {
    parse_with(text, true)
}

fn parse_with(text: &str, v2: bool) -> Result<Vec<Value>, YamlError> {
    // A byte order mark may start the stream.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut parser = Parser::new_from_str(text);
    let mut docs = Vec::new();
    let mut anchors: HashMap<usize, Value> = HashMap::new();
    loop {
        let (ev, mark) =
            parser.next_token().map_err(|e| YamlError { line: e.marker().line(), message: e.info().to_string() })?;
        match ev {
            Event::StreamEnd => break,
            Event::DocumentStart => {
                // Anchors do not carry over between documents.
                anchors.clear();
                let (ev, mark) = next(&mut parser)?;
                if matches!(ev, Event::DocumentEnd) {
                    docs.push(Value::null());
                    continue;
                }
                let v = node(&mut parser, ev, mark, &mut anchors, 0, v2)?;
                docs.push(v);
                let (ev, mark) = next(&mut parser)?;
                if !matches!(ev, Event::DocumentEnd) {
                    return Err(err(mark, "expected end of document"));
                }
            }
            Event::StreamStart | Event::Nothing | Event::DocumentEnd => {}
            _ => return Err(err(mark, "unexpected YAML event")),
        }
    }
    Ok(docs)
}

fn next(parser: &mut Parser<std::str::Chars<'_>>) -> Result<(Event, Marker), YamlError> {
    parser.next_token().map_err(|e| YamlError { line: e.marker().line(), message: e.info().to_string() })
}

fn tag_suffix(tag: Option<&Tag>) -> Option<&str> {
    let t = tag?;
    if t.handle == "tag:yaml.org,2002:" || t.handle == "!!" { Some(t.suffix.as_str()) } else { None }
}

fn node(
    parser: &mut Parser<std::str::Chars<'_>>,
    ev: Event,
    mark: Marker,
    anchors: &mut HashMap<usize, Value>,
    depth: usize,
    v2: bool,
) -> Result<Value, YamlError> {
    if depth > 512 {
        return Err(err(mark, "document nested too deeply"));
    }
    match ev {
        Event::Alias(id) => anchors.get(&id).cloned().ok_or_else(|| err(mark, "unknown anchor referenced by alias")),
        Event::Scalar(text, style, anchor, tag) => {
            let kind = match tag_suffix(tag.as_ref()) {
                Some("str" | "binary") => Kind::Str,
                Some("int") => Kind::Int,
                Some("float") => Kind::Float,
                Some("bool") => Kind::Bool,
                Some("null") => Kind::Null,
                _ => {
                    if style == TScalarStyle::Plain {
                        if v2 { resolve_plain_v2(&text) } else { resolve_plain(&text) }
                    } else {
                        Kind::Str
                    }
                }
            };
            let v = Value::Scalar(Scalar { text, kind });
            if anchor > 0 {
                anchors.insert(anchor, v.clone());
            }
            Ok(v)
        }
        Event::SequenceStart(anchor, _) => {
            let mut items = Vec::new();
            loop {
                let (ev, mark) = next(parser)?;
                if matches!(ev, Event::SequenceEnd) {
                    break;
                }
                items.push(node(parser, ev, mark, anchors, depth + 1, v2)?);
            }
            let v = Value::Seq(items);
            if anchor > 0 {
                anchors.insert(anchor, v.clone());
            }
            Ok(v)
        }
        Event::MappingStart(anchor, _) => {
            let mut map = Map::new();
            let mut merged: Vec<Map> = Vec::new();
            loop {
                let (ev, kmark) = next(parser)?;
                if matches!(ev, Event::MappingEnd) {
                    break;
                }
                let is_merge = matches!(&ev, Event::Scalar(t, TScalarStyle::Plain, _, None) if t == "<<");
                let key = node(parser, ev, kmark, anchors, depth + 1, v2)?;
                let (ev, vmark) = next(parser)?;
                let value = node(parser, ev, vmark, anchors, depth + 1, v2)?;
                if is_merge {
                    match value {
                        Value::Map(m) => merged.push(m),
                        Value::Seq(items) => {
                            for it in items {
                                match it {
                                    Value::Map(m) => merged.push(m),
                                    _ => {
                                        return Err(err(
                                            vmark,
                                            "map merge requires map or sequence of maps as the value",
                                        ));
                                    }
                                }
                            }
                        }
                        _ => {
                            return Err(err(vmark, "map merge requires map or sequence of maps as the value"));
                        }
                    }
                    continue;
                }
                let key = match key {
                    Value::Scalar(Scalar { text, kind: Kind::Str }) => text,
                    Value::Scalar(s) => {
                        return Err(err(kmark, format!("mapping key {:?} is not a string (quote it)", s.text)));
                    }
                    _ => return Err(err(kmark, "mapping keys must be scalars")),
                };
                if map.contains_key(&key) {
                    return Err(err(kmark, format!("mapping key {key:?} already defined")));
                }
                map.insert(key, value);
            }
            for m in merged {
                for (k, v) in m.iter() {
                    if !map.contains_key(k) {
                        map.insert(k.clone(), v.clone());
                    }
                }
            }
            let v = Value::Map(map);
            if anchor > 0 {
                anchors.insert(anchor, v.clone());
            }
            Ok(v)
        }
        _ => Err(err(mark, "unexpected YAML event")),
    }
}
