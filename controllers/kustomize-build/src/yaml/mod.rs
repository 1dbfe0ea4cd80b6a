//! A small YAML document model tuned for kustomize compatibility.
//!
//! Parsing follows the scalar resolution rules of go-yaml v3 (which kustomize
//! uses to read manifests), while [`emit`] reproduces the text that kustomize
//! prints: the object is re-encoded the way `sigs.k8s.io/yaml` renders JSON
//! through go-yaml v2, so keys come out sorted and scalars are re-quoted.

mod emit;
mod json;
mod parse;
mod resolve;

pub use emit::{emit_document, format_go_float};
pub use json::{map_to_json, to_json};
pub use parse::{YamlError, parse_documents, parse_documents_v2};
pub use resolve::{Kind, is_true, resolve_plain};

/// A scalar as read from YAML: its text and the type it resolved to.
#[derive(Clone, Debug, PartialEq)]
pub struct Scalar {
    /// The scalar's text after unescaping.
    pub text: String,
    /// The resolved type.
    pub kind: Kind,
}

/// A YAML node.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A scalar (strings, numbers, booleans, null).
    Scalar(Scalar),
    /// A sequence.
    Seq(Vec<Value>),
    /// A mapping with string keys, in document order.
    Map(Map),
}

/// An insertion-ordered mapping with string keys.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Map {
    entries: Vec<(String, Value)>,
}

impl Map {
    /// An empty mapping.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Looks a key up.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Looks a key up for modification.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.entries.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Sets a key, keeping its position when it already exists.
    pub fn insert(&mut self, key: impl Into<String>, value: Value) {
        let key = key.into();
        if let Some(slot) = self.get_mut(&key) {
            *slot = value;
        } else {
            self.entries.push((key, value));
        }
    }

    /// Removes a key, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        let pos = self.entries.iter().position(|(k, _)| k == key)?;
        Some(self.entries.remove(pos).1)
    }

    /// Whether the key is present.
    #[must_use]
    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Iterates over entries in order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    /// Iterates mutably over entries in order.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&String, &mut Value)> {
        self.entries.iter_mut().map(|(k, v)| (&*k, v))
    }

    /// Number of entries.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the mapping is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The keys in order.
    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.entries.iter().map(|(k, _)| k)
    }

    /// Gets a nested mapping, creating it (or replacing a non-mapping) if needed.
    pub fn entry_map(&mut self, key: &str) -> &mut Map {
        if !matches!(self.get(key), Some(Value::Map(_))) {
            self.insert(key, Value::Map(Map::new()));
        }
        match self.get_mut(key) {
            Some(Value::Map(m)) => m,
            _ => unreachable!("entry was just set to a mapping"),
        }
    }

    /// Keeps only entries for which the predicate holds.
    pub fn retain(&mut self, mut f: impl FnMut(&str, &Value) -> bool) {
        self.entries.retain(|(k, v)| f(k, v));
    }
}

impl FromIterator<(String, Value)> for Map {
    fn from_iter<T: IntoIterator<Item = (String, Value)>>(iter: T) -> Self {
        let mut m = Map::new();
        for (k, v) in iter {
            m.insert(k, v);
        }
        m
    }
}

impl Value {
    /// A string scalar.
    pub fn str(s: impl Into<String>) -> Self {
        Value::Scalar(Scalar { text: s.into(), kind: Kind::Str })
    }

    /// A null scalar.
    #[must_use]
    pub fn null() -> Self {
        Value::Scalar(Scalar { text: "null".into(), kind: Kind::Null })
    }

    /// An integer scalar.
    #[must_use]
    pub fn int(i: i64) -> Self {
        Value::Scalar(Scalar { text: i.to_string(), kind: Kind::Int })
    }

    /// A boolean scalar.
    #[must_use]
    pub fn bool(b: bool) -> Self {
        Value::Scalar(Scalar { text: b.to_string(), kind: Kind::Bool })
    }

    /// The mapping, if this is one.
    #[must_use]
    pub fn as_map(&self) -> Option<&Map> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The mapping, if this is one, for modification.
    pub fn as_map_mut(&mut self) -> Option<&mut Map> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The sequence, if this is one.
    #[must_use]
    pub fn as_seq(&self) -> Option<&Vec<Value>> {
        match self {
            Value::Seq(s) => Some(s),
            _ => None,
        }
    }

    /// The sequence, if this is one, for modification.
    pub fn as_seq_mut(&mut self) -> Option<&mut Vec<Value>> {
        match self {
            Value::Seq(s) => Some(s),
            _ => None,
        }
    }

    /// The text of a non-null scalar.
    #[must_use]
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Scalar(s) if s.kind != Kind::Null => Some(&s.text),
            _ => None,
        }
    }

    /// Whether this is a null scalar.
    #[must_use]
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Scalar(s) if s.kind == Kind::Null)
    }

    /// Follows a path of mapping keys.
    #[must_use]
    pub fn get_path(&self, path: &[&str]) -> Option<&Value> {
        let mut cur = self;
        for p in path {
            cur = cur.as_map()?.get(p)?;
        }
        Some(cur)
    }

    /// Follows a path of mapping keys for modification.
    pub fn get_path_mut(&mut self, path: &[&str]) -> Option<&mut Value> {
        let mut cur = self;
        for p in path {
            cur = cur.as_map_mut()?.get_mut(p)?;
        }
        Some(cur)
    }

    /// A short name of the node's type for error messages.
    #[must_use]
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Scalar(s) if s.kind == Kind::Null => "null",
            Value::Scalar(_) => "scalar",
            Value::Seq(_) => "sequence",
            Value::Map(_) => "mapping",
        }
    }
}
