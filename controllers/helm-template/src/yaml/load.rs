//! A YAML loader with yaml.v2's YAML 1.1 resolution (`yes`/`no`/`on`/`off`/`y`/`n` are
//! booleans, `0777` is octal, `<<` merges), then `sigs.k8s.io/yaml`'s JSON step: map keys
//! become strings and every number a `float64`.

use std::collections::{BTreeMap, HashMap};

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use crate::value::Value;

/// A node before the JSON step (keys may be non-strings, integers are kept apart).
#[derive(Clone, Debug)]
enum Node {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Merge,
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

#[derive(Default)]
struct Builder {
    docs: Vec<Node>,
    stack: Vec<(Node, usize)>,
    anchors: HashMap<usize, Node>,
    error: Option<String>,
}

impl Builder {
    fn push(&mut self, node: Node, anchor: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => self.docs.push(node),
            Some((Node::Seq(v), _)) => v.push(node),
            Some((Node::Map(v), _)) => {
                // Keys and values alternate: a pending key is stored with a Null value marker.
                match v.last_mut() {
                    Some((_, val @ Node::Merge)) if matches!(val, Node::Merge) => *val = node,
                    _ => v.push((node, Node::Merge)),
                }
            }
            Some(_) => {}
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, _mark: Marker) {
        match ev {
            Event::Scalar(s, style, anchor, tag) => {
                let n = resolve(&s, style, tag.as_ref());
                self.push(n, anchor);
            }
            Event::Alias(id) => {
                let n = self.anchors.get(&id).cloned().unwrap_or(Node::Null);
                if !self.anchors.contains_key(&id) {
                    self.error = Some("unknown anchor referenced".into());
                }
                self.push(n, 0);
            }
            Event::SequenceStart(anchor, _) => self.stack.push((Node::Seq(Vec::new()), anchor)),
            Event::MappingStart(anchor, _) => self.stack.push((Node::Map(Vec::new()), anchor)),
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some((n, anchor)) = self.stack.pop() {
                    self.push(n, anchor);
                }
            }
            _ => {}
        }
    }
}

/// yaml.v2's `resolve` for a scalar.
fn resolve(s: &str, style: TScalarStyle, tag: Option<&Tag>) -> Node {
    if let Some(t) = tag {
        let suffix = t.suffix.as_str();
        if suffix == "str" || t.handle == "!" && suffix.is_empty() {
            return Node::Str(s.to_string());
        }
    }
    if style != TScalarStyle::Plain {
        return Node::Str(s.to_string());
    }
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Node::Null,
        "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" | "true" | "True" | "TRUE" => {
            return Node::Bool(true);
        }
        "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" | "false" | "False" | "FALSE" => {
            return Node::Bool(false);
        }
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Node::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Node::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Node::Float(f64::NAN),
        "<<" => return Node::Merge,
        _ => {}
    }
    let first = s.as_bytes()[0];
    if first.is_ascii_digit() || matches!(first, b'+' | b'-' | b'.') {
        let plain = s.replace('_', "");
        if let Some(i) = crate::funcs::parse_go_int(&plain) {
            return Node::Int(i);
        }
        if let Ok(u) = plain.parse::<u64>() {
            return Node::Float(u as f64);
        }
        if super::emit::is_yaml_float(&plain)
            && let Ok(f) = plain.parse::<f64>()
        {
            return Node::Float(f);
        }
        let (neg, rest) = match plain.strip_prefix('-') {
            Some(r) => (true, r),
            None => (false, plain.trim_start_matches('+')),
        };
        if let Some(b) = rest.strip_prefix("0b")
            && let Ok(i) = i64::from_str_radix(b, 2)
        {
            return Node::Int(if neg { -i } else { i });
        }
    }
    Node::Str(s.to_string())
}

fn key_string(k: &Node) -> String {
    match k {
        Node::Str(s) => s.clone(),
        Node::Int(i) => i.to_string(),
        Node::Float(f) => crate::template::format::format_float(f32_round(*f), 'g', -1),
        Node::Bool(b) => b.to_string(),
        Node::Null => "null".into(),
        Node::Merge => "<<".into(),
        Node::Seq(_) | Node::Map(_) => String::new(),
    }
}

/// `strconv.FormatFloat(f, 'g', -1, 32)` reads the float as a float32.
fn f32_round(f: f64) -> f64 {
    let s = format!("{}", f as f32);
    s.parse().unwrap_or(f)
}

fn to_value(n: &Node) -> Value {
    match n {
        Node::Null | Node::Merge => Value::Nil,
        Node::Bool(b) => Value::Bool(*b),
        Node::Int(i) => Value::Float(*i as f64),
        Node::Float(f) => Value::Float(*f),
        Node::Str(s) => Value::str(s.as_str()),
        Node::Seq(v) => Value::list(v.iter().map(to_value).collect()),
        Node::Map(entries) => {
            let mut m = BTreeMap::new();
            insert_entries(&mut m, entries);
            Value::map(m)
        }
    }
}

fn insert_entries(m: &mut BTreeMap<String, Value>, entries: &[(Node, Node)]) {
    for (k, v) in entries {
        if matches!(k, Node::Merge) {
            match v {
                Node::Map(inner) => insert_entries(m, inner),
                Node::Seq(list) => {
                    for item in list.iter().rev() {
                        if let Node::Map(inner) = item {
                            insert_entries(m, inner);
                        }
                    }
                }
                _ => {}
            }
            continue;
        }
        m.insert(key_string(k), to_value(v));
    }
}

/// Parses every document of `src`.
pub fn load_all(src: &str) -> Result<Vec<Value>, String> {
    let mut b = Builder::default();
    let mut p = Parser::new_from_str(src);
    p.load(&mut b, true).map_err(|e| e.to_string())?;
    if let Some(e) = b.error {
        return Err(e);
    }
    Ok(b.docs.iter().map(to_value).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_1_1_scalars() {
        let v = load_all("a: yes\nb: off\nc: 0777\nd: '0777'\ne: ~\nn: 1\n1: x\n").unwrap_or_default();
        let m = match v.first() {
            Some(Value::Map(m)) => m.borrow().clone(),
            _ => BTreeMap::new(),
        };
        assert!(matches!(m.get("a"), Some(Value::Bool(true))));
        assert!(matches!(m.get("b"), Some(Value::Bool(false))));
        assert!(matches!(m.get("c"), Some(Value::Float(f)) if *f == 511.0));
        assert!(matches!(m.get("d"), Some(Value::Str(s)) if &**s == "0777"));
        assert!(matches!(m.get("e"), Some(Value::Nil)));
        assert!(m.contains_key("false"), "the key n is the boolean false");
        assert!(m.contains_key("1"));
    }
}
