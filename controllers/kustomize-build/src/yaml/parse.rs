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
                let v = node(&mut parser, ev, mark, &mut anchors, 0, v2, text)?;
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

/// The header of an empty block scalar that ends at character `end` (its
/// indicator characters up to the end of the line).
fn block_header(src: &str, end: usize) -> String {
    // The scanner marks some block scalars at their indicator, others at
    // the end of their content.
    let ahead: String =
        src.chars().skip(end).skip_while(|c| *c == ' ').take_while(|c| *c != '\n' && *c != '#').collect();
    if ahead.starts_with('|') || ahead.starts_with('>') {
        return ahead;
    }
    let before: Vec<char> = src.chars().take(end).collect();
    let Some(start) = before.iter().rposition(|c| *c == '|' || *c == '>') else {
        return String::new();
    };
    before[start..].iter().take_while(|c| **c != '\n' && **c != '#').collect()
}

/// Whether go-yaml v3 can write the string as a block scalar: no trailing
/// space, no space before a line break, nothing unprintable (tabs are fine).
fn v3_block_allowed(s: &str) -> bool {
    let printable = |c: char| {
        let u = c as u32;
        c == '\t'
            || u == 0x0A
            || (0x20..=0x7E).contains(&u)
            || (0xA0..=0xD7FF).contains(&u)
            || ((0xE000..=0xFFFD).contains(&u) && u != 0xFEFF)
    };
    if s.ends_with(' ') || !s.chars().all(printable) {
        return false;
    }
    !s.contains(" \n")
}

/// kustomize writes folded scalars back out in folded style and reads them
/// again. go-yaml's folded writer marks every kept line break with an extra
/// empty line, which survives the re-read before more-indented lines and at
/// the end of keep-chomped scalars. This reproduces that round trip.
fn go_folded_roundtrip(text: &str) -> String {
    if !v3_block_allowed(text) {
        return text.to_string();
    }
    let blank_led = |l: &str| l.starts_with(' ') || l.starts_with('\t');
    // The writer only adds the marks when the first character after any
    // leading line breaks is not blank.
    match text.trim_start_matches('\n').chars().next() {
        None | Some(' ' | '\t') => return text.to_string(),
        Some(_) => {}
    }
    let keep = text.ends_with("\n\n");
    let lines: Vec<&str> = text.split('\n').collect();
    let mut out: Vec<&str> = Vec::with_capacity(lines.len() + 4);
    out.push(lines[0]);
    for i in 1..lines.len() {
        let prev = lines[i - 1];
        if !prev.is_empty() && !blank_led(prev) {
            match lines[i..].iter().find(|l| !l.is_empty()) {
                Some(next) if blank_led(next) => out.push(""),
                None if keep => out.push(""),
                _ => {}
            }
        }
        out.push(lines[i]);
    }
    out.join("\n")
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
    src: &str,
) -> Result<Value, YamlError> {
    if depth > 512 {
        return Err(err(mark, "document nested too deeply"));
    }
    match ev {
        Event::Alias(id) => anchors.get(&id).cloned().ok_or_else(|| err(mark, "unknown anchor referenced by alias")),
        Event::Scalar(mut text, style, anchor, tag) => {
            if style == TScalarStyle::Folded {
                text = go_folded_roundtrip(&text);
            }
            // A block scalar with no content lines is empty when clipped;
            // the scanner used here reports a lone line break instead.
            if matches!(style, TScalarStyle::Folded | TScalarStyle::Literal)
                && !text.is_empty()
                && text.chars().all(|c| c == '\n')
                && !block_header(src, mark.index()).contains('+')
            {
                text.clear();
            }
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
                items.push(node(parser, ev, mark, anchors, depth + 1, v2, src)?);
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
                let key = node(parser, ev, kmark, anchors, depth + 1, v2, src)?;
                let (ev, vmark) = next(parser)?;
                let value = node(parser, ev, vmark, anchors, depth + 1, v2, src)?;
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
                // go-yaml v3 (resources) refuses duplicate keys; v2
                // (kustomization files) keeps the last value.
                if map.contains_key(&key) && !v2 {
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
